//! The files the sidecar reads and trusts: the admin token, the config and
//! the modules. Whoever can change the token file chooses the token that
//! opens the admin endpoints and the live view, so such a file is refused;
//! whoever can change the config or a module runs filters of their choosing
//! on every event (the watch reloads it unasked), which is said at load.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use support::refused_run;
use support::server::{Server, write_config};

const PIPELINE: &str = "[[pipelines.app.filters]]\nfilter = \"mutate\"\n";

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn config_with_token(dir: &Path, token_mode: u32) -> std::path::PathBuf {
    let token = dir.join("admin.token");
    std::fs::write(&token, "k3Q9vX2mT7pL4wZ8rN6s\n").unwrap();
    set_mode(&token, token_mode);
    write_config(
        dir,
        &format!("[server]\nwatch = false\nadmin_token_file = \"admin.token\"\n{PIPELINE}"),
    )
}

/// The log of a sidecar started on `config` and stopped once ready.
fn log_of_a_start(dir: &Path, config: &Path) -> String {
    let log = dir.join("serve.log");
    let env = [("RUST_LOG", "wasmstash=warn"), ("NO_COLOR", "1")];
    let file = std::fs::File::create(&log).unwrap();
    Server::start_with_stderr(config, &env, file.into()).stop();
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn a_token_file_others_may_write_is_refused_by_check_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_token(dir.path(), 0o666);
    let said = |what: &str, text: &str| {
        assert!(
            text.contains("admin.token")
                && text.contains("another user can change this file")
                && text.contains("mode 666"),
            "{what}: {text}"
        );
    };
    let (code, log) = refused_run(
        Command::new(support::server::binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .env_remove("WASMSTASH_ADMIN_TOKEN"),
        "serve started with a token file others may write",
    );
    assert_eq!(code, Some(2), "{log}");
    said("serve", &log);
    let (code, log) = refused_run(
        Command::new(support::server::binary())
            .arg("check")
            .arg(&config)
            .env_remove("WASMSTASH_ADMIN_TOKEN"),
        "check passed a token file others may write",
    );
    assert_eq!(code, Some(2), "{log}");
    said("check", &log);
}

#[test]
fn a_token_file_others_may_read_is_said_and_one_for_this_user_alone_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_token(dir.path(), 0o644);
    let log = log_of_a_start(dir.path(), &config);
    assert!(
        log.contains("other users can read the token (mode 644)"),
        "{log}"
    );
    set_mode(&dir.path().join("admin.token"), 0o600);
    let log = log_of_a_start(dir.path(), &config);
    assert!(!log.contains("admin.token"), "{log}");
}

#[test]
fn a_config_or_module_others_may_change_is_said_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let modules = dir.path().join("modules");
    std::fs::create_dir(&modules).unwrap();
    std::fs::copy(support::server::chaos_path(), modules.join("chaos.wasm")).unwrap();
    let config = write_config(
        dir.path(),
        "[server]\nwatch = false\n\
         [[pipelines.app.filters]]\nmodule = \"modules/chaos.wasm\"\n",
    );
    let log = log_of_a_start(dir.path(), &config);
    assert!(!log.contains("another user can change"), "{log}");

    set_mode(&config, 0o666);
    set_mode(&modules, 0o777);
    let log = log_of_a_start(dir.path(), &config);
    let warned = |file: &str, why: &str| {
        log.lines()
            .any(|line| line.contains(file) && line.contains(why))
    };
    assert!(
        warned("wasmstash.toml", "its mode 666 lets others write to it"),
        "{log}"
    );
    assert!(
        warned("chaos.wasm", "has mode 777, which lets others replace it"),
        "{log}"
    );
    // Such a directory with the sticky bit (as /tmp) lets no one else
    // replace a file there.
    set_mode(&modules, 0o1777);
    let log = log_of_a_start(dir.path(), &config);
    assert!(!log.contains("chaos.wasm"), "{log}");
}
