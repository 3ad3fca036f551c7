//! How long one batch can hold a filter's stage, against a filter that
//! spends nearly its whole deadline in every export it has: its start
//! function, `alloc`, `free`, `init`, `process`, and its state calls. Each
//! call alone is within its deadline, so only the replay budget, which
//! holds every call once a failure is being isolated (instances
//! restarted, state restored, calls tried again), can stop what they add
//! up to. The bound of one batch that follows (`EngineSettings::one_batch`)
//! is what the sidecar's drain limit and the save's wait count on, so a
//! request cannot outlive them.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;
use wasmstash::engine::{Engine, EngineSettings, StageOutcome};
use wasmstash::event_check::CheckedEvent;

// The defaults' proportions (1 s, 10 s, 30 s), a tenth as long.
const CALL: Duration = Duration::from_millis(100);
const STATE_CALL: Duration = Duration::from_millis(1000);
const REPLAY: Duration = Duration::from_millis(3000);

/// Slack for what the host does around the calls (encoding, checks, the
/// watchdog's tick) on a loaded machine.
const SLACK: Duration = Duration::from_millis(500);

/// [`wat_filter`] whose every export and start function spins for
/// `percent` of its deadline, and whose `process` then traps when the
/// batch holds a `!`. With `stateful`, its snapshot and restore spin as
/// long a share of theirs.
fn straddling_filter(stateful: bool, percent: u128) -> String {
    let spin = |deadline: Duration| {
        format!(
            "(call $spin (i64.const {}))",
            deadline.as_millis() * percent / 100
        )
    };
    let call = spin(CALL);
    let process = format!(
        r#"{call}
        (local.set $i (local.get $ptr))
        (block $clean (loop $scan
          (br_if $clean (i32.ge_u (local.get $i) (i32.add (local.get $ptr) (local.get $len))))
          (if (i32.eq (i32.load8_u (local.get $i)) (i32.const 33)) (then unreachable))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $scan)))
        {ALL_UNCHANGED}
        {RETURN_OUTPUT_AT_2048}"#
    );
    let state = spin(STATE_CALL);
    let state_calls = match stateful {
        true => format!(
            r#"(func (export "wasmstash_snapshot") (result i64) {state}
      (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 4)))
    (func (export "wasmstash_restore") (param i32 i32) (result i64) {state} (i64.const 0))"#
        ),
        false => String::new(),
    };
    wat_filter(&process)
        .replacen(
            "(module",
            &format!(
                r#"(module
  (import "wasmstash" "now_unix_nanos" (func $now (result i64)))
  (func $spin (param $ms i64) (local $until i64)
    (local.set $until (i64.add (call $now) (i64.mul (local.get $ms) (i64.const 1000000))))
    (block $done (loop $wait
      (br_if $done (i64.ge_s (call $now) (local.get $until)))
      (br $wait))))
  (func $start {call})
  (start $start)
  {state_calls}"#
            ),
            1,
        )
        .replacen(
            "(local.set $p (global.get $next))",
            &format!("{call} (local.set $p (global.get $next))"),
            1,
        )
        .replacen(
            r#"(func (export "wasmstash_free") (param i32 i32))"#,
            &format!(r#"(func (export "wasmstash_free") (param i32 i32) {call})"#),
            1,
        )
        .replacen(
            r#"(func (export "wasmstash_init") (param i32 i32) (result i64) (i64.const 0))"#,
            &format!(r#"(func (export "wasmstash_init") (param i32 i32) (result i64) {call} (i64.const 0))"#),
            1,
        )
}

/// The straddling filter loaded. Its start function and `init` spin most
/// of their deadline too, and on a loaded machine one may pass it, which
/// fails the load (a load is not retried): tried up to three times, as
/// what the tests bound is the batches after it.
fn load_straddling(engine: &Engine, wat: String) -> wasmstash::engine::FilterModule {
    let mut tries = 0;
    loop {
        tries += 1;
        match wasmstash::engine::FilterModule::load(engine, "straddle", wat.as_bytes(), b"{}") {
            Ok(module) => return module,
            Err(e) if tries < 3 && e.to_string().contains("ran past its deadline") => {}
            Err(e) => panic!("loading straddle: {e}"),
        }
    }
}

fn engine() -> Engine {
    Engine::new(EngineSettings {
        call_timeout: Some(CALL),
        state_call_timeout: STATE_CALL,
        replay_budget: REPLAY,
        checkpoint_interval: Duration::ZERO,
        cache_dir: None,
        ..Default::default()
    })
    .unwrap()
}

/// Runs a batch of 20 events, the twelfth with a `!`, through the
/// straddling filter, after a first batch that starts its instance: each
/// event comes out once, unchanged or tagged, within a checkpoint, a call
/// and the replay budget. The replay reaches the `!` with a third of its
/// budget left,
/// and trying it again on a fresh instance (restoring the checkpoint,
/// re-running the eleven events before it, compacting them into a new
/// checkpoint, and restoring that) would take more than that.
fn assert_batch_bounded(stateful: bool) {
    let engine = engine();
    let module = load_straddling(&engine, straddling_filter(stateful, 90));
    assert_eq!(module.is_stateful(), stateful);
    let mut pipeline = pipeline(module);
    // Not asserted clean: on a loaded machine a call spinning 90% of its
    // deadline may pass it, which changes nothing below.
    pipeline.process(message_events(&["warm", "up"]));

    let messages: Vec<String> = (0..20)
        .map(|i| match i {
            11 => "event 11 !".to_owned(),
            _ => format!("event {i}"),
        })
        .collect();
    let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
    // The instance the first batch started is there: the batch may begin
    // with a checkpoint, then makes its call (its input buffer's `free` and
    // `alloc`, then `process`), and the failure's isolation, every call of
    // it, ends with the replay budget.
    let checkpoint = if stateful { STATE_CALL } else { Duration::ZERO };
    let bound = checkpoint + CALL * 3 + REPLAY;
    assert!(bound < engine.settings().one_batch(stateful));
    let started = Instant::now();
    let results = as_json(pipeline.process(message_events(&messages)));
    let took = started.elapsed();

    assert_eq!(results.len(), messages.len());
    for (event, message) in results.iter().zip(&messages) {
        assert_eq!(event["message"], *message, "{event}");
    }
    let kinds: Vec<&str> = results
        .iter()
        .filter_map(|e| e["wasmstash"]["failures"][0]["kind"].as_str())
        .collect();
    assert!(
        kinds
            .iter()
            .all(|k| ["trap", "timeout", "not_run", "no_instance"].contains(k)),
        "{kinds:?}"
    );
    assert!(
        took <= bound + SLACK,
        "the batch held the stage {took:?}, past its bound of {bound:?}: {kinds:?}"
    );
    // Events never run say why. On a loaded machine the `!` event's call
    // may pass its deadline before it traps; a call stopped for time is not
    // tried again on a fresh instance, so the replay may then end within
    // the budget with every other event run (as a CI run with a review
    // agent at work beside it saw).
    let not_run: Vec<&Value> = results
        .iter()
        .filter(|e| e["wasmstash"]["failures"][0]["kind"] == "not_run")
        .collect();
    if results[11]["wasmstash"]["failures"][0]["kind"] == "trap" {
        assert!(!not_run.is_empty(), "{results:?}");
    }
    for event in not_run {
        let reason = event["wasmstash"]["failures"][0]["reason"]
            .as_str()
            .unwrap();
        assert!(reason.starts_with("not run: "), "{reason}");
    }
}

#[test]
fn a_stateless_stage_holds_a_failing_batch_no_longer_than_its_bound() {
    assert_batch_bounded(false);
}

#[test]
fn a_stateful_stage_holds_a_failing_batch_no_longer_than_its_bound() {
    assert_batch_bounded(true);
}

/// A clean batch that waited for a shared stage longer than one batch may
/// take (behind other workers' batches, under load) still runs: a wait
/// spends its replay budget, not the calls of a batch that does not fail.
#[test]
fn a_clean_batch_runs_however_long_it_waited() {
    let engine = engine();
    let unchanged = wat_filter(&format!("{ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}"));
    let mut pipeline = pipeline(load(&engine, "plain", unchanged.as_bytes(), "{}"));
    let events = message_events(&["a", "b"]);
    let events: Vec<&CheckedEvent> = events.iter().collect();
    let waited = engine.settings().one_batch(false) * 2;
    let stage = &mut pipeline.stages_mut()[0];
    let outcomes = stage.with(|stage| stage.process_after_waiting(&events, waited));
    assert_eq!(outcomes, [StageOutcome::Unchanged, StageOutcome::Unchanged]);
}

/// A stateful filter whose log of batches since its checkpoint takes
/// longer to re-run than the replay budget still recovers after a failure:
/// the clean events after it are processed. Re-running the log for a clean
/// batch stops between batches at the budget (the state they added is
/// lost, and said so), but is no failure to isolate, so the calls after it
/// are not held to the budget; held to it, every later batch failed to
/// start an instance and came out not run.
#[test]
fn a_stateful_filter_whose_log_outlasts_the_budget_recovers_after_a_failure() {
    let engine = Engine::new(EngineSettings {
        call_timeout: Some(CALL),
        state_call_timeout: STATE_CALL,
        replay_budget: Duration::from_millis(500),
        checkpoint_interval: Duration::from_secs(3600),
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    // Half of each deadline, so that on a loaded machine no sound call
    // passes its own.
    let module = load(
        &engine,
        "straddle",
        straddling_filter(true, 50).as_bytes(),
        "{}",
    );
    let mut pipeline = pipeline(module);
    // Twenty batches logged since the checkpoint: about 1 s to re-run.
    for i in 0..20 {
        pipeline.process(message_events(&[&format!("before {i}")]));
    }
    // It traps on a used instance; trying it again on a fresh one would
    // first restore and re-run the log, past the budget: the trap is what
    // is known, said with where it was seen, not an event "not run".
    let bad = as_json(pipeline.process(message_events(&["bad !"])));
    let failure = &bad[0]["wasmstash"]["failures"][0];
    assert_eq!(failure["kind"], "trap", "{bad:?}");
    assert!(
        failure["reason"]
            .as_str()
            .unwrap()
            .contains("trying it again on a fresh one ran past engine.replay_budget_ms"),
        "{bad:?}"
    );
    for i in 0..3 {
        let after = as_json(pipeline.process(message_events(&[&format!("after {i}")])));
        assert!(after[0].get("wasmstash").is_none(), "after {i}: {after:?}");
    }
}

/// A snapshot that fails is not tried again in the same batch: each may
/// take a whole state deadline, and the bound of one batch counts four
/// state calls. A filter whose snapshot never returns, checkpointed at
/// every batch, spent two (the checkpoint, then folding the log into one
/// on the instance that replaced it) and now spends one.
#[test]
fn a_failed_snapshot_is_not_tried_again_in_its_batch() {
    let hangs = r#"(func (export "wasmstash_snapshot") (result i64) (loop $spin (br $spin)) (i64.const 0))
    (func (export "wasmstash_restore") (param i32 i32) (result i64) (i64.const 0))"#;
    let wat = wat_filter(&format!("{ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}")).replacen(
        "(module",
        &format!("(module {hangs}"),
        1,
    );
    let engine = engine();
    let mut pipeline = pipeline(load(&engine, "unsaved", wat.as_bytes(), "{}"));
    pipeline.process(message_events(&["first"]));
    for i in 0..2 {
        let started = Instant::now();
        let results = as_json(pipeline.process(message_events(&["a", "b"])));
        let took = started.elapsed();
        for event in &results {
            assert!(event.get("wasmstash").is_none(), "{event}");
        }
        let bound = STATE_CALL + CALL * 3;
        assert!(
            took <= bound + SLACK,
            "batch {i} took {took:?}, past one failed snapshot and its calls ({bound:?})"
        );
    }
}
