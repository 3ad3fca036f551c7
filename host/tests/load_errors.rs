//! Modules that are not right for wasmstash are refused at load time with a
//! message an operator can act on, never a panic.

mod support;

use support::*;

/// Why loading `wat` is refused, having checked that `inspect` finds the
/// same problem, rather than a module that meets ABI v1.
fn refused_and_inspected_alike(wat: &str) -> String {
    let err = load_error(wat.as_bytes(), "{}");
    let inspection = wasmstash::engine::inspect(&strict_engine(), wat.as_bytes()).unwrap();
    assert!(
        inspection.problems.contains(&err),
        "{err} not among {:?}",
        inspection.problems
    );
    err
}

#[test]
fn a_module_speaking_another_abi_version_is_refused() {
    let wat = wat_filter("(i64.const 0)").replace(
        r#"(func (export "wasmstash_abi_version") (result i32) (i32.const 1))"#,
        r#"(func (export "wasmstash_abi_version") (result i32) (i32.const 2))"#,
    );
    let err = load_error(wat.as_bytes(), "{}");
    assert_eq!(
        err,
        "module speaks wasmstash ABI version 2, but this host speaks version 1"
    );
    // Whatever else a version 2 module exports differently, its version is
    // what the operator is told, by loading and by `inspect` alike.
    let other_exports = wat
        .replace(r#"(func (export "wasmstash_free") (param i32 i32))"#, "")
        .replace(
            r#"(export "wasmstash_process") (param $ptr i32) (param $len i32)"#,
            r#"(export "wasmstash_process") (param $ptr i32) (param $len i32) (param i32)"#,
        );
    assert_eq!(load_error(other_exports.as_bytes(), "{}"), err);
    let inspection =
        wasmstash::engine::inspect(&strict_engine(), other_exports.as_bytes()).unwrap();
    assert_eq!(inspection.abi_version, Some(2));
    assert_eq!(inspection.problems[0], err);
    assert!(inspection.problems.len() > 1, "{:?}", inspection.problems);
}

#[test]
fn missing_exports_and_wrong_signatures_are_named() {
    let wat = wat_filter("(i64.const 0)").replace(r#"(export "wasmstash_process")"#, "");
    assert!(
        load_error(wat.as_bytes(), "{}")
            .contains("does not export the function `wasmstash_process`")
    );
    let wat = wat_filter("(i64.const 0)").replace(
        r#"(func (export "wasmstash_free") (param i32 i32))"#,
        r#"(func (export "wasmstash_free") (param i32))"#,
    );
    assert_eq!(
        load_error(wat.as_bytes(), "{}"),
        "export `wasmstash_free` has the wrong signature for ABI v1: \
         expected (func (param i32) (param i32)), found (func (param i32))"
    );
    // A module with none of them is most likely a Rust crate built without
    // the SDK's export macro: the message says so, once.
    let err = load_error(b"(module (func (export \"my_filter\")))", "{}");
    assert!(err.contains("exports none of the functions ABI v1 requires (wasmstash_abi_version, wasmstash_alloc, wasmstash_free, wasmstash_init, wasmstash_process)"), "{err}");
    assert!(
        err.contains("`wasmstash_sdk::export_filter!(YourFilter);`"),
        "{err}"
    );
    let inspection = wasmstash::engine::inspect(&strict_engine(), b"(module)").unwrap();
    let problems = &inspection.problems;
    assert!(
        problems[0].contains("exports none of the functions"),
        "{problems:?}"
    );
    assert!(
        !problems
            .iter()
            .any(|p| p.contains("does not export the function")),
        "{problems:?}"
    );
    // An optional export is checked too when a module has it.
    let wat = wat_filter("(i64.const 0)").replace(
        r#"(func (export "wasmstash_free") (param i32 i32))"#,
        r#"(func (export "wasmstash_free") (param i32 i32))
  (func (export "wasmstash_process_keyed") (param i32) (result i64) (i64.const 0))"#,
    );
    let err = load_error(wat.as_bytes(), "{}");
    assert!(err.contains("wasmstash_process_keyed"), "{err}");
}

/// A module that could save its state but never restore it would lose the
/// state at the first restart or replay, so loading refuses it.
#[test]
fn snapshot_without_restore_is_refused() {
    let snapshot = r#"(func (export "wasmstash_snapshot") (result i64) (i64.const 0))"#;
    let restore =
        r#"(func (export "wasmstash_restore") (param i32 i32) (result i64) (i64.const 0))"#;
    for (present, absent, export) in [
        ("wasmstash_snapshot", "wasmstash_restore", snapshot),
        ("wasmstash_restore", "wasmstash_snapshot", restore),
    ] {
        let wat = wat_filter("(i64.const 0)").replace(
            r#"(func (export "wasmstash_free") (param i32 i32))"#,
            &format!("(func (export \"wasmstash_free\") (param i32 i32))\n  {export}"),
        );
        let err = load_error(wat.as_bytes(), "{}");
        assert!(
            err.starts_with(&format!("exports `{present}` but not `{absent}`")),
            "{err}"
        );
        let engine = strict_engine();
        let inspection = wasmstash::engine::inspect(&engine, wat.as_bytes()).unwrap();
        assert!(!inspection.stateful);
        assert_eq!(inspection.problems, [err]);
    }
    let both = wat_filter("(i64.const 0)").replace(
        r#"(func (export "wasmstash_free") (param i32 i32))"#,
        &format!("(func (export \"wasmstash_free\") (param i32 i32))\n  {snapshot}\n  {restore}"),
    );
    assert!(load(&strict_engine(), "both", both.as_bytes(), "{}").is_stateful());
}

#[test]
fn wasi_and_other_imports_are_refused() {
    let wat = r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#;
    let err = load_error(wat.as_bytes(), "{}");
    assert!(
        err.contains("imports `wasi_snapshot_preview1::fd_write`"),
        "{err}"
    );
    assert!(
        err.contains("no WASI, filesystem, network or environment access"),
        "{err}"
    );
}

#[test]
fn an_import_of_the_wrong_signature_is_refused_naming_both() {
    let wat = wat_filter("(i64.const 0)").replacen(
        "(module",
        r#"(module (import "wasmstash" "log" (func (param i32 i32))) (import "wasmstash" "now_unix_nanos" (func (result i64)))"#,
        1,
    );
    assert_eq!(
        refused_and_inspected_alike(&wat),
        "import `wasmstash::log` has the wrong signature for ABI v1: expected \
         (func (param i32) (param i32) (param i32)), found (func (param i32) (param i32))"
    );
}

/// A memory that may never grow past one page cannot take the host's
/// input buffer: such a module loaded, and `inspect` passed it, but every
/// event failed with a trap in `wasmstash_alloc`. It is refused at load.
#[test]
fn a_memory_too_small_for_any_batch_is_refused() {
    let wat = wat_filter("(i64.const 0)").replacen(
        r#"(memory (export "memory") 2)"#,
        r#"(memory (export "memory") 1 1)"#,
        1,
    );
    let err = refused_and_inspected_alike(&wat);
    assert!(
        err.starts_with("its memory may grow to 1 page(s) of 64 KiB at most"),
        "{err}"
    );
}

/// A provided name imported as something other than a function is told
/// what it is, not that wasmstash lacks it.
#[test]
fn a_provided_import_of_the_wrong_kind_is_named_as_such() {
    let wat = wat_filter("(i64.const 0)").replacen(
        "(module",
        r#"(module (import "wasmstash" "now_unix_nanos" (global i64))"#,
        1,
    );
    let err = load_error(wat.as_bytes(), "{}");
    assert_eq!(
        err,
        "module imports `wasmstash::now_unix_nanos` as a global, but wasmstash provides it \
         as a function, (func (result i64))"
    );
}

/// A trap in the allocator the host calls around `init` names that export,
/// not `init`, which had succeeded.
#[test]
fn a_trap_in_wasmstash_free_is_said_to_be_there() {
    let wat = wat_filter("(i64.const 0)").replace(
        r#"(func (export "wasmstash_free") (param i32 i32))"#,
        r#"(func (export "wasmstash_free") (param i32 i32) unreachable)"#,
    );
    let err = load_error(wat.as_bytes(), "{}");
    assert!(err.starts_with("init failed: in wasmstash_free: "), "{err}");
}

#[test]
fn bytes_that_are_not_webassembly_are_refused() {
    assert!(
        load_error(b"\x00asm\x01\x00\x00\x00garbage", "{}")
            .contains("not a valid WebAssembly module")
    );
    assert!(load_error(b"hello, I am text", "{}").contains("not a WebAssembly module"));
}

#[test]
fn a_bad_config_is_reported_by_the_filter_itself() {
    let err = load_error(&built_module("json"), r#"{"source":"message","tagg":1}"#);
    assert!(
        err.starts_with("invalid config: unknown field `tagg`"),
        "{err}"
    );
    // The position would be in JSON the host wrote, not in the user's file.
    assert!(!err.contains(" at line "), "{err}");
    let err = load_error(&built_module("mutate"), r#"{"convert":{"a":"int"}}"#);
    assert!(err.contains("unknown type `int`"), "{err}");
    // Deep enough to overflow the module's stack on every event, if allowed.
    let deep = serde_json::json!({ "add_field": { "[a]".repeat(100_000): "x" } });
    let err = load_error(&built_module("mutate"), &deep.to_string());
    assert!(err.contains("100000 segments deep; at most 127"), "{err}");
}

#[test]
fn a_module_too_big_for_the_memory_limit_is_refused() {
    let wat = wat_filter("(i64.const 0)").replace(
        r#"(memory (export "memory") 2)"#,
        r#"(memory (export "memory") 1000)"#,
    );
    let err = load_error(wat.as_bytes(), "{}");
    assert!(err.contains("past its limit of 16 MiB"), "{err}");
}

#[test]
fn a_config_too_big_for_the_memory_limit_says_which_setting_to_raise() {
    // Each pattern is within grok's own cap; together they need more than
    // the strict engine's 16 MiB while grok compiles them at init.
    let patterns: Vec<String> = (0..20)
        .map(|i| format!("(?<f{i}>(?:[a-z0-9]{{1,3}}x|y[0-9a-f]{{1,4}}){{1,30000}})"))
        .collect();
    let config = serde_json::json!({ "match": { "message": patterns } });
    // Compiling them takes grok about 100 ms, and more on a loaded machine:
    // the memory limit, not the deadline, is what must stop it.
    let err = load_error_on(&data_engine(), &built_module("grok"), &config.to_string());
    assert!(err.starts_with("init failed: "), "{err}");
    assert!(err.contains("past its limit of 16 MiB"), "{err}");
    assert!(err.contains("raise memory_limit_mib"), "{err}");
}

/// A grow past the memory limit answers -1, as WebAssembly says a refused
/// grow does, so a module may go on without the memory; it trapped, and a
/// module that checked for -1 never got to. One that traps after it fails
/// as out of memory, naming the limit, whatever its trap was.
#[test]
fn a_grow_past_the_memory_limit_returns_minus_one() {
    let engine = strict_engine();
    let checks = wat_filter(&format!(
        "(if (i32.ne (memory.grow (i32.const 2000)) (i32.const -1)) (then unreachable)) {ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}"
    ));
    let mut checking = pipeline(load(&engine, "checks", checks.as_bytes(), "{}"));
    let results = as_json(checking.process(message_events(&["a"])));
    assert!(results[0]["tags"].is_null(), "{}", results[0]);

    let traps = wat_filter("(drop (memory.grow (i32.const 2000))) unreachable");
    let mut trapping = pipeline(load(&engine, "traps", traps.as_bytes(), "{}"));
    let results = as_json(trapping.process(message_events(&["a"])));
    let record = &results[0]["wasmstash"]["failures"][0];
    assert_eq!(record["kind"], "out_of_memory", "{}", results[0]);
    let reason = record["reason"].as_str().unwrap();
    assert!(reason.contains("past its limit of 16 MiB"), "{reason}");
}

/// An export named `memory` that is something else is said to be that,
/// not missing.
#[test]
fn an_export_memory_that_is_no_memory_is_named() {
    let wat = wat_filter("(i64.const 0)")
        .replace(r#"(memory (export "memory") 2)"#, "(memory 2)")
        .replace(
            r#"(func (export "wasmstash_free")"#,
            r#"(func (export "memory")) (func (export "wasmstash_free")"#,
        );
    let err = load_error(wat.as_bytes(), "{}");
    assert!(err.contains("export `memory` is not a memory"), "{err}");
}

#[test]
fn memories_are_limited_together_not_one_by_one() {
    // Three memories of 100 pages (6.25 MiB) each: each under the strict
    // engine's 16 MiB, together over it.
    let wat = wat_filter("(i64.const 0)").replace(
        r#"(memory (export "memory") 2)"#,
        r#"(memory (export "memory") 100) (memory $b 100) (memory $c 100)"#,
    );
    let err = load_error(wat.as_bytes(), "{}");
    assert!(err.contains("past its limit of 16 MiB"), "{err}");
    // Two of them fit, with the deadline's page beside them.
    assert_loads(&wat.replace("(memory $c 100)", ""));
    // A grow past a memory's own maximum fails (-1) and is not counted.
    let capped = wat_filter(&format!(
        "(drop (memory.grow $b (i32.const 200))) (drop (memory.grow $b (i32.const 60))) {ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}"
    ))
    .replace(
        r#"(memory (export "memory") 2)"#,
        r#"(memory (export "memory") 2) (memory $b 1 100)"#,
    );
    let engine = strict_engine();
    let mut pipeline = pipeline(load(&engine, "capped", capped.as_bytes(), "{}"));
    let results = as_json(pipeline.process(message_events(&["a"])));
    assert!(results[0]["tags"].is_null(), "{}", results[0]);
    // 64-bit memories are off: ABI v1 is 32-bit.
    let wide = wat_filter("(i64.const 0)").replace(
        r#"(memory (export "memory") 2)"#,
        r#"(memory (export "memory") 2) (memory $w i64 1)"#,
    );
    let err = load_error(wide.as_bytes(), "{}");
    assert!(err.contains("memory64"), "{err}");
    // Each memory reserves address space whatever its size: a module may
    // declare four.
    let empty = |n: usize| {
        (1..n)
            .map(|i| format!("(memory $e{i} 0)"))
            .collect::<String>()
    };
    let declaring = |n: usize| {
        wat_filter(&format!("{ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}")).replace(
            r#"(memory (export "memory") 2)"#,
            &format!(r#"(memory (export "memory") 2) {}"#, empty(n)),
        )
    };
    assert_loads(&declaring(4));
    let err = load_error(declaring(99).as_bytes(), "{}");
    assert!(
        err.contains("the module declares 99 memories; at most 4 are allowed"),
        "{err}"
    );
}

#[test]
fn modules_too_costly_to_compile_are_refused_before_compiling() {
    // One function of 1.1 MB of code (a `nop` is one byte).
    let huge = wat_filter(&format!("{} (i64.const 0)", "nop ".repeat(1_100_000)));
    let err = load_error(huge.as_bytes(), "{}");
    assert!(
        err.contains("bytes of code; at most 1048576 are compiled"),
        "{err}"
    );
    // 100,001 functions.
    let many = wat_filter("(i64.const 0)").replacen(
        r#"(func (export "wasmstash_free")"#,
        &format!(
            r#"{} (func (export "wasmstash_free")"#,
            "(func)".repeat(100_001)
        ),
        1,
    );
    let err = load_error(many.as_bytes(), "{}");
    assert!(
        err.contains("functions; at most 100000 are compiled"),
        "{err}"
    );
}

#[test]
fn a_version_export_that_traps_or_spins_is_told_as_such() {
    let version = r#"(func (export "wasmstash_abi_version") (result i32) (i32.const 1))"#;
    let trapping = wat_filter("(i64.const 0)").replace(
        version,
        r#"(func (export "wasmstash_abi_version") (result i32) unreachable)"#,
    );
    let err = load_error(trapping.as_bytes(), "{}");
    assert!(
        err.contains("wasmstash_abi_version failed: trap:") && err.contains("unreachable"),
        "{err}"
    );
    let spinning = wat_filter("(i64.const 0)").replace(
        version,
        r#"(func (export "wasmstash_abi_version") (result i32) (loop $l (br $l)) (i32.const 1))"#,
    );
    let err = load_error(spinning.as_bytes(), "{}");
    assert!(
        err.contains("wasmstash_abi_version failed: filter ran past its deadline of 200 ms"),
        "{err}"
    );
}

/// A module chooses its import names, and they reach the log, `check` and
/// `inspect`: a newline in one must not start a line the host did not
/// write, nor an escape sequence steer the terminal.
#[test]
fn names_a_module_chose_are_printed_escaped() {
    let hostile = "\\1b[31mRED\\0a2026-01-01 FORGED\\e2\\80\\ae";
    let wat = wat_filter("(i64.const 0)").replacen(
        "(module",
        &format!(r#"(module (import "env" "{hostile}" (func)) (func (export "{hostile}"))"#),
        1,
    );
    let err = load_error(wat.as_bytes(), "{}");
    assert!(
        err.contains(r"module imports `env::\u{1b}[31mRED\n2026-01-01 FORGED\u{202e}`"),
        "{err}"
    );
    let inspection = wasmstash::engine::inspect(&strict_engine(), wat.as_bytes()).unwrap();
    let listed = format!("{:?} {:?}", inspection.imports, inspection.exports);
    for raw in ['\u{1b}', '\n', '\u{202e}'] {
        assert!(!inspection.imports.concat().contains(raw), "{listed}");
        assert!(!inspection.exports.concat().contains(raw), "{listed}");
    }
}

/// An allocator that never returns fails the load as the module's fault:
/// raising the deadline, which the message used to advise, changes nothing.
#[test]
fn an_allocator_that_never_returns_is_not_blamed_on_the_config() {
    let wat = wat_filter("(i64.const 0)").replacen(
        r#"(func (export "wasmstash_free") (param i32 i32)"#,
        r#"(func (export "wasmstash_free") (param i32 i32) (loop $spin (br $spin))"#,
        1,
    );
    let err = load_error(wat.as_bytes(), "{}");
    assert!(
        err.starts_with("init failed: in wasmstash_free: filter ran past its deadline")
            && err.contains("the module's allocator did not return")
            && !err.contains("raise call_timeout_ms"),
        "{err}"
    );
}

/// `serve` and `run` refuse a config naming every broken filter, as `check`
/// does, so that the operator does not fix them one restart at a time.
#[test]
fn serve_and_run_name_every_broken_filter_not_only_the_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("text.wasm"), "hello, I am text").unwrap();
    std::fs::write(dir.path().join("cut.wasm"), b"\x00asm\x01\x00\x00\x00\x01").unwrap();
    let config = dir.path().join("broken.toml");
    std::fs::write(
        &config,
        "[pipelines.a]\nfilters = [{ module = \"text.wasm\" }]\n\
         [pipelines.b]\nfilters = [{ module = \"cut.wasm\" }, \
         { filter = \"grok\", config = { match = { message = \"%{NOPE:x}\" } } }]\n\
         [pipelines.c]\nfilters = [{ filter = \"mutate\", config = { lowercase = [\"message\"] } }]\n",
    )
    .unwrap();
    let every_problem = [
        "pipeline `a`, filter #1 (`text`): not a WebAssembly module",
        "pipeline `b`, filter #1 (`cut`): not a valid WebAssembly module",
        "pipeline `b`, filter #2 (`grok`): invalid config",
    ];
    let serve = ["serve", "--listen", "127.0.0.1:0", "--config"];
    let run = ["run", "--pipeline", "b", "--config"];
    for (args, problems) in [(&serve, &every_problem[..]), (&run, &every_problem[1..])] {
        let mut command = std::process::Command::new(support::server::binary());
        command.args(args).arg(&config);
        let (code, stderr) = refused_run(&mut command, "started with broken filters");
        assert_eq!(code, Some(2), "{stderr}");
        for problem in problems {
            assert!(stderr.contains(problem), "{problem}: {stderr}");
        }
    }
    let mut command = std::process::Command::new(support::server::binary());
    command.arg("run");
    for module in ["text.wasm", "cut.wasm"] {
        command.arg("--filter").arg(dir.path().join(module));
    }
    let (code, stderr) = refused_run(&mut command, "ran broken --filter modules");
    assert_eq!(code, Some(2), "{stderr}");
    for problem in [
        "--filter: filter #1 (`text`)",
        "--filter: filter #2 (`cut`)",
    ] {
        assert!(stderr.contains(problem), "{problem}: {stderr}");
    }
}
