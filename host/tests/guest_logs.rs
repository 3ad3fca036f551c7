//! What a filter writes to the host's log is bounded and cannot pass for
//! the host's own lines: at most 200 lines shown per filter per 10 s (lines
//! below the log level not counted), whatever the
//! calls and instances (the rest counted in one warning), each line naming
//! its pipeline and filter, and control characters escaped, so a newline
//! cannot start a forged line and an escape sequence cannot steer the
//! operator's terminal. The host's own warnings about a filter's failed
//! calls are rationed the same way.

#[path = "support/binary.rs"]
mod binary;
mod support;

use binary::*;
use support::*;

/// A filter that logs `times` lines of `len` bytes at address 3000 at ABI
/// `level` in one call, runs `then`, and passes every event unchanged;
/// `data` is the WAT string at 3000 (and any data segments after it).
fn logging_filter(times: u32, level: u32, len: u32, then: &str, data: &str) -> String {
    let process = format!(
        r#"(local.set $i (i32.const {times}))
        (loop $again
          (call $log (i32.const {level}) (i32.const 3000) (i32.const {len}))
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br_if $again (local.get $i)))
        {then}
        {ALL_UNCHANGED}
        {RETURN_OUTPUT_AT_2048}"#
    );
    wat_filter(&process).replacen(
        "(module",
        &format!(
            "(module\n  (import \"wasmstash\" \"log\" (func $log (param i32 i32 i32)))\n  (data (i32.const 3000) {data})"
        ),
        1,
    )
}

/// `run --filter FILTER --format lines -` over `lines` in `dir`, with
/// `args` besides; and how long it took.
fn timed_run(
    dir: &std::path::Path,
    filter: &str,
    args: &[&str],
    lines: &str,
) -> (std::process::Output, std::time::Duration) {
    let run = [
        &["run", "--filter", filter, "--format", "lines"],
        args,
        &["-"],
    ]
    .concat();
    let started = std::time::Instant::now();
    let output = wasmstash_in(dir, &run, lines.as_bytes());
    (output, started.elapsed())
}

/// `run` of the chaos filter, panicking on lines with "boom", over
/// `lines`; and how long it took.
fn run_chaos_panicking_on_boom(lines: &str) -> (std::process::Output, std::time::Duration) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chaos.wasm"), built_module("chaos")).unwrap();
    timed_run(dir.path(), r#"chaos.wasm={"panic_on":"boom"}"#, &[], lines)
}

/// The most lines of one ration a run of `elapsed` may show: 200 per 10 s
/// window it reached into (a slow build under load may take more than one).
fn most_shown_in(elapsed: std::time::Duration) -> usize {
    200 * (elapsed.as_secs() as usize / 10 + 1)
}

/// The counts of `lines` the host held back, one per ration window that
/// held any back.
fn held_back_counts(stderr: &str, lines: &str) -> Vec<usize> {
    let said = format!(" more {lines} not shown");
    (stderr.lines())
        .filter_map(|l| l.split_once(said.as_str()))
        .filter_map(|(head, _)| head.rsplit(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn a_filter_logging_in_a_loop_is_cut_off_and_cannot_forge_lines() {
    // 3,000 warnings of "said\nFORGED\x1b[2J" in one call, then every event
    // unchanged.
    let wat = logging_filter(3000, 2, 16, "", r#""said\0aFORGED\1b[2J""#);
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
    assert_eq!(said, 200, "{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with("FORGED")), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "a raw escape reached the log");
    assert!(
        stderr.contains("2800 more log lines of this filter not shown"),
        "{stderr}"
    );
    assert!(
        (stderr.lines())
            .filter(|l| l.contains("said") || l.contains("not shown"))
            .all(|l| l.contains("pipeline{pipeline=p}") && l.contains(r#"filter="chatty""#)),
        "{stderr}"
    );
}

/// A filter that panics on every event logs its panic message once per
/// event, each in a call of its own (the replay isolating it) on a fresh
/// instance: the ration is the filter's, not the call's or the instance's.
#[test]
fn a_filter_failing_every_event_does_not_flood_the_log() {
    let lines: String = (0..1000).map(|i| format!("boom {i}\n")).collect();
    let (output, took) = run_chaos_panicking_on_boom(&lines);
    assert!(output.status.success(), "{output:?}");
    // Every event comes out, tagged, with its panic in its record.
    let out = text(&output.stdout);
    assert_eq!(out.lines().count(), 1000);
    assert!(
        (out.lines())
            .all(|l| l.contains("_wasmfilter_failure") && l.contains("chaos asked to panic")),
        "{out}"
    );
    let stderr = text(&output.stderr);
    let panics = (stderr.lines())
        .filter(|l| l.contains("ERROR") && l.contains("chaos asked to panic"))
        .count();
    let held_back = held_back_counts(&stderr, "log lines of this filter");
    assert!(
        !held_back.is_empty(),
        "no count of lines held back: {stderr}"
    );
    assert!(panics <= most_shown_in(took), "{panics}: {stderr}");
    // The batch's own call logged a panic too, before the replay: at least
    // one line per event was written, and what was not shown is counted.
    let held_back: usize = held_back.iter().sum();
    assert!(panics + held_back >= 1000, "{held_back}: {stderr}");
}

/// A filter that fails on every other event gets a host warning per
/// failing event it isolates (each retried on a fresh instance after the
/// one before succeeded): 400 of them for 800 events. They are rationed
/// as its own lines are, and the rest counted, so that a filter failing now
/// and then in a long-running sidecar cannot bury the host's log.
#[test]
fn the_hosts_warnings_about_failed_calls_are_rationed() {
    let lines: String = (0..800)
        .map(|i| format!("{} {i}\n", if i % 2 == 1 { "boom" } else { "fine" }))
        .collect();
    let (output, took) = run_chaos_panicking_on_boom(&lines);
    assert!(output.status.success(), "{output:?}");
    let out = text(&output.stdout);
    assert_eq!(out.lines().count(), 800);
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("_wasmfilter_failure"))
            .count(),
        400
    );
    let stderr = text(&output.stderr);
    let shown = (stderr.lines())
        .filter(|l| {
            l.contains("WARN")
                && (l.contains("trying its event again on a fresh instance")
                    || l.contains("replaying one event at a time"))
        })
        .count();
    let held_back = held_back_counts(&stderr, "warnings about this filter's failed calls");
    assert!(
        !held_back.is_empty(),
        "no count of warnings held back: {stderr}"
    );
    assert!(shown <= most_shown_in(took), "{shown}: {stderr}");
    // The batch failed, and 400 events were tried again: each warning is
    // either shown or counted.
    assert_eq!(shown + held_back.iter().sum::<usize>(), 401, "{stderr}");
}

/// Lines the log's level hides are not counted against the ration: 300
/// debug lines, which `run` does not show by default, then an error.
#[test]
fn hidden_lines_leave_the_ration_to_the_lines_shown() {
    let wat = logging_filter(
        300,
        4,
        5,
        "(call $log (i32.const 1) (i32.const 3008) (i32.const 14))",
        r#""chat!") (data (i32.const 3008) "the real error""#,
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chatty.wat"), &wat).unwrap();
    std::fs::write(dir.path().join("in.log"), "one line\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args([
            "run",
            "--filter",
            "chatty.wat",
            "--format",
            "lines",
            "in.log",
        ])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .env(
            "WASMSTASH_CACHE_DIR",
            std::env::temp_dir().join("wasmstash-test-cache"),
        )
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("the real error"), "{stderr}");
    assert!(!stderr.contains("chat!"), "{stderr}");
    assert!(!stderr.contains("not shown"), "{stderr}");
}

/// The host's errors about a stateful filter's replacement instances carry
/// the filter's own words (why its restore refused the state) and come once
/// per checkpoint refused, which a filter failing every event, checkpointed
/// before every batch of one, meets once per event: they are rationed as
/// its other failures are, and the filter's words, escaped, cannot make a
/// line many times the 4 KiB a message may have.
#[test]
fn errors_about_replacement_instances_are_rationed_and_bounded() {
    let escapes = "\\1b".repeat(4096);
    let stateful = format!(
        r#"(data (i32.const 8192) "{escapes}")
        (func (export "wasmstash_snapshot") (result i64) (i64.const 0x0000100000000004))
        (func (export "wasmstash_restore") (param i32 i32) (result i64) (i64.const 0x0000200000001000))
        (func (export "wasmstash_free")"#
    );
    let wat =
        wat_filter("unreachable").replacen(r#"(func (export "wasmstash_free")"#, &stateful, 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.wat"), wat).unwrap();
    std::fs::write(
        dir.path().join("m.toml"),
        "[engine]\ncheckpoint_interval_ms = 0\n[[pipelines.p.filters]]\nmodule = \"m.wat\"\n",
    )
    .unwrap();
    let lines: String = (0..2000).map(|i| format!("event {i}\n")).collect();
    let args = [
        "run",
        "--config",
        "m.toml",
        "--format",
        "lines",
        "--batch-size",
        "1",
        "-",
    ];
    let started = std::time::Instant::now();
    let output = wasmstash_in(dir.path(), &args, lines.as_bytes());
    let took = started.elapsed();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(text(&output.stdout).lines().count(), 2000);
    let stderr = text(&output.stderr);
    let refusals: Vec<&str> = (stderr.lines())
        .filter(|l| l.contains("restoring state into a new instance failed"))
        .collect();
    assert!(!refusals.is_empty(), "{stderr}");
    assert!(refusals.len() <= most_shown_in(took), "{}", refusals.len());
    let longest = stderr.lines().map(str::len).max().unwrap();
    assert!(longest < 6000, "a line of {longest} bytes");
    assert!(
        !held_back_counts(&stderr, "errors about this filter's lost state").is_empty(),
        "no count of lines held back"
    );
}

/// Lines a filter writes while its instances start (its start function,
/// `init`) name their pipeline too, as those of its calls do: two
/// pipelines may hold filters of one name.
#[test]
fn lines_written_while_starting_name_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let module = wat_filter(&format!("{ALL_UNCHANGED}\n{RETURN_OUTPUT_AT_2048}")).replacen(
        "(module",
        "(module\n  (import \"wasmstash\" \"log\" (func $log (param i32 i32 i32)))\n  \
         (data (i32.const 3000) \"starting up\")\n  \
         (func $start (call $log (i32.const 2) (i32.const 3000) (i32.const 11)))\n  (start $start)",
        1,
    );
    std::fs::write(dir.path().join("starting.wat"), module).unwrap();
    let pipelines = ["a", "b"]
        .map(|p| format!("[[pipelines.{p}.filters]]\nmodule = \"starting.wat\"\nname = \"x\"\n"));
    std::fs::write(dir.path().join("w.toml"), pipelines.concat()).unwrap();
    let output = wasmstash_in(dir.path(), &["check", "w.toml"], b"");
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for pipeline in ["a", "b"] {
        assert!(
            (stderr.lines()).any(|l| l.contains("starting up")
                && l.contains(&format!("pipeline{{pipeline={pipeline}}}"))),
            "{stderr}"
        );
    }
}

/// A built-in filter's failure reaches the host's log with its reason and
/// the filter's name, as Logstash's mutate logs the exception it rescues:
/// the built module's own line, through the `log` import.
#[test]
fn a_built_in_filters_failure_is_logged_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = timed_run(
        dir.path(),
        r#"mutate={"convert":{"message":"float"}}"#,
        &[],
        "12.5\n-\n",
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = text(&output.stdout);
    assert!(stdout.contains(r#""message":12.5"#), "{stdout}");
    assert!(stdout.contains(r#""tags":["_mutate_error"]"#), "{stdout}");
    let stderr = text(&output.stderr);
    let logged: Vec<&str> = (stderr.lines())
        .filter(|l| l.contains("convert: Ruby cannot read"))
        .collect();
    assert_eq!(logged.len(), 1, "{stderr}");
    assert!(
        logged[0].contains(r#"convert: Ruby cannot read `message` as float: "-""#),
        "{stderr}"
    );
    assert!(logged[0].contains("pipeline{pipeline=cli}"), "{stderr}");
    assert!(logged[0].contains(r#"filter="mutate""#), "{stderr}");
}

/// A line longer than the 4 KiB a filter's line may have is cut, and says
/// so, plain ASCII as much as text that needed escaping.
#[test]
fn a_long_line_is_cut_with_a_mark() {
    let long = "x".repeat(5000);
    let wat = logging_filter(1, 2, 5000, "", &format!("\"{long}\""));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("long.wat"), &wat).unwrap();
    let (output, _) = timed_run(dir.path(), "long.wat", &[], "one line\n");
    assert!(output.status.success(), "{output:?}");
    let stderr = text(&output.stderr);
    let line = (stderr.lines())
        .find(|l| l.contains("xxxx"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let xs = line.matches('x').count();
    assert!((4000..=4096).contains(&xs), "{xs} of them");
    assert!(line.contains("x …(cut)"), "{line}");
}

/// A filter's name comes from its config, and its log lines carry it (and
/// the count of those held back): escaped, so a name cannot forge a line
/// or steer the terminal any more than the lines' text can.
#[test]
fn a_filter_name_is_escaped_in_its_log_lines() {
    let wat = logging_filter(250, 2, 4, "", r#""said""#);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chatty.wat"), &wat).unwrap();
    std::fs::write(
        dir.path().join("w.toml"),
        "[[pipelines.p.filters]]\nmodule = \"chatty.wat\"\nname = \"n\\u001b[2J\\nFORGED reason=forged\"\n",
    )
    .unwrap();
    let output = wasmstash_in(
        dir.path(),
        &["run", "-c", "w.toml", "--format", "lines", "-"],
        b"one line\n",
    );
    assert!(output.status.success(), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(!stderr.lines().any(|l| l.starts_with("FORGED")), "{stderr}");
    // Quoted whole, so a space in the name cannot start a field of its own.
    let field = r#"filter="n\u{1b}[2J\nFORGED reason=forged""#;
    let said: Vec<&str> = stderr.lines().filter(|l| l.contains("said")).collect();
    assert_eq!(said.len(), 200, "{stderr}");
    assert!(said.iter().all(|l| l.contains(field)), "{stderr}");
    assert!(
        (stderr.lines())
            .any(|l| l.contains(field) && l.contains("50 more log lines of this filter not shown")),
        "{stderr}"
    );
}

/// An empty RUST_LOG (`RUST_LOG=${RUST_LOG}` in a compose file, with
/// nothing set), or one of blanks and commas, is the default level, not
/// "nothing at all", which hid the host's own warnings and errors; spaces
/// around a directive (`warn `, from a `.env` file) are not part of it.
#[test]
fn an_empty_rust_log_keeps_the_default_level() {
    for empty in ["", " ", ",", "warn ", " warn, "] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"))
            .args(["run", "--filter", r#"json={"source":"message"}"#, "-"])
            .env("RUST_LOG", empty)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(b"not json\n")?;
                child.wait_with_output()
            })
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("WARN") && stderr.contains("Error parsing json"),
            "RUST_LOG={empty:?}: {stderr}"
        );
    }
    // One that is no filter is said to be, and the default level holds.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args([
            "run",
            "--filter",
            r#"json={"source":"message"}"#,
            "/dev/null",
        ])
        .env("RUST_LOG", "debug,bogus=nope=x")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        text(&output.stderr).contains("RUST_LOG \"debug,bogus=nope=x\" is not a log filter"),
        "{}",
        text(&output.stderr)
    );
}
