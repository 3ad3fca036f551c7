//! The call deadline against code written to dodge it: loops that never
//! touch memory, endless calls without a loop, a start function that never
//! returns, and bulk memory work while the deadline passes. Each is stopped,
//! its event passes through tagged, and the engine keeps serving.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use support::server::{Server, write_config};
use support::*;
use wasmstash::engine::FilterModule;

/// Longest a test waits for a result before calling it a hang (the
/// engine's deadline is 200 ms).
const HANG: Duration = Duration::from_secs(20);

/// `wat_filter(process)` with `items` (functions, a start) added.
fn filter_with(items: &str, process: &str) -> String {
    wat_filter(process).replacen(
        r#"(func (export "wasmstash_free")"#,
        &format!(r#"{items} (func (export "wasmstash_free")"#),
        1,
    )
}

/// Loads `wat` and runs one event through it on another thread, twice (a
/// fresh instance replaces the stopped one), failing rather than hanging.
fn run_twice(wat: String) -> Vec<Value> {
    let (sender, results) = mpsc::channel();
    std::thread::spawn(move || {
        let module = load(&strict_engine(), "dodger", wat.as_bytes(), "{}");
        let mut pipeline = pipeline(module);
        for round in ["first", "second"] {
            let result = as_json(pipeline.process(message_events(&[round])));
            sender.send(result[0].clone()).unwrap();
        }
    });
    (0..2)
        .map(|_| {
            results
                .recv_timeout(HANG)
                .expect("the deadline did not stop the call")
        })
        .collect()
}

fn assert_timed_out(results: &[Value]) {
    for (event, message) in results.iter().zip(["first", "second"]) {
        assert_eq!(event["message"], message);
        assert_eq!(event["tags"], json!(["_wasmfilter_timeout"]), "{event}");
        let failure = &event["wasmstash"]["failures"][0];
        assert_eq!(failure["kind"], "timeout", "{event}");
        // The limit in force, however it was set.
        assert!(
            (failure["reason"].as_str().unwrap()).contains("ran past its deadline of 200 ms"),
            "{event}"
        );
    }
}

#[test]
fn a_loop_that_never_touches_memory_is_stopped() {
    assert_timed_out(&run_twice(wat_filter(
        "(loop $spin (br $spin)) (i64.const 0)",
    )));
}

#[test]
fn endless_calls_without_a_loop_are_stopped() {
    // 2^60 calls, never deeper than 60 frames: no loop, no stack overflow.
    let twice = r#"(func $twice (param $n i32)
        (if (local.get $n) (then
          (call $twice (i32.sub (local.get $n) (i32.const 1)))
          (call $twice (i32.sub (local.get $n) (i32.const 1))))))"#;
    let wat = filter_with(twice, "(call $twice (i32.const 60)) (i64.const 0)");
    assert_timed_out(&run_twice(wat));
}

/// A grow refused under the memory limit, then a loop: the call is
/// stopped for time, and said to be (it was told out of memory, and so
/// tried again on a fresh instance, a second deadline).
#[test]
fn a_loop_after_a_refused_grow_is_stopped_as_a_timeout() {
    let results = run_twice(wat_filter(
        "(drop (memory.grow (i32.const 2000))) (loop $spin (br $spin)) (i64.const 0)",
    ));
    assert_timed_out(&results);
    let reason = results[0]["wasmstash"]["failures"][0]["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.contains("after it was refused memory: filter tried to grow its memory"),
        "{reason}"
    );
}

#[test]
fn bulk_memory_work_past_the_deadline_is_stopped() {
    // Most of the time goes in wasmtime's own fill routine, not in guest
    // code, when the deadline passes.
    let wat = wat_filter(
        "(loop $fill (memory.fill (i32.const 0) (i32.const 7) (i32.const 131072)) (br $fill)) (i64.const 0)",
    );
    assert_timed_out(&run_twice(wat));
}

#[test]
fn straight_line_bulk_memory_work_is_stopped_too() {
    // No loop and no call: only the read after each fill can see the
    // deadline. 20,000 fills of 12 MiB (240 GB written) take seconds even
    // at a cache's speed, the deadline 200 ms. With 2,000, a Zen 5 core,
    // filling from L3, finished some calls within the deadline.
    let fill = "(memory.fill (i32.const 131072) (i32.const 7) (i32.const 12582912))";
    let body = format!(
        "(drop (memory.grow (i32.const 200))) {} (i64.const 0)",
        fill.repeat(20_000)
    );
    assert_timed_out(&run_twice(wat_filter(&body)));
}

#[test]
fn straight_line_calls_to_imports_are_stopped() {
    // No loop and no call into the module's own code, so none of the
    // tripwire's reads: only the imports can see the deadline. Each line
    // is 4 KiB of NULs logged as an error, which the host copies and
    // escapes; 30,000 of them take several times the 200 ms. The last
    // call logs `garbage` (at 1028), which a call let run to its end
    // would name as what the filter logged.
    let line = "(call $log (i32.const 1) (i32.const 8192) (i32.const 4096))";
    let body = format!(
        "{} (call $log (i32.const 1) (i32.const 1028) (i32.const 7)) (i64.const 0)",
        line.repeat(30_000)
    );
    let wat = wat_filter(&body).replacen(
        "(module",
        r#"(module (import "wasmstash" "log" (func $log (param i32 i32 i32)))"#,
        1,
    );
    let results = run_twice(wat);
    assert_timed_out(&results);
    for event in &results {
        let reason = event["wasmstash"]["failures"][0]["reason"]
            .as_str()
            .unwrap();
        assert!(
            reason.contains("the filter logged: \\u{0}"),
            "{}",
            &reason[..200]
        );
        assert!(!reason.ends_with("garbage"), "the call ran to its end");
    }
}

#[test]
fn a_start_function_that_never_returns_fails_the_load() {
    let wat = filter_with(
        "(func $spin (loop $l (br $l))) (start $spin)",
        "(i64.const 0)",
    );
    let (sender, result) = mpsc::channel();
    std::thread::spawn(move || {
        let loaded = FilterModule::load(&strict_engine(), "m", wat.as_bytes(), b"{}");
        sender.send(loaded.err().map(|e| e.to_string())).unwrap();
    });
    let error = result
        .recv_timeout(HANG)
        .expect("the start function hung the load");
    let error = error.expect("a module whose start never returns must not load");
    assert!(error.contains("start function"), "{error}");
    assert!(error.contains("ran past its deadline of 200 ms"), "{error}");
}

#[test]
fn an_init_that_never_returns_fails_the_load_naming_the_setting() {
    let wat = wat_filter("(i64.const 0)").replace(
        "(func (export \"wasmstash_init\") (param i32 i32) (result i64) (i64.const 0))",
        "(func (export \"wasmstash_init\") (param i32 i32) (result i64) (loop $l (br $l)) (i64.const 0))",
    );
    assert!(
        wat.contains("(loop $l (br $l)) (i64.const 0))"),
        "the init was not replaced"
    );
    let (sender, result) = mpsc::channel();
    std::thread::spawn(move || {
        let loaded = FilterModule::load(&strict_engine(), "m", wat.as_bytes(), b"{}");
        sender.send(loaded.err().map(|e| e.to_string())).unwrap();
    });
    let error = result.recv_timeout(HANG).expect("the init hung the load");
    let error = error.expect("a module whose init never returns must not load");
    assert!(
        error.starts_with("init failed: filter ran past its deadline of 200 ms"),
        "{error}"
    );
    assert!(error.contains("raise call_timeout_ms"), "{error}");
}

#[test]
fn a_start_function_still_runs_before_anything_else() {
    // The ABI version comes from a global only the start function sets; a
    // module whose start did not run would answer version 0 and be refused.
    let wat = filter_with(
        "(global $version (mut i32) (i32.const 0)) (func $start (global.set $version (i32.const 1))) (start $start)",
        "(i64.const 0)",
    )
    .replace(
        r#"(func (export "wasmstash_abi_version") (result i32) (i32.const 1))"#,
        r#"(func (export "wasmstash_abi_version") (result i32) (global.get $version))"#,
    );
    assert_loads(&wat);
}

#[test]
fn the_names_the_host_adds_are_refused_in_a_module() {
    for name in ["wasmstash:tripwire", "wasmstash:start"] {
        let wat = filter_with(&format!(r#"(func (export "{name}"))"#), "(i64.const 0)");
        let error = load_error(wat.as_bytes(), "{}");
        assert!(error.contains(&format!("exports `{name}`")), "{error}");
    }
}

#[test]
fn code_naming_a_memory_the_module_lacks_stays_invalid() {
    // The tripwire is the module's second memory once added; code that names
    // memory 1 before that must still be refused, not handed the tripwire.
    let wat = wat_filter("(drop (i32.load8_u 1 (i32.const 0))) (i64.const 0)");
    let error = load_error(wat.as_bytes(), "{}");
    assert!(error.contains("not a valid WebAssembly module"), "{error}");
}

#[test]
fn a_function_with_more_loops_than_the_deadline_can_tell_apart_is_refused() {
    // Each loop's read needs its own offset in a 64 KiB page; one more loop
    // would repeat the function entry's, and Cranelift would drop it.
    let loops = "(loop)".repeat(1 << 16);
    let wat = wat_filter(&format!("{loops} (loop $spin (br $spin)) (i64.const 0)"));
    let error = load_error(wat.as_bytes(), "{}");
    assert!(
        error.contains("65536 loops and bulk memory operations or more"),
        "{error}"
    );
    // A limit of the deadline's, not a fault of the module's.
    assert!(!error.contains("not a valid"), "{error}");
}

#[test]
fn a_malformed_name_section_is_no_reason_to_refuse_a_module() {
    // wasmtime reads a name section only for backtraces, and ignores one it
    // cannot; the rewrite passes custom sections through untouched.
    let wat = wat_filter("(i64.const 0)").replacen(
        "(module",
        r#"(module (@custom "name" "\01\ff\ff\ff")"#,
        1,
    );
    assert_loads(&wat);
}

#[test]
fn a_sidecar_with_the_deadline_off_warns_where_a_stuck_call_would_hold_a_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[server]\nwatch = false\nworkers = 2\n[engine]\ncall_timeout_ms = 0\n\
         [[pipelines.learn.filters]]\nfilter = \"templates\"\n\
         [[pipelines.plain.filters]]\nfilter = \"json\"\nconfig = { source = \"message\" }\n",
    );
    let log = dir.path().join("serve.log");
    let env = [("RUST_LOG", "wasmstash=warn"), ("NO_COLOR", "1")];
    let server =
        Server::start_with_stderr(&config, &env, std::fs::File::create(&log).unwrap().into());
    server.stop();
    let log = std::fs::read_to_string(&log).unwrap();
    let warning = (log.lines())
        .find(|line| line.contains("call_timeout_ms = 0"))
        .unwrap_or_else(|| panic!("no warning in the log:\n{log}"));
    // Only the pipeline whose workers share a stateful filter is named.
    assert!(warning.contains("pipeline(s) learn share"), "{warning}");
    assert!(!warning.contains("plain"), "{warning}");
}
