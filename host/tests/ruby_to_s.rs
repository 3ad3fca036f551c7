//! Where Logstash's Ruby plugins call `to_s` on a list or a hash (mutate's
//! `join` and `convert => string`, grok's match, json's `_@timestamp`),
//! the text is Ruby's `inspect` of it, through the real binary: every
//! built-in shares the SDK's one rendering.

mod support;
// Not in `support`: the benchmarks share that, and have no binary to run.
#[path = "support/binary.rs"]
mod binary;

use binary::*;
use serde_json::json;

fn run_one(filter: &str, line: &str) -> serde_json::Value {
    let out = wasmstash(
        &["run", "--format", "ndjson", "--filter", filter],
        format!("{line}\n").as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut events = events_of(&out.stdout);
    assert_eq!(events.len(), 1, "{}", text(&out.stdout));
    events.remove(0)
}

#[test]
fn mutate_join_and_convert_write_hashes_and_lists_as_ruby_inspects_them() {
    let line =
        r#"{"j":[1,[2,{"k":[null,1e20,"é\n"]}],null],"c":[[1.50,null],{"k":"v"}],"o":{"k":1}}"#;
    let event = run_one(
        r#"mutate={"join":{"j":","},"convert":{"c":"string","o":"string"}}"#,
        line,
    );
    assert_eq!(event["j"], r#"1,2,{"k"=>[nil, 1.0e+20, "é\n"]},"#);
    assert_eq!(event["c"], json!(["[1.5, nil]", r#"{"k"=>"v"}"#]));
    // A hash field is not converted, as in Logstash.
    assert_eq!(event["o"], json!({"k": 1}));
}

#[test]
fn grok_matches_a_hash_as_ruby_inspects_it() {
    let event = run_one(
        r#"grok={"match":{"o":"^%{GREEDYDATA:s}$"}}"#,
        r#"{"o":{"a":[true,-0.0]}}"#,
    );
    assert_eq!(event["s"], r#"{"a"=>[true, -0.0]}"#);
}

#[test]
fn json_keeps_a_timestamp_that_is_no_text_as_ruby_writes_it() {
    let event = run_one(
        r#"json={"source":"m"}"#,
        r#"{"m":"{\"@timestamp\":[1E2,{\"z\":null}]}"}"#,
    );
    // Logstash's JSON parser reads a decimal as a BigDecimal, whose text
    // this is (JRuby 9.3 on a Java BigDecimal).
    assert_eq!(event["_@timestamp"], r#"[0.1e3, {"z"=>nil}]"#);
    assert_eq!(event["tags"], json!(["_timestampparsefailure"]));
}
