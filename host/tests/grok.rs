//! grok as users run it: the `apache` pipeline of the example config over the
//! real access log, through the `wasmstash` binary and through the pipeline
//! with each pattern set.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::*;
use wasmstash::event_check::CheckedEvent;
use wasmstash::pipeline::Pipeline;

/// Line 8,899 of the access log: its user agent lacks the closing quote.
const BROKEN_LINE: usize = 8_899;

/// Checks 10,000 results: every line but one parsed, that one tagged and
/// kept as it was; returns the parsed events.
fn assert_counts(results: &[Value], lines: &[String], address_field: &[&str]) {
    assert_eq!(results.len(), 10_000, "an event was lost");
    let mut failures = Vec::new();
    for (i, event) in results.iter().enumerate() {
        match event.get("tags") {
            None => {
                let mut at = event;
                for key in address_field {
                    at = &at[*key];
                }
                assert!(
                    at.is_string(),
                    "line {} parsed without an address: {event}",
                    i + 1
                );
            }
            Some(tags) => {
                assert_eq!(tags, &json!(["_grokparsefailure"]), "line {}", i + 1);
                assert_eq!(
                    event["message"], lines[i],
                    "a failed line must pass through unchanged"
                );
                failures.push(i + 1);
            }
        }
    }
    assert_eq!(failures, [BROKEN_LINE]);
}

#[test]
fn the_apache_pipeline_parses_the_access_log_through_the_binary() {
    let log = shared_data().join("access/apache_logs");
    let config = wasmstash_sdk::crate_dir!().join("../examples/wasmstash.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--pipeline",
            "apache",
            log.to_str().unwrap(),
        ])
        .env(
            "WASMSTASH_CACHE_DIR",
            std::env::temp_dir().join("wasmstash-test-cache"),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let results: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_counts(&results, &apache_lines(), &["source", "address"]);
    assert!(stderr.contains("10000 events in, 10000 out"), "{stderr}");
    // ECS names and types, as Logstash 8 writes them.
    let first = &results[0];
    assert_eq!(first["source"]["address"], "83.149.9.216");
    assert_eq!(first["http"]["request"]["method"], "GET");
    assert_eq!(first["http"]["response"]["status_code"], 200);
    assert_eq!(first["http"]["response"]["body"]["bytes"], 203023);
    assert_eq!(first["http"]["version"], "1.1");
    assert_eq!(first["timestamp"], "17/May/2015:10:05:03 +0000");
}

#[test]
fn the_legacy_set_parses_the_access_log_in_the_pipeline() {
    let engine = data_engine();
    let config =
        json!({"match": {"message": "%{COMBINEDAPACHELOG}"}, "ecs_compatibility": "disabled"});
    let module = load(&engine, "grok", &built_module("grok"), &config.to_string());
    let mut pipeline = Pipeline::new("apache-legacy", vec![module]);
    let lines = apache_lines();
    let events: Vec<CheckedEvent> = lines
        .iter()
        .map(|l| wasmstash::input::line_event(l.as_bytes()))
        .collect();
    let mut results = Vec::new();
    for batch in events.chunks(1000) {
        results.extend(as_json(pipeline.process(batch.to_vec())));
    }
    assert_counts(&results, &lines, &["clientip"]);
    assert_eq!(results[0]["response"], "200");
    // The legacy set's QS keeps the quotes.
    let agent = results[0]["agent"].as_str().unwrap();
    assert!(
        agent.starts_with("\"Mozilla/5.0") && agent.ends_with('"'),
        "{agent}"
    );
}

#[test]
fn malformed_lines_are_tagged_and_kept() {
    let engine = data_engine();
    let config = json!({"match": {"message": "%{COMBINEDAPACHELOG}"}});
    let module = load(&engine, "grok", &built_module("grok"), &config.to_string());
    let mut pipeline = Pipeline::new("apache", vec![module]);
    let inputs = [
        "".to_string(),
        "garbage".to_string(),
        "1.2.3.4 - - [bad date] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"".to_string(),
        "\u{0}\u{1}\u{7f} binary \u{fffd}".to_string(),
        "x".repeat(200_000),
        "中文 1.2.3.4 - - ".repeat(1000),
    ];
    let events: Vec<CheckedEvent> = inputs
        .iter()
        .map(|l| wasmstash::input::line_event(l.as_bytes()))
        .collect();
    let results = as_json(pipeline.process(events));
    assert_eq!(results.len(), inputs.len());
    for (result, input) in results.iter().zip(&inputs) {
        assert_eq!(result["tags"], json!(["_grokparsefailure"]), "{result}");
        assert_eq!(result["message"], *input);
    }
}

/// Patterns that would exhaust the module's own stack or memory are refused
/// at init with a message that names the problem, not a trap.
#[test]
fn a_pattern_nested_too_deep_is_refused_by_name() {
    let deep = format!("{}a{}", "(".repeat(500), ")".repeat(500));
    let config = json!({"match": {"message": deep}});
    let err = load_error(&built_module("grok"), &config.to_string());
    assert!(
        err.contains("the pattern nests deeper than 300 levels") && err.contains("at position 300"),
        "{err}"
    );
    // Just inside the limit, the module's stack holds.
    let fine = format!("{}a{}", "(".repeat(290), ")".repeat(290));
    let engine = data_engine();
    let config = json!({"match": {"message": fine}});
    let mut pipeline = Pipeline::new(
        "deep",
        vec![load(
            &engine,
            "grok",
            &built_module("grok"),
            &config.to_string(),
        )],
    );
    let results = as_json(pipeline.process(message_events(&["a", "b"])));
    assert_eq!(results[0]["tags"], Value::Null, "{}", results[0]);
    assert_eq!(results[1]["tags"], json!(["_grokparsefailure"]));

    // Definitions that double at every level: 2^24 copies of `a`.
    let mut definitions = serde_json::Map::new();
    definitions.insert("E0".into(), json!("a"));
    for level in 1..=24 {
        let below = level - 1;
        definitions.insert(
            format!("E{level}"),
            json!(format!("%{{E{below}}}%{{E{below}}}")),
        );
    }
    let config = json!({"match": {"message": "%{E24}"}, "pattern_definitions": definitions});
    let err = load_error(&built_module("grok"), &config.to_string());
    assert!(
        err.contains("expands to more than 10000 references or 1048576 bytes"),
        "{err}"
    );
    // The chain of patterns it was met in is said once, outermost first.
    assert!(err.contains("in pattern E24 -> E23 -> E22"), "{err}");
    assert_eq!(err.matches("E23").count(), 1, "{err}");
}

/// Logstash takes a `pattern_definitions` name that no `%{NAME}` can spell,
/// and never uses it: the filter loads as there, and says so.
#[test]
fn a_definition_no_reference_can_name_is_loaded_with_a_warning() {
    let config = json!({
        "match": {"message": "%{GOOD:g}"},
        "pattern_definitions": {"GOOD": "[a-z]+", "NOT USED": "x", "": "y"},
    });
    let filter = format!("grok={config}");
    let out = binary::wasmstash(&["run", "--filter", &filter, "-"], b"word\n");
    let stderr = binary::text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(binary::events_of(&out.stdout)[0]["g"], "word");
    for name in ["NOT USED", ""] {
        assert!(
            stderr.contains(&format!(
                "pattern_definitions: `{name}` can never be referenced"
            )),
            "{stderr}"
        );
    }
    assert!(!stderr.contains("`GOOD` can never"), "{stderr}");
}

/// A grok config moved from Logstash with its `patterns_dir`: the host reads
/// the operator's pattern files (relative to the config file, or to the
/// working directory on the command line), and grok uses them, over the
/// standard patterns. Run over the real OpenSSH log.
#[test]
fn patterns_dir_brings_the_operators_pattern_files() {
    let dir = tempfile::tempdir().unwrap();
    let patterns = dir.path().join("etc/patterns");
    std::fs::create_dir_all(&patterns).unwrap();
    std::fs::write(
        patterns.join("sshd"),
        "# Written for Logstash's patterns_dir\n\
         SSHD_USER (?:invalid user )?%{USERNAME:[user][name]}\n\
         SSHD_FAILED Failed %{WORD:[ssh][method]} for %{SSHD_USER} from %{IP:[source][ip]} port %{INT:[source][port]:int}\n",
    )
    .unwrap();
    // A later file wins, as in Logstash: USERNAME now stops at a dot.
    std::fs::write(patterns.join("zz-override"), "USERNAME [a-zA-Z0-9_-]+\n").unwrap();
    let config = dir.path().join("wasmstash.toml");
    std::fs::write(
        &config,
        r#"
[[pipelines.sshd.filters]]
filter = "grok"
config = { match = { message = "%{SSHD_FAILED}" }, patterns_dir = ["etc/patterns"] }
"#,
    )
    .unwrap();
    let log = shared_data().join("loghub/OpenSSH/OpenSSH_2k.log");
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let args = [
        "run",
        "-c",
        config.to_str().unwrap(),
        "-p",
        "sshd",
        log.to_str().unwrap(),
    ];
    let out = binary::wasmstash(&args, b"");
    let stderr = binary::text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let events = binary::events_of(&out.stdout);
    assert_eq!(events.len(), lines.len());
    let failed: Vec<&Value> = (events.iter())
        .filter(|event| {
            event["message"]
                .as_str()
                .unwrap()
                .contains("Failed password for")
        })
        .collect();
    assert_eq!(failed.len(), 520);
    // One line has two spaces before its user name, which the pattern does
    // not allow; every other one parses.
    let (odd, parsed): (Vec<&Value>, Vec<&Value>) = (failed.iter()).partition(|event| {
        event["message"]
            .as_str()
            .unwrap()
            .contains("invalid user  ")
    });
    assert_eq!(
        (odd.len(), odd[0]["tags"].clone()),
        (1, json!(["_grokparsefailure"]))
    );
    for event in &parsed {
        assert_eq!(event["ssh"]["method"], "password", "{event}");
        assert!(event["source"]["port"].is_u64(), "{event}");
        assert!(event.get("tags").is_none(), "{event}");
    }
    let first = &failed[0];
    assert_eq!(first["user"]["name"], "webmaster");
    assert_eq!(first["source"]["ip"], "173.234.31.186");
    assert_eq!(first["source"]["port"], 38926);
    // Lines without a failed login are tagged, and kept as they came.
    for (event, line) in events.iter().zip(&lines) {
        if !line.contains("Failed ") {
            assert_eq!(
                event,
                &json!({"message": line, "tags": ["_grokparsefailure"]})
            );
        }
    }

    // The same from the command line, relative to the working directory.
    let filter = r#"grok={"match":{"message":"^%{USERNAME:u}$"},"patterns_dir":"etc/patterns"}"#;
    let out = binary::wasmstash_in(dir.path(), &["run", "--filter", filter, "-"], b"a.b\nab\n");
    let events = binary::events_of(&out.stdout);
    assert_eq!(events[0]["tags"], json!(["_grokparsefailure"]));
    assert_eq!(events[1]["u"], "ab");

    // A path that names nothing stops the load, and says where.
    std::fs::write(
        &config,
        "[[pipelines.sshd.filters]]\nfilter = \"grok\"\n\
         config = { match = { message = \"%{SSHD_FAILED}\" }, patterns_dir = \"etc/patern\" }\n",
    )
    .unwrap();
    let out = binary::wasmstash(&["check", config.to_str().unwrap()], b"");
    let stderr = binary::text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pipeline `sshd`"), "{stderr}");
    assert!(
        stderr.contains("patterns_dir `etc/patern` (")
            && stderr.contains("patern) matches no file"),
        "{stderr}"
    );
}

/// `\b` in a TOML "..." string is a backspace: the pattern compiles and
/// never matches, so the load warns and says how to write it.
#[test]
fn a_backspace_in_a_pattern_draws_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wasmstash.toml");
    let toml = "[[pipelines.p.filters]]\nfilter = \"grok\"\n\
                config = { match = { message = \"\\bERROR\\b %{GREEDYDATA:rest}\" } }\n";
    std::fs::write(&config, toml).unwrap();
    let out = binary::wasmstash(
        &["run", "-c", config.to_str().unwrap(), "-"],
        b"ERROR disk\n",
    );
    let stderr = binary::text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("pattern #1 holds a backspace"), "{stderr}");
    assert_eq!(
        binary::events_of(&out.stdout)[0]["tags"],
        json!(["_grokparsefailure"])
    );
    // Single quotes keep the backslash, as Logstash does.
    std::fs::write(
        &config,
        toml.replace('"', "'")
            .replace("filter = 'grok'", "filter = \"grok\""),
    )
    .unwrap();
    let out = binary::wasmstash(
        &["run", "-c", config.to_str().unwrap(), "-"],
        b"ERROR disk\n",
    );
    let stderr = binary::text(&out.stderr);
    assert!(!stderr.contains("backspace"), "{stderr}");
    assert_eq!(binary::events_of(&out.stdout)[0]["rest"], "disk");
}
