//! A pipeline: an ordered list of filter stages that every batch goes through.
//!
//! Each event comes out exactly once: as an event (changed, unchanged, or
//! passed through with a failure recorded on it) or as an explicit drop. A
//! failed event keeps going through the later stages, as in Logstash, where a
//! filter that fails tags the event and the next filter still runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use wasmstash_sdk::{Event, Value};

use crate::engine::{Failure, FilterModule, Stage, StageOutcome};
use crate::event_check::CheckedEvent;
use crate::logstash_event::{as_text, written, written_keeping_tags};
use crate::metrics::Metrics;

/// The longest failure reason recorded on an event.
const MAX_REASON: usize = 1024;

/// Where failure records go on an event.
pub const FAILURES_FIELD: &str = "[wasmstash][failures]";

/// The host's field, under which failures are recorded.
const NAMESPACE: &str = "wasmstash";

/// Where a `wasmstash` field that an event brought, and that is not an
/// object, is kept (as text: a string as it was, anything else as JSON)
/// when a failure is recorded.
const DISPLACED_FIELD: &str = "[wasmstash][displaced]";

/// The result for one input event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventResult {
    Event(Vec<u8>),
    Dropped,
}

/// Counts since the pipeline was built.
#[derive(Debug, Default, Clone)]
pub struct PipelineStats {
    pub events_in: u64,
    pub events_out: u64,
    pub dropped: u64,
}

/// The `worker` label of a shared stage's instance memory: all of a
/// pipeline's workers use that one instance.
pub const SHARED_WORKER: &str = "shared";

/// A stage as a pipeline holds it. A stateful filter's stage is shared (one
/// instance behind a lock for all of a pipeline's workers, so they all update
/// the same state); any other stage belongs to one worker.
pub enum PipelineStage {
    Own(Box<Stage>),
    Shared(Arc<SharedStage>),
}

impl PipelineStage {
    fn new(module: FilterModule) -> PipelineStage {
        if module.is_stateful() {
            PipelineStage::Shared(Arc::new(SharedStage::new(Stage::new(module))))
        } else {
            PipelineStage::Own(Box::new(Stage::new(module)))
        }
    }

    /// Runs `work` on the stage, holding its lock if it is shared.
    pub fn with<R>(&mut self, work: impl FnOnce(&mut Stage) -> R) -> R {
        match self {
            PipelineStage::Own(stage) => work(stage),
            PipelineStage::Shared(shared) => work(&mut lock_stage(shared)),
        }
    }

    pub fn module(&mut self) -> FilterModule {
        self.with(|stage| stage.module().clone())
    }

    pub fn snapshot(&mut self) -> Result<Option<Vec<u8>>, Failure> {
        self.with(Stage::snapshot)
    }

    pub fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        self.with(|stage| stage.restore(state))
    }

    /// How many times the stage threw an instance away after a failure.
    pub fn recycles(&mut self) -> u64 {
        self.with(|stage| stage.recycles())
    }
}

/// A stateful filter's stage, shared by a pipeline's workers. parking_lot's
/// lock, because its waits can be bounded: a reload's handover and a save
/// must not wait for ever on a call that may not end (`call_timeout_ms = 0`).
/// It is also eventually fair, so a bounded wait is not starved by workers
/// taking the lock back to back. It does not poison: filter failures are
/// values, not panics, and the host must keep serving after a panic anyway.
pub type SharedStage = parking_lot::Mutex<Stage>;

pub fn lock_stage(stage: &SharedStage) -> parking_lot::MutexGuard<'_, Stage> {
    stage.lock()
}

pub struct Pipeline {
    name: String,
    stages: Vec<PipelineStage>,
    stats: PipelineStats,
    /// Where to report per-filter metrics, labelled with this worker's number.
    metrics: Option<(Arc<Metrics>, String)>,
}

/// What a filter logs (its own lines, its failures) names the filter; while
/// this lives, the log adds `pipeline`, as filter names repeat across
/// pipelines. Held where a pipeline's instances start and process: loading
/// (the start function and `init`), starting its workers, processing.
/// (Snapshots and restores, which run guest code too, still name only the
/// filter.)
pub(crate) fn logging_in(pipeline: &str) -> tracing::span::EnteredSpan {
    tracing::warn_span!("pipeline", pipeline = %pipeline).entered()
}

impl Pipeline {
    pub fn new(name: &str, modules: Vec<FilterModule>) -> Pipeline {
        Pipeline {
            name: name.to_owned(),
            stages: modules.into_iter().map(PipelineStage::new).collect(),
            stats: PipelineStats::default(),
            metrics: None,
        }
    }

    /// Reports per-filter latency, events, failures, recycles, memory and the
    /// filters' own counters to `metrics`, as worker number `worker`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>, worker: usize) -> Pipeline {
        self.metrics = Some((metrics, worker.to_string()));
        self
    }

    /// Another worker of the same pipeline: its own instances of stateless
    /// stages, the same shared stage of each stateful one.
    pub fn sibling(&mut self) -> Pipeline {
        let stages = self
            .stages
            .iter_mut()
            .map(|stage| match stage {
                PipelineStage::Own(own) => {
                    PipelineStage::Own(Box::new(Stage::new(own.module().clone())))
                }
                PipelineStage::Shared(shared) => PipelineStage::Shared(shared.clone()),
            })
            .collect();
        Pipeline {
            name: self.name.clone(),
            stages,
            stats: PipelineStats::default(),
            metrics: self.metrics.clone(),
        }
    }

    /// What replaces a worker whose state cannot be trusted (a host panic):
    /// a sibling, with each shared stage's instance replaced from its last
    /// checkpoint.
    pub fn fresh(&mut self) -> Pipeline {
        for stage in &mut self.stages {
            if let PipelineStage::Shared(shared) = stage {
                lock_stage(shared).discard_instance();
            }
        }
        self.sibling()
    }

    /// Makes every stage's instance before the first batch (see
    /// [`Stage::start_instance`]); the error names the filter that could
    /// not have one, with why.
    pub fn start_instances(&mut self) -> Result<(), String> {
        let _span = logging_in(&self.name);
        for stage in &mut self.stages {
            stage.with(|stage| {
                stage.start_instance().map_err(|failure| {
                    format!(
                        "filter `{}`: {}",
                        crate::config::shown_name(stage.module().name()),
                        failure.reason
                    )
                })
            })?;
        }
        Ok(())
    }

    /// The shared (stateful) stages with their positions, for snapshots.
    pub fn shared_stages(&self) -> Vec<(usize, Arc<SharedStage>)> {
        self.stages
            .iter()
            .enumerate()
            .filter_map(|(index, stage)| match stage {
                PipelineStage::Shared(shared) => Some((index, shared.clone())),
                PipelineStage::Own(_) => None,
            })
            .collect()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn stats(&self) -> &PipelineStats {
        &self.stats
    }

    pub fn stages_mut(&mut self) -> &mut [PipelineStage] {
        &mut self.stages
    }

    /// Runs `events` through every stage.
    pub fn process(&mut self, events: Vec<CheckedEvent>) -> Vec<EventResult> {
        let _span = logging_in(&self.name);
        self.stats.events_in += events.len() as u64;
        let mut slots: Vec<Option<CheckedEvent>> = events.into_iter().map(Some).collect();
        let (name, metrics) = (self.name.as_str(), self.metrics.as_ref());
        for stage in &mut self.stages {
            // A shared stage's one instance is every worker's: its memory is
            // reported once, not once per worker.
            let reporter = metrics.map(|(metrics, worker)| match stage {
                PipelineStage::Own(_) => (metrics.as_ref(), worker.as_str()),
                PipelineStage::Shared(_) => (metrics.as_ref(), SHARED_WORKER),
            });
            // A shared stage stays locked for the whole batch: other workers
            // wait for it here, which is the price of one shared state. The
            // wait counts against the batch's replay budget there.
            let asked = Instant::now();
            stage.with(|stage| run_stage(name, reporter, stage, &mut slots, asked.elapsed()));
        }
        slots
            .into_iter()
            .map(|slot| match slot {
                Some(event) => {
                    self.stats.events_out += 1;
                    EventResult::Event(event.into_text())
                }
                None => {
                    self.stats.dropped += 1;
                    EventResult::Dropped
                }
            })
            .collect()
    }
}

/// Runs the live events in `slots` through one stage of pipeline `pipeline`.
fn run_stage(
    pipeline: &str,
    metrics: Option<(&Metrics, &str)>,
    stage: &mut Stage,
    slots: &mut [Option<CheckedEvent>],
    waited: Duration,
) {
    let live: Vec<usize> = (0..slots.len()).filter(|&i| slots[i].is_some()).collect();
    let inputs: Vec<&CheckedEvent> = live.iter().map(|&i| slots[i].as_ref().unwrap()).collect();
    let started = Instant::now();
    let recycles_before = stage.recycles();
    let outcomes = stage.process_after_waiting(&inputs, waited);
    if let Some((metrics, worker)) = metrics {
        report_stage(
            metrics,
            pipeline,
            worker,
            stage,
            inputs.len(),
            started,
            recycles_before,
        );
    }
    drop(inputs);
    for (index, outcome) in live.into_iter().zip(outcomes) {
        match outcome {
            StageOutcome::Unchanged => {}
            StageOutcome::Replaced(event) => slots[index] = Some(event),
            StageOutcome::Extended(added) => slots[index].as_mut().unwrap().add(added),
            StageOutcome::Dropped => slots[index] = None,
            StageOutcome::Failed(failure) => {
                let name = stage.module().name();
                if let Some((metrics, _)) = metrics {
                    let labels = [
                        ("pipeline", pipeline),
                        ("filter", name),
                        ("tag", failure.kind.tag()),
                        ("kind", failure.kind.as_str()),
                    ];
                    metrics.add("wasmstash_failures_total", &labels, 1);
                }
                let event = slots[index].as_ref().unwrap();
                slots[index] = Some(record_failure(event.text(), pipeline, name, &failure));
            }
        }
    }
}

fn report_stage(
    metrics: &Metrics,
    pipeline: &str,
    worker: &str,
    stage: &mut Stage,
    events: usize,
    started: Instant,
    recycles_before: u64,
) {
    let filter = stage.module().name().to_owned();
    let labels = [("pipeline", pipeline), ("filter", filter.as_str())];
    metrics.observe(
        "wasmstash_filter_duration_seconds",
        &labels,
        started.elapsed(),
    );
    metrics.add("wasmstash_filter_events_total", &labels, events as u64);
    metrics.add(
        "wasmstash_instance_recycles_total",
        &labels,
        stage.recycles() - recycles_before,
    );
    if let Some(instance) = stage.live_instance() {
        let memory = instance.memory_bytes() as f64;
        let labels = [
            ("pipeline", pipeline),
            ("filter", filter.as_str()),
            ("worker", worker),
        ];
        metrics.set("wasmstash_instance_memory_bytes", &labels, memory);
    }
    for (name, delta) in stage.take_counters() {
        metrics.add_filter_counter(pipeline, &filter, &name, delta.max(0) as u64);
    }
}

/// Tags `event` and appends a failure record under [`FAILURES_FIELD`]:
/// `{"pipeline", "filter", "kind", "reason"}`.
pub fn record_failure(
    event: &[u8],
    pipeline: &str,
    filter: &str,
    failure: &Failure,
) -> CheckedEvent {
    let mut reason = failure.reason.clone();
    if reason.len() > MAX_REASON {
        let cut = (0..=MAX_REASON)
            .rev()
            .find(|&i| reason.is_char_boundary(i))
            .unwrap_or(0);
        reason.truncate(cut);
        reason.push('…');
    }
    let record = json!({"pipeline": pipeline, "filter": filter, "kind": failure.kind.as_str(), "reason": reason});
    tag_and_record(event, failure.kind.tag(), record)
}

/// `event` with `tag` added and `record` appended to the array at
/// [`FAILURES_FIELD`].
///
/// Total: whatever `event` holds, the result passes the check, so recording
/// a failure never loses the event and never panics. Recording moves values
/// the event brought: a `wasmstash` that is not an object (nor `null`, which
/// holds nothing), or a `[wasmstash][failures]` that is not a list, goes to
/// [`DISPLACED_FIELD`] as text (a list of texts if one is there already,
/// which the index template's `keyword` takes), and a `tags` that is not a
/// list of strings goes into the `_tags` list, one level deeper than it was
/// (Logstash's rule, kept by [`Event::add_tag`]). A value already at the
/// nesting limit would then be too deep, so in that case the `_tags` items
/// that would be are kept as their JSON text instead.
pub fn tag_and_record(event: &[u8], tag: &str, record: Value) -> CheckedEvent {
    // Events are validated on the way in and after every stage, so this
    // cannot fail; if it ever did, the original text is still kept.
    let mut parsed = Event::parse(event).unwrap_or_else(|_| original_as_text(event));
    parsed.add_tag(tag);
    // A client's own `wasmstash` that is not an object, or `failures` that
    // is not a list, would be replaced by the record's: keep it beside it
    // rather than lose it (or have Elasticsearch refuse the event, as the
    // template maps `failures` as objects).
    match parsed.get(NAMESPACE) {
        Some(Value::Null) => {
            parsed.remove(NAMESPACE);
        }
        Some(value) if !value.is_object() => {
            if let Some(old) = parsed.remove(NAMESPACE) {
                displace(&mut parsed, old);
            }
        }
        _ => {}
    }
    match parsed.get_mut(FAILURES_FIELD) {
        Some(Value::Array(records)) => records.push(record.clone()),
        Some(_) => {
            if let Some(old) = parsed.remove(FAILURES_FIELD) {
                displace(&mut parsed, old);
            }
            parsed.set(FAILURES_FIELD, json!([record.clone()]));
        }
        None => parsed.set(FAILURES_FIELD, json!([record.clone()])),
    }
    written_keeping_tags(&mut parsed, event.len()).unwrap_or_else(|_| {
        // Not known to happen. Still an event with its failure, not a panic:
        // the original text, which a later look can read.
        let mut kept = original_as_text(event);
        kept.add_tag(tag);
        kept.set(FAILURES_FIELD, json!([record]));
        written(&kept, event.len())
            .unwrap_or_else(|_| CheckedEvent::message(&String::from_utf8_lossy(event)))
    })
}

/// An event holding only `event`'s text, under `[wasmstash][original]`.
fn original_as_text(event: &[u8]) -> Event<'static> {
    let mut kept = Event::new();
    kept.set(
        "[wasmstash][original]",
        String::from_utf8_lossy(event).into_owned(),
    );
    kept
}

/// Keeps `value` as text at [`DISPLACED_FIELD`], after anything already
/// kept there, which the event may have brought in any shape: that is
/// made text too (each member of a list, but a null, which a keyword field
/// passes by), so the field stays a keyword's and no deeper than a string.
fn displace(event: &mut Event, value: Value) {
    let text = Value::String(as_text(value));
    let as_text_value = |value: &mut Value| {
        if !value.is_null() {
            *value = Value::String(as_text(value.take()));
        }
    };
    match event.get_mut(DISPLACED_FIELD) {
        Some(Value::Array(kept)) => {
            kept.iter_mut().for_each(as_text_value);
            kept.push(text);
        }
        Some(Value::Null) | None => event.set(DISPLACED_FIELD, text),
        Some(other) => {
            as_text_value(other);
            *other = Value::Array(vec![other.take(), text]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::FailureKind;
    use crate::event_check::MAX_DEPTH;

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    /// `event` (which must pass the check) with a failure recorded, as JSON.
    fn recorded(event: &str) -> serde_json::Value {
        CheckedEvent::new(event.as_bytes().to_vec()).expect("a valid event");
        let failure = Failure {
            kind: FailureKind::Trap,
            reason: "it trapped".to_owned(),
        };
        let out = record_failure(event.as_bytes(), "p", "f", &failure);
        serde_json::from_slice(out.text()).unwrap()
    }

    fn record_of(event: &serde_json::Value) -> &serde_json::Value {
        let records = event["wasmstash"]["failures"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{event}");
        assert_eq!(records[0]["kind"], "trap");
        assert_eq!(records[0]["reason"], "it trapped");
        &records[0]
    }

    /// The deepest values an event may hold, where recording a failure moves
    /// them one level deeper: kept as their JSON text, the event tagged and
    /// its failure recorded.
    #[test]
    fn values_moved_past_the_nesting_limit_are_kept_as_text() {
        let deepest = nested(MAX_DEPTH - 2);
        let out = recorded(&format!(r#"{{"message":"m","tags":{deepest}}}"#));
        assert_eq!(
            out["tags"],
            json!(["_tagsparsefailure", "_wasmfilter_failure"])
        );
        assert_eq!(out["_tags"], json!([deepest]));
        record_of(&out);

        let out = recorded(&format!(r#"{{"message":"m","wasmstash":{deepest}}}"#));
        assert_eq!(out["wasmstash"]["displaced"], deepest.as_str());
        assert_eq!(out["tags"], json!(["_wasmfilter_failure"]));
        record_of(&out);

        // `_tags` already there and not a list: it is the one moved deeper.
        let item = nested(MAX_DEPTH - 3);
        let out = recorded(&format!(r#"{{"_tags":{{"a":{item}}},"tags":{{"b":1}}}}"#));
        assert_eq!(
            out["_tags"],
            json!([format!(r#"{{"a":{item}}}"#), {"b": 1}])
        );
        record_of(&out);

        // Both at once, with a `_tags` list holding the deepest item it can.
        let event = format!(r#"{{"_tags":[{item}],"tags":{deepest},"wasmstash":{deepest}}}"#);
        let out = recorded(&event);
        let kept: serde_json::Value = serde_json::from_str(&item).unwrap();
        assert_eq!(out["_tags"], json!([kept, deepest]));
        assert_eq!(out["wasmstash"]["displaced"], deepest.as_str());
        record_of(&out);
    }

    /// What fits stays as it was: Logstash's rule for `tags`, a displaced
    /// string as it was, anything else displaced as its JSON text.
    #[test]
    fn values_that_fit_are_moved_as_they_were() {
        let out = recorded(r#"{"tags":{"a":[1]},"_tags":[2],"wasmstash":"mine"}"#);
        assert_eq!(out["_tags"], json!([2, {"a": [1]}]));
        assert_eq!(out["wasmstash"]["displaced"], "mine");
        record_of(&out);
        let out = recorded(r#"{"wasmstash":[1,{"a":null}]}"#);
        assert_eq!(out["wasmstash"]["displaced"], r#"[1,{"a":null}]"#);
        let out = recorded(r#"{"wasmstash":{"failures":[{"kind":"x"}],"n":1}}"#);
        assert_eq!(out["wasmstash"]["failures"].as_array().unwrap().len(), 2);
        assert_eq!(out["wasmstash"]["n"], 1);
        // `failures` that is not a list goes beside the record, not under it.
        let out = recorded(r#"{"wasmstash":{"failures":{"kind":"x"},"n":1}}"#);
        assert_eq!(out["wasmstash"]["displaced"], r#"{"kind":"x"}"#);
        assert_eq!(out["wasmstash"]["n"], 1);
        record_of(&out);
        let out = recorded(r#"{"wasmstash":{"failures":"mine","displaced":"kept"}}"#);
        assert_eq!(out["wasmstash"]["displaced"], json!(["kept", "mine"]));
        record_of(&out);
        // A `displaced` the event brought is kept as text too, whatever it
        // holds, so the keyword field takes it.
        let out = recorded(r#"{"wasmstash":{"failures":1,"displaced":{"x":1}}}"#);
        assert_eq!(out["wasmstash"]["displaced"], json!([r#"{"x":1}"#, "1"]));
        let out = recorded(r#"{"wasmstash":{"failures":1,"displaced":["a",[2],{"y":null},null]}}"#);
        assert_eq!(
            out["wasmstash"]["displaced"],
            json!(["a", "[2]", r#"{"y":null}"#, null, "1"])
        );
        record_of(&out);
        // As deep as an event may be: as text, it is no deeper than a
        // string, and the rest of the event stays as it was.
        let deepest = format!(
            r#"{{"m":1,"wasmstash":{{"failures":1,"displaced":{}}}}}"#,
            nested(125)
        );
        let out = recorded(&deepest);
        assert_eq!(out["m"], 1);
        // (A list there is a list of kept values: its one member is kept.)
        assert_eq!(out["wasmstash"]["displaced"], json!([nested(124), "1"]));
        record_of(&out);
        // A `null` namespace holds nothing to keep.
        let out = recorded(r#"{"wasmstash":null}"#);
        assert!(out["wasmstash"].get("displaced").is_none(), "{out}");
        record_of(&out);
    }

    /// Text that is not an event at all (which the check keeps from getting
    /// here) is still kept, tagged and recorded.
    #[test]
    fn text_that_does_not_parse_is_kept_whole() {
        let out = tag_and_record(b"not \xff json", "_t", json!({"kind": "k"}));
        let out: serde_json::Value = serde_json::from_slice(out.text()).unwrap();
        assert_eq!(out["wasmstash"]["original"], "not \u{fffd} json");
        assert_eq!(out["tags"], json!(["_t"]));
        assert_eq!(out["wasmstash"]["failures"], json!([{"kind": "k"}]));
    }
}
