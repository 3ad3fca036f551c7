//! Time series for the live view's charts, read from the Prometheus registry
//! once per tick: events/s from counter deltas, p50/p99 from histogram bucket
//! deltas (interpolated inside a bucket, as Prometheus' `histogram_quantile`
//! does). The request path pays nothing extra for them.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use serde_json::{Value, json};

use crate::metrics::{BUCKETS, Labels, Metrics, label};

/// Points kept: 5 minutes at the default one update a second.
const KEEP: usize = 300;

/// The counters and histograms one point is computed from.
#[derive(Default)]
struct Reading {
    pipeline_events: BTreeMap<String, u64>,
    pipeline_latency: BTreeMap<String, Vec<u64>>,
    filter_events: BTreeMap<String, u64>,
    filter_latency: BTreeMap<String, Vec<u64>>,
}

impl Reading {
    fn take(metrics: &Metrics) -> Reading {
        let mut reading = Reading::default();
        for (labels, value) in metrics.counters_named("wasmstash_events_total") {
            if label(&labels, "outcome") == "in" {
                reading
                    .pipeline_events
                    .insert(label(&labels, "pipeline").to_owned(), value);
            }
        }
        for (labels, counts) in metrics.histograms_named("wasmstash_pipeline_duration_seconds") {
            reading
                .pipeline_latency
                .insert(label(&labels, "pipeline").to_owned(), counts);
        }
        for (labels, value) in metrics.counters_named("wasmstash_filter_events_total") {
            reading.filter_events.insert(filter_key(&labels), value);
        }
        for (labels, counts) in metrics.histograms_named("wasmstash_filter_duration_seconds") {
            reading.filter_latency.insert(filter_key(&labels), counts);
        }
        reading
    }
}

/// `pipeline/filter`, the key of a filter's series.
fn filter_key(labels: &Labels) -> String {
    format!("{}/{}", label(labels, "pipeline"), label(labels, "filter"))
}

pub struct Series {
    last: Reading,
    last_at: Instant,
    points: VecDeque<Value>,
}

impl Series {
    pub fn new(metrics: &Metrics) -> Series {
        Series {
            last: Reading::take(metrics),
            last_at: Instant::now(),
            points: VecDeque::new(),
        }
    }

    /// Reads the registry and appends one point: per pipeline and per filter,
    /// `[events/s, p50 ms, p99 ms, events so far]` (latencies null without
    /// calls).
    pub fn tick(&mut self, metrics: &Metrics, unix_ms: u64) -> &Value {
        let now = Reading::take(metrics);
        let seconds = self.last_at.elapsed().as_secs_f64().max(1e-3);
        let point = json!({
            "t": unix_ms,
            "pipelines": rates(&now.pipeline_events, &self.last.pipeline_events,
                &now.pipeline_latency, &self.last.pipeline_latency, seconds),
            "filters": rates(&now.filter_events, &self.last.filter_events,
                &now.filter_latency, &self.last.filter_latency, seconds),
        });
        self.last = now;
        self.last_at = Instant::now();
        if self.points.len() == KEEP {
            self.points.pop_front();
        }
        self.points.push_back(point);
        self.points.back().expect("just pushed")
    }

    pub fn history(&self) -> Vec<&Value> {
        self.points.iter().collect()
    }
}

fn rates(
    events: &BTreeMap<String, u64>,
    events_before: &BTreeMap<String, u64>,
    latency: &BTreeMap<String, Vec<u64>>,
    latency_before: &BTreeMap<String, Vec<u64>>,
    seconds: f64,
) -> Value {
    let mut out = serde_json::Map::new();
    for (key, &count) in events {
        // A counter read before its first update is absent: count from 0. A
        // reload keeps the series of the names it keeps; one it removed is
        // dropped, and if a later reload brings the name back it starts again
        // at 0, which the saturating delta reads as no events, not a negative
        // rate.
        let delta = count.saturating_sub(events_before.get(key).copied().unwrap_or(0));
        let buckets = latency.get(key).map(|now| {
            let before = latency_before.get(key);
            now.iter()
                .enumerate()
                .map(|(i, &c)| c.saturating_sub(before.map_or(0, |b| b[i])))
                .collect::<Vec<u64>>()
        });
        let quantile = |q| buckets.as_deref().and_then(|b| quantile_ms(b, q));
        let eps = (delta as f64 / seconds * 10.0).round() / 10.0;
        out.insert(
            key.clone(),
            json!([eps, quantile(0.5), quantile(0.99), count]),
        );
    }
    Value::Object(out)
}

/// The `q` quantile in milliseconds from cumulative bucket counts (one per
/// [`BUCKETS`] bound, then the total); `None` without observations.
pub fn quantile_ms(cumulative: &[u64], q: f64) -> Option<f64> {
    let total = *cumulative.last()?;
    if total == 0 {
        return None;
    }
    let target = q * total as f64;
    let mut below = 0u64;
    for (i, &bound) in BUCKETS.iter().enumerate() {
        let count = cumulative[i];
        if count as f64 >= target {
            let lower = if i == 0 { 0.0 } else { BUCKETS[i - 1] };
            let within = (count - below).max(1) as f64;
            let seconds = lower + (bound - lower) * ((target - below as f64) / within).max(0.0);
            return Some((seconds * 1e6).round() / 1e3);
        }
        below = count;
    }
    // Beyond the last bound: report the bound, the most that is known.
    Some(BUCKETS[BUCKETS.len() - 1] * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn quantiles_interpolate_within_a_bucket() {
        let metrics = Metrics::default();
        let labels = [("pipeline", "p")];
        // 100 calls: 98 of 0.2 ms (bucket 0.1..0.25 ms), 2 of 20 ms.
        for _ in 0..98 {
            metrics.observe(
                "wasmstash_pipeline_duration_seconds",
                &labels,
                Duration::from_micros(200),
            );
        }
        for _ in 0..2 {
            metrics.observe(
                "wasmstash_pipeline_duration_seconds",
                &labels,
                Duration::from_millis(20),
            );
        }
        let (_, counts) = metrics
            .histograms_named("wasmstash_pipeline_duration_seconds")
            .remove(0);
        let p50 = quantile_ms(&counts, 0.5).unwrap();
        assert!((0.1..=0.25).contains(&p50), "{p50}");
        let p99 = quantile_ms(&counts, 0.99).unwrap();
        assert!((10.0..=25.0).contains(&p99), "{p99}");
        assert_eq!(quantile_ms(&vec![0; BUCKETS.len() + 1], 0.5), None);
    }

    #[test]
    fn a_point_holds_rates_per_pipeline_and_filter() {
        let metrics = Metrics::default();
        let mut series = Series::new(&metrics);
        metrics.add(
            "wasmstash_events_total",
            &[("pipeline", "app"), ("outcome", "in")],
            500,
        );
        metrics.add(
            "wasmstash_filter_events_total",
            &[("pipeline", "app"), ("filter", "json")],
            500,
        );
        let point = series.tick(&metrics, 1).clone();
        assert!(point["pipelines"]["app"][0].as_f64().unwrap() > 0.0);
        assert!(point["filters"]["app/json"][0].as_f64().unwrap() > 0.0);
        assert_eq!(point["filters"]["app/json"][1], Value::Null);
        let point = series.tick(&metrics, 2).clone();
        assert_eq!(point["pipelines"]["app"][0], 0.0);
        assert_eq!(series.history().len(), 2);
    }
}
