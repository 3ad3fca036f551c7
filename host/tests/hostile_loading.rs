//! Hostile modules before and at instantiation: compiling, instantiating,
//! `init`, and the compiled-module cache. Each is refused with a bounded
//! message that says why, in bounded time.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::*;
use wasmstash::engine::{Engine, EngineSettings, FilterModule};

/// An engine that waits for a compilation at most `compile_timeout`.
fn engine_with(compile_timeout: Duration, cache_dir: Option<PathBuf>) -> Engine {
    Engine::new(EngineSettings {
        call_timeout: Some(Duration::from_millis(200)),
        memory_limit_bytes: 16 << 20,
        compile_timeout,
        cache_dir,
        ..Default::default()
    })
    .unwrap()
}

/// Why `engine` refuses `wat`.
fn refusal(engine: &Engine, wat: &str) -> String {
    match FilterModule::load(engine, "m", wat.as_bytes(), b"{}") {
        Ok(_) => panic!("module was accepted"),
        Err(e) => e.to_string(),
    }
}

/// The compiled-module entries in `dir`.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    entries
}

#[test]
fn a_module_too_costly_to_compile_is_refused_at_the_compile_timeout() {
    let wat = slow_to_compile(6000);
    let cache = tempfile::tempdir().unwrap();
    let engine = engine_with(Duration::from_millis(200), Some(cache.path().into()));
    let started = Instant::now();
    let error = refusal(&engine, &wat);
    assert!(
        error.contains("compiling the module took longer than 200 ms (engine.compile_timeout_ms)"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "{error}");
    // The compilation runs on; loading the module again, even on another
    // engine (as a reload builds), is refused at once rather than starting
    // a second one.
    let error = refusal(&engine_with(Duration::from_millis(200), None), &wat);
    assert!(error.contains("is still running"), "{error}");
    // It is refused so until the compilation ends; what it made is not
    // cached, so the module is then compiled again, and again refused.
    let waited = Instant::now();
    loop {
        let error = refusal(&engine, &wat);
        if error.contains("took longer than 200 ms") {
            break;
        }
        assert!(error.contains("is still running"), "{error}");
        assert!(waited.elapsed() < Duration::from_secs(120), "never ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(entries(cache.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_module_within_the_compile_timeout_loads() {
    let engine = engine_with(Duration::from_secs(60), None);
    let module = FilterModule::load(&engine, "m", slow_to_compile(500).as_bytes(), b"{}");
    assert!(module.is_ok(), "{:?}", module.err());
}

#[test]
fn the_compile_timeout_is_a_bounded_setting() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("slow.wat");
    std::fs::write(&module, slow_to_compile(6000)).unwrap();
    let config = dir.path().join("conf.toml");
    let check = |engine: &str| {
        let text = format!("[engine]\n{engine}\n[[pipelines.p.filters]]\nmodule = \"slow.wat\"\n");
        std::fs::write(&config, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"))
            .args(["check", config.to_str().unwrap()])
            .env("WASMSTASH_CACHE_DIR", dir.path().join("cache"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = check("compile_timeout_ms = 0");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("compile_timeout_ms = 0: must be between 1 and 3600000"),
        "{stderr}"
    );
    let started = Instant::now();
    let (code, stderr) = check("compile_timeout_ms = 300");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "pipeline `p`, filter #1 (`slow`): compiling the module took longer than 300 ms"
        ),
        "{stderr}"
    );
    // The process does not wait for the compilation it gave up.
    assert!(started.elapsed() < Duration::from_secs(10), "{stderr}");
}

#[test]
fn an_init_error_message_is_cut_to_a_bounded_length_keeping_both_ends() {
    // `init` answers with a message of a million bytes: `A`s, then ten `Z`s,
    // where a real message would say why.
    let init = r#"(func (export "wasmstash_init") (param i32 i32) (result i64) (i64.const 0))"#;
    let wat = wat_filter("(i64.const 0)")
        .replace(
            r#"(memory (export "memory") 2)"#,
            r#"(memory (export "memory") 40)"#,
        )
        .replace(
            init,
            r#"(func (export "wasmstash_init") (param i32 i32) (result i64)
    (memory.fill (i32.const 1000000) (i32.const 65) (i32.const 1000000))
    (memory.fill (i32.const 1999990) (i32.const 90) (i32.const 10))
    (i64.or (i64.shl (i64.const 1000000) (i64.const 32)) (i64.const 1000000)))"#,
        );
    let error = load_error(wat.as_bytes(), "{}");
    assert!(
        error.starts_with("invalid config: AAAA"),
        "{}",
        &error[..100]
    );
    assert!(error.len() < 5000, "{} bytes", error.len());
    assert!(error.contains("AAAA … (cut from 1000000 bytes) … AAAA"));
    assert!(error.ends_with("AZZZZZZZZZZ"), "{}", &error[4000..]);
}

#[test]
fn an_instantiation_trap_or_limit_is_said_once() {
    let out_of_bounds = with_function(
        &wat_filter("(i64.const 0)"),
        r#"(data (i32.const 200000) "x")"#,
    );
    let error = load_error(out_of_bounds.as_bytes(), "{}");
    assert_eq!(
        error,
        "cannot instantiate: trap: out of bounds memory access"
    );
    let too_big = wat_filter("(i64.const 0)").replace(
        r#"(memory (export "memory") 2)"#,
        r#"(memory (export "memory") 65536)"#,
    );
    let error = load_error(too_big.as_bytes(), "{}");
    assert_eq!(
        error,
        "cannot instantiate: filter's memory would hold 4096 MiB in all, past its limit of 16 MiB"
    );
    // A start function's failure still says it was the start function.
    let start = with_function(
        &wat_filter("(i64.const 0)"),
        "(func $start unreachable) (start $start)",
    );
    let error = load_error(start.as_bytes(), "{}");
    assert!(
        error.starts_with("cannot instantiate: running the module's start function: trap:"),
        "{error}"
    );
}

#[test]
fn tables_past_the_instance_limit_name_it() {
    let wat = wat_filter("(i64.const 0)").replace(
        r#"(memory (export "memory") 2)"#,
        r#"(memory (export "memory") 2) (table $a 60000 funcref) (table $b 60000 funcref)"#,
    );
    let error = load_error(wat.as_bytes(), "{}");
    assert!(
        error.contains("exceeds table limits: its tables would hold 120000 elements in all, past the limit of 100000 per instance"),
        "{error}"
    );
    // `inspect` instantiates it too, and names the limit alike.
    let inspection = wasmstash::engine::inspect(&strict_engine(), wat.as_bytes()).unwrap();
    assert!(
        inspection.problems.contains(&error),
        "{error} not among {:?}",
        inspection.problems
    );
    assert_loads(&wat.replace("(table $b 60000 funcref)", ""));
    // A start function whose table.grow was refused (it gets -1 and goes
    // on) and that then traps is told the trap, by `inspect` too.
    let grows_then_traps = with_function(
        &wat_filter("(i64.const 0)").replace(
            r#"(memory (export "memory") 2)"#,
            r#"(memory (export "memory") 2) (table $t 1 funcref)"#,
        ),
        "(func $start (drop (table.grow $t (ref.null func) (i32.const 200000))) unreachable) \
         (start $start)",
    );
    let error = load_error(grows_then_traps.as_bytes(), "{}");
    assert!(
        error.starts_with("cannot instantiate: running the module's start function: trap:")
            && !error.contains("its tables would hold"),
        "{error}"
    );
    let inspection =
        wasmstash::engine::inspect(&strict_engine(), grows_then_traps.as_bytes()).unwrap();
    assert!(
        (inspection.problems.iter())
            .any(|p| p.contains("trap") && !p.contains("its tables would hold")),
        "{:?}",
        inspection.problems
    );
}

/// A filter whose `init` accepts any config, or, when `refusing`, answers
/// every config with "I am module B".
fn filter(refusing: bool) -> String {
    let wat = wat_filter("(i64.const 0)");
    if !refusing {
        return wat;
    }
    wat.replace(
        r#"(func (export "wasmstash_init") (param i32 i32) (result i64) (i64.const 0))"#,
        r#"(data (i32.const 8) "I am module B")
  (func (export "wasmstash_init") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 8) (i64.const 32)) (i64.const 13)))"#,
    )
}

#[test]
fn a_cache_entry_copied_to_another_modules_name_is_not_run() {
    let cache = tempfile::tempdir().unwrap();
    let engine = || engine_with(Duration::from_secs(60), Some(cache.path().into()));
    load(&engine(), "a", filter(false).as_bytes(), "{}");
    let a = entries(cache.path()).pop().unwrap();
    let error = FilterModule::load(&engine(), "b", filter(true).as_bytes(), b"{}")
        .err()
        .unwrap();
    assert_eq!(error.to_string(), "invalid config: I am module B");
    let b = entries(cache.path()).into_iter().find(|e| *e != a).unwrap();
    // B's entry, sound in itself, under A's name: A must still run as A.
    std::fs::copy(&b, &a).unwrap();
    let module = FilterModule::load(&engine(), "a", filter(false).as_bytes(), b"{}");
    let module = module.unwrap_or_else(|e| panic!("A ran B's code: {e}"));
    assert!(!module.from_cache());
    // Compiled again and stored under its own name, it is a hit next time.
    assert!(load(&engine(), "a", filter(false).as_bytes(), "{}").from_cache());
}

#[test]
fn a_failed_cache_write_leaves_nothing_behind() {
    let first = tempfile::tempdir().unwrap();
    let engine = |dir: &Path| engine_with(Duration::from_secs(60), Some(dir.into()));
    load(&engine(first.path()), "a", filter(false).as_bytes(), "{}");
    let name = entries(first.path()).pop().unwrap();
    // Where the entry would go, a directory: writing the entry fails, as
    // on a full disk, after its temporary file was made.
    let cache = tempfile::tempdir().unwrap();
    let blocked = cache.path().join(name.file_name().unwrap());
    std::fs::create_dir(&blocked).unwrap();
    let module = load(&engine(cache.path()), "a", filter(false).as_bytes(), "{}");
    assert!(!module.from_cache());
    assert_eq!(entries(cache.path()), vec![blocked]);
}
