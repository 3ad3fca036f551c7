//! The queue's bookkeeping where timing decides it, driven step by step.

use std::sync::Arc;
use std::time::Duration;

use super::{Limits, PipelineWorkers};
use crate::engine::{Engine, EngineSettings, FilterModule};
use crate::event_check::CheckedEvent;
use crate::metrics::Metrics;
use crate::serve::budget::{Budget, Share};

fn slow_workers(metrics: &Arc<Metrics>, budget: &Arc<Budget>) -> PipelineWorkers {
    let engine = Engine::new(EngineSettings {
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    // A tenth of a second an event, and stateful: a test can hold its one
    // stage to keep the worker busy for as long as it needs.
    let chaos = std::fs::read(format!(
        "{}/chaos.wasm",
        crate::builtins::build_module_dir()
    ))
    .unwrap();
    let module = FilterModule::load(&engine, "chaos", &chaos, br#"{"slow_ms":100}"#).unwrap();
    let limits = Limits {
        workers: 1,
        queue: 4,
        queue_timeout: Duration::from_secs(30),
        max_events: 100,
        max_bytes: 1 << 20,
    };
    PipelineWorkers::new("p", vec![module], limits, metrics.clone(), budget.clone())
}

/// A client that hangs up after the worker has sent its results, before
/// its request read them: they go with the request's channel, and are
/// counted as abandoned there, as they are when the worker finds the
/// request gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_sent_to_a_request_that_is_then_dropped_are_counted_abandoned() {
    let metrics = Arc::new(Metrics::default());
    let budget = Budget::new(1 << 20);
    let workers = slow_workers(&metrics, &budget);
    let events = vec![CheckedEvent::message("a"), CheckedEvent::message("b")];
    let mut request = Box::pin(workers.run(events, Share::new(&budget)));
    // One poll queues the job and starts the worker; the request then
    // waits for its answer, which the worker sends once it is idle again.
    // Idle is not sent: a worker thread paused between the two (a loaded
    // machine) would find the request gone, a path of its own. Its handle
    // on the desk goes once it has sent.
    assert!(futures_poll_once(request.as_mut()).await.is_none());
    while !workers.is_idle() || Arc::strong_count(&workers.desk) > 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(request);
    let text = metrics.render();
    assert!(
        text.contains(r#"wasmstash_events_total{pipeline="p",outcome="abandoned"} 2"#),
        "{text}"
    );
}

/// A client that hangs up while its request waits in the queue: the
/// request is withdrawn unrun, and counted as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::await_holding_lock,
    reason = "the guard keeps a worker on the blocking pool waiting; no task waits for it"
)]
async fn a_request_withdrawn_from_the_queue_is_counted() {
    let metrics = Arc::new(Metrics::default());
    let budget = Budget::new(1 << 20);
    let workers = slow_workers(&metrics, &budget);
    // chaos is stateful: its one stage is shared, and while this test holds
    // it, the worker cannot finish the first request, however long the
    // test itself takes to queue the second (100 ms of filter time was too
    // little for a loaded machine).
    let [(_, stage)] = workers.shared_stages() else {
        panic!("chaos has one shared stage")
    };
    let held = stage.lock();
    let mut running = Box::pin(workers.run(vec![CheckedEvent::message("a")], Share::new(&budget)));
    assert!(futures_poll_once(running.as_mut()).await.is_none());
    // The worker starts on the blocking pool, which may take a while on a
    // loaded machine: until it has taken the first job, a second one queued
    // now would join it in one batch and be run, not withdrawn.
    while !workers.desk.lock().jobs.is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The one worker is busy with the first: this one queues.
    let mut queued = Box::pin(workers.run(
        vec![CheckedEvent::message("b"), CheckedEvent::message("c")],
        Share::new(&budget),
    ));
    assert!(futures_poll_once(queued.as_mut()).await.is_none());
    drop(queued);
    drop(held);
    assert_eq!(
        running.await.map(|(results, _)| results.len()).ok(),
        Some(1)
    );
    let text = metrics.render();
    assert!(
        text.contains(r#"wasmstash_rejected_total{pipeline="p",reason="client_gone"} 1"#),
        "{text}"
    );
    // Only the first request's event ran.
    assert!(
        text.contains(r#"wasmstash_filter_events_total{pipeline="p",filter="chaos"} 1"#),
        "{text}"
    );
}

/// Polls `future` once: its output if it was ready.
async fn futures_poll_once<F: std::future::Future>(
    future: std::pin::Pin<&mut F>,
) -> Option<F::Output> {
    tokio::time::timeout(Duration::ZERO, future).await.ok()
}
