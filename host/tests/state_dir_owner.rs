//! A pipeline's state has one owner, the process holding the flock on
//! `<state_dir>/<pipeline>/.lock`. An flock is on a file, not on a name:
//! a state directory removed under a running sidecar left it holding a lock
//! on a file no one else could find, a second sidecar then started on the
//! same directory, and the two wrote over each other's state without a word.
//! And a save cut short by SIGKILL left its temporary behind for good.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use binary::*;
use support::refused_run;
use support::server::{Server, write_config};

/// A sidecar config whose `cli` pipeline keeps templates' state in `state`,
/// saved every `interval_ms` and at shutdown.
fn config(dir: &Path, name: &str, state: &Path, interval_ms: u64) -> std::path::PathBuf {
    let config = write_config(
        dir,
        &format!(
            "[server]\nwatch = false\nworkers = 1\nstate_dir = \"{}\"\n\
             snapshot_interval_ms = {interval_ms}\n\
             [[pipelines.cli.filters]]\nfilter = \"templates\"\n",
            state.display()
        ),
    );
    let named = dir.join(name);
    std::fs::rename(&config, &named).unwrap();
    named
}

/// `serve` on `config`, logging warnings and up to `log`.
fn serve(config: &Path, log: &Path) -> Server {
    let file = std::fs::File::create(log).unwrap();
    Server::start_with_stderr(config, &[("RUST_LOG", "wasmstash=warn")], Stdio::from(file))
}

fn post_lines(server: &Server, lines: &[&str]) {
    let body: Vec<String> = (lines.iter())
        .map(|line| serde_json::json!({ "message": line }).to_string())
        .collect();
    let answer = server.post("/v1/pipelines/cli/batch", body.join("\n").as_bytes());
    assert_eq!(answer.status, 200, "{}", answer.text());
}

fn read_log(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap()
}

#[test]
fn a_state_dir_removed_under_the_sidecar_is_made_again_with_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let log = dir.path().join("first.log");
    let config = config(dir.path(), "ws.toml", &state, 100);
    let first = serve(&config, &log);
    post_lines(&first, &["disk 1 full", "disk 2 full"]);
    std::fs::remove_dir_all(&state).unwrap();

    // The next periodic save finds its lock gone with the directory, and
    // takes it again there before it writes. Only bounded against a hang.
    let lock = state.join("cli/.lock");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(lock.exists() && state.join("cli/templates.state").exists()) {
        assert!(
            Instant::now() < deadline,
            "no lock taken again in {}: {:?}; log:\n{}",
            state.display(),
            std::fs::read_dir(state.join("cli")).map(|d| d.flatten().count()),
            read_log(&log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        read_log(&log).contains("took the lock again"),
        "{}",
        read_log(&log)
    );

    // So a second sidecar on the same state_dir is refused, as the README
    // promises.
    let (code, said) = refused_run(
        Command::new(support::server::binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .env_remove("WASMSTASH_ADMIN_TOKEN"),
        "a second sidecar started on the state_dir the first one holds",
    );
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains("is in use by another"), "{said}");

    let status = first.stop_with_status();
    assert!(status.success(), "{status}; log:\n{}", read_log(&log));
}

#[test]
fn a_sidecar_does_not_write_where_another_has_owned_the_state_since() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (first_log, second_log) = (dir.path().join("first.log"), dir.path().join("second.log"));
    // Saved at shutdown only: the second owns the directory before the
    // first saves.
    let config = config(dir.path(), "ws.toml", &state, 3_600_000);
    let first = serve(&config, &first_log);
    post_lines(&first, &["disk 1 full", "disk 2 full", "fan 3 stalled"]);
    std::fs::remove_dir_all(&state).unwrap();
    let second = serve(&config, &second_log);
    assert!(state.join("cli/.lock").exists());

    // The first may not write its state over the second's (nor remove the
    // second's file), and says so in its exit code and log.
    let status = first.stop_with_status();
    let log = read_log(&first_log);
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("was removed or replaced")
            && log.contains("no longer saves this pipeline's state")
            && log.contains("holds it now"),
        "{log}"
    );
    let names: Vec<String> = (std::fs::read_dir(state.join("cli")).unwrap())
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [".lock"], "{log}");

    // The second, the owner now, saves as ever.
    post_lines(&second, &["link eth0 down"]);
    let status = second.stop_with_status();
    assert!(status.success(), "{status}; {}", read_log(&second_log));
    assert!(state.join("cli/templates.state").exists());
}

#[test]
fn temporaries_left_by_a_save_cut_short_are_removed_by_the_next_owner() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline_dir = dir.path().join("state/cli");
    std::fs::create_dir_all(&pipeline_dir).unwrap();
    // What a save killed between creating its temporary and renaming it
    // leaves: `<file stem>.tmp-<pid>-<save number>`.
    let left = pipeline_dir.join("templates.tmp-4242-7");
    std::fs::write(&left, "half a snapshot").unwrap();
    // Not of that form, or not a regular file: left alone.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    symlink(&victim, pipeline_dir.join("other.tmp-1-2")).unwrap();
    let others = ["templates.tmp-4242", "templates.tmp-x-7", "notes.txt"];
    for name in others {
        std::fs::write(pipeline_dir.join(name), "kept").unwrap();
    }

    let run = wasmstash_in(
        dir.path(),
        &["run", "--filter", "templates", "--state-dir", "state"],
        b"disk 1 full\n",
    );
    let said = text(&run.stderr);
    assert!(run.status.success(), "{said}");
    assert!(!left.exists(), "{said}");
    assert!(
        said.contains("removed 1 temporary file(s)") && said.contains("templates.tmp-4242-7"),
        "{said}"
    );
    assert!(
        said.contains("other.tmp-1-2 (not a regular file)"),
        "{said}"
    );
    for name in others {
        assert!(pipeline_dir.join(name).exists(), "{name}");
    }
    assert!(std::fs::symlink_metadata(pipeline_dir.join("other.tmp-1-2")).is_ok());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(pipeline_dir.join("templates.state").exists());
}
