//! Counters, gauges and latency histograms, rendered in the Prometheus text
//! format for `GET /metrics`.
//!
//! A small hand-rolled registry: the set of series is small and known, and
//! the output format is a few lines of code. Series are kept sorted so the
//! output is stable. An update by name and labels takes the registry's lock
//! and builds the label key; the request path, which updates the same few
//! series tens of thousands of times a second, holds handles instead
//! ([`Counter`], [`Histogram`]): one relaxed atomic add, no lock, no
//! allocation.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::counter_names::CounterNames;

/// Upper bounds (seconds) of the latency histogram buckets.
pub const BUCKETS: [f64; 14] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 1.0,
];

/// Every metric: name, type, help. Unknown names are a bug, caught by a test.
const CATALOGUE: &[(&str, &str, &str)] = &[
    (
        "wasmstash_requests_total",
        "counter",
        "HTTP requests the pipeline endpoints answered, by pipeline, endpoint and status (those refused before, as their bodies arrived or as a web page's, are counted in wasmstash_rejected_total only)",
    ),
    (
        "wasmstash_events_total",
        "counter",
        "Events by pipeline and outcome (in, out, dropped; refused: batch lines that were not events)",
    ),
    (
        "wasmstash_filter_events_total",
        "counter",
        "Events handed to each filter",
    ),
    (
        "wasmstash_failures_total",
        "counter",
        "Events that failed in a filter, by tag and kind",
    ),
    (
        "wasmstash_filter_duration_seconds",
        "histogram",
        "Time of one batch call into a filter",
    ),
    (
        "wasmstash_pipeline_duration_seconds",
        "histogram",
        "Time of one call through a pipeline, waiting for a worker included",
    ),
    (
        "wasmstash_instance_recycles_total",
        "counter",
        "Filter instances discarded after a failure",
    ),
    (
        "wasmstash_instance_memory_bytes",
        "gauge",
        "Linear memory of each filter instance; worker=\"shared\" is a stateful filter's one instance",
    ),
    (
        "wasmstash_request_body_bytes_held",
        "gauge",
        "Memory request bodies and answers not yet written take now, counted against server.max_inflight_body_bytes (answers larger than their bodies may take it past)",
    ),
    (
        "wasmstash_filter_counter_total",
        "counter",
        "Counters reported by filters through metric_add",
    ),
    (
        "wasmstash_rejected_total",
        "counter",
        "Requests refused before running (or withdrawn, reason client_gone), by pipeline and reason, each once (those the pipeline endpoints answered are also in wasmstash_requests_total, by status)",
    ),
    (
        "wasmstash_connections_refused_total",
        "counter",
        "Connections answered 503 unread (or closed) because server.max_connections were open",
    ),
    (
        "wasmstash_connections_cut_total",
        "counter",
        "Connections cut off while an answer was written, by reason (write_timeout: it took nothing; slow_reader: an answer taken slower than server.min_answer_bytes_per_sec)",
    ),
    (
        "wasmstash_state_saves_failed_total",
        "counter",
        "Saves of a pipeline's filter state that did not save all of it, by pipeline and reason (write, not_owner: its state_dir was removed or replaced and another process has owned it since, in_call, snapshot)",
    ),
    (
        "wasmstash_admin_refused_total",
        "counter",
        "Requests refused for a missing or wrong admin token, by endpoint (admin: the admin API; ui: a wrong bearer token at the live view; ui_login: the live view's login)",
    ),
    (
        "wasmstash_reloads_total",
        "counter",
        "Config reloads by result",
    ),
    (
        "wasmstash_ui_work_microseconds_total",
        "counter",
        "Time the live view spent digesting samples and building updates",
    ),
    (
        "wasmstash_ready",
        "gauge",
        "1 once every pipeline is loaded",
    ),
];

/// A series' labels, in the order they were given.
pub type Labels = Vec<(&'static str, String)>;

/// The value of label `key` in `labels`, empty if it has none.
pub fn label<'a>(labels: &'a Labels, key: &str) -> &'a str {
    (labels.iter())
        .find_map(|(k, v)| (*k == key).then_some(v.as_str()))
        .unwrap_or_default()
}

/// A histogram's buckets, each counted on its own (not cumulative), so an
/// observation is one atomic add per field.
#[derive(Default)]
struct Buckets {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Buckets {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(at) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            self.counts[at].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Cumulative counts per bound, the total, and the sum in seconds.
    fn read(&self) -> ([u64; BUCKETS.len()], u64, f64) {
        let mut cumulative = [0; BUCKETS.len()];
        let mut running = 0;
        for (out, count) in cumulative.iter_mut().zip(&self.counts) {
            running += count.load(Ordering::Relaxed);
            *out = running;
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        (cumulative, count, sum)
    }
}

/// A handle on one counter series.
#[derive(Clone)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    #[inline]
    pub fn add(&self, delta: u64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }
}

/// A handle on one histogram series.
#[derive(Clone)]
pub struct Histogram(Arc<Buckets>);

impl Histogram {
    #[inline]
    pub fn observe(&self, elapsed: Duration) {
        self.0.observe(elapsed);
    }
}

type Key = (&'static str, Labels);

#[derive(Default)]
struct Series {
    counters: BTreeMap<Key, Arc<AtomicU64>>,
    gauges: BTreeMap<Key, f64>,
    histograms: BTreeMap<Key, Arc<Buckets>>,
}

/// The registry. Shared behind an `Arc`.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<Series>,
    /// The names of `wasmstash_filter_counter_total` series, per pipeline
    /// and filter, bounded for as long as the running set has the filter
    /// (reloads that keep it included; see [`Metrics::retain_series`]).
    filter_counter_names: Mutex<CounterNames<(String, String)>>,
}

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

impl Metrics {
    /// Adds to a filter's own counter `name` (`metric_add`), if the filter
    /// may have that series (see [`CounterNames`]).
    pub fn add_filter_counter(&self, pipeline: &str, filter: &str, name: &str, delta: u64) {
        let filter_key = (pipeline.to_owned(), filter.to_owned());
        let admitted = (self.filter_counter_names.lock())
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .admit(&filter_key, name);
        if admitted {
            let labels = [("pipeline", pipeline), ("filter", filter), ("name", name)];
            self.add("wasmstash_filter_counter_total", &labels, delta);
        }
    }

    /// Adds `delta` to a counter, which stops at `u64::MAX` rather than
    /// wrap: a counter only rises, and a filter may add up to `i64::MAX`
    /// per call (`metric_add`).
    pub fn add(&self, name: &'static str, pairs: &[(&'static str, &str)], delta: u64) {
        if delta > 0 {
            let mut series = self.lock();
            let count = series.counters.entry((name, labels(pairs))).or_default();
            let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(delta))
            });
        }
    }

    /// A handle on counter `name` with `pairs`; the series shows (at 0)
    /// from now on.
    pub fn counter_handle(&self, name: &'static str, pairs: &[(&'static str, &str)]) -> Counter {
        let mut series = self.lock();
        Counter(
            series
                .counters
                .entry((name, labels(pairs)))
                .or_default()
                .clone(),
        )
    }

    /// A handle on histogram `name` with `pairs`.
    pub fn histogram_handle(
        &self,
        name: &'static str,
        pairs: &[(&'static str, &str)],
    ) -> Histogram {
        let mut series = self.lock();
        Histogram(
            series
                .histograms
                .entry((name, labels(pairs)))
                .or_default()
                .clone(),
        )
    }

    pub fn set(&self, name: &'static str, pairs: &[(&'static str, &str)], value: f64) {
        self.lock().gauges.insert((name, labels(pairs)), value);
    }

    /// Drops the series of gauge `name` that `keep` refuses: a gauge that
    /// describes something gone (an instance a reload replaced) would go on
    /// reporting its last value.
    pub fn retain_gauges(&self, name: &'static str, keep: impl Fn(&Labels) -> bool) {
        self.lock()
            .gauges
            .retain(|(series, labels), _| *series != name || keep(labels));
    }

    /// Drops every series, of every kind, that `keep` refuses, and the
    /// counter names admitted for filters it refuses (asked with their
    /// `pipeline` and `filter` labels): for names a reload took away, which
    /// would otherwise be kept, read and sent to the live view for the
    /// process's life. No handle may be held on a series dropped: counts
    /// added through it would be lost.
    pub fn retain_series(&self, keep: impl Fn(&Labels) -> bool) {
        let mut series = self.lock();
        series.counters.retain(|(_, labels), _| keep(labels));
        series.gauges.retain(|(_, labels), _| keep(labels));
        series.histograms.retain(|(_, labels), _| keep(labels));
        drop(series);
        (self.filter_counter_names.lock())
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|(pipeline, filter)| {
                keep(&vec![
                    ("pipeline", pipeline.clone()),
                    ("filter", filter.clone()),
                ])
            });
    }

    pub fn observe(&self, name: &'static str, pairs: &[(&'static str, &str)], elapsed: Duration) {
        self.lock()
            .histograms
            .entry((name, labels(pairs)))
            .or_default()
            .observe(elapsed);
    }

    /// The value of one counter (0 if never touched), for tests and summaries.
    pub fn counter(&self, name: &'static str, pairs: &[(&'static str, &str)]) -> u64 {
        self.lock()
            .counters
            .get(&(name, labels(pairs)))
            .map_or(0, |value| value.load(Ordering::Relaxed))
    }

    /// Every series of counter `name`: labels and value. One lock, for the
    /// live view's once-a-second reading.
    pub fn counters_named(&self, name: &'static str) -> Vec<(Labels, u64)> {
        let series = self.lock();
        series
            .counters
            .range((name, Vec::new())..)
            .take_while(|((n, _), _)| *n == name)
            .map(|((_, labels), value)| (labels.clone(), value.load(Ordering::Relaxed)))
            .collect()
    }

    /// Every series of gauge `name`.
    pub fn gauges_named(&self, name: &'static str) -> Vec<(Labels, f64)> {
        let series = self.lock();
        series
            .gauges
            .range((name, Vec::new())..)
            .take_while(|((n, _), _)| *n == name)
            .map(|((_, labels), value)| (labels.clone(), *value))
            .collect()
    }

    /// Every series of histogram `name`: labels and cumulative bucket counts
    /// (one per [`BUCKETS`] bound, then the total).
    pub fn histograms_named(&self, name: &'static str) -> Vec<(Labels, Vec<u64>)> {
        let series = self.lock();
        series
            .histograms
            .range((name, Vec::new())..)
            .take_while(|((n, _), _)| *n == name)
            .map(|((_, labels), buckets)| {
                let (cumulative, count, _) = buckets.read();
                let mut counts = cumulative.to_vec();
                counts.push(count);
                (labels.clone(), counts)
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Series> {
        // A panic while holding the lock cannot leave a counter half-written.
        self.series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let series = self.lock();
        let mut out = String::new();
        for (name, kind, help) in CATALOGUE {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((_, labels), value) in series
                .counters
                .range((*name, Vec::new())..)
                .take_while(|((n, _), _)| n == name)
            {
                let value = value.load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}{} {value}", render_labels(labels, None));
            }
            for ((_, labels), value) in series
                .gauges
                .range((*name, Vec::new())..)
                .take_while(|((n, _), _)| n == name)
            {
                let _ = writeln!(out, "{name}{} {value}", render_labels(labels, None));
            }
            let histograms = series
                .histograms
                .range((*name, Vec::new())..)
                .take_while(|((n, _), _)| n == name);
            for ((_, labels), buckets) in histograms {
                let (cumulative, total, sum) = buckets.read();
                for (count, bound) in cumulative.iter().zip(BUCKETS) {
                    let le = bound.to_string();
                    let _ = writeln!(
                        out,
                        "{name}_bucket{} {count}",
                        render_labels(labels, Some(&le))
                    );
                }
                let all = render_labels(labels, Some("+Inf"));
                let plain = render_labels(labels, None);
                let _ = writeln!(out, "{name}_bucket{all} {total}");
                let _ = writeln!(out, "{name}_sum{plain} {sum}");
                let _ = writeln!(out, "{name}_count{plain} {total}");
            }
        }
        out
    }
}

fn render_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table of series is the operator's list: it names every
    /// series the sidecar exports, and none it does not.
    #[test]
    fn the_readme_lists_every_series() {
        let readme = include_str!("../../README.md");
        let listed: Vec<&str> = (readme.lines())
            .filter_map(|line| line.strip_prefix("| `wasmstash_"))
            .filter_map(|rest| rest.split_once('`').map(|(name, _)| name))
            .collect();
        let exported: Vec<&str> = (CATALOGUE.iter())
            .map(|(name, ..)| name.strip_prefix("wasmstash_").unwrap())
            .collect();
        assert_eq!(listed, exported);
    }

    #[test]
    fn a_counter_stops_at_its_largest_value_instead_of_wrapping() {
        let metrics = Metrics::default();
        let labels = [("pipeline", "p"), ("filter", "f"), ("name", "big")];
        for _ in 0..3 {
            metrics.add_filter_counter("p", "f", "big", i64::MAX as u64);
        }
        let count = metrics.counter("wasmstash_filter_counter_total", &labels);
        assert_eq!(count, u64::MAX);
    }

    /// A filter a reload removed is forgotten whole: its series, and the
    /// counter names it had used up, so that the running set bounds both.
    #[test]
    fn retained_series_leave_nothing_of_a_filter_behind() {
        let metrics = Metrics::default();
        for i in 0..=crate::engine::counter_names::MAX_COUNTER_NAMES {
            metrics.add_filter_counter("p", "gone", &format!("n{i}"), 1);
        }
        metrics.add_filter_counter("p", "kept", "n", 1);
        metrics.observe(
            "wasmstash_filter_duration_seconds",
            &[("pipeline", "p"), ("filter", "gone")],
            Duration::from_millis(1),
        );
        metrics.add("wasmstash_reloads_total", &[("result", "ok")], 1);
        metrics.retain_series(|labels| label(labels, "filter") != "gone");
        let text = metrics.render();
        assert!(!text.contains(r#"filter="gone""#), "{text}");
        assert!(text.contains(r#"filter="kept",name="n"} 1"#), "{text}");
        assert!(
            text.contains(r#"wasmstash_reloads_total{result="ok"} 1"#),
            "{text}"
        );
        // Its names no longer count against it, were it to come back.
        metrics.add_filter_counter("p", "gone", "fresh", 1);
        let fresh = [("pipeline", "p"), ("filter", "gone"), ("name", "fresh")];
        assert_eq!(metrics.counter("wasmstash_filter_counter_total", &fresh), 1);
    }

    #[test]
    fn renders_counters_gauges_and_histograms() {
        let metrics = Metrics::default();
        metrics.add(
            "wasmstash_events_total",
            &[("pipeline", "a\"b"), ("outcome", "in")],
            3,
        );
        metrics.set("wasmstash_ready", &[], 1.0);
        metrics.observe(
            "wasmstash_filter_duration_seconds",
            &[("filter", "json")],
            Duration::from_micros(300),
        );
        let text = metrics.render();
        assert!(
            text.contains("wasmstash_events_total{pipeline=\"a\\\"b\",outcome=\"in\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("wasmstash_ready 1\n"), "{text}");
        assert!(text.contains(
            "wasmstash_filter_duration_seconds_bucket{filter=\"json\",le=\"0.00025\"} 0\n"
        ));
        assert!(text.contains(
            "wasmstash_filter_duration_seconds_bucket{filter=\"json\",le=\"0.0005\"} 1\n"
        ));
        assert!(text.contains("wasmstash_filter_duration_seconds_count{filter=\"json\"} 1\n"));
        assert_eq!(
            metrics.counter(
                "wasmstash_events_total",
                &[("pipeline", "a\"b"), ("outcome", "in")]
            ),
            3
        );
    }

    #[test]
    fn handles_update_the_same_series_as_updates_by_name() {
        let metrics = Metrics::default();
        let labels = [("pipeline", "p"), ("outcome", "in")];
        let counter = metrics.counter_handle("wasmstash_events_total", &labels);
        counter.add(2);
        metrics.add("wasmstash_events_total", &labels, 3);
        assert_eq!(metrics.counter("wasmstash_events_total", &labels), 5);

        let name = "wasmstash_pipeline_duration_seconds";
        let histogram = metrics.histogram_handle(name, &[("pipeline", "p")]);
        histogram.observe(Duration::from_micros(30));
        metrics.observe(name, &[("pipeline", "p")], Duration::from_secs(2));
        let (_, counts) = metrics.histograms_named(name).pop().unwrap();
        // 30 µs is under every bound from 50 µs up; 2 s only under +Inf.
        assert_eq!(counts[1], 0);
        assert_eq!(counts[2], 1);
        assert_eq!(counts[BUCKETS.len() - 1], 1);
        assert_eq!(counts[BUCKETS.len()], 2);
        let text = metrics.render();
        assert!(
            text.contains("wasmstash_pipeline_duration_seconds_sum{pipeline=\"p\"} 2.00003\n"),
            "{text}"
        );
    }
}
