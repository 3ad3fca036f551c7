//! `wasmstash run --state-dir`: a state directory that cannot hold a
//! pipeline's state fails the run before it reads a line, a refused
//! snapshot is never written over, and two runs never share one pipeline's
//! state.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use binary::*;
use support::wait_exit;

/// `wasmstash run --filter templates --state-dir STATE` in `dir`, started
/// with its input left open.
fn templates_run(dir: &Path, state: &str) -> std::process::Child {
    spawn_in(
        dir,
        &[
            "run",
            "--filter",
            "templates",
            "--format",
            "lines",
            "--state-dir",
            state,
        ],
    )
}

/// Runs over `input` and waits for the end.
fn templates_over(dir: &Path, state: &str, input: &[u8]) -> std::process::Output {
    let mut child = templates_run(dir, state);
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Each of these used to be found only at the end, when the state could
/// not be saved (after a run of hours, its state lost), or never: a FIFO
/// where a snapshot belongs blocked the start for good. The input is left
/// open, so a run that does not fail first waits, and the test says so.
#[test]
fn unusable_state_paths_fail_the_run_before_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("file"), "").unwrap();
    std::fs::create_dir_all(d.join("subfile")).unwrap();
    std::fs::write(d.join("subfile/cli"), "").unwrap();
    std::fs::create_dir_all(d.join("dir/cli/0-templates.state")).unwrap();
    std::fs::create_dir_all(d.join("fifo/cli")).unwrap();
    let made = Command::new("mkfifo")
        .arg(d.join("fifo/cli/0-templates.state"))
        .status()
        .unwrap();
    assert!(made.success());
    for (state, says) in [
        ("file", "--state-dir file: it exists and is not a directory"),
        ("subfile", "subfile/cli: it exists and is not a directory"),
        (
            "dir",
            "dir/cli/0-templates.state: a saved state must be a regular file",
        ),
        (
            "fifo",
            "fifo/cli/0-templates.state: a saved state must be a regular file",
        ),
    ] {
        let mut run = templates_run(d, state);
        let _input = run.stdin.take();
        let status = wait_exit(
            &mut run,
            Duration::from_secs(20),
            &format!("--state-dir {state}: the run waited for input"),
        );
        let out = run.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(status.code(), Some(1), "{state}: {stderr}");
        assert!(stderr.contains(says), "{state}: {stderr}");
        assert!(out.stdout.is_empty(), "{state}");
    }
}

/// A snapshot the filter refuses is kept aside under a name for the
/// second; one refused in a second that already had one (a service
/// restarted in a loop, or an upgrade and its rollback) used to be renamed
/// over the first, losing it. Refused snapshots are laid out for the
/// seconds around the run, so that whichever second it names its own for,
/// one is there already.
#[test]
fn a_refused_snapshot_never_replaces_an_earlier_one() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("state/cli/0-templates.state");
    std::fs::create_dir_all(saved.parent().unwrap()).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let earlier: Vec<_> = (now - 1..now + 60)
        .map(|second| {
            let path = saved.with_extension(format!("state.refused-{second}"));
            std::fs::write(&path, format!("refused at {second}")).unwrap();
            path
        })
        .collect();
    std::fs::write(&saved, "not a template state").unwrap();
    let out = templates_over(dir.path(), "state", b"disk 3 full\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the filter refused its saved state"),
        "{stderr}"
    );
    for path in &earlier {
        let name = path.extension().unwrap().to_string_lossy().into_owned();
        let second = name.trim_start_matches("refused-");
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            format!("refused at {second}")
        );
    }
    let aside: Vec<_> = std::fs::read_dir(saved.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| std::fs::read(path).unwrap() == b"not a template state")
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let name = aside[0].file_name().unwrap().to_string_lossy();
    assert!(
        stderr.contains(&format!("kept as state/cli/{name}")),
        "{stderr}"
    );
    // The run's own state is saved in its place.
    let state = std::fs::read_to_string(&saved).unwrap();
    assert!(state.contains("disk"), "{state}");
}

/// Two runs on one pipeline's state each restored it and saved their own,
/// and only the last to end kept what it learned. The second is refused,
/// clearly, while the first runs; once the first has ended, a run restores
/// what it saved.
#[test]
fn a_second_run_on_the_same_state_is_refused_while_the_first_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = templates_run(dir.path(), "state");
    let mut input = first.stdin.take().unwrap();
    input.write_all(b"disk 3 full\n").unwrap();
    input.flush().unwrap();
    // Its first event is out: it has claimed the state by then.
    let mut output = BufReader::new(first.stdout.take().unwrap());
    let mut line = String::new();
    output.read_line(&mut line).unwrap();
    assert!(line.contains("disk 3 full"), "{line}");

    let second = templates_over(dir.path(), "state", b"disk 4 full\n");
    let stderr = text(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the state of pipeline `cli` is in use by another `wasmstash run`"),
        "{stderr}"
    );
    assert!(second.stdout.is_empty());

    drop(input);
    let status = wait_exit(&mut first, Duration::from_secs(20), "the first run hung");
    assert!(status.success());
    let third = templates_over(dir.path(), "state", b"disk 5 full\n");
    assert!(third.status.success(), "{}", text(&third.stderr));
    let event = &events_of(&third.stdout)[0];
    assert_eq!(event["wasmstash"]["template"]["new"], false, "{event}");
}
