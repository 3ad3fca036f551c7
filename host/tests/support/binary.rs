//! The `wasmstash` binary run as a user runs it, for the CLI tests.
// Each test binary uses part of it.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

pub fn wasmstash(args: &[&str], stdin: &[u8]) -> Output {
    wasmstash_in(std::path::Path::new("."), args, stdin)
}

pub fn wasmstash_in(dir: &std::path::Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = spawn_in(dir, args);
    // A run refused before it reads its input (a bad config, too many
    // instances) may exit before all of it is written: what it said and
    // its status are the test's to check, not the pipe.
    match child.stdin.take().unwrap().write_all(stdin) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        written => written.unwrap(),
    }
    child.wait_with_output().unwrap()
}

/// The binary started in `dir` with `args`, its stdin, stdout and stderr
/// piped to the test.
pub fn spawn_in(dir: &std::path::Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(args)
        .current_dir(dir)
        // Scaffolded crates build here, so reruns are incremental.
        .env(
            "CARGO_TARGET_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/scaffold"),
        )
        .env(
            "WASMSTASH_CACHE_DIR",
            std::env::temp_dir().join("wasmstash-test-cache"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The NDJSON events a run wrote.
pub fn events_of(stdout: &[u8]) -> Vec<serde_json::Value> {
    text(stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

pub fn examples(file: &str) -> String {
    let dir = wasmstash_sdk::crate_dir!().join("../examples");
    format!("{}/{file}", dir.display())
}
