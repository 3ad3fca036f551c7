//! Compiling in a child process, as the `wasmstash` binary does: a
//! compilation past `engine.compile_timeout_ms` is killed rather than left
//! running, and one past `engine.compile_memory_mib` is refused with that
//! setting named, while the sidecar itself is untouched.

#[path = "support/rlimit.rs"]
mod rlimit;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;
use wasmstash::engine::{Engine, EngineSettings};

/// Held by each test that compiles in children of this process, so that
/// none sees (or kills) another's.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An engine that compiles in children of the built binary, as the binary's
/// own engines do.
fn engine_with(settings: EngineSettings) -> Engine {
    wasmstash::engine::compile_in_child_processes(env!("CARGO_BIN_EXE_wasmstash").into());
    Engine::new(EngineSettings {
        cache_dir: None,
        ..settings
    })
    .unwrap()
}

/// A number from `/proc/PID/stat` after the process's name: `index` 1 is
/// its parent, 2 its process group. `None` once the process is gone.
fn stat_after_name(pid: u32, index: usize) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (name) state ppid pgrp ...": the name may hold spaces or brackets.
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(index)?.parse().ok()
}

/// The compiler processes this test process has started and not yet reaped.
fn compilers_running() -> Vec<u32> {
    let me = std::process::id();
    let is_compiler_of_mine = |pid: u32| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        stat_after_name(pid, 1) == Some(me)
            && String::from_utf8_lossy(&cmdline).contains("compile-module")
    };
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| is_compiler_of_mine(pid))
        .collect()
}

/// `slow_to_compile`'s module as a binary. A module in the text format is
/// first read in a child process of its own, timed against the same
/// `compile_timeout_ms`: these tests time compiling alone.
fn slow_binary(locals: usize) -> Vec<u8> {
    wat::parse_str(slow_to_compile(locals)).unwrap()
}

/// A filter with one function of `values` constants summed: small, but
/// Cranelift keeps about a kilobyte per value while it compiles it
/// (200,000: about 600 KB of module, 230 MB of the compiler's memory).
fn costly_in_memory(values: usize) -> String {
    let function = format!(
        "(func $wide (result i64) {}{})",
        "(i64.const 1)".repeat(values),
        "(i64.add)".repeat(values - 1)
    );
    with_function(&wat_filter("(i64.const 0)"), &function)
}

#[test]
fn a_compilation_past_the_timeout_is_killed_not_left_running() {
    let _alone = one_at_a_time();
    // About 30 s of Cranelift in this process, where it could not be stopped.
    let wasm = slow_binary(20_000);
    let engine = engine_with(EngineSettings {
        compile_timeout: Duration::from_millis(300),
        ..Default::default()
    });
    let error = load_error_on(&engine, &wasm, "{}");
    assert!(
        error.contains("compiling the module took longer than 300 ms (engine.compile_timeout_ms)"),
        "{error}"
    );
    eventually("the compiler process is killed and reaped", || {
        compilers_running().is_empty()
    });
    // Nothing runs on in the background, and the same module would take as
    // long again: the next load is refused at once with the same verdict,
    // never told that an earlier compilation still runs, and starts no
    // compiler. (The wording says which: a load that compiled, or waited
    // for a compilation, is told "compiling the module took longer".)
    let error = load_error_on(&engine, &wasm, "{}");
    assert!(
        error.contains("an earlier compilation of this module took longer than 300 ms"),
        "{error}"
    );
    assert!(compilers_running().is_empty());
    // A larger limit (a reload with a new engine) tries again.
    let patient = engine_with(EngineSettings {
        compile_timeout: Duration::from_millis(600),
        ..Default::default()
    });
    let error = load_error_on(&patient, &wasm, "{}");
    assert!(
        error.contains("compiling the module took longer than 600 ms"),
        "{error}"
    );
    eventually("the second compiler process is gone too", || {
        compilers_running().is_empty()
    });
}

/// Stages (of one pipeline or several) that load the same slow module at
/// once share its one compilation, and all are told the same: that it took
/// too long. Whichever waiter woke first to give it up, the others were
/// told "an earlier compilation", which none of them had seen. A load that
/// comes once they have been told is told of the earlier one.
#[test]
fn loads_of_one_slow_module_at_once_are_all_told_it_took_too_long() {
    let _alone = one_at_a_time();
    let wasm = slow_binary(20_000);
    // Long enough for every loader to join the compilation before it is
    // given up, however the threads are scheduled.
    let engine = engine_with(EngineSettings {
        compile_timeout: Duration::from_secs(2),
        ..Default::default()
    });
    let loaders = 6;
    let together = std::sync::Barrier::new(loaders);
    let errors: Vec<String> = std::thread::scope(|scope| {
        let loading: Vec<_> = (0..loaders)
            .map(|_| {
                scope.spawn(|| {
                    together.wait();
                    load_error_on(&engine, &wasm, "{}")
                })
            })
            .collect();
        loading.into_iter().map(|l| l.join().unwrap()).collect()
    });
    for error in &errors {
        assert!(
            error.contains(
                "compiling the module took longer than 2000 ms (engine.compile_timeout_ms), so \
                 it was given up"
            ),
            "{errors:#?}"
        );
    }
    eventually("the compiler process is killed and reaped", || {
        compilers_running().is_empty()
    });
    let error = load_error_on(&engine, &wasm, "{}");
    assert!(
        error.contains("an earlier compilation of this module took longer than 2000 ms"),
        "{error}"
    );
    assert!(compilers_running().is_empty());
}

/// Through the binary: `check` loads two pipelines' stages of the same slow
/// module one after the other. The first is told its compilation took too
/// long; the second, refused at once, of that earlier compilation.
#[test]
fn a_second_stage_of_a_module_given_up_is_told_of_the_earlier_compilation() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("slow.wasm");
    std::fs::write(&module, slow_binary(20_000)).unwrap();
    let stage = format!("module = {:?}", module.display().to_string());
    let config = dir.path().join("conf.toml");
    let text = format!(
        "[engine]\ncompile_timeout_ms = 1000\n\
         [[pipelines.first.filters]]\n{stage}\n[[pipelines.second.filters]]\n{stage}\n"
    );
    std::fs::write(&config, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["check", config.to_str().unwrap()])
        .env("WASMSTASH_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_refused(
        out.status.code(),
        &stderr,
        "pipeline `first`, filter #1 (`slow`): compiling the module took longer than 1000 ms",
    );
    assert_refused(
        out.status.code(),
        &stderr,
        "pipeline `second`, filter #1 (`slow`): an earlier compilation of this module took \
         longer than 1000 ms",
    );
}

/// The record of a module that ran past the compile timeout is asked only
/// when the cache has no compiled module, and a success forgets it: a
/// module compiled under a larger limit then loads under the small one
/// again. (It was asked first, and kept, so such a module stayed refused.)
#[test]
fn a_module_once_too_slow_loads_from_the_cache_once_compiled() {
    let _alone = one_at_a_time();
    let cache = tempfile::tempdir().unwrap();
    let with_timeout = |timeout: Duration| {
        wasmstash::engine::compile_in_child_processes(env!("CARGO_BIN_EXE_wasmstash").into());
        Engine::new(EngineSettings {
            cache_dir: Some(cache.path().to_owned()),
            compile_timeout: timeout,
            ..Default::default()
        })
        .unwrap()
    };
    // Some hundreds of milliseconds of Cranelift, whatever the machine. A
    // binary: text would be read in a child, within the 20 ms, on every
    // load, the one from the cache included.
    let wasm = slow_binary(3_000);
    let hasty = with_timeout(Duration::from_millis(20));
    let error = load_error_on(&hasty, &wasm, "{}");
    assert!(
        error.contains("compiling the module took longer than 20 ms"),
        "{error}"
    );
    let patient = with_timeout(Duration::from_secs(120));
    load(&patient, "slow", &wasm, "{}");
    load(
        &with_timeout(Duration::from_millis(20)),
        "slow",
        &wasm,
        "{}",
    );
}

#[test]
fn a_module_compiles_in_a_child_bounded_by_the_cap_and_runs() {
    let _alone = one_at_a_time();
    // No compiler fits in 16 MiB of address space, so this refusal says
    // that the compilation ran in a child under the cap.
    let cramped = engine_with(EngineSettings {
        compile_memory_bytes: 16 << 20,
        ..Default::default()
    });
    let json = built_module("json");
    let error = load_error_on(&cramped, &json, r#"{"source":"message"}"#);
    assert!(
        error.contains(
            "needed more than the 16 MiB of address space that engine.compile_memory_mib allows"
        ),
        "{error}"
    );
    let engine = engine_with(EngineSettings::default());
    let mut pipeline = pipeline(load(&engine, "json", &json, r#"{"source":"message"}"#));
    let results = as_json(pipeline.process(message_events(&[r#"{"a":1}"#])));
    assert_eq!(results[0]["a"], 1, "{results:?}");
}

/// `wasmstash check` of a pipeline of one filter (`filter`, its TOML
/// lines), with `engine` as the `[engine]` table and `prepare` applied to
/// the command: exit code and stderr.
fn check_with(
    dir: &Path,
    filter: &str,
    engine: &str,
    prepare: impl FnOnce(&mut Command),
) -> (Option<i32>, String) {
    let config = dir.join("conf.toml");
    let text = format!("[engine]\n{engine}\n[[pipelines.p.filters]]\n{filter}\n");
    std::fs::write(&config, text).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmstash"));
    command
        .args(["check", config.to_str().unwrap()])
        .env("WASMSTASH_CACHE_DIR", dir.join("cache"));
    prepare(&mut command);
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr)
}

/// That `check` refused its config (exit 2), saying `reason`.
fn assert_refused(code: Option<i32>, stderr: &str, reason: &str) {
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(reason), "{stderr}");
}

/// [`check_with`] of the module at `module`.
fn check_module(
    dir: &Path,
    module: &Path,
    engine: &str,
    prepare: impl FnOnce(&mut Command),
) -> (Option<i32>, String) {
    let filter = format!("module = {:?}", module.display().to_string());
    check_with(dir, &filter, engine, prepare)
}

/// [`check_module`], nothing else changed.
fn check(dir: &Path, module: &Path, engine: &str) -> (Option<i32>, String) {
    check_module(dir, module, engine, |_| {})
}

/// [`check_with`] of the built-in json filter.
fn check_builtin(prepare: impl FnOnce(&mut Command)) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let filter = "filter = \"json\"\nconfig = { source = \"message\" }";
    check_with(dir.path(), filter, "", prepare)
}

#[test]
fn a_compilation_past_its_memory_cap_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let module: PathBuf = dir.path().join("wide.wat");
    std::fs::write(&module, costly_in_memory(200_000)).unwrap();

    let (code, stderr) = check(dir.path(), &module, "compile_memory_mib = 256");
    assert_refused(
        code,
        &stderr,
        "pipeline `p`, filter #1 (`wide`): compiling the module needed more than the 256 MiB \
             of address space that engine.compile_memory_mib allows, so it was refused",
    );
    // The default leaves room for it.
    let (code, stderr) = check(dir.path(), &module, "");
    assert_eq!(code, Some(0), "{stderr}");

    let (code, stderr) = check(dir.path(), &module, "compile_memory_mib = 100");
    assert_refused(
        code,
        &stderr,
        "compile_memory_mib = 100: must be between 256 and 65536",
    );
}

/// The text format was made a binary in the sidecar's own process, outside
/// the compiler's bounds: 8 MiB of `(param i32 ...)` took some 400 MiB
/// there. It is read in a child under the same cap, and a syntax error is
/// still told by line and column.
#[test]
fn the_text_format_is_read_under_the_compilers_memory_cap() {
    let dir = tempfile::tempdir().unwrap();
    let module: PathBuf = dir.path().join("params.wat");
    let params = "i32 ".repeat(2 << 20);
    std::fs::write(&module, format!("(module (type (func (param {params}))))")).unwrap();
    let (code, stderr) = check(dir.path(), &module, "compile_memory_mib = 256");
    assert_refused(
        code,
        &stderr,
        "pipeline `p`, filter #1 (`params`): reading the module's text format needed more than \
         the 256 MiB of address space that engine.compile_memory_mib allows, so it was refused",
    );

    let module: PathBuf = dir.path().join("broken.wat");
    std::fs::write(&module, "(module\n  (func (result i32)\n").unwrap();
    let (code, stderr) = check(dir.path(), &module, "");
    assert_refused(
        code,
        &stderr,
        "pipeline `p`, filter #1 (`broken`): not a WebAssembly module (text format): line 3, \
         column 1: expected `)`",
    );
}

#[test]
fn a_compiler_killed_by_someone_else_is_said_to_be() {
    let _alone = one_at_a_time();
    let engine = engine_with(EngineSettings {
        compile_timeout: Duration::from_secs(120),
        ..Default::default()
    });
    let wasm = slow_binary(20_000);
    let loading = std::thread::spawn(move || load_error_on(&engine, &wasm, "{}"));
    let mut compilers = Vec::new();
    eventually("the compiler process starts", || {
        compilers = compilers_running();
        !compilers.is_empty()
    });
    for &pid in &compilers {
        // In a process group of its own, out of reach of a Ctrl-C or hangup
        // meant for the sidecar's.
        assert_eq!(stat_after_name(pid, 2), Some(pid));
    }
    // As the kernel's out-of-memory killer would.
    for pid in compilers {
        // SAFETY: kill sends a signal to a process of this test's own.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    let error = loading.join().unwrap();
    assert!(
        error.contains("the compiler process was killed (SIGKILL), not by wasmstash"),
        "{error}"
    );
}

#[test]
fn the_compiler_reads_the_engine_settings_wasmtime_takes_from_the_environment() {
    // wasmtime's Config::new reads it: a child without it compiled what
    // the parent's engine refused to load.
    let (code, stderr) = check_builtin(|command| {
        command.env("WASMTIME_BACKTRACE_DETAILS", "1");
    });
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_compiler_out_of_cpu_time_under_a_lower_inherited_limit_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("slow.wasm");
    std::fs::write(&module, slow_binary(20_000)).unwrap();
    let (code, stderr) = check_module(dir.path(), &module, "", |command| {
        rlimit::limit(command, libc::RLIMIT_CPU, 2)
    });
    assert_refused(code, &stderr, "the compiler process ran out of CPU time");
}

#[test]
fn the_compiler_keeps_lower_limits_it_was_started_under() {
    // A sidecar started under a hard CPU limit below what the child would
    // ask for: the child keeps the lower one rather than failing to set it.
    let (code, stderr) = check_builtin(|command| rlimit::limit(command, libc::RLIMIT_CPU, 30));
    assert_eq!(code, Some(0), "{stderr}");
}
