//! Template mining throughput: the miner natively (tokenise, mask, match,
//! parameters and id, as the filter does per event), and the `templates`
//! filter in the engine (the built-in module, events encoded and decoded as
//! the host does). One core, single-threaded, lines/s.
//!
//! Rates are per second of this thread's CPU time (and wall time is shown
//! beside), because the machine this runs on is shared: wall time there
//! mostly measures the other tenants. Drain3's driver measures the same way.
//!
//! Run through `bench/templates/run.sh`, which also runs Drain3 on the same
//! input. Direct use: `templates CONTENTS_FILE REPEAT [--miner-only | --native-only]`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use wasmstash::builtins;
use wasmstash::engine::{Engine, EngineSettings, FilterModule, Stage};
use wasmstash::event_check::CheckedEvent;
use wasmstash_filter_templates::Templates;
use wasmstash_filter_templates::miner::{Config, Miner};
use wasmstash_sdk::{NativeFilter, plumbing::wire};

#[path = "../cpu_clock.rs"]
mod cpu_clock;

use cpu_clock::thread_cpu_time;

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
    let started = Clock::start();
    for _ in 0..repeat {
        for line in &lines {
            let found = miner.add(line);
            found.params(&mut params);
            black_box((found.id_hex(), found.text(), found.new, params.len()));
        }
    }
    report("miner, native", total, started.stop(), miner.len());
    if std::env::args().any(|a| a == "--miner-only") {
        return Ok(());
    }

    let events: Vec<CheckedEvent> = lines
        .iter()
        .map(|l| wasmstash::input::line_event(l.as_bytes()))
        .collect();
    let refs: Vec<&CheckedEvent> = events.iter().collect();
    let mut native = NativeFilter::<Templates>::new(b"{}").map_err(anyhow::Error::msg)?;
    let mut batch = Vec::new();
    let started = Clock::start();
    for _ in 0..repeat {
        for chunk in refs.chunks(1000) {
            wire::encode_batch(chunk.iter().map(|e| e.text()), &mut batch);
            black_box(native.process_batch(&batch));
        }
    }
    report(
        "templates filter, native build (events encoded, 1000 per batch)",
        total,
        started.stop(),
        0,
    );
    if std::env::args().any(|a| a == "--native-only") {
        return Ok(());
    }

    let engine = Engine::new(EngineSettings {
        call_timeout: Some(Duration::from_secs(5)),
        memory_limit_bytes: 256 << 20,
        cache_dir: None,
        ..Default::default()
    })?;
    let wasm = builtins::find("templates")
        .expect("templates is built in")
        .wasm;
    let mut stage = Stage::new(FilterModule::load(&engine, "templates", wasm, b"{}")?);
    let started = Clock::start();
    for _ in 0..repeat {
        for chunk in refs.chunks(1000) {
            black_box(stage.process(chunk));
        }
    }
    report(
        "templates filter in the engine (WASM, 1000 events per call)",
        total,
        started.stop(),
        0,
    );
    Ok(())
}

/// Wall time and this thread's CPU time since `start`.
struct Clock {
    wall: Instant,
    cpu: Duration,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: Instant::now(),
            cpu: thread_cpu_time(),
        }
    }

    fn stop(&self) -> (Duration, Duration) {
        (self.wall.elapsed(), thread_cpu_time() - self.cpu)
    }
}

fn report(what: &str, lines: usize, (wall, cpu): (Duration, Duration), templates: usize) {
    let rate = lines as f64 / cpu.as_secs_f64();
    let held = if templates > 0 {
        format!(", {templates} templates")
    } else {
        String::new()
    };
    println!(
        "{what}: {lines} lines in {:.2} s CPU ({:.2} s wall): {rate:.0} lines per CPU-second{held}",
        cpu.as_secs_f64(),
        wall.as_secs_f64()
    );
}
