//! Request bodies are read whole, under a size cap and a deadline, before
//! any handler runs.
//!
//! The listener bounds how long a client may take over its headers; this
//! bounds the rest of the request. Without it a client that sends its
//! headers and then trickles (or withholds) its body holds a connection,
//! and a worker's place in the queue, for as long as it likes. Reading here
//! also lets a body over the cap be answered with the limit and the setting
//! that sets it.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::App;
use super::routes::ApiError;

/// Reads the request's body within `server.body_read_timeout_ms` and
/// `server.max_body_bytes`, then hands the request on with the body whole.
pub(crate) async fn read_whole(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let limit = app.server.max_body_bytes;
    let deadline = app.server.body_read_timeout;
    // A declared length over the cap is refused before a byte is read.
    let declared = (parts.headers.get(header::CONTENT_LENGTH))
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large(limit).into_response();
    }
    match tokio::time::timeout(deadline, collect(body, limit)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(error)) => error.into_response(),
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} ms (server.body_read_timeout_ms)",
                deadline.as_millis()
            ),
        )
        .into_response(),
    }
}

/// The body's bytes, refused once they pass `limit`. A body that arrives in
/// one piece is kept as it came, without a copy.
async fn collect(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut pieces: Vec<Bytes> = Vec::new();
    let mut received = 0;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {e}"),
            )
        })?;
        received += piece.len();
        if received > limit {
            return Err(too_large(limit));
        }
        pieces.push(piece);
    }
    Ok(match pieces.len() {
        1 => pieces.pop().expect("one piece"),
        _ => Bytes::from(pieces.concat()),
    })
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is over {limit} bytes (server.max_body_bytes)"),
    )
}
