//! Request bodies are read whole, under a size cap and a deadline, before
//! any handler runs, and all bodies held at once share one budget of
//! memory (`server.max_inflight_body_bytes`): without it, every open
//! connection could hold a body just under the cap while it withholds the
//! last byte, 16 GiB at the default limits.
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
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
        return refused(&app, too_large(limit));
    }
    match tokio::time::timeout(deadline, collect(body, limit, &app.bodies)).await {
        Ok(Ok((bytes, held))) => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            // The body is dropped once its handler has answered.
            drop(held);
            response
        }
        Ok(Err(error)) => refused(&app, error),
        Err(_) => refused(
            &app,
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} ms (server.body_read_timeout_ms)",
                    deadline.as_millis()
                ),
            ),
        ),
    }
}

/// Answers a request refused here, and counts it in
/// `wasmstash_rejected_total`: it never reaches a pipeline, so nothing else
/// would, and an operator would see the client's failures and not why.
/// The pipeline is not known yet (the route has not been matched), so the
/// label says so rather than take a name from the client's URL.
fn refused(app: &App, error: ApiError) -> Response {
    let reason = match error.status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::SERVICE_UNAVAILABLE => "bodies_held_at_once",
        StatusCode::REQUEST_TIMEOUT => "body_timeout",
        _ => "body_unreadable",
    };
    app.metrics.add(
        "wasmstash_rejected_total",
        &[("pipeline", "_before_routing"), ("reason", reason)],
        1,
    );
    error.into_response()
}

/// The body's bytes, refused once they pass `limit`, and their share of
/// `budget` (one permit per byte). A body that arrives in one piece is kept
/// as it came, without a copy.
async fn collect(
    body: Body,
    limit: usize,
    budget: &Arc<Semaphore>,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), ApiError> {
    let mut stream = body.into_data_stream();
    let mut pieces: Vec<Bytes> = Vec::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
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
        // `limit` is at most 1 GiB, so a piece's length fits a u32.
        let share = budget
            .clone()
            .try_acquire_many_owned(piece.len() as u32)
            .map_err(|_| busy())?;
        match &mut held {
            Some(permits) => permits.merge(share),
            None => held = Some(share),
        }
        pieces.push(piece);
    }
    // Joining pieces copies them: for a moment the body is held twice.
    let bytes = match pieces.len() {
        1 => pieces.pop().expect("one piece"),
        _ => Bytes::from(pieces.concat()),
    };
    Ok((bytes, held))
}

/// Too many bytes of request bodies are held at once: the client should
/// come back shortly, as after a 429.
fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "request bodies already take all the memory allowed for them (server.max_inflight_body_bytes); retry shortly"
            .to_owned(),
    )
    .retry_after(1)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is over {limit} bytes (server.max_body_bytes)"),
    )
}
