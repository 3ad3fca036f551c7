//! The Elasticsearch half of setup: a lifecycle policy, two component
//! templates (settings, mappings) and the composable index template that
//! joins them, all from the JSON files in `elasticsearch/`, embedded here so
//! the binary carries the mappings it was built with.
//!
//! Idempotence: each body is stamped with `_meta.digest`, the SHA-256 of the
//! file's JSON. Setup reads the installed object first and writes only when
//! the digest differs, so a second run sends no writes at all (Elasticsearch
//! would otherwise bump versions and `modified_date` on every run).

use std::time::Duration;

use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::cluster::{
    ClusterGetComponentTemplateParts, ClusterHealthParts, ClusterPutComponentTemplateParts,
};
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::ilm::{IlmGetLifecycleParts, IlmPutLifecycleParts};
use elasticsearch::indices::{IndicesGetIndexTemplateParts, IndicesPutIndexTemplateParts};
use elasticsearch::{Elasticsearch, Error as EsError};
use serde_json::{Value, json};

use super::connection::{self, Auth, Probe, Unread, refused_advice};
use super::{Outcome, SetupError};
use crate::error_chain;

/// The policy every wasmstash data stream uses (named in the settings component).
pub const ILM_POLICY: &str = "wasmstash-logs";
pub const SETTINGS_COMPONENT: &str = "wasmstash-logs@settings";
pub const MAPPINGS_COMPONENT: &str = "wasmstash-logs@mappings";
pub const INDEX_TEMPLATE: &str = "wasmstash-logs";

#[derive(Clone, Copy)]
enum Kind {
    IlmPolicy,
    ComponentTemplate,
    IndexTemplate,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::IlmPolicy => "lifecycle policy",
            Kind::ComponentTemplate => "component template",
            Kind::IndexTemplate => "index template",
        }
    }
}

/// In install order: the index template names the components, the settings
/// component names the policy, and Elasticsearch checks both on PUT.
const ASSETS: &[(Kind, &str, &str)] = &[
    (
        Kind::IlmPolicy,
        ILM_POLICY,
        include_str!("../../../elasticsearch/ilm-policy.json"),
    ),
    (
        Kind::ComponentTemplate,
        SETTINGS_COMPONENT,
        include_str!("../../../elasticsearch/component-settings.json"),
    ),
    (
        Kind::ComponentTemplate,
        MAPPINGS_COMPONENT,
        include_str!("../../../elasticsearch/component-mappings.json"),
    ),
    (
        Kind::IndexTemplate,
        INDEX_TEMPLATE,
        include_str!("../../../elasticsearch/index-template.json"),
    ),
];

pub struct Installer {
    client: Elasticsearch,
    /// The URL as messages show it (`connection::shown`).
    url: String,
}

impl Installer {
    pub fn new(
        url: &str,
        auth: &Auth,
        ca_pem: Option<&Vec<u8>>,
        request_timeout: Duration,
    ) -> Result<Installer, SetupError> {
        connection::web_url("--es-url", url)?;
        let parsed = elasticsearch::http::Url::parse(url).map_err(|e| {
            SetupError(format!(
                "--es-url {}: not a URL: {e}",
                connection::shown(url)
            ))
        })?;
        let mut builder =
            TransportBuilder::new(SingleNodeConnectionPool::new(parsed)).timeout(request_timeout);
        match auth {
            Auth::None => {}
            Auth::Basic { username, password } => {
                builder = builder.auth(Credentials::Basic(username.clone(), password.clone()));
            }
            Auth::ApiKey(encoded) => {
                builder = builder.auth(Credentials::EncodedApiKey(encoded.clone()));
            }
        }
        if let Some(pem) = ca_pem {
            let certificate = Certificate::from_pem(pem)
                .map_err(|e| SetupError(format!("--ca-cert: {}", error_chain(&e))))?;
            builder = builder.cert_validation(CertificateValidation::Full(certificate));
        }
        let transport = builder
            .build()
            .map_err(|e| SetupError(format!("elasticsearch client: {}", error_chain(&e))))?;
        Ok(Installer {
            client: Elasticsearch::new(transport),
            url: connection::shown(url),
        })
    }

    /// Waits for the cluster to answer with yellow or green health; returns it.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<String, SetupError> {
        connection::wait_for("elasticsearch", &self.url, timeout, || async {
            let response = self
                .client
                .cluster()
                .health(ClusterHealthParts::None)
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                Err(e) => return connection::unanswered(&e),
            };
            let status = response.status_code().as_u16();
            if connection::wrong_service(status) {
                return Probe::Refused(format!(
                    "GET /_cluster/health answered HTTP {status}: this is not Elasticsearch's URL (--es-url)"
                ));
            }
            let body = match body_of(response).await {
                Ok(body) => body,
                Err(e) => return connection::unread("GET /_cluster/health", e),
            };
            if status == 401 || status == 403 {
                return Probe::Refused(format!(
                    "HTTP {status} ({}); {}",
                    error_reason(&String::from_utf8_lossy(&body)),
                    refused_advice(status)
                ));
            }
            let body: Value = match serde_json::from_slice(&body) {
                Ok(body) => body,
                Err(e) => return Probe::NotYet(format!("HTTP {status}: {e}")),
            };
            match body["status"].as_str() {
                Some(health @ ("green" | "yellow")) if status == 200 => {
                    Probe::Ready(health.to_owned())
                }
                Some(health) => Probe::NotYet(format!("cluster health {health}")),
                None => Probe::NotYet(format!("HTTP {status}")),
            }
        })
        .await
    }

    /// Installs every asset that is missing or differs, telling `done` what
    /// was done to each, labelled for the summary, as soon as it is done: a
    /// later step that fails must not hide the ones already written.
    pub async fn install(&self, mut done: impl FnMut(String, Outcome)) -> Result<(), SetupError> {
        for &(kind, name, text) in ASSETS {
            let body = stamped(kind, text);
            let wanted = digest_of(kind, name, &body);
            let installed = self.installed_digest(kind, name).await?;
            let outcome = match installed {
                Some(ref have) if Some(have) == wanted.as_ref() => Outcome::Unchanged,
                Some(_) => Outcome::Updated,
                None => Outcome::Created,
            };
            if outcome != Outcome::Unchanged {
                self.put(kind, name, body).await?;
            }
            done(format!("{} {name}", kind.label()), outcome);
        }
        Ok(())
    }

    /// The digest of what is installed under `name`: `None` if there is no such
    /// object, `Some("")` if there is one without our stamp.
    async fn installed_digest(&self, kind: Kind, name: &str) -> Result<Option<String>, SetupError> {
        let sent = match kind {
            Kind::IlmPolicy => {
                self.client
                    .ilm()
                    .get_lifecycle(IlmGetLifecycleParts::Policy(name))
                    .send()
                    .await
            }
            Kind::ComponentTemplate => {
                self.client
                    .cluster()
                    .get_component_template(ClusterGetComponentTemplateParts::Name(&[name]))
                    .send()
                    .await
            }
            Kind::IndexTemplate => {
                self.client
                    .indices()
                    .get_index_template(IndicesGetIndexTemplateParts::Name(name))
                    .send()
                    .await
            }
        };
        let response = self.checked(sent, kind, name, "reading").await?;
        let Some(response) = response else {
            return Ok(None);
        };
        let body = (body_of(response).await)
            .map_err(|e| e.to_string())
            .and_then(|body| serde_json::from_slice::<Value>(&body).map_err(|e| e.to_string()))
            .map_err(|e| {
                SetupError(format!(
                    "elasticsearch at {}: reading {} {name}: unreadable answer: {e}",
                    self.url,
                    kind.label(),
                ))
            })?;
        let digest = digest_of(kind, name, &body).unwrap_or_default();
        Ok(Some(digest))
    }

    async fn put(&self, kind: Kind, name: &str, body: Value) -> Result<(), SetupError> {
        let sent = match kind {
            Kind::IlmPolicy => {
                self.client
                    .ilm()
                    .put_lifecycle(IlmPutLifecycleParts::Policy(name))
                    .body(body)
                    .send()
                    .await
            }
            Kind::ComponentTemplate => {
                self.client
                    .cluster()
                    .put_component_template(ClusterPutComponentTemplateParts::Name(name))
                    .body(body)
                    .send()
                    .await
            }
            Kind::IndexTemplate => {
                self.client
                    .indices()
                    .put_index_template(IndicesPutIndexTemplateParts::Name(name))
                    .body(body)
                    .send()
                    .await
            }
        };
        match self.checked(sent, kind, name, "installing").await? {
            Some(_) => Ok(()),
            None => Err(SetupError(format!(
                "elasticsearch at {}: installing {} {name}: HTTP 404",
                self.url,
                kind.label()
            ))),
        }
    }

    /// A 2xx answer, `None` for a 404, or the error worded for the operator.
    async fn checked(
        &self,
        sent: Result<Response, EsError>,
        kind: Kind,
        name: &str,
        doing: &str,
    ) -> Result<Option<Response>, SetupError> {
        let what = format!("{doing} {} {name}", kind.label());
        let response = sent.map_err(|e| {
            SetupError(format!(
                "elasticsearch at {}: {what}: {}",
                self.url,
                error_chain(&e)
            ))
        })?;
        let status = response.status_code().as_u16();
        match status {
            200..=299 => Ok(Some(response)),
            404 => Ok(None),
            _ => {
                let body = (body_of(response).await).unwrap_or_else(|e| e.to_string().into_bytes());
                let body = String::from_utf8_lossy(&body);
                let advice = match status {
                    401 | 403 => format!("; {}", refused_advice(status)),
                    _ => String::new(),
                };
                Err(SetupError(format!(
                    "elasticsearch at {} refused {what}: HTTP {status} ({}){advice}",
                    self.url,
                    error_reason(&body)
                )))
            }
        }
    }
}

/// The asset's body with `_meta` saying who installed it and from what.
fn stamped(kind: Kind, text: &str) -> Value {
    let mut body: Value = serde_json::from_str(text).expect("embedded asset is JSON (tested)");
    let digest = crate::engine::sha256_hex(&serde_json::to_vec(&body).expect("a Value serialises"));
    let meta = json!({ "managed_by": "wasmstash setup", "digest": digest });
    match kind {
        Kind::IlmPolicy => body["policy"]["_meta"] = meta,
        Kind::ComponentTemplate | Kind::IndexTemplate => body["_meta"] = meta,
    }
    body
}

/// Finds `_meta.digest` in a body we send or in Elasticsearch's GET answer,
/// whose shapes differ per kind.
fn digest_of(kind: Kind, name: &str, body: &Value) -> Option<String> {
    let meta = match kind {
        Kind::IlmPolicy => body
            .get(name)
            .map_or(&body["policy"], |entry| &entry["policy"])
            .get("_meta"),
        Kind::ComponentTemplate => {
            first_named(body, "component_templates", "component_template", name)
                .unwrap_or(body)
                .get("_meta")
        }
        Kind::IndexTemplate => first_named(body, "index_templates", "index_template", name)
            .unwrap_or(body)
            .get("_meta"),
    };
    meta?.get("digest")?.as_str().map(str::to_owned)
}

fn first_named<'a>(body: &'a Value, list: &str, field: &str, name: &str) -> Option<&'a Value> {
    body.get(list)?
        .as_array()?
        .iter()
        .find(|entry| entry["name"] == name)
        .map(|entry| &entry[field])
}

/// Elasticsearch's `error.reason` (or the start of the body).
fn error_reason(body: &str) -> String {
    let Ok(answer) = serde_json::from_str::<Value>(body) else {
        return body.chars().take(300).collect();
    };
    if let Some(text) = answer["error"].as_str() {
        return text.to_owned();
    }
    // The cause is often the part to act on: "composable template ... is
    // invalid", caused by "mapper [source.ip] cannot be changed ...".
    let mut reasons: Vec<&str> = Vec::new();
    let mut error = &answer["error"];
    while let Some(reason) = error["reason"].as_str() {
        if reasons.len() == 8 {
            break;
        }
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
        error = &error["caused_by"];
    }
    if reasons.is_empty() {
        return body.chars().take(300).collect();
    }
    reasons.join("; caused by: ")
}

/// An answer's body, refused unread when it says it is larger than
/// [`connection::MAX_ANSWER_BYTES`]. The client reads a body whole and has
/// no way to stop partway, so an answer that does not give its length is
/// bounded by `--request-timeout` alone.
async fn body_of(response: Response) -> Result<Vec<u8>, Unread> {
    if response
        .content_length()
        .is_some_and(|n| n > connection::MAX_ANSWER_BYTES)
    {
        return Err(Unread::TooLarge);
    }
    let body = response.bytes().await;
    body.map(|b| b.to_vec())
        .map_err(|e| Unread::Broken(error_chain(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_json_and_stamped_where_elasticsearch_keeps_meta() {
        for &(kind, name, text) in ASSETS {
            let body = stamped(kind, text);
            let digest = digest_of(kind, name, &body).expect("stamped");
            assert_eq!(digest.len(), 64, "{name}");
        }
    }

    #[test]
    fn an_error_names_its_causes() {
        let answer = json!({"error": {
            "type": "illegal_argument_exception",
            "reason": "composable template [wasmstash-logs] is invalid",
            "caused_by": {
                "type": "illegal_argument_exception",
                "reason": "mapper [source.ip] cannot be changed from type [keyword] to [ip]"
            }
        }, "status": 400});
        assert_eq!(
            error_reason(&answer.to_string()),
            "composable template [wasmstash-logs] is invalid; caused by: \
             mapper [source.ip] cannot be changed from type [keyword] to [ip]"
        );
        assert_eq!(error_reason(r#"{"error": "plain"}"#), "plain");
        assert_eq!(error_reason("not json"), "not json");
    }

    #[test]
    fn digest_is_read_back_from_get_answers() {
        let body = stamped(Kind::IndexTemplate, ASSETS[3].2);
        let answer =
            json!({"index_templates": [{"name": INDEX_TEMPLATE, "index_template": body.clone()}]});
        assert_eq!(
            digest_of(Kind::IndexTemplate, INDEX_TEMPLATE, &answer),
            digest_of(Kind::IndexTemplate, INDEX_TEMPLATE, &body)
        );
        let policy = stamped(Kind::IlmPolicy, ASSETS[0].2);
        let answer = json!({ILM_POLICY: {"version": 3, "policy": policy["policy"].clone()}});
        assert!(digest_of(Kind::IlmPolicy, ILM_POLICY, &answer).is_some());
        let foreign = json!({"index_templates": [{"name": INDEX_TEMPLATE, "index_template": {"index_patterns": ["x"]}}]});
        assert_eq!(
            digest_of(Kind::IndexTemplate, INDEX_TEMPLATE, &foreign),
            None
        );
    }
}
