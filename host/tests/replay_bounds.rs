//! When a batch fails, its events are run again one per call so that only
//! the guilty ones are marked. That replay is bounded twice: in time, by
//! `engine.replay_budget_ms`, and in memory, by what the batch's own call
//! could have returned. Past either bound the remaining events still come
//! out, each passed on tagged with the reason.

mod support;

use serde_json::json;
use support::*;

/// The chaos filter, which runs past its deadline on events saying `SPIN`,
/// in an engine with the given deadline and replay budget.
fn spinning_on_spin(call_ms: u64, budget_ms: u64) -> wasmstash::engine::FilterModule {
    let engine = wasmstash::engine::Engine::new(wasmstash::engine::EngineSettings {
        call_timeout: Some(std::time::Duration::from_millis(call_ms)),
        replay_budget: std::time::Duration::from_millis(budget_ms),
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    load(
        &engine,
        "chaos",
        &built_module("chaos"),
        r#"{"loop_on":"SPIN"}"#,
    )
}

/// A filter that runs past the deadline on every event of a batch cannot
/// hold the batch for events × deadline: the replay that isolates failures
/// stops at `replay_budget`, and the events it did not reach come out
/// tagged, with the reason, not lost.
#[test]
fn a_replay_stops_at_its_budget_and_tags_the_rest() {
    // A deadline long enough that the fine events, on fresh instances,
    // never reach it on a loaded machine; the budget is six deadlines.
    let module = spinning_on_spin(250, 1500);
    let mut pipeline = pipeline(module);
    let mut messages = vec!["fine 1", "fine 2"];
    messages.extend(std::iter::repeat_n("SPIN", 38));
    let results = as_json(pipeline.process(message_events(&messages)));
    assert_eq!(results.len(), 40);
    assert_eq!(results[0]["chaos"]["seen"], 1);
    assert_eq!(results[1]["chaos"]["seen"], 2);
    let records: Vec<(&str, &str)> = results[2..]
        .iter()
        .map(|event| {
            assert_eq!(event["message"], "SPIN");
            assert_eq!(event["tags"], json!(["_wasmfilter_timeout"]));
            let record = &event["wasmstash"]["failures"][0];
            (
                record["kind"].as_str().unwrap(),
                record["reason"].as_str().unwrap(),
            )
        })
        .collect();
    // Each SPIN event that runs takes the whole 250 ms deadline, so the
    // 1500 ms budget is spent after a handful of them. Those left unrun say
    // so in their kind, not only in their reason.
    let ran = records
        .iter()
        .filter(|(kind, _)| *kind == "timeout")
        .count();
    assert!((1..=8).contains(&ran), "{ran} ran: {records:?}");
    assert!(records[ran..].iter().all(|(kind, reason)| *kind == "not_run"
        && reason.starts_with(
            "not run: isolating a failure in this batch, one event per call, ran past engine.replay_budget_ms (1500 ms)"
        )), "{records:?}");
    let after = as_json(pipeline.process(message_events(&["after"])));
    assert_eq!(after[0]["chaos"]["seen"], 3, "{after:?}");
}

#[test]
fn a_replay_holds_its_results_to_the_memory_limit_and_tags_the_rest() {
    let engine = wasmstash::engine::Engine::new(wasmstash::engine::EngineSettings {
        memory_limit_bytes: 16 << 20,
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    let size = 3 << 20;
    let module = load(&engine, "grower", growing_alone(size).as_bytes(), "{}");
    let mut pipeline = pipeline(module);
    let messages = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let results = as_json(pipeline.process(message_events(&messages)));
    assert_eq!(results.len(), messages.len());
    // 16 MiB holds five results of 3 MiB; the sixth would pass it.
    for (event, message) in results.iter().zip(messages).take(5) {
        assert_eq!(event["message"], message);
        assert_eq!(
            event["b"].as_str().map(str::len),
            Some(size - 6),
            "{message}"
        );
        assert!(event.get("tags").is_none(), "{message}");
    }
    for (event, message) in results.iter().zip(messages).skip(5) {
        assert_eq!(event["message"], message);
        assert!(
            event.get("b").is_none(),
            "{message}: its result must not be kept"
        );
        assert_eq!(event["tags"], json!(["_wasmfilter_failure"]));
        let record = &event["wasmstash"]["failures"][0];
        assert_eq!(record["kind"], "out_of_memory");
        assert!(
            record["reason"].as_str().unwrap().starts_with(
                "result not kept: isolating a failure in this batch, one event per call, the events' results passed engine.memory_limit_mib (16 MiB) in all"
            ),
            "{record}"
        );
    }
}

/// Workers take turns on a stateful filter's one stage. A batch that
/// waited for it behind another worker's failing batch has spent its
/// replay budget waiting, so it adds a call to its request's time, not a
/// whole budget: with a budget each, the last of several workers' requests
/// could take one budget per worker, past the drain limit.
#[test]
fn the_wait_for_a_shared_stage_counts_against_the_replay_budget() {
    let module = spinning_on_spin(200, 1000);
    assert!(module.is_stateful(), "the test needs a shared stage");
    let mut first = pipeline(module);
    let mut second = first.sibling();
    let [(_, stage)] = &first.shared_stages()[..] else {
        panic!("one shared stage")
    };
    let stage = stage.clone();
    let spins = vec!["SPIN"; 50];
    let (_, waiting) = std::thread::scope(|scope| {
        // Holds the stage for its call, its whole budget and the call
        // running when the budget ends: about 1.4 s.
        let holder = scope.spawn(|| first.process(message_events(&spins)));
        // The holder's thread may start late on a loaded machine: had the
        // second batch taken the stage first, it would have had its whole
        // budget and run `fine`. Sent as soon as the stage is held, the
        // second waits for nearly all of the holder's 1.4 s, not a fixed
        // part of it that a slow start of its own thread would eat into.
        while !stage.is_locked() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let waiting = scope.spawn(|| as_json(second.process(message_events(&["SPIN", "fine"]))));
        (holder.join().unwrap(), waiting.join().unwrap())
    });
    let kinds: Vec<Option<&str>> = (waiting.iter())
        .map(|event| event["wasmstash"]["failures"][0]["kind"].as_str())
        .collect();
    // Its batch call timed out, and the wait had spent the budget its
    // replay would have had: no event ran alone, and each says so. (A
    // replay used to run its first event regardless; for a stateful filter
    // that meant re-running the log on no budget, and losing its state.)
    assert_eq!(kinds, [Some("not_run"), Some("not_run")], "{waiting:?}");
}

/// The warning a stopped replay logs counts every event it passed on
/// unrun, the one whose call the budget cut short among them, as the
/// summary's records by kind do.
#[test]
fn the_replay_warning_counts_what_the_records_say_was_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let chaos = format!("{}/chaos.wasm", wasmstash::builtins::build_module_dir());
    let config = dir.path().join("wasmstash.toml");
    std::fs::write(
        &config,
        format!(
            "[engine]\ncall_timeout_ms = 100\nreplay_budget_ms = 250\n\
             [[pipelines.p.filters]]\nmodule = {chaos:?}\nconfig = {{ loop_on = \"SPIN\" }}\n"
        ),
    )
    .unwrap();
    let input = dir.path().join("in.log");
    std::fs::write(&input, "SPIN\n".repeat(20)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["run", "--workers", "1", "--config"])
        .args([&config, &input])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let number_before = |words: &str| -> usize {
        let at = stderr
            .find(words)
            .unwrap_or_else(|| panic!("{words}: {stderr}"));
        let digits: String = stderr[..at].trim_end().rsplit(' ').next().unwrap().into();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("{words}: {stderr}"))
    };
    let warned = number_before(" of 20 events passed on tagged, not run");
    let not_run = stderr
        .split("not_run ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no not_run count: {stderr}"));
    assert_eq!(warned, not_run, "{stderr}");
    assert!(not_run >= 15, "{stderr}");
}
