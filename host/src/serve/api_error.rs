//! The sidecar's one shape of error answer, `{"error": "..."}` with a
//! status, for every route: the pipeline endpoints, the admin API and the
//! live view. A refusal of a request that was not run also says so in a
//! header, so that a client may send it again.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The header of every answer that says its request was not run and may be
/// sent again (429 and 503 with `Retry-After`); the Logstash gem retries
/// only those.
pub(crate) const NOT_RUN: &str = "x-wasmstash-not-run";

/// An error answer.
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
    /// The reason a pipeline endpoint counts this refusal under in
    /// `wasmstash_rejected_total` (see `routes::count_request`; the body reader
    /// counts its own, see `body::refused`), for a refusal of a limit or a
    /// guard that nothing else counts.
    pub(crate) rejected: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
            retry_after: None,
            rejected: None,
        }
    }

    /// A refusal of a request that was not run, to be sent again after
    /// `seconds`. It also carries [`NOT_RUN`], so that a client can tell it
    /// from a proxy's 503, sent perhaps after the sidecar ran the request.
    pub(crate) fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// The answer with `value` at `key` beside its `error`: what a client
    /// can act on (the pipelines there are, whether to log in).
    pub(crate) fn with(mut self, key: &str, value: Value) -> ApiError {
        self.body[key] = value;
        self
    }

    /// This refusal, counted in `wasmstash_rejected_total` with `reason`.
    pub(crate) fn rejected(mut self, reason: &'static str) -> ApiError {
        self.rejected = Some(reason);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            headers.insert(NOT_RUN, HeaderValue::from_static("1"));
        }
        response
    }
}
