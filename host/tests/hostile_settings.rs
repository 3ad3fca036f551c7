//! Settings that used to slip past `check` and the start: an admin token
//! that is not UTF-8 (taken as no token at all), a config of more filter
//! instances than any real one (minutes and gigabytes before anything
//! could refuse it), and filter names that steer the terminal.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use binary::*;
use support::refused_run;
use support::server::write_config;

const ONE_FILTER: &str =
    "[[pipelines.app.filters]]\nfilter = \"json\"\nconfig = { source = \"message\" }\n";

/// `wasmstash ARGS` in `dir` with `WASMSTASH_ADMIN_TOKEN` set to `token`,
/// expected to exit by itself: its exit code and stderr.
fn with_token(dir: &Path, args: &[&str], token: &OsStr) -> (Option<i32>, String) {
    refused_run(
        Command::new(env!("CARGO_BIN_EXE_wasmstash"))
            .args(args)
            .current_dir(dir)
            .env("WASMSTASH_ADMIN_TOKEN", token),
        "wasmstash went on with a token it should have refused",
    )
}

/// A token that is not UTF-8 was read as no token: the log said to set
/// one, and with `admin_token_file` configured the file was used instead.
#[test]
fn an_admin_token_that_is_not_utf8_is_refused_by_check_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "a-token-from-the-file-0123\n").unwrap();
    let config = write_config(
        dir.path(),
        &format!("[server]\nwatch = false\nadmin_token_file = \"token\"\n{ONE_FILTER}"),
    );
    let config = config.to_str().unwrap();
    let token = OsStr::from_bytes(b"abcdefghijklmnopq\xff");
    for args in [
        &["check", config][..],
        &["serve", "--listen", "127.0.0.1:0", "--config", config][..],
    ] {
        let (code, stderr) = with_token(dir.path(), args, token);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("WASMSTASH_ADMIN_TOKEN: the token holds the byte 0xff")
                && stderr.contains("must be one line of printable ASCII"),
            "{args:?}: {stderr}"
        );
    }
    // The same words as for a token that is UTF-8 but not ASCII.
    let (code, stderr) = with_token(
        dir.path(),
        &["check", config],
        OsStr::new("abcdefghijklmnopqé"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("must be one line of printable ASCII"),
        "{stderr}"
    );
}

/// A config of `filters` json filters in one pipeline run by `workers`.
fn many_filters(dir: &Path, filters: usize, workers: usize, limit: Option<u64>) -> String {
    let mut text = match limit {
        Some(most) => format!("[engine]\nmax_filter_instances = {most}\n"),
        None => String::new(),
    };
    text.push_str(&format!("[server]\nwatch = false\nworkers = {workers}\n"));
    for _ in 0..filters {
        text.push_str(ONE_FILTER);
    }
    write_config(dir, &text).to_str().unwrap().to_owned()
}

#[test]
fn more_filter_instances_than_the_limit_are_refused_before_any_is_made() {
    let dir = tempfile::tempdir().unwrap();
    // 3 filters on 2 workers make 6 instances.
    let config = many_filters(dir.path(), 3, 2, Some(5));
    let said = |what: &str, stderr: &str| {
        assert!(
            stderr.contains(&config)
                && stderr
                    .contains("make 6 filter instances, more than 5 (engine.max_filter_instances)")
                && stderr.contains("2 worker(s) (server.workers)"),
            "{what}: {stderr}"
        );
    };
    let check = wasmstash_in(dir.path(), &["check", &config], b"");
    assert_eq!(check.status.code(), Some(2), "{}", text(&check.stderr));
    said("check", &text(&check.stderr));
    let (code, stderr) = with_token(
        dir.path(),
        &["serve", "--listen", "127.0.0.1:0", "--config", &config],
        OsStr::new(""),
    );
    assert_eq!(code, Some(2), "{stderr}");
    said("serve", &stderr);
    let run = wasmstash_in(
        dir.path(),
        &["run", "--config", &config, "--pipeline", "app"],
        b"{\"message\":\"{}\"}\n",
    );
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
    said("run", &text(&run.stderr));

    // At the limit, the config loads.
    let config = many_filters(dir.path(), 3, 2, Some(6));
    let check = wasmstash_in(dir.path(), &["check", &config], b"");
    assert!(check.status.success(), "{}", text(&check.stderr));

    // The audit's config: ten thousand filters, refused by the default.
    let config = many_filters(dir.path(), 10_000, 1, None);
    let check = wasmstash_in(dir.path(), &["check", &config], b"");
    assert_eq!(check.status.code(), Some(2), "{}", text(&check.stderr));
    assert!(
        text(&check.stderr).contains("make 10000 filter instances, more than 4096"),
        "{}",
        text(&check.stderr)
    );

    let config = many_filters(dir.path(), 1, 1, Some(0));
    let check = wasmstash_in(dir.path(), &["check", &config], b"");
    assert_eq!(check.status.code(), Some(2), "{}", text(&check.stderr));
    assert!(
        text(&check.stderr).contains("max_filter_instances = 0: must be between 1 and 65536"),
        "{}",
        text(&check.stderr)
    );
}

/// `run` makes its own workers' instances (`--workers`), which the config's
/// check of `server.workers` does not see: it is held to the same bound.
#[test]
fn run_workers_are_held_to_max_filter_instances() {
    let dir = tempfile::tempdir().unwrap();
    // 3 filters on serve's 1 worker: the config itself is within 6.
    let config = many_filters(dir.path(), 3, 1, Some(6));
    let event = b"{\"message\":\"{\\\"a\\\":1}\"}\n";
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--config", &config, "--pipeline", "app"];
        args.extend_from_slice(extra);
        wasmstash_in(dir.path(), &args, event)
    };
    let refused = run(&["--workers", "3"]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "pipeline `app`: 3 filter(s) in 1 pipeline(s), each run by 3 worker(s) (--workers)"
        ) && stderr.contains("make 9 filter instances, more than 6 (engine.max_filter_instances)")
            && stderr.contains("or lower --workers"),
        "{stderr}"
    );
    assert!(refused.stdout.is_empty(), "{}", text(&refused.stdout));

    // At the bound, the run goes through.
    let ran = run(&["--workers", "2"]);
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    assert_eq!(events_of(&ran.stdout)[0]["a"], 1);
    // Left to one per core, the workers are as many as the bound allows:
    // one here, where two cores would make 6 instances.
    let config = many_filters(dir.path(), 3, 1, Some(3));
    let ran = wasmstash_in(dir.path(), &["run", "--config", &config], event);
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    assert_eq!(events_of(&ran.stdout)[0]["a"], 1);

    // A stateful pipeline runs one worker whatever is asked: its instances
    // are counted as made.
    let stateful = write_config(
        dir.path(),
        "[engine]\nmax_filter_instances = 2\n[server]\nwatch = false\nworkers = 1\n\
         [[pipelines.app.filters]]\nfilter = \"templates\"\nconfig = { source = \"message\" }\n\
         [[pipelines.app.filters]]\nfilter = \"json\"\nconfig = { source = \"message\" }\n",
    );
    let ran = wasmstash_in(
        dir.path(),
        &["run", "-c", stateful.to_str().unwrap(), "--workers", "8"],
        event,
    );
    assert!(ran.status.success(), "{}", text(&ran.stderr));

    // Without a config, the default bound holds: 17 filters on 256
    // workers make 4352.
    let mut args = vec!["run", "--workers", "256"];
    for _ in 0..17 {
        args.extend(["--filter", r#"json={"source":"message"}"#]);
    }
    let refused = wasmstash_in(dir.path(), &args, event);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("pipeline `cli`: 17 filter(s) in 1 pipeline(s), each run by 256 worker(s)")
            && stderr.contains("make 4352 filter instances, more than 4096")
            && stderr.contains("give --config"),
        "{stderr}"
    );
}

/// A filter's name is the config's to choose; `check` printed it raw.
#[test]
fn check_prints_filter_names_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[server]\nwatch = false\n[[pipelines.app.filters]]\nfilter = \"json\"\n\
         name = \"evil\\u001b[31m\\nline\\u202e\"\nconfig = { source = \"message\" }\n\
         [[pipelines.bad.filters]]\nfilter = \"json\"\nname = \"bad\\u001b]0;x\\u0007\"\n\
         config = { no_such_option = 1 }\n",
    );
    let check = wasmstash_in(dir.path(), &["check", config.to_str().unwrap()], b"");
    let (stdout, stderr) = (text(&check.stdout), text(&check.stderr));
    assert!(
        stdout.contains("evil\\u{1b}[31m\\nline\\u{202e} ("),
        "{stdout}"
    );
    assert!(stderr.contains("(`bad\\u{1b}]0;x\\u{7}`)"), "{stderr}");
    for printed in [&stdout, &stderr] {
        assert!(
            !printed.contains('\u{1b}')
                && !printed.contains('\u{202e}')
                && !printed.contains('\u{7}'),
            "{printed:?}"
        );
    }
}

/// Config text quoted in a refusal was printed raw: a pipeline's name, a
/// built-in's, a key the `[engine]` table does not have (the TOML
/// library's message), so a NUL, an escape sequence or a line break in
/// them reached the terminal or started a log line of their own.
#[test]
fn config_text_in_refusals_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let mutate = "[[pipelines.p.filters]]\nfilter = \"mutate\"\n";
    for (config, shown) in [
        (
            "[[pipelines.\"a\\u0000b\".filters]]\nfilter = \"mutate\"\n".to_owned(),
            "pipeline `a\\u{0}b`",
        ),
        (
            "[[pipelines.\"a\\u001b[31mRED\\nx\".filters]]\nfilter = \"mutate\"\n".into(),
            "pipeline `a\\u{1b}[31mRED\\nx`",
        ),
        (
            "[[pipelines.p.filters]]\nfilter = \"mu\\u001b[31mtate\"\n".into(),
            "unknown built-in filter `mu\\u{1b}[31mtate`",
        ),
        (
            format!("[engine]\n\"bo\\u001bgus\\nx\" = 1\n{mutate}"),
            "unknown field `bo\\u{1b}gus\\nx`",
        ),
        (
            format!("[[pipelines.\"q\\u001b\".filters]]\nfilter = \"mutate\"\nbogus = 1\n{mutate}"),
            "pipeline `q\\u{1b}`, filter #1: TOML parse error",
        ),
    ] {
        let path = write_config(dir.path(), &config);
        let check = wasmstash_in(dir.path(), &["check", path.to_str().unwrap()], b"");
        let stderr = text(&check.stderr);
        assert_eq!(check.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(shown), "{shown}: {stderr}");
        assert!(
            !stderr.contains(['\0', '\u{1b}']) && !stderr.contains("\nx"),
            "{stderr:?}"
        );
    }
}

/// `check` of a config holding `toml`, with no admin token in the
/// environment: its exit code and stderr.
fn checked_without_token(toml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), toml);
    let check = Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["check", config.to_str().unwrap()])
        .env_remove("WASMSTASH_ADMIN_TOKEN")
        .output()
        .unwrap();
    (check.status.code(), text(&check.stderr))
}

/// `check` reports every problem it finds: it stopped at the first of the
/// `[server]` table's, a missing token file hiding a state_dir that others
/// may write to.
#[test]
fn check_reports_each_server_problem() {
    let (code, stderr) = checked_without_token(
        "[server]\nwatch = false\nstate_dir = \"/tmp\"\nadmin_token_file = \"missing.token\"\n\
         [[pipelines.b.filters]]\nfilter = \"templates\"\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("missing.token") && stderr.contains("state_dir /tmp"),
        "{stderr}"
    );
    assert!(stderr.contains("2 problem(s)"), "{stderr}");
}

/// An empty path was joined to the config's folder, so a `state_dir = ""`
/// put state files, and a `cache_dir = ""` compiled modules, beside the
/// config: each is refused, named, with the other problems.
#[test]
fn empty_paths_are_refused() {
    let (code, stderr) = checked_without_token(
        "[server]\nwatch = false\nstate_dir = \"\"\nadmin_token_file = \"\"\n\
         [engine]\ncache_dir = \"\"\n\
         [[pipelines.b.filters]]\nfilter = \"templates\"\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    for name in ["state_dir", "admin_token_file", "cache_dir"] {
        assert!(
            stderr.contains(&format!("{name} = \"\": give a path")),
            "{name}: {stderr}"
        );
    }
    assert!(stderr.contains("3 problem(s)"), "{stderr}");
}

/// `run` and `serve` name every problem of a config, each on a line of its
/// own that says whose it is, as `check` writes them; a filter the config
/// cannot take is named by what it would be called.
#[test]
fn run_and_serve_name_every_problem_of_a_config_on_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[server]\nworkers = 0\nqueue = 999999999\n\
         [[pipelines.a.filters]]\nfilter = \"json\"\nconfig = { t = 1979-05-27 }\n",
    );
    let config = config.to_str().unwrap();
    for args in [
        &["run", "-c", config, "-p", "a", "/dev/null"][..],
        &["serve", "-c", config],
    ] {
        let out = wasmstash(args, b"");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(lines.len() >= 2, "{args:?}: {stderr}");
        assert!(
            lines.iter().all(|line| line.starts_with("wasmstash: ")),
            "{stderr}"
        );
        assert!(
            stderr.contains("filter #1 (`json`): config.t = 1979-05-27"),
            "{stderr}"
        );
        assert!(stderr.contains("[server] workers = 0"), "{stderr}");
    }
}

/// A body budget `check` takes, but that cannot hold a body as large as
/// `max_body_bytes` allows: every body or event much over 4/9 of it
/// is refused (413) for good. Said by `check`, not refused: a deployment may
/// want it so; and so are `serve`'s other warnings about `[server]`.
#[test]
fn risky_server_settings_are_said_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let server = "[server]\nmax_body_bytes = 100000\nmax_inflight_body_bytes = 150000\n";
    let config = write_config(dir.path(), &format!("{server}{ONE_FILTER}"));
    let check = wasmstash_in(dir.path(), &["check", config.to_str().unwrap()], b"");
    assert!(check.status.success(), "{}", text(&check.stderr));
    let stderr = text(&check.stderr);
    assert!(
        stderr.contains("warning: [server] max_inflight_body_bytes = 150000 is below the"),
        "{stderr}"
    );
    // Room for the largest body: nothing said.
    let server = "[server]\nmax_body_bytes = 100000\nmax_inflight_body_bytes = 2000000\n";
    let config = write_config(dir.path(), &format!("{server}{ONE_FILTER}"));
    let check = wasmstash_in(dir.path(), &["check", config.to_str().unwrap()], b"");
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(
        !text(&check.stderr).contains("max_inflight_body_bytes"),
        "{}",
        text(&check.stderr)
    );
    // `serve`'s other warnings about `[server]`, said by `check` too.
    let server = "[server]\nlisten = \"0.0.0.0:9700\"\nheader_read_timeout_ms = 1000\n";
    let config = write_config(dir.path(), &format!("{server}{ONE_FILTER}"));
    let check = wasmstash_in(dir.path(), &["check", config.to_str().unwrap()], b"");
    let stderr = text(&check.stderr);
    assert!(check.status.success(), "{stderr}");
    for said in [
        "warning: [server] listening on 0.0.0.0:9700 reaches beyond this machine",
        "warning: [server] header_read_timeout_ms = 1000 also closes idle connections",
    ] {
        assert!(stderr.contains(said), "{said}: {stderr}");
    }
}

/// Paths and names given on the command line or in a config reach
/// messages escaped: a config's own path in `check`'s verdict, a
/// `--filter` path, the cache directory in its warning, `new`'s name.
#[test]
fn paths_in_messages_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "x\u{1b}[2J\nFORGED";
    let cache = "[engine]\ncache_dir = \"/proc/no\\u001b[2J\\nFORGED\"\n\
                 [[pipelines.p.filters]]\nfilter = \"json\"\n";
    std::fs::write(dir.path().join("cache.toml"), cache).unwrap();
    let runs: [&[&str]; 4] = [
        &["check", &format!("{hostile}.toml")],
        &["run", "--filter", &format!("{hostile}/.."), "/dev/null"],
        &["check", "cache.toml"],
        &["new", hostile],
    ];
    for args in runs {
        let out = wasmstash_in(dir.path(), args, b"");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(r"\u{1b}[2J\nFORGED"), "{args:?}: {stderr}");
        assert!(!stderr.contains('\u{1b}'), "{args:?}: {stderr:?}");
        assert!(
            !stderr.lines().any(|l| l.starts_with("FORGED")),
            "{args:?}: {stderr}"
        );
    }
}
