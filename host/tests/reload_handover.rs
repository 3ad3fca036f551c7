//! A reload under load hands a stateful filter's state over whole: every
//! event the old set answered has taught the state the new set starts
//! from, and the new set runs no event before it has that state. Before
//! this held, requests the old set was still running when its state was
//! copied taught a state nobody kept, and templates came back as new a
//! second time after a reload.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::server::{Server, write_config};

const CONFIG: &str = r#"
[server]
watch = false
workers = 2

[[pipelines.logs.filters]]
filter = "templates"
config = { source = "message" }
"#;

/// Clients keep sending, and reloads keep coming, until each client has
/// sent this many batches and at least `RELOADS` reloads ran (or
/// `GIVE_UP` passed, which fails the test).
const BATCHES_PER_CLIENT: usize = 40;
const CLIENTS: usize = 4;
const RELOADS: u64 = 10;
const GIVE_UP: Duration = Duration::from_secs(60);

/// A word of letters only (the miner takes digits for variables), unique
/// to `client` and `n`.
fn word(client: usize, n: usize, salt: u64) -> String {
    let mut x = ((client as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        ^ ((n as u64 + 1).wrapping_mul(0xBF58_476D))
        ^ salt;
    (0..8)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// Sends `lines` as one batch until it is not refused for a reload (a
/// batch refused so was not run); returns each event's template verdict.
/// Any other answer than 200 fails the test.
fn send(server_addr: std::net::SocketAddr, lines: &[String]) -> Vec<(String, bool)> {
    let body = lines.join("\n") + "\n";
    let request = format!(
        "POST /v1/pipelines/logs/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    loop {
        let response = support::server::send_raw(server_addr, request.as_bytes());
        if response.status == 503 && response.text().contains("a reload replaced this pipeline") {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        assert_eq!(response.status, 200, "{}", response.text());
        return response
            .text()
            .lines()
            .map(|line| {
                let answer: Value = serde_json::from_str(line).unwrap();
                let template = &answer["event"]["wasmstash"]["template"];
                let text = answer["event"]["message"].as_str().unwrap().to_owned();
                (text, template["new"] == true)
            })
            .collect();
    }
}

#[test]
fn reloads_under_load_carry_every_answered_events_lesson() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);
    let server = Arc::new(Server::start(&config, &[]));
    let addr = server.addr;
    let salt = std::process::id() as u64;
    // How often each message was answered as a new template.
    let flagged_new: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let reloads = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let enough = {
        let reloads = reloads.clone();
        move |batches: usize| {
            (batches >= BATCHES_PER_CLIENT && reloads.load(Ordering::Relaxed) >= RELOADS)
                || started.elapsed() > GIVE_UP
        }
    };

    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let flagged_new = flagged_new.clone();
            let enough = enough.clone();
            std::thread::spawn(move || {
                // Each batch: five messages never sent before, and the five
                // of the batch before, sent again.
                let mut before: Vec<String> = Vec::new();
                let mut n = 0;
                while !enough(n) {
                    let fresh: Vec<String> = (0..5)
                        .map(|i| {
                            // Four words of its own: like no other message,
                            // so that the miner makes it a template of its own.
                            let words: Vec<String> = (0..4)
                                .map(|k| word(client, (n * 5 + i) * 4 + k, salt))
                                .collect();
                            serde_json::json!({ "message": words.join(" ") }).to_string()
                        })
                        .collect();
                    let mut lines = fresh.clone();
                    lines.extend(before);
                    before = fresh;
                    for (text, new) in send(addr, &lines) {
                        if new {
                            *flagged_new.lock().unwrap().entry(text).or_default() += 1;
                        }
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();

    // SIGHUPs while the clients send; one asked during a reload is folded
    // into the next.
    let sending = Arc::new(AtomicBool::new(true));
    let reloader = {
        let (sending, server, reloads) = (sending.clone(), server.clone(), reloads.clone());
        std::thread::spawn(move || {
            while sending.load(Ordering::Relaxed) {
                server.signal("HUP");
                std::thread::sleep(Duration::from_millis(40));
                let done = server.metric("wasmstash_reloads_total{result=\"ok\"}");
                reloads.store(done as u64, Ordering::Relaxed);
            }
        })
    };
    let batches: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    sending.store(false, Ordering::Relaxed);
    reloader.join().unwrap();
    let reloads = reloads.load(Ordering::Relaxed);
    assert!(
        reloads >= RELOADS,
        "only {reloads} reloads in {:?} of sending",
        started.elapsed()
    );

    let flagged_new = flagged_new.lock().unwrap();
    let twice: Vec<_> = flagged_new.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{} of {} templates were new again after {reloads} reloads, e.g. {:?}",
        twice.len(),
        flagged_new.len(),
        twice.first()
    );
    // Every message was new once: none was taken for another's template.
    assert_eq!(flagged_new.len(), batches * 5);
    Arc::into_inner(server).unwrap().stop();
}

/// An admin reload runs to its end when its client hangs up. It used to
/// run in the request's own future, which the server drops on a hang-up:
/// one dropped while it waited for the old set's calls left the new set's
/// stateful pipeline paused for good (every request then waited out
/// `queue_timeout_ms`), its state never handed over.
#[test]
fn an_admin_reload_whose_client_hangs_up_still_hands_over_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    // The chaos filter takes a millisecond over each event, so the batch
    // below keeps the only worker busy however fast templates becomes.
    let chaos = format!("{}/chaos.wasm", wasmstash::builtins::build_module_dir());
    let config_text = format!(
        "[engine]\ncall_timeout_ms = 20000\n{}\n[[pipelines.logs.filters]]\nmodule = {chaos:?}\nconfig = {{ slow_ms = 1 }}\n",
        CONFIG.replace("workers = 2", "workers = 1\nqueue_timeout_ms = 5000")
    );
    let config = write_config(dir.path(), &config_text);
    let token = "reload-handover-admin-token";
    let server = Server::start(&config, &[("WASMSTASH_ADMIN_TOKEN", token)]);
    let addr = server.addr;
    assert!(send(addr, &[r#"{"message":"hello world one"}"#.to_owned()])[0].1);

    // A batch of fresh templates long enough (2 s) to keep the only worker
    // busy while the reload waits for it.
    let lines: Vec<String> = (0..2000)
        .map(|n| {
            let words: Vec<String> = (0..6).map(|k| word(9, n * 6 + k, 1)).collect();
            serde_json::json!({ "message": words.join(" ") }).to_string()
        })
        .collect();
    let busy = std::thread::spawn(move || {
        send(addr, &lines);
        Instant::now()
    });
    // The quick first stage's count is reported before the slow one starts:
    // the batch is in the worker's hands.
    support::eventually("the worker never took the long batch", || {
        server.metric(r#"wasmstash_filter_events_total{pipeline="logs",filter="templates"}"#)
            == 2001.0
    });
    // The reloaded set has one more pipeline, which shows when the reload
    // has swapped it in and waits for the old set's call: a hang-up before
    // the server has even read the request would test nothing.
    std::fs::write(
        &config,
        format!("{config_text}\n[[pipelines.marker.filters]]\nfilter = \"mutate\"\nconfig = {{ add_tag = [\"marker\"] }}\n"),
    )
    .unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    write!(
        client,
        "POST /v1/admin/reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let auth = format!("Bearer {token}");
    support::eventually("the reload never swapped the new set in", || {
        let listed = server.request(
            "GET",
            "/v1/admin/pipelines",
            &[("Authorization", &auth)],
            b"",
        );
        listed.text().contains(r#""marker""#)
    });
    drop(client);
    let hung_up = Instant::now();
    let batch_done = busy.join().unwrap();
    assert!(
        batch_done > hung_up,
        "the batch ended before the client hung up: make it longer, or this tests nothing"
    );

    let asked = Instant::now();
    let answer = send(addr, &[r#"{"message":"hello world one"}"#.to_owned()]);
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "the pipeline stayed paused: answered after {:?}",
        asked.elapsed()
    );
    // Still known: the state was handed over.
    assert!(!answer[0].1);
    // Counted once the replaced set's stages are released, which may come
    // just after the resumed pipeline has answered.
    support::eventually("the reload counted as ok", || {
        server.metric("wasmstash_reloads_total{result=\"ok\"}") == 1.0
    });
    server.stop();
}

/// With the deadline off a call may never end, and the handover waits for
/// one only up to `drain_timeout_ms`. Before, it then took the stage's lock
/// and waited on the call for ever: the reload never answered, the new set
/// stayed paused (every request to it refused after `queue_timeout_ms`),
/// and a shutdown hung behind the handover. The filter stuck in the call
/// now starts from its saved state in the new set.
#[test]
fn a_reload_does_not_wait_on_a_call_that_never_ends() {
    let dir = tempfile::tempdir().unwrap();
    let chaos = format!("{}/chaos.wasm", wasmstash::builtins::build_module_dir());
    let config = write_config(
        dir.path(),
        &format!(
            "[engine]\ncall_timeout_ms = 0\n\n[server]\nwatch = false\nworkers = 2\n\
             drain_timeout_ms = 1000\nqueue_timeout_ms = 5000\nsnapshot_interval_ms = 100\n\
             state_dir = \"state\"\n\n[[pipelines.s.filters]]\nfilter = \"mutate\"\n\
             config = {{ add_tag = [\"taken\"] }}\n\n[[pipelines.s.filters]]\nmodule = {chaos:?}\n\
             config = {{ loop_on = \"LOOP\" }}\n"
        ),
    );
    let token = "reload-handover-admin-token";
    let server = Server::start(&config, &[("WASMSTASH_ADMIN_TOKEN", token)]);
    let seen = |server: &Server| {
        let answer = server.post("/v1/pipelines/s/event", br#"{"message":"x"}"#);
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()["chaos"]["seen"].as_u64().unwrap()
    };
    for _ in 0..3 {
        seen(&server);
    }
    // A periodic save with the three events in it.
    support::eventually("the state saved with 3 events", || {
        std::fs::read(dir.path().join("state/s/chaos.state")).is_ok_and(|b| b == 3u64.to_le_bytes())
    });

    let addr = server.addr;
    std::thread::spawn(move || {
        let body = br#"{"message":"LOOP"}"#;
        let request = format!(
            "POST /v1/pipelines/s/event HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        // Never answered; the server's shutdown cuts it.
        let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
    });
    // The quick first stage's count is reported before the looping stage
    // starts. Had the reload come before the loop's call, the new set would
    // have run it, and the loop would hold its one stage for good.
    support::eventually("the looping event never reached its call", || {
        server.metric(r#"wasmstash_filter_events_total{pipeline="s",filter="mutate"}"#) == 4.0
    });

    // The reload answers, within the drain limit and then some: the
    // channel's limit only keeps a hang from hanging the suite.
    let (answered, reload) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let auth = format!("Bearer {token}");
        let response = support::server::send_raw(
            addr,
            format!(
                "POST /v1/admin/reload HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            )
            .as_bytes(),
        );
        let _ = answered.send(response.status);
    });
    let status = reload
        .recv_timeout(Duration::from_secs(30))
        .expect("the reload never answered");
    assert_eq!(status, 200);
    // The new set serves, from the saved state: the old stage never left
    // its call, so it had nothing to hand over.
    assert_eq!(seen(&server), 4);
    server.stop();
}

/// A batch of `events` to pipeline `s`, or `None` if the sidecar closed
/// the connection without an answer.
fn send_to_s(addr: std::net::SocketAddr, events: usize) -> Option<support::server::Response> {
    let body = "{\"message\":\"x\"}\n".repeat(events);
    support::server::send_raw_or_cut(
        addr,
        format!(
            "POST /v1/pipelines/s/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

/// The chaos filter's running count on each event of a batch's answer.
fn seen(response: &support::server::Response) -> Vec<u64> {
    (response.text().lines())
        .map(|line| {
            let result: Value = serde_json::from_str(line).unwrap();
            result["event"]["chaos"]["seen"].as_u64().unwrap()
        })
        .collect()
}

/// A pipeline `s` of a quick stage then the chaos filter, `slow_ms` an
/// event, on one worker with a drain limit of 200 ms, and `state_dir`.
fn slow_stateful_config(dir: &std::path::Path) -> std::path::PathBuf {
    let chaos = format!("{}/chaos.wasm", wasmstash::builtins::build_module_dir());
    write_config(
        dir,
        &format!(
            "[engine]\ncall_timeout_ms = 20000\n\n[server]\nwatch = false\nworkers = 1\n\
             drain_timeout_ms = 200\nqueue_timeout_ms = 20000\nstate_dir = {:?}\n\n\
             [[pipelines.s.filters]]\nfilter = \"mutate\"\nconfig = {{ add_tag = [\"taken\"] }}\n\n\
             [[pipelines.s.filters]]\nmodule = {chaos:?}\nconfig = {{ slow_ms = 100 }}\n",
            dir.join("state")
        ),
    )
}

/// Starts a second of calls on `server`'s only worker, then queues a batch
/// behind it. Each waits for what it needs, not for a time a loaded
/// machine may overrun: the first batch in the worker's hands (the quick
/// first stage's count is reported before the slow one starts), else the
/// second would join it in one call; then the second's body read, the
/// step just before it is queued.
fn one_running_one_queued(
    server: &Server,
) -> [std::thread::JoinHandle<Option<support::server::Response>>; 2] {
    let addr = server.addr;
    let taken = server.metric(r#"wasmstash_filter_events_total{pipeline="s",filter="mutate"}"#);
    let running = std::thread::spawn(move || send_to_s(addr, 10));
    support::eventually("the worker never took the first batch", || {
        server.metric(r#"wasmstash_filter_events_total{pipeline="s",filter="mutate"}"#)
            == taken + 10.0
    });
    let held = server.metric("wasmstash_request_body_bytes_held");
    let queued = std::thread::spawn(move || send_to_s(addr, 5));
    support::eventually("the second batch's body was never read", || {
        server.metric("wasmstash_request_body_bytes_held") > held
    });
    [running, queued]
}

/// Past the drain limit, requests still queued in a replaced stateful
/// pipeline are refused (503, not run). Before, they ran on the old stage
/// after its state was taken: answered 200, while the new set counted the
/// same lessons again and theirs were lost.
#[test]
fn past_the_drain_limit_queued_requests_are_refused_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let config = slow_stateful_config(dir.path());
    let token = "reload-handover-admin-token";
    let server = Server::start(&config, &[("WASMSTASH_ADMIN_TOKEN", token)]);
    assert_eq!(seen(&send_to_s(server.addr, 1).unwrap()), [1]);

    // The reload must come after the second batch is queued, else it
    // would run on the new set.
    let [running, queued] = one_running_one_queued(&server);
    let reload = server.request(
        "POST",
        "/v1/admin/reload",
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    );
    assert_eq!(reload.status, 200, "{}", reload.text());

    let running = running.join().unwrap().unwrap();
    assert_eq!(running.status, 200);
    assert_eq!(seen(&running), (2..=11).collect::<Vec<u64>>());
    let queued = queued.join().unwrap().unwrap();
    assert_eq!(queued.status, 503, "{}", queued.text());
    assert!(queued.header("Retry-After").is_some());
    // Counted once (it was twice: as it was refused, and as it was read).
    let replaced = r#"wasmstash_rejected_total{pipeline="s",reason="replaced"}"#;
    assert_eq!(server.metric(replaced), 1.0);
    // The state handed over is the running batch's whole: the call in
    // progress was waited for, under the deadline.
    assert_eq!(seen(&send_to_s(server.addr, 1).unwrap()), [12]);
    server.stop();
}

/// The same at shutdown: past the drain limit, a stateful pipeline's
/// queued requests are refused before its state is saved. Before, they
/// ran after the save and were answered 200, and what they taught the
/// filter was gone at the next start (a review saw 1,290 events lost).
#[test]
fn past_the_drain_limit_a_shutdown_refuses_queued_requests_before_its_save() {
    let dir = tempfile::tempdir().unwrap();
    let config = slow_stateful_config(dir.path());
    let server = Server::start(&config, &[]);
    assert_eq!(seen(&send_to_s(server.addr, 1).unwrap()), [1]);

    let [running, queued] = one_running_one_queued(&server);
    let status = server.stop_with_status();
    assert!(status.success(), "{status}");
    // The running call is waited for by the save, so its events are in the
    // state whether or not its answer got out before the process ended.
    if let Some(running) = running.join().unwrap() {
        assert_eq!(running.status, 200, "{}", running.text());
        assert_eq!(seen(&running), (2..=11).collect::<Vec<u64>>());
    }
    // The queued one did not run: refused as the drain limit ran out, so
    // answered while the save still waited for the running call.
    let queued = queued
        .join()
        .unwrap()
        .expect("the queued batch was cut off, not refused");
    assert_eq!(queued.status, 503, "{}", queued.text());
    assert!(queued.text().contains("shutting down"), "{}", queued.text());
    assert!(queued.header("Retry-After").is_some());

    let server = Server::start(&config, &[]);
    assert_eq!(seen(&send_to_s(server.addr, 1).unwrap()), [12]);
    server.stop();
}

/// A reload whose old filter cannot be snapshotted (its state grew past
/// what its snapshot can take in time, say) started the new filter afresh,
/// and its next save wrote that over the last good state on disk. It now
/// starts from the saved state, as a filter still in a call does.
#[test]
fn a_reload_after_a_failed_snapshot_starts_from_the_saved_state() {
    use support::{ALL_UNCHANGED, RETURN_OUTPUT_AT_2048, wat_filter};
    let dir = tempfile::tempdir().unwrap();
    // Counts its calls; its snapshot traps past three.
    let process = format!(
        "(global.set $calls (i32.add (global.get $calls) (i32.const 1))) {ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}"
    );
    let free = r#"(func (export "wasmstash_free")"#;
    let state = r#"(func (export "wasmstash_snapshot") (result i64)
    (if (i32.gt_u (global.get $calls) (i32.const 3)) (then unreachable))
    (i32.store (i32.const 3000) (global.get $calls))
    (i64.const 0xbb800000004))
  (func (export "wasmstash_restore") (param $p i32) (param $n i32) (result i64)
    (global.set $calls (i32.load (local.get $p)))
    (i64.const 0))"#;
    let module = wat_filter(&process)
        .replacen(
            "(global $next",
            "(global $calls (mut i32) (i32.const 0)) (global $next",
            1,
        )
        .replacen(free, &format!("{state}\n  {free}"), 1);
    std::fs::write(dir.path().join("counter.wat"), module).unwrap();
    let state_dir = dir.path().join("state");
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nwatch = false\nstate_dir = {state_dir:?}\n\
             [[pipelines.p.filters]]\nmodule = \"counter.wat\"\n"
        ),
    );
    let saved = || {
        let bytes = std::fs::read(state_dir.join("p/counter.state")).unwrap();
        u32::from_le_bytes(bytes[..4].try_into().unwrap())
    };
    let send = |server: &Server, count: usize| {
        for _ in 0..count {
            let answer = server.post("/v1/pipelines/p/event", br#"{"message":"x"}"#);
            assert_eq!(answer.status, 200, "{}", answer.text());
        }
    };
    let server = Server::start(&config, &[]);
    send(&server, 2);
    server.stop();
    assert_eq!(saved(), 2);
    // Restored at 2, then counts 4, which its snapshot cannot take.
    let server = Server::start(&config, &[]);
    send(&server, 2);
    server.signal("HUP");
    support::eventually("the reload never finished", || {
        server.metric("wasmstash_reloads_total{result=\"ok\"}") == 1.0
    });
    send(&server, 1);
    server.stop();
    assert_eq!(saved(), 3, "the saved 2, and the event after the reload");
}
