//! `wasmstash serve`'s life cycle, on the real binary and a loopback port:
//! what a load or reload reads (a file saved while pipelines compile is
//! applied next; `[server]` keeps its startup values), and how it stops
//! (the drain waits for a call and its replay, says when it cuts requests
//! off, and a second signal ends it at once).
//!
//! These tests read the sidecar's log, so they start it themselves (with
//! the helpers' `Server` for everything after).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::server::{Server, binary, write_config};
use support::{ALL_UNCHANGED, RETURN_OUTPUT_AT_2048, eventually, wait_exit, wat_filter};

const TOKEN: &str = "serve-lifecycle-test-token";

/// Bounds on waits that only keep a broken build from hanging the suite.
const HANG: Duration = Duration::from_secs(60);

/// Everything the sidecar has written to stderr so far. A line the sidecar
/// has written may not be here yet (a thread copies it from the pipe), so a
/// test that looks for what an action logged waits for it: with
/// [`Log::wait_for`], or [`Log::closed`] once the process has exited.
#[derive(Clone, Default)]
struct Log(Arc<(Mutex<Stderr>, Condvar)>);

#[derive(Default)]
struct Stderr {
    text: String,
    closed: bool,
}

impl Log {
    fn text(&self) -> String {
        self.0.0.lock().unwrap().text.clone()
    }

    /// Waits until the log holds `needle` (for `limit` at most, only
    /// against a hang); returns the log.
    fn wait_for(&self, needle: &str, limit: Duration) -> String {
        self.wait_until(limit, &format!("no {needle:?}"), |log| {
            log.text.contains(needle)
        })
    }

    /// The whole log, once the process has exited and its stderr is read to
    /// the end; what a test asserts is absent is only absent then.
    fn closed(&self) -> String {
        self.wait_until(HANG, "stderr never closed", |log| log.closed)
    }

    fn wait_until(&self, limit: Duration, what: &str, done: impl Fn(&Stderr) -> bool) -> String {
        let (log, grown) = &*self.0;
        let deadline = Instant::now() + limit;
        let mut log = log.lock().unwrap();
        while !done(&log) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "{what} in the log:\n{}", log.text);
            log = grown.wait_timeout(log, left).unwrap().0;
        }
        log.text.clone()
    }

    fn append(&self, line: Option<&str>) {
        let (log, grown) = &*self.0;
        let mut log = log.lock().unwrap();
        match line {
            Some(line) => {
                log.text.push_str(line);
                log.text.push('\n');
            }
            None => log.closed = true,
        }
        grown.notify_all();
    }
}

/// Starts `wasmstash serve` on `config` with compiled modules cached in
/// `cache`, keeping its log (info and up); returns once it listens, which is
/// before its pipelines are loaded.
fn spawn(config: &Path, cache: &Path) -> (Server, Log) {
    spawn_on("127.0.0.1:0", config, cache)
}

/// [`spawn`] on another address.
fn spawn_on(listen: &str, config: &Path, cache: &Path) -> (Server, Log) {
    let mut child = Command::new(binary())
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(["--listen", listen])
        .env("WASMSTASH_CACHE_DIR", cache)
        .env("WASMSTASH_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "wasmstash=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting wasmstash serve");
    let log = Log::default();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in stderr.lines() {
            let Ok(line) = line else { break };
            sink.append(Some(&line));
        }
        sink.append(None);
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let Some(addr) = first.trim().strip_prefix("wasmstash: listening on http://") else {
        let _ = child.kill();
        panic!("unexpected first line {first:?}; log:\n{}", log.text());
    };
    let addr = addr.parse().unwrap();
    (Server { child, addr }, log)
}

/// The pipelines /readyz names once ready (waiting for that, against a hang).
fn ready(server: &Server) -> Vec<String> {
    let deadline = Instant::now() + HANG;
    loop {
        let response = server.get("/readyz");
        if response.status == 200 {
            return serde_json::from_value(response.json()["pipelines"].clone()).unwrap();
        }
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn shared_cache() -> std::path::PathBuf {
    std::env::temp_dir().join("wasmstash-test-cache")
}

/// Built-in filters that take Cranelift a few seconds together, compiled
/// into an empty cache: the time during which a test edits files.
const SLOW_TO_COMPILE: &str = r#"
[[pipelines.a.filters]]
filter = "grok"
config = { match = { message = "%{COMBINEDAPACHELOG}" } }
[[pipelines.a.filters]]
filter = "templates"
[[pipelines.a.filters]]
filter = "anomaly"
config = { rate = {} }
[[pipelines.a.filters]]
filter = "syslog"
[[pipelines.a.filters]]
filter = "kv"
[[pipelines.a.filters]]
filter = "date"
config = { match = ["timestamp", "ISO8601"] }
"#;

/// Waits until the engine starts compiling into the empty `cache` (it makes
/// the directory then, after reading the config), runs `edit`, and checks
/// that the pipelines were still loading afterwards.
fn edit_while_loading(server: &Server, log: &Log, cache: &Path, edit: impl FnOnce()) {
    eventually("the engine never started compiling", || cache.exists());
    edit();
    let status = server.get("/readyz").status;
    assert_eq!(
        status,
        503,
        "the pipelines finished loading before the edit, so this test shows nothing; log:\n{}",
        log.text()
    );
}

/// Appends a pipeline `b`, which tags its events "b", to `config`.
fn add_pipeline_b(config: &Path) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(config)
        .unwrap();
    file.write_all(
        b"\n[[pipelines.b.filters]]\nfilter = \"mutate\"\nconfig = { add_tag = [\"b\"] }\n",
    )
    .unwrap();
}

/// Listening beyond loopback is allowed (a container network needs it),
/// and said: the pipeline endpoints take no token.
#[test]
fn listening_beyond_this_machine_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[[pipelines.a.filters]]\nfilter = \"mutate\"\n");
    let warning = "reaches beyond this machine";
    let (server, log) = spawn_on("0.0.0.0:0", &config, &shared_cache());
    log.wait_for(warning, HANG);
    // Stopped once ready: a SIGTERM before its handler is set would kill it.
    ready(&server);
    server.stop();
    let (server, log) = spawn(&config, &shared_cache());
    ready(&server);
    server.stop();
    let log = log.closed();
    assert!(!log.contains(warning), "{log}");
}

#[test]
fn a_config_edit_saved_while_pipelines_load_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let config = write_config(
        dir.path(),
        &format!("[server]\nwatch_interval_ms = 100\n{SLOW_TO_COMPILE}"),
    );
    let (server, log) = spawn(&config, &cache);
    edit_while_loading(&server, &log, &cache, || {
        add_pipeline_b(&config);
    });
    ready(&server);
    eventually("the pipeline added while loading was never loaded", || {
        ready(&server) == ["a", "b"]
    });
    let event = server.post("/v1/pipelines/b/event", br#"{"message":"x"}"#);
    assert_eq!(event.json()["tags"], json!(["b"]));
    server.stop();
}

/// A SIGHUP's default action ends a process, and the handler that makes it
/// a reload was installed only once the first set was live: a reload asked
/// while modules compiled (for seconds, from an empty cache) killed the
/// sidecar. Now it is caught from the start and applied after the load.
#[test]
fn a_sighup_while_pipelines_load_reloads_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let config = write_config(
        dir.path(),
        &format!("[server]\nwatch = false\n{SLOW_TO_COMPILE}"),
    );
    let (server, log) = spawn(&config, &cache);
    edit_while_loading(&server, &log, &cache, || {
        add_pipeline_b(&config);
        server.signal("HUP");
    });
    eventually("the reload asked while loading was never applied", || {
        server.get("/readyz").status == 200 && ready(&server) == ["a", "b"]
    });
    server.stop();
}

#[test]
fn a_module_replaced_while_pipelines_load_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let module = dir.path().join("m.wat");
    let unchanged = wat_filter(&format!("{ALL_UNCHANGED}\n{RETURN_OUTPUT_AT_2048}"));
    std::fs::write(&module, &unchanged).unwrap();
    // The module is read and compiled first; the built-ins after it.
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nwatch_interval_ms = 100\n[[pipelines.a.filters]]\nmodule = \"m.wat\"\n{SLOW_TO_COMPILE}"
        ),
    );
    let (server, log) = spawn(&config, &cache);
    edit_while_loading(&server, &log, &cache, || {
        let replaced = unchanged.replacen("(module", "(module (global i32 (i32.const 7))", 1);
        std::fs::write(&module, replaced).unwrap();
    });
    ready(&server);
    let module_sha = || {
        let listing = server
            .request(
                "GET",
                "/v1/admin/pipelines",
                &[("Authorization", &format!("Bearer {TOKEN}"))],
                b"",
            )
            .json();
        listing["pipelines"][0]["filters"][0]["sha256"].clone()
    };
    let loaded_first = module_sha();
    eventually("the module replaced while loading was never loaded", || {
        module_sha() != loaded_first
    });
    log.wait_for("reloaded (files changed)", HANG);
    server.stop();
}

#[test]
fn a_reload_keeps_the_server_settings_it_started_with_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let pipelines =
        "[[pipelines.p.filters]]\nfilter = \"mutate\"\nconfig = { add_tag = [\"p\"] }\n";
    let config = write_config(
        dir.path(),
        &format!("[server]\nwatch = false\nworkers = 1\nmax_batch_events = 4\n{pipelines}"),
    );
    let (server, log) = spawn(&config, &shared_cache());
    ready(&server);
    std::fs::write(
        &config,
        format!(
            "[server]\nwatch = false\nworkers = 3\nmax_batch_events = 100\nqueue = 7\n{pipelines}{}",
            pipelines.replace("pipelines.p", "pipelines.q")
        ),
    )
    .unwrap();
    let auth = format!("Bearer {TOKEN}");
    let reload = server.request("POST", "/v1/admin/reload", &[("Authorization", &auth)], b"");
    assert_eq!(reload.status, 200, "{}", reload.text());
    // The pipelines changed; the workers and limits did not.
    assert_eq!(reload.json()["pipelines"], json!(["p", "q"]));
    let listing = server
        .request(
            "GET",
            "/v1/admin/pipelines",
            &[("Authorization", &auth)],
            b"",
        )
        .json();
    for pipeline in listing["pipelines"].as_array().unwrap() {
        assert_eq!(pipeline["workers"], 1, "{listing}");
    }
    let batch = server.post("/v1/pipelines/q/batch", &b"{}\n".repeat(5));
    assert_eq!(batch.status, 413, "{}", batch.text());
    let batch = server.post("/v1/pipelines/q/batch", &b"{}\n".repeat(4));
    assert_eq!(batch.status, 200, "{}", batch.text());
    let warning = log
        .wait_for("reload (admin request)", HANG)
        .lines()
        .find(|line| line.contains("reload (admin request)") && line.contains("WARN"))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no warning about [server]:\n{}", log.text()));
    assert!(
        warning.contains("max_batch_events, workers, queue") && warning.contains("restart"),
        "{warning}"
    );
    server.stop();
}

/// A pipeline whose filter runs to the deadline on every event of `LOOP`.
fn looping_config(dir: &Path, engine: &str, server: &str) -> std::path::PathBuf {
    let chaos = format!("{}/chaos.wasm", wasmstash::builtins::build_module_dir());
    write_config(
        dir,
        &format!(
            "[engine]\n{engine}\n[server]\nwatch = false\nworkers = 1\n{server}\n\
             [[pipelines.chaos.filters]]\nmodule = \"{chaos}\"\nconfig = {{ loop_on = \"LOOP\" }}\n"
        ),
    )
}

/// Posts a batch of `events` looping events on its own connection; the
/// raw answer (empty if the connection was closed without one).
fn post_looping_batch(server: &Server, events: usize) -> std::thread::JoinHandle<String> {
    let addr = server.addr;
    std::thread::spawn(move || {
        let body = "{\"message\":\"LOOP\"}\n".repeat(events);
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(HANG)).unwrap();
        write!(
            stream,
            "POST /v1/pipelines/chaos/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
}

/// The batch call failed on its deadline and its events are being replayed.
const REPLAYING: &str = "replaying one event at a time";

#[test]
fn sigterm_waits_for_a_batch_replayed_to_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    // Drain limit: 0.5 s queue + one stateful batch (25 x 0.2 s calls and
    // 4 x 0.3 s state calls before a failure, 1 s replay) + 2 s margin.
    let config = looping_config(
        dir.path(),
        "call_timeout_ms = 200\nstate_call_timeout_ms = 300\nreplay_budget_ms = 1000",
        "queue_timeout_ms = 500",
    );
    let (mut server, log) = spawn(&config, &shared_cache());
    ready(&server);
    let batch = post_looping_batch(&server, 5);
    log.wait_for(REPLAYING, HANG);
    server.signal("TERM");
    let status = wait_exit(&mut server.child, HANG, "serve did not stop after SIGTERM");
    assert!(status.success(), "{status}");
    let answer = batch.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "cut off: {answer:?}");
    let results: Vec<Value> = answer
        .split_once("\r\n\r\n")
        .unwrap()
        .1
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(results.len(), 5);
    for result in &results {
        assert_eq!(result["event"]["tags"], json!(["_wasmfilter_timeout"]));
    }
    let log = log.closed();
    assert!(log.contains("waiting up to 9.7 s"), "{log}");
    assert!(
        log.contains("every request in flight was answered") && !log.contains("cut off"),
        "{log}"
    );
}

#[test]
fn a_drain_that_runs_out_says_what_it_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    // The replay runs for 3 s; the drain ends after 1 s.
    let config = looping_config(
        dir.path(),
        "call_timeout_ms = 200\nreplay_budget_ms = 3000",
        "drain_timeout_ms = 1000",
    );
    let (mut server, log) = spawn(&config, &shared_cache());
    ready(&server);
    let batch = post_looping_batch(&server, 20);
    log.wait_for(REPLAYING, HANG);
    server.signal("TERM");
    let status = wait_exit(&mut server.child, HANG, "serve did not stop after SIGTERM");
    assert!(status.success(), "{status}");
    assert_eq!(
        batch.join().unwrap(),
        "",
        "answered after the drain ran out"
    );
    let log = log.closed();
    assert!(
        log.contains("1 request(s) unanswered and 1 connection(s) open: they are cut off when the process exits")
            && !log.contains("every request in flight was answered"),
        "{log}"
    );
}

#[test]
fn a_second_signal_ends_the_shutdown_at_once() {
    for (signal, status) in [("TERM", 143), ("INT", 130)] {
        let dir = tempfile::tempdir().unwrap();
        // The batch is held for its replay, up to 30 s, and the drain waits.
        let config = looping_config(dir.path(), "call_timeout_ms = 1000", "");
        let (mut server, log) = spawn(&config, &shared_cache());
        ready(&server);
        let _batch = post_looping_batch(&server, 40);
        log.wait_for(REPLAYING, HANG);
        server.signal(signal);
        log.wait_for(&format!("SIG{signal}: shutting down"), HANG);
        server.signal(signal);
        let exited = wait_exit(
            &mut server.child,
            Duration::from_secs(10),
            "a second signal did not end the shutdown",
        );
        assert_eq!(exited.code(), Some(status), "SIG{signal}: {exited}");
        let log = log.wait_for("exiting now", HANG);
        assert!(
            log.contains(&format!("second signal (SIG{signal}) during shutdown")),
            "{log}"
        );
    }
}

/// A SIGTERM while the first set of modules compiles stops the sidecar
/// without waiting for them: nothing served needs them. The example config
/// compiles for seconds from an empty cache; the signal comes as soon as
/// the port is open.
#[test]
fn a_stop_during_the_first_load_does_not_wait_for_it() {
    let cache = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasmstash.toml");
    let (mut server, log) = spawn(&config, cache.path());
    server.signal("TERM");
    let status = wait_exit(&mut server.child, HANG, "serve did not stop");
    assert!(status.success(), "{status:?}");
    let text = log.closed();
    assert!(
        text.contains("stopped accepting")
            && text.contains("stopped before the pipelines finished loading")
            && !text.contains("ready"),
        "{text}"
    );
}

/// A client that has sent its headers and part of its body held a
/// shutdown for up to `body_read_timeout_ms` (30 s by default), for a
/// request that had not begun. Now a shutdown refuses such a request at
/// once, saying nothing of it ran, and the sidecar exits.
#[test]
fn a_shutdown_refuses_a_body_still_arriving() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[server]\nwatch = false\n[[pipelines.app.filters]]\nfilter = \"mutate\"\n",
    );
    let (mut server, log) = spawn(&config, &shared_cache());
    ready(&server);
    let mut slow = std::net::TcpStream::connect(server.addr).unwrap();
    slow.write_all(
        b"POST /v1/pipelines/app/event HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    )
    .unwrap();
    // The request is in the body middleware once its first byte is held.
    eventually("the server never read the body's first byte", || {
        server.metric("wasmstash_request_body_bytes_held") > 0.0
    });
    let signalled = Instant::now();
    server.signal("TERM");
    let mut answer = String::new();
    slow.set_read_timeout(Some(HANG)).unwrap();
    let _ = slow.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 503")
            && answer.contains("this request's body had not all arrived: nothing of it was run"),
        "{answer}"
    );
    let exited = wait_exit(&mut server.child, HANG, "serve did not stop");
    assert!(exited.success(), "{exited:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "the shutdown waited {:?} for the body",
        signalled.elapsed()
    );
    log.wait_for("stopped accepting", HANG);
}

/// Series describe what runs. A reload that removes a pipeline, or a
/// filter of one, drops their series: instance memory gauges went on
/// reporting instances gone (a sum over them overstated what the sidecar
/// holds), and every series of a removed name was kept for good, so that a
/// config renaming its pipelines grew `/metrics` and the live view with
/// every reload. What the reload keeps keeps its counts.
#[test]
fn a_reload_drops_the_series_of_what_it_removed() {
    let dir = tempfile::tempdir().unwrap();
    let chaos = format!("{}/chaos.wasm", wasmstash::builtins::build_module_dir());
    let kept = "[server]\nwatch = false\nworkers = 2\n\n[[pipelines.kept.filters]]\nfilter = \"mutate\"\nconfig = { add_tag = [\"t\"] }\n";
    let json = "[[pipelines.kept.filters]]\nfilter = \"json\"\nconfig = { source = \"message\" }\n";
    let config = write_config(
        dir.path(),
        &format!("{kept}{json}\n[[pipelines.gone.filters]]\nmodule = {chaos:?}\n"),
    );
    let server = Server::start(&config, &[]);
    for pipeline in ["kept", "gone"] {
        let answer = server.post(&format!("/v1/pipelines/{pipeline}/event"), b"{}");
        assert_eq!(answer.status, 200);
    }
    let series = |server: &Server, name: &str| -> Vec<String> {
        (server.get("/metrics").text().lines())
            .filter(|line| line.starts_with(name))
            .map(|line| line.rsplit_once(' ').unwrap().0.to_owned())
            .collect()
    };
    let memory = |server: &Server| series(server, "wasmstash_instance_memory_bytes{");
    let before = memory(&server);
    assert!(
        before.contains(
            &r#"wasmstash_instance_memory_bytes{pipeline="gone",filter="chaos",worker="shared"}"#
                .to_owned()
        ),
        "{before:?}"
    );
    let has = |series: &[String], labels: &str| series.iter().any(|one| one.contains(labels));
    assert!(has(&before, r#"pipeline="kept""#), "{before:?}");
    let every = series(&server, "wasmstash_");
    assert!(has(&every, r#"pipeline="gone""#), "{every:?}");
    assert!(has(&every, r#"pipeline="kept",filter="json""#), "{every:?}");

    write_config(dir.path(), kept);
    server.signal("HUP");
    eventually("the reload", || {
        server.metric(r#"wasmstash_reloads_total{result="ok"}"#) == 1.0
    });
    // Once the replaced set's calls are done, which none is here.
    eventually("the removed pipeline's and filter's series dropped", || {
        let every = series(&server, "wasmstash_");
        !has(&every, r#"pipeline="gone""#) && !has(&every, r#"filter="json""#)
    });
    assert!(has(&memory(&server), r#"pipeline="kept""#));
    let in_kept = r#"wasmstash_events_total{pipeline="kept",outcome="in"}"#;
    assert_eq!(server.metric(in_kept), 1.0);
    let mutate_events = r#"wasmstash_filter_events_total{pipeline="kept",filter="mutate"}"#;
    assert_eq!(server.metric(mutate_events), 1.0);

    // A refused reload leaves nothing of the pipelines it would have
    // brought: `phantom` is made before `zbroken`'s grok fails the set.
    let refused = "\n[[pipelines.phantom.filters]]\nfilter = \"mutate\"\n\n\
                   [[pipelines.zbroken.filters]]\nfilter = \"grok\"\n\
                   config = { match = { message = \"%{NOSUCHPATTERN:x}\" } }\n";
    write_config(dir.path(), &format!("{kept}{refused}"));
    server.signal("HUP");
    eventually("the refused reload", || {
        server.metric(r#"wasmstash_reloads_total{result="rejected"}"#) == 1.0
    });
    eventually("the refused set's series dropped", || {
        !has(&series(&server, "wasmstash_"), r#"pipeline="phantom""#)
    });
    assert_eq!(server.metric(in_kept), 1.0);
    server.stop();
}
