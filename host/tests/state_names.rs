//! A stateful filter's saved state belongs to its name, not its position:
//! a config change or a reload that moves the filter leaves it its state,
//! files are `<pipeline>/<name>.state`, and the files of the old layout
//! (`<position>-<name>.state`) are read once and then removed. Apart from
//! `run_state.rs`, which is about who may use a state directory.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use binary::*;
use serde_json::Value;
use support::server::{Server, write_config};

const TEMPLATES: &str = "[[pipelines.logs.filters]]\nfilter = \"templates\"\n";
const MUTATE: &str =
    "[[pipelines.logs.filters]]\nfilter = \"mutate\"\nconfig = { add_tag = [\"m\"] }\n";

/// `wasmstash run --config` on `pipelines` over `line`, with its state in
/// `dir/state`: whether the templates filter had seen the line's template
/// before, and what the run wrote on stderr.
fn run(dir: &Path, pipelines: &str, line: &str) -> (Value, String) {
    let config = write_config(dir, pipelines);
    let out = wasmstash_in(
        dir,
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "lines",
            "--state-dir",
            "state",
        ],
        format!("{line}\n").as_bytes(),
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let event = events_of(&out.stdout).remove(0);
    (event["wasmstash"]["template"]["new"].clone(), stderr)
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".lock")
        .collect();
    names.sort();
    names
}

/// A snapshot of the templates filter that has seen `line`, as a run saves
/// it (whatever it names the file).
fn snapshot_knowing(line: &str) -> Vec<u8> {
    let scratch = tempfile::tempdir().unwrap();
    let (new, stderr) = run(scratch.path(), TEMPLATES, line);
    assert_eq!(new, true, "{stderr}");
    let pipeline = scratch.path().join("state/logs");
    let files = files_in(&pipeline);
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read(pipeline.join(&files[0])).unwrap()
}

/// Writes `bytes` to `path`, last modified `seconds_ago`.
fn write_aged(path: &Path, bytes: &[u8], seconds_ago: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(seconds_ago))
        .unwrap();
}

/// A filter put before the stateful one moved it from position 0 to 1,
/// and it started from nothing: its state was looked for under the
/// position. It is found under its name, in a file of that name.
#[test]
fn a_filter_moved_by_a_config_change_keeps_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let (new, stderr) = run(dir.path(), TEMPLATES, "disk 3 full");
    assert_eq!(new, true, "{stderr}");

    let (new, stderr) = run(dir.path(), &format!("{MUTATE}{TEMPLATES}"), "disk 4 full");
    assert_eq!(new, false, "the moved filter lost its state: {stderr}");
    assert_eq!(
        files_in(&dir.path().join("state/logs")),
        ["templates.state"]
    );
}

/// A state saved in the old layout (`0-templates.state`) is read by the
/// filter named `templates`, and once its state is saved under its name,
/// the old file is removed: it used to stay, and be saved over, for good.
#[test]
fn an_old_layout_file_is_read_then_replaced_by_one_named_for_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("state/logs");
    write_aged(
        &pipeline.join("0-templates.state"),
        &snapshot_knowing("disk 3 full"),
        0,
    );

    let (new, stderr) = run(dir.path(), TEMPLATES, "disk 4 full");
    assert_eq!(new, false, "the old file was not read: {stderr}");
    assert_eq!(files_in(&pipeline), ["templates.state"]);
    let (new, stderr) = run(dir.path(), TEMPLATES, "disk 5 full");
    assert_eq!(new, false, "{stderr}");
}

/// Of several old files of one name, the one saved from the filter's
/// position is read, else the newest, and the log says which; all are
/// removed after the save. A file of a name the pipeline no longer has, of
/// either layout, is named in a warning and left alone.
#[test]
fn of_several_old_layout_files_the_position_then_the_newest_is_read() {
    let disk = snapshot_knowing("disk 3 full");
    let queue = snapshot_knowing("queue 7 stalled");

    // `templates` at position 0: `0-` is read, though `4-` is newer.
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("state/logs");
    write_aged(&pipeline.join("0-templates.state"), &queue, 600);
    write_aged(&pipeline.join("4-templates.state"), &disk, 0);
    write_aged(&pipeline.join("1-gone.state"), b"kept on purpose", 0);
    write_aged(&pipeline.join("retired.state"), b"kept too", 0);
    let (new, stderr) = run(dir.path(), TEMPLATES, "queue 9 stalled");
    assert_eq!(new, false, "{stderr}");
    assert!(
        stderr.contains("`templates` has several state files of the old layout")
            && stderr.contains("0-templates.state, saved from the position the filter has now")
            && stderr.contains("4-templates.state"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no stateful filter of pipeline `logs` reads these state files")
            && stderr.contains("1-gone.state")
            && stderr.contains("retired.state"),
        "{stderr}"
    );
    assert_eq!(
        files_in(&pipeline),
        ["1-gone.state", "retired.state", "templates.state"]
    );
    assert_eq!(
        std::fs::read(pipeline.join("1-gone.state")).unwrap(),
        b"kept on purpose"
    );

    // `templates` at position 1, with no file from there: the newest.
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("state/logs");
    write_aged(&pipeline.join("0-templates.state"), &queue, 600);
    write_aged(&pipeline.join("4-templates.state"), &disk, 0);
    let (new, stderr) = run(dir.path(), &format!("{MUTATE}{TEMPLATES}"), "disk 9 full");
    assert_eq!(new, false, "{stderr}");
    assert!(
        stderr.contains("4-templates.state, the newest, not ")
            && stderr.contains("0-templates.state"),
        "{stderr}"
    );
    assert_eq!(files_in(&pipeline), ["templates.state"]);
}

const TOKEN: &str = "state-names-test-admin-token";

/// `wasmstash serve` on `config`, its log (info and up) in `log`; returns
/// once it is ready.
fn serve(config: &Path, log: &Path) -> Server {
    let env = [
        ("WASMSTASH_ADMIN_TOKEN", TOKEN),
        ("RUST_LOG", "wasmstash=info"),
        ("NO_COLOR", "1"),
    ];
    Server::start_with_stderr(config, &env, File::create(log).unwrap().into())
}

/// A sidecar over `templates` alone, its state and log in `dir`, once it
/// has learned its first template.
fn serving_templates(dir: &Path) -> (Server, PathBuf) {
    let log = dir.join("serve.log");
    let server = serve(&serve_config(dir, TEMPLATES), &log);
    assert_eq!(seen(&server, "disk 3 full"), true);
    (server, log)
}

fn serve_config(dir: &Path, pipelines: &str) -> PathBuf {
    write_config(
        dir,
        &format!(
            "[server]\nwatch = false\nworkers = 1\nstate_dir = \"{}\"\n{pipelines}",
            dir.join("state").display()
        ),
    )
}

/// Whether the sidecar's templates filter had seen `message`'s template.
fn seen(server: &Server, message: &str) -> Value {
    let body = serde_json::json!({ "message": message }).to_string();
    let response = server.post("/v1/pipelines/logs/event", body.as_bytes());
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["wasmstash"]["template"]["new"].clone()
}

fn reload(server: &Server) -> serde_json::Value {
    let response = server.request(
        "POST",
        "/v1/admin/reload",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"",
    );
    assert_eq!(response.status, 200, "{}", response.text());
    serde_json::from_slice(&response.body).unwrap()
}

/// A reload that put a filter before the stateful one dropped its state,
/// with a warning about a stage number. It keeps it now; a reload that
/// renames it starts it afresh, and the warning says it is the name.
#[test]
fn a_reload_that_reorders_filters_keeps_their_state_and_one_that_renames_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (server, log) = serving_templates(dir.path());

    serve_config(dir.path(), &format!("{MUTATE}{TEMPLATES}"));
    reload(&server);
    let log_text = || std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        seen(&server, "disk 4 full"),
        false,
        "the reload lost the state: {}",
        log_text()
    );
    assert!(!log_text().contains("not carried over"), "{}", log_text());

    serve_config(
        dir.path(),
        &format!("{MUTATE}{TEMPLATES}name = \"miner\"\n"),
    );
    reload(&server);
    assert_eq!(seen(&server, "disk 5 full"), true);
    let warned = log_text();
    assert!(
        warned.contains(
            "the reloaded pipeline `logs` has no stateful filter named `templates`, so its state is not carried over"
        ) && warned.contains("a filter renamed or removed starts afresh"),
        "{warned}"
    );
    server.stop();
    // The old name's state was saved at the reload, for whoever takes the
    // name again.
    assert_eq!(
        files_in(&dir.path().join("state/logs")),
        ["miner.state", "templates.state"]
    );
}

#[test]
fn a_reload_that_adds_a_stateful_filter_reads_its_saved_state() {
    let dir = tempfile::tempdir().unwrap();
    // A first sidecar learns a template as `templates` and saves it.
    let (server, log) = serving_templates(dir.path());
    server.stop();

    // The next one owns the pipeline through another stateful filter, and a
    // reload then gives `templates` back to it.
    let miner = format!("{TEMPLATES}name = \"miner\"\n");
    let server = serve(&serve_config(dir.path(), &miner), &log);
    serve_config(dir.path(), &format!("{miner}{TEMPLATES}"));
    reload(&server);
    // `templates` runs last, so its answer is the one the event keeps.
    assert_eq!(
        seen(&server, "disk 4 full"),
        false,
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("restored 1 filter state snapshot(s)"),
        "{log_text}"
    );
    server.stop();
}

#[test]
fn a_filter_a_reload_leaves_out_is_saved_then_and_read_when_it_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let miner = format!("{TEMPLATES}name = \"miner\"\n");
    let both = format!("{miner}{TEMPLATES}");
    let server = serve(&serve_config(dir.path(), &both), &log);
    assert_eq!(seen(&server, "disk 3 full"), true);

    // Well inside the 60 s between periodic saves: only the reload saves it.
    serve_config(dir.path(), &miner);
    reload(&server);
    let saved = dir.path().join("state/logs/templates.state");
    let log_text = || std::fs::read_to_string(&log).unwrap();
    assert!(saved.is_file(), "not saved at the reload: {}", log_text());

    serve_config(dir.path(), &both);
    reload(&server);
    assert_eq!(seen(&server, "disk 4 full"), false, "{}", log_text());
    server.stop();
}

/// A reload that swaps in a build refusing the running filter's state (one
/// that reads another format) keeps that state aside, as a restart keeps a
/// refused file. It used to be dropped with a log line, and the next save
/// wrote the new filter's fresh state over the file.
#[test]
fn a_state_the_reloaded_filter_refuses_is_kept_aside() {
    let dir = tempfile::tempdir().unwrap();
    let (server, log) = serving_templates(dir.path());
    let refusing = PathBuf::from(wasmstash::builtins::build_module_dir()).join("chaos.wasm");
    serve_config(
        dir.path(),
        &format!("[[pipelines.logs.filters]]\nmodule = {refusing:?}\nname = \"templates\"\n"),
    );
    // The answer says so too, not only the log.
    let answer = reload(&server);
    assert_eq!(
        answer["state_refused"],
        serde_json::json!(["logs/templates"]),
        "{answer}"
    );
    assert!(
        answer["warning"].as_str().unwrap().contains("start afresh"),
        "{answer}"
    );
    let pipeline = dir.path().join("state/logs");
    let kept: Vec<String> = std::fs::read_dir(&pipeline)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("templates.state.refused-"))
        .collect();
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}\n{log_text}");
    let state = std::fs::read(pipeline.join(&kept[0])).unwrap();
    assert!(String::from_utf8_lossy(&state).contains("disk"));
    assert!(
        log_text.contains(
            "refused the state the replaced set handed it and starts afresh; that state was kept as"
        ),
        "{log_text}"
    );
    server.stop();
}

/// Two stateful filters of one name are told apart by their position alone
/// (`templates`, `templates#3`): remove the first, and the second becomes
/// `templates` and takes the first's saved state. `check`, `run` with a
/// state directory and `serve` warn of it; named ones, or stateless ones
/// sharing a name, are no concern.
#[test]
fn stateful_filters_told_apart_by_position_are_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    let pipelines = format!(
        "{TEMPLATES}{MUTATE}{TEMPLATES}\
         [[pipelines.named.filters]]\nfilter = \"templates\"\nname = \"a\"\n\
         [[pipelines.named.filters]]\nfilter = \"templates\"\nname = \"b\"\n\
         [[pipelines.named.filters]]\nfilter = \"mutate\"\n\
         [[pipelines.named.filters]]\nfilter = \"mutate\"\n"
    );
    let config = write_config(dir.path(), &pipelines);
    let check = wasmstash_in(dir.path(), &["check", config.to_str().unwrap()], b"");
    let stderr = text(&check.stderr);
    assert_eq!(check.status.code(), Some(0), "{stderr}");
    let warning = "pipeline `logs`: the stateful filters `templates`, `templates#3` share a name";
    assert!(stderr.contains(warning), "{stderr}");
    assert!(!stderr.contains("pipeline `named`"), "{stderr}");
    let (_, stderr) = run(
        dir.path(),
        &format!("{TEMPLATES}{MUTATE}{TEMPLATES}"),
        "a line",
    );
    assert!(stderr.contains(warning), "{stderr}");
}
