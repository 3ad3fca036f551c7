//! What `wasmstash run` says on stderr, and what it refuses before reading:
//! the summary line quotes names the input chose (tags, failure kinds) and
//! the config chose (filter names), so they are escaped and bounded; and a
//! run that cannot make its filter instances is refused at start.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::fmt::Write as _;
use std::process::Command;

use binary::*;
use support::server::write_config;

/// Events with a tag and a failure kind that carry a line break and escape
/// sequences, run through a filter whose config name carries them too.
#[test]
fn names_from_events_and_config_are_escaped_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[pipelines.p.filters]]\nfilter = \"dissect\"\nname = \"d\\u001b[1m\\nwasmstash run: x\"\n\
         config = { mapping = { message = \"%{a} %{b}\" } }\n",
    );
    let event = "{\"message\":\"nospace\",\"tags\":[\"_a\\nwasmstash run: forged line\\u001b[31m\"],\
                 \"wasmstash\":{\"failures\":[{\"kind\":\"k\\u001b[2J\"}]}}\n";
    let out = wasmstash_in(
        dir.path(),
        &["run", "-c", config.to_str().unwrap()],
        event.as_bytes(),
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary = stderr
        .lines()
        .find(|line| line.starts_with("wasmstash run: pipeline `p`"))
        .unwrap_or_else(|| panic!("no summary: {stderr:?}"));
    assert!(
        summary.contains("_a\\nwasmstash run: forged line\\u{1b}[31m 1")
            && summary.contains("failure records by kind: k\\u{1b}[2J 1")
            && summary.contains("counted: d\\u{1b}[1m\\nwasmstash run: x.dissect_failures 1"),
        "{summary:?}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("wasmstash run:"))
            .count(),
        1,
        "{stderr:?}"
    );
}

/// A tag of 10,000 bytes is cut, and past 64 distinct tags the rest are
/// counted together: the input cannot make the summary line as long as it
/// likes.
#[test]
fn the_summary_names_a_bounded_number_of_tags_each_cut() {
    let mut input = String::new();
    writeln!(input, "{{\"tags\":[\"_a{}\"]}}", "x".repeat(10_000)).unwrap();
    for n in 0..100 {
        writeln!(input, "{{\"tags\":[\"_t{n:03}\"]}}").unwrap();
    }
    let out = wasmstash(&["run", "--filter", "mutate={}"], input.as_bytes());
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.len() < 64 * 300, "{} bytes: {stderr}", stderr.len());
    // The 64 first in sorted order are named: the cut tag and 63 others.
    assert!(
        stderr.contains("_t000 1, ") && stderr.contains("_t062 1, "),
        "{stderr}"
    );
    assert!(!stderr.contains("_t063"), "{stderr}");
    assert!(stderr.contains("others 37"), "{stderr}");
    assert!(stderr.contains("xxx …(cut) 1"), "{stderr}");
}

/// README: up to 65,536 blank lines are held while `--format auto` waits for
/// the line that says what the input is; one more, and the input is text.
#[test]
fn auto_holds_65536_blank_lines_and_no_more() {
    for (blanks, events) in [(65_536, 1), (65_537, 65_538)] {
        let input = format!("{}{{\"a\":1}}\n", "\n".repeat(blanks));
        let out = wasmstash(&["run", "--filter", "mutate={}"], input.as_bytes());
        assert!(out.status.success(), "{}", text(&out.stderr));
        let written = events_of(&out.stdout);
        assert_eq!(written.len(), events, "{blanks} blank lines");
        let last = written.last().unwrap();
        if events == 1 {
            assert_eq!(last, &serde_json::json!({"a": 1}));
        } else {
            assert_eq!(last, &serde_json::json!({"message": "{\"a\":1}"}));
        }
    }
}

/// Each instance reserves its memory's range of addresses (4 GiB and a
/// guard), so under `ulimit -v` a run could make the one instance the load
/// checks a filter with, but not a worker's two: it started, and every
/// event failed as a trap, exit 0. Now each worker's instances are made
/// before any input is read, and a run that cannot make them is refused.
#[test]
fn a_run_that_cannot_make_its_instances_is_refused_before_reading() {
    let binary = env!("CARGO_BIN_EXE_wasmstash");
    // One filter's instance, then two, under the same limit: the limit is
    // set from what one needs, so that it holds one and not two whatever
    // the process's own share of addresses is.
    let under_limit = |kib: u64, filters: usize| {
        let mut script = format!("ulimit -v {kib} && exec \"$0\" run -w 1");
        for _ in 0..filters {
            script.push_str(" --filter 'mutate={}'");
        }
        let mut child = Command::new("sh")
            .args(["-c", &script, binary])
            .env(
                "WASMSTASH_CACHE_DIR",
                std::env::temp_dir().join("wasmstash-test-cache"),
            )
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(b"{\"a\":1}\n");
        child.wait_with_output().unwrap()
    };
    // The least limit, in steps of 256 MiB, under which one filter runs.
    let step = 256 << 10;
    let fits_one = (4..64)
        .map(|n| n * step)
        .find(|&kib| under_limit(kib, 1).status.success())
        .expect("one filter runs under some limit below 16 GiB");
    // Reserving an instance takes over 4 GiB more: a second cannot fit,
    // while 1 GiB more leaves room for the rest of a second filter's load.
    let two = under_limit(fits_one + 4 * step, 2);
    let stderr = text(&two.stderr);
    assert_eq!(two.status.code(), Some(2), "{stderr}");
    assert!(two.stdout.is_empty(), "{}", text(&two.stdout));
    assert!(
        stderr.contains("pipeline `cli`: cannot start worker 1 of 1: filter `mutate#2`")
            && stderr.contains("could not start a new instance"),
        "{stderr}"
    );
}

/// On a terminal, the progress bar counted stdin's bytes against the
/// files' total (`33.80 MiB/18.09 MiB`). With stdin among the inputs it
/// now shows the bytes read, with no total.
#[test]
fn with_stdin_among_the_inputs_the_bar_has_no_total() {
    use std::io::{Read, Write};
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.log");
    let line = format!("{}\n", "x".repeat(1023));
    std::fs::write(&file, line.repeat(9 << 10)).unwrap();
    let (controller, terminal) = pty();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["run", "--filter", "mutate={}", file.to_str().unwrap(), "-"])
        .env(
            "WASMSTASH_CACHE_DIR",
            std::env::temp_dir().join("wasmstash-test-cache"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::from(terminal))
        .spawn()
        .unwrap();
    // Read as it comes, so that the run never waits on a full terminal.
    let (pieces_to, pieces) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut controller = std::fs::File::from(controller);
        let mut piece = [0u8; 4096];
        // Once the run has closed the terminal, a read fails (EIO).
        while let Ok(n @ 1..) = controller.read(&mut piece) {
            if pieces_to.send(piece[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    // Stdin is held open until the bar has been drawn, so that the run
    // cannot end before it is; then given its lines and closed.
    let mut stdin = child.stdin.take().unwrap();
    let mut shown = Vec::new();
    let drawn = |shown: &[u8]| text(shown).contains(" read, ") || text(shown).contains(" eta ");
    while !drawn(&shown) {
        let Ok(piece) = pieces.recv() else { break };
        shown.extend(piece);
    }
    stdin.write_all(line.repeat(1 << 10).as_bytes()).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    shown.extend(pieces.iter().flatten());
    let shown = text(&shown);
    assert!(shown.contains(" read, "), "{shown:?}");
    assert!(
        !shown.contains("/9.00 MiB") && !shown.contains(" eta "),
        "{shown:?}"
    );
}

/// A terminal of its own: the controlling side, and the terminal a
/// child is given.
fn pty() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut controller, mut terminal) = (0, 0);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 160,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: the pointers are to locals that outlive the call, and the
    // name and settings arguments may be null.
    let opened = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(opened, 0, "{}", std::io::Error::last_os_error());
    // SAFETY: openpty gave these two descriptors to this test alone.
    unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    }
}

/// Events written to the terminal the bar is drawn on landed on its line:
/// with stdout there too, no bar is drawn.
#[test]
fn no_bar_is_drawn_where_the_events_are_written() {
    use std::io::Read;
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.log");
    std::fs::write(&file, format!("{}\n", "x".repeat(1023)).repeat(9 << 10)).unwrap();
    let (controller, terminal) = pty();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["run", "--filter", "mutate={}", file.to_str().unwrap()])
        .env(
            "WASMSTASH_CACHE_DIR",
            std::env::temp_dir().join("wasmstash-test-cache"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::from(terminal.try_clone().unwrap()))
        .stderr(Stdio::from(terminal))
        .spawn()
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut controller = std::fs::File::from(controller);
        let (mut shown, mut piece) = (Vec::new(), [0u8; 1 << 16]);
        // Once the run has closed the terminal, a read fails (EIO).
        while let Ok(n @ 1..) = controller.read(&mut piece) {
            shown.extend_from_slice(&piece[..n]);
        }
        shown
    });
    assert!(child.wait().unwrap().success());
    let shown = text(&reader.join().unwrap());
    assert!(
        shown.contains("9216 events in"),
        "{}",
        &shown[shown.len().saturating_sub(500)..]
    );
    assert!(
        !shown.contains(" eta ") && !shown.contains("MiB/s"),
        "a bar was drawn"
    );
}
