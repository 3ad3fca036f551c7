//! The compatibility corpus: cases from Logstash's own pattern specs
//! (`../shared/data/grok-cases/dev.json`), each run through the real filter
//! and judged as that folder's README prescribes. Prints the pass rate per
//! spec file and every failure; fails below `THRESHOLD`, which records the
//! rate reached and may only move up.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wasmstash_filter_grok::Grok;
use wasmstash_sdk::{Event, Filter};

/// Cases that must pass, as a share of all cases (the current rate).
const THRESHOLD: f64 = 1.0;

fn cases() -> Vec<Value> {
    let path = wasmstash_sdk::crate_dir!().join("../../../shared/data/grok-cases/dev.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the grok corpus is missing: {} ({e}); see ../shared/data/README.md",
            path.display()
        )
    });
    let cases: Vec<Value> = serde_json::from_str(&text).expect("dev.json is a JSON array");
    assert!(
        cases.len() >= 300,
        "dev.json shrank to {} cases",
        cases.len()
    );
    cases
}

/// The corpus comes from the v4.3.1 spec suite; our reference is v4.3.4.
/// Cases that assert what 4.3.2 to 4.3.4 changed are judged on the v4.3.4
/// outcome: `expected` gets the change, and the case is run as usual. Returns
/// how many cases were changed.
fn to_v434(cases: &mut [Value]) -> usize {
    let mut changed = 0;
    for case in cases {
        // 4.3.2 moved the BIND9 category from `[bing][log][category]` into
        // `bind.log`, whose key set these two cases check exactly.
        if matches!(case["id"].as_str(), Some("bind-003" | "bind-004")) {
            case["expected"]["bind"]["log"]["category"] = json!("queries");
            changed += 1;
        }
    }
    changed
}

/// Runs one case; `Err` says why it fails.
fn evaluate(case: &Value) -> Result<(), String> {
    let mut config = json!({
        "match": {"message": case["pattern"]},
        "ecs_compatibility": case["ecs_compatibility"],
    });
    if let Some(Value::Object(options)) = case.get("grok_options") {
        for (k, v) in options {
            config[k] = v.clone();
        }
    }
    let mut grok =
        Grok::new(serde_json::from_value(config).unwrap()).map_err(|e| format!("init: {e}"))?;
    let input = json!({"message": case["message"], "@version": "1", "@timestamp": "2026-01-01T00:00:00.000Z"});
    let text = input.to_string();
    let mut event = Event::parse(text.as_bytes()).unwrap();
    grok.process(&mut event);
    let out: Value = serde_json::from_str(&event.to_json()).unwrap();

    let tags = out.get("tags").cloned().unwrap_or(json!([]));
    if tags
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t == "_groktimeout"))
    {
        return Err("timed out".into());
    }
    let matched = !tags
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t == "_grokparsefailure"));
    let expect_match = case["expect_match"].as_bool().unwrap();
    if matched != expect_match {
        return Err(format!("matched = {matched}, expected {expect_match}"));
    }
    subset(&case["expected"], &out, "")?;
    for path in case["expected_absent"].as_array().into_iter().flatten() {
        let mut at = Some(&out);
        for key in path.as_array().unwrap() {
            at = at.and_then(|v| v.get(key.as_str().unwrap()));
        }
        if let Some(v) = at {
            return Err(format!("{path} should be absent, is {v}"));
        }
    }
    for path in case["strict_paths"].as_array().into_iter().flatten() {
        let mut expected = &case["expected"];
        let mut actual = &out;
        for key in path.as_array().unwrap() {
            expected = &expected[key.as_str().unwrap()];
            actual = &actual[key.as_str().unwrap()];
        }
        let keys = |v: &Value| -> Vec<String> {
            let mut k: Vec<String> = v
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            k.sort();
            k
        };
        if keys(expected) != keys(actual) {
            return Err(format!(
                "keys at {path}: expected {:?}, got {:?}",
                keys(expected),
                keys(actual)
            ));
        }
    }
    if let Some(allowed) = case["allowed_top_level_keys"].as_array() {
        // Logstash's `to_hash` leaves `@metadata` out.
        for key in out
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "@metadata")
        {
            let ok = ["@timestamp", "@version", "message"].contains(&key.as_str())
                || allowed.iter().any(|a| a == key);
            if !ok {
                return Err(format!("top-level key `{key}` not allowed"));
            }
        }
    }
    Ok(())
}

/// `expected` is a deep subset of `actual`; numbers compare by value (RSpec's
/// `200 == 200.0`), everything else by type and value, arrays element-wise.
fn subset(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let av = a
                    .get(k)
                    .ok_or_else(|| format!("{path}[{k}] missing (expected {ev})"))?;
                subset(ev, av, &format!("{path}[{k}]"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                subset(ev, av, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => Ok(()),
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{path}: expected {e}, got {a}")),
    }
}

#[test]
fn logstash_pattern_spec_corpus() {
    let mut cases = cases();
    assert_eq!(to_v434(&mut cases), 2, "the bind cases moved");
    let mut per_file: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        let file = case["spec_file"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        let entry = per_file.entry(file).or_default();
        entry.1 += 1;
        match evaluate(case) {
            Ok(()) => entry.0 += 1,
            Err(reason) => failures.push(format!(
                "{} ({}, {}): {reason}",
                case["id"].as_str().unwrap(),
                case["pattern"],
                case["ecs_compatibility"]
            )),
        }
    }
    println!("| spec file | passed | cases |\n|---|---|---|");
    for (file, (passed, total)) in &per_file {
        println!("| {file} | {passed} | {total} |");
    }
    let passed = cases.len() - failures.len();
    let rate = passed as f64 / cases.len() as f64;
    println!(
        "| **all** | {passed} | {} ({:.1}%) |",
        cases.len(),
        rate * 100.0
    );
    for failure in &failures {
        println!("FAIL {failure}");
    }
    assert!(
        rate >= THRESHOLD,
        "pass rate {:.4} fell below the recorded {THRESHOLD}",
        rate
    );
}
