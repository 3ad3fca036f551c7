//! The parsing built-ins over real logs repeated to 1M lines: events/s on
//! one core, each crate built natively (alone, and with the host's check of
//! every changed event that the WASM path also pays) vs its built-in
//! WebAssembly module with the deadline on and off. Run on its own,
//! because building the 1M events takes memory the other sections do not
//! need: `cargo run --release -p wasmstash-bench -- dissect|kv [--rounds N]`.
//!
//! - `dissect`: the Apache access log, `APACHE_COMBINED_ECS`.
//! - `kv`: the Loghub OpenSSH lines, PAM pairs into a target.

use serde_json::json;
use wasmstash::event_check::CheckedEvent;
use wasmstash_filter_dissect::{APACHE_COMBINED_ECS, Dissect};
use wasmstash_filter_kv::Kv;
use wasmstash_sdk::Filter;

use crate::timing::{BATCH, RATIO_NOTE, RoundRatio, alternating, median, per_cpu_second};
use crate::{NativeRunner, builtin_stage, stage_call, support};

const LINES: usize = 1_000_000;

pub fn dissect(rounds: usize) {
    let config = json!({
        "mapping": {"message": APACHE_COMBINED_ECS},
        "convert_datatype": {"[http][response][status_code]": "int"},
    });
    println!("## dissect over the access log, 1M lines, one core\n");
    println!(
        "`APACHE_COMBINED_ECS` (11 fields, nested ECS targets) plus `convert_datatype` of the status code; \
         {LINES} events (the 10,000 lines repeated) in batches of {BATCH}; median of {rounds} alternating passes. \
         Events per CPU-second of the measuring thread, and per wall second.\n"
    );
    report::<Dissect>(
        "dissect",
        &config.to_string(),
        &support::apache_lines(),
        rounds,
    );
}

pub fn kv(rounds: usize) {
    let path = support::shared_data().join("loghub/OpenSSH/OpenSSH_2k.log");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let config = json!({"whitespace": "strict", "target": "pam",
                        "include_keys": ["uid", "euid", "tty", "ruser", "rhost", "user"]});
    println!("## kv over OpenSSH lines, 1M lines, one core\n");
    println!(
        "Config `{config}` over the whole raw line; the 2,000 Loghub OpenSSH lines repeated to {LINES} events \
         (about a quarter carry PAM pairs) in batches of {BATCH}; median of {rounds} alternating passes. \
         Events per CPU-second of the measuring thread, and per wall second.\n"
    );
    report::<Kv>("kv", &config.to_string(), &lines, rounds);
}

fn report<F: Filter>(name: &str, config: &str, lines: &[String], rounds: usize) {
    let events: Vec<CheckedEvent> = lines
        .iter()
        .cycle()
        .take(LINES)
        .map(|l| wasmstash::input::line_event(l.as_bytes()))
        .collect();
    let refs: Vec<&CheckedEvent> = events.iter().collect();
    let mut native = NativeRunner::<F>::new(config);
    let mut on = builtin_stage(name, config, true);
    let mut off = builtin_stage(name, config, false);
    // Whole passes alternate, so that a busy spell of the shared machine
    // lands on every variant rather than on one.
    let passes = alternating::<4>(
        &refs,
        LINES,
        |round| round < rounds,
        |variant, chunk| match variant {
            0 => native.call(chunk, false),
            1 => native.call(chunk, true),
            2 => stage_call(&mut on, chunk),
            _ => stage_call(&mut off, chunk),
        },
    );
    // Per variant: events per second this thread was on a CPU (on a shared
    // machine, the per-core figure) and per wall second.
    let cpu = passes.each_ref().map(|p| per_cpu_second(p));
    let wall = passes
        .each_ref()
        .map(|p| p.iter().map(|p| p.per_wall_second()).collect::<Vec<_>>());
    println!(
        "| measure | native | native + output check | WASM, deadline on | WASM, deadline off | WASM/native time, on | off |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (measure, rounds) in [("events/CPU-s", &cpu), ("events/wall-s", &wall)] {
        let [native, checked, on, off] = [0, 1, 2, 3].map(|i| median(&rounds[i]));
        println!(
            "| {measure} | {native:.0} | {checked:.0} | {on:.0} | {off:.0} | {} | {} |",
            RoundRatio::of(&rounds[0], &rounds[2]),
            RoundRatio::of(&rounds[0], &rounds[3])
        );
    }
    println!("\n{RATIO_NOTE}");
}
