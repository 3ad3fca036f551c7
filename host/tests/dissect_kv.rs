//! The dissect and kv built-ins, run as WebAssembly through the host's
//! pipeline over real logs: every event comes out, parsed or tagged.

mod support;

use serde_json::{Value, json};
use support::*;
use wasmstash::builtins;
use wasmstash::pipeline::Pipeline;

fn builtin(name: &str, config: Value) -> wasmstash::engine::FilterModule {
    let wasm = builtins::find(name).unwrap().wasm;
    load(&data_engine(), name, wasm, &config.to_string())
}

fn run(pipeline: &mut Pipeline, lines: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for chunk in lines.chunks(1000) {
        let events = chunk
            .iter()
            .map(|l| wasmstash::input::line_event(l.as_bytes()))
            .collect();
        out.extend(as_json(pipeline.process(events)));
    }
    out
}

#[test]
fn dissect_parses_the_real_access_log_and_tags_the_one_broken_line() {
    let lines = apache_lines();
    let dissect = builtin(
        "dissect",
        json!({
            "mapping": {"message": wasmstash_filter_dissect::APACHE_COMBINED_ECS},
            "convert_datatype": {"[http][response][status_code]": "int"},
        }),
    );
    let mut pipeline = Pipeline::new("apache-dissect", vec![dissect]);
    let events = run(&mut pipeline, &lines);
    assert_eq!(events.len(), 10_000, "no event may be lost");
    let tagged: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].get("tags").is_some())
        .collect();
    // Line 8,899: its user agent lacks the closing quote.
    assert_eq!(tagged, [8_898]);
    let broken = &events[8_898];
    // The conversion runs after a mapping that failed too, as in Logstash's
    // dissect, and finds no status code.
    assert_eq!(
        broken["tags"],
        json!([
            "_dissectfailure",
            "_dataconversionnullvalue_[http][response][status_code]_int"
        ])
    );
    assert_eq!(broken["message"], lines[8_898].as_str());
    assert!(
        broken.get("source").is_none(),
        "a failed line is left as it was"
    );
    for (event, line) in events.iter().zip(&lines) {
        assert_eq!(event["message"], line.as_str());
    }
    let first = &events[0];
    assert_eq!(first["source"]["address"], "83.149.9.216");
    assert_eq!(first["http"]["request"]["method"], "GET");
    assert_eq!(first["http"]["version"], "1.1");
    assert_eq!(first["http"]["response"]["status_code"], json!(200));
    assert_eq!(first["http"]["response"]["body"]["bytes"], "203023");
    assert_eq!(first["timestamp"], "17/May/2015:10:05:03 +0000");
    let parsed_statuses = events
        .iter()
        .filter(|e| e["http"]["response"]["status_code"].is_u64())
        .count();
    assert_eq!(parsed_statuses, 9_999);
}

#[test]
fn dissect_then_kv_over_openssh_lines() {
    let path = shared_data().join("loghub/OpenSSH/OpenSSH_2k.log");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let dissect = builtin(
        "dissect",
        json!({"mapping": {"message":
            "%{timestamp} %{+timestamp} %{+timestamp} %{[host][hostname]} %{[process][name]}[%{[process][pid]}]: %{[event][reason]}"}}),
    );
    let kv = builtin(
        "kv",
        json!({"source": "[event][reason]", "target": "[pam]", "whitespace": "strict",
               "include_keys": ["uid", "euid", "tty", "rhost", "user"]}),
    );
    let mut pipeline = Pipeline::new("openssh", vec![dissect, kv]);
    let events = run(&mut pipeline, &lines);
    assert_eq!(events.len(), 2_000);
    assert!(events.iter().all(|e| e.get("tags").is_none()));
    assert!(events.iter().all(|e| e["process"]["name"] == "sshd"));
    let with_pam: Vec<&Value> = events.iter().filter(|e| e.get("pam").is_some()).collect();
    let auth_failures = lines
        .iter()
        .filter(|l| l.contains("authentication failure; logname="))
        .count();
    assert!(
        with_pam.len() >= auth_failures,
        "{} < {auth_failures}",
        with_pam.len()
    );
    let first = events
        .iter()
        .find(|e| {
            e["event"]["reason"]
                .as_str()
                .unwrap()
                .contains("authentication failure")
        })
        .unwrap();
    assert_eq!(first["pam"]["uid"], "0");
    assert_eq!(first["pam"]["tty"], "ssh");
    assert_eq!(first["pam"]["rhost"], "173.234.31.186");
}

#[test]
fn dissect_refuses_a_bad_pattern_at_load_time() {
    let wasm = builtins::find("dissect").unwrap().wasm;
    let err = wasmstash::engine::FilterModule::load(
        &data_engine(),
        "dissect",
        wasm,
        br#"{"mapping": {"message": "%{a}%{b}"}}"#,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("no delimiter between them"), "{err}");
}
