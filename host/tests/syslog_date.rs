//! The `syslog` and `date` built-ins, as WebAssembly in the host's pipeline,
//! over real logs: the `syslog` example pipeline over three Loghub sets with
//! non-syslog lines mixed in, `date` over every access-log timestamp (the
//! `apache` pipeline's date step), and both filters giving the same bytes
//! natively and in WebAssembly.

mod support;

use serde_json::{Value, json};
use support::identical::assert_identical;
use support::*;
use wasmstash::config::Config;
use wasmstash::pipeline::Pipeline;
use wasmstash_filter_date::Date;
use wasmstash_filter_syslog::Syslog;

fn loghub_lines(dataset: &str) -> Vec<String> {
    let path = shared_data().join(format!("loghub/{dataset}/{dataset}_2k.log"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines().map(str::to_owned).collect()
}

/// Linux and OpenSSH as they are, and Thunderbird's syslog part (each line
/// opens with four Loghub columns: label, epoch, date, node).
fn syslog_lines() -> Vec<String> {
    let mut lines = loghub_lines("Linux");
    lines.extend(loghub_lines("OpenSSH"));
    lines.extend(
        loghub_lines("Thunderbird")
            .iter()
            .map(|l| l.splitn(5, ' ').nth(4).unwrap().to_owned()),
    );
    assert_eq!(lines.len(), 6000);
    lines
}

/// The access log's `[17/May/2015:10:05:03 +0000]` texts, as grok's
/// `%{COMBINEDAPACHELOG}` captures them into `timestamp`.
fn access_timestamps() -> Vec<String> {
    apache_lines()
        .iter()
        .map(|line| {
            let open = line.find('[').unwrap();
            let close = line[open..].find(']').unwrap() + open;
            line[open + 1..close].to_owned()
        })
        .collect()
}

fn example_pipeline(name: &str) -> Pipeline {
    let path = wasmstash_sdk::crate_dir!().join("../examples/wasmstash.toml");
    let config = Config::load(&path).unwrap();
    let modules = config.load_pipeline(&data_engine(), name).unwrap();
    Pipeline::new(name, modules)
}

fn run_in_batches(pipeline: &mut Pipeline, events: Vec<Vec<u8>>) -> Vec<Value> {
    let mut results = Vec::new();
    for chunk in events.chunks(125) {
        results.extend(as_json(pipeline.process(checked(chunk))));
    }
    results
}

fn has_tag(event: &Value, tag: &str) -> bool {
    event["tags"]
        .as_array()
        .is_some_and(|tags| tags.iter().any(|t| t == tag))
}

#[test]
fn the_syslog_example_pipeline_parses_loghub_and_tags_the_rest() {
    let mut lines = syslog_lines();
    // Every 40th position gets a line that is not syslog.
    let apache = apache_lines();
    let foreign = [
        "",
        "<999>Oct 11 22:14:15 host app: bad priority",
        "Jun 14 15:16",
    ];
    let mut not_syslog = 0;
    for (i, position) in (0..lines.len()).step_by(40).enumerate().collect::<Vec<_>>() {
        let line = match i % 4 {
            3 => foreign[i / 4 % foreign.len()].to_owned(),
            _ => apache[i].clone(),
        };
        lines.insert(position + i, line);
        not_syslog += 1;
    }
    let events: Vec<Vec<u8>> = lines
        .iter()
        .map(|l| serde_json::to_vec(&json!({"message": l})).unwrap())
        .collect();
    let mut pipeline = example_pipeline("syslog");
    let results = run_in_batches(&mut pipeline, events);

    assert_eq!(results.len(), lines.len(), "one result per event");
    let (mut parsed, mut tagged) = (0, 0);
    for (event, line) in results.iter().zip(&lines) {
        assert!(!event.is_null(), "nothing is dropped");
        assert!(
            event.get("wasmstash").is_none(),
            "no filter failure: {event}"
        );
        if has_tag(event, "_syslogparsefailure") {
            tagged += 1;
            assert_eq!(
                event["message"],
                line.as_str(),
                "a failure leaves the line as it was"
            );
            assert!(event.get("@timestamp").is_none());
        } else {
            parsed += 1;
            assert_eq!(event["event"]["original"], line.as_str());
            assert!(event["host"]["hostname"].is_string(), "{event}");
            assert!(
                event["@timestamp"].as_str().unwrap().ends_with(".000Z"),
                "{event}"
            );
            assert!(!has_tag(event, "_dateparsefailure"), "{event}");
        }
    }
    assert_eq!((parsed, tagged), (6000, not_syslog));
    assert_eq!(not_syslog, 150);
    assert_eq!(pipeline.stats().events_out, lines.len() as u64);
}

#[test]
fn date_reads_every_access_log_timestamp_as_the_apache_pipeline_does() {
    let module = load(
        &data_engine(),
        "date",
        &built_module("date"),
        r#"{"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]}"#,
    );
    let timestamps = access_timestamps();
    let events: Vec<Vec<u8>> = timestamps
        .iter()
        .map(|t| serde_json::to_vec(&json!({"timestamp": t})).unwrap())
        .collect();
    let results = run_in_batches(&mut pipeline(module), events);
    assert_eq!(results.len(), 10_000);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    for (event, text) in results.iter().zip(&timestamps) {
        // `17/May/2015:10:05:03 +0000` rebuilt by hand as ISO 8601.
        let (date, clock) = text.split_once(':').unwrap();
        let parts: Vec<&str> = date.split('/').collect();
        let month = MONTHS.iter().position(|m| *m == parts[1]).unwrap() + 1;
        let expected = format!(
            "{}-{month:02}-{}T{}.000Z",
            parts[2],
            parts[0],
            clock.strip_suffix(" +0000").unwrap()
        );
        assert_eq!(event["@timestamp"], expected.as_str());
    }
    // A truncated timestamp among them is tagged, not dropped.
    let bad = vec![br#"{"timestamp":"17/May/2015:10:05"}"#.to_vec()];
    let module = load(
        &data_engine(),
        "date",
        &built_module("date"),
        r#"{"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]}"#,
    );
    let results = as_json(pipeline(module).process(checked(&bad)));
    assert_eq!(
        results,
        [json!({"timestamp": "17/May/2015:10:05", "tags": ["_dateparsefailure"]})]
    );
}

#[test]
fn syslog_and_date_are_identical_natively_and_in_wasm() {
    let lines: Vec<Vec<u8>> = syslog_lines()
        .iter()
        .chain(apache_lines().iter().take(500))
        .map(|l| serde_json::to_vec(&json!({"message": l})).unwrap())
        .collect();
    assert_identical::<Syslog>("syslog", "{}", &lines);

    // Formats with a year, so the result does not depend on the clock.
    let timestamps: Vec<Vec<u8>> = access_timestamps()
        .iter()
        .map(|t| serde_json::to_vec(&json!({"t": t, "tz": "Europe/Paris"})).unwrap())
        .collect();
    let config = json!({
        "match": ["t", "ISO8601", "dd/MMM/yyyy:HH:mm:ss Z"],
        "timezone": "%{tz}",
    });
    assert_identical::<Date>("date", &config.to_string(), &timestamps);
}
