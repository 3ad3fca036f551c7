//! `wasmstash run` over live input: a pipe that stays open, a run stopped by
//! a signal, and how the input's format is told from its first lines.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use binary::*;

const TAG: &str = r#"mutate={"add_tag":["seen"]}"#;

/// Lines from a feed that stays open come out soon after they arrive, not
/// when a batch of 1000 has filled or the feed ends, even while the line
/// after them is half written; and Ctrl-C then ends that line as the end of
/// the feed would.
#[test]
fn a_live_feed_events_come_out_as_they_arrive() {
    let mut child = spawn_in(std::path::Path::new("."), &["run", "--filter", TAG]);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"one\ntwo\nthree\nfour, half writ")
        .unwrap();
    stdin.flush().unwrap();
    // Read on a thread: if nothing comes, the test fails here instead of
    // waiting for ever on the pipe.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (lines_out, lines) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in stdout.lines() {
            let _ = lines_out.send(line.unwrap());
        }
    });
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(
            lines
                .recv_timeout(Duration::from_secs(10))
                .expect("an event within 10 s"),
        );
    }
    assert!(
        got[2].contains(r#""message":"three","tags":["seen"]"#),
        "{got:?}"
    );
    // The feed is still open, in the middle of a line.
    // SAFETY: sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let last = lines
        .recv_timeout(Duration::from_secs(10))
        .expect("the half line");
    assert!(last.contains(r#""message":"four, half writ""#), "{last}");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    reader.join().unwrap();
    drop(stdin);
}

/// Ctrl-C ends a run over a feed as the end of the feed would: every line
/// read comes out, the summary says how far it got, a stateful filter's
/// state is saved, and the exit status is 130.
#[test]
fn an_interrupted_run_writes_what_it_read_and_saves_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let args = [
        "run",
        "--filter",
        "templates",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    let mut child = spawn_in(std::path::Path::new("."), &args);
    let mut stdin = child.stdin.take().unwrap();
    for n in 0..5 {
        writeln!(stdin, "session {n} opened for user root").unwrap();
    }
    stdin.flush().unwrap();
    // The feed stays open, with the lines read and waiting in a batch.
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: sends a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert_eq!(stdout.lines().count(), 5, "{stdout}");
    assert!(
        stderr.contains("stopped early: pipeline `cli`: 5 events in, 5 out"),
        "{stderr}"
    );
    assert!(stderr.contains("stopped by SIGINT"), "{stderr}");
    let saved: Vec<_> = std::fs::read_dir(&state).unwrap().collect();
    assert!(!saved.is_empty(), "no state saved in {}", state.display());
    drop(stdin);
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
