//! The anomaly filter's cost: events/s on one core with every detector on and
//! 10,000 distinct keys, natively and in WebAssembly (through the host's
//! stage, which checkpoints the state every second or before every batch,
//! and straight on an instance, which does not), and the memory each key
//! takes.
//!
//! Warm-ups are short (a few events or intervals per key) so that every
//! detector judges every key during the measurement.
//!
//! Run: `cargo run --release -p wasmstash-bench --bin anomaly -- [--seconds S] [--keys N]`.
//! Prints a Markdown section for BENCHMARKS.md. Nothing here asserts a time.

use std::hint::black_box;
use std::time::{Duration, Instant};

use wasmstash::builtins;
use wasmstash::engine::{Engine, EngineSettings, FilterModule, Stage};
use wasmstash::event_check::CheckedEvent;
use wasmstash_filter_anomaly::Anomaly;
use wasmstash_sdk::NativeFilter;
use wasmstash_sdk::plumbing::wire;

const CONFIG: &str = r#"{
    "key_field": "[service][name]",
    "rate": {"warmup_intervals": 2}, "error_ratio": {"warmup_intervals": 2},
    "value_outlier": {"field": "[event][duration]", "warmup_values": 10},
    "rare_template": {"warmup_events": 10},
    "new_value": {"field": "[source][address]", "warmup_events": 10}
}"#;

/// 2026-11-25T00:00:00Z.
const T0: u64 = 1_795_564_800_000;

/// An endless, deterministic stream of events over `keys` keys: one event per
/// millisecond of event time, a little under 1% errors, twenty client
/// addresses and fifty templates per key.
struct Stream {
    next: u64,
    keys: u64,
}

impl Stream {
    /// `size` events, checked as the host's input is (not timed).
    fn batch(&mut self, size: usize) -> Vec<CheckedEvent> {
        (0..size)
            .map(|_| {
                let i = self.next;
                self.next += 1;
                let key = i.wrapping_mul(7919) % self.keys;
                let millis = T0 + i;
                let (seconds, ms) = (millis / 1000, millis % 1000);
                let (h, m, s) = (seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
                let day = 25 + seconds / 86_400 - T0 / 86_400_000;
                let level = if i.is_multiple_of(131) { "ERROR" } else { "INFO" };
                let status = if i.is_multiple_of(149) { 503 } else { 200 };
                format!(
                    concat!(
                        r#"{{"@timestamp":"2026-11-{:02}T{:02}:{:02}:{:02}.{:03}Z","message":"GET /api/item/{} done","#,
                        r#""service":{{"name":"svc-{}"}},"log":{{"level":"{}"}},"http":{{"response":{{"status_code":{}}}}},"#,
                        r#""event":{{"duration":{}}},"source":{{"address":"10.{}.{}.{}"}},"#,
                        r#""wasmstash":{{"template":{{"id":"{:016x}"}}}}}}"#
                    ),
                    day, h, m, s, ms, i % 1000, key, level, status,
                    1_000_000 * (20 + (i * 31) % 17), key % 250, key / 250 % 250, i % 20, (i * 13) % 50
                )
                .into_bytes()
            })
            .map(|event| CheckedEvent::new(event).expect("a well-formed event"))
            .collect()
    }
}

fn main() -> anyhow::Result<()> {
    let arg = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let seconds: f64 = arg("--seconds")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5.0);
    let keys: u64 = arg("--keys")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let budget = Duration::from_secs_f64(seconds);
    let warm_events = (keys * 20) as usize;
    let engine = Engine::new(EngineSettings {
        call_timeout: Some(Duration::from_secs(5)),
        memory_limit_bytes: 1 << 30,
        cache_dir: None,
        ..Default::default()
    })?;
    let wasm = builtins::find("anomaly").expect("anomaly is built in").wasm;
    let module = FilterModule::load(&engine, "anomaly", wasm, CONFIG.as_bytes())?;
    let fresh_memory = module.instantiate()?.memory_bytes();

    println!("## anomaly: events/s per core and memory per key\n");
    println!(
        "All five detectors on, {keys} distinct keys, every key warmed with {} events first; one thread; events of {} bytes on average.\n",
        warm_events as u64 / keys,
        Stream { next: 0, keys }
            .batch(100)
            .iter()
            .map(|event| event.text().len())
            .sum::<usize>()
            / 100
    );
    println!("| runner | events per call | events/s |");
    println!("|---|---|---|");

    // Native: the same SDK loop, no sandbox.
    let mut native = NativeFilter::<Anomaly>::new(CONFIG.as_bytes()).map_err(anyhow::Error::msg)?;
    let mut stream = Stream { next: 0, keys };
    let mut encoded = Vec::new();
    let mut native_call = |events: &[CheckedEvent]| {
        wire::encode_batch(events.iter().map(CheckedEvent::text), &mut encoded);
        black_box(native.process_batch(&encoded).len());
    };
    for _ in 0..warm_events / 1000 {
        native_call(&stream.batch(1000));
    }
    let rate = measure(budget, &mut stream, 1000, &mut native_call);
    println!("| native (SDK loop) | 1000 | {rate:.0} |");
    let native_state = native.snapshot().len();

    // WASM through the host's stage, as a pipeline runs it: with the default
    // checkpoint every second (and a log of the batches since), and with a
    // checkpoint before every batch.
    for (batch, interval_ms) in [(1000usize, 1000u64), (125, 1000), (1000, 0), (125, 0)] {
        let engine = Engine::new(EngineSettings {
            call_timeout: Some(Duration::from_secs(5)),
            memory_limit_bytes: 1 << 30,
            cache_dir: None,
            checkpoint_interval: Duration::from_millis(interval_ms),
            ..Default::default()
        })?;
        let module = FilterModule::load(&engine, "anomaly", wasm, CONFIG.as_bytes())?;
        let mut stage = Stage::new(module);
        let mut stream = Stream { next: 0, keys };
        let mut call = |events: &[CheckedEvent]| {
            let refs: Vec<&CheckedEvent> = events.iter().collect();
            black_box(stage.process(&refs));
        };
        for _ in 0..warm_events / 1000 {
            call(&stream.batch(1000));
        }
        let rate = measure(budget, &mut stream, batch, &mut call);
        println!(
            "| WASM, host stage, checkpoint_interval_ms = {interval_ms} | {batch} | {rate:.0} |"
        );
    }

    // WASM straight on an instance: what the filter itself costs in the sandbox.
    let mut instance = module.instantiate()?;
    let mut stream = Stream { next: 0, keys };
    let mut buffer = Vec::new();
    let mut call = |events: &[CheckedEvent]| {
        let refs: Vec<&CheckedEvent> = events.iter().collect();
        wire::encode_batch(events.iter().map(CheckedEvent::text), &mut buffer);
        black_box(instance.process(&buffer, &refs).expect("the filter runs"));
    };
    for _ in 0..warm_events / 1000 {
        call(&stream.batch(1000));
    }
    let rate = measure(budget, &mut stream, 1000, &mut call);
    println!("| WASM, instance only (no checkpoint) | 1000 | {rate:.0} |");
    let memory = instance.memory_bytes();
    let snapshot = instance.snapshot().ok().flatten().map_or(0, |s| s.len());

    let per_key = |bytes: usize| bytes as f64 / keys as f64;
    println!();
    println!(
        "Memory: the instance's linear memory grew from {:.1} MiB fresh to {:.1} MiB with {keys} keys in every detector, {:.0} bytes per key (all five detectors together, allocator slack included). \
         The snapshot is {:.1} MiB, {:.0} bytes per key (natively {:.0}). A checkpoint copies it out of the sandbox once per batch.",
        fresh_memory as f64 / (1 << 20) as f64,
        memory as f64 / (1 << 20) as f64,
        per_key(memory - fresh_memory),
        snapshot as f64 / (1 << 20) as f64,
        per_key(snapshot),
        per_key(native_state),
    );
    Ok(())
}

/// Events per second through `call` in batches of `size` for `budget`,
/// timing only the calls (not making the events).
fn measure(
    budget: Duration,
    stream: &mut Stream,
    size: usize,
    call: &mut impl FnMut(&[CheckedEvent]),
) -> f64 {
    let mut spent = Duration::ZERO;
    let mut processed = 0usize;
    while spent < budget {
        let events = stream.batch(size);
        let started = Instant::now();
        call(&events);
        spent += started.elapsed();
        processed += size;
    }
    processed as f64 / spent.as_secs_f64()
}
