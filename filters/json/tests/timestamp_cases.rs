//! A document's `@timestamp` against answers recorded from the JDK's
//! java.time, which Logstash 8 reads it with. `compat/TimestampOracle.java`
//! assembled the texts, spoiled a third of them and wrote down what
//! Logstash's parser makes of each (see "COMPAT: Logstash 8's `@timestamp`
//! parser" in the README). Each goes through the filter in a document, and
//! must come out the same: that instant as `@timestamp`, or the failure tag.

use serde_json::json;
use wasmstash_filter_json::Json;
use wasmstash_sdk::{Event, Filter};

const CASES: &str = include_str!("../compat/timestamp-cases.tsv");

#[test]
fn every_recorded_java_time_answer_is_ours_too() {
    let mut json =
        Json::new(serde_json::from_value(json!({"source": "message"})).unwrap()).unwrap();
    let mut cases = 0;
    let mut differences = Vec::new();
    for (index, line) in CASES.lines().enumerate() {
        let (input, answer) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("timestamp-cases.tsv line {}: no tab", index + 1));
        let expected = (answer != "-").then_some(answer);
        let mut event = Event::new();
        event.insert("message", json!({"@timestamp": input}).to_string());
        json.process(&mut event);
        let ours = match event.has_tag("_timestampparsefailure") {
            true => None,
            false => event.get_str("@timestamp").map(str::to_owned),
        };
        cases += 1;
        if ours.as_deref() != expected {
            differences.push(format!(
                "line {}: `{input}`: Java {}, ours {}",
                index + 1,
                expected.unwrap_or("fails"),
                ours.as_deref().unwrap_or("fails"),
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {cases} cases differ from java.time:\n{}",
        differences.len(),
        differences[..differences.len().min(40)].join("\n")
    );
    assert!(cases > 4000, "only {cases} cases ran");
}
