//! `wasmstash setup` against stand-ins for Elasticsearch and Kibana on
//! loopback ports.
//!
//! What this proves: the exact requests setup sends (methods, paths, the
//! `kbn-xsrf` and `Authorization` headers, the bodies, byte for byte against
//! the files in `elasticsearch/` and `kibana/`), that a second run writes
//! nothing to Elasticsearch and leaves Kibana's objects as they were, and the
//! messages for a service that is down, refuses the credentials or rejects
//! the import. The stand-ins answer with the status codes and JSON shapes
//! the Elasticsearch 8 and Kibana 8 APIs document (GET answers wrap the stored
//! object, 404 for a missing one, `successResults`/`errors` for an import).
//!
//! What it does not prove: that a real Elasticsearch accepts the mappings or
//! that a real Kibana renders the dashboards. Neither can run on the machines
//! this is built on; see README "What was tested here".

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wasmstash::setup::{SetupArgs, run_async};

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Percent-decoded path plus the raw query.
    target: String,
    authorization: Option<String>,
    kbn_xsrf: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

#[derive(Default)]
struct Stored {
    log: Vec<Seen>,
    /// Elasticsearch: "ilm/NAME", "component/NAME", "index/NAME" -> stored body.
    es: BTreeMap<String, Value>,
    /// Kibana: "type/id" -> the saved object.
    kibana: BTreeMap<String, Value>,
    /// Answer every request with this status (401, 403, 503...).
    refuse: Option<u16>,
    /// Kibana: answer /api/status with 503 this many more times.
    kibana_starting: usize,
}

#[derive(Clone, Default)]
struct Stand(Arc<Mutex<Stored>>);

impl Stand {
    fn with<R>(&self, f: impl FnOnce(&mut Stored) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
    fn log(&self) -> Vec<Seen> {
        self.with(|s| s.log.clone())
    }
    fn clear_log(&self) {
        self.with(|s| s.log.clear())
    }
}

#[derive(Clone, Copy)]
enum Role {
    Elasticsearch,
    Kibana,
}

async fn start(role: Role, stand: Stand) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let stand = stand.clone();
        let is_es = matches!(role, Role::Elasticsearch);
        async move {
            let header = |name: &str| {
                headers
                    .get(name)
                    .map(|v| v.to_str().unwrap_or("<not text>").to_owned())
            };
            let path = percent_decode(uri.path());
            let target = match uri.query() {
                Some(query) => format!("{path}?{query}"),
                None => path.clone(),
            };
            let seen = Seen {
                method: method.to_string(),
                target,
                authorization: header("authorization"),
                kbn_xsrf: header("kbn-xsrf"),
                content_type: header("content-type"),
                body: body.to_vec(),
            };
            stand.with(|stored| {
                stored.log.push(seen.clone());
                if let Some(status) = stored.refuse {
                    return refusal(status);
                }
                if is_es {
                    elasticsearch(stored, &seen, &path)
                } else {
                    kibana(stored, &seen, &path)
                }
            })
        }
    };
    let app = axum::Router::new().fallback(handler);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| u8::from_str_radix(&path[i + 1..i + 3], 16).ok())
            .flatten();
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn refusal(status: u16) -> Response {
    let body = json!({
        "error": {"type": "security_exception", "reason": "unable to authenticate user [elastic] for REST request [/]"},
        "status": status
    });
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn not_found(reason: &str) -> Response {
    let body =
        json!({"error": {"type": "resource_not_found_exception", "reason": reason}, "status": 404});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

/// Elasticsearch's answers for the endpoints setup uses.
fn elasticsearch(stored: &mut Stored, seen: &Seen, path: &str) -> Response {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let key = match parts.as_slice() {
        ["_cluster", "health"] => {
            return axum::Json(json!({"cluster_name": "docker-cluster", "status": "yellow"}))
                .into_response();
        }
        ["_ilm", "policy", name] => format!("ilm/{name}"),
        ["_component_template", name] => format!("component/{name}"),
        ["_index_template", name] => format!("index/{name}"),
        _ => return not_found(&format!("no handler for [{path}]")),
    };
    let name = key.split_once('/').unwrap().1.to_owned();
    match seen.method.as_str() {
        "PUT" => {
            let body: Value = serde_json::from_slice(&seen.body).expect("PUT body is JSON");
            stored.es.insert(key, body);
            axum::Json(json!({"acknowledged": true})).into_response()
        }
        "GET" => match stored.es.get(&key) {
            None => not_found(&format!("[{name}] not found")),
            Some(body) => axum::Json(match key.split_once('/').unwrap().0 {
                "ilm" => json!({name.clone(): {
                    "version": 1, "modified_date": "2026-01-01T00:00:00.000Z",
                    "policy": body["policy"].clone(), "in_use_by": {"indices": [], "data_streams": []}
                }}),
                "component" => json!({"component_templates": [{"name": name, "component_template": body}]}),
                _ => json!({"index_templates": [{"name": name, "index_template": body}]}),
            })
            .into_response(),
        },
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

/// Kibana's status API and saved objects import, including its check that
/// every reference resolves within the import or to a stored object.
fn kibana(stored: &mut Stored, seen: &Seen, path: &str) -> Response {
    match (seen.method.as_str(), path) {
        ("GET", "/api/status") => {
            if stored.kibana_starting > 0 {
                stored.kibana_starting -= 1;
                let body = json!({"status": {"overall": {"level": "unavailable"}}});
                return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
            }
            axum::Json(json!({"status": {"overall": {"level": "available"}}})).into_response()
        }
        ("POST", "/api/saved_objects/_import") => {
            if seen.kbn_xsrf.is_none() {
                let body = json!({"statusCode": 400, "error": "Bad Request", "message": "Request must contain a kbn-xsrf header."});
                return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
            }
            let file = multipart_file(seen).expect("a multipart `file` part");
            let objects: Vec<Value> = file
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let key = |o: &Value| {
                format!(
                    "{}/{}",
                    o["type"].as_str().unwrap(),
                    o["id"].as_str().unwrap()
                )
            };
            let known: Vec<String> = objects.iter().map(key).collect();
            let mut errors = Vec::new();
            for object in &objects {
                let missing: Vec<Value> = object["references"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| {
                        let target = format!(
                            "{}/{}",
                            r["type"].as_str().unwrap(),
                            r["id"].as_str().unwrap()
                        );
                        !known.contains(&target) && !stored.kibana.contains_key(&target)
                    })
                    .map(|r| json!({"type": r["type"], "id": r["id"]}))
                    .collect();
                if !missing.is_empty() {
                    errors.push(json!({"type": object["type"], "id": object["id"],
                        "error": {"type": "missing_references", "references": missing}}));
                }
            }
            if !errors.is_empty() {
                return axum::Json(
                    json!({"success": false, "successCount": 0, "errors": errors, "warnings": []}),
                )
                .into_response();
            }
            let results: Vec<Value> = objects
                .iter()
                .map(|o| {
                    json!({"type": o["type"], "id": o["id"], "overwrite": true,
                    "meta": {"title": o["attributes"]["title"]}})
                })
                .collect();
            for object in objects {
                stored.kibana.insert(key(&object), object);
            }
            axum::Json(json!({"success": true, "successCount": results.len(), "successResults": results, "warnings": []}))
                .into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"statusCode": 404, "message": "Not Found"})),
        )
            .into_response(),
    }
}

/// The content of the multipart part named `file`.
fn multipart_file(seen: &Seen) -> Option<String> {
    let content_type = seen.content_type.as_deref()?;
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let body = String::from_utf8(seen.body.clone()).ok()?;
    body.split(&format!("--{boundary}")).find_map(|part| {
        let (head, content) = part.split_once("\r\n\r\n")?;
        head.contains("name=\"file\"")
            .then(|| content.strip_suffix("\r\n").unwrap_or(content).to_owned())
    })
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
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
