//! The anomaly filter end to end, through the real binary and the real
//! WebAssembly module: a generated scenario scored against its ground truth,
//! a run cut in two by a restart, and two sidecar workers sharing baselines.
//!
//! How a flag is matched to an incident: each finding in
//! `wasmstash.anomaly.findings` has a detector and a key; it is placed in time
//! at the `@timestamp` of the event that carries it. It matches an incident
//! when the key is the incident's service, the time lies between the
//! incident's start and its end plus [`SLACK_MS`] (an interval is judged only
//! once the watermark, `lateness_secs` behind the newest event, has passed
//! its end), and the detector is the one that incident kind calls for (see
//! [`detector_for`]). Recall of a kind: incidents of the kind matched by a
//! finding. Precision of a kind: findings matching an incident of that kind,
//! over those plus the findings of its detector that no incident explains. A
//! finding is explained by an incident it matches, or by a side effect the
//! incident really has (a new error template is also a rise in the error
//! ratio: [`also_accepted`]).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use std::net::SocketAddr;

use support::server::{Server, binary, send_raw, write_config};

/// One interval (60 s) to close plus the lateness (120 s) plus the
/// generator's disorder and a minute's margin.
const SLACK_MS: i64 = 5 * 60_000;

fn detector_for(kind: &str) -> &'static str {
    match kind {
        "error_burst" => "error_ratio",
        "latency_spike" => "value_outlier",
        "traffic_drop" | "service_silent" => "rate",
        "new_error_template" => "rare_template",
        "new_client" => "new_value",
        other => panic!("unknown incident kind {other}"),
    }
}

/// Detectors an incident kind may set off besides its own.
fn also_accepted(kind: &str) -> &'static [&'static str] {
    match kind {
        "new_error_template" => &["error_ratio"],
        _ => &[],
    }
}

fn examples_config() -> PathBuf {
    wasmstash_sdk::crate_dir!().join("../examples/wasmstash.toml")
}

fn wasmstash(args: &[&str]) -> std::process::Output {
    let output = Command::new(binary())
        .args(args)
        .env(
            "WASMSTASH_CACHE_DIR",
            std::env::temp_dir().join("wasmstash-test-cache"),
        )
        .output()
        .expect("running wasmstash");
    assert!(
        output.status.success(),
        "wasmstash {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The scenario (events file, ground truth) written by `wasmstash gen`, made
/// once for all tests of this file.
fn scenario() -> &'static (PathBuf, Value) {
    static SCENARIO: OnceLock<(tempfile::TempDir, (PathBuf, Value))> = OnceLock::new();
    let (_, scenario) = SCENARIO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("scenario.ndjson");
        let out = events.to_str().unwrap();
        wasmstash(&[
            "gen",
            "--seed",
            "11",
            "--duration",
            "9h",
            "--warmup",
            "90m",
            "--parsed",
            "--out",
            out,
        ]);
        let truth = std::fs::read(dir.path().join("scenario.truth.json"))
            .expect("gen wrote the ground truth");
        (dir, (events, serde_json::from_slice(&truth).unwrap()))
    });
    scenario
}

/// The example config's `anomaly` pipeline over `input`, output events.
fn run_anomaly(input: &Path, state_dir: Option<&Path>) -> Vec<Value> {
    let config = examples_config();
    let mut args = vec![
        "run",
        "-c",
        config.to_str().unwrap(),
        "-p",
        "anomaly",
        "--no-progress",
    ];
    if let Some(dir) = state_dir {
        args.extend(["--state-dir", dir.to_str().unwrap()]);
    }
    args.push(input.to_str().unwrap());
    let output = wasmstash(&args);
    output
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// Milliseconds of `2026-11-24T05:12:33.123Z`.
fn millis(stamp: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| stamp[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (y, mp) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * mp + 2) / 5 + d - 1;
    let days = era * 146_097 + doe - 719_468;
    let ms = if stamp.len() > 20 { n(20..23) } else { 0 };
    ((days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) * 1000) + ms
}

struct Finding {
    detector: String,
    key: String,
    at: i64,
}

fn findings(events: &[Value]) -> Vec<Finding> {
    let mut found = Vec::new();
    for event in events {
        let Some(list) = event["wasmstash"]["anomaly"]["findings"].as_array() else {
            continue;
        };
        assert!(
            event["tags"]
                .as_array()
                .unwrap()
                .contains(&json!("anomaly"))
        );
        let at = millis(event["@timestamp"].as_str().unwrap());
        for f in list {
            found.push(Finding {
                detector: f["detector"].as_str().unwrap().to_owned(),
                key: f["key"].as_str().unwrap().to_owned(),
                at,
            });
        }
    }
    found
}

#[test]
fn a_generated_scenario_is_flagged_with_high_precision_and_recall_per_incident_kind() {
    let (events_path, truth) = scenario();
    let out = run_anomaly(events_path, None);
    assert_eq!(
        out.len() as u64,
        truth["events"].as_u64().unwrap(),
        "every event comes out once"
    );
    let found = findings(&out);
    let incidents = truth["incidents"].as_array().unwrap();
    let in_window = |f: &Finding, i: &Value| {
        f.key == i["service"]
            && (millis(i["start"].as_str().unwrap())..millis(i["end"].as_str().unwrap()) + SLACK_MS)
                .contains(&f.at)
    };
    let matches = |f: &Finding, i: &Value| {
        in_window(f, i) && f.detector == detector_for(i["type"].as_str().unwrap())
    };
    let explained = |f: &Finding| {
        incidents.iter().any(|i| {
            let kind = i["type"].as_str().unwrap();
            in_window(f, i)
                && (f.detector == detector_for(kind)
                    || also_accepted(kind).contains(&f.detector.as_str()))
        })
    };
    // The example pipeline mines templates first; without ids the
    // new-error-template incidents could not be judged at all.
    assert!(
        out.iter()
            .all(|e| e["wasmstash"]["template"]["id"].is_string()),
        "every event carries a template id"
    );
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let kinds: BTreeMap<&str, Vec<&Value>> = incidents.iter().fold(BTreeMap::new(), |mut m, i| {
        m.entry(i["type"].as_str().unwrap())
            .or_insert_with(Vec::new)
            .push(i);
        m
    });
    for (kind, of_kind) in &kinds {
        let detector = detector_for(kind);
        let hits = of_kind
            .iter()
            .filter(|i| found.iter().any(|f| matches(f, i)))
            .count();
        let true_flags = found
            .iter()
            .filter(|f| of_kind.iter().any(|i| matches(f, i)))
            .count();
        let false_flags = found
            .iter()
            .filter(|f| f.detector == detector && !explained(f))
            .count();
        let recall = hits as f64 / of_kind.len() as f64;
        let precision = if true_flags + false_flags == 0 {
            0.0
        } else {
            true_flags as f64 / (true_flags + false_flags) as f64
        };
        report.push(format!(
            "{kind:<19} {detector:<14} incidents {hits}/{}  flags {true_flags} true {false_flags} false  precision {precision:.3} recall {recall:.3}",
            of_kind.len()
        ));
        if precision < 0.9 || recall < 0.9 {
            failures.push(*kind);
        }
    }
    let report = report.join("\n");
    eprintln!("{report}");
    for incident in incidents {
        assert!(
            found.iter().any(|f| matches(f, incident)),
            "missed {incident}\n{report}"
        );
    }
    assert!(failures.is_empty(), "below 0.9: {failures:?}\n{report}");
}

#[test]
fn a_run_cut_by_a_restart_flags_exactly_as_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (events_path, _) = scenario();
    let text = std::fs::read_to_string(events_path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Cut mid-incident-schedule, not on a batch boundary.
    let cut = lines.len() / 2 + 371;
    let (first, second) = (
        dir.path().join("first.ndjson"),
        dir.path().join("second.ndjson"),
    );
    std::fs::write(&first, lines[..cut].join("\n") + "\n").unwrap();
    std::fs::write(&second, lines[cut..].join("\n") + "\n").unwrap();

    let whole = run_anomaly(events_path, None);
    let state = dir.path().join("state");
    let mut restarted = run_anomaly(&first, Some(&state));
    // Both stateful stages keep their state, each in a file of its name: the
    // miner and the detectors, so template ids and flags both carry over.
    for file in ["anomaly/templates.state", "anomaly/anomaly.state"] {
        assert!(state.join(file).exists(), "the first run saved {file}");
    }
    restarted.extend(run_anomaly(&second, Some(&state)));
    assert_eq!(restarted.len(), whole.len());
    let flagged = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["wasmstash"].get("anomaly").is_some())
            .count()
    };
    assert!(
        flagged(&whole[cut..]) > 0,
        "the second half must have flags to compare"
    );
    for (index, (got, expected)) in restarted.iter().zip(&whole).enumerate() {
        assert_eq!(got, expected, "event {index} differs after the restart");
    }
}

fn serve_config(dir: &Path) -> PathBuf {
    let state = dir.join("state");
    write_config(
        dir,
        &format!(
            r#"
[server]
workers = 2
watch = false
state_dir = "{}"
snapshot_interval_ms = 100

# Stateless, so each worker runs an instance of its own: its memory gauges
# show which workers ran the pipeline (anomaly's one shared instance is
# reported once, as worker "shared").
[[pipelines.flags.filters]]
filter = "mutate"
config = {{ lowercase = ["k"] }}

[[pipelines.flags.filters]]
filter = "anomaly"
config = {{ key_field = "k", new_value = {{ field = "v", warmup_events = 0 }} }}
"#,
            state.display()
        ),
    )
}

/// Sends events `{"k": "svc", "v": value}` and counts flagged results.
fn flagged(addr: SocketAddr, values: &[&str]) -> usize {
    let body: Vec<u8> = values
        .iter()
        .flat_map(|v| format!("{{\"k\":\"svc\",\"v\":\"{v}\"}}\n").into_bytes())
        .collect();
    let mut request = format!(
        "POST /v1/pipelines/flags/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend(body);
    let response = send_raw(addr, &request);
    assert_eq!(response.status, 200, "{}", response.text());
    response
        .text()
        .lines()
        .filter(|l| l.contains("\"anomaly\""))
        .count()
}

#[test]
fn two_serve_workers_update_one_baseline_and_it_survives_reload_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = serve_config(dir.path());
    let token = "anomaly-test-admin-token";
    let server = Server::start(&config, &[("WASMSTASH_ADMIN_TOKEN", token)]);
    let addr = server.addr;
    // Concurrent batches until both workers have run some. Every event has
    // the same value: one shared state flags it once; a state per worker
    // would flag it once per worker.
    let mut total = 0;
    let mut rounds = 0;
    loop {
        rounds += 1;
        let threads: Vec<_> = (0..6)
            .map(|_| {
                std::thread::spawn(move || {
                    (0..10).map(|_| flagged(addr, &["same"; 50])).sum::<usize>()
                })
            })
            .collect();
        total += threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum::<usize>();
        let metrics = server.get("/metrics").text();
        let workers_seen = ["0", "1"]
            .iter()
            .filter(|w| {
                metrics.contains(&format!(
                    "pipeline=\"flags\",filter=\"mutate\",worker=\"{w}\""
                ))
            })
            .count();
        if workers_seen == 2 {
            break;
        }
        assert!(
            rounds < 50,
            "requests never overlapped on two workers:\n{metrics}"
        );
    }
    assert_eq!(
        total, 1,
        "the value was flagged once per worker: workers do not share the baseline"
    );

    // A reload carries the state over: still known; a new value is news.
    let auth = format!("Bearer {token}");
    let reload = server.request("POST", "/v1/admin/reload", &[("Authorization", &auth)], b"");
    assert_eq!(reload.status, 200, "{}", reload.text());
    assert_eq!(flagged(server.addr, &["same", "other"]), 1);
    server.stop();

    // SIGTERM saved it; a new process restores it.
    assert!(dir.path().join("state/flags/anomaly.state").exists());
    let server = Server::start(&config, &[]);
    assert_eq!(flagged(server.addr, &["same", "other", "third"]), 1);
    server.stop();
}

#[test]
fn gen_writes_the_same_logs_for_a_seed_and_labels_every_incident_kind() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let args = [
            "gen",
            "--seed",
            seed,
            "--duration",
            "4h",
            "--warmup",
            "1h",
            "--scale",
            "0.2",
            "--incidents-per-kind",
            "1",
        ];
        let mut args: Vec<&str> = args.to_vec();
        args.extend(["--out", out.to_str().unwrap()]);
        wasmstash(&args);
        let truth: Value =
            serde_json::from_slice(&std::fs::read(out.with_extension("truth.json")).unwrap())
                .unwrap();
        (std::fs::read(&out).unwrap(), truth)
    };
    let (first, truth) = write("a.ndjson", "5");
    let (again, _) = write("b.ndjson", "5");
    let (other, _) = write("c.ndjson", "6");
    assert!(first == again, "the same seed wrote different logs");
    assert!(first != other, "another seed wrote the same logs");
    let kinds: Vec<&str> = truth["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    for kind in [
        "error_burst",
        "latency_spike",
        "traffic_drop",
        "service_silent",
        "new_error_template",
        "new_client",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let lines: Vec<Value> = first
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, truth["events"].as_u64().unwrap());
    for dataset in ["apache.access", "app"] {
        let event = lines
            .iter()
            .find(|e| e["event"]["dataset"] == dataset)
            .expect("both kinds of lines");
        for field in ["@timestamp", "message"] {
            assert!(event[field].is_string(), "{field} in {event}");
        }
        assert!(
            event["service"]["name"].is_string() && event["host"]["name"].is_string(),
            "{event}"
        );
    }
    let too_short = Command::new(binary())
        .args([
            "gen",
            "--duration",
            "1h",
            "--out",
            dir.path().join("x").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(too_short.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&too_short.stderr).contains("lengthen --duration"),
        "{}",
        String::from_utf8_lossy(&too_short.stderr)
    );
}

/// A state budget at or over the instance's memory limit is warned of as
/// the config loads, naming the filter and both settings, given or the
/// filter's default; one below it is not. `check` loads the filters as
/// `run` and `serve` do.
#[test]
fn a_state_budget_the_memory_limit_cannot_hold_is_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("w.toml");
    let warnings = |memory_limit_mib: u32, filters: &str| {
        std::fs::write(
            &config,
            format!("[engine]\nmemory_limit_mib = {memory_limit_mib}\n{filters}"),
        )
        .unwrap();
        let out = Command::new(binary())
            .args(["check", config.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (stderr.lines())
            .filter(|l| l.contains("max_state_mib"))
            .map(str::to_owned)
            .collect::<Vec<String>>()
    };
    let given = "[[pipelines.p.filters]]\nfilter = \"anomaly\"\n\
                 config = { rate = {}, max_state_mib = 16 }\n\
                 [[pipelines.p.filters]]\nfilter = \"templates\"\nconfig = { max_state_mib = 8 }\n";
    let warned = warnings(16, given);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains(
            "filter `anomaly`: max_state_mib = 16 is more than half engine.memory_limit_mib (16)"
        ),
        "{warned:?}"
    );
    // Past half the limit is warned of, half itself is not: a checkpoint's
    // snapshot is made beside the state.
    let state_of = |mib: u32| {
        format!(
            "[[pipelines.p.filters]]\nfilter = \"anomaly\"\n\
             config = {{ rate = {{}}, max_state_mib = {mib} }}\n"
        )
    };
    assert_eq!(warnings(16, &state_of(9)).len(), 1);
    assert!(warnings(16, &state_of(8)).is_empty());
    // A value the filter refuses is refused, not warned of first.
    std::fs::write(
        &config,
        "[[pipelines.p.filters]]\nfilter = \"templates\"\nconfig = { max_state_mib = 4097 }\n",
    )
    .unwrap();
    let out = Command::new(binary())
        .args(["check", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("max_state_mib must be between 1 and 4096, not 4097")
            && !stderr.contains("is more than half"),
        "{stderr}"
    );
    // The defaults: anomaly's 32, templates' 16.
    let defaults = "[[pipelines.p.filters]]\nfilter = \"anomaly\"\nconfig = { rate = {} }\n\
                    [[pipelines.p.filters]]\nfilter = \"templates\"\n";
    let warned = warnings(32, defaults);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("max_state_mib = 32 (the filter's default) is more than half"),
        "{warned:?}"
    );
    assert!(warnings(64, defaults).is_empty());
    // A null, which templates takes for its default (JSON has one, TOML not).
    let out = Command::new(binary())
        .args(["run", "--memory-limit-mib", "16", "--filter"])
        .arg(r#"templates={"max_state_mib":null}"#)
        .arg("/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("max_state_mib = 16 (the filter's default) is more than half"),
        "{stderr}"
    );
}
