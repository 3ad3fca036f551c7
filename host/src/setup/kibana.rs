//! The Kibana half of setup: imports the saved objects in `kibana/*.ndjson`
//! (data view, dashboards) through the saved objects import API.
//!
//! All files go in one request, so a dashboard's reference to the data view
//! resolves within the import whatever the file order. `overwrite=true` with
//! the objects' fixed ids makes a second run replace each object with the same
//! content instead of adding copies.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::SetupError;
use super::connection::{self, Auth, Probe, refused_advice};
use crate::error_chain;
use crate::files::read_capped_text;

/// The most setup sends in its one import request, and so reads: Kibana's
/// default `savedObjects.maxImportPayloadBytes`, 25 MiB.
const MAX_IMPORT_BYTES: u64 = 25 << 20;

/// The ndjson files read from a directory, checked line by line.
pub struct SavedObjects {
    files: Vec<PathBuf>,
    ndjson: String,
}

impl SavedObjects {
    pub fn read_dir(dir: &Path) -> Result<SavedObjects, SetupError> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            SetupError(format!(
                "--kibana-objects {}: {e} (run setup from the repository root, or point it at the kibana/ folder)",
                dir.display()
            ))
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "ndjson"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(SetupError(format!(
                "--kibana-objects {}: no .ndjson files there",
                dir.display()
            )));
        }
        let mut ndjson = String::new();
        for file in &files {
            let text = read_capped_text(file, MAX_IMPORT_BYTES, "saved objects file")
                .map_err(|e| SetupError(format!("{}: {e}", file.display())))?;
            for (index, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let object: Value = serde_json::from_str(line).map_err(|e| {
                    SetupError(format!("{}:{}: not JSON: {e}", file.display(), index + 1))
                })?;
                if !(object["type"].is_string() && object["id"].is_string()) {
                    return Err(SetupError(format!(
                        "{}:{}: a saved object needs a string `type` and `id`",
                        file.display(),
                        index + 1
                    )));
                }
                ndjson.push_str(line.trim_end());
                ndjson.push('\n');
            }
        }
        if ndjson.len() as u64 > MAX_IMPORT_BYTES {
            return Err(SetupError(format!(
                "--kibana-objects {}: the saved objects come to {} bytes, over the {MAX_IMPORT_BYTES} \
                 Kibana takes in one import by default (savedObjects.maxImportPayloadBytes)",
                dir.display(),
                ndjson.len()
            )));
        }
        Ok(SavedObjects { files, ndjson })
    }

    /// The files, for the summary line.
    pub fn sources(&self) -> String {
        self.files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub struct Importer {
    client: reqwest::Client,
    base: String,
    /// `base` as messages show it (`connection::shown`).
    shown: String,
    auth: Auth,
}

impl Importer {
    pub fn new(
        url: &str,
        auth: &Auth,
        ca_pem: Option<&Vec<u8>>,
        request_timeout: Duration,
    ) -> Result<Importer, SetupError> {
        connection::web_url("--kibana-url", url)?;
        let mut builder = reqwest::Client::builder().timeout(request_timeout);
        if let Some(pem) = ca_pem {
            for certificate in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| SetupError(format!("--ca-cert: {}", error_chain(&e))))?
            {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let client = builder
            .build()
            .map_err(|e| SetupError(format!("kibana client: {}", error_chain(&e))))?;
        let base = url.trim_end_matches('/').to_owned();
        Ok(Importer {
            client,
            shown: connection::shown(&base),
            base,
            auth: auth.clone(),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self
            .client
            .request(method, format!("{}{path}", self.base))
            // Kibana refuses writes without it (CSRF protection); harmless on reads.
            .header("kbn-xsrf", "true");
        match &self.auth {
            Auth::None => builder,
            Auth::Basic { username, password } => builder.basic_auth(username, Some(password)),
            Auth::ApiKey(encoded) => builder.header("Authorization", format!("ApiKey {encoded}")),
        }
    }

    /// Waits until Kibana's status API says it is available (it answers 503
    /// while it migrates its own indices after a start).
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), SetupError> {
        connection::wait_for("kibana", &self.shown, timeout, || async {
            let response = match self
                .request(reqwest::Method::GET, "/api/status")
                .send()
                .await
            {
                Ok(response) => response,
                Err(e) => return connection::unanswered(&e),
            };
            let status = response.status().as_u16();
            if status == 401 || status == 403 {
                return Probe::Refused(format!("HTTP {status}; {}", refused_advice(status)));
            }
            if connection::wrong_service(status) {
                return Probe::Refused(format!(
                    "GET /api/status answered HTTP {status}: this is not Kibana's URL (--kibana-url)"
                ));
            }
            let body = match connection::capped_body(response).await {
                Ok(body) => body,
                Err(e) => return connection::unread("GET /api/status", e),
            };
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let level = body["status"]["overall"]["level"].as_str().unwrap_or("");
            match (status, level) {
                (200, "available" | "degraded") => Probe::Ready(()),
                (_, "") => Probe::NotYet(format!("HTTP {status}")),
                _ => Probe::NotYet(format!("HTTP {status}, status {level}")),
            }
        })
        .await
    }

    /// Imports every object; returns one line per imported object.
    pub async fn import(&self, objects: &SavedObjects) -> Result<Vec<String>, SetupError> {
        let part = reqwest::multipart::Part::text(objects.ndjson.clone())
            .file_name("wasmstash.ndjson")
            .mime_str("application/ndjson")
            .expect("a valid MIME type");
        let form = reqwest::multipart::Form::new().part("file", part);
        let response = self
            .request(
                reqwest::Method::POST,
                "/api/saved_objects/_import?overwrite=true",
            )
            .multipart(form)
            .send()
            .await
            .map_err(|e| {
                SetupError(format!(
                    "kibana at {}: importing saved objects: {}",
                    self.shown,
                    error_chain(&e)
                ))
            })?;
        let status = response.status().as_u16();
        let text = connection::capped_body(response).await.map_err(|e| {
            SetupError(format!(
                "kibana at {}: reading the import answer: {e}",
                self.shown
            ))
        })?;
        let text = String::from_utf8_lossy(&text);
        if !(200..300).contains(&status) {
            let reason = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(300).collect());
            let advice = match status {
                401 | 403 => format!("; {}", refused_advice(status)),
                _ => String::new(),
            };
            return Err(SetupError(format!(
                "kibana at {} refused the saved objects import: HTTP {status} ({reason}){advice}",
                self.shown
            )));
        }
        let answer: Value = serde_json::from_str(&text).map_err(|e| {
            SetupError(format!(
                "kibana at {}: unreadable import answer: {e}",
                self.shown
            ))
        })?;
        let errors = answer["errors"].as_array().cloned().unwrap_or_default();
        if answer["success"] != Value::Bool(true) || !errors.is_empty() {
            let listed: Vec<String> = errors.iter().map(describe_error).collect();
            return Err(SetupError(format!(
                "kibana at {}: the import failed for {} object(s): {}",
                self.shown,
                listed.len(),
                listed.join("; ")
            )));
        }
        Ok(answer["successResults"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .map(|r| {
                        format!(
                            "{} {} \"{}\"",
                            r["type"].as_str().unwrap_or("?"),
                            r["id"].as_str().unwrap_or("?"),
                            r["meta"]["title"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// One failed object from Kibana's answer: which object and why.
fn describe_error(error: &Value) -> String {
    let detail = &error["error"];
    let mut why = detail["type"].as_str().unwrap_or("error").to_owned();
    if let Some(references) = detail["references"].as_array() {
        let missing: Vec<String> = references
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["type"].as_str().unwrap_or("?"),
                    r["id"].as_str().unwrap_or("?")
                )
            })
            .collect();
        why.push_str(&format!(" ({})", missing.join(", ")));
    } else if let Some(message) = detail["message"].as_str() {
        why.push_str(&format!(" ({message})"));
    }
    format!(
        "{} {}: {why}",
        error["type"].as_str().unwrap_or("?"),
        error["id"].as_str().unwrap_or("?")
    )
}
