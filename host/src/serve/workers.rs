//! The workers of one pipeline: a fixed set of pipeline instances that drain
//! one bounded queue of requests, running what is queued together.
//!
//! Why coalesce: a single-event request costs far more in thread hand-offs
//! (wake a blocking thread, wake the reactor back) and per-call overhead than
//! in WebAssembly. So a request does not borrow a worker for itself; it queues
//! its events with a reply channel. A worker takes everything queued (up to a
//! batch's limits), runs it as one batch through `Pipeline::process`, hands
//! each request back exactly its own slice of the results, in order, and keeps
//! going while work is queued. Under load a worker's blocking thread never
//! sleeps between calls, and N concurrent requests cost one call, not N.
//!
//! Each worker owns its own instances of stateless filters, so those calls
//! never share wasm state and need no locking. A stateful filter's stage is
//! shared by all workers behind a lock (see `pipeline::PipelineStage`), so
//! every worker's events update the same baselines; coalescing does not change
//! that each event goes through it exactly once. WebAssembly runs on tokio's
//! blocking pool, never on the reactor threads. A request that finds every
//! worker busy waits in a queue of bounded length for a bounded time; past
//! either bound it is refused with a status that tells the client to retry.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

mod request_metrics;
mod sets;

use super::budget::{Budget, Share};
use crate::engine::FilterModule;
use crate::event_check::CheckedEvent;
use crate::metrics::{Counter, Metrics};
use crate::pipeline::{EventResult, Pipeline, SHARED_WORKER, SharedStage};
pub use request_metrics::RequestMetrics;
pub(crate) use sets::{forget_what_is_not_in, wait_idle};

/// A call grows by taking further queued requests only up to this many
/// events. Coalescing pays for small requests, whose cost is mostly per call;
/// requests of a hundred events or more already amortise that, and merging
/// them would only let one worker take work that an idle one could run in
/// parallel.
const COALESCE_EVENTS: usize = 128;

/// Why a call did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// Every worker is busy and the queue is full (429).
    QueueFull,
    /// Waited `queue_timeout` without a worker taking the request (503).
    QueueTimeout,
    /// The worker thread panicked: a bug in the host, reported as a 500 so
    /// the client keeps (and tags) its events.
    WorkerPanicked,
    /// A reload replaced this pipeline as the request reached it, and its
    /// filter state is being handed to the new one (503); sent again, the
    /// request reaches the new pipeline.
    Replaced,
    /// The sidecar is saving its filters' state to stop (503): run after
    /// the save, what the events taught them would be lost.
    ShuttingDown,
}

/// How a pipeline's workers are sized and bounded (from `[server]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Workers, each with its own instances; calls at once.
    pub workers: usize,
    /// Requests that may wait while every worker is busy; beyond it, 429.
    pub queue: usize,
    /// Longest a request waits for a worker to take it; then 503.
    pub queue_timeout: Duration,
    /// A coalesced call takes queued requests only while it stays within
    /// what one request may bring (`max_batch_events`, `max_body_bytes`, and
    /// `COALESCE_EVENTS`), so a merged call is never larger than the largest
    /// allowed single call.
    pub max_events: usize,
    pub max_bytes: usize,
}

pub struct PipelineWorkers {
    modules: Vec<FilterModule>,
    /// The stateful stages every worker shares, for snapshots.
    shared: Vec<(usize, Arc<SharedStage>)>,
    /// Shared with the blocking tasks, which put their worker back
    /// themselves: if a request is cancelled (the client hung up) while
    /// WebAssembly runs, the worker still comes back when the call ends.
    /// Also where the pipeline's name and limits are kept.
    desk: Arc<Desk>,
    metrics: Arc<Metrics>,
    request_metrics: RequestMetrics,
}

/// The queue and the idle workers, behind one lock. Holding both under the
/// same lock is what rules out a lost wakeup: a request that queues while no
/// worker is idle is seen by the busy worker's next look at the queue, and a
/// worker goes idle only in the same critical section in which it found the
/// queue empty.
struct Desk {
    name: String,
    limits: Limits,
    state: Mutex<DeskState>,
    /// `wasmstash_events_total{outcome="abandoned"}`: events run for a
    /// client that hung up after a worker took them, whose results went
    /// nowhere (the request counters see no answer for them).
    events_abandoned: Counter,
    /// `wasmstash_rejected_total{reason="client_gone"}`: requests withdrawn
    /// from the queue unrun because their client hung up first.
    withdrawn: Counter,
    /// The requests' memory budget: a worker resizes each request's share
    /// to its results, and takes no new call while results are held
    /// beyond it.
    budget: Arc<Budget>,
}

struct DeskState {
    jobs: VecDeque<Job>,
    idle: Vec<Pipeline>,
    next_id: u64,
    /// Requests queue but no worker starts: the pipeline waits for the
    /// filter state of the one it replaces (see [`PipelineWorkers::pause`]).
    paused: bool,
    /// Requests are refused, and why: a reload replaced this pipeline, or
    /// the sidecar is stopping.
    retired: Option<Rejected>,
}

/// One request's events, waiting for a worker, and the request's share of
/// the memory budget, which goes with the events and then their results.
struct Job {
    id: u64,
    events: Vec<CheckedEvent>,
    bytes: usize,
    share: Share,
    reply: Reply,
}

/// A request's results and its share, resized to them.
pub type Done = (Vec<EventResult>, Share);

type Reply = oneshot::Sender<Delivery>;

/// A job's answer on its way back. Results nobody takes (the client hung
/// up before the worker sent them, or after, with them still in the
/// channel) are counted as abandoned when they go, wherever that is.
struct Delivery {
    answer: Option<Result<Done, Rejected>>,
    abandoned: Counter,
}

impl Delivery {
    fn take(mut self) -> Result<Done, Rejected> {
        self.answer.take().expect("a delivery is taken once")
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(Ok((results, _share))) = &self.answer {
            self.abandoned.add(results.len() as u64);
        }
    }
}

/// A job's reply channel with what to send on it.
type Answer = (Reply, Result<Done, Rejected>);

impl PipelineWorkers {
    pub fn new(
        name: &str,
        modules: Vec<FilterModule>,
        limits: Limits,
        metrics: Arc<Metrics>,
        budget: Arc<Budget>,
    ) -> PipelineWorkers {
        let size = limits.workers.max(1);
        let mut first = Pipeline::new(name, modules.clone()).with_metrics(metrics.clone(), 0);
        let shared = first.shared_stages();
        let mut idle: Vec<Pipeline> = (1..size)
            .map(|worker| first.sibling().with_metrics(metrics.clone(), worker))
            .collect();
        idle.push(first);
        let desk = Desk {
            name: name.to_owned(),
            limits: Limits {
                workers: size,
                ..limits
            },
            state: Mutex::new(DeskState {
                jobs: VecDeque::new(),
                idle,
                next_id: 0,
                paused: false,
                retired: None,
            }),
            events_abandoned: metrics.counter_handle(
                "wasmstash_events_total",
                &[("pipeline", name), ("outcome", "abandoned")],
            ),
            withdrawn: metrics.counter_handle(
                "wasmstash_rejected_total",
                &[("pipeline", name), ("reason", "client_gone")],
            ),
            budget,
        };
        PipelineWorkers {
            modules,
            shared,
            desk: Arc::new(desk),
            request_metrics: RequestMetrics::new(&metrics, name),
            metrics,
        }
    }

    pub fn name(&self) -> &str {
        &self.desk.name
    }

    pub fn modules(&self) -> &[FilterModule] {
        &self.modules
    }

    pub fn size(&self) -> usize {
        self.desk.limits.workers
    }

    /// The names of its stateful filters, read from the modules: unlike the
    /// stages, never held by a call (one may not end with the deadline off).
    pub fn stateful_names(&self) -> impl Iterator<Item = &str> {
        (self.modules.iter())
            .filter(|module| module.is_stateful())
            .map(|module| module.name())
    }

    /// Whether this pipeline runs the instance that an instance-memory
    /// gauge labelled `filter` and `worker` describes: a stateful filter's
    /// one instance is the [`SHARED_WORKER`]'s, any other filter's one per
    /// worker number.
    pub fn runs_instance(&self, filter: &str, worker: &str) -> bool {
        self.modules.iter().any(|module| {
            module.name() == filter
                && if module.is_stateful() {
                    worker == SHARED_WORKER
                } else {
                    worker.parse::<usize>().is_ok_and(|n| n < self.size())
                }
        })
    }

    /// Makes every worker's instances now, before the set is served: a
    /// sidecar that cannot hold them all (see [`Pipeline::start_instances`])
    /// is refused at start, and such a reload is refused as a broken config
    /// is, rather than serving a set that answers every event failed.
    pub fn start_instances(&self) -> Result<(), String> {
        // Taken out of the desk, as nothing slow runs under its lock; the
        // set is not served yet, so no call waits for them meanwhile.
        let mut idle = std::mem::take(&mut self.desk.lock().idle);
        let started = (idle.iter_mut()).try_for_each(Pipeline::start_instances);
        self.desk.lock().idle = idle;
        started.map_err(|e| format!("{e} (one of {} workers' instances)", self.size()))
    }

    pub fn request_metrics(&self) -> &RequestMetrics {
        &self.request_metrics
    }

    /// Runs `events` through the pipeline, possibly in one call with other
    /// requests' events; returns exactly this request's results, in order,
    /// and `share` (the request's part of the memory budget) resized to
    /// them.
    pub async fn run(&self, events: Vec<CheckedEvent>, share: Share) -> Result<Done, Rejected> {
        let (reply, mut answer) = oneshot::channel();
        let bytes = events.iter().map(|event| event.text().len()).sum();
        let (id, worker) = {
            let mut state = self.desk.lock();
            if let Some(why) = state.retired {
                drop(state);
                return Err(self.reject(why));
            }
            let worker = if state.paused { None } else { state.idle.pop() };
            // With an idle worker the request is taken at once; otherwise it
            // must fit the queue.
            if worker.is_none() && state.jobs.len() >= self.desk.limits.queue {
                drop(state);
                return Err(self.reject(Rejected::QueueFull));
            }
            let id = state.next_id;
            state.next_id += 1;
            state.jobs.push_back(Job {
                id,
                events,
                bytes,
                share,
                reply,
            });
            (id, worker)
        };
        // A request that found a worker idle has got one, as far as
        // `queue_timeout` goes, so it is not subject to the timeout: workers
        // go idle only with the queue empty, so every job ahead of it also
        // started a worker, and those workers' first batches (each takes at
        // least one job, oldest first) include it.
        let got_a_worker = worker.is_some();
        if let Some(worker) = worker {
            let desk = self.desk.clone();
            tokio::task::spawn_blocking(move || desk.drain(worker));
        }
        // From here, dropping this future (the client hung up) withdraws the
        // request if no worker has taken it yet.
        let mut waiting = Waiting {
            desk: &self.desk,
            id,
            settled: false,
        };
        let waited = if got_a_worker {
            Ok((&mut answer).await)
        } else {
            tokio::time::timeout(self.desk.limits.queue_timeout, &mut answer).await
        };
        let answer = match waited {
            Ok(answer) => answer,
            Err(_elapsed) => {
                if self.desk.withdraw(id) {
                    waiting.settled = true;
                    return Err(self.reject(Rejected::QueueTimeout));
                }
                // A worker took it just now; its results are on the way.
                answer.await
            }
        };
        waiting.settled = true;
        match answer.map(Delivery::take) {
            Ok(Ok(results)) => Ok(results),
            Ok(Err(reason)) => Err(self.reject(reason)),
            // The worker's thread died without answering: a host bug.
            Err(_closed) => Err(self.reject(Rejected::WorkerPanicked)),
        }
    }

    /// The stateful stages all workers share, with their positions.
    pub fn shared_stages(&self) -> &[(usize, Arc<SharedStage>)] {
        &self.shared
    }

    /// Holds requests in the queue, under its bounds, until [`resume`]:
    /// a pipeline that a reload puts in place of one with filter state must
    /// not run an event before that state is handed to it, or the handover
    /// would overwrite what the event taught it.
    ///
    /// [`resume`]: PipelineWorkers::resume
    pub fn pause(&self) {
        self.desk.lock().paused = true;
    }

    /// Lets workers take the queued requests. Needs the tokio runtime.
    pub fn resume(&self) {
        let mut state = self.desk.lock();
        state.paused = false;
        let wanted = state.jobs.len().min(state.idle.len());
        let workers: Vec<Pipeline> = state.idle.drain(..wanted).collect();
        drop(state);
        for worker in workers {
            let desk = self.desk.clone();
            tokio::task::spawn_blocking(move || desk.drain(worker));
        }
    }

    /// Refuses requests from now on, saying `why` ([`Rejected::Replaced`]
    /// or [`Rejected::ShuttingDown`]); those queued or running still
    /// finish. So that a stateful pipeline's filter state stops changing
    /// before it is handed over or saved.
    pub fn retire(&self, why: Rejected) {
        self.desk.lock().retired = Some(why);
    }

    /// Refuses the requests still queued, saying `why` (not run, the client
    /// may send them again). For a stateful pipeline whose state is taken
    /// before its queue ran out: what they would teach its filters would be
    /// lost, and they would be answered all the same.
    pub fn refuse_queued(&self, why: Rejected) {
        let queued: Vec<Job> = self.desk.lock().jobs.drain(..).collect();
        for job in queued {
            // Counted where its request reads it (`run`), as a worker's
            // answers are.
            let _ = job.reply.send(self.desk.delivery(Err(why)));
        }
    }

    /// No request queued or running.
    pub fn is_idle(&self) -> bool {
        let state = self.desk.lock();
        state.jobs.is_empty() && state.idle.len() == self.desk.limits.workers
    }

    fn reject(&self, reason: Rejected) -> Rejected {
        let label = match reason {
            Rejected::QueueFull => "queue_full",
            Rejected::QueueTimeout => "queue_timeout",
            Rejected::WorkerPanicked => "worker_panicked",
            Rejected::Replaced => "replaced",
            Rejected::ShuttingDown => "shutting_down",
        };
        self.metrics.add(
            "wasmstash_rejected_total",
            &[("pipeline", self.name()), ("reason", label)],
            1,
        );
        reason
    }
}

/// A queued request's claim on its place; on drop before it was settled
/// (timed out, answered, or the future was dropped), it withdraws the job if
/// no worker has taken it, so nobody runs events whose client is gone.
struct Waiting<'a> {
    desk: &'a Desk,
    id: u64,
    settled: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.settled && self.desk.withdraw(self.id) {
            self.desk.withdrawn.add(1);
        }
    }
}

impl Desk {
    fn lock(&self) -> MutexGuard<'_, DeskState> {
        // Nothing that can panic runs while this lock is held; recover regardless.
        crate::locked(&self.state)
    }

    /// Removes job `id` if it is still queued. False once a worker took it:
    /// then it runs, and its result is the only answer.
    fn withdraw(&self, id: u64) -> bool {
        let mut state = self.lock();
        match state.jobs.iter().position(|job| job.id == id) {
            Some(at) => {
                state.jobs.remove(at);
                true
            }
            None => false,
        }
    }

    /// A worker's loop on the blocking pool: run what is queued until the
    /// queue is empty, then go idle (in the same critical section). A batch's
    /// answers go out only after the worker has either taken its next batch
    /// or gone idle, so a client that has its answer finds the worker free
    /// again (with `queue = 0`, a next request is not refused for a worker
    /// that was about to be idle). While results are held beyond the memory
    /// budget, the answers go out first (their writing is what brings the
    /// memory back) and the worker waits for them before its next batch;
    /// the requests queued meanwhile wait within `queue_timeout_ms`.
    fn drain(self: Arc<Self>, worker: Pipeline) {
        let mut worker = Some(worker);
        let mut jobs = self.next_batch(&mut worker);
        while let Some(mut busy) = worker.take() {
            let mut answers;
            (busy, answers) = self.run_jobs(busy, jobs);
            worker = Some(busy);
            if self.budget.is_exceeded() {
                self.send(std::mem::take(&mut answers));
                self.budget.wait_until_within();
            }
            jobs = self.next_batch(&mut worker);
            self.send(answers);
        }
    }

    fn send(&self, answers: Vec<Answer>) {
        for (reply, answer) in answers {
            // A client that hung up after its job was taken is gone; its
            // results have nowhere to go and are discarded, and counted.
            let _ = reply.send(self.delivery(answer));
        }
    }

    fn delivery(&self, answer: Result<Done, Rejected>) -> Delivery {
        Delivery {
            answer: Some(answer),
            abandoned: self.events_abandoned.clone(),
        }
    }

    /// Takes the next batch, or, with nothing queued, puts `worker` back
    /// among the idle ones (leaving `None`).
    fn next_batch(&self, worker: &mut Option<Pipeline>) -> Vec<Job> {
        let mut state = self.lock();
        let jobs = self.take_batch(&mut state.jobs);
        if jobs.is_empty() {
            state.idle.extend(worker.take());
        }
        jobs
    }

    /// The queued jobs, oldest first, that fit one call's limits; always at
    /// least one if any is queued.
    fn take_batch(&self, queue: &mut VecDeque<Job>) -> Vec<Job> {
        let (mut events, mut bytes) = (0, 0);
        let mut taken = Vec::new();
        while let Some(job) = queue.front() {
            let fits = events + job.events.len() <= self.limits.max_events.min(COALESCE_EVENTS)
                && bytes + job.bytes <= self.limits.max_bytes;
            if !taken.is_empty() && !fits {
                break;
            }
            events += job.events.len();
            bytes += job.bytes;
            taken.extend(queue.pop_front());
        }
        taken
    }

    /// Runs `jobs` as one batch; gives back the worker to use next (a fresh
    /// one after a panic) and each job's answer, in the jobs' order.
    fn run_jobs(&self, mut worker: Pipeline, jobs: Vec<Job>) -> (Pipeline, Vec<Answer>) {
        let mut counts = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut events = Vec::new();
        for job in jobs {
            counts.push(job.events.len());
            replies.push((job.reply, job.share));
            if events.is_empty() {
                events = job.events;
            } else {
                events.extend(job.events);
            }
        }
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker.process(events)));
        // Each request's share now stands for its results: what they take
        // past its events' share comes from the budget, or beyond it.
        let done = |(reply, mut share): (Reply, Share), mut results: Vec<EventResult>| {
            fit(&mut results);
            share.resize(super::budget::results_bytes(&results));
            (reply, Ok((results, share)))
        };
        match outcome {
            Ok(results) if replies.len() == 1 => (worker, vec![done(replies.remove(0), results)]),
            Ok(results) => {
                let mut results = results.into_iter();
                let answers = replies
                    .into_iter()
                    .zip(counts)
                    .map(|(reply, count)| done(reply, results.by_ref().take(count).collect()))
                    .collect();
                (worker, answers)
            }
            Err(_) => {
                tracing::error!(pipeline = %self.name, "a pipeline worker panicked; it was replaced");
                let answers = replies
                    .into_iter()
                    .map(|(reply, _share)| (reply, Err(Rejected::WorkerPanicked)))
                    .collect();
                // A worker that panicked may hold broken state; replace it.
                (worker.fresh(), answers)
            }
        }
    }
}

/// Results made to take little more than their length. An event grows in
/// place as filters add to it, its buffer doubling when it must (an access
/// line through grok and date ends in twice the room it needs); the
/// results may then wait for a slow client for as long as it takes to
/// read them.
fn fit(results: &mut [EventResult]) {
    for result in results {
        if let EventResult::Event(text) = result
            && text.capacity() - text.len() > text.len() / 4
        {
            text.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests;
