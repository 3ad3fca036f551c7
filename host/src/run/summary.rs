//! What `wasmstash run` prints on stderr when it ends: events in and out,
//! failures by tag and by kind, the filters' own counters, and what reading
//! the input noticed. Kept apart from the run itself, which only fills it.

use std::collections::BTreeMap;
use std::time::Duration;

use wasmstash_sdk::Event;

use crate::config::shown_name;
use crate::engine::counter_names::CounterNames;
use crate::engine::printable_name;
use crate::input::InputNotes;

/// What a run did, as printed on stderr.
#[derive(Debug, Default)]
pub struct Summary {
    pub pipeline: String,
    pub events_in: u64,
    pub events_out: u64,
    pub dropped: u64,
    /// Output events per failure tag, and failure records per kind.
    pub failures: FailureCounts,
    /// The filters' own counters (`metric_add`), by filter and name.
    pub filter_counters: BTreeMap<(String, String), i64>,
    /// The counter names admitted per filter, bounded over the run.
    counter_names: CounterNames<String>,
    pub elapsed: Duration,
    /// What reading the input found that its events do not say.
    pub input_notes: InputNotes,
    /// Whether the input's format was guessed (`--format auto`).
    pub format_guessed: bool,
}

impl Summary {
    pub(super) fn new(pipeline: &str, format_guessed: bool) -> Summary {
        Summary {
            pipeline: pipeline.to_owned(),
            format_guessed,
            ..Summary::default()
        }
    }

    /// Adds a filter's counter, if the filter may have that name.
    pub(super) fn count(&mut self, filter: String, name: String, delta: i64) {
        if self.counter_names.admit(&filter, &name) {
            let count = self.filter_counters.entry((filter, name)).or_default();
            *count = count.saturating_add(delta);
        }
    }
}

/// Filter counters the summary line names; the rest are counted as a number.
const COUNTERS_SHOWN: usize = 12;

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            self.events_in as f64 / seconds
        } else {
            0.0
        };
        let events = if self.events_in == 1 {
            "event"
        } else {
            "events"
        };
        write!(
            f,
            "pipeline `{}`: {} {events} in, {} out, {} dropped in {:.2} s ({:.0} events/s)",
            self.pipeline, self.events_in, self.events_out, self.dropped, seconds, rate
        )?;
        write!(f, "; {}", self.failures)?;
        if !self.filter_counters.is_empty() {
            let mut counters: Vec<String> = (self.filter_counters.iter())
                .take(COUNTERS_SHOWN)
                // The counter's name is escaped where the module gave it;
                // the filter's is the config's, escaped here.
                .map(|((filter, name), n)| format!("{}.{name} {n}", shown_name(filter)))
                .collect();
            if let Some(more) = self.filter_counters.len().checked_sub(COUNTERS_SHOWN)
                && more > 0
            {
                counters.push(format!("and {more} more"));
            }
            write!(f, "; counted: {}", counters.join(", "))?;
        }
        let InputNotes { not_utf8, not_json } = self.input_notes;
        if not_utf8 > 0 {
            let lines = if not_utf8 == 1 {
                "line was"
            } else {
                "lines were"
            };
            write!(
                f,
                "; {not_utf8} {lines} not UTF-8: invalid bytes became U+FFFD (Logstash's \
                 line codec would write them as `\\xE9`)"
            )?;
        }
        if not_json > 0 && self.format_guessed {
            let lines = if not_json == 1 {
                "line was"
            } else {
                "lines were"
            };
            write!(
                f,
                "; {not_json} {lines} no JSON event wasmstash takes (each one's text was \
                 kept, tagged _jsonparsefailure with the reason), in input read as NDJSON \
                 because its first line is a JSON object (--format lines reads every line as \
                 text)"
            )?;
        }
        Ok(())
    }
}

/// What the output says failed: events per failure tag (tags starting
/// with `_`), and failure records (`[wasmstash][failures]`) per kind, which
/// tell a trap from a full memory, a deadline from an event left unrun.
///
/// Both names come from the events, which the input may have chosen: they
/// are kept escaped and cut as a module's names are ([`printable_name`]),
/// and at most [`NAMES_KEPT`] of each, so that neither a line break in a
/// tag nor a million distinct tags reach the summary line.
#[derive(Debug, Default)]
pub struct FailureCounts {
    tags: Tally,
    kinds: Tally,
}

/// Distinct tags, and distinct kinds, a run's summary names.
const NAMES_KEPT: usize = 64;

/// Counts per name, for at most [`NAMES_KEPT`] names: the first in sorted
/// order, so that which are named does not depend on how the events were
/// split among workers. What the other names counted is added up.
#[derive(Debug, Default)]
struct Tally {
    counts: BTreeMap<String, u64>,
    others: u64,
}

impl Tally {
    fn add(&mut self, name: String, count: u64) {
        *self.counts.entry(name).or_default() += count;
        if self.counts.len() > NAMES_KEPT
            && let Some((_, count)) = self.counts.pop_last()
        {
            self.others += count;
        }
    }

    fn merge(&mut self, other: Tally) {
        self.others += other.others;
        for (name, count) in other.counts {
            self.add(name, count);
        }
    }

    fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.others == 0
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut listed: Vec<String> = (self.counts.iter())
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        if self.others > 0 {
            listed.push(format!("others {}", self.others));
        }
        write!(f, "{}", listed.join(", "))
    }
}

impl FailureCounts {
    pub(super) fn count(&mut self, event: &[u8]) {
        // Only events that may hold tags or failure records are parsed at
        // all: those that mention either, and those with a `\u` escape,
        // which a key written as `"t\u0061gs"` needs. A later filter may
        // have taken the tag away and left the record.
        let mentions = |key: &[u8]| memchr::memmem::find(event, key).is_some();
        if !mentions(b"\"tags\"") && !mentions(b"\"wasmstash\"") && !mentions(b"\\u") {
            return;
        }
        let Ok(parsed) = Event::parse(event) else {
            return;
        };
        // Events per tag: a tag an event holds twice counts once (two tags
        // that are the same once cut, too).
        let tags: std::collections::BTreeSet<String> = (parsed.tags().into_iter())
            .filter(|t| crate::is_failure_tag(t))
            .map(printable_name)
            .collect();
        for tag in tags {
            self.tags.add(tag, 1);
        }
        // The event parsed once: only its `wasmstash` member is read here.
        let records = parsed
            .get("[wasmstash][failures]")
            .and_then(|f| f.as_array());
        for kind in (records.into_iter().flatten()).filter_map(|record| record["kind"].as_str()) {
            self.kinds.add(printable_name(kind), 1);
        }
    }

    pub(super) fn add(&mut self, other: FailureCounts) {
        self.tags.merge(other.tags);
        self.kinds.merge(other.kinds);
    }
}

impl std::fmt::Display for FailureCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.tags.is_empty() {
            parts.push(format!("tagged: {}", self.tags));
        }
        if !self.kinds.is_empty() {
            parts.push(format!("failure records by kind: {}", self.kinds));
        }
        if parts.is_empty() {
            write!(f, "no failures")
        } else {
            write!(f, "{}", parts.join("; "))
        }
    }
}
