//! The `wasmstash` binary as a user runs it: real files, exit codes, messages.

mod support;
// Not in `support`: the benchmarks share that, and have no binary to run.
#[path = "support/binary.rs"]
mod binary;

use std::process::{Command, Output};

use binary::*;
use support::*;

#[test]
fn runs_a_pipeline_over_the_access_log() {
    let log = shared_data().join("access/apache_logs");
    let out = wasmstash(
        &[
            "run",
            "--config",
            &examples("wasmstash.toml"),
            "--pipeline",
            "access",
            log.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = events_of(&out.stdout);
    assert_eq!(lines.len(), 10_000);
    assert_eq!(lines[0]["event"]["dataset"], "apache.access");
    assert_eq!(lines[0]["event"]["original"], lines[0]["message"]);
    let summary = text(&out.stderr);
    assert!(
        summary.contains("pipeline `access`: 10000 events in, 10000 out, 0 dropped"),
        "{summary}"
    );
    assert!(summary.contains("no failures"), "{summary}");
}

/// The filters' own counters (`metric_add`) are summed over every batch and
/// worker into the run's summary.
#[test]
fn the_summary_reports_what_filters_counted() {
    let dir = tempfile::tempdir().unwrap();
    let out = wasmstash_in(
        dir.path(),
        &[
            "run",
            "--format",
            "lines",
            "--batch-size",
            "1",
            "--workers",
            "2",
            "-f",
            r#"dissect={"mapping":{"message":"%{a} %{b}"}}"#,
        ],
        b"x y\nnomatch\nz w\nalso-none\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stderr);
    assert!(
        summary.contains("tagged: _dissectfailure 2; counted: dissect.dissect_failures 2"),
        "{summary}"
    );

    // A filter naming a new counter per call: 256 names at most per filter
    // over the run, the first twelve shown.
    let namer = dir.path().join("namer.wat");
    std::fs::write(&namer, counter_namer_wat(1, 0)).unwrap();
    let lines: String = (0..300).map(|i| format!("line {i}\n")).collect();
    let out = wasmstash_in(
        dir.path(),
        &[
            "run",
            "--batch-size",
            "1",
            "--workers",
            "1",
            "-f",
            namer.to_str().unwrap(),
        ],
        lines.as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stderr);
    assert!(
        summary.contains("counted: namer.aa 1, namer.ab 1"),
        "{summary}"
    );
    assert!(summary.contains("namer.all 300"), "{summary}");
    assert!(summary.contains(", and 244 more"), "{summary}");
    assert!(
        summary.contains("filter `namer`: metric `") && summary.contains("not counted"),
        "the refusal names the filter as written: {summary}"
    );
}

/// `wasmstash run` of the example config's `pipeline` with `workers`, in
/// batches of `batch_size`, over `inputs`; it must succeed.
fn run_with_workers(pipeline: &str, workers: &str, batch_size: &str, inputs: &[&str]) -> Output {
    let config = examples("wasmstash.toml");
    let options = [
        "run",
        "-c",
        &config,
        "-p",
        pipeline,
        "-w",
        workers,
        "--batch-size",
        batch_size,
    ];
    let out = wasmstash(&[&options[..], inputs].concat(), b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

/// Batches of seven over three workers finish out of order all the time;
/// the output must still be what one worker writes, byte for byte.
#[test]
fn output_does_not_depend_on_the_number_of_workers() {
    let log = shared_data().join("access/apache_logs");
    let log = log.to_str().unwrap();
    let one = run_with_workers("apache", "1", "7", &[log, log]);
    let three = run_with_workers("apache", "3", "7", &[log, log]);
    assert_eq!(text(&one.stdout).lines().count(), 20_000);
    assert!(
        one.stdout == three.stdout,
        "three workers wrote something else"
    );
    let summary = text(&three.stderr);
    assert!(
        summary.contains("20000 events in, 20000 out, 0 dropped")
            && summary.contains("tagged: _grokparsefailure 2"),
        "{summary}"
    );
}

/// A stateful filter's state must see events in input order, so its
/// pipeline runs one worker whatever is asked, and says so.
#[test]
fn a_stateful_pipeline_runs_one_worker() {
    let log = shared_data().join("loghub/Linux/Linux_2k.log");
    let log = log.to_str().unwrap();
    let one = run_with_workers("system", "1", "50", &[log]);
    let two = run_with_workers("system", "2", "50", &[log]);
    assert!(one.stdout == two.stdout);
    assert!(!text(&one.stderr).contains("running one worker"));
    let note = text(&two.stderr);
    assert!(
        note.contains("pipeline `system` has a stateful filter")
            && note.contains("running one worker"),
        "{note}"
    );
}

#[test]
fn the_readme_example_tags_the_line_that_is_not_json() {
    let out = wasmstash(
        &[
            "run",
            "-c",
            &examples("wasmstash.toml"),
            "-p",
            "app",
            "--format",
            "lines",
            &examples("app.log"),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 6);
    assert!(
        stdout.contains(r#""log":{"level":"warn"},"service":{"name":"checkout"}"#),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("tagged: _jsonparsefailure 1"));
}

#[test]
fn ndjson_on_stdin_with_a_bad_line_loses_nothing() {
    let input = b"{\"message\":\"A\"}\n\nnot json\n{\"message\":\"B\",\"message\":\"C\"}\n";
    let out = wasmstash(
        &["run", "--filter", r#"mutate={"lowercase":["message"]}"#],
        input,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0], r#"{"message":"a"}"#);
    assert!(
        lines[1].contains(r#""message":"not json","tags":["_jsonparsefailure"]"#),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("duplicate key `message`"), "{}", lines[2]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("3 events in, 3 out"), "{stderr}");
    // The summary says why, and what to do if the input was text.
    assert!(
        stderr.contains("2 lines were no JSON event wasmstash takes (each one's text was kept, tagged _jsonparsefailure with the reason), in input read as NDJSON")
            && stderr.contains("--format lines reads every line as text"),
        "{stderr}"
    );
    // Chosen, not guessed: the tags say it all.
    let out = wasmstash(&["run", "--format", "ndjson", "--filter", "mutate"], input);
    assert!(!text(&out.stderr).contains("read as NDJSON"));
}

/// A text line that is not UTF-8 keeps its event, its invalid bytes made
/// U+FFFD, and the summary counts it and says how Logstash's codec differs.
#[test]
fn a_line_that_is_not_utf8_is_kept_and_counted() {
    let out = wasmstash(
        &["run", "--filter", "mutate"],
        b"caf\xe9 ok\nplain\n\xff\xfe\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let messages: Vec<String> = (text(&out.stdout).lines())
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["message"].to_string())
        .collect();
    assert_eq!(
        messages,
        ["\"caf\u{fffd} ok\"", "\"plain\"", "\"\u{fffd}\u{fffd}\""]
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("2 lines were not UTF-8: invalid bytes became U+FFFD (Logstash's line codec would write them as `\\xE9`)"),
        "{stderr}"
    );
}

/// A line past `--max-line-bytes` is cut, not dropped and not held whole:
/// its event says so, and the lines around it are untouched.
#[test]
fn an_overlong_line_is_cut_and_tagged() {
    let long = "x".repeat(1000);
    for (format, input, kept) in [
        (
            "lines",
            format!("before\n{long}\nafter"),
            long[..100].to_owned(),
        ),
        (
            "ndjson",
            format!(
                "{{\"message\":\"before\"}}\n{{\"message\":\"{long}\"}}\n{{\"message\":\"after\"}}\n"
            ),
            format!("{{\"message\":\"{}", &long[..100 - 12]),
        ),
    ] {
        let filter = r#"mutate={"add_field":{"seen":"yes"}}"#;
        let args = [
            "run",
            "--filter",
            filter,
            "--format",
            format,
            "--max-line-bytes",
            "100",
        ];
        let out = wasmstash(&args, input.as_bytes());
        assert!(out.status.success(), "{}", text(&out.stderr));
        let events = events_of(&out.stdout);
        assert_eq!(events.len(), 3, "{format}");
        assert_eq!(events[0]["message"], "before");
        assert_eq!(events[2]["message"], "after");
        assert!(events.iter().all(|event| event["seen"] == "yes"));
        let cut = &events[1];
        assert_eq!(cut["message"], kept.as_str(), "{format}");
        assert!(
            cut["tags"]
                .as_array()
                .unwrap()
                .contains(&"_wasmstash_truncated".into()),
            "{cut}"
        );
        let record = &cut["wasmstash"]["failures"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(record["kind"], "truncated_input");
        let length = if format == "lines" { 1000 } else { 1000 + 14 };
        let reason = record["reason"].as_str().unwrap();
        assert!(reason.contains(&format!("was {length} bytes")), "{reason}");
        assert!(
            text(&out.stderr).contains("_wasmstash_truncated 1"),
            "{}",
            text(&out.stderr)
        );
    }
    // An NDJSON line whose cut leaves only blanks is still an event: the
    // line was not blank, and used to vanish, uncounted.
    for (input, limit) in [
        (
            format!("{{\"a\":1}}\n{}{{\"b\":2}}\n{{\"c\":3}}\n", " ".repeat(20)),
            "8",
        ),
        ("{\"a\":1}\né\n{\"c\":3}\n".to_owned(), "1"),
    ] {
        let args = [
            "run",
            "-f",
            "mutate",
            "--format",
            "ndjson",
            "--max-line-bytes",
            limit,
        ];
        let out = wasmstash(&args, input.as_bytes());
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let events = events_of(&out.stdout);
        assert_eq!(events.len(), 3, "{}", text(&out.stdout));
        let tags = events[1]["tags"].as_array().unwrap();
        assert!(
            tags.contains(&"_wasmstash_truncated".into()),
            "{}",
            events[1]
        );
        assert!(tags.contains(&"_jsonparsefailure".into()), "{}", events[1]);
        assert!(stderr.contains("3 events in, 3 out"), "{stderr}");
    }
    // A cut inside a two-byte character keeps none of it, rather than
    // leaving a replacement character at the end.
    let args = ["run", "-f", "mutate", "--format", "lines"];
    let out = wasmstash(
        &[&args[..], &["--max-line-bytes", "101"]].concat(),
        "é".repeat(100).as_bytes(),
    );
    let events = events_of(&out.stdout);
    assert_eq!(
        events[0]["message"],
        "é".repeat(50).as_str(),
        "{}",
        text(&out.stdout)
    );
    let reason = events[0]["wasmstash"]["failures"][0]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("only its first 100 were kept"), "{reason}");
}

#[test]
fn config_errors_name_the_problem_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[[pipelines.web.filters]]\nmodule = \"missing.wasm\"\n",
    )
    .unwrap();
    let out = wasmstash(&["run", "-c", config.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml: pipeline `web`, filter #1 (`missing`): cannot read module"),
        "{err}"
    );
    assert!(err.contains("missing.wasm: No such file"), "{err}");

    std::fs::write(
        &config,
        "[[pipelines.web.filters]]\nfilter = \"json\"\nconfig = { sorce = \"m\" }\n",
    )
    .unwrap();
    let out = wasmstash(&["check", config.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pipeline `web`, filter #1 (`json`): invalid config"));

    let version2 = dir.path().join("v2.wat");
    std::fs::write(
        &version2,
        wat_filter("(i64.const 0)").replace("(i32.const 1))", "(i32.const 2))"),
    )
    .unwrap();
    let out = wasmstash(&["run", "--filter", version2.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("ABI version 2"),
        "{}",
        text(&out.stderr)
    );

    let out = wasmstash(&["run"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--config FILE or filters with --filter"));
    let out = wasmstash(&["run", "--filter", "mutate", "/no/such/file"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot open /no/such/file"));
    // A name holding an escape sequence or a line break is shown escaped.
    let out = wasmstash(
        &["run", "--filter", "mutate", "/no/\u{1b}[7msuch\nfile"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(r"cannot open /no/\u{1b}[7msuch\nfile"),
        "{}",
        text(&out.stderr)
    );
    // Every limit has its range, `setup`'s timeouts too.
    for (option, value) in [("--request-timeout", "0"), ("--wait-timeout", "86401")] {
        let out = wasmstash(&["setup", option, value], b"");
        assert_eq!(out.status.code(), Some(2), "{option} {value}");
        assert!(
            text(&out.stderr).contains(&format!("invalid value '{value}' for '{option}")),
            "{}",
            text(&out.stderr)
        );
    }
    // A negative number is a value out of range, not an unknown option.
    for workers in ["0", "257", "many", "-2"] {
        let out = wasmstash(&["run", "--filter", "mutate", "--workers", workers], b"");
        assert_eq!(out.status.code(), Some(2), "--workers {workers}");
        assert!(
            text(&out.stderr).contains(&format!("invalid value '{workers}' for '--workers <N>'")),
            "{}",
            text(&out.stderr)
        );
    }
}

/// `gen`'s exit codes: a reader that stops reading ends it quietly (as
/// `gen | head` does), a write that fails is an I/O error (1), and
/// arguments that cannot work are a usage error (2), found before any
/// event is made.
#[test]
fn gen_tells_a_closed_reader_from_a_failed_write() {
    let dir = tempfile::tempdir().unwrap();
    // A reader that stops early: a quiet exit, and the earlier ground truth
    // left as it was, not replaced by one for events never written.
    std::fs::write(dir.path().join("truth.json"), "earlier").unwrap();
    let mut child = spawn_in(
        dir.path(),
        &["gen", "--duration", "6h", "--truth", "truth.json"],
    );
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let truth = std::fs::read_to_string(dir.path().join("truth.json")).unwrap();
    assert_eq!(truth, "earlier");
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, 1, "a temporary file was left behind");

    let full = Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["gen", "--duration", "6h"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1), "{}", text(&full.stderr));
    assert!(text(&full.stderr).contains("writing events"));

    let events = dir.path().join("events.ndjson");
    let events = events.to_str().unwrap();
    let same = wasmstash(&["gen", "--out", events, "--truth", events], b"");
    assert_eq!(same.status.code(), Some(2));
    assert!(text(&same.stderr).contains("--truth names the same file as --out"));
    let missing = dir.path().join("no/such/dir/truth.json");
    let out = wasmstash(
        &["gen", "--out", events, "--truth", missing.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        std::fs::metadata(events).is_err(),
        "events were written before the truth file was found unwritable"
    );
}

/// A UTF-8 byte-order mark at the start of a file is not part of its first
/// line: an NDJSON file that starts with one is still read as NDJSON.
#[test]
fn a_byte_order_mark_does_not_change_the_first_event() {
    for format in [&[][..], &["--format", "ndjson"]] {
        let mut args = vec!["run", "--filter", "mutate={\"add_tag\":[\"seen\"]}"];
        args.extend(format);
        let out = wasmstash(&args, b"\xef\xbb\xbf{\"a\":1}\n{\"a\":2}\n");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let events = events_of(&out.stdout);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0], serde_json::json!({"a": 1, "tags": ["seen"]}));
    }
    // A mark alone is an empty text, with no line, as an empty file has
    // none; with a line break after it, one empty line.
    let out = wasmstash(&["run", "--filter", "mutate"], b"\xef\xbb\xbf");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let out = wasmstash(&["run", "--filter", "mutate"], b"\xef\xbb\xbf\n");
    assert_eq!(events_of(&out.stdout), [serde_json::json!({"message": ""})]);
}

/// A missing input file fails the run before any input is read, so there
/// is no partial output to mistake for the whole.
#[test]
fn a_missing_input_fails_before_any_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.log");
    std::fs::write(&good, "a line\n").unwrap();
    let missing = dir.path().join("missing.log");
    let out = wasmstash(
        &[
            "run",
            "--filter",
            " mutate ",
            good.to_str().unwrap(),
            missing.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("cannot open"),
        "{}",
        text(&out.stderr)
    );
    // And the summary counts in the singular when it should.
    let out = wasmstash(&["run", "--filter", "mutate"], b"one line\n");
    assert!(
        text(&out.stderr).contains("`cli`: 1 event in, 1 out"),
        "{}",
        text(&out.stderr)
    );
}

/// A named pipe as an input file is read once, by the run: looking inputs
/// up first must not open it, which would leave its writer without a
/// reader and the run waiting for a writer that never comes.
#[test]
fn a_named_pipe_is_read_as_an_input_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("events.fifo");
    support::mkfifo(&fifo);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, "through a pipe\n"))
    };
    let mut run = spawn_in(dir.path(), &["run", "--filter", "mutate", "events.fifo"]);
    drop(run.stdin.take());
    wait_exit(
        &mut run,
        std::time::Duration::from_secs(20),
        "the run did not finish reading the pipe",
    );
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    writer.join().unwrap().unwrap();
    assert_eq!(events_of(&out.stdout)[0]["message"], "through a pipe");
}

/// Paths that are not files, and flags past the bounds the config file has:
/// each is a clear error and exit 2, never a read without end or a hang.
#[test]
fn devices_pipes_and_flags_out_of_bounds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = wasmstash(&["run", "-c", "/dev/zero"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("/dev/zero: cannot read config: the config is not a regular file"),
        "{}",
        text(&out.stderr)
    );
    let fifo = dir.path().join("module.wasm");
    support::mkfifo(&fifo);
    for module in ["/dev/zero", fifo.to_str().unwrap()] {
        let config = dir.path().join("c.toml");
        std::fs::write(
            &config,
            format!("[[pipelines.p.filters]]\nmodule = \"{module}\"\n"),
        )
        .unwrap();
        let out = wasmstash(&["check", config.to_str().unwrap()], b"");
        assert_eq!(out.status.code(), Some(2), "{module}");
        assert!(
            text(&out.stderr).contains("the module is not a regular file"),
            "{}",
            text(&out.stderr)
        );
    }
    // A filter crate's directory given for its module: the message points
    // at the module the crate builds.
    let crate_dir = dir.path().join("my-filter");
    std::fs::create_dir(&crate_dir).unwrap();
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        "[package]\nname = \"my-filter\"\n",
    )
    .unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[[pipelines.p.filters]]\nmodule = \"my-filter\"\n").unwrap();
    let out = wasmstash(&["check", config.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "the module is not a regular file; it is a crate's directory: give the module it \
             builds, target/wasm32-unknown-unknown/release/my_filter.wasm"
        ),
        "{}",
        text(&out.stderr)
    );
    // A FIFO or a device named Cargo.toml is not read: no hint, no hang.
    let fifo_crate = dir.path().join("fifo-crate");
    std::fs::create_dir(&fifo_crate).unwrap();
    support::mkfifo(&fifo_crate.join("Cargo.toml"));
    let out = wasmstash(&["inspect", fifo_crate.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !text(&out.stderr).contains("crate's directory"),
        "{}",
        text(&out.stderr)
    );
    // `inspect` says the same.
    let out = wasmstash(&["inspect", crate_dir.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("release/my_filter.wasm (under $CARGO_TARGET_DIR if set)"),
        "{}",
        text(&out.stderr)
    );
    for (flag, value, range) in [
        ("--call-timeout-ms", "700000", "0..=600000"),
        ("--memory-limit-mib", "99999999999", "1..=4096"),
        // A negative number is out of range too, not text with a bad digit.
        ("--call-timeout-ms", "-1", "0..=600000"),
        ("--max-line-bytes", "-5", "1..=1073741824"),
    ] {
        let out = wasmstash(&["run", "--filter", "mutate", flag, value], b"");
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(
            text(&out.stderr).contains(&format!("{value} is not in {range}")),
            "{}",
            text(&out.stderr)
        );
    }
}

/// A saved state the filter refuses (as after an upgrade to a filter that
/// reads another format) is moved aside, not written over by the next save.
#[test]
fn a_refused_saved_state_is_kept_aside() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("chaos.wasm");
    std::fs::write(&module, built_module("chaos")).unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[[pipelines.counting.filters]]\nmodule = \"chaos.wasm\"\n",
    )
    .unwrap();
    let saved = dir.path().join("state/counting/chaos.state");
    std::fs::create_dir_all(saved.parent().unwrap()).unwrap();
    // chaos keeps an 8-byte count; three bytes are another format.
    std::fs::write(&saved, b"old").unwrap();
    let out = wasmstash_in(
        dir.path(),
        &[
            "run",
            "-c",
            "c.toml",
            "-p",
            "counting",
            "--format",
            "lines",
            "--state-dir",
            "state",
            "-",
        ],
        b"a\nb\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the filter refused its saved state")
            && stderr.contains("chaos.state.refused-"),
        "{stderr}"
    );
    let aside: Vec<_> = std::fs::read_dir(dir.path().join("state/counting"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains(".state.refused-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).unwrap(), b"old");
    // The new state, two events counted, is saved in its place.
    assert_eq!(std::fs::read(&saved).unwrap(), 2u64.to_le_bytes());
}
