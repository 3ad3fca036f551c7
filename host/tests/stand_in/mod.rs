//! Stand-ins for Elasticsearch and Kibana on a loopback port, for the setup
//! tests: each records every request (method, decoded path, the headers setup
//! must send, the body) and answers the endpoints setup uses with the status
//! codes and JSON shapes the Elasticsearch 8 and Kibana 8 APIs document.
// Each test binary uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Percent-decoded path plus the raw query.
    pub target: String,
    pub authorization: Option<String>,
    pub kbn_xsrf: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Default)]
pub struct Stored {
    pub log: Vec<Seen>,
    /// Elasticsearch: "ilm/NAME", "component/NAME", "index/NAME", "role/NAME",
    /// "user/NAME", "password/NAME" -> stored body.
    pub es: BTreeMap<String, Value>,
    /// Kibana: "type/id" -> the saved object.
    pub kibana: BTreeMap<String, Value>,
    /// Answer every request with this status (401, 403, 503...).
    pub refuse: Option<u16>,
    /// Answer the requests whose `METHOD target` starts with the text with
    /// the status.
    pub refuse_only: Option<(String, u16)>,
    /// Kibana: answer /api/status with 503 this many more times.
    pub kibana_starting: usize,
}

#[derive(Clone, Default)]
pub struct Stand(pub Arc<Mutex<Stored>>);

impl Stand {
    pub fn with<R>(&self, f: impl FnOnce(&mut Stored) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
    pub fn log(&self) -> Vec<Seen> {
        self.with(|s| s.log.clone())
    }
    pub fn clear_log(&self) {
        self.with(|s| s.log.clear())
    }
}

#[derive(Clone, Copy)]
pub enum Role {
    Elasticsearch,
    Kibana,
}

pub async fn start(role: Role, stand: Stand) -> SocketAddr {
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
                if let Some((prefix, status)) = &stored.refuse_only
                    && format!("{} {}", seen.method, seen.target).starts_with(prefix.as_str())
                {
                    return refusal(*status);
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
        // What deploy/es-init.sh sets up.
        ["_security", "user", name, "_password"] => format!("password/{name}"),
        ["_security", "role", name] => format!("role/{name}"),
        ["_security", "user", name] => format!("user/{name}"),
        _ => return not_found(&format!("no handler for [{path}]")),
    };
    let name = key.split_once('/').unwrap().1.to_owned();
    match seen.method.as_str() {
        "PUT" | "POST" => {
            let body: Value = serde_json::from_slice(&seen.body).expect("PUT body is JSON");
            if key.starts_with("index/")
                && let Some(missing) = missing_components(stored, &body)
            {
                return missing;
            }
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

/// Elasticsearch refuses an index template naming component templates that
/// do not exist, unless `ignore_missing_component_templates` lists them.
fn missing_components(stored: &Stored, template: &Value) -> Option<Response> {
    let names = |field: &str| -> Vec<&str> {
        (template[field].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect()
    };
    let may_be_missing = names("ignore_missing_component_templates");
    let missing: Vec<&str> = (names("composed_of").into_iter())
        .filter(|name| !stored.es.contains_key(&format!("component/{name}")))
        .filter(|name| !may_be_missing.contains(name))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let reason = format!(
        "index template [wasmstash-logs] specifies component templates {missing:?} that do not exist"
    );
    let body = json!({"error": {"type": "invalid_index_template_exception", "reason": reason}, "status": 400});
    Some((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
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
pub fn multipart_file(seen: &Seen) -> Option<String> {
    let content_type = seen.content_type.as_deref()?;
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let body = String::from_utf8(seen.body.clone()).ok()?;
    body.split(&format!("--{boundary}")).find_map(|part| {
        let (head, content) = part.split_once("\r\n\r\n")?;
        head.contains("name=\"file\"")
            .then(|| content.strip_suffix("\r\n").unwrap_or(content).to_owned())
    })
}
