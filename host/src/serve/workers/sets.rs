//! What is done across the pipelines of a set rather than within one:
//! waiting for them to go idle, and, once a reload has replaced some,
//! forgetting the metrics of what no pipeline runs any more.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::PipelineWorkers;
use crate::metrics::{Metrics, label};

/// Waits until each of `pipelines` has nothing queued or running, or
/// `limit` passes; returns the names of those still busy then.
pub(crate) async fn wait_idle<'a>(
    pipelines: impl Iterator<Item = (&'a String, &'a PipelineWorkers)> + Clone,
    limit: Duration,
) -> Vec<&'a String> {
    let started = std::time::Instant::now();
    loop {
        let busy: Vec<&String> = (pipelines.clone())
            .filter(|(_, workers)| !workers.is_idle())
            .map(|(name, _)| name)
            .collect();
        if busy.is_empty() || started.elapsed() >= limit {
            return busy;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Drops the series of what `live` does not run. The memory gauges of
/// instances gone (a removed pipeline or filter, or a worker fewer) would
/// go on reporting memory that nothing holds; every series of a pipeline or
/// filter a reload removed would be kept for the process's life, so that a
/// config renaming its pipelines grew the registry, and the live view's
/// reading of it, with every reload. The sidecar's own names (`_unknown`,
/// `_before_routing`) stay. Call it with no other set being made, whose
/// handles could be on a series of a name it brings back.
pub(crate) fn forget_what_is_not_in(
    metrics: &Metrics,
    live: &BTreeMap<String, Arc<PipelineWorkers>>,
) {
    metrics.retain_gauges("wasmstash_instance_memory_bytes", |labels| {
        let (pipeline, filter, worker) = (
            label(labels, "pipeline"),
            label(labels, "filter"),
            label(labels, "worker"),
        );
        (live.get(pipeline)).is_some_and(|w| w.runs_instance(filter, worker))
    });
    metrics.retain_series(|labels| {
        let (pipeline, filter) = (label(labels, "pipeline"), label(labels, "filter"));
        if pipeline.is_empty() || pipeline.starts_with('_') {
            return true;
        }
        live.get(pipeline).is_some_and(|workers| {
            filter.is_empty() || (workers.modules().iter()).any(|module| module.name() == filter)
        })
    });
}
