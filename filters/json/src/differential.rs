//! The transcoding path against the `Value` path, byte for byte: on real log
//! lines made into JSON documents, on hand-picked edge cases, and on those
//! documents broken in reproducible ways. Whatever the transcoder accepts
//! must come out exactly as parsing into a `Value` would give it.

use serde_json::json;
use wasmstash_sdk::testing::{XorShift, mangle};

use super::*;

fn real_documents() -> Vec<String> {
    let root = wasmstash_sdk::crate_dir!().join("../../../shared/data");
    let read = |path: &str| {
        let path = root.join(path).display().to_string();
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("test data missing: {path}: {e} (see ../shared/data/README.md)")
        })
    };
    let mut documents = Vec::new();
    for (i, line) in read("access/apache_logs").lines().enumerate().step_by(7) {
        documents.push(
            json!({"line": line, "n": i, "ratio": i as f64 / 7.0, "client": {"ip": line.split(' ').next()}, "tags": ["a", i % 3 == 0, null]})
                .to_string(),
        );
    }
    for dataset in ["Linux", "OpenSSH", "Windows", "HDFS"] {
        let text = read(&format!("loghub/{dataset}/{dataset}_2k.log"));
        for line in text.lines().step_by(5) {
            documents.push(json!({"dataset": dataset, "line": line}).to_string());
        }
    }
    documents
}

const EDGE_CASES: &[&str] = &[
    r#"{}"#,
    r#"[]"#,
    r#"{"a":{},"b":[],"c":[{}],"d":[[]]}"#,
    " {\t\"spaced\" :\r\n [ 1 , 2 ] } ",
    r#"{"n":[0,-1,1,-0,123456789012345678,1234567890123456789,18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809]}"#,
    r#"{"f":[1.0,1.5,-0.0,1e2,1E-2,2.5e+3,0.1,1.7976931348623157e308,5e-324,1e400,123.456e7]}"#,
    r#"{"bad":01}"#,
    r#"{"bad":1.}"#,
    r#"{"bad":.5}"#,
    r#"{"bad":+1}"#,
    r#"{"bad":1e}"#,
    r#"{"bad":-}"#,
    r#"{"s":"plain","e":"q \" b \\ s \/ n \n t \t u \u00e9 \ud83d\ude00 \u0001"}"#,
    r#"{"lone":"\ud83d"}"#,
    r#"{"lone":"\ude00"}"#,
    r#"{"bad":"\x"}"#,
    r#"{"caf\u00e9":1,"k\"q":2}"#,
    r#"{"dup":1,"dup":2}"#,
    r#"{"a":{"dup":1,"x":2,"dup":3}}"#,
    r#"{"dup":1,"d\u0075p":2}"#,
    r#"{"signed":"\u+041"}"#,
    r#"{"a":1,}"#,
    r#"{"a":1 "b":2}"#,
    r#"{"a"}"#,
    r#"{"a":tru}"#,
    r#"{"a":nul}"#,
    r#"{"a":true,"b":false,"c":null}"#,
    r#"{"a":1} x"#,
    r#"{"a":1}}"#,
    r#"[1,2"#,
    r#""just a string""#,
    r#"42"#,
    r#"null"#,
    "",
    "   ",
    "{\"raw\":\"tab\tinside\"}",
    r#"{"message":"replaced","tags":["x"]}"#,
    r#"{"x":1,"tags":[1,2],"y":2}"#,
    r#"{"tags":{"a":1}}"#,
    r#"{"tags":"t","@metadata":{"k":[1]}}"#,
    r#"{"tags":null,"@metadata":5,"z":1}"#,
    r#"{"a":"s","[a][b]":1}"#,
];

fn deep(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

fn many_keys(count: usize, repeat_last: bool) -> String {
    let mut members: Vec<String> = (0..count).map(|i| format!("\"k{i}\":{i}")).collect();
    if repeat_last {
        members.push("\"k0\":\"again\"".into());
    }
    format!("{{{}}}", members.join(","))
}

/// The event after the filter, through either path.
fn both_paths(config: &serde_json::Value, document: &str) -> (String, String, bool) {
    let input = json!({"message": document, "host": {"name": "web-1"}, "doc": "old"}).to_string();
    let mut fast = Json::new(serde_json::from_value(config.clone()).unwrap()).unwrap();
    let mut general = Json::new(serde_json::from_value(config.clone()).unwrap()).unwrap();
    let mut event = Event::parse(input.as_bytes()).unwrap();
    fast.process(&mut event);
    let through_fast = event.to_json();
    let mut event = Event::parse(input.as_bytes()).unwrap();
    assert!(event.read_str_into("message", &mut general.text));
    general.through_value(&mut event);
    let transcoded = {
        let mut event = Event::parse(input.as_bytes()).unwrap();
        assert!(event.read_str_into("message", &mut fast.text));
        fast.transcoded(&mut event).is_some()
    };
    (through_fast, event.to_json(), transcoded)
}

fn configs() -> Vec<serde_json::Value> {
    vec![
        json!({"source": "message", "target": "doc"}),
        json!({"source": "message", "target": "[parsed][deeper]"}),
        json!({"source": "message", "target": "[host][doc]"}),
        json!({"source": "message"}),
    ]
}

fn assert_paths_agree(documents: &[String]) -> usize {
    let mut transcoded = 0;
    for config in configs() {
        for document in documents {
            let (fast, general, took_fast_path) = both_paths(&config, document);
            assert_eq!(fast, general, "config {config}, document {document:?}");
            transcoded += usize::from(took_fast_path);
        }
    }
    transcoded
}

#[test]
fn real_documents_come_out_as_through_a_value() {
    let documents = real_documents();
    let transcoded = assert_paths_agree(&documents);
    // Every config but `[host][doc]` (below an existing field) transcodes
    // every real document.
    assert_eq!(transcoded, 3 * documents.len());
}

#[test]
fn edge_cases_come_out_as_through_a_value() {
    let mut documents: Vec<String> = EDGE_CASES.iter().map(|s| s.to_string()).collect();
    documents.extend([deep(99), deep(100), deep(127), deep(128), deep(200)]);
    documents.extend([
        many_keys(63, false),
        many_keys(64, false),
        many_keys(200, true),
    ]);
    let transcoded = assert_paths_agree(&documents);
    assert!(transcoded > 0);
}

#[test]
fn broken_documents_come_out_as_through_a_value() {
    let specials = [
        '"', '\\', ',', ':', '{', '}', '[', ']', '0', '-', 'e', '.', ' ', '\u{1}',
    ];
    let mut rng = XorShift(0x5eed_1e55);
    let originals = real_documents();
    let documents: Vec<String> = (0..3000)
        .map(|i| mangle(&mut rng, &originals[i % originals.len()], &specials))
        .collect();
    assert_paths_agree(&documents);
}
