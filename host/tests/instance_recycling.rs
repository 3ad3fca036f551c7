//! When an instance is thrown away, and whom a failure is blamed on. A call
//! that fails on an instance which had served calls before may be the
//! doing of what they left behind (a leak, a corrupted structure), so the
//! event gets a second try on a fresh instance before it is marked. And a
//! snapshot or restore that fails as a call (a trap, the deadline) leaves
//! memory no later call may trust, as a failed `process` does.

mod support;

use support::*;
use wasmstash::engine::{Stage, StageOutcome};
use wasmstash::event_check::CheckedEvent;

/// A module that counts its `process` calls in `$calls` and runs `step`
/// first on each, then answers "unchanged" for every event; `items` adds
/// exports.
fn counting_filter(step: &str, items: &str) -> String {
    counting(
        &wat_filter(&format!("{step} {ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}")),
        items,
    )
}

/// `wat` (a [`wat_filter`]) counting its `process` calls in `$calls`, first
/// thing in each, with `items` added to its exports.
fn counting(wat: &str, items: &str) -> String {
    wat.replacen(
        "(global $next",
        "(global $calls (mut i32) (i32.const 0)) (global $poison (mut i32) (i32.const 0)) (global $next",
        1,
    )
    .replacen(
        "(local $o i32)",
        "(local $o i32) (global.set $calls (i32.add (global.get $calls) (i32.const 1)))",
        1,
    )
    .replacen(
        r#"(func (export "wasmstash_free")"#,
        &format!(r#"{items} (func (export "wasmstash_free")"#),
        1,
    )
}

/// State exports for [`counting`]: the state is the count of calls.
const CALLS_AS_STATE: &str = r#"(func (export "wasmstash_snapshot") (result i64)
    (i32.store (i32.const 3000) (global.get $calls))
    (i64.const 0xbb800000004))
  (func (export "wasmstash_restore") (param $p i32) (param $n i32) (result i64)
    (global.set $calls (i32.load (local.get $p)))
    (i64.const 0))"#;

/// The calls a stateful stage's state holds, by its snapshot.
fn calls_counted(stage: &mut Stage) -> u32 {
    let state = stage.snapshot().unwrap().unwrap();
    u32::from_le_bytes(state[..4].try_into().unwrap())
}

fn stage_of(wat: &str, checkpoint_interval: std::time::Duration) -> Stage {
    let engine = wasmstash::engine::Engine::new(wasmstash::engine::EngineSettings {
        call_timeout: Some(std::time::Duration::from_millis(200)),
        memory_limit_bytes: 16 << 20,
        cache_dir: None,
        checkpoint_interval,
        ..Default::default()
    })
    .unwrap();
    Stage::new(load(&engine, "recycled", wat.as_bytes(), "{}"))
}

fn run(stage: &mut Stage, messages: &[&str]) -> Vec<StageOutcome> {
    let events = message_events(messages);
    let refs: Vec<&CheckedEvent> = events.iter().collect();
    stage.process(&refs)
}

/// Every instance traps on its second call, as one that leaks or corrupts
/// itself would in time. No event is to blame, and none is marked.
#[test]
fn a_failure_on_a_used_instance_gets_a_fresh_one_before_blame() {
    let wat = counting_filter(
        "(if (i32.eq (global.get $calls) (i32.const 2)) (then unreachable))",
        "",
    );
    let mut stage = stage_of(&wat, std::time::Duration::from_secs(3600));
    // One event per call, as the sidecar's single-event route makes them.
    for message in ["a", "b", "c", "d"] {
        assert_eq!(run(&mut stage, &[message]), [StageOutcome::Unchanged]);
    }
    assert_eq!(stage.recycles(), 3, "b, c and d each met a used instance");
    // A batch on a used instance traps; in the replay, every second event
    // meets a used instance again.
    let outcomes = run(&mut stage, &["e", "f", "g", "h"]);
    assert_eq!(outcomes, vec![StageOutcome::Unchanged; 4]);
}

/// An event that fails on a fresh instance too is still marked.
#[test]
fn an_event_that_fails_on_a_fresh_instance_is_marked() {
    let wat = counting_filter(
        "(if (i32.ge_u (global.get $calls) (i32.const 2)) (then unreachable))",
        "",
    );
    let mut stage = stage_of(&wat, std::time::Duration::from_secs(3600));
    assert_eq!(run(&mut stage, &["a"]), [StageOutcome::Unchanged]);
    // The fresh instance's first call passes: the filter only fails later.
    assert_eq!(run(&mut stage, &["b"]), [StageOutcome::Unchanged]);
    let always = counting_filter("unreachable", "");
    let mut stage = stage_of(&always, std::time::Duration::from_secs(3600));
    let outcomes = run(&mut stage, &["x"]);
    assert!(
        matches!(&outcomes[..], [StageOutcome::Failed(f)] if f.reason.contains("unreachable")),
        "{outcomes:?}"
    );
}

/// `snapshot` and `restore` exports: the one named `poisoned` marks the
/// instance and traps (`refused restore`: marks it and refuses the state,
/// with the 4 bytes at 1024 as its reason); the other works (snapshot: the
/// 4 bytes at 1024). `process` traps on a marked instance, so an instance
/// kept after the failed step would fail the next event.
fn poisoning(poisoned: &str) -> String {
    let trap = "(global.set $poison (i32.const 1)) unreachable";
    let refusal = "(global.set $poison (i32.const 1)) (i64.const 0x40000000004)";
    let (snapshot, restore) = match poisoned {
        "snapshot" => (trap, "(i64.const 0)"),
        "refused restore" => ("(i64.const 0x40000000004)", refusal),
        _ => ("(i64.const 0x40000000004)", trap),
    };
    let items = format!(
        r#"(func (export "wasmstash_snapshot") (result i64) {snapshot})
  (func (export "wasmstash_restore") (param i32 i32) (result i64) {restore})"#
    );
    counting_filter("(if (global.get $poison) (then unreachable))", &items)
}

#[test]
fn a_restore_that_traps_throws_its_instance_away() {
    let mut stage = stage_of(&poisoning("restore"), std::time::Duration::from_secs(3600));
    let err = stage.restore(vec![1, 2, 3, 4]).unwrap_err();
    assert!(err.contains("unreachable"), "{err}");
    assert_eq!(run(&mut stage, &["a"]), [StageOutcome::Unchanged]);
    // The checkpoint taken before that call (the snapshot works) cannot be
    // restored into a replacement either: it starts without it.
    stage.discard_instance();
    assert_eq!(run(&mut stage, &["b"]), [StageOutcome::Unchanged]);
}

/// A filter may refuse a state halfway through reading it, with part of it
/// already taken in; the host says it starts afresh, so it must.
#[test]
fn a_refused_restore_throws_its_instance_away() {
    let wat = poisoning("refused restore");
    let mut stage = stage_of(&wat, std::time::Duration::from_secs(3600));
    assert!(stage.restore(vec![1, 2, 3, 4]).is_err());
    assert_eq!(run(&mut stage, &["a"]), [StageOutcome::Unchanged]);
}

/// The same at an instance made to replace a failed one: the instance that
/// refused the checkpoint is not the one that goes on.
#[test]
fn a_replacement_that_refuses_the_checkpoint_is_thrown_away() {
    let wat = poisoning("refused restore");
    let mut stage = stage_of(&wat, std::time::Duration::from_secs(3600));
    // The checkpoint taken before this call is what a replacement restores.
    assert_eq!(run(&mut stage, &["a"]), [StageOutcome::Unchanged]);
    stage.discard_instance();
    assert_eq!(run(&mut stage, &["b"]), [StageOutcome::Unchanged]);
}

/// An instance that refused the checkpoint goes on from `init`, and so
/// does any that replaces it, with the batches since: it used to restore
/// the checkpoint again, be refused again, and start from `init` without
/// those batches, losing what the instance it replaced had. (This filter
/// refuses a count of 0, the first checkpoint's.)
#[test]
fn replacements_go_on_from_where_a_refused_restore_left_off() {
    let refuses = r#"(func (export "wasmstash_snapshot") (result i64)
    (i32.store (i32.const 3000) (global.get $calls))
    (i64.const 0xbb800000004))
  (func (export "wasmstash_restore") (param $p i32) (param $n i32) (result i64)
    (if (result i64) (i32.eqz (i32.load (local.get $p)))
      (then (i64.const 0xbb800000004))
      (else (global.set $calls (i32.load (local.get $p))) (i64.const 0))))"#;
    let mut stage = stage_of(
        &counting_filter("", refuses),
        std::time::Duration::from_secs(3600),
    );
    for message in ["a", "b"] {
        assert_eq!(run(&mut stage, &[message]), [StageOutcome::Unchanged]);
    }
    stage.discard_instance();
    // Refused: from `init`, so this instance has counted c and d only.
    for message in ["c", "d"] {
        assert_eq!(run(&mut stage, &[message]), [StageOutcome::Unchanged]);
    }
    stage.discard_instance();
    assert_eq!(run(&mut stage, &["e"]), [StageOutcome::Unchanged]);
    assert_eq!(calls_counted(&mut stage), 3);
}

#[test]
fn a_snapshot_that_traps_throws_its_instance_away() {
    // A checkpoint before every call.
    let mut stage = stage_of(&poisoning("snapshot"), std::time::Duration::ZERO);
    for message in ["a", "b"] {
        assert_eq!(run(&mut stage, &[message]), [StageOutcome::Unchanged]);
    }
}

/// A stateful filter whose every call leaks a page of memory, its state a
/// count of its calls. When it runs out, its replacement restores the
/// checkpoint and re-runs the batches logged since, leaking them all over
/// again: it used to start as full as the one it replaced, so that every
/// event failed until the next checkpoint, its count lost. The replacement
/// now passes its state through a snapshot into a fresh instance first.
#[test]
fn a_leaking_stateful_filter_loses_no_event_to_its_leak() {
    let leak = "(if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)) (then unreachable))";
    // 16 MiB: 256 pages, of which the module starts with 2.
    let mut stage = stage_of(
        &counting_filter(leak, CALLS_AS_STATE),
        std::time::Duration::from_secs(3600),
    );
    for i in 0..600 {
        let message = format!("event {i}");
        assert_eq!(
            run(&mut stage, &[&message]),
            [StageOutcome::Unchanged],
            "{message}"
        );
    }
    assert!(stage.recycles() >= 2, "the leak never filled an instance");
    assert_eq!(calls_counted(&mut stage), 600);
}

/// A failed batch's events run one per call, their results held to the
/// memory limit in all; an event past it fails, its result not kept. Its
/// call had succeeded, so a stateful filter's state had counted it: the
/// call is now taken back, its instance thrown away and its batch out of
/// the log, so that the state counts only the events that came out
/// processed.
#[test]
fn a_result_not_kept_is_not_counted_in_the_state() {
    let wat = counting(&growing_alone(3 << 20), CALLS_AS_STATE);
    let mut stage = stage_of(&wat, std::time::Duration::from_secs(3600));
    let outcomes = run(&mut stage, &["a", "b", "c", "d", "e", "f", "g", "h"]);
    let kept = (outcomes.iter())
        .take_while(|outcome| matches!(outcome, StageOutcome::Extended(_)))
        .count();
    // 16 MiB holds five results of 3 MiB; the sixth would pass it.
    assert_eq!(kept, 5, "{outcomes:?}");
    assert!(
        (outcomes[kept..].iter()).all(
            |o| matches!(o, StageOutcome::Failed(f) if f.reason.starts_with("result not kept"))
        ),
        "{outcomes:?}"
    );
    assert_eq!(calls_counted(&mut stage), 5);
}

/// The same for a stateless filter's own counters (`metric_add`): what a
/// call whose result was not kept counted is dropped with the result, so
/// that `calls` counts the five events that came out processed.
#[test]
fn a_result_not_kept_is_not_counted_in_the_filters_counters() {
    let wat = growing_alone(3 << 20)
        .replacen(
            "(module",
            r#"(module
  (import "wasmstash" "metric_add" (func $metric_add (param i32 i32 i64)))
  (data (i32.const 3000) "calls")"#,
            1,
        )
        .replacen(
            "(if (i32.gt_u (i32.load (local.get $ptr)) (i32.const 1)) (then unreachable))",
            "(if (i32.gt_u (i32.load (local.get $ptr)) (i32.const 1)) (then unreachable))
        (call $metric_add (i32.const 3000) (i32.const 5) (i64.const 1))",
            1,
        );
    let mut stage = stage_of(&wat, std::time::Duration::from_secs(3600));
    let outcomes = run(&mut stage, &["a", "b", "c", "d", "e", "f", "g", "h"]);
    let kept = (outcomes.iter())
        .filter(|outcome| matches!(outcome, StageOutcome::Extended(_)))
        .count();
    assert_eq!(kept, 5, "{outcomes:?}");
    assert_eq!(stage.take_counters().get("calls"), Some(&5));
}

/// Only `process` counts (ABI.md, `metric_add`): a filter's state calls
/// run per checkpoint and per instance, and a batch's input buffer is
/// allocated per call, so what they count is not counted. Counts in
/// `restore` and `snapshot` went out with the next call's.
#[test]
fn only_what_process_counts_is_counted() {
    let other = "(call $metric_add (i32.const 3100) (i32.const 5) (i64.const 1))";
    let state_calls = format!(
        r#"(func (export "wasmstash_snapshot") (result i64) {other} (i64.const 0))
  (func (export "wasmstash_restore") (param i32 i32) (result i64) {other} (i64.const 0))"#
    );
    let wat = wat_filter(&format!(
        "(call $metric_add (i32.const 3000) (i32.const 5) (i64.const 1)) {ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}"
    ))
    .replacen(
        "(module",
        r#"(module
  (import "wasmstash" "metric_add" (func $metric_add (param i32 i32 i64)))
  (data (i32.const 3000) "calls") (data (i32.const 3100) "other")"#,
        1,
    )
    .replacen(
        "(local.set $p (global.get $next))",
        &format!("{other} (local.set $p (global.get $next))"),
        1,
    )
    .replacen(
        r#"(func (export "wasmstash_free")"#,
        &format!(r#"{state_calls} (func (export "wasmstash_free")"#),
        1,
    );
    // A checkpoint before every batch.
    let mut stage = stage_of(&wat, std::time::Duration::ZERO);
    stage.restore(b"saved".to_vec()).unwrap();
    for message in ["a", "b", "c"] {
        assert_eq!(run(&mut stage, &[message]), [StageOutcome::Unchanged]);
    }
    stage.snapshot().unwrap();
    assert_eq!(
        run(&mut stage, &["d", "e"]),
        [StageOutcome::Unchanged, StageOutcome::Unchanged]
    );
    let counted = stage.take_counters();
    assert_eq!(counted.get("calls"), Some(&4), "{counted:?}");
    assert_eq!(counted.get("other"), None, "{counted:?}");
}

/// A stateful filter's call that returns, for an event, a result the host
/// refuses (`invalid_output`) has still taken that event into its state.
/// The call fails whole, so that the event fails alone in the replay, and
/// the state counts none of the events that came out failed.
#[test]
fn an_event_whose_result_is_refused_is_not_counted_in_the_state() {
    // For each event, `extended` with the members `x`: no JSON members.
    let refused = format!(
        "(local.set $n (i32.load (local.get $ptr)))
        (i32.store (i32.const 2048) (local.get $n))
        (local.set $o (i32.const 2052))
        (block $done (loop $each
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (i32.store8 (local.get $o) (i32.const 4))
          (i32.store (i32.add (local.get $o) (i32.const 1)) (i32.const 1))
          (i32.store8 (i32.add (local.get $o) (i32.const 5)) (i32.const 120))
          (local.set $o (i32.add (local.get $o) (i32.const 6)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $each)))
        {RETURN_OUTPUT_AT_2048}"
    );
    let wat = counting(&wat_filter(&refused), CALLS_AS_STATE);
    let mut stage = stage_of(&wat, std::time::Duration::from_secs(3600));
    let outcomes = run(&mut stage, &["a", "b", "c"]);
    assert!(
        (outcomes.iter())
            .all(|o| matches!(o, StageOutcome::Failed(f) if f.kind.as_str() == "invalid_output")),
        "{outcomes:?}"
    );
    assert_eq!(outcomes.len(), 3);
    assert_eq!(calls_counted(&mut stage), 0);
}
