//! `wasmstash test` (and `run -f`) as a user runs them: what case files it
//! reads, what it refuses in them, and module paths that hold a `=`.

#[path = "support/binary.rs"]
mod binary;

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use binary::*;

fn mkfifo(path: &Path) {
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `name` is a valid NUL-terminated path for the call's duration.
    let made = unsafe { libc::mkfifo(name.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo {}", path.display());
}

/// `args` in `dir`, killed (and the test failed) if it outlives 60 s.
fn wasmstash_within(dir: &Path, args: &[&str]) -> Output {
    let limit = Duration::from_secs(60);
    let mut child = spawn_in(dir, args);
    drop(child.stdin.take());
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "`wasmstash {}` still running after {limit:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn test_mutate(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["test", "--module", "mutate"];
    args.extend_from_slice(extra);
    wasmstash_within(dir, &args)
}

#[test]
fn case_files_that_are_not_regular_files_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("pipe.log"));
    let out = test_mutate(dir.path(), &["pipe.log"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("pipe.log: the case file is not a regular file"),
        "{}",
        text(&out.stderr)
    );

    // An expected file that is a FIFO is refused too, not waited on.
    std::fs::write(dir.path().join("a.log"), "x\n").unwrap();
    mkfifo(&dir.path().join("a.expected.ndjson"));
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
