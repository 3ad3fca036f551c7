//! Template mining throughput: the miner natively (tokenise, mask, match,
//! parameters and id, as the filter does per event), and the `templates`
//! filter in the engine (the built-in module, events encoded and decoded as
//! the host does). One core, single-threaded, lines/s.
//!
//! Run through `bench/templates/run.sh`, which also runs Drain3 on the same
//! input. Direct use: `templates CONTENTS_FILE REPEAT`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use wasmstash::builtins;
use wasmstash::engine::{Engine, EngineSettings, FilterModule, Stage};
use wasmstash_filter_templates::miner::{Config, Miner};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: templates CONTENTS_FILE REPEAT"))?;
    let repeat: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(10);
    let text = std::fs::read_to_string(&path)?;
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len() * repeat;

    let mut miner = Miner::new(Config::default()).map_err(anyhow::Error::msg)?;
    let mut params = Vec::new();
    let started = Instant::now();
    for _ in 0..repeat {
        for line in &lines {
            let found = miner.add(line);
            found.params(&mut params);
            black_box((found.id_hex(), found.text(), found.new, params.len()));
        }
    }
    report("miner, native", total, started.elapsed(), miner.len());

    let events: Vec<Vec<u8>> = lines
        .iter()
        .map(|l| wasmstash::input::line_event(l.as_bytes()))
        .collect();
    let engine = Engine::new(EngineSettings {
        call_timeout: Some(Duration::from_secs(5)),
        memory_limit_bytes: 256 << 20,
        cache_dir: None,
    })?;
    let wasm = builtins::find("templates")
        .expect("templates is built in")
        .wasm;
    let mut stage = Stage::new(FilterModule::load(&engine, "templates", wasm, b"{}")?);
    let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    let started = Instant::now();
    for _ in 0..repeat {
        for chunk in refs.chunks(1000) {
            black_box(stage.process(chunk));
        }
    }
    report(
        "templates filter in the engine (WASM, 1000 events per call)",
        total,
        started.elapsed(),
        0,
    );
    Ok(())
}

fn report(what: &str, lines: usize, elapsed: Duration, templates: usize) {
    let rate = lines as f64 / elapsed.as_secs_f64();
    let held = if templates > 0 {
        format!(", {templates} templates")
    } else {
        String::new()
    };
    println!(
        "{what}: {lines} lines in {:.2} s: {rate:.0} lines/s{held}",
        elapsed.as_secs_f64()
    );
}
