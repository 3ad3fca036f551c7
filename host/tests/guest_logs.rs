//! What a filter writes to the host's log is bounded and cannot pass for
//! the host's own lines: at most 1,000 lines a call (the rest counted in one
//! warning), and control characters escaped, so a newline cannot start a
//! forged line and an escape sequence cannot steer the operator's terminal.

#[path = "support/binary.rs"]
mod binary;
mod support;

use binary::*;
use support::*;

#[test]
fn a_filter_logging_in_a_loop_is_cut_off_and_cannot_forge_lines() {
    // 3,000 warnings of "said\nFORGED\x1b[2J" in one call, then every event
    // unchanged.
    let process = format!(
        r#"(local.set $i (i32.const 3000))
        (loop $again
          (call $log (i32.const 2) (i32.const 3000) (i32.const 16))
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br_if $again (local.get $i)))
        {ALL_UNCHANGED}
        {RETURN_OUTPUT_AT_2048}"#
    );
    let wat = wat_filter(&process).replacen(
        "(module",
        r#"(module
  (import "wasmstash" "log" (func $log (param i32 i32 i32)))
  (data (i32.const 3000) "said\0aFORGED\1b[2J")"#,
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chatty.wat"), &wat).unwrap();
    std::fs::write(
        dir.path().join("w.toml"),
        "[[pipelines.p.filters]]\nmodule = \"chatty.wat\"\n",
    )
    .unwrap();
    let output = wasmstash_in(
        dir.path(),
        &[
            "run",
            "--config",
            "w.toml",
            "--pipeline",
            "p",
            "--format",
            "lines",
            "-",
        ],
        b"one line\n",
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = stderr
        .lines()
        .filter(|l| l.contains(r"said\nFORGED\u{1b}[2J"))
        .count();
    assert_eq!(said, 1000, "{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with("FORGED")), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "a raw escape reached the log");
    assert!(
        stderr.contains("2000 more log lines of one call dropped"),
        "{stderr}"
    );
}
