//! Authoring filters with the `wasmstash` binary: `new`, `test`, `check`
//! and `filters`, on real crates and modules (`inspect` has inspect.rs).

mod support;
// Not in `support`: the benchmarks share that, and have no binary to run.
#[path = "support/binary.rs"]
mod binary;

use binary::*;
use support::*;

#[test]
fn check_and_filters_describe_what_is_there() {
    let out = wasmstash(&["check", &examples("wasmstash.toml")], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("pipeline `app`: json ("));
    // `-c`, as `run` and `serve` take the file, says the same.
    let flagged = wasmstash(&["check", "-c", &examples("wasmstash.toml")], b"");
    assert_eq!(text(&flagged.stdout), text(&out.stdout));
    let out = wasmstash(&["run", "--help"], b"");
    assert!(text(&out.stdout).contains("Exit status: 0 when every event read went out"));
    assert!(text(&out.stdout).contains("--batch-size"));
    assert!(text(&out.stdout).contains("0 turns it off"));
    // `inspect` shares `run`'s limits, not what `run` says of them.
    let out = wasmstash(&["inspect", "--help"], b"");
    assert!(text(&out.stdout).contains("Deadline in ms for the module's start, 1 to"));
    assert!(!text(&out.stdout).contains("turns it off"));
    let out = wasmstash(&["filters"], b"");
    assert!(text(&out.stdout).starts_with("json "));
}

#[test]
fn a_pinned_module_is_refused_if_it_changed() {
    use sha2::Digest;
    let module = format!("{}/hello.wasm", wasmstash::builtins::build_module_dir());
    let sha: String = sha2::Sha256::digest(std::fs::read(&module).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pinned.toml");
    let write = |pin: &str| {
        std::fs::write(
            &config,
            format!("[[pipelines.p.filters]]\nmodule = \"{module}\"\nsha256 = \"{pin}\"\n"),
        )
        .unwrap();
    };
    write(&sha);
    let out = wasmstash(
        &["run", "-c", config.to_str().unwrap()],
        b"{\"message\":\"x\"}\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"message\":\"x\",\"greeting\":\"hello\"}\n"
    );

    let other = format!(
        "{}{}",
        &sha[..63],
        if sha.ends_with('0') { '1' } else { '0' }
    );
    write(&other);
    let out = wasmstash(&["run", "-c", config.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "the module's SHA-256 is {sha}, but the config pins {other}"
        )),
        "{err}"
    );
    assert!(err.contains("pipeline `p`, filter #1 (`hello`)"), "{err}");

    write("abc");
    let out = wasmstash(&["check", config.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected 64 hex digits"));
}

/// `check` lists every pipeline that loads and every problem, not only
/// the first: one run shows all of a config's mistakes, past the first
/// bad filter of a pipeline too.
#[test]
fn check_reports_every_broken_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("w.toml");
    std::fs::write(
        &config,
        "[[pipelines.a.filters]]\nfilter = \"json\"\nconfig = { sorce = \"m\" }\n\
         [[pipelines.b.filters]]\nfilter = \"mutate\"\n\
         [[pipelines.c.filters]]\nfilter = \"grok\"\nconfig = { match = { message = \"%{NOPE}\" } }\n\
         [[pipelines.c.filters]]\nfilter = \"mutate\"\n\
         [[pipelines.c.filters]]\nfilter = \"kv\"\nconfig = { bogus = 1 }\n\
         [[pipelines.d.filters]]\nfilter = \"mutate\"\nconfig = { at = 1979-05-27T07:32:00Z }\n\
         [[pipelines.d.filters]]\nfilter = \"dissect\"\nconfig = { mapping = 1 }\n\
         [[pipelines.e.filters]]\nfilter = \"mutate\"\n[[pipelines.e.filters]]\n",
    )
    .unwrap();
    let out = wasmstash(&["check", config.to_str().unwrap()], b"");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stdout.contains("pipeline `b`: mutate ("), "{stdout}");
    assert!(
        stderr.contains("pipeline `a`") && stderr.contains("unknown field `sorce`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pipeline `c`") && stderr.contains("%{NOPE} not defined"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pipeline `c`, filter #3 (`kv`)")
            && stderr.contains("unknown field `bogus`"),
        "{stderr}"
    );
    // What the config itself cannot take is one problem of many too, and
    // its pipeline is not listed as loaded.
    assert!(
        stderr.contains("pipeline `d`, filter #1 (`mutate`): config.at = 1979-05-27T07:32:00Z"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pipeline `e`, filter #2: missing `filter"),
        "{stderr}"
    );
    // Its other filters are still loaded, for their own problems.
    assert!(
        stderr.contains("pipeline `d`, filter #2 (`dissect`)"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("pipeline `d`") && !stdout.contains("pipeline `e`"),
        "{stdout}"
    );
    assert!(stderr.contains("w.toml: 6 problem(s)"), "{stderr}");
}

/// Every bad setting of `[engine]` and `[server]` is named, not only each
/// table's first, and the settings `serve` checks at start (the admin token,
/// the state directory) are checked even when no pipeline can be loaded.
#[test]
fn check_names_every_bad_setting_and_checks_the_server_without_pipelines() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("s.toml");
    std::fs::write(
        &config,
        "[engine]\nmemory_limit_mib = 0\ncall_timeout_ms = 9999999\n\
         [server]\nworkers = 0\nshutdown_linger_ms = 60001\nadmin_token_file = \"missing.token\"\n\
         [[pipelines.a.filters]]\nfilter = \"json\"\nconfig = { t = 1979-05-27 }\n",
    )
    .unwrap();
    let out = wasmstash(&["check", config.to_str().unwrap()], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for problem in [
        "[engine] memory_limit_mib = 0",
        "[engine] call_timeout_ms = 9999999",
        "[server] workers = 0",
        "[server] shutdown_linger_ms = 60001",
        "[server] admin_token_file",
        "pipeline `a`, filter #1 (`json`): config.t = 1979-05-27",
    ] {
        assert!(stderr.contains(problem), "{problem}: {stderr}");
    }
    assert!(stderr.contains("s.toml: 6 problem(s)"), "{stderr}");
}

#[test]
fn golden_tests_pass_fail_with_a_field_diff_and_bless() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("access.log");
    let lines: Vec<String> = apache_lines().into_iter().take(20).collect();
    std::fs::write(&case, format!("{}\nDROP this line\n", lines.join("\n"))).unwrap();
    let chaos = support::server::chaos_path();
    let test = |extra: &[&str]| {
        let mut args = vec![
            "test",
            "--module",
            &chaos,
            "--config",
            r#"{"drop_on":"DROP"}"#,
        ];
        args.extend_from_slice(extra);
        args.push(case.to_str().unwrap());
        wasmstash(&args, b"")
    };
    let out = test(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("run with --bless to create it"));

    let out = test(&["--bless"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = dir.path().join("access.expected.ndjson");
    let golden = std::fs::read_to_string(&expected).unwrap();
    assert_eq!(golden.lines().count(), 21);
    assert_eq!(
        golden.lines().last(),
        Some(r#"{"wasmstash":{"dropped":true}}"#)
    );
    let out = test(&[]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("ok   ") && text(&out.stdout).contains("peak instance memory")
    );

    std::fs::write(&expected, golden.replacen(r#""seen":3"#, r#""seen":33"#, 1)).unwrap();
    let out = test(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("event 3: [chaos][seen]: expected 33, got 3"),
        "{}",
        text(&out.stdout)
    );

    assert!(test(&["--bless"]).status.success());
    assert!(test(&[]).status.success());
}

/// A `wasmstash test` that passed, or its output.
fn assert_passed(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn a_new_filter_passes_its_golden_test_then_fails_then_is_blessed() {
    let dir = tempfile::tempdir().unwrap();
    let new = wasmstash_in(dir.path(), &["new", "my-filter"], b"");
    assert!(new.status.success(), "{}", text(&new.stderr));
    assert!(text(&new.stdout).contains("wasmstash test --crate my-filter"));
    // The crate's config.json is the config unless --config says otherwise.
    let test = |extra: &[&str]| {
        let mut args = vec!["test", "--crate", "my-filter"];
        args.extend_from_slice(extra);
        args.push("my-filter/tests/sample.log");
        wasmstash_in(dir.path(), &args, b"")
    };
    assert_passed(&test(&[]));
    // The module is where `new` said, CARGO_TARGET_DIR honoured.
    let steps = text(&new.stdout);
    let module = steps
        .split("module = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no module path in {steps}"));
    assert!(dir.path().join(module).is_file(), "{module}");

    // Without cases, --crate runs the crate's own, not its expected files.
    let out = wasmstash_in(dir.path(), &["test", "--crate", "my-filter"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout)
            .lines()
            .map(|l| &l[..l.find(" (").unwrap()])
            .collect::<Vec<_>>(),
        ["ok   my-filter/tests/sample.log"],
        "{}",
        text(&out.stdout)
    );
    // As a shell expands `tests/*` from inside the crate.
    let out = wasmstash_in(
        &dir.path().join("my-filter"),
        &[
            "test",
            "--crate",
            ".",
            "tests/sample.expected.ndjson",
            "tests/sample.log",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("skip tests/sample.expected.ndjson"),
        "{}",
        text(&out.stdout)
    );

    let expected = dir.path().join("my-filter/tests/sample.expected.ndjson");
    let golden = std::fs::read_to_string(&expected).unwrap();
    std::fs::write(
        &expected,
        golden.replace("POST /login 500", "POST /login 503"),
    )
    .unwrap();
    let out = test(&[]);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    assert!(
        report.contains(r#"event 3: [message]: expected "POST /login 503", got "POST /login 500""#),
        "{report}"
    );

    assert!(test(&["--bless"]).status.success());
    assert!(test(&[]).status.success());
    assert_eq!(std::fs::read_to_string(&expected).unwrap(), golden);
    let other = r#"{"drop_if_contains": "/nothing", "mark_field": "[labels][checked]"}"#;
    assert_eq!(test(&["--config", other]).status.code(), Some(1));

    // Built with the flags wasmstash's own filters use (the SDK's SIMD
    // scanners are compiled in), and its native unit test passes.
    let wasm = std::fs::read(concat!(
        env!("CARGO_TARGET_TMPDIR"),
        "/scaffold/wasm32-unknown-unknown/release/my_filter.wasm"
    ))
    .unwrap();
    let without_simd = wasmparser::WasmFeatures::default() - wasmparser::WasmFeatures::SIMD;
    assert!(
        wasmparser::Validator::new_with_features(without_simd)
            .validate_all(&wasm)
            .is_err(),
        "the module uses WebAssembly SIMD"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let unit = std::process::Command::new(cargo)
        .args(["test", "--quiet", "--manifest-path", "my-filter/Cargo.toml"])
        .current_dir(dir.path())
        .env(
            "CARGO_TARGET_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/scaffold"),
        )
        .output()
        .unwrap();
    assert!(unit.status.success(), "{}", text(&unit.stderr));
    assert!(
        text(&unit.stdout).contains("2 passed"),
        "{}",
        text(&unit.stdout)
    );

    // A binary target builds a .wasm of its own, which cargo reports after
    // the filter's: the filter is still the module tested.
    let main = dir.path().join("my-filter/src/main.rs");
    std::fs::write(&main, "fn main() {\n    println!(\"a tool\");\n}\n").unwrap();
    assert_passed(&test(&[]));
    std::fs::remove_file(&main).unwrap();

    // A config.json that is not a JSON object, or that the filter refuses,
    // is named as the file it is.
    let config = dir.path().join("my-filter/config.json");
    std::fs::write(&config, "{\"drop_if_contains\": \"/health\",\n").unwrap();
    let out = test(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let error = text(&out.stderr);
    assert!(
        error.contains("my-filter/config.json: config must be a JSON object"),
        "{error}"
    );
    assert!(!error.contains(".wasm"), "{error}");
    std::fs::write(&config, "{\"drop_if_contains\": \"\"}\n").unwrap();
    let out = test(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let error = text(&out.stderr);
    assert!(
        error.contains("invalid config") && error.contains("(the config is my-filter/config.json)"),
        "{error}"
    );

    let out = wasmstash_in(dir.path(), &["new", "my-filter"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("already exists"));
    // Names cargo would refuse are refused before anything is written.
    for name in ["1abc", "test", "fn", "a b", "_", "Self", "deps"] {
        let out = wasmstash_in(dir.path(), &["new", name], b"");
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(text(&out.stderr).contains("is not a crate name"), "{name}");
        assert!(!dir.path().join(name).exists(), "{name}");
    }
    // A name cargo takes, but whose directory `cargo clean` would delete.
    let out = wasmstash_in(dir.path(), &["new", "target"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cargo clean"));
    assert!(!dir.path().join("target").exists());
}

#[test]
fn new_can_join_the_current_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let out = wasmstash_in(dir.path(), &["new", "--in-workspace", "f1"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("run it from the workspace root"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !dir.path().join("f1").exists(),
        "nothing is written when the workspace cannot be updated"
    );

    let manifest = dir.path().join("Cargo.toml");
    std::fs::write(&manifest, "[workspace]\n# keep me\nmembers = [\"a\"]\n").unwrap();
    let out = wasmstash_in(dir.path(), &["new", "--in-workspace", "f1"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let updated = std::fs::read_to_string(&manifest).unwrap();
    assert_eq!(
        updated,
        "[workspace]\n# keep me\nmembers = [\n    \"f1\",\"a\"]\n"
    );
    let crate_manifest = std::fs::read_to_string(dir.path().join("f1/Cargo.toml")).unwrap();
    assert!(!crate_manifest.contains("[workspace]"));
    // The SDK's path holds in any clone of the workspace: relative.
    let sdk = (crate_manifest.split_once("wasmstash-sdk = { path = \""))
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(path, _)| path)
        .unwrap_or_else(|| panic!("{crate_manifest}"));
    assert!(sdk.starts_with(".."), "{crate_manifest}");
    let sdk_manifest = dir.path().join("f1").join(sdk).join("Cargo.toml");
    let sdk_manifest = std::fs::read_to_string(&sdk_manifest).unwrap();
    assert!(sdk_manifest.contains("name = \"wasmstash-sdk\""));
    // A member builds with its workspace's flags, not flags of its own.
    assert!(!dir.path().join("f1/.cargo").exists());
}

#[test]
fn a_missing_module_or_crate_is_named_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[[pipelines.p.filters]]\nmodule = \"absent.wasm\"\n",
    )
    .unwrap();
    let out = wasmstash(&["check", config.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let error = text(&out.stderr);
    assert!(
        error.contains("cannot read module") && error.contains("absent.wasm"),
        "{error}"
    );
    // The size setting is named only when the size is the cause.
    assert!(!error.contains("max_module_mib"), "{error}");

    let case = dir.path().join("case.log");
    std::fs::write(&case, "a line\n").unwrap();
    let out = wasmstash(
        &[
            "test",
            "--crate",
            dir.path().to_str().unwrap(),
            case.to_str().unwrap(),
        ],
        b"",
    );
    assert!(!out.status.success());
    let error = text(&out.stderr);
    assert!(
        error.contains("is not a crate: it has no Cargo.toml"),
        "{error}"
    );
}

/// `check` refuses what `serve` would refuse at start in `[server]`: a
/// short or missing admin token file, a `state_dir` it cannot make.
#[test]
fn check_refuses_server_settings_serve_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("w.toml");
    let check = |server: &str| {
        let toml = format!("[server]\n{server}\n[[pipelines.a.filters]]\nfilter = \"mutate\"\n");
        std::fs::write(&config, toml).unwrap();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"));
        let out = (command.args(["check", config.to_str().unwrap()]))
            .env_remove("WASMSTASH_ADMIN_TOKEN")
            .output()
            .unwrap();
        (out.status.code(), text(&out.stderr))
    };
    std::fs::write(dir.path().join("short.token"), "short\n").unwrap();
    let short = format!("admin_token_file = {:?}", dir.path().join("short.token"));
    let (code, err) = check(&short);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("the token must be at least 16 characters"),
        "{err}"
    );
    // Long enough, and known to anyone: the example's, or one character.
    for (name, token) in [
        ("example.token", "change-me-sidecar-admin-token\n"),
        ("same.token", "xxxxxxxxxxxxxxxxxxxxxxxx"),
    ] {
        std::fs::write(dir.path().join(name), token).unwrap();
        let (code, err) = check(&format!("admin_token_file = {:?}", dir.path().join(name)));
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("the token is a placeholder, not a secret"),
            "{err}"
        );
    }
    // A token no Authorization header can carry.
    for (name, token, shown) in [
        (
            "lines.token",
            "abcdefghijklmnopqrstu\nsecondline\n",
            "'\\n'",
        ),
        ("spaced.token", "abcdefghij klmnopqrstu", "' '"),
        ("accented.token", "abcdefghijklmnopqrstué", "'é'"),
    ] {
        std::fs::write(dir.path().join(name), token).unwrap();
        let (code, err) = check(&format!("admin_token_file = {:?}", dir.path().join(name)));
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(&format!(
                "the token holds {shown}; it is sent in an Authorization header"
            )),
            "{err}"
        );
    }
    let (code, err) = check("admin_token_file = \"/nonexistent/token\"");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(".toml: [server] admin_token_file /nonexistent/token"),
        "{err}"
    );
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    let under_a_file = format!("state_dir = {:?}", dir.path().join("a-file/state"));
    let (code, err) = check(&under_a_file);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("exists and is not a directory"), "{err}");
    assert!(err.contains(".toml: [server] state_dir "), "{err}");
    // A state_dir still to be made is fine, and is not made by `check`.
    let later = dir.path().join("later/state");
    let (code, err) = check(&format!("state_dir = {later:?}"));
    assert_eq!(code, Some(0), "{err}");
    assert!(!dir.path().join("later").exists());
    // A relative state_dir of a config named without a directory: its
    // nearest existing ancestor is the current directory.
    std::fs::write(
        &config,
        "[server]\nstate_dir = \"newstate\"\n[[pipelines.a.filters]]\nfilter = \"mutate\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["check", "w.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!dir.path().join("newstate").exists());
}
