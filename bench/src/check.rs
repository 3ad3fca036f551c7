//! What the host's check of a changed event costs, for a filter that only
//! adds fields (grok COMBINEDAPACHELOG, ECS): checking the whole new event
//! (result kind `replaced`) against checking only the added members and the
//! event's top-level keys (result kind `extended`). Measured on two event
//! shapes: the bare `{"message": line}` and the same line as Filebeat ships
//! it, with its usual metadata (about 1 KiB more). Then the check of the
//! json and mutate results of the filters section, whose strings are dense
//! with escapes: a JSON document in `message`, a line's quotes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;
use wasmstash::event_check::{CheckedEvent, check_event};
use wasmstash_filter_date::Date;
use wasmstash_filter_grok::Grok;
use wasmstash_filter_json::Json;
use wasmstash_filter_mutate::Mutate;
use wasmstash_sdk::plumbing::wire::{self, ResultKind};
use wasmstash_sdk::{Filter, NativeFilter};

use crate::support;
use crate::timing::BATCH;

pub fn rows(lines: &[String], budget: Duration) {
    println!("\n## The host's check of an event grok changed, one core\n");
    println!(
        "grok COMBINEDAPACHELOG (ECS) over the access log; ns per event for the check alone, \
         {} s per cell.\n",
        budget.as_secs_f64()
    );
    println!(
        "| event shape | bytes in | bytes added | whole event checked (`replaced`) | added members checked (`extended`) | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    let bare: Vec<CheckedEvent> = lines.iter().map(|l| CheckedEvent::message(l)).collect();
    let filebeat: Vec<CheckedEvent> = lines.iter().enumerate().map(filebeat_event).collect();
    for (shape, events) in [("`{\"message\": line}`", bare), ("Filebeat", filebeat)] {
        let added = added_members(&events);
        let whole: Vec<Vec<u8>> = events
            .iter()
            .zip(&added)
            .map(|(input, members)| {
                let mut event = Vec::new();
                wire::extend_event(input.text(), members, &mut event);
                event
            })
            .collect();
        let replaced = per_event(budget, events.len(), |i| {
            check_event(&whole[i]).unwrap();
        });
        let extended = per_event(budget, events.len(), |i| {
            black_box(events[i].check_added(&added[i]).unwrap());
        });
        println!(
            "| {shape} | {} | {} | {replaced:.0} | {extended:.0} | {:.2} |",
            average(&events),
            average(&added),
            replaced / extended
        );
    }
    dated_rows(lines, budget);
}

/// date's result on Filebeat-shaped events after grok: the whole event again
/// (`replaced`), since it already has an `@timestamp` to replace. Checked
/// whole, and checked in part (only the run of members that differs from
/// the event it replaces).
fn dated_rows(lines: &[String], budget: Duration) {
    println!(
        "\ndate's `replaced` result on the Filebeat-shaped events after grok (a new `@timestamp`), {BATCH} events in turn (in cache, as in a stage); ns per event.\n"
    );
    println!("| bytes | whole event checked | changed members checked | ratio |");
    println!("|---|---|---|---|");
    let mut grokked: Vec<CheckedEvent> = lines.iter().enumerate().map(filebeat_event).collect();
    let added = added_members(&grokked);
    for (event, members) in grokked.iter_mut().zip(added) {
        let added = event.check_added(&members).unwrap();
        event.add(added);
    }
    // Every line but the one grok does not match gets a new `@timestamp`.
    let config = r#"{"match":["timestamp","dd/MMM/yyyy:HH:mm:ss Z"]}"#;
    let (grokked, dated): (Vec<CheckedEvent>, Vec<Vec<u8>>) = (grokked.iter().cloned())
        .zip(results_of::<Date>(config, &grokked))
        .filter(|(_, (kind, _))| *kind == ResultKind::Replaced)
        .map(|(event, (_, payload))| (event, payload))
        .unzip();
    // One Logstash batch, over and over: a stage checks its results while
    // the batch's events are still in cache, having just encoded them.
    let (grokked, dated) = (&grokked[..BATCH], &dated[..BATCH]);
    let whole = per_event(budget, dated.len(), |i| check_event(&dated[i]).unwrap());
    let in_part = per_event(budget, dated.len(), |i| {
        black_box(grokked[i].check_replacement(dated[i].clone()).unwrap());
    });
    let copy = per_event(budget, dated.len(), |i| {
        black_box(dated[i].clone());
    });
    println!(
        "| {} | {whole:.0} | {:.0} | {:.2} |",
        average(dated),
        in_part - copy,
        whole / (in_part - copy)
    );
}

/// The check of the json and mutate filters' results, as the filters
/// section produces them.
pub fn filter_rows(lines: &[String], access_events: &[CheckedEvent], budget: Duration) {
    println!("\n## The host's check of json's and mutate's results, one core\n");
    println!(
        "The filters section's events and configs; ns per event for the check alone, {} s per row.\n",
        budget.as_secs_f64()
    );
    println!(
        "| filter | result kind | bytes in | bytes out | ns per event, all 10,000 in turn | ns per event, {BATCH} in turn (in cache, as in a stage) |"
    );
    println!("|---|---|---|---|---|---|");
    let json_events = crate::json_document_events(lines);
    let added = results::<Json>(crate::JSON_CONFIG, &json_events, ResultKind::Extended);
    let [cold, hot] = both_ways(budget, json_events.len(), |i| {
        black_box(json_events[i].check_added(&added[i]).unwrap());
    });
    println!(
        "| json | `extended` | {} | {} | {cold:.0} | {hot:.0} |",
        average(&json_events),
        average(&added)
    );
    let replaced = results::<Mutate>(&crate::mutate_config(), access_events, ResultKind::Replaced);
    let [cold, hot] = both_ways(budget, replaced.len(), |i| {
        check_event(&replaced[i]).unwrap()
    });
    println!(
        "| mutate | `replaced` | {} | {} | {cold:.0} | {hot:.0} |",
        average(access_events),
        average(&replaced)
    );
}

/// ns per event for `check` over all `count` events in turn, mostly out of
/// cache, and over the first batch's over and over: a stage checks results
/// the module has just written.
fn both_ways(budget: Duration, count: usize, mut check: impl FnMut(usize)) -> [f64; 2] {
    let half = budget / 2;
    [
        per_event(half, count, &mut check),
        per_event(half, count.min(BATCH), check),
    ]
}

/// The members grok adds to each event, from the native build.
fn added_members(events: &[CheckedEvent]) -> Vec<Vec<u8>> {
    // Every event gains fields, or a tag: the one line grok does not match
    // gains `tags`, which none of these events has.
    let config = json!({"match": {"message": "%{COMBINEDAPACHELOG}"}}).to_string();
    results::<Grok>(&config, events, ResultKind::Extended)
}

/// What the native build of `F` returns for each event, which must be a
/// result of `kind`.
fn results<F: Filter>(config: &str, events: &[CheckedEvent], kind: ResultKind) -> Vec<Vec<u8>> {
    results_of::<F>(config, events)
        .into_iter()
        .map(|(got, payload)| {
            assert_eq!(got, kind);
            payload
        })
        .collect()
}

/// What the native build of `F` returns for each event.
fn results_of<F: Filter>(config: &str, events: &[CheckedEvent]) -> Vec<(ResultKind, Vec<u8>)> {
    let mut filter = NativeFilter::<F>::new(config.as_bytes()).unwrap();
    let mut batch = Vec::new();
    let mut payloads = Vec::new();
    for event in events {
        wire::encode_batch(std::iter::once(event.text()), &mut batch);
        let results = wire::decode_results(filter.process_batch(&batch), 1).unwrap();
        let (got, payload) = results[0];
        payloads.push((got, payload.to_vec()));
    }
    payloads
}

fn filebeat_event((i, line): (usize, &String)) -> CheckedEvent {
    CheckedEvent::new(serde_json::to_vec(&support::filebeat_event(i, line)).unwrap()).unwrap()
}

fn per_event(budget: Duration, count: usize, mut check: impl FnMut(usize)) -> f64 {
    let started = Instant::now();
    let mut done = 0usize;
    while started.elapsed() < budget {
        for i in 0..count {
            check(i);
        }
        done += count;
    }
    started.elapsed().as_nanos() as f64 / done as f64
}

fn average<E: AsRef<[u8]>>(events: &[E]) -> usize {
    events.iter().map(|e| e.as_ref().len()).sum::<usize>() / events.len().max(1)
}
