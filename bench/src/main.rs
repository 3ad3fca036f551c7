//! Measures what the WebAssembly sandbox costs, as ratios taken in one run:
//!
//! 1. the boundary: one batch call (copy in, call, copy out, decode) for 1,
//!    125 and 1000 events, with a module that does nothing and with an SDK
//!    filter that only reads each event;
//! 2. `json` and `mutate` over the real Apache access log, events/s on one
//!    core, native vs WebAssembly, with the deadline on and off;
//! 3. `grok` with COMBINEDAPACHELOG over the access log cycled to 2.2M events,
//!    both pattern sets, native vs WebAssembly, deadline on and off;
//! 4. `date` over the access log's timestamps and `syslog` over three Loghub
//!    sets, the same way;
//! 5. `compare A.wasm B.wasm`: two builds of one module, alternating in one
//!    process, for telling a small change from noise (see `compare.rs`).
//!
//! Run: `cargo run --release -p wasmstash-bench -- [--seconds S] [--only SECTION]`,
//! SECTION one of `boundary`, `filters` (json and mutate), `parsers` (syslog
//! and date), `grok`, `check` (the host's check of a changed event).
//! `... -- dissect [--rounds N]` and `... -- kv [--rounds N]` measure those
//! filters over 1M real lines instead (see `parsing.rs`).
//! Prints a Markdown report for BENCHMARKS.md. Nothing here asserts a time;
//! how figures and ratios are taken is in `timing.rs`.

use std::hint::black_box;
use std::time::Duration;

use serde_json::json;
use wasmstash::builtins;
use wasmstash::engine::{Engine, EngineSettings, FilterModule, Stage};
use wasmstash::event_check::{AddedMembers, CheckedEvent};
use wasmstash_filter_date::Date;
use wasmstash_filter_grok::Grok;
use wasmstash_filter_json::Json;
use wasmstash_filter_mutate::Mutate;
use wasmstash_filter_syslog::Syslog;
use wasmstash_sdk::plumbing::wire::{self, ResultKind};
use wasmstash_sdk::{Filter, NativeFilter};

// The hand-written ABI skeleton and data loading the host's tests use.
#[path = "../../host/tests/support/mod.rs"]
mod support;

mod check;
mod compare;
mod cpu_clock;
mod parsing;
mod timing;

use timing::{
    RATIO_NOTE, RoundRatio, alternating, median, micros, per_call, per_cpu_second, until_spent,
};

const USAGE: &str = "\
usage: wasmstash-bench [--seconds S] [--only SECTION]
       wasmstash-bench dissect|kv [--rounds N]
       wasmstash-bench compare A.wasm B.wasm [--config JSON] [--rounds N]

Measures the WebAssembly sandbox's cost against native code, in one run,
and prints a Markdown report for BENCHMARKS.md. Nothing here asserts a time.

  --seconds S     time per variant of a cell, in alternating rounds (default 2)
  --only SECTION  one of: boundary, filters (json, mutate), parsers (syslog,
                  date), grok, check (the host's check of a changed event)
  dissect, kv     that filter over the access log or OpenSSH lines repeated
                  to 1M, native vs WebAssembly
  compare         two builds of one filter module, alternating in one run,
                  over the access log; prints B/A throughput
  --config JSON   the compared modules' filter config (default: grok
                  %{COMBINEDAPACHELOG}, ECS)
  --deadline-off  compare with the deadline off (it is on by default)
  --events KIND   what compare feeds the modules: `lines` (each access-log
                  line as `message`, the default) or `json` (a JSON document
                  per line in `message`, as the filters section gives json)
  --rounds N      rounds for dissect and kv (default 3, a pass of 1M events
                  each), compare (default 151, a pass of 10,000 each)

Reads ../shared/data (see its README).";

/// The command line, checked: a mistyped flag is an error, not a full run.
struct Args {
    filter: Option<String>,
    /// The two modules of `compare`.
    modules: Vec<String>,
    config: Option<String>,
    events: Option<String>,
    deadline_off: bool,
    rounds: Option<usize>,
    seconds: f64,
    only: Option<String>,
}

fn parse_args() -> anyhow::Result<Option<Args>> {
    let mut args = Args {
        filter: None,
        modules: Vec::new(),
        config: None,
        events: None,
        deadline_off: false,
        rounds: None,
        seconds: 2.0,
        only: None,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = |flag: &str| {
            given
                .next()
                .ok_or_else(|| anyhow::anyhow!("{flag} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--seconds" => args.seconds = value("--seconds")?.parse()?,
            "--only" => args.only = Some(value("--only")?),
            "--rounds" => args.rounds = Some(value("--rounds")?.parse::<usize>()?.max(1)),
            "--config" => args.config = Some(value("--config")?),
            "--events" => args.events = Some(value("--events")?),
            "--deadline-off" => args.deadline_off = true,
            "dissect" | "kv" | "compare" if args.filter.is_none() => args.filter = Some(arg),
            path if args.filter.as_deref() == Some("compare") && args.modules.len() < 2 => {
                args.modules.push(path.to_owned())
            }
            other => anyhow::bail!("unexpected argument {other:?}\n\n{USAGE}"),
        }
    }
    if let Some(section) = args.only.as_deref()
        && !SECTIONS.contains(&section)
    {
        anyhow::bail!("unknown section {section:?}; --only takes one of {SECTIONS:?}");
    }
    if args.filter.as_deref() == Some("compare") && args.modules.len() != 2 {
        anyhow::bail!("compare needs two module paths\n\n{USAGE}");
    }
    if (args.config.is_some() || args.events.is_some() || args.deadline_off)
        && args.filter.as_deref() != Some("compare")
    {
        anyhow::bail!("--config, --events and --deadline-off are for compare only");
    }
    if let Some(kind) = args.events.as_deref()
        && !compare::EVENT_KINDS.contains(&kind)
    {
        anyhow::bail!(
            "unknown --events {kind:?}; it takes one of {:?}",
            compare::EVENT_KINDS
        );
    }
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        anyhow::bail!("--seconds must be a positive number");
    }
    Ok(Some(args))
}

fn main() -> anyhow::Result<()> {
    let Some(args) = parse_args()? else {
        println!("{USAGE}");
        return Ok(());
    };
    if let Some(filter) = args.filter.as_deref() {
        match filter {
            "compare" => compare::run(&compare::Comparison {
                modules: [args.modules[0].clone(), args.modules[1].clone()],
                config: args.config.clone(),
                json_events: args.events.as_deref() == Some("json"),
                deadline: !args.deadline_off,
                rounds: args.rounds.unwrap_or(151),
            })?,
            "dissect" => parsing::dissect(args.rounds.unwrap_or(3)),
            _ => parsing::kv(args.rounds.unwrap_or(3)),
        }
        return Ok(());
    }
    let budget = Duration::from_secs_f64(args.seconds);
    let only = args.only;
    let wanted = |section: &str| only.as_deref().is_none_or(|o| o == section);
    let lines = support::apache_lines();
    let access_events: Vec<CheckedEvent> = lines
        .iter()
        .map(|l| wasmstash::input::line_event(l.as_bytes()))
        .collect();
    if wanted("boundary") {
        boundary_rows(&access_events, budget);
    }
    if wanted("filters") {
        json_and_mutate_rows(&lines, &access_events, budget);
    }
    if wanted("parsers") {
        syslog_and_date_rows(&lines, budget);
    }
    if wanted("grok") {
        grok_rows(&access_events);
    }
    if wanted("check") {
        check::rows(&lines, budget);
        check::filter_rows(&lines, &access_events, budget);
    }
    Ok(())
}

/// The sections `--only` can pick, in the order a full run prints them.
const SECTIONS: [&str; 5] = ["boundary", "filters", "parsers", "grok", "check"];

fn boundary_rows(access_events: &[CheckedEvent], budget: Duration) {
    println!("## Boundary cost per batch call\n");
    println!(
        "Apache access events (`{{\"message\": line}}`, {} bytes on average); µs per call.\n",
        average_len(access_events)
    );
    println!(
        "| events per call | no-op module, deadline on | no-op module, deadline off | SDK filter that reads each event: native | same in WASM | WASM − native per event |"
    );
    println!("|---|---|---|---|---|---|");
    for batch_size in [1usize, 125, 1000] {
        let events = &access_events[..batch_size];
        let mut noop_on = noop_stage(true);
        let mut noop_off = noop_stage(false);
        // Looks up one absent field per event: the SDK's scan, nothing more.
        let reader = r#"{"uppercase":["absent"]}"#;
        let mut native = NativeRunner::<Mutate>::new(reader);
        let mut wasm = builtin_stage("mutate", reader, true);
        let [noop_on, noop_off, native, wasm] = per_call_rounds(
            budget,
            |variant, refs| match variant {
                0 => stage_call(&mut noop_on, refs),
                1 => stage_call(&mut noop_off, refs),
                2 => native.call(refs, false),
                _ => stage_call(&mut wasm, refs),
            },
            events,
        );
        println!(
            "| {batch_size} | {:.2} | {:.2} | {:.2} | {:.2} | {:.3} |",
            noop_on,
            noop_off,
            native,
            wasm,
            (wasm - native) / batch_size as f64
        );
    }
}

/// One event per access-log line whose `message` is a small JSON document
/// holding the line: what the json filter is measured on.
pub fn json_document_events(lines: &[String]) -> Vec<CheckedEvent> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let doc = json!({"line": line, "n": i, "bytes": line.len(), "client": {"ip": line.split(' ').next()}});
            CheckedEvent::message(&doc.to_string())
        })
        .collect()
}

/// The json filter's config in the filters section.
pub const JSON_CONFIG: &str = r#"{"source":"message","target":"doc"}"#;

/// The mutate filter's config in the filters section: an ECS-style copy of
/// the line, a dataset, a tag and a lowercased `message`.
pub fn mutate_config() -> String {
    json!({
        "copy": {"message": "[event][original]"},
        "add_field": {"[event][dataset]": "apache.access"},
        "add_tag": ["access"],
        "lowercase": ["message"],
    })
    .to_string()
}

fn json_and_mutate_rows(lines: &[String], access_events: &[CheckedEvent], budget: Duration) {
    let seconds = budget.as_secs_f64();
    let json_events = json_document_events(lines);
    let mutate_config = mutate_config();
    println!("\n## Filters over the real access log, one core, batches of 125\n");
    println!(
        "10,000 lines; rounds of one pass over them per variant, the variants alternating, for {seconds} s per variant in all. \
         Events per CPU-second of the benchmark thread, median of the passes. {RATIO_NOTE}\n"
    );
    println!(
        "| filter | native | native + output check | WASM, deadline off | WASM, deadline on | WASM/native time, off | on |"
    );
    println!("|---|---|---|---|---|---|---|");
    filter_row::<Json>("json", JSON_CONFIG, &json_events, budget);
    filter_row::<Mutate>("mutate", &mutate_config, access_events, budget);
}

/// `date` as the `apache` pipeline runs it (the line plus grok's
/// `timestamp`), and `syslog` over Linux, OpenSSH and Thunderbird lines.
fn syslog_and_date_rows(access_lines: &[String], budget: Duration) {
    let dated: Vec<CheckedEvent> = access_lines
        .iter()
        .map(|line| {
            let open = line.find('[').unwrap();
            let close = open + line[open..].find(']').unwrap();
            let event = json!({"message": line, "timestamp": &line[open + 1..close]});
            CheckedEvent::new(serde_json::to_vec(&event).unwrap()).unwrap()
        })
        .collect();
    let mut syslog_events = Vec::new();
    for dataset in ["Linux", "OpenSSH", "Thunderbird"] {
        let path = support::shared_data().join(format!("loghub/{dataset}/{dataset}_2k.log"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        for line in text.lines() {
            // Thunderbird lines open with four Loghub columns before the syslog line.
            let line = match dataset {
                "Thunderbird" => line.splitn(5, ' ').nth(4).unwrap(),
                _ => line,
            };
            syslog_events.push(CheckedEvent::message(line));
        }
    }
    println!("\n## syslog and date, one core, batches of 125\n");
    println!(
        "`date`: the 10,000 access-log events with grok's `timestamp` (`17/May/2015:10:05:03 +0000`), `match = [\"timestamp\", \"dd/MMM/yyyy:HH:mm:ss Z\"]`. `syslog`: 6,000 Loghub lines (Linux, OpenSSH, Thunderbird), default options. Events per CPU-second, median of the passes (one pass per variant and round, the variants alternating). {RATIO_NOTE}\n"
    );
    println!(
        "| filter | native | native + output check | WASM, deadline off | WASM, deadline on | WASM/native time, off | on |"
    );
    println!("|---|---|---|---|---|---|---|");
    filter_row::<Date>(
        "date",
        r#"{"match":["timestamp","dd/MMM/yyyy:HH:mm:ss Z"]}"#,
        &dated,
        budget,
    );
    filter_row::<Syslog>("syslog", "{}", &syslog_events, budget);
}

/// Rounds for grok: each variant passes over the 10,000 lines once a
/// round, so 221 rounds make 2.21M events per variant, more than a 1M-line
/// file.
const GROK_ROUNDS: usize = 221;

/// grok COMBINEDAPACHELOG, every capture extracted, legacy and ECS sets.
fn grok_rows(events: &[CheckedEvent]) {
    println!("\n## grok COMBINEDAPACHELOG over the access log, one core, batches of 125\n");
    println!(
        "{GROK_ROUNDS} rounds of one pass over the 10,000 lines per variant, the variants alternating. \
         Events per CPU-second of the benchmark thread (events per wall second in brackets), median of the passes: \
         on a shared machine the thread's own CPU time is the steadier measure. {RATIO_NOTE}\n"
    );
    println!(
        "| pattern set | native | WASM, deadline off | WASM, deadline on | WASM/native time, off | on |"
    );
    println!("|---|---|---|---|---|---|");
    let refs: Vec<&CheckedEvent> = events.iter().collect();
    for (label, ecs) in [("legacy (`disabled`)", "disabled"), ("ECS (`v8`)", "v8")] {
        let config =
            json!({"match": {"message": "%{COMBINEDAPACHELOG}"}, "ecs_compatibility": ecs})
                .to_string();
        let mut native = NativeRunner::<Grok>::new(&config);
        let mut off = builtin_stage("grok", &config, false);
        let mut on = builtin_stage("grok", &config, true);
        let passes = alternating::<3>(
            &refs,
            refs.len(),
            |round| round < GROK_ROUNDS,
            |variant, chunk| match variant {
                0 => native.call(chunk, false),
                1 => stage_call(&mut off, chunk),
                _ => stage_call(&mut on, chunk),
            },
        );
        let cpu = passes.each_ref().map(|p| per_cpu_second(p));
        let figure = |v: usize| {
            let wall: Vec<f64> = passes[v].iter().map(|p| p.per_wall_second()).collect();
            format!("{:.0} ({:.0})", median(&cpu[v]), median(&wall))
        };
        println!(
            "| {label} | {} | {} | {} | {} | {} |",
            figure(0),
            figure(1),
            figure(2),
            RoundRatio::of(&cpu[0], &cpu[1]),
            RoundRatio::of(&cpu[0], &cpu[2])
        );
    }
}

fn filter_row<F: Filter>(name: &str, config: &str, events: &[CheckedEvent], budget: Duration) {
    let mut runner = NativeRunner::<F>::new(config);
    let mut off = builtin_stage(name, config, false);
    let mut on = builtin_stage(name, config, true);
    let refs: Vec<&CheckedEvent> = events.iter().collect();
    let passes = alternating::<4>(
        &refs,
        refs.len(),
        until_spent(budget * 4),
        |variant, chunk| match variant {
            0 => runner.call(chunk, false),
            1 => runner.call(chunk, true),
            2 => stage_call(&mut off, chunk),
            _ => stage_call(&mut on, chunk),
        },
    );
    let [native, checked, off, on] = passes.each_ref().map(|p| per_cpu_second(p));
    println!(
        "| {name} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} |",
        median(&native),
        median(&checked),
        median(&off),
        median(&on),
        RoundRatio::of(&native, &off),
        RoundRatio::of(&native, &on)
    );
}

/// Rounds per cell of the boundary section, whose figures are µs per call.
const ROUNDS: usize = 15;

/// µs per call of four variants over `events`, in alternating rounds of
/// `budget / ROUNDS` each; the median round of each.
fn per_call_rounds(
    budget: Duration,
    mut call: impl FnMut(usize, &[&CheckedEvent]),
    events: &[CheckedEvent],
) -> [f64; 4] {
    let refs: Vec<&CheckedEvent> = events.iter().collect();
    let slice = budget / ROUNDS as u32;
    let mut samples = [[0f64; ROUNDS]; 4];
    for variant in 0..4 {
        call(variant, &refs[..refs.len().min(125)]); // warm up
    }
    for round in 0..ROUNDS {
        for (variant, sample) in samples.iter_mut().enumerate() {
            sample[round] = micros(per_call(slice, &refs, |r| call(variant, r)));
        }
    }
    samples.map(|rounds| median(&rounds))
}

fn engine(deadline: bool) -> Engine {
    Engine::new(EngineSettings {
        call_timeout: deadline.then(|| Duration::from_secs(5)),
        memory_limit_bytes: 256 << 20,
        cache_dir: None,
        ..Default::default()
    })
    .expect("engine starts")
}

fn noop_stage(deadline: bool) -> Stage {
    // Nothing but the boundary itself.
    let wat = support::wat_filter(&format!(
        "{}\n{}",
        support::ALL_UNCHANGED,
        support::RETURN_OUTPUT_AT_2048
    ));
    Stage::new(FilterModule::load(&engine(deadline), "noop", wat.as_bytes(), b"{}").unwrap())
}

fn builtin_stage(name: &str, config: &str, deadline: bool) -> Stage {
    let wasm = builtins::find(name).unwrap().wasm;
    Stage::new(FilterModule::load(&engine(deadline), name, wasm, config.as_bytes()).unwrap())
}

fn stage_call(stage: &mut Stage, events: &[&CheckedEvent]) {
    black_box(stage.process(events));
}

/// The native equivalent of a stage call: encode (a keyed batch, as the
/// built-in modules take), run, decode and copy the results out, as the
/// host does with a module's results; optionally also
/// the host's check of every changed event, as a stage does it (an
/// `extended` result against the event's carried keys). Neither side adds
/// members to the event here: a pipeline does that after the stage.
struct NativeRunner<F: Filter> {
    filter: NativeFilter<F>,
    batch: Vec<u8>,
}

impl<F: Filter> NativeRunner<F> {
    fn new(config: &str) -> Self {
        NativeRunner {
            filter: NativeFilter::new(config.as_bytes()).unwrap(),
            batch: Vec::new(),
        }
    }

    fn call(&mut self, events: &[&CheckedEvent], check: bool) {
        let keyed = events.iter().map(|e| (e.text(), e.key_spans()));
        wire::encode_keyed_batch(keyed, &mut self.batch);
        let results =
            wire::decode_results(self.filter.process_keyed_batch(&self.batch), events.len())
                .unwrap();
        let mut copied: Vec<Copied> = Vec::with_capacity(results.len());
        for ((kind, payload), input) in results.into_iter().zip(events) {
            copied.push(match kind {
                ResultKind::Extended if check => Copied::Added(input.check_added(payload).unwrap()),
                ResultKind::Replaced if check => {
                    Copied::Event(CheckedEvent::new(payload.to_vec()).unwrap())
                }
                _ => Copied::Payload(kind, payload.to_vec()),
            });
        }
        black_box(copied);
    }
}

/// A result copied out of the filter, checked or not; kept only to be
/// dropped after the call, as a stage's outcomes are.
#[allow(dead_code)]
enum Copied {
    Payload(ResultKind, Vec<u8>),
    Event(CheckedEvent),
    Added(AddedMembers),
}

fn average_len(events: &[CheckedEvent]) -> usize {
    events.iter().map(|e| e.text().len()).sum::<usize>() / events.len()
}
