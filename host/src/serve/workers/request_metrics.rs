//! The metric series a pipeline's requests update, looked up once when its
//! workers are made: the request path then only adds to handles, without
//! locking the registry or building label keys.

use crate::metrics::{Counter, Histogram, Metrics};

/// Handles on the series that every request of a pipeline updates, so the
/// request path neither locks the registry nor builds label keys.
pub struct RequestMetrics {
    pub events_in: Counter,
    pub events_out: Counter,
    pub events_dropped: Counter,
    /// Lines of batches that were not valid events (`outcome="refused"`):
    /// answered with an error line, and not run.
    pub lines_refused: Counter,
    /// `wasmstash_pipeline_duration_seconds`, waiting included.
    pub duration: Histogram,
    /// `wasmstash_requests_total` with status 200, per endpoint.
    pub ok_event: Counter,
    pub ok_batch: Counter,
}

impl RequestMetrics {
    pub(super) fn new(metrics: &Metrics, pipeline: &str) -> RequestMetrics {
        let events = |outcome| {
            metrics.counter_handle(
                "wasmstash_events_total",
                &[("pipeline", pipeline), ("outcome", outcome)],
            )
        };
        let ok = |endpoint| {
            metrics.counter_handle(
                "wasmstash_requests_total",
                &[
                    ("pipeline", pipeline),
                    ("endpoint", endpoint),
                    ("status", "200"),
                ],
            )
        };
        RequestMetrics {
            events_in: events("in"),
            events_out: events("out"),
            events_dropped: events("dropped"),
            lines_refused: events("refused"),
            duration: metrics.histogram_handle(
                "wasmstash_pipeline_duration_seconds",
                &[("pipeline", pipeline)],
            ),
            ok_event: ok("event"),
            ok_batch: ok("batch"),
        }
    }
}
