//! `anomaly`: flags events when something about a key (a service, a host, a
//! URL) departs from what was learned about it, on event time.
//!
//! Detectors, each on when configured: `rate` (events per interval),
//! `error_ratio` (share of errors per interval), `value_outlier` (a numeric
//! field per event), `rare_template` (a template id new or rare for the key)
//! and `new_value` (a field value new for the key). Flags go under
//! `wasmstash.anomaly.*` with the tag `anomaly` (docs/FIELDS.md). State is
//! kept per key, capped, and exported through the ABI snapshot so a restart
//! or reload keeps what was learned. See README.md next to this file.

mod baseline;
mod charge;
mod config;
mod finding;
mod guard;
mod interval;
mod judge;
mod keyed;
mod novelty;
mod outlier;
mod snapshot;
mod time;

use std::borrow::Cow;
use std::collections::VecDeque;

use wasmstash_sdk::field_ref::{self, FieldPath, FieldRef};
use wasmstash_sdk::prelude::*;

pub use config::Config;
use finding::{Detector, Finding};
use guard::{Guard, Held, HeldEntry};
use interval::{Clock, IntervalTracker};
use keyed::{KeyTable, Keyed};
use novelty::NoveltyDetector;
use outlier::OutlierDetector;
use snapshot::PartRef;
const DEFAULT_TEMPLATE_FIELD: &str = "[wasmstash][template][id]";
/// Logstash's tag for an `@timestamp` it could not read.
const TIMESTAMP_FAILURE: &str = "_timestampparsefailure";
const TEMPLATE_TEXT_FIELD: &str = "[wasmstash][template][text]";

pub struct Anomaly {
    timestamp_field: FieldRef,
    /// Whether `timestamp_field` is `@timestamp`, which a Logstash event
    /// always has: where its text could not be read, Logstash (and the
    /// host) put the time of reading there and tag the event
    /// [`TIMESTAMP_FAILURE`], and that time is not the event's. A `date`
    /// step that repairs it should take the tag off (`remove_tag`), as
    /// the README says: the tag is all that tells the two apart.
    reads_logstash_timestamp: bool,
    max_keys: usize,
    /// `max_state_mib` in bytes (u64: 4096 MiB is past a 32-bit usize).
    max_state_bytes: u64,
    max_pending: usize,
    max_findings_per_event: usize,
    clock: Clock,
    max_clock_jump_ms: i64,
    clock_jump_confirm: usize,
    guard: Guard,
    intervals: Vec<IntervalTracker>,
    outliers: Vec<OutlierDetector>,
    novelty: Vec<NoveltyDetector>,
    /// Interval findings waiting for an event to carry them.
    pending: VecDeque<Finding>,
}

impl Filter for Anomaly {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        config.validate()?;
        let key_field =
            |own: &Option<String>| spelled_one_way(own.as_deref().unwrap_or(&config.key_field));
        let max_keys = config.max_keys;
        let mut intervals = Vec::new();
        match (&config.rate, &config.error_ratio) {
            (Some(rate), Some(errors))
                if key_field(&rate.key_field) == key_field(&errors.key_field) =>
            {
                intervals.push(IntervalTracker::new(
                    key_field(&rate.key_field),
                    Some(rate.clone()),
                    Some(errors.clone()),
                    max_keys,
                ));
            }
            (rate, errors) => {
                if let Some(rate) = rate {
                    intervals.push(IntervalTracker::new(
                        key_field(&rate.key_field),
                        Some(rate.clone()),
                        None,
                        max_keys,
                    ));
                }
                if let Some(errors) = errors {
                    intervals.push(IntervalTracker::new(
                        key_field(&errors.key_field),
                        None,
                        Some(errors.clone()),
                        max_keys,
                    ));
                }
            }
        }
        let outliers = config
            .value_outlier
            .map(|o| o.into_vec())
            .unwrap_or_default()
            .into_iter()
            .map(|mut c| {
                c.field = spelled_one_way(&c.field).as_str().to_owned();
                OutlierDetector::new(key_field(&c.key_field), c, max_keys)
            })
            .collect();
        let mut novelty = Vec::new();
        if let Some(c) = config.rare_template {
            let field = spelled_one_way(c.field.as_deref().unwrap_or(DEFAULT_TEMPLATE_FIELD));
            novelty.push(NoveltyDetector::new(
                Detector::RareTemplate,
                key_field(&c.key_field),
                field,
                c,
                max_keys,
            ));
        }
        for c in config.new_value.map(|v| v.into_vec()).unwrap_or_default() {
            let field = spelled_one_way(c.field.as_deref().expect("validated"));
            novelty.push(NoveltyDetector::new(
                Detector::NewValue,
                key_field(&c.key_field),
                field,
                c,
                max_keys,
            ));
        }
        let timestamp_field = FieldRef::new(&config.timestamp_field);
        Ok(Anomaly {
            reads_logstash_timestamp: timestamp_field.segments().eq(["@timestamp"]),
            timestamp_field,
            max_keys,
            max_state_bytes: config.max_state_mib << 20,
            max_pending: config.max_pending_findings,
            max_findings_per_event: config.max_findings_per_event,
            clock: Clock::new(
                config.interval_secs as i64 * 1000,
                config.lateness_secs as i64 * 1000,
            ),
            max_clock_jump_ms: config.max_clock_jump_secs as i64 * 1000,
            clock_jump_confirm: config.clock_jump_confirm_events,
            guard: Guard::default(),
            intervals,
            outliers,
            novelty,
            pending: VecDeque::new(),
        })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        let millis = event_millis(event, &self.timestamp_field)
            .filter(|_| !(self.reads_logstash_timestamp && event.has_tag(TIMESTAMP_FAILURE)));
        if millis.is_none() {
            host::count("events_without_timestamp", 1);
        }
        let mut now = millis.or(self.clock.latest).unwrap_or(0);
        let mut findings = Vec::new();
        if let Some(millis) = millis {
            let max_jump = self.max_clock_jump_ms;
            let bogus = self.guard.drop_contradicted(millis, max_jump);
            if bogus > 0 {
                host::count("future_events", bogus as i64);
            }
            if Guard::admits(self.clock.latest, millis, max_jump) {
                self.advance(millis);
                for tracker in &mut self.intervals {
                    let Some(key) = key_of(event, &tracker.key_field) else {
                        continue;
                    };
                    let is_error = tracker.is_error(event);
                    if !tracker.record(&self.clock, &key, millis, is_error) {
                        interval::count_late();
                    }
                }
                while let Some(held) = self.guard.release(self.clock.latest, max_jump) {
                    self.count_held(held);
                }
            } else {
                let held = self.held(event, millis);
                match self.guard.hold(held, self.clock_jump_confirm) {
                    Some(confirmed) => {
                        host::count("clock_jumps", 1);
                        for held in confirmed {
                            self.count_held(held);
                        }
                    }
                    // Per-key recency follows the clock, not this event.
                    None => now = self.clock.latest.unwrap_or(millis),
                }
            }
        }
        for detector in &mut self.outliers {
            let (Some(key), Some(value)) = (
                key_of(event, &detector.key_field),
                number_of(event, detector.field()),
            ) else {
                continue;
            };
            findings.extend(detector.check(&key, value, now));
        }
        for detector in &mut self.novelty {
            let (Some(key), Some(value)) = (
                key_of(event, &detector.key_field),
                text_of(event, &detector.field),
            ) else {
                continue;
            };
            let label = (detector.field.as_str() == DEFAULT_TEMPLATE_FIELD)
                .then(|| event.get_str(TEMPLATE_TEXT_FIELD))
                .flatten();
            findings.extend(detector.check(&key, &value, label, now));
        }
        self.shed_to_budget();
        let blocked = finding::cannot_write(event);
        // Interval findings wait for an event that can carry them.
        if blocked.is_none() {
            let carried = self.pending.len().min(self.max_findings_per_event);
            findings.extend(self.pending.drain(..carried));
        }
        match blocked {
            Some(why) if !findings.is_empty() => {
                Verdict::Error(finding::unwritten(&why, &findings))
            }
            _ => {
                finding::write(event, findings);
                Verdict::Keep
            }
        }
    }
}

impl Stateful for Anomaly {
    fn snapshot(&self) -> Vec<u8> {
        let interval_settings = snapshot::interval_settings(self.clock.interval_ms);
        let part = |id: String, settings: String, body| PartRef { id, settings, body };
        let mut parts = Vec::new();
        parts.extend(
            (self.intervals.iter()).map(|d| part(d.id(), interval_settings.clone(), &d.keys)),
        );
        parts.extend((self.outliers.iter()).map(|d| part(d.id(), d.settings(), &d.keys)));
        parts.extend((self.novelty.iter()).map(|d| part(d.id(), String::new(), &d.keys)));
        snapshot::encode(&self.clock, &self.pending, &parts, &self.guard.held)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        if bytes.is_empty() {
            return Ok(());
        }
        let state = snapshot::decode(bytes)?;
        let max_keys = self.max_keys;
        let interval_settings = snapshot::interval_settings(self.clock.interval_ms);
        // A state none of whose parts this config uses, though some hold
        // keys, is most likely a mistake in the config (a `key_field` or
        // `field` misspelt): refused, so that the host keeps the file aside
        // rather than have the next save write the learning away.
        let ids: Vec<String> = state.parts.iter().map(|p| refiled(&p.id)).collect();
        let unused = |id: &String| self.settings_of(id, &interval_settings).is_none();
        let learnt = state.parts.iter().any(|p| keyed::holds_keys(&p.bytes));
        if learnt && ids.iter().all(unused) {
            return Err(format!(
                "none of the saved state's parts ({}) is one this config's detectors use \
                 (a changed key_field or field?)",
                ids.join(", ")
            ));
        }
        for (part, id) in state.parts.iter().zip(&ids) {
            let bytes = &part.bytes;
            let Some(ours) = self.settings_of(id, &interval_settings) else {
                host::log(
                    Level::Warn,
                    &format!("state for `{id}` is not used by this config; dropped"),
                );
                continue;
            };
            if !part.settings.is_empty() && part.settings != ours {
                // Interval indices and per-interval baselines (or a median
                // of logarithms) would be misread under the new settings:
                // every event late, or false drops. Learn afresh instead.
                host::log(
                    Level::Warn,
                    &snapshot::dropped_for_settings(id, &part.settings, &ours),
                );
                continue;
            }
            let named = |e: String| format!("{id}: {e}");
            if let Some(d) = self.intervals.iter_mut().find(|d| &d.id() == id) {
                d.keys = Keyed::load(bytes, max_keys).map_err(named)?;
            } else if let Some(d) = self.outliers.iter_mut().find(|d| &d.id() == id) {
                d.keys = Keyed::load(bytes, max_keys).map_err(named)?;
            } else if let Some(d) = self.novelty.iter_mut().find(|d| &d.id() == id) {
                d.keys = Keyed::load(bytes, max_keys).map_err(named)?;
            }
        }
        // The clock's interval and lateness come from the config.
        self.clock.latest = state.clock.latest;
        self.clock.closed_through = state.clock.closed_through;
        if state.clock.interval_ms != self.clock.interval_ms {
            // Interval indices mean other times now; re-derive the watermark.
            self.clock.closed_through = None;
            self.clock.latest = None;
        }
        self.clock.repair();
        self.pending = state.pending.into();
        // A smaller `max_pending_findings` than the snapshot was taken
        // under: the oldest go, as `queue` drops them.
        let over = self.pending.len().saturating_sub(self.max_pending);
        if over > 0 {
            self.pending.drain(..over);
            host::count("dropped_findings", over as i64);
        }
        self.guard.held = state.held;
        for entry in self
            .guard
            .held
            .iter_mut()
            .flat_map(|held| &mut held.entries)
        {
            entry.tracker = refiled(&entry.tracker);
        }
        // A smaller `max_state_mib` than the snapshot was taken under.
        self.shed_to_budget();
        Ok(())
    }
}

impl Anomaly {
    /// The settings a saved part `id` is kept under, if one of this
    /// config's detectors is its (`interval_settings` for every rate).
    fn settings_of(&self, id: &str, interval_settings: &str) -> Option<String> {
        if self.intervals.iter().any(|d| d.id() == id) {
            Some(interval_settings.to_owned())
        } else if let Some(d) = self.outliers.iter().find(|d| d.id() == id) {
            Some(d.settings())
        } else {
            self.novelty.iter().any(|d| d.id() == id).then(String::new)
        }
    }

    /// Moves the clock with an event at `millis`, judging the intervals that
    /// closes.
    fn advance(&mut self, millis: i64) {
        if let Some(through) = self.clock.observe(millis) {
            let mut closed = Vec::new();
            for tracker in &mut self.intervals {
                tracker.close(&self.clock, through, self.max_pending, &mut closed);
            }
            self.queue(closed);
        }
    }

    /// What the interval trackers need of an event they cannot count yet.
    fn held(&self, event: &Event, millis: i64) -> Held {
        let entries = self.intervals.iter().filter_map(|tracker| {
            Some(HeldEntry {
                tracker: tracker.id(),
                key: key_of(event, &tracker.key_field)?.into_owned(),
                is_error: tracker.is_error(event),
            })
        });
        Held {
            millis,
            entries: entries.collect(),
        }
    }

    /// Counts an event the guard held, now that the clock may follow it.
    fn count_held(&mut self, held: Held) {
        self.advance(held.millis);
        for entry in held.entries {
            let Some(tracker) = self.intervals.iter_mut().find(|t| t.id() == entry.tracker) else {
                continue;
            };
            if !tracker.record(&self.clock, &entry.key, held.millis, entry.is_error) {
                interval::count_late();
            }
        }
    }

    /// Every detector's keys, in one order: intervals, outliers, novelty.
    fn key_tables(&self) -> impl Iterator<Item = &dyn KeyTable> {
        let intervals = self.intervals.iter().map(|d| &d.keys as &dyn KeyTable);
        let outliers = self.outliers.iter().map(|d| &d.keys as &dyn KeyTable);
        let novelty = self.novelty.iter().map(|d| &d.keys as &dyn KeyTable);
        intervals.chain(outliers).chain(novelty)
    }

    /// [`Self::key_tables`], to shed from.
    fn key_tables_mut(&mut self) -> impl Iterator<Item = &mut dyn KeyTable> {
        let intervals = self
            .intervals
            .iter_mut()
            .map(|d| &mut d.keys as &mut dyn KeyTable);
        let outliers = self
            .outliers
            .iter_mut()
            .map(|d| &mut d.keys as &mut dyn KeyTable);
        let novelty = self
            .novelty
            .iter_mut()
            .map(|d| &mut d.keys as &mut dyn KeyTable);
        intervals.chain(outliers).chain(novelty)
    }

    /// What every detector's keys are charged together (`charge.rs`).
    pub fn state_bytes(&self) -> u64 {
        self.key_tables().map(KeyTable::bytes).sum()
    }

    /// Over `max_state_mib`: evicts the keys seen longest ago, a tenth of
    /// the most charged detector's at a time, until a tenth of the budget
    /// is free (so that eviction is paid for once per many new keys or
    /// values, as at the key cap). Deterministic, as checkpoint replays
    /// need: charges are counted from the state alone.
    fn shed_to_budget(&mut self) {
        let budget = self.max_state_bytes;
        if self.state_bytes() <= budget {
            return;
        }
        let target = budget - budget / 10;
        while self.state_bytes() > target {
            // The first of the most charged, for the same choice everywhere.
            let Some((at, _)) = self.key_tables().map(KeyTable::bytes).enumerate().fold(
                None,
                |best: Option<(usize, u64)>, (i, b)| match best {
                    Some((_, top)) if top >= b => best,
                    _ => Some((i, b)),
                },
            ) else {
                return;
            };
            if let Some(table) = self.key_tables_mut().nth(at) {
                table.shed();
            }
        }
    }

    fn queue(&mut self, closed: Vec<Finding>) {
        for finding in closed {
            if self.pending.len() >= self.max_pending {
                self.pending.pop_front();
                host::count("dropped_findings", 1);
            }
            self.pending.push_back(finding);
        }
    }

    /// Keys held per detector, for measuring memory per key.
    pub fn keys_held(&self) -> usize {
        self.key_tables().map(KeyTable::len).max().unwrap_or(0)
    }
}

fn event_millis(event: &Event, field: &(impl FieldPath + ?Sized)) -> Option<i64> {
    match event.get(field)? {
        Value::String(text) => time::parse_millis(text),
        // A fraction of a millisecond is dropped; past an i64 it is no time.
        Value::Number(n) => n.as_i64().or_else(|| {
            let millis = n.as_f64()?.trunc();
            (millis.abs() < 9.2e18).then_some(millis as i64)
        }),
        _ => None,
    }
}

/// A key as the detectors keep it: its text, shortened past
/// [`keyed::MAX_KEY_BYTES`] to its start and a hash of the whole.
fn key_of<'e>(event: &'e Event, field: &(impl FieldPath + ?Sized)) -> Option<Cow<'e, str>> {
    Some(match text_of(event, field)? {
        Cow::Borrowed(text) => keyed::stored_key(text),
        Cow::Owned(text) if text.len() <= keyed::MAX_KEY_BYTES => Cow::Owned(text),
        Cow::Owned(text) => Cow::Owned(keyed::stored_key(&text).into_owned()),
    })
}

/// A key or value as text: strings as they are, numbers and booleans printed.
fn text_of<'e>(event: &'e Event, field: &(impl FieldPath + ?Sized)) -> Option<Cow<'e, str>> {
    if let Some(text) = event.get_str(field) {
        return Some(Cow::Borrowed(text));
    }
    match event.get(field)? {
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

fn number_of(event: &Event, field: &(impl FieldPath + ?Sized)) -> Option<f64> {
    match event.get(field)? {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

export_filter!(Anomaly, stateful);

#[cfg(test)]
mod tests;

/// A field of the config spelled one way, one segment bare (`v`) and more in
/// brackets (`[a][b]`): a detector's state is filed under its fields' text,
/// so `v` and `[v]` (one field) must give one text, or a config respelled
/// between restarts would drop what was learned. Findings name it so too.
fn spelled_one_way(reference: &str) -> FieldRef {
    let segments: Vec<&str> = field_ref::segments(reference).collect();
    match segments.as_slice() {
        [one] => FieldRef::new(one),
        many => FieldRef::new(&many.iter().map(|s| format!("[{s}]")).collect::<String>()),
    }
}

/// A part's id as this version files it (see [`spelled_one_way`]): state
/// saved before fields were spelled one way, under `new_value:…:[v]`, is
/// found by a config that says `[v]` or `v`. Ids are the detector, then
/// its fields, joined by `:`.
fn refiled(id: &str) -> String {
    let mut pieces = id.split(':');
    let detector = pieces.next().unwrap_or_default().to_owned();
    std::iter::once(detector)
        .chain(pieces.map(|field| spelled_one_way(field).as_str().to_owned()))
        .collect::<Vec<_>>()
        .join(":")
}
