//! Every built-in filter, built natively, on configs and events no one
//! wrote. Whatever the config, `new` answers a filter or an error. Whatever
//! the events, the filter answers one result per event that the host's own
//! checks accept: a result the host refuses would reach users as
//! `_wasmfilter_failure`, so it is a bug here. A panic is a bug too (the
//! SDK would turn it into a failed event; libFuzzer stops on it first).
//!
//! Each batch also goes through a second instance as a plain batch, where
//! the SDK finds the keys itself instead of taking the host's spans: the
//! two must answer the same bytes.
//!
//! Input: a byte choosing the filter, its JSON config, a NUL, then events,
//! one per line: a line that is a valid event is taken as it is, any other
//! becomes `{"message": line}`, as `wasmstash run` reads input.

use crate::split_at_nul;
use wasmstash::event_check::CheckedEvent;
use wasmstash_sdk::plumbing::wire::{self, ResultKind};
use wasmstash_sdk::{Filter, NativeFilter};

/// One input, as the fuzz target of this name gets it.
pub fn run(data: &[u8]) {
    if let Some((which, config, events)) = read(data) {
        with_filter(
            which,
            HostChecks {
                config,
                events: &events,
            },
        );
    }
}

/// An input as this target and `wasm_native` read it: the byte that
/// chooses the filter, its config, and the events.
pub(crate) fn read(data: &[u8]) -> Option<(u8, &[u8], Vec<CheckedEvent>)> {
    let (&which, rest) = data.split_first()?;
    let (config, lines) = split_at_nul(rest);
    let events = lines
        .split(|&b| b == b'\n')
        .map(|line| {
            CheckedEvent::copied(line)
                .unwrap_or_else(|_| CheckedEvent::message(&String::from_utf8_lossy(line)))
        })
        .collect();
    Some((which, config, events))
}

/// Work to do with one built-in filter, given its type and its name.
pub(crate) trait WithFilter {
    fn with<F: Filter>(self, name: &'static str);
}

/// Does `task` with the built-in filter `which` chooses.
pub(crate) fn with_filter(which: u8, task: impl WithFilter) {
    use wasmstash_filter_anomaly::Anomaly;
    use wasmstash_filter_date::Date;
    use wasmstash_filter_dissect::Dissect;
    use wasmstash_filter_grok::Grok;
    use wasmstash_filter_json::Json;
    use wasmstash_filter_kv::Kv;
    use wasmstash_filter_mutate::Mutate;
    use wasmstash_filter_syslog::Syslog;
    use wasmstash_filter_templates::Templates;
    match which % 9 {
        0 => task.with::<Json>("json"),
        1 => task.with::<Mutate>("mutate"),
        2 => task.with::<Grok>("grok"),
        3 => task.with::<Dissect>("dissect"),
        4 => task.with::<Kv>("kv"),
        5 => task.with::<Date>("date"),
        6 => task.with::<Syslog>("syslog"),
        7 => task.with::<Templates>("templates"),
        _ => task.with::<Anomaly>("anomaly"),
    }
}

struct HostChecks<'a> {
    config: &'a [u8],
    events: &'a [CheckedEvent],
}

impl WithFilter for HostChecks<'_> {
    fn with<F: Filter>(self, _: &'static str) {
        run_filter::<F>(self.config, self.events);
    }
}

fn run_filter<F: Filter>(config: &[u8], events: &[CheckedEvent]) {
    // Some answers read the clock (json's `@timestamp` for a bad one, the
    // year of a syslog line that gives none); both runs get the same one.
    wasmstash_sdk::host::freeze_native_clock(Some(FROZEN_NOW_NANOS));
    let _thaw = Thaw;
    let Ok(mut keyed) = NativeFilter::<F>::new(config) else {
        return;
    };
    let mut batch = Vec::new();
    let spans = || events.iter().map(|event| (event.text(), event.key_spans()));
    wire::encode_keyed_batch(spans(), &mut batch);
    let answer = keyed.process_keyed_batch(&batch).to_vec();
    let results = wire::decode_results(&answer, events.len()).expect("the SDK's results decode");
    for (event, (kind, payload)) in events.iter().zip(results) {
        let checked = match kind {
            ResultKind::Extended => event.check_added(payload).map(|_| ()),
            ResultKind::Replaced => event.check_replacement(payload.to_vec()).map(|_| ()),
            ResultKind::Failed => std::str::from_utf8(payload)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            ResultKind::Unchanged | ResultKind::Dropped => Ok(()),
        };
        if let Err(error) = checked {
            panic!(
                "the host refuses {kind:?} {:?} for {:?}: {error}",
                String::from_utf8_lossy(payload),
                String::from_utf8_lossy(event.text())
            );
        }
    }
    let mut plain_batch = Vec::new();
    wire::encode_batch(events.iter().map(CheckedEvent::text), &mut plain_batch);
    let mut plain = NativeFilter::<F>::new(config).expect("the config was accepted once");
    let plain_answer = plain.process_batch(&plain_batch);
    assert!(
        plain_answer == answer,
        "a plain batch answers differently from a keyed one:\n plain {:?}\n keyed {:?}",
        String::from_utf8_lossy(plain_answer),
        String::from_utf8_lossy(&answer),
    );
}

/// Lets the system clock through again when the comparison ends, however
/// it ends.
struct Thaw;

impl Drop for Thaw {
    fn drop(&mut self) {
        wasmstash_sdk::host::freeze_native_clock(None);
    }
}

/// 2026-06-10T12:00:00Z, the frozen "now" of both runs.
const FROZEN_NOW_NANOS: i64 = 1_781_092_800_000_000_000;
