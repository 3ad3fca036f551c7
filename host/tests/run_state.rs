//! `wasmstash run --state-dir`: a state directory that cannot hold a
//! pipeline's state fails the run before it reads a line, a refused
//! snapshot is never written over, and no two processes (runs, or a run
//! and `serve`, at start or on a reload) share one pipeline's state.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use binary::*;
use serde_json::Value;
use support::server::{Server, write_config};
use support::{wait_exit, wait_exit_with_stderr};

/// `wasmstash run --filter templates --state-dir STATE` in `dir`, started
/// with its input left open.
fn templates_run(dir: &Path, state: &str) -> std::process::Child {
    templates_run_with(dir, state, &[])
}

/// [`templates_run`] with more options.
fn templates_run_with(dir: &Path, state: &str, more: &[&str]) -> std::process::Child {
    let mut args = vec![
        "run",
        "--filter",
        "templates",
        "--format",
        "lines",
        "--state-dir",
        state,
    ];
    args.extend(more);
    spawn_in(dir, &args)
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
/// The FIFO has the old layout's name (`<position>-<name>.state`), which a
/// filter without a file of its own reads.
#[test]
fn unusable_state_paths_fail_the_run_before_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("file"), "").unwrap();
    std::fs::create_dir_all(d.join("subfile")).unwrap();
    std::fs::write(d.join("subfile/cli"), "").unwrap();
    std::fs::create_dir_all(d.join("dir/cli/templates.state")).unwrap();
    std::fs::create_dir_all(d.join("fifo/cli")).unwrap();
    support::mkfifo(&d.join("fifo/cli/0-templates.state"));
    for (state, says) in [
        ("file", "--state-dir file: it exists and is not a directory"),
        ("subfile", "subfile/cli: it exists and is not a directory"),
        (
            "dir",
            "dir/cli/templates.state: a saved state must be a regular file",
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
        assert_eq!(status.code(), Some(2), "{state}: {stderr}");
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
    let saved = dir.path().join("state/cli/templates.state");
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
    let refusal = stderr
        .lines()
        .find(|line| line.contains("refused its saved"));
    assert!(
        refusal.unwrap().contains("pipeline=cli"),
        "the line says whose state it was: {stderr}"
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
    // JSON, then its checksum's eight bytes.
    let state = String::from_utf8_lossy(&std::fs::read(&saved).unwrap()).into_owned();
    assert!(state.contains("disk"), "{state}");
}

/// A saved state larger than the filter's memory limit could never be
/// restored; it used to be read whole (several such files at once, up to
/// 4 GiB each, whatever the limit) before the filter refused it. It is now
/// refused unread, naming the limit, and kept aside like any refused state.
#[test]
fn a_snapshot_past_the_memory_limit_is_refused_unread_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("state/cli/templates.state");
    std::fs::create_dir_all(saved.parent().unwrap()).unwrap();
    // Sparse: 1 GiB on paper, nothing on disk.
    std::fs::File::create(&saved)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let mut run = templates_run_with(dir.path(), "state", &["--memory-limit-mib", "16"]);
    run.stdin
        .take()
        .unwrap()
        .write_all(b"disk 3 full\n")
        .unwrap();
    let out = run.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the saved state is larger than 16777216 bytes, the filter's memory limit (engine.memory_limit_mib)"),
        "{stderr}"
    );
    let aside: Vec<_> = std::fs::read_dir(saved.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.metadata().unwrap().len() == 1 << 30)
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    // JSON, then its checksum's eight bytes.
    let state = String::from_utf8_lossy(&std::fs::read(&saved).unwrap()).into_owned();
    assert!(state.contains("disk"), "{state}");
}

/// Two runs on one pipeline's state each restored it and saved their own,
/// and only the last to end kept what it learned. The second is refused,
/// clearly, while the first runs; once the first has ended, a run restores
/// what it saved.
#[test]
fn a_second_run_on_the_same_state_is_refused_while_the_first_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, input) = run_holding_the_state(dir.path());

    let second = templates_over(dir.path(), "state", b"disk 4 full\n");
    let stderr = text(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the state of pipeline `cli` is in use by another `wasmstash run`"),
        "{stderr}"
    );
    assert!(second.stdout.is_empty());

    drop(input);
    let status = wait_exit(&mut first, Duration::from_secs(20), "the first run hung");
    assert!(status.success());
    assert_eq!(seen_by_run(dir.path(), "disk 5 full"), false);
}

const TOKEN: &str = "run-state-test-admin-token";

/// A sidecar config in `dir`, keeping state in `dir/state` (where the runs
/// above keep it), with `pipelines`.
fn serve_config(dir: &Path, pipelines: &str) -> std::path::PathBuf {
    let state = dir.join("state");
    write_config(
        dir,
        &format!(
            "[server]\nwatch = false\nworkers = 1\nstate_dir = \"{}\"\n{pipelines}",
            state.display()
        ),
    )
}

/// The pipeline `cli` of `run --filter templates`, for the sidecar.
const CLI_TEMPLATES: &str = "[[pipelines.cli.filters]]\nfilter = \"templates\"\n";

fn serve_with_state(dir: &Path, pipelines: &str) -> Server {
    Server::start(
        &serve_config(dir, pipelines),
        &[("WASMSTASH_ADMIN_TOKEN", TOKEN)],
    )
}

/// Whether the sidecar's `pipeline` had seen `message`'s template before.
fn seen_by_serve(server: &Server, pipeline: &str, message: &str) -> Value {
    let body = serde_json::json!({ "message": message }).to_string();
    let response = server.post(&format!("/v1/pipelines/{pipeline}/event"), body.as_bytes());
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["wasmstash"]["template"]["new"].clone()
}

/// Whether a run on `dir/state` had seen `line`'s template before.
fn seen_by_run(dir: &Path, line: &str) -> Value {
    let out = templates_over(dir, "state", format!("{line}\n").as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    events_of(&out.stdout)[0]["wasmstash"]["template"]["new"].clone()
}

fn reload(server: &Server) -> (u16, String) {
    let response = server.request(
        "POST",
        "/v1/admin/reload",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"",
    );
    (response.status, response.text())
}

/// A run started while a sidecar served the same pipeline's state restored
/// it and, at its end, wrote over all the sidecar had saved (or the
/// sidecar's next save wrote over the run's). The run is refused, saying
/// what holds the state; once the sidecar has stopped, a run restores what
/// it saved.
#[test]
fn a_run_is_refused_while_serve_owns_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_state(dir.path(), CLI_TEMPLATES);
    assert_eq!(seen_by_serve(&server, "cli", "disk 3 full"), true);

    let run = templates_over(dir.path(), "state", b"disk 4 full\n");
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr
            .contains("the state of pipeline `cli` is in use by another `wasmstash serve --config")
            && stderr.contains("state/cli/.lock"),
        "{stderr}"
    );
    assert!(run.stdout.is_empty());

    server.stop();
    assert_eq!(seen_by_run(dir.path(), "disk 5 full"), false);
}

/// A sidecar started while a run used the pipeline's state served it as
/// if it were its own. It fails to start instead (exit 2), naming the lock
/// and the run, before it listens (it used to answer `/healthz` while its
/// modules compiled, then exit); once the run has ended, it starts with
/// what the run saved.
#[test]
fn serve_does_not_start_while_a_run_owns_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let (mut run, input) = run_holding_the_state(dir.path());

    let config = serve_config(dir.path(), CLI_TEMPLATES);
    let mut serve = Command::new(support::server::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env(
            "WASMSTASH_CACHE_DIR",
            std::env::temp_dir().join("wasmstash-test-cache"),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (status, stderr) = wait_exit_with_stderr(
        &mut serve,
        Duration::from_secs(60),
        "serve kept running while a run owned the state",
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the state of pipeline `cli` is in use by another `wasmstash run` (pid ")
            && stderr.contains("state/cli/.lock"),
        "{stderr}"
    );
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut serve.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(!stdout.contains("listening"), "{stdout}");

    drop(input);
    let status = wait_exit(&mut run, Duration::from_secs(20), "the run hung");
    assert!(status.success());
    let server = serve_with_state(dir.path(), CLI_TEMPLATES);
    assert_eq!(seen_by_serve(&server, "cli", "disk 5 full"), false);
    server.stop();
}

/// A reload that added a pipeline whose state a run used served it anyway,
/// from scratch, and wrote over what the run saved. The reload is refused
/// and the running pipelines serve on; once the run has ended, a reload
/// takes the pipeline with what the run saved, and one that drops it saves
/// its state and lets it go, for the next run to take.
#[test]
fn a_reload_does_not_take_state_a_run_owns_and_releases_what_it_drops() {
    let dir = tempfile::tempdir().unwrap();
    let other =
        "[[pipelines.other.filters]]\nfilter = \"mutate\"\nconfig = { add_tag = [\"o\"] }\n";
    let server = serve_with_state(dir.path(), other);
    let (mut run, input) = run_holding_the_state(dir.path());

    serve_config(dir.path(), &format!("{other}{CLI_TEMPLATES}"));
    let (status, answer) = reload(&server);
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer.contains("the state of pipeline `cli` is in use by another `wasmstash run`"),
        "{answer}"
    );
    assert_eq!(
        server.get("/readyz").json()["pipelines"],
        serde_json::json!(["other"])
    );

    drop(input);
    let status = wait_exit(&mut run, Duration::from_secs(20), "the run hung");
    assert!(status.success());
    let (status, answer) = reload(&server);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(seen_by_serve(&server, "cli", "disk 5 full"), false);
    assert_eq!(seen_by_serve(&server, "cli", "queue 7 stalled"), true);

    serve_config(dir.path(), other);
    let (status, answer) = reload(&server);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(seen_by_run(dir.path(), "queue 9 stalled"), false);
    server.stop();
}

/// A run on `dir/state` that has learned "disk 3 full" and waits for more
/// input, holding the state; closing the input it returns ends it.
fn run_holding_the_state(dir: &Path) -> (std::process::Child, std::process::ChildStdin) {
    let mut run = templates_run(dir, "state");
    let mut input = run.stdin.take().unwrap();
    input.write_all(b"disk 3 full\n").unwrap();
    input.flush().unwrap();
    // Its first event is out: it has claimed the state by then.
    let mut line = String::new();
    BufReader::new(run.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("disk 3 full"), "{line}");
    (run, input)
}

fn unsnapshottable_filter(dir: &Path) {
    std::fs::write(dir.join("stuck.wat"), support::unsnapshottable_filter()).unwrap();
}

/// A filter whose snapshot failed at the end of a run used to leave the
/// run's state unsaved with one line in the log, the run ending well:
/// the next run then started from state older than every event of this
/// one. Now the run fails, saying so, with every event still out.
#[test]
fn a_run_whose_state_cannot_be_snapshotted_fails() {
    let dir = tempfile::tempdir().unwrap();
    unsnapshottable_filter(dir.path());
    let out = wasmstash_in(
        dir.path(),
        &[
            "run",
            "--filter",
            "stuck.wat",
            "--format",
            "lines",
            "--state-dir",
            "state",
        ],
        b"a\nb\nc\n",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(events_of(&out.stdout).len(), 3, "{stderr}");
    assert!(
        stderr.contains(
            "the snapshot of stuck failed (see the error above), so this run's state is not saved"
        ),
        "{stderr}"
    );
    // Every event was read and written: the run did not stop early.
    assert!(
        stderr.contains("wasmstash run: pipeline `cli`: 3 events in, 3 out"),
        "{stderr}"
    );
}

/// The same at a sidecar's shutdown: it exits 1, as for a state file it
/// could not write, and does not claim to have saved.
#[test]
fn a_sidecar_whose_state_cannot_be_snapshotted_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    unsnapshottable_filter(dir.path());
    let server = serve_with_state(
        dir.path(),
        "[[pipelines.st.filters]]\nmodule = \"stuck.wat\"\n",
    );
    let response = server.post("/v1/pipelines/st/event", br#"{"message":"a"}"#);
    assert_eq!(response.status, 200, "{}", response.text());
    let status = server.stop_with_status();
    assert_eq!(status.code(), Some(1));
}

/// A stateful filter whose snapshot returns `state` as written in WAT
/// (empty: ABI v1's "no state"), and whose restore accepts anything.
fn filter_snapshotting(state: &str) -> String {
    let snapshot = if state.is_empty() {
        "(i64.const 0)".to_owned()
    } else {
        format!(
            "(i64.or (i64.shl (i64.const 3072) (i64.const 32)) (i64.const {}))",
            state.len()
        )
    };
    let process = format!(
        "{} {}",
        support::ALL_UNCHANGED,
        support::RETURN_OUTPUT_AT_2048
    );
    support::wat_filter(&process).replacen(
        r#"(func (export "wasmstash_free")"#,
        &format!(
            r#"(data (i32.const 3072) "{state}")
  (func (export "wasmstash_snapshot") (result i64) {snapshot})
  (func (export "wasmstash_restore") (param i32 i32) (result i64) (i64.const 0))
  (func (export "wasmstash_free")"#
        ),
        1,
    )
}

/// A run of `keeper.wat` (see [`filter_snapshotting`]) keeping its state
/// in `state`.
const KEEPER_RUN: [&str; 7] = [
    "run",
    "--filter",
    "keeper.wat",
    "--format",
    "lines",
    "--state-dir",
    "state",
];

/// A filter that has state, then none (an empty snapshot), used to leave
/// its old file in place: every later start restored the state the filter
/// had said was gone. The file is removed now.
#[test]
fn an_empty_snapshot_removes_the_saved_state() {
    let dir = tempfile::tempdir().unwrap();
    let run = |state: &str| {
        std::fs::write(dir.path().join("keeper.wat"), filter_snapshotting(state)).unwrap();
        let out = wasmstash_in(dir.path(), &KEEPER_RUN, b"a\n");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(events_of(&out.stdout).len(), 1);
    };
    let saved = dir.path().join("state/cli/keeper.state");
    run("v1");
    assert_eq!(std::fs::read(&saved).unwrap(), b"v1");
    run("");
    assert!(
        !saved.exists(),
        "the state file outlived the filter's state"
    );
    run("v2");
    assert_eq!(std::fs::read(&saved).unwrap(), b"v2");
}

/// A save never leaves an empty file (see above), so one found at start
/// was cut short or made by hand: the filter starts afresh, and says so.
#[test]
fn an_empty_state_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keeper.wat"), filter_snapshotting("v1")).unwrap();
    std::fs::create_dir_all(dir.path().join("state/cli")).unwrap();
    std::fs::write(dir.path().join("state/cli/keeper.state"), b"").unwrap();
    let out = wasmstash_in(dir.path(), &KEEPER_RUN, b"a\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("saved state file is empty"), "{stderr}");
    assert_eq!(events_of(&out.stdout).len(), 1);
    let saved = std::fs::read(dir.path().join("state/cli/keeper.state")).unwrap();
    assert_eq!(saved, b"v1");
}

/// A filter's name comes from the config: where a failed save names it,
/// a newline or an escape sequence in it is escaped, not a line of its
/// own or an instruction to the terminal.
#[test]
fn a_failed_save_names_the_filter_escaped() {
    let dir = tempfile::tempdir().unwrap();
    unsnapshottable_filter(dir.path());
    std::fs::write(
        dir.path().join("w.toml"),
        "[[pipelines.p.filters]]\nmodule = \"stuck.wat\"\nname = \"s\\u001b[2J\\nFORGED\"\n",
    )
    .unwrap();
    let args = [
        "run",
        "-c",
        "w.toml",
        "--format",
        "lines",
        "--state-dir",
        "state",
        "-",
    ];
    let out = wasmstash_in(dir.path(), &args, b"a\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(r"the snapshot of s\u{1b}[2J\nFORGED failed"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(!stderr.lines().any(|l| l.starts_with("FORGED")), "{stderr}");
}
