//! Hostile modules: whatever a filter does, every other event of the batch is
//! processed, the bad one passes through tagged with the reason, and the
//! engine keeps serving.

mod support;

use serde_json::{Value, json};
use support::*;
use wasmstash::event_check::CheckedEvent;

const BATCH: [&str; 6] = [
    "event 0", "event 1", "event 2", "event 3", "event 4", "event 5",
];

/// The chaos filter (filters/testing/chaos) with `config`.
fn chaos(engine: &wasmstash::engine::Engine, config: &str) -> wasmstash::engine::FilterModule {
    load(engine, "chaos", &built_module("chaos"), config)
}

/// Runs chaos with `option` set to a marker carried by the third event only.
fn chaos_with_bad_third_event(option: &str) -> (Vec<Value>, wasmstash::pipeline::Pipeline) {
    let engine = strict_engine();
    let module = chaos(&engine, &json!({ option: "BAD" }).to_string());
    let mut pipeline = pipeline(module);
    let mut messages = BATCH.to_vec();
    messages[2] = "event 2 BAD";
    let results = as_json(pipeline.process(message_events(&messages)));
    (results, pipeline)
}

/// The bad event keeps its message, carries `tag` and a failure record of
/// `kind`; every other event was processed.
fn assert_isolated(results: &[Value], tag: &str, kind: &str, reason_part: &str) {
    assert_eq!(results.len(), BATCH.len());
    for (index, event) in results.iter().enumerate() {
        if index == 2 {
            assert_eq!(event["message"], "event 2 BAD");
            assert_eq!(event["tags"], json!([tag]), "{event}");
            let failure = &event["wasmstash"]["failures"][0];
            assert_eq!(failure["kind"], kind, "{event}");
            assert_eq!(failure["filter"], "chaos");
            assert_eq!(failure["pipeline"], "test");
            let reason = failure["reason"].as_str().unwrap();
            assert!(
                reason.contains(reason_part),
                "reason {reason:?} lacks {reason_part:?}"
            );
            assert!(
                event.get("chaos").is_none(),
                "the failed event must pass through unchanged"
            );
        } else {
            assert_eq!(event["message"], BATCH[index]);
            assert!(
                event["chaos"]["seen"].is_u64(),
                "event {index} was not processed: {event}"
            );
            assert!(event.get("tags").is_none());
        }
    }
}

/// After a failure the same pipeline still processes a clean batch.
fn assert_still_serving(pipeline: &mut wasmstash::pipeline::Pipeline) {
    let results = as_json(pipeline.process(message_events(&["after 1", "after 2"])));
    assert!(
        results.iter().all(|e| e["chaos"]["seen"].is_u64()),
        "{results:?}"
    );
}

#[test]
fn an_infinite_loop_is_stopped_by_the_deadline() {
    let (results, mut pipeline) = chaos_with_bad_third_event("loop_on");
    assert_isolated(&results, "_wasmfilter_timeout", "timeout", "deadline");
    // A timeout is not tried again on a fresh instance, as a trap is: it
    // has already had a whole deadline.
    let recycles: u64 = pipeline.stages_mut().iter_mut().map(|s| s.recycles()).sum();
    assert_eq!(recycles, 2, "one for the batch, one for the looping event");
    assert_still_serving(&mut pipeline);
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let (results, mut pipeline) = chaos_with_bad_third_event("alloc_on");
    assert_isolated(
        &results,
        "_wasmfilter_failure",
        "out_of_memory",
        "past its limit of 16 MiB",
    );
    assert_still_serving(&mut pipeline);
}

#[test]
fn unbounded_recursion_exhausts_the_stack() {
    let (results, mut pipeline) = chaos_with_bad_third_event("recurse_on");
    assert_isolated(
        &results,
        "_wasmfilter_failure",
        "trap",
        "call stack exhausted",
    );
    assert_still_serving(&mut pipeline);
}

#[test]
fn a_panic_on_the_third_event_traps_and_names_the_panic() {
    let (results, mut pipeline) = chaos_with_bad_third_event("panic_on");
    assert_isolated(
        &results,
        "_wasmfilter_failure",
        "trap",
        "chaos asked to panic",
    );
    let recycles: u64 = pipeline.stages_mut().iter_mut().map(|s| s.recycles()).sum();
    // The replay runs events 0 and 1 on one instance, so event 2 fails
    // first on a used instance and then on a fresh one before it is marked.
    assert_eq!(
        recycles, 3,
        "one recycle for the batch, two for the isolated event"
    );
    assert_still_serving(&mut pipeline);
}

#[test]
fn a_per_event_error_and_a_drop_are_explicit() {
    let (results, _) = chaos_with_bad_third_event("error_on");
    assert_isolated(
        &results,
        "_wasmfilter_failure",
        "filter_error",
        "chaos refused",
    );
    let (results, _) = chaos_with_bad_third_event("drop_on");
    assert_eq!(results[2], Value::Null);
    assert_eq!(results.iter().filter(|e| e.is_null()).count(), 1);
}

#[test]
fn garbage_output_fails_each_event_but_loses_none() {
    let engine = strict_engine();
    let garbage = wat_filter("(i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 11))");
    let mut pipeline = pipeline(load(&engine, "garbage", garbage.as_bytes(), "{}"));
    let results = as_json(pipeline.process(message_events(&BATCH)));
    for (index, event) in results.iter().enumerate() {
        assert_eq!(event["message"], BATCH[index]);
        assert_eq!(event["tags"], json!(["_wasmfilter_failure"]));
        assert_eq!(event["wasmstash"]["failures"][0]["kind"], "invalid_output");
    }
    // The engine is fine: another module loads and runs.
    let mut good = support::pipeline(chaos(&engine, "{}"));
    assert_eq!(
        as_json(good.process(message_events(&["x"])))[0]["chaos"]["seen"],
        1
    );
}

#[test]
fn an_out_of_bounds_output_pointer_is_invalid_output() {
    let engine = strict_engine();
    let wild =
        wat_filter("(i64.or (i64.shl (i64.const 0xfff0000) (i64.const 32)) (i64.const 100))");
    let mut pipeline = pipeline(load(&engine, "wild", wild.as_bytes(), "{}"));
    let results = as_json(pipeline.process(message_events(&BATCH[..2])));
    let reason = results[0]["wasmstash"]["failures"][0]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("out-of-bounds"), "{reason}");
}

#[test]
fn a_short_result_list_is_replayed_event_by_event() {
    // Returns one result too few (all "unchanged") whenever the batch has more
    // than one event: alone, each event is fine, so after the replay every
    // event comes out, unchanged and untagged.
    let engine = strict_engine();
    let short = wat_filter(&format!(
        "(local.set $n (i32.load (local.get $ptr)))
         (if (i32.gt_u (local.get $n) (i32.const 1)) (then (local.set $n (i32.sub (local.get $n) (i32.const 1)))))
         (i32.store (i32.const 2048) (local.get $n))
         (local.set $o (i32.add (i32.const 2052) (i32.mul (local.get $n) (i32.const 5))))
         {RETURN_OUTPUT_AT_2048}"
    ));
    let mut pipeline = pipeline(load(&engine, "short", short.as_bytes(), "{}"));
    let input = message_events(&BATCH);
    let results = pipeline.process(input.clone());
    let expected: Vec<_> = input
        .into_iter()
        .map(|event| wasmstash::pipeline::EventResult::Event(event.into_text()))
        .collect();
    assert_eq!(results, expected);
    assert_eq!(pipeline.stages_mut()[0].recycles(), 1);
}

#[test]
fn an_invalid_json_event_in_the_output_is_caught() {
    // Claims to replace every event with the four bytes `{bad`.
    let engine = strict_engine();
    let bad_json = wat_filter(&format!(
        "(local.set $n (i32.load (local.get $ptr)))
         (i32.store (i32.const 2048) (local.get $n))
         (local.set $o (i32.const 2052))
         (block $done (loop $next
           (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
           (i32.store8 (local.get $o) (i32.const 1))
           (i32.store (i32.add (local.get $o) (i32.const 1)) (i32.const 4))
           (i32.store (i32.add (local.get $o) (i32.const 5)) (i32.const 0x6461627b))
           (local.set $o (i32.add (local.get $o) (i32.const 9)))
           (local.set $i (i32.add (local.get $i) (i32.const 1)))
           (br $next)))
         {RETURN_OUTPUT_AT_2048}"
    ));
    let mut pipeline = pipeline(load(&engine, "bad_json", bad_json.as_bytes(), "{}"));
    let results = as_json(pipeline.process(message_events(&BATCH[..3])));
    for (index, event) in results.iter().enumerate() {
        assert_eq!(event["message"], BATCH[index]);
        let reason = event["wasmstash"]["failures"][0]["reason"]
            .as_str()
            .unwrap();
        assert!(
            reason.starts_with("filter returned an invalid event"),
            "{reason}"
        );
    }
}

#[test]
fn failures_in_a_chain_accumulate_and_later_filters_still_run() {
    let engine = strict_engine();
    let chaos = chaos(&engine, r#"{"panic_on":"BAD"}"#);
    let mutate = load(
        &engine,
        "mutate",
        wasmstash::builtins::find("mutate").unwrap().wasm,
        r#"{"add_tag":["after"]}"#,
    );
    let mut pipeline = wasmstash::pipeline::Pipeline::new("chain", vec![chaos, mutate]);
    let results = as_json(pipeline.process(message_events(&["ok", "BAD"])));
    assert_eq!(results[0]["tags"], json!(["after"]));
    assert_eq!(results[1]["tags"], json!(["_wasmfilter_failure", "after"]));
    assert_eq!(results[1]["wasmstash"]["failures"][0]["pipeline"], "chain");
    let stats = pipeline.stats();
    assert_eq!(
        (stats.events_in, stats.events_out, stats.dropped),
        (2, 2, 0)
    );
    // An event's own `wasmstash` that is not an object is kept, not replaced.
    let own = checked(&[br#"{"message":"BAD","wasmstash":"mine"}"#.to_vec()]);
    let results = as_json(pipeline.process(own));
    assert_eq!(
        results[0]["wasmstash"]["displaced"], "mine",
        "{}",
        results[0]
    );
    assert_eq!(results[0]["wasmstash"]["failures"][0]["kind"], "trap");
}

#[test]
fn state_survives_snapshot_restore_and_instance_recycling() {
    let engine = strict_engine();
    let module = chaos(&engine, r#"{"panic_on":"BAD"}"#);
    let mut first = pipeline(module.clone());
    first.process(message_events(&["a", "b", "c"]));
    let state = first.stages_mut()[0]
        .snapshot()
        .unwrap()
        .expect("chaos keeps state");
    assert_eq!(state, 3u64.to_le_bytes());

    // A trap throws the instance away; its replacement starts from the snapshot.
    let results = as_json(first.process(message_events(&["BAD", "d"])));
    assert_eq!(results[1]["chaos"]["seen"], 4);

    // A new stage (as after a restart) restores the state it is given.
    let mut second = pipeline(module);
    second.stages_mut()[0].restore(state).unwrap();
    assert_eq!(
        as_json(second.process(message_events(&["e"])))[0]["chaos"]["seen"],
        4
    );
    let err = second.stages_mut()[0].restore(vec![1, 2]).unwrap_err();
    assert!(err.contains("8 bytes"), "{err}");
}

/// A state's save and restore run under `engine.state_call_timeout_ms`, not
/// the calls' deadline: their time follows the state's size, and a large
/// one that took longer than a batch's deadline failed every checkpoint,
/// and its restores, so the pipeline lost its state and its events timed
/// out one after another.
#[test]
fn saving_and_restoring_state_have_a_deadline_of_their_own() {
    let engine_with = |state_call_ms| {
        wasmstash::engine::Engine::new(wasmstash::engine::EngineSettings {
            call_timeout: Some(std::time::Duration::from_millis(100)),
            state_call_timeout: std::time::Duration::from_millis(state_call_ms),
            checkpoint_interval: std::time::Duration::ZERO,
            cache_dir: None,
            ..Default::default()
        })
        .unwrap()
    };
    // Saves and restores of 300 ms each, three times the calls' deadline.
    let config = r#"{"panic_on":"BAD","slow_state_ms":300}"#;
    let engine = engine_with(10_000);
    let mut first = pipeline(chaos(&engine, config));
    first.process(message_events(&["a", "b"]));
    // A checkpoint, then a trap: the replacement restores it and goes on.
    let results = as_json(first.process(message_events(&["BAD", "c"])));
    assert_eq!(results[1]["chaos"]["seen"], 3, "{}", results[1]);
    assert!(results[1].get("wasmstash").is_none(), "{}", results[1]);
    let state = first.stages_mut()[0].snapshot().unwrap();
    assert_eq!(state, Some(3u64.to_le_bytes().to_vec()));
    let mut restarted = pipeline(chaos(&engine, config));
    restarted.stages_mut()[0].restore(state.unwrap()).unwrap();
    assert_eq!(
        as_json(restarted.process(message_events(&["d"])))[0]["chaos"]["seen"],
        4
    );

    // Under a state deadline shorter than they take, they fail, and say
    // which setting stopped them.
    let engine = engine_with(100);
    let mut short = pipeline(chaos(&engine, config));
    short.process(message_events(&["a"]));
    let error = short.stages_mut()[0].snapshot().unwrap_err();
    assert!(
        error.reason.contains("ran past its deadline of 100 ms")
            && error
                .reason
                .contains("while saving or restoring its state (engine.state_call_timeout_ms)"),
        "{}",
        error.reason
    );
}

/// A replacement instance that cannot take the checkpoint goes on from
/// `init` alone: the batches logged since the checkpoint are not re-run on
/// it, as on `init`'s state they would make one the filter never had.
#[test]
fn a_replacement_without_the_checkpoint_does_not_re_run_the_batches_since() {
    let engine = wasmstash::engine::Engine::new(wasmstash::engine::EngineSettings {
        checkpoint_interval: std::time::Duration::from_secs(3600),
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    let config = r#"{"panic_on":"BAD","refuse_restore":true}"#;
    let mut pipeline = pipeline(chaos(&engine, config));
    pipeline.process(message_events(&["a", "b", "c"]));
    let state = pipeline.stages_mut()[0].snapshot().unwrap();
    assert_eq!(state, Some(3u64.to_le_bytes().to_vec()));
    // Logged since the checkpoint: seen 4 and 5.
    pipeline.process(message_events(&["d", "e"]));
    let results = as_json(pipeline.process(message_events(&["f", "BAD", "g"])));
    assert_eq!(results[0]["chaos"]["seen"], 1, "{}", results[0]);
    assert_eq!(results[1]["wasmstash"]["failures"][0]["kind"], "trap");
    // BAD's trap cost f's instance too; g's replacement also starts from
    // `init`, the checkpoint being refused again.
    assert_eq!(results[2]["chaos"]["seen"], 1, "{}", results[2]);
}

/// A stateful module whose snapshot always traps: its stage can never
/// checkpoint, and the log of batches to re-run must not grow for as long
/// as the process runs.
#[test]
fn a_log_that_can_never_be_checkpointed_stays_bounded() {
    let wat = unsnapshottable_filter();
    let engine = wasmstash::engine::Engine::new(wasmstash::engine::EngineSettings {
        memory_limit_bytes: 16 << 20,
        cache_dir: None,
        checkpoint_interval: std::time::Duration::ZERO,
        ..Default::default()
    })
    .unwrap();
    let mut stage = wasmstash::engine::Stage::new(load(&engine, "stuck", wat.as_bytes(), "{}"));
    let big = "x".repeat(1 << 20);
    let events = message_events(&[&big]);
    let refs: Vec<&CheckedEvent> = events.iter().collect();
    let cap = 64 << 20;
    for _ in 0..80 {
        let outcomes = stage.process(&refs);
        assert_eq!(outcomes.len(), 1);
        assert!(
            stage.logged_bytes() <= cap + (2 << 20),
            "the log grew to {} bytes",
            stage.logged_bytes()
        );
    }
}

#[test]
fn a_replayed_batch_counts_each_event_once_in_a_stateful_filter() {
    let engine = strict_engine();
    let module = chaos(&engine, r#"{"panic_on":"BAD"}"#);
    let mut pipeline = pipeline(module);
    pipeline.process(message_events(&["a", "b"]));
    // The batch traps at BAD after counting c and d; the replay restarts from
    // the checkpoint taken before the batch, so c and d count once, and e,
    // after the trap, continues from d's count rather than from zero.
    let results = as_json(pipeline.process(message_events(&["c", "d", "BAD", "e"])));
    let seen: Vec<&serde_json::Value> = results.iter().map(|r| &r["chaos"]["seen"]).collect();
    assert_eq!(seen[0], 3);
    assert_eq!(seen[1], 4);
    assert!(results[2]["chaos"].is_null());
    assert_eq!(seen[3], 5);
    assert_eq!(
        as_json(pipeline.process(message_events(&["f"])))[0]["chaos"]["seen"],
        6
    );
}

/// A module that answers `extended` with `members` for every event: the
/// result kind for filters that only add fields.
fn extending_filter(members: &str) -> String {
    let stores: String = members
        .bytes()
        .enumerate()
        .map(|(i, b)| format!("(i32.store8 (i32.const {}) (i32.const {b}))\n", 1100 + i))
        .collect();
    let len = members.len();
    wat_filter(&format!(
        "{stores}
         (local.set $n (i32.load (local.get $ptr)))
         (i32.store (i32.const 2048) (local.get $n))
         (local.set $o (i32.const 2052))
         (block $done (loop $next
           (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
           (i32.store8 (local.get $o) (i32.const 4))
           (i32.store (i32.add (local.get $o) (i32.const 1)) (i32.const {len}))
           (memory.copy (i32.add (local.get $o) (i32.const 5)) (i32.const 1100) (i32.const {len}))
           (local.set $o (i32.add (local.get $o) (i32.const {})))
           (local.set $i (i32.add (local.get $i) (i32.const 1)))
           (br $next)))
         {RETURN_OUTPUT_AT_2048}",
        len + 5
    ))
}

#[test]
fn extended_results_add_members_to_the_event_as_it_came_in() {
    let engine = strict_engine();
    let module = extending_filter(r#""n":1,"nested":{"a":[true,null]}"#);
    let mut pipeline = pipeline(load(&engine, "extends", module.as_bytes(), "{}"));
    let input = vec![
        br#"{"message":"event 0","tags":["x"]}"#.to_vec(),
        b"{ }".to_vec(),
        b" {\"message\" : \"spaced\" }\n".to_vec(),
    ];
    let results = as_json(pipeline.process(checked(&input)));
    assert_eq!(
        results,
        vec![
            json!({"message": "event 0", "tags": ["x"], "n": 1, "nested": {"a": [true, null]}}),
            json!({"n": 1, "nested": {"a": [true, null]}}),
            json!({"message": "spaced", "n": 1, "nested": {"a": [true, null]}}),
        ]
    );
}

/// Added members are checked like any output: a key the event already has,
/// a key added twice, or text that is not object members fails only that
/// event, which passes through as it came in.
#[test]
fn bad_extended_results_fail_the_event_and_lose_nothing() {
    let engine = strict_engine();
    for (members, reason_part) in [
        (r#""message":"again""#, "duplicate key `message`"),
        (r#""\u006dessage":"again""#, "duplicate key `message`"),
        (r#""n":1,"n":2"#, "duplicate key `n`"),
        (r#""n":1},{"m":2"#, "after the added members"),
        (r#","n":1"#, "expected a key"),
        (r#""n":1,"#, "expected a key"),
        (r#""n":"#, "expected a JSON value"),
        (r#""n":[1"#, "expected `,` or `]`"),
    ] {
        let module = extending_filter(members);
        let mut pipeline = pipeline(load(&engine, "extends", module.as_bytes(), "{}"));
        let results = as_json(pipeline.process(message_events(&BATCH[..2])));
        for (index, event) in results.iter().enumerate() {
            assert_eq!(event["message"], BATCH[index], "{members}");
            assert!(event.get("n").is_none(), "{members}: {event}");
            let failure = &event["wasmstash"]["failures"][0];
            assert_eq!(failure["kind"], "invalid_output", "{members}");
            let reason = failure["reason"].as_str().unwrap();
            assert!(reason.contains(reason_part), "{members}: {reason}");
        }
    }
}

/// A filter that reports new counter names without end cannot grow the
/// host's counters: one call keeps at most 256 names, and the sidecar's
/// metrics keep at most 256 per filter across all its workers and reloads,
/// while a name already known goes on counting.
#[test]
fn counter_names_are_bounded_per_call_and_per_filter() {
    let engine = strict_engine();
    let load_namer = |names_per_call, first| {
        let wat = counter_namer_wat(names_per_call, first);
        load(&engine, "namer", wat.as_bytes(), "{}")
    };
    let events = message_events(&["x"]);
    let events: Vec<_> = events.iter().collect();

    let mut stage = wasmstash::engine::Stage::new(load_namer(300, 0));
    stage.process(&events);
    let counted = stage.take_counters();
    assert_eq!(counted.len(), 256, "one call keeps at most 256 names");
    // The first 256 names of the call: `all` came after 300 others.
    assert!(counted.contains_key("aa") && !counted.contains_key("all"));

    let metrics = std::sync::Arc::new(wasmstash::metrics::Metrics::default());
    // Two workers and, after a reload, a new module: each names its own.
    let workers = [(0, 0), (1, 200), (0, 400)];
    let mut workers: Vec<_> = (workers.iter())
        .map(|&(worker, first)| {
            pipeline(load_namer(1, first)).with_metrics(metrics.clone(), worker)
        })
        .collect();
    for round in 0..150 {
        for worker in &mut workers {
            worker.process(message_events(&[&format!("event {round}")]));
        }
    }
    let series = metrics.counters_named("wasmstash_filter_counter_total");
    assert_eq!(
        series.len(),
        256,
        "the sidecar keeps at most 256 per filter"
    );
    let all = series
        .iter()
        .find(|(labels, _)| labels.iter().any(|(k, v)| *k == "name" && v == "all"));
    assert_eq!(all.map(|(_, n)| *n), Some(450));
}

/// A result bigger than `engine.max_event_mib` fails its event before it is
/// copied out.
#[test]
fn results_over_the_event_size_limit_fail_their_event() {
    let engine = wasmstash::engine::Engine::new(wasmstash::engine::EngineSettings {
        memory_limit_bytes: 64 << 20,
        max_event_bytes: 1 << 20,
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    // The event grows by two million bytes.
    let config = json!({ "add_field": { "big": "x".repeat(2_000_000) } });
    let module = load(
        &engine,
        "mutate",
        &built_module("mutate"),
        &config.to_string(),
    );
    let results = as_json(pipeline(module).process(message_events(&["a"])));
    assert_eq!(results[0]["message"], "a");
    assert!(results[0]["big"].is_null());
    let failure = &results[0]["wasmstash"]["failures"][0];
    assert_eq!(failure["kind"], "invalid_output", "{failure}");
    assert!(
        failure["reason"]
            .as_str()
            .unwrap()
            .contains("over engine.max_event_mib (1 MiB)"),
        "{failure}"
    );
}

/// An allocator that hands out a buffer past the end of its memory fails
/// the batch's events, and the reason gives the size the host asked for
/// (the input buffer's capacity, not the batch's length).
#[test]
fn a_buffer_past_the_memory_names_the_size_asked_for() {
    let wat = wat_filter(&format!("{ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}")).replacen(
        "(local.get $p))",
        "(drop (local.get $p)) (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 8)))",
        1,
    );
    let module = load(&strict_engine(), "short", wat.as_bytes(), "{}");
    let results = as_json(pipeline(module).process(message_events(&["a"])));
    let reason = results[0]["wasmstash"]["failures"][0]["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.contains("wasmstash_alloc asked for 65536 bytes and returned "),
        "{reason}"
    );
}

/// An allocator that answers 0, as C's do when memory cannot grow, is
/// refused: the host would have written the batch over the module's own
/// statics, from address 0, and the filter gone on with whatever it read.
/// (Here only the input buffer's 64 KiB gets 0, so that init succeeds.)
#[test]
fn a_null_buffer_from_the_allocator_fails_the_call() {
    let wat = wat_filter(&format!("{ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}")).replacen(
        "(local.get $p))",
        "(select (i32.const 0) (local.get $p) (i32.ge_u (local.get $len) (i32.const 65536))))",
        1,
    );
    let module = load(&strict_engine(), "null", wat.as_bytes(), "{}");
    let results = as_json(pipeline(module).process(message_events(&["a", "b"])));
    for result in &results {
        let failure = &result["wasmstash"]["failures"][0];
        assert_eq!(failure["kind"], "invalid_output", "{result}");
        let reason = failure["reason"].as_str().unwrap();
        assert!(reason.contains("returned 0, a null pointer"), "{reason}");
    }
    assert_eq!(results.len(), 2);
}

/// The re-runs that bring each new instance of a stateful filter up to
/// date count against its batch's replay budget. They had a budget each,
/// so a replay that needed several new instances held its request for
/// several budgets, past the drain limit that counts one. Now the first
/// new instance folds what it re-ran into a checkpoint (it passes its
/// state through a snapshot into a fresh instance), so the next ones have
/// almost nothing to re-run, and the replay goes on within the budget.
#[test]
fn re_runs_and_the_replay_of_a_batch_share_one_budget() {
    let engine = wasmstash::engine::Engine::new(wasmstash::engine::EngineSettings {
        call_timeout: Some(std::time::Duration::from_secs(5)),
        replay_budget: std::time::Duration::from_millis(1500),
        checkpoint_interval: std::time::Duration::from_secs(3600),
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    let mut pipeline = pipeline(chaos(&engine, r#"{"panic_on":"BAD","slow_ms":20}"#));
    // 68 batches logged since the checkpoint: 1.36 s to re-run, so the
    // replay's first new instance is ready within the budget (unless the
    // machine is loaded).
    for i in 0..68 {
        pipeline.process(message_events(&[&format!("warm {i}")]));
    }
    let started = std::time::Instant::now();
    let results = as_json(pipeline.process(message_events(&["a", "BAD", "b", "BAD", "c"])));
    let took = started.elapsed();
    let kind = |i: usize| results[i]["wasmstash"]["failures"][0]["kind"].clone();
    // a, the first replayed, runs, unless a loaded machine made the re-run
    // take the whole budget: no call runs past it, so a is then not run.
    // BAD fails on a fresh instance, or, when the re-run was slow, is not
    // run at all.
    assert!(
        results[0]["chaos"]["seen"].is_u64() || kind(0) == "not_run",
        "{}",
        results[0]
    );
    for bad in [1, 3] {
        assert!(
            ["trap", "not_run"].contains(&kind(bad).as_str().unwrap()),
            "{}",
            results[bad]
        );
    }
    // One re-run of the log and the calls after it, within the 1.5 s
    // budget; with a budget per re-run, BAD's new instance alone re-ran
    // 1.36 s more.
    assert!(took < std::time::Duration::from_millis(2300), "{took:?}");
}
