//! The same filter, built natively and as WebAssembly, gives byte-identical
//! results on the real Apache access log.

mod support;

use serde_json::json;
use support::identical::{assert_identical, assert_identical_on};
use support::*;
use wasmstash_filter_grok::Grok;
use wasmstash_filter_json::Json;
use wasmstash_filter_mutate::Mutate;

#[test]
fn mutate_is_identical_natively_and_in_wasm() {
    let events: Vec<Vec<u8>> = apache_lines()
        .iter()
        .map(|l| wasmstash::input::line_event(l.as_bytes()).into_text())
        .collect();
    let config = json!({
        "copy": {"message": "[event][original]"},
        "uppercase": ["message"],
        "add_field": {"[event][dataset]": "apache.access", "[labels][first]": "%{[event][original]}"},
        "add_tag": ["access"],
    });
    let changed = assert_identical::<Mutate>("mutate", &config.to_string(), &events);
    assert_eq!(changed, 10_000);
    // Case conversion has SIMD paths of its own in each build.
    let lowercase = json!({"lowercase": ["message"]}).to_string();
    let changed = assert_identical::<Mutate>("mutate", &lowercase, &events);
    assert!(changed > 9_000, "most lines have capitals: {changed}");
}

#[test]
fn json_is_identical_natively_and_in_wasm() {
    // Every line as a JSON document inside `message`, and every tenth line raw
    // (not JSON), so both the parse and the failure path are compared.
    let events: Vec<Vec<u8>> = apache_lines()
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let message = if i % 10 == 0 {
                line.clone()
            } else {
                json!({"line": line, "n": i, "bytes": line.len(), "nested": {"ok": true}})
                    .to_string()
            };
            serde_json::to_vec(&json!({"message": message, "host": {"name": "web-1"}})).unwrap()
        })
        .collect();
    let changed =
        assert_identical::<Json>("json", r#"{"source":"message","target":"doc"}"#, &events);
    assert_eq!(
        changed, 10_000,
        "parsed events gain `doc`, the rest gain a tag"
    );
    assert_identical::<Json>("json", r#"{"source":"message"}"#, &events);
}

#[test]
fn dissect_is_identical_natively_and_in_wasm() {
    let events: Vec<Vec<u8>> = apache_lines()
        .iter()
        .map(|l| wasmstash::input::line_event(l.as_bytes()).into_text())
        .collect();
    let config = json!({
        "mapping": {"message": wasmstash_filter_dissect::APACHE_COMBINED_ECS},
        "convert_datatype": {"[http][response][status_code]": "int"},
    });
    let changed = assert_identical::<wasmstash_filter_dissect::Dissect>(
        "dissect",
        &config.to_string(),
        &events,
    );
    assert_eq!(changed, 10_000, "9,999 dissected and one tagged");
}

#[test]
fn kv_is_identical_natively_and_in_wasm() {
    let path = shared_data().join("loghub/OpenSSH/OpenSSH_2k.log");
    let text = std::fs::read_to_string(&path).unwrap();
    let events: Vec<Vec<u8>> = text
        .lines()
        .map(|l| wasmstash::input::line_event(l.as_bytes()).into_text())
        .collect();
    for config in [
        json!({"whitespace": "strict", "target": "kv"}),
        json!({"recursive": true, "trim_value": ",;", "max_keys": 4}),
    ] {
        assert_identical::<wasmstash_filter_kv::Kv>("kv", &config.to_string(), &events);
    }
}

#[test]
fn grok_is_identical_natively_and_in_wasm_on_the_access_log() {
    let events: Vec<Vec<u8>> = apache_lines()
        .iter()
        .map(|l| wasmstash::input::line_event(l.as_bytes()).into_text())
        .collect();
    for ecs in ["disabled", "v8"] {
        let config =
            json!({"match": {"message": "%{COMBINEDAPACHELOG}"}, "ecs_compatibility": ecs});
        let changed = assert_identical::<Grok>("grok", &config.to_string(), &events);
        assert_eq!(
            changed, 10_000,
            "{ecs}: every event gets fields or a failure tag"
        );
    }
}

/// Every fourth case of the grok compatibility corpus (Logstash's pattern
/// specs) gives the same event in WebAssembly as natively, where the corpus
/// test judges it.
#[test]
fn grok_corpus_cases_are_identical_natively_and_in_wasm() {
    let path = shared_data().join("grok-cases/dev.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let engine = wasmstash::engine::Engine::new(wasmstash::engine::EngineSettings {
        call_timeout: Some(std::time::Duration::from_secs(5)),
        memory_limit_bytes: 64 << 20,
        cache_dir: Some(cache.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let mut compared = 0;
    for case in cases.iter().step_by(4) {
        let mut config = json!({"match": {"message": case["pattern"]}, "ecs_compatibility": case["ecs_compatibility"]});
        if let Some(serde_json::Value::Object(options)) = case.get("grok_options") {
            for (k, v) in options {
                config[k] = v.clone();
            }
        }
        let event = json!({"message": case["message"], "@version": "1"});
        assert_identical_on::<Grok>(
            &engine,
            "grok",
            &config.to_string(),
            &[event.to_string().into_bytes()],
        );
        compared += 1;
    }
    assert!(compared >= 75, "only {compared} cases compared");
}

/// Events as Filebeat ships them, a third of them pretty-printed, through
/// grok and then date. The engine hands the modules keyed batches (each
/// event with its top-level key spans) while the native build finds the
/// members itself, so this holds the two ways of splitting an event to the
/// same results, on events with many members, nesting and whitespace.
#[test]
fn grok_and_date_are_identical_on_filebeat_shaped_events() {
    let events = filebeat_events(3, 3, 0);
    let grok = json!({"match": {"message": "%{COMBINEDAPACHELOG}"}, "ecs_compatibility": "v8"});
    let changed = assert_identical::<Grok>("grok", &grok.to_string(), &events);
    assert_eq!(changed, events.len(), "fields or a failure tag on each");

    // date's input is grok's output: its `timestamp` is the last member.
    let grokked = run_native::<Grok>(&grok.to_string(), &events);
    let date = json!({"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]});
    let changed =
        assert_identical::<wasmstash_filter_date::Date>("date", &date.to_string(), &grokked);
    // Unchanged: the line grok could not parse (no `timestamp`), and lines
    // whose time is the `@timestamp` Filebeat's metadata already holds.
    assert!(changed + 5 > grokked.len(), "only {changed} dated");
}

/// A pipeline of modules, each taking the stage before's results as keyed
/// batches, gives what the native builds give run one after another on
/// plain batches. The spans a stage hands on come from `extended` results
/// added in place (grok, mutate's added field) and from `replaced` ones
/// checked in part (mutate's rename, date's new `@timestamp`); the events
/// have escaped keys and more top-level keys than the host keeps inline.
#[test]
fn a_pipeline_of_modules_matches_the_native_builds_run_in_turn() {
    let events = filebeat_events(7, 2, 12);
    let stages = [
        (
            "grok",
            json!({"match": {"message": "%{COMBINEDAPACHELOG}"}, "ecs_compatibility": "v8"}),
        ),
        (
            "mutate",
            json!({"rename": {"agent": "[beat][agent]"}, "add_tag": ["renamed"]}),
        ),
        (
            "date",
            json!({"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]}),
        ),
        (
            "mutate",
            json!({"add_field": {"[labels][\"quoted\"]": "%{[http][request][method]}"}}),
        ),
    ];

    // The native builds get the text the host's check hands a module (line
    // breaks in whitespace made spaces), as the first module does.
    let mut native: Vec<Vec<u8>> = (checked(&events).into_iter())
        .map(wasmstash::event_check::CheckedEvent::into_text)
        .collect();
    for (stem, config) in &stages {
        let config = config.to_string();
        native = match *stem {
            "grok" => run_native::<Grok>(&config, &native),
            "mutate" => run_native::<Mutate>(&config, &native),
            _ => run_native::<wasmstash_filter_date::Date>(&config, &native),
        };
    }

    let engine = data_engine();
    let modules = (stages.iter())
        .map(|(stem, config)| load(&engine, stem, &built_module(stem), &config.to_string()))
        .collect();
    let mut pipeline = wasmstash::pipeline::Pipeline::new("chain", modules);
    let mut in_wasm = Vec::new();
    for chunk in events.chunks(125) {
        for result in pipeline.process(checked(chunk)) {
            match result {
                wasmstash::pipeline::EventResult::Event(event) => in_wasm.push(event),
                other => panic!("every event is kept, got {other:?}"),
            }
        }
    }
    assert_eq!(in_wasm.len(), native.len());
    for (wasm, native) in in_wasm.iter().zip(&native) {
        assert_eq!(
            String::from_utf8_lossy(wasm),
            String::from_utf8_lossy(native)
        );
    }
    let renamed = String::from_utf8_lossy(&in_wasm[0]);
    assert!(
        renamed.contains(r#""beat":{"agent""#)
            && renamed.contains(r#""labels":{"\"quoted\"":"GET"}"#),
        "{renamed}"
    );
}

/// `events` through the native build in batches of 125, every one kept.
fn run_native<F: wasmstash_sdk::Filter>(config: &str, events: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut filter = wasmstash_sdk::NativeFilter::<F>::new(config.as_bytes()).unwrap();
    let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    refs.chunks(125)
        .flat_map(|chunk| filter.process_events(chunk))
        .map(|outcome| match outcome {
            wasmstash_sdk::Outcome::Kept(event) => event,
            other => panic!("every event is kept, got {other:?}"),
        })
        .collect()
}

/// Every `step`th access line as Filebeat ships it, with `extra` more
/// top-level keys that need escapes; every `pretty`th event is
/// pretty-printed.
fn filebeat_events(step: usize, pretty: usize, extra: usize) -> Vec<Vec<u8>> {
    let lines = apache_lines();
    let shipped = lines.iter().enumerate().step_by(step);
    (shipped.enumerate())
        .map(|(n, (i, line))| {
            let mut event = filebeat_event(i, line);
            for k in 0..extra {
                event[format!("extra \"{k}\"")] = json!(k);
            }
            match n % pretty {
                0 => serde_json::to_vec_pretty(&event),
                _ => serde_json::to_vec(&event),
            }
            .unwrap()
        })
        .collect()
}
