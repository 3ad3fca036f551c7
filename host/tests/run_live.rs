//! `wasmstash run` over live input: a pipe that stays open, a run stopped by
//! a signal, and how the input's format is told from its first lines.

#[path = "support/binary.rs"]
mod binary;
#[path = "support/rlimit.rs"]
mod rlimit;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use binary::*;

const TAG: &str = r#"mutate={"add_tag":["seen"]}"#;

/// What a run over a feed that stays open wrote once a signal stopped it.
struct Stopped {
    /// Every event, those written before the signal and those after.
    events: Vec<serde_json::Value>,
    stderr: String,
    status: Option<i32>,
}

/// Runs `wasmstash ARGS` over a feed that stays open: three lines and half
/// a fourth, in one write. Waits for the three lines' events, which must
/// come out as they arrive, not when a batch of 1000 has filled or the feed
/// ends, even while the fourth line is half written. Once they are out, the
/// reader has read the half line too (it came in the same write): sends
/// `signal` then, and collects what the run writes until it ends.
fn stop_mid_line(args: &[&str], signal: libc::c_int) -> Stopped {
    let mut child = spawn_in(std::path::Path::new("."), args);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"one\ntwo\nthree\nfour, half writ")
        .unwrap();
    stdin.flush().unwrap();
    // Read on a thread: if nothing comes, the test fails here instead of
    // waiting for ever on the pipe.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (lines_out, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in stdout.lines() {
            let _ = lines_out.send(line.unwrap());
        }
    });
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(
            lines
                .recv_timeout(Duration::from_secs(10))
                .expect("an event within 10 s"),
        );
    }
    // The feed is still open, in the middle of a line.
    // SAFETY: sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    loop {
        match lines.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => events.push(line),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("the run still going 10 s after the signal"),
        }
    }
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    drop(stdin);
    Stopped {
        events: (events.iter())
            .map(|line| serde_json::from_str(line).unwrap())
            .collect(),
        stderr: text(&out.stderr),
        status: out.status.code(),
    }
}

/// Lines from a feed that stays open come out soon after they arrive, even
/// while the line after them is half written; and Ctrl-C then ends that
/// line as the end of the feed would.
#[test]
fn a_live_feed_events_come_out_as_they_arrive() {
    let stopped = stop_mid_line(&["run", "--filter", TAG], libc::SIGINT);
    let tagged = |message| serde_json::json!({"message": message, "tags": ["seen"]});
    assert_eq!(
        stopped.events,
        ["one", "two", "three", "four, half writ"].map(tagged)
    );
    assert_eq!(stopped.status, Some(130), "{}", stopped.stderr);
}

/// A run stopped by `signal` (called `name`) ends as the end of its feed
/// would: the half-written line is an event, every line read comes out, the
/// summary says how far it got and what stopped it, a stateful filter's
/// state is saved, and the exit status is `status`.
fn assert_stopping_drains(signal: libc::c_int, name: &str, status: i32) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let args = [
        "run",
        "--filter",
        "templates",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    let stopped = stop_mid_line(&args, signal);
    let stderr = &stopped.stderr;
    assert_eq!(stopped.status, Some(status), "{stderr}");
    let messages: Vec<_> = stopped.events.iter().map(|e| &e["message"]).collect();
    assert_eq!(messages, ["one", "two", "three", "four, half writ"]);
    assert!(
        stderr.contains("stopped early: pipeline `cli`: 4 events in, 4 out"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("stopped by {name}")), "{stderr}");
    assert!(
        stderr.contains("stopping once the events read so far are out; send the signal again"),
        "{stderr}"
    );
    let saved: Vec<_> = std::fs::read_dir(&state).unwrap().collect();
    assert!(!saved.is_empty(), "no state saved in {}", state.display());
}

/// Ctrl-C: exit status 130 (128 + SIGINT).
#[test]
fn an_interrupted_run_writes_what_it_read_and_saves_its_state() {
    assert_stopping_drains(libc::SIGINT, "SIGINT", 130);
}

/// SIGTERM (as `kill`, systemd or docker stop send): the same drain, exit
/// status 143 (128 + SIGTERM).
#[test]
fn a_terminated_run_writes_what_it_read_and_saves_its_state() {
    assert_stopping_drains(libc::SIGTERM, "SIGTERM", 143);
}

/// SIGHUP (the run's terminal closed): the same drain, exit status 129. Its
/// default ended the run at once, with no summary and no state saved.
#[test]
fn a_hung_up_run_writes_what_it_read_and_saves_its_state() {
    assert_stopping_drains(libc::SIGHUP, "SIGHUP", 129);
}

/// A file-size limit (`ulimit -f`) that output or a state save passes is an
/// I/O error the run reports (exit 1), not SIGXFSZ killing it mid-write.
#[test]
fn a_write_past_the_file_size_limit_is_an_error_not_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::fs::File::create(dir.path().join("out.ndjson")).unwrap();
    let lines: String = (0..60_000)
        .map(|i| format!("line {i} of the feed\n"))
        .collect();
    let input = dir.path().join("in.log");
    std::fs::write(&input, lines).unwrap();
    let mut command = std::process::Command::new(support::server::binary());
    command
        .args([
            "run",
            "--no-cache",
            "--filter",
            "mutate={\"uppercase\":[\"message\"]}",
        ])
        .arg(&input)
        .stdout(output);
    rlimit::limit(&mut command, libc::RLIMIT_FSIZE, 1 << 20);
    let mut child = (command.stdin(std::process::Stdio::null()))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let limit = Duration::from_secs(60);
    let (status, stderr) = support::wait_exit_with_stderr(&mut child, limit, "run went on");
    assert_eq!(status.code(), Some(1), "{status:?} {stderr}");
    assert!(
        stderr.contains("writing output: File too large"),
        "{stderr}"
    );
}

/// A file whose first line is shaped like a JSON object but refused (a
/// repeated key) is still NDJSON: that line is tagged, the rest are events.
#[test]
fn an_ndjson_file_whose_first_line_is_refused_stays_ndjson() {
    let out = wasmstash(&["run", "--filter", TAG], b"{\"a\":1,\"a\":2}\n{\"m\":1}\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events = events_of(&out.stdout);
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0]["tags"],
        serde_json::json!(["_jsonparsefailure", "seen"])
    );
    assert_eq!(events[1], serde_json::json!({"m": 1, "tags": ["seen"]}));
}

/// Blank lines before the first that shows the input is text are events,
/// as they are with `--format lines`; before NDJSON they are nothing.
#[test]
fn blank_lines_count_once_the_format_is_known() {
    let input = b"\n\nhello\n\n";
    let auto = wasmstash(&["run", "--filter", TAG], input);
    let lines = wasmstash(&["run", "--filter", TAG, "--format", "lines"], input);
    assert_eq!(events_of(&auto.stdout).len(), 4, "{}", text(&auto.stderr));
    assert_eq!(auto.stdout, lines.stdout);
    let only_blank = wasmstash(&["run", "--filter", TAG], b"\n\n");
    assert_eq!(events_of(&only_blank.stdout).len(), 2);
    let ndjson = wasmstash(&["run", "--filter", TAG], b"\n\n{\"m\":1}\n");
    assert_eq!(events_of(&ndjson.stdout).len(), 1);
}

/// How many blank lines a batch holds does not decide the format: with a
/// batch of one, a blank line before an NDJSON object made the whole input
/// text, every object a `message`.
#[test]
fn the_batch_size_does_not_change_what_the_input_is_read_as() {
    let mut input = b"\n".repeat(1000);
    input.extend_from_slice(b"{\"a\":1}\n{\"b\":2}\n");
    let expected = [
        serde_json::json!({"a": 1, "tags": ["seen"]}),
        serde_json::json!({"b": 2, "tags": ["seen"]}),
    ];
    for batch in ["1", "2", "1000"] {
        let out = wasmstash(&["run", "--filter", TAG, "--batch-size", batch], &input);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(events_of(&out.stdout), expected, "--batch-size {batch}");
    }
    // Text after them: every blank line is an event, in batches of one.
    let mut input = b"\n".repeat(5);
    input.extend_from_slice(b"hello\n");
    let out = wasmstash(&["run", "--filter", TAG, "--batch-size", "2"], &input);
    let events = events_of(&out.stdout);
    assert_eq!(events.len(), 6, "{}", text(&out.stderr));
    assert_eq!(events[5]["message"], "hello");
}

/// A form feed is no JSON whitespace: its NDJSON line is a broken event,
/// tagged, where it used to vanish as a blank line.
#[test]
fn a_form_feed_line_in_ndjson_is_tagged_not_dropped() {
    let out = wasmstash(&["run", "--filter", TAG], b"{\"a\":1}\n\x0c\n\n");
    let events = events_of(&out.stdout);
    assert_eq!(events.len(), 2, "{}", text(&out.stderr));
    assert_eq!(events[1]["message"], "\u{c}");
    assert_eq!(
        events[1]["tags"],
        serde_json::json!(["_jsonparsefailure", "seen"])
    );
}

/// A read that fails part-way (here a connection reset) ends the input,
/// but the lines read before it still go through and out: they were
/// thrown away with the batch they were in.
#[test]
fn lines_read_before_a_failed_read_come_out() {
    use std::os::fd::OwnedFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut writer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (reader, _) = listener.accept().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args([
            "run",
            "--filter",
            TAG,
            "--format",
            "lines",
            "--batch-size",
            "2",
        ])
        .stdin(OwnedFd::from(reader))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writer.write_all(b"one\ntwo\nthree\n").unwrap();
    writer.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Closing with a zero linger resets the connection: the reader's next
    // read fails with ECONNRESET.
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a linger of the size given.
    let set = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&writer),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0);
    drop(writer);
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let messages: Vec<_> = (events_of(&out.stdout).iter())
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages, ["one", "two", "three"], "{stderr}");
    assert!(stderr.contains("3 events in, 3 out"), "{stderr}");
}

/// A directory among the inputs fails the run before any file is read.
#[test]
fn a_directory_among_the_inputs_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.log");
    std::fs::write(&file, "a\n").unwrap();
    let out = wasmstash(
        &[
            "run",
            "--filter",
            TAG,
            file.to_str().unwrap(),
            dir.path().to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("it is a directory"),
        "{}",
        text(&out.stderr)
    );
}

/// A quiet spell before the first line that tells the format does not
/// decide it: blank lines before a late NDJSON object are still nothing.
#[test]
fn blank_lines_before_a_late_first_object_stay_nothing() {
    let mut child = spawn_in(std::path::Path::new("."), &["run", "--filter", TAG]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\n\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    stdin.write_all(b"{\"a\":1}\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        events_of(&out.stdout),
        [serde_json::json!({"a": 1, "tags": ["seen"]})]
    );
}

/// A second signal ends a run that cannot drain (here a filter spinning
/// with no deadline) at once, and says what that loses.
#[test]
fn a_second_signal_exits_at_once_saying_what_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let spin = support::wat_filter("(loop $spin (br $spin)) (i64.const 0)");
    std::fs::write(dir.path().join("spin.wat"), spin).unwrap();
    let args = ["run", "--filter", "spin.wat", "--call-timeout-ms", "0"];
    let mut child = spawn_in(dir.path(), &args);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"one\n").unwrap();
    drop(stdin);
    // Given time to load the filter and start its call.
    std::thread::sleep(Duration::from_millis(1500));
    for _ in 0..2 {
        // SAFETY: sends a signal to the child this test started.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, stderr) = support::wait_exit_with_stderr(
        &mut child,
        Duration::from_secs(10),
        "a second Ctrl-C did not end the run",
    );
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(
            "exiting at once: events not yet written, the summary and the filters' state"
        ),
        "{stderr}"
    );
}

/// Runs `wasmstash ARGS` in `dir`, whose first input is `before.log`
/// holding the line `first`. Once that line's event is out (the reader has
/// gone on to the next input, and the signal handler was installed before
/// it started), sends Ctrl-C and waits up to `limit` for the run to end.
/// Its status, its stderr and the line it wrote after `first`, if any.
fn ctrl_c_after_before_log(
    dir: &std::path::Path,
    args: &[&str],
    limit: Duration,
    what: &str,
) -> (std::process::ExitStatus, String, String) {
    let mut child = spawn_in(dir, args);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains("first"), "{line}");
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let (status, stderr) = support::wait_exit_with_stderr(&mut child, limit, what);
    line.clear();
    stdout.read_line(&mut line).unwrap();
    (status, stderr, line)
}

/// Opening a named pipe waits for a writer, and a signal does not cut that
/// wait short: with none coming, Ctrl-C did nothing, and only a second one
/// ended the run, without its summary. Here the first ends it as the end of
/// its input would, after the file before the pipe has gone through.
#[test]
fn ctrl_c_stops_a_run_waiting_for_a_named_pipe_writer() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("before.log"), "first\n").unwrap();
    support::mkfifo(&dir.path().join("pipe"));
    let args = ["run", "--filter", TAG, "before.log", "pipe"];
    let (status, stderr, _) = ctrl_c_after_before_log(
        dir.path(),
        &args,
        Duration::from_secs(10),
        "the run still waits for the pipe's writer after Ctrl-C",
    );
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("stopped early: pipeline `cli`: 1 event in, 1 out"),
        "{stderr}"
    );
}

/// A file with no line break (a disk image given by mistake, a sparse file)
/// is one line: past `--max-line-bytes` the rest of it is read and dropped,
/// and Ctrl-C waited for all of it, tens of seconds a gigabyte-sized file.
/// Now it stops the read there, and the line's event says it was cut at a
/// length read so far.
#[test]
fn ctrl_c_stops_the_read_of_an_endless_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("before.log"), "first\n").unwrap();
    // A terabyte of zeros, sparse: read through it would take many minutes.
    let endless = std::fs::File::create(dir.path().join("endless")).unwrap();
    endless.set_len(1 << 40).unwrap();
    let args = [
        "run",
        "--filter",
        TAG,
        "--max-line-bytes",
        "100",
        "before.log",
        "endless",
    ];
    let (status, stderr, line) = ctrl_c_after_before_log(
        dir.path(),
        &args,
        Duration::from_secs(30),
        "the run still reads the endless line after Ctrl-C",
    );
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("2 events in, 2 out"), "{stderr}");
    let cut: serde_json::Value = serde_json::from_str(&line).unwrap();
    let reason = cut["wasmstash"]["failures"][0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("the line was at least "), "{reason}");
    assert!(
        reason.contains("the run was stopped while reading it"),
        "{reason}"
    );
}
