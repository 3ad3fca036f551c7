//! `wasmstash inspect`: what it says of a module, and that it judges a
//! module's start as `run` would (its limits, its deadline, the ABI's
//! imports), on real modules and WebAssembly text.

mod support;
// Not in `support`: the benchmarks share that, and have no binary to run.
#[path = "support/binary.rs"]
mod binary;
#[path = "support/rlimit.rs"]
mod rlimit;

use binary::*;
use support::*;

/// A module that never finishes starting is said to have run past the
/// deadline, in those words, as `run` says it of a call.
#[test]
fn inspect_names_the_deadline_when_a_module_never_starts() {
    let report = inspect_with_start("(loop $forever (br $forever))");
    assert!(
        report.contains("ran past the deadline of 1000 ms while starting"),
        "{report}"
    );
    // A limit is no breach of the ABI: whether it meets it is not known.
    assert!(report.contains("verdict     cannot tell: "), "{report}");
    // A start function that fails is blamed, not the ABI version's call.
    let report = inspect_with_start("unreachable");
    assert!(
        report.contains("cannot instantiate: running the module's start function: trap: "),
        "{report}"
    );
    // In one line: wasmtime's text of a trap opens with its backtrace.
    assert!(!report.contains("backtrace"), "{report}");
    assert!(report.contains("verdict     does NOT meet"), "{report}");
}

/// A module whose memory starts above the default limit cannot be checked
/// under it, and is under a higher one given on the command line.
#[test]
fn inspect_takes_the_limits_a_module_needs() {
    let dir = tempfile::tempdir().unwrap();
    let big = wat_filter("(i64.const 0)").replacen(
        "(memory (export \"memory\") 2)",
        "(memory (export \"memory\") 2000)",
        1,
    );
    assert!(big.contains("2000)"), "{big}");
    let module = dir.path().join("big.wat");
    std::fs::write(&module, big).unwrap();
    let path = module.to_str().unwrap();
    let out = wasmstash(&["inspect", path], b"");
    assert_eq!(out.status.code(), Some(2));
    let report = text(&out.stdout);
    assert!(
        report.contains("verdict     cannot tell: it could not start under this check's limits")
            && report.contains("past its limit of 64 MiB")
            && report.contains("try inspect's --memory-limit-mib"),
        "{report}"
    );
    let out = wasmstash(&["inspect", "--memory-limit-mib", "256", path], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("verdict     meets wasmstash ABI v1"));
    // No deadline could hang the check on a start that never ends.
    let out = wasmstash(&["inspect", "--call-timeout-ms", "0", path], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("inspect needs a deadline"),
        "{}",
        text(&out.stderr)
    );
}

/// What `inspect` says of a module whose start function runs `body`.
fn inspect_with_start(body: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let started = wat_filter("(i64.const 0)").replacen(
        "(module",
        &format!("(module\n  (func $start {body})\n  (start $start)"),
        1,
    );
    let module = dir.path().join("started.wat");
    std::fs::write(&module, started).unwrap();
    let out = wasmstash(&["inspect", module.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    text(&out.stdout) + &text(&out.stderr)
}

/// A file cut off inside WebAssembly's header is said to be cut short,
/// not to be of another version.
#[test]
fn a_module_cut_inside_its_header_is_said_to_be_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("cut.wasm");
    std::fs::write(&module, b"\0asm\x01\0").unwrap();
    let out = wasmstash(&["inspect", module.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let report = text(&out.stderr);
    assert!(report.contains("the file is cut short"), "{report}");
}

#[test]
fn inspect_explains_a_module() {
    let hello = format!("{}/hello.wasm", wasmstash::builtins::build_module_dir());
    let out = wasmstash(&["inspect", &hello], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("abi         1") && report.contains("verdict     meets wasmstash ABI v1"),
        "{report}"
    );

    let dir = tempfile::tempdir().unwrap();
    let v2 = dir.path().join("v2.wat");
    std::fs::write(
        &v2,
        wat_filter("(i64.const 0)").replace("(i32.const 1))", "(i32.const 2))"),
    )
    .unwrap();
    let out = wasmstash(&["inspect", "--json", v2.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["abi_version"], 2);
    assert_eq!(
        report["problems"][0],
        "module speaks wasmstash ABI version 2, but this host speaks version 1"
    );
    assert_eq!(report["memory_pages"], serde_json::json!([2, null]));
    // A file that is no module gets a JSON answer too, for the script.
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01").unwrap();
    let out = wasmstash(&["inspect", "--json", junk.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{report}"
    );

    // A start function may use the ABI's imports, as it may in `run`.
    let logs = dir.path().join("logs-at-start.wat");
    let with_start = |version: &str| {
        wat_filter("(i64.const 0)")
            .replace("(i32.const 1))", &format!("(i32.const {version}))"))
            .replacen(
                "(module",
                "(module\n  (import \"wasmstash\" \"log\" (func $log (param i32 i32 i32)))\n  \
                 (import \"wasmstash\" \"now_unix_nanos\" (func $now (result i64)))\n  \
                 (import \"wasmstash\" \"metric_add\" (func $count (param i32 i32 i64)))\n  \
                 (func $start (call $log (i32.const 3) (i32.const 1024) (i32.const 4)) \
                 (drop (call $now)) (call $count (i32.const 1024) (i32.const 4) (i64.const 1)))\n  \
                 (start $start)",
                1,
            )
    };
    std::fs::write(&logs, with_start("1")).unwrap();
    let out = wasmstash(&["inspect", logs.to_str().unwrap()], b"");
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    std::fs::write(&logs, with_start("2")).unwrap();
    let out = wasmstash(&["inspect", "--json", logs.to_str().unwrap()], b"");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["abi_version"], 2, "{report}");
    // A module for a later ABI, whose `log` has another type, is told its
    // version, not only that the type is wrong.
    let other_log = with_start("2").replace(
        "(func $log (param i32 i32 i32))",
        "(func $log (param i32 i32))",
    );
    let other_log = other_log.replace(
        "(call $log (i32.const 3) (i32.const 1024) (i32.const 4))",
        "",
    );
    std::fs::write(&logs, other_log).unwrap();
    let out = wasmstash(&["inspect", "--json", logs.to_str().unwrap()], b"");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["abi_version"], 2, "{report}");
    // And is held to what they check, as in `run`: a line out of bounds.
    let out_of_bounds = with_start("1").replace(
        "(i32.const 1024) (i32.const 4)",
        "(i32.const -16) (i32.const 1000)",
    );
    std::fs::write(&logs, out_of_bounds).unwrap();
    let out = wasmstash(&["inspect", logs.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("out-of-bounds"),
        "{}",
        text(&out.stdout)
    );
}

/// Under an address-space limit (`ulimit -v`) too small for an instance's
/// reservation, the host says so, and `inspect` does not blame the module.
#[test]
fn an_address_space_limit_is_the_hosts_not_the_modules() {
    let hello = format!("{}/hello.wasm", wasmstash::builtins::build_module_dir());
    let limited = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"));
        command
            .args(args)
            .env(
                "WASMSTASH_CACHE_DIR",
                std::env::temp_dir().join("wasmstash-test-cache"),
            )
            .stdin(std::process::Stdio::null());
        rlimit::limit(&mut command, libc::RLIMIT_AS, 3 << 30);
        command.output().unwrap()
    };
    let reserve = "could not reserve the address space an instance needs";
    let out = limited(&["inspect", &hello]);
    let report = text(&out.stdout);
    assert!(
        report.contains("verdict     cannot tell: ") && report.contains(reserve),
        "{report}{}",
        text(&out.stderr)
    );
    let out = limited(&["run", "--filter", &hello, "/dev/null"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(reserve), "{}", text(&out.stderr));
    // The figure is this module's: its memory and the tripwire's.
    assert!(
        text(&out.stderr)
            .contains("about 8.2 GiB for this one, 4.1 GiB for each of its memories (2,"),
        "{}",
        text(&out.stderr)
    );
    // A trap is the module's, whatever the names in its backtrace say.
    let report = inspect_with_start(r#"(@name "mmap failed to reserve") unreachable"#);
    assert!(
        report.contains("does NOT meet wasmstash ABI v1") && !report.contains(reserve),
        "{report}"
    );
}
