//! `wasmstash test` (and `run -f`) as a user runs them: what case files it
//! reads, what it refuses in them, module paths that hold a `=`, and
//! filters tested behind others (`--before`, a crate's `before.json`).

// In a file of its own, for length; it uses the helpers here.
#[path = "cli_golden/before.rs"]
mod before;
#[path = "support/binary.rs"]
mod binary;
mod support;

use std::io::Read;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use binary::*;

/// `args` in `dir`, killed (and the test failed) if it outlives 60 s.
fn wasmstash_within(dir: &Path, args: &[&str]) -> Output {
    wasmstash_for(Duration::from_secs(60), dir, args)
}

/// `args` in `dir`, killed (and the test failed) if it outlives `limit`.
fn wasmstash_for(limit: Duration, dir: &Path, args: &[&str]) -> Output {
    let mut child = spawn_in(dir, args);
    drop(child.stdin.take());
    // Read while it runs: a report larger than a pipe holds would
    // otherwise stop the child at a write it never finishes.
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "`wasmstash {}` still running after {limit:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Everything `pipe` gives until it closes, read on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).unwrap();
        bytes
    })
}

fn test_mutate(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["test", "--module", "mutate"];
    args.extend_from_slice(extra);
    wasmstash_within(dir, &args)
}

#[test]
fn case_files_that_are_not_regular_files_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    support::mkfifo(&dir.path().join("pipe.log"));
    let out = test_mutate(dir.path(), &["pipe.log"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("pipe.log: the case file is not a regular file"),
        "{}",
        text(&out.stderr)
    );

    // An expected file that is a FIFO is refused too, not waited on.
    std::fs::write(dir.path().join("a.log"), "x\n").unwrap();
    support::mkfifo(&dir.path().join("a.expected.ndjson"));
    let out = test_mutate(dir.path(), &["a.log"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the expected file is not a regular file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn case_files_over_the_cap_are_refused_and_the_cap_can_be_raised() {
    let dir = tempfile::tempdir().unwrap();
    // Sparse: over the default cap of 16 MiB without using the disk.
    let huge = std::fs::File::create(dir.path().join("huge.log")).unwrap();
    huge.set_len(17 << 20).unwrap();
    let out = test_mutate(dir.path(), &["--bless", "huge.log"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the case file is larger than 16777216 bytes"),
        "{}",
        text(&out.stderr)
    );

    let line = "x".repeat(1023) + "\n";
    std::fs::write(dir.path().join("big.log"), line.repeat(2048)).unwrap();
    let out = test_mutate(dir.path(), &["--max-case-mib", "1", "--bless", "big.log"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("the case file is larger than 1048576 bytes")
            && err.contains("--max-case-mib"),
        "{err}"
    );
    let out = test_mutate(dir.path(), &["--max-case-mib", "3", "--bless", "big.log"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = test_mutate(dir.path(), &["--max-case-mib", "0", "big.log"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn an_expected_event_with_a_repeated_key_is_refused_by_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.ndjson"), "{\"a\":1}\n{\"a\":2}\n").unwrap();
    // A blank line first, so the line number is the file's, not the event's.
    std::fs::write(
        dir.path().join("c.expected.ndjson"),
        "{\"a\":1}\n\n{\"a\":1,\"a\":2}\n",
    )
    .unwrap();
    let out = test_mutate(dir.path(), &["c.ndjson"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("c.expected.ndjson line 3: "), "{err}");
    assert!(err.contains("duplicate key"), "{err}");
}

/// A `=` in a module's path is part of the path; only `=` followed by a JSON
/// object starts a config.
#[test]
fn a_module_path_may_hold_an_equals_sign() {
    let dir = tempfile::tempdir().unwrap();
    let hello = format!("{}/hello.wasm", wasmstash::builtins::build_module_dir());
    std::fs::copy(&hello, dir.path().join("a=b.wasm")).unwrap();
    std::fs::write(dir.path().join("c.ndjson"), "{\"message\":\"x\"}\n").unwrap();
    let out = wasmstash_within(
        dir.path(),
        &["test", "--module", "a=b.wasm", "--bless", "c.ndjson"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = wasmstash_within(dir.path(), &["test", "--module", "a=b.wasm", "c.ndjson"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    for filter in ["./a=b.wasm", "./a=b.wasm={}", "./a=b.wasm= { }"] {
        let out = wasmstash_in(dir.path(), &["run", "-f", filter], b"{\"message\":\"x\"}\n");
        assert!(out.status.success(), "{filter}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            "{\"message\":\"x\",\"greeting\":\"hello\"}\n",
            "{filter}"
        );
    }
    // A config that is not an object is still named as the problem.
    let out = wasmstash_in(dir.path(), &["run", "-f", "mutate=[1]"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("JSON object"),
        "{}",
        text(&out.stderr)
    );
}

/// What a shell's `tests/*` hands over: each case and its expected file.
/// Expected files are skipped with a note, not run as cases whose own
/// expected file would be `NAME.expected.expected.ndjson`.
#[test]
fn expected_files_given_as_cases_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.log"), "x\n").unwrap();
    std::fs::write(
        dir.path().join("a.expected.ndjson"),
        "{\"message\":\"x\"}\n",
    )
    .unwrap();
    for (extra, done) in [
        (&["--bless"][..], "blessed a.expected.ndjson (1 event)"),
        (&[], "ok   a.log (1 event)"),
    ] {
        let mut args = extra.to_vec();
        args.extend(["a.expected.ndjson", "a.log"]);
        let out = test_mutate(dir.path(), &args);
        assert!(
            out.status.success(),
            "{extra:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let report = text(&out.stdout);
        assert!(
            report.contains("skip a.expected.ndjson (an expected file, not a case)"),
            "{report}"
        );
        assert!(report.contains(done), "{report}");
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // Nothing but expected files: nothing to run, said plainly.
    let out = test_mutate(dir.path(), &["a.expected.ndjson"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no case to run"),
        "{}",
        text(&out.stderr)
    );
}

/// The number in `peak instance memory N KiB` of each report line.
fn peaks_kib(report: &str) -> Vec<usize> {
    report
        .lines()
        .filter_map(|line| line.split("peak instance memory ").nth(1))
        .map(|rest| rest.trim_end_matches(" KiB").parse().unwrap())
        .collect()
}

/// An instance that ran out of memory is thrown away; the peak still
/// counts what it held, whether or not a later instance is live.
#[test]
fn peak_memory_counts_instances_thrown_away() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("alone.log"), "ALLOC\n").unwrap();
    std::fs::write(dir.path().join("mixed.log"), "ALLOC\nfine\n").unwrap();
    let chaos = support::server::chaos_path();
    let out = wasmstash_within(
        dir.path(),
        &[
            "test",
            "--module",
            &chaos,
            "--config",
            r#"{"alloc_on":"ALLOC"}"#,
            "--bless",
            "alone.log",
            "mixed.log",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    let peaks = peaks_kib(&report);
    assert_eq!(peaks.len(), 2, "{report}");
    // The default limit is 64 MiB; the filter allocates until it hits it.
    for peak in peaks {
        assert!(peak >= 48 << 10, "{report}");
        assert!(peak <= 64 << 10, "{report}");
    }
}

#[test]
fn a_differing_event_count_shows_the_events_that_differ() {
    let dir = tempfile::tempdir().unwrap();
    // Too few expected: the extra events are shown.
    assert_mismatch(
        dir.path(),
        ("c", "a\nb\nc\n", "{\"message\":\"a\"}\n"),
        &[
            "expected 1 event, got 3",
            r#"event 2: extra, got {"message":"b"}"#,
            r#"event 3: extra, got {"message":"c"}"#,
        ],
    );
    // Too many: the pairs are compared, and the missing ones shown.
    assert_mismatch(
        dir.path(),
        ("d", "a\n", "{\"message\":\"z\"}\n{\"message\":\"b\"}\n"),
        &[
            "expected 2 events, got 1",
            r#"event 1: [message]: expected "z", got "a""#,
            r#"event 2: missing, expected {"message":"b"}"#,
        ],
    );
}

#[test]
fn a_missing_expected_file_fails_its_case_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b", "c"] {
        std::fs::write(dir.path().join(format!("{name}.log")), "x\n").unwrap();
    }
    std::fs::write(
        dir.path().join("b.expected.ndjson"),
        "{\"message\":\"x\"}\n",
    )
    .unwrap();
    let out = test_mutate(dir.path(), &["a.log", "b.log", "c.log"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("ok   b.log"), "{report}");
    for name in ["a", "c"] {
        assert!(report.contains(&format!("FAIL {name}.log")), "{report}");
        let hint =
            format!("no expected file {name}.expected.ndjson (run with --bless to create it)");
        assert!(report.contains(&hint), "{report}");
    }
    assert!(
        text(&out.stderr).contains("2 case(s) failed"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs the case `NAME.log` against `NAME.expected.ndjson` through mutate,
/// which must fail, with every one of `said` in its report.
fn assert_mismatch(
    dir: &std::path::Path,
    (name, lines, expected): (&str, &str, &str),
    said: &[&str],
) {
    std::fs::write(dir.join(format!("{name}.log")), lines).unwrap();
    std::fs::write(dir.join(format!("{name}.expected.ndjson")), expected).unwrap();
    let out = test_mutate(dir, &[&format!("{name}.log")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for line in said {
        assert!(report.contains(line), "{line}: {report}");
    }
}

#[test]
fn a_drop_that_did_not_happen_is_said_in_those_words() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.log"), "keep me\nDROP me\n").unwrap();
    std::fs::write(
        dir.path().join("c.expected.ndjson"),
        "{\"wasmstash\":{\"dropped\":true}}\n{\"message\":\"DROP me\"}\n",
    )
    .unwrap();
    let chaos = support::server::chaos_path();
    let out = wasmstash_within(
        dir.path(),
        &[
            "test",
            "--module",
            &chaos,
            "--config",
            r#"{"drop_on":"DROP"}"#,
            "c.log",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains(
            r#"event 1: expected dropped, got kept: {"message":"keep me","chaos":{"seen":1}}"#
        ),
        "{report}"
    );
    assert!(
        report.contains(r#"event 2: expected kept, got dropped; expected {"message":"DROP me"}"#),
        "{report}"
    );
    assert!(!report.contains("[wasmstash]"), "{report}");
    assert!(!report.contains("unexpected"), "{report}");
    assert_eq!(report.lines().count(), 3, "{report}");
}

#[test]
fn no_case_files_is_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let out = test_mutate(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("no case files given"), "{err}");
    assert!(!err.contains("required arguments"), "{err}");

    // A directory that is not a crate is said to be one.
    let out = wasmstash_within(dir.path(), &["test", "--crate", "nowhere"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("nowhere is not a crate: it has no Cargo.toml"),
        "{err}"
    );

    // A crate with no cases in tests/ is named before anything is built.
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("tests/only.expected.ndjson"), "{}\n").unwrap();
    let out = wasmstash_within(dir.path(), &["test", "--crate", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("no case files given, and ./tests has no *.log or *.ndjson case"),
        "{err}"
    );
}

#[test]
fn an_empty_case_file_has_no_events_as_in_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.log"), "").unwrap();
    let out = test_mutate(dir.path(), &["--bless", "empty.log"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = std::fs::read(dir.path().join("empty.expected.ndjson")).unwrap();
    assert_eq!(text(&expected).trim(), "", "no event expected");
    let out = test_mutate(dir.path(), &["empty.log"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    // One empty line is one event, with an empty message.
    std::fs::write(dir.path().join("blank.log"), "\n").unwrap();
    let out = test_mutate(dir.path(), &["--bless", "blank.log"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = std::fs::read(dir.path().join("blank.expected.ndjson")).unwrap();
    assert_eq!(text(&expected).lines().count(), 1, "{}", text(&expected));
}

/// `--now` fixes the filters' clock: the date filter's year for a date
/// without one follows it (a January date read on New Year's Eve is next
/// year's), so an expected file holds on any day.
#[test]
fn now_fixes_the_clock_filters_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jan.ndjson"),
        "{\"timestamp\":\"Jan 01 00:05:00\"}\n",
    )
    .unwrap();
    let date = |now: &str| {
        let args = [
            "test",
            "--module",
            "date",
            "--config",
            r#"{"match":["timestamp","MMM dd HH:mm:ss"]}"#,
            "--now",
            now,
            "--bless",
            "jan.ndjson",
        ];
        let out = wasmstash_within(dir.path(), &args);
        let expected = std::fs::read_to_string(dir.path().join("jan.expected.ndjson"));
        (out, expected.unwrap_or_default())
    };
    let (out, expected) = date("2026-12-31T23:50:00Z");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        expected.contains(r#""@timestamp":"2027-01-01T00:05:00.000Z""#),
        "{expected}"
    );
    let (out, expected) = date("2026-06-10T12:00:00Z");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        expected.contains(r#""@timestamp":"2026-01-01T00:05:00.000Z""#),
        "{expected}"
    );
    // An input `@timestamp` Logstash cannot read is replaced by the
    // current time: the fixed one, so that the case holds when run again.
    std::fs::write(
        dir.path().join("bad.ndjson"),
        "{\"@timestamp\":\"bad\"}\n{\"@timestamp\":null}\n",
    )
    .unwrap();
    let day = |extra: &[&str]| {
        let mut args = vec![
            "test",
            "--module",
            "mutate",
            "--config",
            r#"{"add_field":{"day":"%{+yyyy.MM.dd}"}}"#,
            "--now",
            "2026-06-10T12:00:00Z",
            "bad.ndjson",
        ];
        args.extend_from_slice(extra);
        wasmstash_within(dir.path(), &args)
    };
    let out = day(&["--bless"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = std::fs::read_to_string(dir.path().join("bad.expected.ndjson")).unwrap();
    assert_eq!(
        expected,
        "{\"@timestamp\":\"2026-06-10T12:00:00.000Z\",\"tags\":[\"_timestampparsefailure\"],\
         \"_@timestamp\":\"bad\",\"day\":\"2026.06.10\"}\n{\"day\":\"2026.06.10\"}\n"
    );
    let out = day(&[]);
    assert!(out.status.success(), "{}", text(&out.stdout));

    let (out, _) = date("tomorrow");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`tomorrow` is not a UTC time like 2026-06-10T12:00:00Z"),
        "{}",
        text(&out.stderr)
    );
}

/// A case meets the filters in `run`'s batches (1000 events), not as one
/// call: a long case would otherwise need an instance memory, and take a
/// path (a batch past the memory limit, replayed one event at a time),
/// that the same lines never would in production.
#[test]
fn a_long_case_runs_in_batches_as_run_cuts_them() {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (1..=200_000).map(|n| format!("{n}\n")).collect();
    std::fs::write(dir.path().join("long.log"), lines).unwrap();
    let out = test_mutate(dir.path(), &["--bless", "long.log"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    // One call of 200,000 events took the instance to 14 MiB; batches of
    // 1000 keep it under 2.
    let peaks = peaks_kib(&report);
    assert!(peaks.len() == 1 && peaks[0] < 4096, "{report}");
}

/// A byte-order mark, as a Windows editor saves one, is passed over in a
/// case file (as `run` passes it over) and in an expected file.
#[test]
fn a_byte_order_mark_is_passed_over_as_run_does() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("marked.ndjson"), "\u{feff}{\"a\":1}\n").unwrap();
    std::fs::write(
        dir.path().join("marked.expected.ndjson"),
        "\u{feff}{\"a\":1}\n",
    )
    .unwrap();
    let out = test_mutate(dir.path(), &["marked.ndjson"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    std::fs::write(dir.path().join("plain.log"), "\u{feff}first line\n").unwrap();
    let out = test_mutate(dir.path(), &["--bless", "plain.log"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = std::fs::read_to_string(dir.path().join("plain.expected.ndjson")).unwrap();
    assert_eq!(expected, "{\"message\":\"first line\"}\n");
}
