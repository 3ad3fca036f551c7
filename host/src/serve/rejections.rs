//! axum refuses some requests itself, before a handler of ours runs: a
//! path that does not decode, a JSON body without `Content-Type:
//! application/json` (415), of the wrong shape (422) or not JSON at all
//! (400), a missing extension (500). It answers those in plain text, but
//! every error of this server is JSON `{"error": "..."}`, so that clients
//! parse one shape. Here any such answer, from any route, is turned into
//! ours, with its status, its message and its other headers kept.
//!
//! None of our own answers is a plain-text error, so the content type is
//! what tells axum's apart.

use axum::body::to_bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::api_error::ApiError;

/// axum's messages are a line or two; past this the text is not read and
/// the status's own name is the message.
const MAX_MESSAGE_BYTES: usize = 16 << 10;

/// `response` as a JSON error if it is a plain-text one; otherwise as is.
pub(crate) async fn as_json(response: Response) -> Response {
    let status = response.status();
    let plain_text = (response.headers().get(header::CONTENT_TYPE))
        .and_then(|value| value.to_str().ok())
        .is_some_and(|kind| kind.starts_with("text/plain"));
    if !plain_text || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let message = match to_bytes(body, MAX_MESSAGE_BYTES).await {
        Ok(text) if !text.trim_ascii().is_empty() => {
            String::from_utf8_lossy(text.trim_ascii()).into_owned()
        }
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let mut answer = ApiError::new(status, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().append(name, value.clone());
        }
    }
    answer
}
