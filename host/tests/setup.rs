//! `wasmstash setup` against stand-ins for Elasticsearch and Kibana on
//! loopback ports.
//!
//! What this proves: the exact requests setup sends (methods, paths, the
//! `kbn-xsrf` and `Authorization` headers, the bodies: JSON-equal to the
//! files in `elasticsearch/` plus the `_meta` stamp, and the Kibana import
//! byte for byte the ndjson in `kibana/`), that a second run writes
//! nothing to Elasticsearch and leaves Kibana's objects as they were, and the
//! messages for a service that is down, refuses the credentials or rejects
//! the import. The stand-ins answer with the status codes and JSON shapes
//! the Elasticsearch 8 and Kibana 8 APIs document (GET answers wrap the stored
//! object, 404 for a missing one, `successResults`/`errors` for an import).
//!
//! What it does not prove: that a real Elasticsearch accepts the mappings or
//! that a real Kibana renders the dashboards. Neither can run on the machines
//! this is built on; see README "What was tested here".

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::{Value, json};
use wasmstash::setup::{SetupArgs, run_async};

#[path = "support/binary.rs"]
mod binary;
mod stand_in;
mod support;
use stand_in::{Role, Stand, multipart_file, start};

fn repo() -> PathBuf {
    wasmstash_sdk::crate_dir!().join("..")
}

fn args(es: SocketAddr, kibana: SocketAddr) -> SetupArgs {
    SetupArgs {
        es_url: format!("http://{es}"),
        kibana_url: format!("http://{kibana}"),
        username: Some("elastic".into()),
        password: Some("s3cret-pass".into()),
        api_key: None,
        ca_cert: None,
        kibana_objects: repo().join("kibana"),
        skip_kibana: false,
        wait_timeout: 10,
        request_timeout: 10,
    }
}

async fn setup(args: &SetupArgs) -> (Result<(), String>, String) {
    let mut out = Vec::new();
    let result = run_async(args, &mut out).await.map_err(|e| e.0);
    (result, String::from_utf8(out).unwrap())
}

struct Pair {
    es: Stand,
    kibana: Stand,
    args: SetupArgs,
}

async fn pair() -> Pair {
    let (es, kibana) = (Stand::default(), Stand::default());
    let es_address = start(Role::Elasticsearch, es.clone()).await;
    let kibana_address = start(Role::Kibana, kibana.clone()).await;
    Pair {
        es,
        kibana,
        args: args(es_address, kibana_address),
    }
}

/// `file` from elasticsearch/, as setup must send it: the same JSON plus our
/// `_meta` stamp. Checks the stamp's shape and returns the body without it.
fn without_stamp(mut body: Value, ilm: bool) -> Value {
    let holder = if ilm { &mut body["policy"] } else { &mut body };
    let meta = holder
        .as_object_mut()
        .unwrap()
        .remove("_meta")
        .expect("_meta stamp");
    assert_eq!(meta["managed_by"], "wasmstash setup");
    let digest = meta["digest"].as_str().unwrap();
    assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()));
    body
}

fn asset(file: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("elasticsearch").join(file)).unwrap();
    serde_json::from_str(&text).unwrap()
}

const BASIC_ELASTIC: &str = "Basic ZWxhc3RpYzpzM2NyZXQtcGFzcw=="; // elastic:s3cret-pass

#[tokio::test]
async fn first_run_sends_exactly_these_requests() {
    let pair = pair().await;
    let (result, out) = setup(&pair.args).await;
    result.unwrap();

    let es = pair.es.log();
    let calls: Vec<String> = es
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    assert_eq!(
        calls,
        [
            "GET /_cluster/health",
            "GET /_ilm/policy/wasmstash-logs",
            "PUT /_ilm/policy/wasmstash-logs",
            "GET /_component_template/wasmstash-logs@settings",
            "PUT /_component_template/wasmstash-logs@settings",
            "GET /_component_template/wasmstash-logs@mappings",
            "PUT /_component_template/wasmstash-logs@mappings",
            "GET /_index_template/wasmstash-logs",
            "PUT /_index_template/wasmstash-logs",
        ]
    );
    for seen in &es {
        assert_eq!(
            seen.authorization.as_deref(),
            Some(BASIC_ELASTIC),
            "{}",
            seen.target
        );
    }
    let put = |target: &str| -> Value {
        let seen = es
            .iter()
            .find(|s| s.method == "PUT" && s.target == target)
            .unwrap();
        assert_eq!(seen.content_type.as_deref(), Some("application/json"));
        serde_json::from_slice(&seen.body).unwrap()
    };
    assert_eq!(
        without_stamp(put("/_ilm/policy/wasmstash-logs"), true),
        asset("ilm-policy.json")
    );
    assert_eq!(
        without_stamp(put("/_component_template/wasmstash-logs@settings"), false),
        asset("component-settings.json")
    );
    assert_eq!(
        without_stamp(put("/_component_template/wasmstash-logs@mappings"), false),
        asset("component-mappings.json")
    );
    assert_eq!(
        without_stamp(put("/_index_template/wasmstash-logs"), false),
        asset("index-template.json")
    );

    let kibana = pair.kibana.log();
    let calls: Vec<String> = kibana
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    assert_eq!(
        calls,
        [
            "GET /api/status",
            "POST /api/saved_objects/_import?overwrite=true"
        ]
    );
    let import = &kibana[1];
    assert_eq!(import.kbn_xsrf.as_deref(), Some("true"));
    assert_eq!(import.authorization.as_deref(), Some(BASIC_ELASTIC));
    assert!(
        import
            .content_type
            .as_deref()
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    let shipped = std::fs::read_to_string(repo().join("kibana/wasmstash.ndjson")).unwrap();
    assert_eq!(multipart_file(import).unwrap(), shipped);
    assert_eq!(
        pair.kibana.with(|s| s.kibana.len()),
        shipped.lines().count()
    );

    assert!(
        out.contains("lifecycle policy wasmstash-logs: created"),
        "{out}"
    );
    assert!(
        out.contains("index template wasmstash-logs: created"),
        "{out}"
    );
    assert!(
        out.contains("dashboard wasmstash-overview \"[wasmstash] Overview\""),
        "{out}"
    );
    assert!(out.ends_with("setup done\n"), "{out}");
}

#[tokio::test]
async fn second_run_changes_nothing() {
    let pair = pair().await;
    setup(&pair.args).await.0.unwrap();
    let es_before = pair.es.with(|s| s.es.clone());
    let kibana_before = pair.kibana.with(|s| s.kibana.clone());
    pair.es.clear_log();

    let (result, out) = setup(&pair.args).await;
    result.unwrap();
    let writes: Vec<String> = pair
        .es
        .log()
        .iter()
        .filter(|s| s.method != "GET")
        .map(|s| s.target.clone())
        .collect();
    assert!(writes.is_empty(), "second run wrote {writes:?}");
    assert_eq!(out.matches(": unchanged").count(), 4, "{out}");
    assert_eq!(pair.es.with(|s| s.es.clone()), es_before);
    // Kibana's import always rewrites; with fixed ids and overwrite it must
    // leave the same set of objects with the same content.
    assert_eq!(pair.kibana.with(|s| s.kibana.clone()), kibana_before);
}

#[tokio::test]
async fn an_object_installed_by_someone_else_is_replaced() {
    let pair = pair().await;
    pair.es.with(|s| {
        s.es.insert(
            "index/wasmstash-logs".into(),
            json!({"index_patterns": ["logs-*-*"], "priority": 150}),
        )
    });
    let (result, out) = setup(&pair.args).await;
    result.unwrap();
    assert!(
        out.contains("index template wasmstash-logs: updated"),
        "{out}"
    );
    let stored = pair.es.with(|s| s.es["index/wasmstash-logs"].clone());
    assert_eq!(without_stamp(stored, false), asset("index-template.json"));
}

#[tokio::test]
async fn an_api_key_goes_to_both_services() {
    let mut pair = pair().await;
    pair.args.username = None;
    pair.args.password = None;
    pair.args.api_key = Some("aWQ6a2V5".into());
    setup(&pair.args).await.0.unwrap();
    for seen in pair.es.log().iter().chain(pair.kibana.log().iter()) {
        assert_eq!(
            seen.authorization.as_deref(),
            Some("ApiKey aWQ6a2V5"),
            "{}",
            seen.target
        );
    }
}

#[tokio::test]
async fn elasticsearch_down_names_the_url_and_touches_nothing_else() {
    let mut pair = pair().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    pair.args.es_url = format!("http://{closed}");
    pair.args.wait_timeout = 0;
    let (result, _) = setup(&pair.args).await;
    let error = result.unwrap_err();
    assert!(
        error.starts_with(&format!(
            "elasticsearch at http://{closed} was not ready within 0 s"
        )),
        "{error}"
    );
    assert!(error.contains("--wait-timeout"), "{error}");
    assert!(pair.kibana.log().is_empty());
}

#[tokio::test]
async fn kibana_down_is_named_after_elasticsearch_is_done() {
    let mut pair = pair().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    pair.args.kibana_url = format!("http://{closed}");
    pair.args.wait_timeout = 0;
    let mut out = Vec::new();
    let error = run_async(&pair.args, &mut out).await.unwrap_err().0;
    assert!(
        error.starts_with(&format!(
            "kibana at http://{closed} was not ready within 0 s"
        )),
        "{error}"
    );
    // The Elasticsearch side was installed and reported before the failure.
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("index template wasmstash-logs: created"),
        "{out}"
    );
    assert!(!out.contains("setup done"), "{out}");
}

#[tokio::test]
async fn refused_credentials_stop_at_once_with_advice() {
    let mut pair = pair().await;
    pair.es.with(|s| s.refuse = Some(401));
    pair.args.wait_timeout = 600; // a refusal must not be waited out
    let (result, _) = setup(&pair.args).await;
    let error = result.unwrap_err();
    assert!(error.contains("elasticsearch at http://"), "{error}");
    assert!(
        error.contains("refused setup: HTTP 401 (unable to authenticate user"),
        "{error}"
    );
    assert!(error.contains("ELASTICSEARCH_PASSWORD"), "{error}");
    assert_eq!(pair.es.log().len(), 1);

    let pair = self::pair().await;
    pair.kibana.with(|s| s.refuse = Some(403));
    let (result, _) = setup(&pair.args).await;
    let error = result.unwrap_err();
    assert!(error.starts_with("kibana at http://"), "{error}");
    assert!(error.contains("refused setup: HTTP 403"), "{error}");
    assert!(error.contains("privilege"), "{error}");
}

#[tokio::test]
async fn kibana_is_waited_for_while_it_starts() {
    let pair = pair().await;
    pair.kibana.with(|s| s.kibana_starting = 1);
    setup(&pair.args).await.0.unwrap();
    let calls: Vec<String> = pair
        .kibana
        .log()
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    assert_eq!(
        calls,
        [
            "GET /api/status",
            "GET /api/status",
            "POST /api/saved_objects/_import?overwrite=true"
        ]
    );
}

#[tokio::test]
async fn import_errors_are_listed_per_object() {
    let mut pair = pair().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.ndjson"),
        r#"{"type":"dashboard","id":"d1","attributes":{"title":"D"},"references":[{"type":"index-pattern","id":"nope","name":"x"}]}"#,
    )
    .unwrap();
    pair.args.kibana_objects = dir.path().to_owned();
    let (result, _) = setup(&pair.args).await;
    let error = result.unwrap_err();
    assert!(
        error.ends_with("the import failed for 1 object(s): dashboard d1: missing_references (index-pattern nope)"),
        "{error}"
    );
}

#[tokio::test]
async fn a_bad_objects_file_fails_before_anything_is_sent() {
    let mut pair = pair().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.ndjson"), "{\"type\":\"dashboard\"}\n").unwrap();
    pair.args.kibana_objects = dir.path().to_owned();
    let error = setup(&pair.args).await.0.unwrap_err();
    assert!(
        error.ends_with("a.ndjson:1: a saved object needs a string `type` and `id`"),
        "{error}"
    );
    // A FIFO among the files is refused unread, not waited on.
    std::fs::remove_file(dir.path().join("a.ndjson")).unwrap();
    let fifo = dir.path().join("b.ndjson");
    support::mkfifo(&fifo);
    let error = setup(&pair.args).await.0.unwrap_err();
    assert!(
        error.contains("b.ndjson: the saved objects file is not a regular file"),
        "{error}"
    );
    assert!(pair.es.log().is_empty() && pair.kibana.log().is_empty());
}

#[test]
fn the_binary_exits_1_with_the_reason_when_elasticsearch_is_down() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args([
            "setup",
            "--wait-timeout",
            "0",
            "--es-url",
            &format!("http://{closed}"),
        ])
        .current_dir(repo())
        .env_remove("ELASTICSEARCH_USERNAME")
        .env_remove("ELASTICSEARCH_PASSWORD")
        .env_remove("ELASTICSEARCH_API_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "wasmstash setup: elasticsearch at http://{closed} was not ready"
        )),
        "{stderr}"
    );
}

/// Each step is reported as it is done: when a later one fails, those
/// already written to the cluster are not left unsaid.
#[tokio::test]
async fn steps_done_before_a_failing_one_are_reported() {
    let pair = pair().await;
    (pair.es).with(|s| s.refuse_only = Some(("PUT /_index_template/".into(), 400)));
    let (result, out) = setup(&pair.args).await;
    let error = result.unwrap_err();
    assert!(error.contains("HTTP 400"), "{error}");
    assert!(
        out.contains("lifecycle policy wasmstash-logs: created"),
        "{out}"
    );
    assert!(out.contains("component template"), "{out}");
    assert!(!out.contains("index template wasmstash-logs"), "{out}");
}

/// A URL that is no http(s) URL is a usage error (exit 2), as the README
/// says of a malformed argument; but not a Kibana URL `--skip-kibana`
/// leaves unused.
#[test]
fn a_malformed_url_is_a_usage_error() {
    for args in [
        &["setup", "--es-url", "bogus"][..],
        &["setup", "--kibana-url", "ftp://127.0.0.1:21"],
    ] {
        let out = binary::wasmstash(args, b"");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("not a URL") || stderr.contains("the scheme is `ftp`"),
            "{stderr}"
        );
    }
    // Nothing listens on port 9: the wait for Elasticsearch is what fails.
    let stderr = setup_with_nothing_listening("http://127.0.0.1:9", &["--kibana-url", ""]);
    assert!(!stderr.contains("--kibana-url"), "{stderr}");
}

/// `setup --skip-kibana` with Elasticsearch at `es_url`, where nothing
/// listens, tried once: it fails (exit 1), and this is what it said.
fn setup_with_nothing_listening(es_url: &str, more: &[&str]) -> String {
    let mut args = vec!["setup", "--skip-kibana", "--es-url", es_url];
    args.extend_from_slice(&["--wait-timeout", "0"]);
    args.extend_from_slice(more);
    let out = binary::wasmstash(&args, b"");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

/// A password written into a URL is never printed: not in the progress
/// lines, nor when the service cannot be reached or is the wrong one.
#[tokio::test]
async fn a_password_in_a_url_is_never_shown() {
    let mut pair = pair().await;
    let with_password = |url: &str| url.replacen("http://", "http://u:secretpw@", 1);
    pair.args.es_url = with_password(&pair.args.es_url);
    pair.args.kibana_url = with_password(&pair.args.kibana_url);
    let (result, out) = setup(&pair.args).await;
    result.unwrap();
    assert!(out.contains("elasticsearch http://***@127.0.0.1:"), "{out}");
    assert!(!out.contains("secretpw"), "{out}");

    let not_found =
        start_raw(|_| b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot here\n".to_vec())
            .await;
    pair.args.es_url = format!("http://u:secretpw@{not_found}");
    let error = setup(&pair.args).await.0.unwrap_err();
    assert!(
        error.contains("HTTP 404") && !error.contains("secret"),
        "{error}"
    );
    // An unencoded `/` ends the host part early: masked all the same.
    pair.args.es_url = format!("http://u:secret/pw@{not_found}");
    let error = setup(&pair.args).await.0.unwrap_err();
    assert!(
        error.contains("not a URL") && !error.contains("secret"),
        "{error}"
    );

    let stderr = setup_with_nothing_listening("http://u:secretpw@127.0.0.1:9", &[]);
    assert!(stderr.contains("http://***@127.0.0.1:9"), "{stderr}");
    assert!(!stderr.contains("secretpw"), "{stderr}");
}

/// Answers that waiting cannot change end the wait at once: a scheme
/// other than http(s), and a 404 or 400 from the health or status endpoint
/// (the URL is some other server's).
#[tokio::test]
async fn a_url_that_cannot_be_the_service_fails_without_waiting() {
    let mut pair = pair().await;
    pair.args.wait_timeout = 60;
    let started = std::time::Instant::now();
    let mut wrong = pair.args.clone();
    wrong.es_url = "ftp://127.0.0.1:21".into();
    let (result, _) = setup(&wrong).await;
    assert_eq!(
        result.unwrap_err(),
        "--es-url ftp://127.0.0.1:21: the scheme is `ftp`; use http:// or https://"
    );
    let not_found =
        start_raw(|_| b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot here\n".to_vec())
            .await;
    let mut wrong = pair.args.clone();
    wrong.es_url = format!("http://{not_found}");
    let (result, _) = setup(&wrong).await;
    let error = result.unwrap_err();
    assert!(
        error.contains("answered HTTP 404: this is not Elasticsearch's URL"),
        "{error}"
    );
    pair.args.kibana_url = format!("http://{not_found}");
    let (result, _) = setup(&pair.args).await;
    let error = result.unwrap_err();
    assert!(
        error.contains("answered HTTP 404: this is not Kibana's URL"),
        "{error}"
    );
    // Elasticsearch's own answer to a path it has no handler for.
    let elasticsearch = start_raw(|_| {
        let body = r#"{"error":"no handler found for uri [/api/status] and method [GET]"}"#;
        format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    })
    .await;
    pair.args.kibana_url = format!("http://{elasticsearch}");
    let (result, _) = setup(&pair.args).await;
    let error = result.unwrap_err();
    assert!(
        error.contains("answered HTTP 400: this is not Kibana's URL"),
        "{error}"
    );
    // https:// to a server that speaks plain HTTP: the handshake fails.
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_address = plain.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut socket, _)) = plain.accept().await {
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let mut wrong = pair.args.clone();
    wrong.es_url = format!("https://{plain_address}");
    let (result, _) = setup(&wrong).await;
    let error = result.unwrap_err();
    assert!(error.contains("the TLS handshake failed"), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// An answer that never ends is read only up to a bound, not until memory
/// runs out.
#[tokio::test]
async fn an_answer_that_never_ends_is_cut_off() {
    let mut pair = pair().await;
    let endless = start_endless().await;
    pair.args.kibana_url = format!("http://{endless}");
    let (result, _) = setup(&pair.args).await;
    let error = result.unwrap_err();
    assert!(error.contains("an answer over 16777216 bytes"), "{error}");
}

/// An Elasticsearch answer that says it is larger than any of its own is
/// refused unread.
#[tokio::test]
async fn an_elasticsearch_answer_past_the_cap_is_refused_unread() {
    let mut pair = pair().await;
    let huge = start_raw(|_| {
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17000000\r\n\r\n{\"status\":".to_vec()
    })
    .await;
    pair.args.es_url = format!("http://{huge}");
    let (result, _) = setup(&pair.args).await;
    let error = result.unwrap_err();
    assert!(
        error.contains("refused setup: GET /_cluster/health: an answer over 16777216 bytes"),
        "{error}"
    );
}

/// A server on a loopback port that answers every request with `answer`
/// (given the request's head) and closes.
async fn start_raw(answer: fn(&str) -> Vec<u8>) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap_or(0) == 1
                {
                    head.push(byte[0]);
                }
                let _ = socket
                    .write_all(&answer(&String::from_utf8_lossy(&head)))
                    .await;
            });
        }
    });
    address
}

/// A server that answers 200 with a chunked JSON body that never ends.
async fn start_endless() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n[\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 65536, "0,".repeat(32768));
                while socket.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    address
}

/// A readiness answer cut short may pass (a restart, a proxy), so it is
/// waited out rather than taken as a refusal; and the wait ends on time,
/// however long one request may take.
#[tokio::test]
async fn a_cut_answer_is_waited_out_and_the_wait_ends_on_time() {
    let mut pair = pair().await;
    pair.args.wait_timeout = 2;
    pair.args.request_timeout = 30;
    let cut =
        start_raw(|_| b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"status\"".to_vec()).await;
    pair.args.es_url = format!("http://{cut}");
    let (result, _) = setup(&pair.args).await;
    let error = result.unwrap_err();
    assert!(error.contains("was not ready within 2 s"), "{error}");

    let silent = start_silent().await;
    pair.args.es_url = format!("http://{silent}");
    let started = std::time::Instant::now();
    let (result, _) = setup(&pair.args).await;
    let error = result.unwrap_err();
    assert!(error.contains("was not ready within 2 s"), "{error}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// A server that takes connections and never answers.
async fn start_silent() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    address
}
