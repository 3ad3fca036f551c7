//! Two builds of one filter module, A against B, in one run.
//!
//! Tuning a filter means telling a 3% change from noise, and on a shared
//! machine two runs minutes apart differ by more than that. So this runs
//! both modules in the same process, alternating in short rounds (A first
//! in even rounds, B first in odd ones), and reports the median of each
//! round's own B/A ratio: load that drifts between rounds cancels out.
//!
//! `wasmstash-bench compare A.wasm B.wasm [--config JSON] [--events KIND]
//! [--deadline-off] [--rounds N]` runs each module over the Apache access
//! log, as plain lines or (`--events json`) as the JSON documents the json
//! filter is measured on, with the deadline on unless told otherwise.
//! The default config is grok's `%{COMBINEDAPACHELOG}` in ECS mode.

use std::path::Path;

use serde_json::json;
use wasmstash::engine::{FilterModule, Stage};
use wasmstash::event_check::CheckedEvent;

use crate::timing::{RoundRatio, alternating, median, per_cpu_second};
use crate::{engine, json_document_events, stage_call, support};

/// What `--events` accepts.
pub const EVENT_KINDS: [&str; 2] = ["lines", "json"];

pub struct Comparison {
    pub modules: [String; 2],
    pub config: Option<String>,
    /// Feed JSON documents in `message` instead of raw lines.
    pub json_events: bool,
    /// Run with the deadline on (the product's default).
    pub deadline: bool,
    pub rounds: usize,
}

pub fn run(comparison: &Comparison) -> anyhow::Result<()> {
    let config = comparison.config.clone().unwrap_or_else(|| {
        json!({"match": {"message": "%{COMBINEDAPACHELOG}"}, "ecs_compatibility": "v8"}).to_string()
    });
    let mut stages = Vec::new();
    for path in &comparison.modules {
        let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {path}: {e}"))?;
        let name = Path::new(path)
            .file_stem()
            .map_or("module".into(), |s| s.to_string_lossy().into_owned());
        let module = FilterModule::load(
            &engine(comparison.deadline),
            &name,
            &bytes,
            config.as_bytes(),
        )
        .map_err(|e| anyhow::anyhow!("loading {path}: {e}"))?;
        stages.push(Stage::new(module));
    }
    let lines = support::apache_lines();
    let events: Vec<CheckedEvent> = if comparison.json_events {
        json_document_events(&lines)
    } else {
        lines
            .iter()
            .map(|l| wasmstash::input::line_event(l.as_bytes()))
            .collect()
    };
    let refs: Vec<&CheckedEvent> = events.iter().collect();

    let passes = alternating::<2>(
        &refs,
        refs.len(),
        |round| round < comparison.rounds,
        |which, chunk| stage_call(&mut stages[which], chunk),
    );
    let rates = passes.each_ref().map(|p| per_cpu_second(p));
    let deadline = if comparison.deadline { "on" } else { "off" };
    println!("## A/B: two builds of one module, deadline {deadline}\n");
    println!(
        "Config `{config}` over the access log{}; {} rounds of one pass over its 10,000 lines per module, \
         alternating. Events per CPU-second of the benchmark thread, median.\n",
        if comparison.json_events {
            " (a JSON document per line)"
        } else {
            ""
        },
        comparison.rounds
    );
    println!("| module | events/CPU-s |\n|---|---|");
    for (label, (path, rates)) in ["A", "B"].iter().zip(comparison.modules.iter().zip(&rates)) {
        println!("| {label} `{path}` | {:.0} |", median(rates));
    }
    println!(
        "\nB/A throughput, median of the rounds' own ratios (lower and upper quartile): {:.3}",
        RoundRatio::of(&rates[1], &rates[0])
    );
    Ok(())
}
