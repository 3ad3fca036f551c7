//! What the printing commands do when their output cannot be written: a
//! reader that went away is no failure of theirs, any other failure is
//! reported (exit 1), a failing verdict keeps its exit code either way, and
//! none of it is a panic.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::process::{Command, Output, Stdio};

use binary::*;
use support::{shared_data, wait_exit_with_stderr};

/// The commands that print, each with what it needs in `dir`.
fn printing_commands(dir: &std::path::Path) -> Vec<Vec<String>> {
    let hello = format!("{}/hello.wasm", wasmstash::builtins::build_module_dir());
    let case = dir.join("case.log");
    std::fs::write(&case, "one\ntwo\n").unwrap();
    let owned = |args: &[&str]| args.iter().map(|a| a.to_string()).collect();
    vec![
        owned(&["filters"]),
        owned(&["check", &examples("wasmstash.toml")]),
        owned(&["inspect", &hello]),
        owned(&["inspect", "--json", &hello]),
        owned(&["new", "fresh-filter"]),
        owned(&[
            "test",
            "--module",
            "mutate",
            "--bless",
            case.to_str().unwrap(),
        ]),
    ]
}

fn run_to(dir: &std::path::Path, args: &[String], stdout: impl Into<Stdio>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .output()
        .unwrap()
}

/// `/dev/full` opened for writing (every write fails with ENOSPC), or
/// `None`, said on stderr, where the system has none: the test is skipped.
fn dev_full() -> Option<std::fs::File> {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .ok();
    if full.is_none() {
        eprintln!("no /dev/full here; skipped");
    }
    full
}

#[test]
fn a_closed_reader_ends_a_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for args in printing_commands(dir.path()) {
        // The read end is closed before the command starts: every write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = run_to(dir.path(), &args, writer);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
        let _ = std::fs::remove_dir_all(dir.path().join("fresh-filter"));
    }
}

#[test]
fn a_failed_write_is_reported_and_exits_1() {
    if dev_full().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for args in printing_commands(dir.path()) {
        let full = dev_full().unwrap();
        let out = run_to(dir.path(), &args, full);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(
            err.starts_with("wasmstash: writing output: ") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
        let _ = std::fs::remove_dir_all(dir.path().join("fresh-filter"));
    }
}

/// The summary's failure counts are of what reached the output, as its
/// `out` is: a batch none of which got out counted its failure tags anyway,
/// as if written.
#[test]
fn a_failed_write_counts_only_the_failures_it_wrote() {
    let Some(full) = dev_full() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.log"), "x\ny\n").unwrap();
    let args = ["run", "--filter", r#"json={"source":"message"}"#, "in.log"].map(String::from);
    let out = run_to(dir.path(), &args, full);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("2 events in, 0 out"), "{err}");
    assert!(err.contains("no failures"), "{err}");
    assert!(
        !err.contains("the output ends in part of an event"),
        "{err}"
    );
}

/// A run whose output fails has run its filters over events that never got
/// out: their state is not saved, so that a run again over the same input
/// sees them as new (a template's first sight) as the first would have.
#[test]
fn state_is_not_saved_past_a_failed_output() {
    let Some(full) = dev_full() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (0..2000)
        .map(|i| format!("job {i} done in {i} ms\n"))
        .collect();
    std::fs::write(dir.path().join("in.log"), lines).unwrap();
    let args: Vec<String> = ["run", "--filter", r#"templates={"source":"message"}"#]
        .iter()
        .map(|a| a.to_string())
        .chain(["--state-dir", "state", "--format", "lines", "in.log"].map(String::from))
        .collect();
    let out = run_to(dir.path(), &args, full);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("state not saved"),
        "{}",
        text(&out.stderr)
    );
    let saved = dir.path().join("state/cli/templates.state");
    assert!(!saved.exists(), "{}", text(&out.stderr));
    // Run again, written: the template is new, as in the first run.
    let out = run_to(dir.path(), &args, std::process::Stdio::piped());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = text(&out.stdout).lines().next().unwrap().to_owned();
    assert!(first.contains(r#""new":true"#), "{first}");
    assert!(saved.exists());
}

/// A command whose exit code is its verdict keeps it when its output cannot
/// be written: `wasmstash check bad.toml | grep -q OK` used to exit 0 and
/// say nothing, so a broken config passed a CI step.
#[test]
fn a_failing_verdict_survives_a_lost_or_full_output() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let config = write(
        "bad.toml",
        // A pipeline that loads first, so that `check` has a line to print
        // before it names the problem.
        "[[pipelines.a.filters]]\nfilter = \"mutate\"\n\
         [[pipelines.b.filters]]\nfilter = \"mutate\"\nconfig = { nope = 1 }\n",
    );
    let case = write("case.log", "x\n");
    write("case.expected.ndjson", "{\"message\":\"y\"}\n");
    let empty_module = write("empty.wat", "(module)\n");
    let owned = |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.to_string()).collect() };
    let verdicts = [
        (owned(&["check", &config]), 2, "nope"),
        (
            owned(&["test", "--module", "mutate", &case]),
            1,
            "1 case(s) failed",
        ),
        (owned(&["inspect", &empty_module]), 2, ""),
    ];
    for (args, code, said) in verdicts {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut outputs: Vec<Stdio> = vec![writer.into()];
        if std::path::Path::new("/dev/full").exists() {
            let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
            outputs.push(full.unwrap().into());
        }
        for stdout in outputs {
            let out = run_to(dir.path(), &args, stdout);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
            assert!(
                err.contains(said) && !err.contains("panicked"),
                "{args:?}: {err}"
            );
        }
    }
}

/// `wasmstash run … 2>&1 | head -1`: the reader of both outputs goes away,
/// and the summary, written to stderr after the events, used to panic (exit
/// 101) where a closed reader ends a run with 0. So did any message of a
/// run that failed, with stderr closed (`2>&-` or a full disk).
#[test]
fn a_run_whose_stderr_is_gone_exits_with_its_own_status() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.log");
    std::fs::write(&input, "one\ntwo\n").unwrap();
    let input = input.to_str().unwrap().to_owned();
    let filter = ["run", "--filter", "mutate"].map(String::from);
    for (extra, status) in [(input.as_str(), 0), ("missing.log", 1)] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut args = filter.to_vec();
        args.push(extra.to_owned());
        let out = Command::new(env!("CARGO_BIN_EXE_wasmstash"))
            .args(&args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .status()
            .unwrap();
        assert_eq!(out.code(), Some(status), "{args:?}");
    }
}

/// A reader of the output that goes away must stop the run at once, even
/// while the input stays open with no more lines coming (`tail -f log |
/// wasmstash run | head`). It is the reader's choice, not a failure: the
/// run says how far it got and exits 0, as `head` expects of its writer.
#[test]
fn a_closed_output_stops_the_run_while_input_is_still_open() {
    use std::io::{Read, Write};
    use std::time::Duration;
    let args = [
        "run",
        "--filter",
        r#"mutate={"add_tag":["seen"]}"#,
        "-w",
        "2",
    ];
    let mut child = spawn_in(std::path::Path::new("."), &args);
    // Fed from a thread, since the output fills its pipe before the input
    // is all written; the thread keeps stdin open until the run is over.
    let mut stdin = child.stdin.take().unwrap();
    // Fewer batches than may be in flight, so the reader has read them all
    // and waits in a read of stdin when the output goes.
    let log = std::fs::read_to_string(shared_data().join("access/apache_logs")).unwrap();
    let lines: String = log.split_inclusive('\n').take(3000).collect();
    let (done, run_over) = std::sync::mpsc::channel::<()>();
    let feeder = std::thread::spawn(move || {
        // It fails with a broken pipe once the run has stopped reading.
        let _ = stdin.write_all(lines.as_bytes());
        let _ = run_over.recv();
    });
    // Read a little of the output, then close it; stdin stays open.
    let mut stdout = child.stdout.take().unwrap();
    stdout.read_exact(&mut [0u8; 100]).unwrap();
    drop(stdout);
    let (status, stderr) = wait_exit_with_stderr(
        &mut child,
        Duration::from_secs(30),
        "still running 30 s after its output was closed",
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the output was closed by its reader"),
        "{stderr}"
    );
    assert!(stderr.contains("stopped early: pipeline `cli`"), "{stderr}");
    // It says how far the output got: some events of the batch being
    // written when the pipe closed (it holds 64 KiB), not all.
    let (events_in, events_out) = (stderr.split_once("`cli`: "))
        .and_then(|(_, rest)| {
            let (events_in, rest) = rest.split_once(" events in, ")?;
            let (events_out, _) = rest.split_once(" out")?;
            Some((
                events_in.parse::<u64>().ok()?,
                events_out.parse::<u64>().ok()?,
            ))
        })
        .unwrap_or_else(|| panic!("no counts in {stderr}"));
    assert!(0 < events_out && events_out < events_in, "{stderr}");
    drop(done);
    feeder.join().unwrap();
}

/// A parent may hand `run` a pipe left non-blocking. A write the slow
/// reader is not ready for then fails with EAGAIN: it must wait, as a
/// blocking write does, and every line come out whole (it exited 1 with
/// the last line cut).
#[test]
fn a_non_blocking_output_is_waited_for_not_given_up_on() {
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: `pipe` fills the two descriptors it is given.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both are new descriptors this test alone owns.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: plain flag changes on a descriptor this test owns.
    unsafe {
        let flags = libc::fcntl(writer.as_raw_fd(), libc::F_GETFL);
        assert_eq!(
            libc::fcntl(writer.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK),
            0
        );
    }
    let log = shared_data().join("access/apache_logs");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["run", "--filter", r#"mutate={"add_tag":["seen"]}"#])
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The pipe (64 KiB) fills long before 10,000 events are written: the
    // run meets a full non-blocking pipe while this reader sleeps.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut out = String::new();
    std::fs::File::from(reader)
        .read_to_string(&mut out)
        .unwrap();
    let (status, stderr) = wait_exit_with_stderr(
        &mut child,
        std::time::Duration::from_secs(60),
        "still running after its output was read",
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(out.ends_with('\n'));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 10_000, "{stderr}");
    assert!(
        lines
            .iter()
            .all(|line| line.ends_with(r#""tags":["seen"]}"#))
    );
}

/// `wasmstash run app.log >> app.log` would read its own output and grow
/// the file without end; it is refused before anything is read, whether the
/// file is named or comes in on stdin.
#[test]
fn an_input_that_is_the_output_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "one\ntwo\n").unwrap();
    let append = || std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let args: Vec<String> = ["run", "--filter", "mutate", "app.log"]
        .map(String::from)
        .into();
    let out = run_to(dir.path(), &args, append());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot read app.log: it is the file the output goes to"),
        "{}",
        text(&out.stderr)
    );
    // Standard input, named as `-` or read because no file is named.
    for stdin_args in [&["-"][..], &[]] {
        let out = Command::new(env!("CARGO_BIN_EXE_wasmstash"))
            .args(["run", "--filter", "mutate"])
            .args(stdin_args)
            .current_dir(dir.path())
            .stdin(std::fs::File::open(&log).unwrap())
            .stdout(append())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("cannot read -: it is the file"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\n");
    // Another file as the output is fine.
    let other = std::fs::File::create(dir.path().join("out.ndjson")).unwrap();
    let out = run_to(dir.path(), &args, other);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A stdout closed at start (`run app.log >&-`) is refused before anything
/// is read: the runtime gives it `/dev/null`, and the summary would count
/// the events as written. A stdout sent to `/dev/null` on purpose, to keep
/// only the summary, is fine, however it was opened.
#[test]
fn a_closed_stdout_is_refused_and_dev_null_is_not() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.log"), "one\ntwo\n").unwrap();
    let through_shell = |redirect: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec \"$0\" run --filter mutate app.log {redirect}"
            ))
            .arg(env!("CARGO_BIN_EXE_wasmstash"))
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let closed = through_shell(">&-");
    assert_eq!(closed.status.code(), Some(1), "{}", text(&closed.stderr));
    assert!(
        text(&closed.stderr).contains("stdout is closed, so the events would go nowhere"),
        "{}",
        text(&closed.stderr)
    );
    let discarded = through_shell(">/dev/null");
    assert!(discarded.status.success(), "{}", text(&discarded.stderr));
    assert!(
        text(&discarded.stderr).contains("2 events in, 2 out"),
        "{}",
        text(&discarded.stderr)
    );
    let args: Vec<String> = ["run", "--filter", "mutate", "app.log"]
        .map(String::from)
        .into();
    let null = run_to(dir.path(), &args, Stdio::null());
    assert!(null.status.success(), "{}", text(&null.stderr));
    // Opened for reading and writing, as Python's DEVNULL and Node's
    // `ignore` open it: the same as the runtime's stand-in for a closed
    // stdout, once the process runs, but open when it started.
    let read_write = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .unwrap();
    let devnull = run_to(dir.path(), &args, read_write);
    assert!(devnull.status.success(), "{}", text(&devnull.stderr));
}
