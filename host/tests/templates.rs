//! The `templates` filter through the real engine and the real sidecar, on
//! the ten Loghub sets: the module agrees with the native build, and a
//! restart in the middle of the stream (snapshot, new instance, restore)
//! gives every event the same template id, text, parameters and `new` flag
//! as an uninterrupted run.

mod support;

use serde_json::Value;
use support::server::Server;
use support::*;
use wasmstash::pipeline::Pipeline;
use wasmstash_filter_templates::Templates;
use wasmstash_sdk::NativeFilter;

const DATASETS: [&str; 10] = [
    "HDFS",
    "Hadoop",
    "Spark",
    "Zookeeper",
    "HPC",
    "Linux",
    "Apache",
    "OpenSSH",
    "Windows",
    "Thunderbird",
];

/// The raw lines of all ten sets, one after the other, as `message` events.
fn loghub_events() -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    for dataset in DATASETS {
        let path = shared_data().join(format!("loghub/{dataset}/{dataset}_2k.log"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        events.extend(
            text.lines()
                .map(|l| wasmstash::input::line_event(l.as_bytes()).into_text()),
        );
    }
    assert_eq!(events.len(), 20_000);
    events
}

/// What the filter wrote on each event, from an uninterrupted native run.
fn expected(events: &[Vec<u8>]) -> Vec<Value> {
    let mut filter = NativeFilter::<Templates>::new(b"{}").unwrap();
    let mut out = Vec::new();
    for chunk in events.chunks(125) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        for outcome in filter.process_events(&refs) {
            out.push(template_of(&outcome.into_value()));
        }
    }
    out
}

fn template_of(event: &Value) -> Value {
    let template = event["wasmstash"]["template"].clone();
    assert!(template["id"].is_string(), "no template on {event}");
    template
}

fn run(pipeline: &mut Pipeline, events: &[Vec<u8>]) -> Vec<Value> {
    events
        .chunks(125)
        .flat_map(|chunk| as_json(pipeline.process(checked(chunk))))
        .map(|event| template_of(&event))
        .collect()
}

#[test]
fn restart_mid_stream_keeps_ids_and_templates_in_the_engine() {
    let events = loghub_events();
    let want = expected(&events);
    let engine = data_engine();
    let module = load(&engine, "templates", &built_module("templates"), "{}");

    let mut whole = pipeline(module.clone());
    assert_eq!(
        run(&mut whole, &events),
        want,
        "module and native build differ"
    );

    let half = events.len() / 2;
    let mut first = pipeline(module.clone());
    let mut got = run(&mut first, &events[..half]);
    let state = first.stages_mut()[0]
        .snapshot()
        .unwrap()
        .expect("templates keeps state");
    let mut second = pipeline(module);
    second.stages_mut()[0].restore(state).unwrap();
    got.extend(run(&mut second, &events[half..]));
    assert_eq!(got.len(), want.len());
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "event {i} differs after the restart");
    }
    let new_after_restart = got[half..].iter().filter(|t| t["new"] == true).count();
    assert!(new_after_restart > 0 && new_after_restart < half / 10);
}

/// A sidecar config in `dir` whose `system` pipeline (templates, one
/// worker) keeps its state in `dir/state`; returns both paths.
fn sidecar_with_state(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let state = dir.join("state");
    let config = dir.join("wasmstash.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nwatch = false\nworkers = 1\nstate_dir = \"{}\"\n\n\
             [[pipelines.system.filters]]\nfilter = \"templates\"\n",
            state.display()
        ),
    )
    .unwrap();
    (config, state)
}

#[test]
fn sidecar_restart_restores_templates_from_the_state_dir() {
    let events = loghub_events();
    let want = expected(&events);
    let dir = tempfile::tempdir().unwrap();
    let (config, state) = sidecar_with_state(dir.path());
    let post_all = |server: &Server, events: &[Vec<u8>]| -> Vec<Value> {
        let mut out = Vec::new();
        for chunk in events.chunks(500) {
            let body: Vec<u8> = chunk
                .iter()
                .flat_map(|e| e.iter().copied().chain([b'\n']))
                .collect();
            let response = server.post("/v1/pipelines/system/batch", &body);
            assert_eq!(response.status, 200, "{}", response.text());
            for line in response.text().lines() {
                let result: Value = serde_json::from_str(line).unwrap();
                out.push(template_of(&result["event"]));
            }
        }
        out
    };
    let half = 9_000; // not on a set boundary: the restart lands inside Linux
    let server = Server::start(&config, &[]);
    let mut got = post_all(&server, &events[..half]);
    server.stop();
    assert!(state.join("system/templates.state").is_file());
    let server = Server::start(&config, &[]);
    got.extend(post_all(&server, &events[half..]));
    server.stop();
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "event {i} differs after the sidecar restarted");
    }
}

/// A state directory that cannot be used fails the start (`serve` and
/// `run`), before any event is read; one that stops being usable while the
/// sidecar runs makes it exit 1 at shutdown instead of reporting the state
/// saved.
#[test]
fn state_that_cannot_be_saved_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (config, state) = sidecar_with_state(dir.path());
    let server = Server::start(&config, &[]);
    let response = server.post(
        "/v1/pipelines/system/event",
        br#"{"message":"disk 3 full"}"#,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    std::fs::remove_dir_all(&state).unwrap();
    std::fs::write(&state, "a file where the directory was").unwrap();
    assert_eq!(server.stop_with_status().code(), Some(1));

    let serve = std::process::Command::new(support::server::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert_eq!(serve.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("[server] state_dir"), "{stderr}");
    assert!(serve.stdout.is_empty(), "it listened anyway");

    let mut run = std::process::Command::new(support::server::binary())
        .args(["run", "--filter", "templates", "--state-dir"])
        .arg(&state)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The input is never closed: the run must fail before reading it.
    let _stdin = run.stdin.take();
    wait_exit(
        &mut run,
        std::time::Duration::from_secs(20),
        "run waited for input with an unusable --state-dir",
    );
    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--state-dir"), "{stderr}");
}
