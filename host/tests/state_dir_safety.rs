//! A state directory is written to by the sidecar, often as root or as the
//! service's own user: what another user could plant there (a link named
//! as the lock, a state file or a temporary) must not make it write over
//! another file or restore one of their choosing, and what it writes is
//! for this user alone. A directory others can write to is refused, by
//! `check`, `serve` and `run` alike, and nothing is written through a link.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Stdio};

use binary::*;
use support::refused_run;
use support::server::{Server, write_config};

const PIPELINE: &str = "[[pipelines.cli.filters]]\nfilter = \"templates\"\n";

fn config_with_state(dir: &Path, state: &Path) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            "[server]\nwatch = false\nworkers = 1\nstate_dir = \"{}\"\n{PIPELINE}",
            state.display()
        ),
    )
}

/// `serve` on `config`, which is expected to refuse to start: its exit
/// code and log. One that starts after all is stopped by the wait's limit,
/// and the test fails there.
fn serve_refused(config: &Path) -> (Option<i32>, String) {
    refused_run(
        Command::new(support::server::binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env_remove("WASMSTASH_ADMIN_TOKEN"),
        "serve started on a state directory it should have refused",
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn a_state_dir_others_may_write_to_is_refused_by_check_serve_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("shared");
    std::fs::create_dir(&state).unwrap();
    // Like /tmp: anyone may add entries.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let config = config_with_state(dir.path(), &state);
    let said = |what: &str, text: &str| {
        assert!(
            text.contains(&state.display().to_string())
                && text.contains("another user can write to this directory")
                && text.contains("mode 1777"),
            "{what}: {text}"
        );
    };

    let check = wasmstash_in(dir.path(), &["check", config.to_str().unwrap()], b"");
    assert_eq!(check.status.code(), Some(2), "{}", text(&check.stderr));
    said("check", &text(&check.stderr));

    let (code, log) = serve_refused(&config);
    assert_eq!(code, Some(2), "{log}");
    said("serve", &log);

    let run = wasmstash_in(
        dir.path(),
        &["run", "--filter", "templates", "--state-dir", "shared"],
        b"disk 1 full\n",
    );
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("another user can write to this directory"),
        "{}",
        text(&run.stderr)
    );
    assert!(std::fs::read_dir(&state).unwrap().next().is_none());

    // A pipeline's own directory that others may write to is refused too,
    // within a state directory that is this user's alone.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let planted = state.join("cli");
    std::fs::create_dir(&planted).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, log) = serve_refused(&config);
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains(&planted.display().to_string()) && log.contains("mode 777"),
        "{log}"
    );
}

#[test]
fn the_lock_and_state_files_are_not_opened_through_links() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let pipeline_dir = state.join("cli");
    std::fs::create_dir_all(&pipeline_dir).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let config = config_with_state(dir.path(), &state);

    symlink(&victim, pipeline_dir.join(".lock")).unwrap();
    let (code, log) = serve_refused(&config);
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains(".lock") && log.contains("symbolic link"),
        "{log}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    std::fs::remove_file(pipeline_dir.join(".lock")).unwrap();

    // A link where the filter's state is kept is not read as its state.
    symlink(&victim, pipeline_dir.join("templates.state")).unwrap();
    let run = wasmstash_in(
        dir.path(),
        &["run", "--filter", "templates", "--state-dir", "state"],
        b"disk 1 full\n",
    );
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("a saved state must be a regular file"),
        "{}",
        text(&run.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

/// The save's temporary names are known to anyone who knows the process's
/// id: links planted under them must not be written through.
#[test]
fn a_save_does_not_write_through_links_at_its_temporary_names() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let server = Server::start(&config_with_state(dir.path(), &state), &[]);
    let pid = server.child.id();
    for save in 0..16 {
        let name = format!("templates.tmp-{pid}-{save}");
        symlink(&victim, state.join("cli").join(name)).unwrap();
    }
    let answer = server.post("/v1/pipelines/cli/event", br#"{"message":"disk 1 full"}"#);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let _ = server.stop_with_status();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

/// With the usual umask (022), state used to be readable by every user of
/// the machine; it holds what the events held.
#[test]
fn state_is_written_for_this_user_alone_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("sh")
        .args(["-c", "umask 022 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["run", "--filter", "templates", "--format", "lines"])
        .args(["--state-dir", "new/state"])
        .current_dir(dir.path())
        .env(
            "WASMSTASH_CACHE_DIR",
            std::env::temp_dir().join("wasmstash-test-cache"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"disk 1 full\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let state = dir.path().join("new/state");
    assert_eq!(mode(&dir.path().join("new")), 0o700);
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("cli")), 0o700);
    assert_eq!(mode(&state.join("cli/.lock")), 0o600);
    assert_eq!(mode(&state.join("cli/templates.state")), 0o600);
}
