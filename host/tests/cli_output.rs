//! What the printing commands do when their output cannot be written: a
//! reader that went away ends them quietly, any other failure is reported
//! (exit 1), and neither is a panic.

#[path = "support/binary.rs"]
mod binary;

use std::process::{Command, Output, Stdio};

use binary::*;

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
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("no /dev/full here; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for args in printing_commands(dir.path()) {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
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
