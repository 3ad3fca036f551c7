//! Events that used to break the answer they are part of, through the real
//! binary: an event whose failure record would nest its values past the
//! limit (a worker panicked, the request failed with a 500 and `wasmstash
//! run` lost every event), and filter output or client input with raw line
//! breaks in its whitespace (one event became several NDJSON lines).

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::path::Path;

use binary::events_of;
use serde_json::{Value, json};
use support::constant_result_wat;
use support::server::{Server, write_config};

/// `levels` arrays one inside another: at 126, a member of an event is as
/// deep as the check allows (the event's own object is one level more).
fn nested(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

/// Members added with line breaks all through their whitespace.
const ADDED: &[u8] = b"\n\"seen_by\" :\r\n\"wat\",\n  \"n\": [1,\r\n2]\n";
/// A whole event, pretty-printed, with `\r\n` line ends.
const REPLACED: &[u8] =
    b"{\r\n  \"message\": \"one\\nline\",\r\n  \"n\": {\r\n    \"m\": 2\r\n  }\r\n}\r\n";

/// The pipelines below, with the two WAT modules written to `dir`.
fn config(dir: &Path) -> std::path::PathBuf {
    let added = dir.join("added.wat");
    let replaced = dir.join("replaced.wat");
    std::fs::write(&added, constant_result_wat(4, ADDED)).unwrap();
    std::fs::write(&replaced, constant_result_wat(1, REPLACED)).unwrap();
    let text = format!(
        r#"
[engine]
call_timeout_ms = 2000
memory_limit_mib = 32

[server]
watch = false

[[pipelines.app.filters]]
filter = "json"
config = {{ source = "message", target = "app" }}

[[pipelines.chaos.filters]]
module = "{chaos}"
config = {{ panic_on = "BAD" }}

[[pipelines.added.filters]]
module = "{added}"

[[pipelines.replaced.filters]]
module = "{replaced}"

[[pipelines.access.filters]]
filter = "mutate"
config = {{ add_field = {{ "[event][dataset]" = "apache.access" }} }}
"#,
        chaos = support::server::chaos_path(),
        added = added.display(),
        replaced = replaced.display(),
    );
    write_config(dir, &text)
}

fn ndjson(events: &[String]) -> Vec<u8> {
    events
        .iter()
        .flat_map(|e| format!("{e}\n").into_bytes())
        .collect()
}

/// A batch answer's lines, each parsed, checked to be one per event.
fn answer_lines(body: &[u8], events: usize) -> Vec<Value> {
    let text = std::str::from_utf8(body).unwrap();
    assert!(!text.contains('\r'), "a raw \\r in {text:?}");
    let lines: Vec<Value> = (text.lines())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    assert_eq!(lines.len(), events, "{text}");
    lines
}

/// The one failure record on `event`, which must be tagged `tag`.
fn failure_of<'a>(event: &'a Value, tag: &str) -> &'a Value {
    let tags = event["tags"].as_array().unwrap();
    assert_eq!(tags.iter().filter(|t| *t == tag).count(), 1, "{event}");
    let records = event["wasmstash"]["failures"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{event}");
    assert!(!records[0]["reason"].as_str().unwrap().is_empty());
    &records[0]
}

/// An event whose `tags` is a list of lists as deep as allowed, which
/// Logstash's event would not hold there.
fn deep_tags_event(n: usize) -> String {
    format!(r#"{{"message":"not json","n":{n},"tags":{}}}"#, nested(126))
}

/// Checks the result for [`deep_tags_event`]: as the event came in, its
/// `tags` moved into `_tags` as Logstash moves it, where, one level deeper
/// than allowed, it is kept as its JSON text; the json filter then tagged
/// the event as any other whose text is no JSON, with no failure of its own.
fn assert_deep_tags_kept(event: &Value, n: usize) {
    assert_eq!(event["n"], n);
    assert_eq!(event["message"], "not json");
    assert_eq!(event["_tags"], json!([nested(126)]));
    assert_eq!(
        event["tags"],
        json!(["_tagsparsefailure", "_jsonparsefailure"]),
        "{event}"
    );
    assert!(event.get("wasmstash").is_none(), "{event}");
}

#[test]
fn values_that_would_nest_too_deep_pass_through_the_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(dir.path()), &[]);

    let answer = server.post("/v1/pipelines/app/event", deep_tags_event(1).as_bytes());
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_deep_tags_kept(&answer.json(), 1);

    // In a batch, the other lines are answered too, each once, in order.
    let batch = [
        r#"{"message":"{\"a\":1}","n":0}"#.to_owned(),
        deep_tags_event(1),
        r#"{"message":"{\"a\":2}","n":2}"#.to_owned(),
    ];
    let answer = server.post("/v1/pipelines/app/batch", &ndjson(&batch));
    assert_eq!(answer.status, 200, "{}", answer.text());
    let lines = answer_lines(&answer.body, 3);
    assert_eq!(lines[0]["event"]["app"]["a"], 1);
    assert_deep_tags_kept(&lines[1]["event"], 1);
    assert_eq!(lines[2]["event"]["app"]["a"], 2);

    // A client's own `wasmstash` that is not an object, as deep as allowed,
    // on an event a filter fails on: kept as text under `displaced`.
    let batch = [
        format!(r#"{{"message":"BAD","n":0,"wasmstash":{}}}"#, nested(126)),
        r#"{"message":"fine","n":1}"#.to_owned(),
        r#"{"message":"BAD","n":2,"wasmstash":"mine"}"#.to_owned(),
    ];
    let answer = server.post("/v1/pipelines/chaos/batch", &ndjson(&batch));
    assert_eq!(answer.status, 200, "{}", answer.text());
    let lines = answer_lines(&answer.body, 3);
    let failed = &lines[0]["event"];
    assert_eq!(failed["n"], 0);
    assert_eq!(failure_of(failed, "_wasmfilter_failure")["kind"], "trap");
    assert_eq!(failed["wasmstash"]["displaced"], nested(126));
    assert_eq!(lines[1]["event"]["n"], 1);
    assert_eq!(lines[2]["event"]["wasmstash"]["displaced"], "mine");
    server.stop();
}

#[test]
fn values_that_would_nest_too_deep_pass_through_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let input = ndjson(&[
        r#"{"message":"{\"a\":1}","n":0}"#.to_owned(),
        deep_tags_event(1),
        r#"{"message":"{\"a\":2}","n":2}"#.to_owned(),
    ]);
    let config = config.to_str().unwrap();
    let args = ["run", "-c", config, "-p", "app", "--format", "ndjson"];
    let out = binary::wasmstash(&args, &input);
    assert!(out.status.success(), "{}", binary::text(&out.stderr));
    let events = events_of(&out.stdout);
    assert_eq!(events.len(), 3, "{}", binary::text(&out.stdout));
    assert_eq!(events[0]["app"]["a"], 1);
    assert_deep_tags_kept(&events[1], 1);
    assert_eq!(events[2]["app"]["a"], 2);
}

#[test]
fn line_breaks_in_filter_output_leave_one_line_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(dir.path()), &[]);
    let batch: Vec<String> = (0..3).map(|n| format!(r#"{{"message":"m{n}"}}"#)).collect();

    let answer = server.post("/v1/pipelines/added/batch", &ndjson(&batch));
    assert_eq!(answer.status, 200, "{}", answer.text());
    for (n, line) in answer_lines(&answer.body, 3).iter().enumerate() {
        assert_eq!(line["event"]["message"], format!("m{n}"));
        assert_eq!(line["event"]["seen_by"], "wat");
        assert_eq!(line["event"]["n"], json!([1, 2]));
    }

    let answer = server.post("/v1/pipelines/replaced/batch", &ndjson(&batch));
    assert_eq!(answer.status, 200, "{}", answer.text());
    for line in answer_lines(&answer.body, 3) {
        assert_eq!(
            line["event"],
            json!({"message": "one\nline", "n": {"m": 2}})
        );
    }

    // A client's own line breaks: a pretty-printed single event, and a `\r`
    // between the members of a batch line.
    let pretty = b"{\n  \"message\": \"GET /\",\r\n  \"n\": 1\n}\n";
    let answer = server.post("/v1/pipelines/access/event", pretty);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let text = answer.text();
    assert!(!text.contains(['\n', '\r']), "{text:?}");
    assert_eq!(answer.json()["event"]["dataset"], "apache.access");
    let batch = b"{\"message\":\"a\",\r\"n\":1}\n{\"message\":\"b\"}\n";
    let answer = server.post("/v1/pipelines/access/batch", batch);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let lines = answer_lines(&answer.body, 2);
    assert_eq!(lines[0]["event"]["n"], 1);
    assert_eq!(lines[1]["event"]["message"], "b");
    server.stop();
}

#[test]
fn line_breaks_in_filter_output_leave_one_line_per_event_in_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let config = config.to_str().unwrap();
    for pipeline in ["added", "replaced"] {
        let args = ["run", "-c", config, "-p", pipeline, "--format", "lines"];
        let out = binary::wasmstash(&args, b"a\nb\nc\n");
        assert!(out.status.success(), "{}", binary::text(&out.stderr));
        assert!(!out.stdout.contains(&b'\r'));
        let events = events_of(&out.stdout);
        assert_eq!(events.len(), 3, "{}", binary::text(&out.stdout));
        for (event, message) in events.iter().zip(["a", "b", "c"]) {
            if pipeline == "added" {
                assert_eq!(
                    (&event["message"], &event["seen_by"]),
                    (&json!(message), &json!("wat"))
                );
            } else {
                assert_eq!(event, &json!({"message": "one\nline", "n": {"m": 2}}));
            }
        }
    }
}

/// `wasmstash run` of the chaos filter with `chaos` (its config, in TOML)
/// under `[engine]` settings `engine`, over `input` with `args`; its events
/// and the last line of its summary, once it has succeeded.
fn run_chaos(engine: &str, chaos: &str, args: &[&str], input: &str) -> (Vec<Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[engine]\n{engine}\n[[pipelines.p.filters]]\nmodule = {:?}\nconfig = {{ {chaos} }}\n",
            support::server::chaos_path()
        ),
    );
    let run = [&["run", "-c", config.to_str().unwrap()], args, &["-"]].concat();
    let out = binary::wasmstash_in(dir.path(), &run, input.as_bytes());
    let stderr = binary::text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary = stderr.lines().last().unwrap().to_owned();
    (events_of(&out.stdout), summary)
}

/// `run`'s summary says what kinds of failure its records hold, not only
/// their tags: `_wasmfilter_timeout` is both an event that ran past its
/// deadline and one the replay left unrun when its budget ran out, and
/// only the kind (`timeout`, `not_run`) tells them apart.
#[test]
fn the_run_summary_counts_failure_records_by_kind() {
    let lines: String = std::iter::once("fine\n".to_owned())
        .chain((0..20).map(|i| format!("SPIN {i}\n")))
        .collect();
    let (events, summary) = run_chaos(
        "call_timeout_ms = 250\nreplay_budget_ms = 1500",
        "loop_on = \"SPIN\"",
        &["--format", "lines"],
        &lines,
    );
    assert_eq!(events.len(), 21);
    let kinds = summary
        .split_once("tagged: _wasmfilter_timeout 20; failure records by kind: ")
        .unwrap_or_else(|| panic!("{summary}"))
        .1;
    let count = |kind: &str| -> u64 {
        kinds
            .split_once(&format!("{kind} "))
            .and_then(|(_, rest)| rest.split([',', ';']).next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {kind} in {summary}"))
    };
    assert!(count("timeout") >= 1 && count("not_run") >= 1, "{summary}");
    assert_eq!(count("timeout") + count("not_run"), 20, "{summary}");
}

/// The summary finds the failure tags of an event whose `tags` key came
/// written with an escape (`"t\u0061gs"`): the event is tagged all the
/// same, and the summary said "no failures".
#[test]
fn the_run_summary_counts_tags_under_an_escaped_key() {
    let input = "{\"t\\u0061gs\":[],\"message\":\"BAD\"}\n{\"message\":\"fine\"}\n";
    let (events, summary) = run_chaos("", "panic_on = \"BAD\"", &[], input);
    assert_eq!(events[0]["tags"], json!(["_wasmfilter_failure"]));
    assert!(
        summary.contains("tagged: _wasmfilter_failure 1; failure records by kind: trap 1"),
        "{summary}"
    );
}

/// A failure record whose tag a later filter took away is still counted,
/// and an event that holds a tag twice counts once for it: the summary
/// said "no failures" over a record, and `_a 2` for one event.
#[test]
fn the_run_summary_counts_records_without_their_tag_and_events_per_tag() {
    let record = r#"{"message":"a","wasmstash":{"failures":[{"kind":"trap"}]}}"#;
    let twice = r#"{"message":"b","tags":["_a","_a"]}"#;
    let out = binary::wasmstash(
        &["run", "--filter", "mutate", "--format", "ndjson"],
        format!("{record}\n").as_bytes(),
    );
    let stderr = binary::text(&out.stderr);
    assert!(
        stderr.contains("failure records by kind: trap 1") && !stderr.contains("no failures"),
        "{stderr}"
    );
    let out = binary::wasmstash(
        &["run", "--filter", "mutate", "--format", "ndjson"],
        format!("{twice}\n").as_bytes(),
    );
    let stderr = binary::text(&out.stderr);
    assert!(stderr.contains("tagged: _a 1"), "{stderr}");
}

/// `--max-event-mib` overrides the config's `engine.max_event_mib`: a
/// changed event over it fails, kept as it came in, and one under it is
/// changed.
#[test]
fn max_event_mib_bounds_a_changed_event_in_a_run() {
    let line = "x".repeat(1_200_000);
    let input = format!("{line}\n");
    let upper = r#"mutate={"uppercase":["message"]}"#;
    let run = |mib: &str| {
        let args = [
            "run",
            "--filter",
            upper,
            "--format",
            "lines",
            "--max-event-mib",
            mib,
        ];
        let out = binary::wasmstash(&args, input.as_bytes());
        assert!(out.status.success(), "{}", binary::text(&out.stderr));
        events_of(&out.stdout).remove(0)
    };
    let refused = run("1");
    assert_eq!(refused["tags"], json!(["_wasmfilter_failure"]));
    assert_eq!(refused["message"].as_str().unwrap(), line);
    let changed = run("2");
    assert!(changed.get("tags").is_none(), "{}", changed["tags"]);
    assert_eq!(changed["message"].as_str().unwrap(), line.to_uppercase());
}

/// A table grow past the instance's limit is answered -1, as WebAssembly
/// says; a module that traps on that was told only "unreachable". Its
/// reason now names the limit, as a refused memory grow's does.
#[test]
fn a_trap_after_a_refused_table_grow_names_the_limit() {
    let process = "(if (i32.eq (table.grow $t (ref.null func) (i32.const 1000000)) (i32.const -1))
          (then unreachable))
        (i64.const 0)";
    let wat = support::wat_filter(process).replacen(
        "(memory (export \"memory\") 2)",
        "(memory (export \"memory\") 2)\n  (table $t 1 funcref)",
        1,
    );
    let module = support::load(&support::strict_engine(), "tables", wat.as_bytes(), "{}");
    let out = support::as_json(support::pipeline(module).process(support::message_events(&["m"])));
    let reason = failure_of(&out[0], "_wasmfilter_failure")["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.starts_with("trap: wasm `unreachable` instruction executed, after a table grow was refused: its tables would hold")
            && reason.contains("past the limit of 100000 per instance"),
        "{reason}"
    );
}
