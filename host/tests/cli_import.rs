//! `wasmstash import` as an operator uses it: a logstash.conf in, a config
//! out that `run` takes as it is, with the fields the hand-written pipeline
//! gives, over the real access log.

#[path = "support/binary.rs"]
mod binary;
mod support;

use binary::*;

#[test]
fn an_imported_logstash_conf_runs_as_the_hand_written_pipeline() {
    let log = support::shared_data().join("access/apache_logs");
    let log = log.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let imported = wasmstash(
        &[
            "import",
            &examples("logstash-apache.conf"),
            "--pipeline",
            "apache",
        ],
        b"",
    );
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert!(
        text(&imported.stderr).ends_with("logstash-apache.conf into pipeline `apache`\n"),
        "{}",
        text(&imported.stderr)
    );
    let config = dir.path().join("imported.toml");
    std::fs::write(&config, &imported.stdout).unwrap();
    let config = config.to_str().unwrap();

    let from_import = wasmstash(&["run", "-c", config, "--pipeline", "apache", log], b"");
    let hand_written = wasmstash(
        &[
            "run",
            "-c",
            &examples("wasmstash.toml"),
            "--pipeline",
            "apache",
            log,
        ],
        b"",
    );
    assert!(
        from_import.status.success(),
        "{}",
        text(&from_import.stderr)
    );
    assert!(hand_written.status.success());
    let events = events_of(&from_import.stdout);
    assert_eq!(events.len(), 10_000);
    assert_eq!(events[0]["http"]["response"]["status_code"], 200);
    assert_eq!(events[0]["@timestamp"], "2015-05-17T10:05:03.000Z");
    assert!(
        from_import.stdout == hand_written.stdout,
        "the outputs differ"
    );
}

#[test]
fn what_stays_in_logstash_comes_with_the_logstash_conf_that_calls_the_rest() {
    let conf = "filter {\n  kv { value_split => \":\" }\n  geoip { source => \"ip\" }\n}\n";
    let refused = wasmstash(&["import", "-"], conf.as_bytes());
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        refused.stdout.is_empty(),
        "no pipelines without their logstash.conf"
    );
    let said = text(&refused.stderr);
    assert!(said.contains("add --logstash-out FILE"), "{said}");
    assert!(
        said.ends_with("wasmstash import:   -:3: `geoip`, which has no built-in\n"),
        "{said}"
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("logstash.conf");
    let out = out.to_str().unwrap();
    let imported = wasmstash(
        &[
            "import",
            "-",
            "--logstash-out",
            out,
            "--url",
            "http://side:9700",
        ],
        conf.as_bytes(),
    );
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert_eq!(
        std::fs::read_to_string(out).unwrap(),
        "filter {\n  wasm { url => \"http://side:9700\" pipeline => \"main\" }\n  geoip { source => \"ip\" }\n}\n"
    );
    let config = dir.path().join("kv.toml");
    std::fs::write(&config, &imported.stdout).unwrap();
    let run = wasmstash(&["run", "-c", config.to_str().unwrap()], b"a:1 b:x\n");
    assert!(run.status.success(), "{}", text(&run.stderr));
    let events = events_of(&run.stdout);
    assert_eq!(
        (events[0]["a"].as_str(), events[0]["b"].as_str()),
        (Some("1"), Some("x"))
    );

    // Options take the values Logstash's validation turns into their
    // type: a number in quotes, a boolean (which its config holds as
    // text), one value in a list.
    let coerced = b"filter { kv { timeout_millis => \"5000\" allow_duplicate_values => false \
                    target => [\"kv\"] } }";
    let taken = wasmstash(&["import", "-"], coerced);
    assert!(taken.status.success(), "{}", text(&taken.stderr));
    std::fs::write(&config, &taken.stdout).unwrap();
    let run = wasmstash(&["run", "-c", config.to_str().unwrap()], b"a=1 a=1\n");
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(
        events_of(&run.stdout)[0]["kv"],
        serde_json::json!({"a": "1"})
    );
    // One that Logstash refuses too stops the import, naming the filter
    // and its line in the logstash.conf.
    let refused = wasmstash(
        &["import", "-"],
        b"filter {\n kv { timeout_millis => \"5 s\" } }",
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(refused.stdout.is_empty());
    let said = text(&refused.stderr);
    assert!(
        said.contains(
            "-:2: `kv` (pipeline `main`): invalid config: timeout_millis: invalid type: \
             string \"5 s\", expected a number"
        ),
        "{said}"
    );

    // The rewritten file never replaces the one read, named or linked.
    let input = dir.path().join("in.conf");
    std::fs::write(&input, conf).unwrap();
    let input = input.to_str().unwrap();
    let clobber = wasmstash(&["import", input, "--logstash-out", input], b"");
    assert_eq!(clobber.status.code(), Some(2));
    assert!(text(&clobber.stderr).contains("names the file being imported"));
    assert_eq!(std::fs::read_to_string(input).unwrap(), conf);
    let hard = dir.path().join("hard-link.conf");
    std::fs::hard_link(input, &hard).unwrap();
    let soft = dir.path().join("symlink.conf");
    std::os::unix::fs::symlink(input, &soft).unwrap();
    for link in [hard, soft] {
        let out = link.to_str().unwrap();
        let clobber = wasmstash(&["import", input, "--logstash-out", out], b"");
        assert_eq!(clobber.status.code(), Some(2));
        assert_eq!(std::fs::read_to_string(input).unwrap(), conf);
    }

    // A file that cannot be read as a logstash.conf is refused (2), as
    // `check` refuses such a config; one that cannot be read at all is an
    // I/O failure (1).
    let latin1 = dir.path().join("latin1.conf");
    std::fs::write(&latin1, b"filter { mutate { add_tag => [\"caf\xe9\"] } }\n").unwrap();
    for (path, code) in [
        (latin1.to_str().unwrap(), 2),
        (dir.path().to_str().unwrap(), 2),
        ("/no/such.conf", 1),
    ] {
        let refused = wasmstash(&["import", path], b"");
        assert_eq!(
            refused.status.code(),
            Some(code),
            "{path}: {}",
            text(&refused.stderr)
        );
    }
    // --logstash-out must be a file of its own, in a directory that exists.
    for out in [dir.path().to_str().unwrap(), "/no/such/dir/x.conf"] {
        let refused = wasmstash(&["import", input, "--logstash-out", out], b"");
        assert_eq!(refused.status.code(), Some(2), "{out}");
        assert!(
            refused.stdout.is_empty(),
            "{out}: the pipelines were printed"
        );
    }
    // `-` is stdin as an input; stdout takes the pipelines.
    let refused = wasmstash(&["import", input, "--logstash-out", "-"], b"");
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("stdout takes the pipelines"));
    assert!(!dir.path().join("-").exists() && !std::path::Path::new("-").exists());

    // Stdin is held to the config cap, as a named file is.
    let huge = vec![b' '; (16 << 20) + 1];
    let refused = wasmstash(&["import", "-"], &huge);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("-: the Logstash config is larger than 16777216 bytes"),
        "{}",
        text(&refused.stderr)
    );

    // The sidecar's URL goes into logstash.conf, so it must be one.
    for url in ["ftp://side", "http://side:9700/a b", "http://x\"y", ""] {
        let refused = wasmstash(&["import", input, "--url", url], b"");
        assert_eq!(refused.status.code(), Some(2), "{url}");
        assert!(text(&refused.stderr).contains("the sidecar's URL"), "{url}");
    }
    // A mode Logstash has not is refused before anything is read.
    let refused = wasmstash(&["import", input, "--ecs-compatibility", "v2"], b"");
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("[possible values: disabled, v1, v8]"),
        "{}",
        text(&refused.stderr)
    );
}

/// The logstash.conf calls the pipelines, so it is written only once they
/// are all out: a reader that went away, or a full disk, leaves none behind.
/// Without `--logstash-out`, a reader that went away is its own choice.
#[test]
fn no_logstash_conf_is_left_calling_pipelines_that_were_not_written() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.conf");
    std::fs::write(
        &input,
        "filter { if [a] { kv {} } mutate { add_tag => [\"y\"] } }\n",
    )
    .unwrap();
    let out = dir.path().join("out.conf");
    let import = |stdout: Stdio, logstash_out: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wasmstash"));
        command.arg("import").arg(&input);
        if logstash_out {
            command.arg("--logstash-out").arg(&out);
        }
        command
            .stdin(Stdio::null())
            .stdout(stdout)
            .output()
            .unwrap()
    };
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        Stdio::from(writer)
    };
    let mut lost: Vec<Stdio> = vec![closed()];
    if std::path::Path::new("/dev/full").exists() {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
        lost.push(full.unwrap().into());
    }
    for stdout in lost {
        let result = import(stdout, true);
        assert_eq!(result.status.code(), Some(1));
        let said = text(&result.stderr);
        assert!(said.contains("was not written"), "{said}");
        assert!(!out.exists());
    }
    std::fs::write(&input, "filter { mutate { add_tag => [\"y\"] } }\n").unwrap();
    // Nor may it be the file stdout goes to.
    let both = dir.path().join("both.txt");
    let same = import(std::fs::File::create(&both).unwrap().into(), false);
    assert!(same.status.success());
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmstash"));
    command
        .arg("import")
        .arg(&input)
        .arg("--logstash-out")
        .arg(&both);
    let refused = (command.stdout(std::fs::File::create(&both).unwrap()))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("stdout takes the pipelines"));
    let peeked = import(closed(), false);
    assert_eq!(peeked.status.code(), Some(0), "{}", text(&peeked.stderr));
    // Nor the input when it is read from stdin, nor stdout by another name.
    let kept = std::fs::read(&input).unwrap();
    let mut from_stdin = Command::new(env!("CARGO_BIN_EXE_wasmstash"));
    from_stdin
        .args(["import", "-", "--logstash-out"])
        .arg(&input);
    let refused = from_stdin
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("names the file being imported"));
    assert_eq!(std::fs::read(&input).unwrap(), kept);
    let mut to_pipe = Command::new(env!("CARGO_BIN_EXE_wasmstash"));
    to_pipe
        .arg("import")
        .arg(&input)
        .args(["--logstash-out", "/dev/stdout"]);
    let refused = (to_pipe.stdin(Stdio::null()).stdout(Stdio::piped()))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(refused.stdout.is_empty());
    // Nor while stdout is /dev/null, as a closed one is made: the
    // logstash.conf would call pipelines that went nowhere.
    let discarded = import(Stdio::null(), true);
    assert_eq!(
        discarded.status.code(),
        Some(2),
        "{}",
        text(&discarded.stderr)
    );
    assert!(text(&discarded.stderr).contains("/dev/null"));
    assert!(!out.exists());
    let toml = dir.path().join("pipelines.toml");
    let written = import(std::fs::File::create(&toml).unwrap().into(), true);
    assert!(written.status.success(), "{}", text(&written.stderr));
    assert!(
        std::fs::read_to_string(&out).unwrap().contains("wasm {"),
        "{}",
        text(&written.stderr)
    );
}

/// An earlier logstash.conf is replaced whole, through a link when it is
/// one (the link stays), with nothing left beside it; and a directory on
/// stdin is refused as a directory named is.
#[test]
fn the_logstash_conf_is_replaced_whole_and_a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.conf");
    std::fs::write(&real, "the operator's earlier logstash.conf\n").unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Root may give a file away; the new file then keeps that owner too.
    let owner = match std::os::unix::fs::chown(&real, Some(65534), Some(65534)) {
        Ok(()) => 65534,
        Err(_) => std::fs::metadata(&real).unwrap().uid(),
    };
    let earlier_inode = std::fs::metadata(&real).unwrap().ino();
    let link = dir.path().join("logstash.conf");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let conf = b"filter { kv {} geoip { source => \"ip\" } }\n";
    let imported = wasmstash(
        &["import", "-", "--logstash-out", link.to_str().unwrap()],
        conf,
    );
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    // A new file renamed over the old: never the old one half rewritten.
    let written = std::fs::metadata(&real).unwrap();
    assert_ne!(written.ino(), earlier_inode);
    assert_eq!(
        written.permissions().mode() & 0o777,
        0o600,
        "the mode is kept"
    );
    assert_eq!(written.uid(), owner, "the owner is kept");
    let written = std::fs::read_to_string(&real).unwrap();
    assert!(
        written.contains("wasm {") && written.contains("geoip"),
        "{written}"
    );
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["logstash.conf", "real.conf"]);

    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"));
    command.args(["import", "-"]);
    let from_directory = (command.stdin(std::fs::File::open(dir.path()).unwrap()))
        .output()
        .unwrap();
    assert_eq!(from_directory.status.code(), Some(2));
    assert!(
        text(&from_directory.stderr).contains("standard input is a directory"),
        "{}",
        text(&from_directory.stderr)
    );
}

/// In a directory no new file can be made in (a conf.d kept by root), a
/// logstash.conf the user may write is written in place, as it can only be.
#[test]
fn a_logstash_conf_in_a_closed_directory_is_written_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let closed = dir.path().join("conf.d");
    std::fs::create_dir(&closed).unwrap();
    let out = closed.join("logstash.conf");
    std::fs::write(&out, "earlier\n").unwrap();
    let _closed = support::ClosedDir::close(&closed);
    // The earlier file is longer than the new one's first line, and is cut.
    std::fs::write(&out, "earlier\n".repeat(100)).unwrap();
    let conf = b"filter { kv {} geoip { source => \"ip\" } }\n";
    let imported = wasmstash(
        &["import", "-", "--logstash-out", out.to_str().unwrap()],
        conf,
    );
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(
        written.starts_with("filter {")
            && written.contains("geoip")
            && !written.contains("earlier"),
        "{written}"
    );
}

/// Without CAP_FOWNER (a container that drops it), root may give the new
/// file its owner but then not change its mode: the mode is set first, and
/// a change refused is no reason to fail the write or leave a temporary.
#[test]
fn a_logstash_conf_is_replaced_without_the_capability_to_change_modes() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("logstash.conf");
    std::fs::write(&out, "earlier\n").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&out, Some(65534), Some(65534))
        .expect("this test runs as root, to give a file away");
    let mut command = std::process::Command::new("setpriv");
    command
        .args(["--bounding-set=-fowner", "--inh-caps=-fowner"])
        .arg(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["import", "-", "--logstash-out"])
        .arg(&out);
    let mut child = (command.stdin(std::process::Stdio::piped()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("setpriv, from util-linux");
    let conf = b"filter { kv {} geoip { source => \"ip\" } }\n";
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), conf).unwrap();
    let imported = child.wait_with_output().unwrap();
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let written = std::fs::metadata(&out).unwrap();
    assert_eq!(written.permissions().mode() & 0o777, 0o600);
    assert_eq!(written.uid(), 65534);
    assert!(std::fs::read_to_string(&out).unwrap().contains("geoip"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary left"
    );
}
