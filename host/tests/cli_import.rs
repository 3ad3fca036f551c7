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
        text(&imported.stderr).contains("2 filters from ")
            && text(&imported.stderr).contains("(grok, date) into pipeline `apache`"),
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
fn import_reads_stdin_and_refuses_what_cannot_move() {
    let conf = b"filter {\n  grok { match => { \"message\" => \"%{WORD:w}\" } }\n  geoip { source => \"w\" }\n}\n";
    let refused = wasmstash(&["import", "-"], conf);
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stdout.is_empty(), "no config for a partial import");
    assert_eq!(
        text(&refused.stderr).lines().next().unwrap(),
        "wasmstash import: -:3: `geoip` has no wasmstash built-in (those that take a Logstash \
         filter's options: date, dissect, grok, json, kv, mutate); keep it in logstash.conf, \
         before or after the call to the sidecar"
    );

    let conf = b"filter { kv { value_split => \":\" } }";
    let imported = wasmstash(&["import", "-"], conf);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let toml = text(&imported.stdout);
    assert!(
        toml.contains("[[pipelines.main.filters]]\nfilter = \"kv\""),
        "{toml}"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kv.toml");
    std::fs::write(&config, toml).unwrap();
    let run = wasmstash(&["run", "-c", config.to_str().unwrap()], b"a:1 b:x\n");
    assert!(run.status.success(), "{}", text(&run.stderr));
    let events = events_of(&run.stdout);
    assert_eq!(
        (events[0]["a"].as_str(), events[0]["b"].as_str()),
        (Some("1"), Some("x"))
    );
}
