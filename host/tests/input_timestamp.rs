//! An `@timestamp` that comes with an event, through the real binary: the
//! filters must see it as Logstash's filters would, whichever way the event
//! came in (`run`'s NDJSON, the sidecar's batch). Before, a time with an
//! offset reached them as text they could not read, so a `%{+yyyy.MM.dd}`
//! printed nothing where Logstash prints the day.

#[path = "support/binary.rs"]
mod binary;
mod support;

use binary::{events_of, text, wasmstash};
use serde_json::{Value, json};
use support::server::{Server, write_config};

const DAY_OF: &str = r#"mutate={"add_field":{"day":"%{+yyyy.MM.dd}"}}"#;

/// Events with each kind of `@timestamp`, numbered by `n`.
fn events() -> Vec<String> {
    [
        r#""@timestamp":"2021-06-30T23:15:00-02:00""#,
        r#""@timestamp":"2021-06-30T08:15:00.000Z""#,
        r#""@timestamp":"yesterday""#,
        r#""@timestamp":12345"#,
        r#""@timestamp":null"#,
    ]
    .iter()
    .enumerate()
    .map(|(n, member)| format!(r#"{{"n":{n},{member}}}"#))
    .collect()
}

/// What the filter made of each of [`events`]; `today` is the day a
/// current time prints as.
fn assert_made_as_logstash_makes_them(out: &[Value], today: &[String]) {
    assert_eq!(out.len(), 5, "{out:?}");
    // An offset is read, and the time written as Logstash writes it.
    assert_eq!(out[0]["@timestamp"], "2021-07-01T01:15:00.000Z");
    assert_eq!(out[0]["day"], "2021.07.01");
    assert_eq!(out[1]["@timestamp"], "2021-06-30T08:15:00.000Z");
    assert_eq!(out[1]["day"], "2021.06.30");
    // A value Logstash cannot read is kept aside, the event tagged.
    for (event, given) in [(&out[2], json!("yesterday")), (&out[3], json!(12345))] {
        assert_eq!(event["_@timestamp"], given, "{event}");
        assert_eq!(event["tags"], json!(["_timestampparsefailure"]), "{event}");
        assert!(today.contains(&event["day"].as_str().unwrap().to_owned()));
    }
    // A null is no time: removed, and the filter reads the current one.
    assert!(out[4].get("@timestamp").is_none(), "{}", out[4]);
    assert!(today.contains(&out[4]["day"].as_str().unwrap().to_owned()));
    for (n, event) in out.iter().enumerate() {
        assert_eq!(event["n"], n, "in order, each once");
    }
}

/// The day the clock reads now, and a moment later: a test that runs
/// across midnight may see either.
fn today() -> Vec<String> {
    let out = wasmstash(&["run", "--filter", DAY_OF], b"x\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let day = events_of(&out.stdout)[0]["day"]
        .as_str()
        .unwrap()
        .to_owned();
    vec![day]
}

#[test]
fn run_reads_an_events_own_timestamp_as_logstash_does() {
    let mut today = today();
    let input = events().join("\n") + "\n";
    let out = wasmstash(
        &["run", "--format", "ndjson", "--filter", DAY_OF],
        input.as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    today.extend(self::today());
    assert_made_as_logstash_makes_them(&events_of(&out.stdout), &today);
    // The summary counts the tag as it counts any failure.
    assert!(
        text(&out.stderr).contains("_timestampparsefailure 2"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_sidecar_reads_an_events_own_timestamp_as_logstash_does() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        r#"
[server]
watch = false

[[pipelines.day.filters]]
filter = "mutate"
config = { add_field = { day = "%{+yyyy.MM.dd}" } }
"#,
    );
    let server = Server::start(&config, &[]);
    let mut today = today();
    let body = events().join("\n") + "\n";
    let answer = server.post("/v1/pipelines/day/batch", body.as_bytes());
    today.extend(self::today());
    assert_eq!(answer.status, 200, "{}", answer.text());
    let out: Vec<Value> = answer
        .text()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["event"].clone())
        .collect();
    assert_made_as_logstash_makes_them(&out, &today);
}
