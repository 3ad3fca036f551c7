//! A filter that misbehaves on request, so the host's isolation can be tested
//! with a real SDK-built module rather than hand-written stand-ins.
//!
//! Each option names a marker; an event whose `message` contains it triggers
//! the behaviour. Other events get `[chaos][seen]`, a running count that is
//! also the filter's snapshot state.

use serde::Deserialize;
use wasmstash_sdk::prelude::*;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Panic (a trap in WebAssembly).
    panic_on: Option<String>,
    /// Spin forever (the host's deadline must stop it).
    loop_on: Option<String>,
    /// Allocate until memory runs out.
    alloc_on: Option<String>,
    /// Recurse until the stack overflows.
    recurse_on: Option<String>,
    /// Return a per-event error.
    error_on: Option<String>,
    /// Drop the event.
    drop_on: Option<String>,
    /// Take this many milliseconds over every event it keeps, by the
    /// host's clock: a slow filter, whose re-runs and replays take time.
    slow_ms: Option<u64>,
    /// Write this text at `@timestamp` of every event it keeps, where
    /// Logstash's event holds only a timestamp (and the built-in filters
    /// refuse to write text, as Logstash's do): an answer the Logstash
    /// plugin must cope with.
    timestamp_text: Option<String>,
    /// Write this text as `@metadata` of every event it keeps, where
    /// Logstash's event holds only an object (the built-in filters refuse
    /// to, as Logstash's do): another answer the plugin must cope with.
    metadata_text: Option<String>,
    /// Set each member of the JSON object in `message` at its key, as it
    /// is: where the built-in json filter refuses what Logstash's event
    /// refuses (an object at `tags`), this writes it, one more answer the
    /// plugin must cope with.
    #[serde(default)]
    merge_message: bool,
    /// Refuse every state `restore` is given, as a filter would whose state
    /// format changed under it.
    #[serde(default)]
    refuse_restore: bool,
    /// Take this many milliseconds, by the host's clock, over every
    /// `snapshot` and `restore`: a large state, whose saves and restores
    /// take longer than a batch.
    slow_state_ms: Option<u64>,
}

/// Spins until `ms` milliseconds have passed by the host's clock.
fn spin_for(ms: Option<u64>) {
    if let Some(ms) = ms {
        let until = host::now_unix_nanos().saturating_add(ms as i64 * 1_000_000);
        while host::now_unix_nanos() < until {}
    }
}

pub struct Chaos {
    config: Config,
    seen: u64,
}

fn triggers(marker: &Option<String>, message: &str) -> bool {
    marker.as_deref().is_some_and(|m| message.contains(m))
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64, sink: &mut [u64; 64]) -> u64 {
    sink[(depth % 64) as usize] = depth;
    let mut local = [depth; 64];
    local[1] = recurse(depth + 1, &mut local);
    local.iter().sum::<u64>() + sink[0]
}

impl Filter for Chaos {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        Ok(Chaos { config, seen: 0 })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        let message = event.get_str("message").unwrap_or_default().to_owned();
        let c = &self.config;
        if triggers(&c.panic_on, &message) {
            panic!("chaos asked to panic on {message:?}");
        }
        if triggers(&c.loop_on, &message) {
            let mut spins = 0u64;
            while std::hint::black_box(spins) != u64::MAX {
                spins = std::hint::black_box(spins.wrapping_add(1) % 1000);
            }
        }
        if triggers(&c.alloc_on, &message) {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        if triggers(&c.recurse_on, &message) {
            let mut sink = [0; 64];
            event.set("depth", recurse(0, &mut sink));
        }
        if triggers(&c.error_on, &message) {
            return Verdict::Error(format!("chaos refused {message:?}"));
        }
        if triggers(&c.drop_on, &message) {
            return Verdict::Drop;
        }
        spin_for(c.slow_ms);
        if c.merge_message
            && let Ok(Value::Object(members)) = serde_json::from_str(&message)
        {
            for (key, value) in members {
                event.set(&key, value);
            }
        }
        self.seen += 1;
        event.set("[chaos][seen]", self.seen);
        if let Some(text) = &c.timestamp_text {
            event.set("@timestamp", text.as_str());
        }
        if let Some(text) = &c.metadata_text {
            event.set("@metadata", text.as_str());
        }
        host::count("chaos_events", 1);
        Verdict::Keep
    }
}

impl Stateful for Chaos {
    fn snapshot(&self) -> Vec<u8> {
        spin_for(self.config.slow_state_ms);
        self.seen.to_le_bytes().to_vec()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        spin_for(self.config.slow_state_ms);
        if self.config.refuse_restore {
            return Err("chaos refuses every state".into());
        }
        let bytes: [u8; 8] = state
            .try_into()
            .map_err(|_| format!("chaos state is 8 bytes, got {}", state.len()))?;
        self.seen = u64::from_le_bytes(bytes);
        Ok(())
    }
}

export_filter!(Chaos, stateful);
