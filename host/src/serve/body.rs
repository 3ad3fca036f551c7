//! Request bodies are read whole, under a size cap and a deadline, before
//! any handler runs, and each takes its share of one budget of memory
//! (`server.max_inflight_body_bytes`, see `budget`): without it, every open
//! connection could hold a body just under the cap while it withholds the
//! last byte, 16 GiB at the default limits. The share goes on to the
//! handler, which resizes it to what the request holds next, and then to
//! the answer until it is written: a client that reads slowly holds its
//! answer for as long as it keeps taking a byte within
//! `server.write_timeout_ms`.
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
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::App;
use super::api_error::ApiError;
use super::budget::{Budget, Share};

/// Reads the request's body within `server.body_read_timeout_ms` and
/// `server.max_body_bytes`, then hands the request on with the body whole.
pub(crate) async fn read_whole(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let declared = (parts.headers.get(header::CONTENT_LENGTH))
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if let Some(error) = unsupported_coding(&parts.headers, declared) {
        return refused(&app, error);
    }
    let limit = app.server.max_body_bytes;
    let deadline = app.server.body_read_timeout;
    // A declared length over the cap is refused before a byte is read.
    if declared.is_some_and(|length| length > limit as u64) {
        return refused(&app, too_large(limit));
    }
    let collected = collect(body, limit, declared, &app.budget);
    let mut stopping = app.stopping.subscribe();
    let read = tokio::select! {
        read = tokio::time::timeout(deadline, collected) => read,
        _ = stopping.wait_for(|stopping| *stopping) => return refused(
            &app,
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the sidecar is shutting down and this request's body had not all arrived: \
                 nothing of it was run; send it again",
            )
            .retry_after(1)
            .rejected("shutting_down"),
        ),
    };
    match read {
        Ok(Ok((bytes, share))) => {
            let slot = ShareSlot::new(share);
            let mut request = Request::from_parts(parts, Body::from(bytes));
            request.extensions_mut().insert(slot.clone());
            let response = next.run(request).await;
            // A handler that did not take the share has dropped the body
            // by now; its share goes to the answer.
            match slot.take() {
                Some(share) => charged(response, share),
                None => response,
            }
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
            )
            .rejected("body_timeout"),
        ),
    }
}

/// A request's [`Share`] of the budget, handed from here to its handler
/// through the request's extensions. A handler that takes it makes its
/// answer hold it; one that does not leaves it here, and the answer then
/// holds the share its length needs.
#[derive(Clone)]
pub(crate) struct ShareSlot(Arc<std::sync::Mutex<Option<Share>>>);

impl ShareSlot {
    fn new(share: Share) -> ShareSlot {
        ShareSlot(Arc::new(std::sync::Mutex::new(Some(share))))
    }

    pub(crate) fn take(&self) -> Option<Share> {
        crate::locked(&self.0).take()
    }
}

/// `response` holding the share of the budget its answer takes until the
/// answer is written or given up: `share` resized to the answer's length.
fn charged(response: Response, mut share: Share) -> Response {
    let answer = http_body::Body::size_hint(response.body())
        .exact()
        .map_or(0, |length| length as usize);
    share.resize(answer);
    holding(response, share)
}

/// `response` holding `share` until its answer is written or given up.
pub(crate) fn holding(response: Response, share: Share) -> Response {
    if share.bytes() == 0 {
        return response;
    }
    response.map(|body| {
        Body::new(Charged {
            answer: body,
            taken: Bytes::new(),
            _share: share,
        })
    })
}

/// How much of an answer hyper is handed at a time. Handed all at once,
/// hyper would take the whole answer into its write queue and drop the
/// body at once, its share given back with nothing yet written; a piece at
/// a time, it asks for the next only once it has room, so the last piece
/// (and the share's end) comes when the answer is nearly all written.
pub(crate) const ANSWER_PIECE: usize = 64 << 10;

/// An answer and its share of the bodies' budget, given back when hyper
/// drops it: its last piece taken, or the connection gone.
struct Charged {
    answer: Body,
    /// The rest of a frame of `answer` that hyper has not been handed yet
    /// (slices share the frame's memory: no copy).
    taken: Bytes,
    _share: Share,
}

impl Charged {
    fn next_piece(&mut self) -> http_body::Frame<Bytes> {
        let length = self.taken.len().min(ANSWER_PIECE);
        http_body::Frame::data(self.taken.split_to(length))
    }
}

impl http_body::Body for Charged {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        use std::task::Poll;
        if !self.taken.is_empty() {
            return Poll::Ready(Some(Ok(self.next_piece())));
        }
        let frame = match std::pin::Pin::new(&mut self.answer).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        match frame.into_data() {
            Ok(data) => {
                self.taken = data;
                Poll::Ready(Some(Ok(self.next_piece())))
            }
            Err(frame) => Poll::Ready(Some(Ok(frame))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.taken.is_empty() && self.answer.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let hint = self.answer.size_hint();
        let taken = self.taken.len() as u64;
        let mut whole = http_body::SizeHint::new();
        if let Some(upper) = hint.upper() {
            whole.set_upper(upper + taken);
        }
        whole.set_lower(hint.lower() + taken);
        whole
    }
}

/// Nothing here decompresses: a body sent compressed would otherwise be
/// read as the bytes it came in, and refused as invalid UTF-8 or JSON
/// (`Content-Encoding`), or taken as it is (a `Transfer-Encoding` before
/// `chunked`, which hyper leaves to the server). Either gets a status that
/// names the coding. `declared` is the Content-Length, if any.
fn unsupported_coding(headers: &axum::http::HeaderMap, declared: Option<u64>) -> Option<ApiError> {
    let empty = declared == Some(0)
        || (declared.is_none() && !headers.contains_key(header::TRANSFER_ENCODING));
    if empty {
        // A GET with a stray header has no body to misread.
        return None;
    }
    let codings = |name| {
        let values = headers.get_all(name).iter();
        let names = values.flat_map(|v| v.to_str().unwrap_or("?").split(','));
        names
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_ascii_lowercase)
    };
    if let Some(coding) = codings(header::CONTENT_ENCODING).find(|c| c != "identity") {
        return Some(
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding `{coding}` is not supported: send the body uncompressed"),
            )
            .rejected("body_coding"),
        );
    }
    let transfer = codings(header::TRANSFER_ENCODING).find(|c| c != "chunked");
    transfer.map(|coding| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("Transfer-Encoding `{coding}` is not supported: only `chunked` is"),
        )
        .rejected("body_coding")
    })
}

/// Answers a request refused here, and counts it in
/// `wasmstash_rejected_total` under the reason `error` was given (each
/// refusal here names its own; a body that broke off is
/// `body_unreadable`): it never reaches a pipeline, so nothing else
/// would, and an operator would see the client's failures and not why.
/// The pipeline is not known yet (the route has not been matched), so the
/// label says so rather than take a name from the client's URL.
///
/// The body was not read to its end, so hyper closes the connection after
/// this answer. It says so (`Connection: close`): a client that keeps
/// connections would otherwise write its next request on this one, and
/// the close that follows would fail a request it could not tell was
/// never run (the gem's split halves of a refused batch did, under load).
fn refused(app: &App, error: ApiError) -> Response {
    let reason = error.rejected.unwrap_or("body_unreadable");
    app.metrics.add(
        "wasmstash_rejected_total",
        &[("pipeline", "_before_routing"), ("reason", reason)],
        1,
    );
    let mut response = error.into_response();
    (response.headers_mut()).insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The body's bytes, refused once they pass `limit`, and their share of
/// `budget`: the memory the body takes, charged before it is taken.
/// `declared` is the Content-Length, if any (not over `limit`).
async fn collect(
    body: Body,
    limit: usize,
    declared: Option<u64>,
    budget: &Arc<Budget>,
) -> Result<(Bytes, Share), ApiError> {
    // A buffer that doubles need not pass the length the client declared,
    // nor the cap.
    let ceiling = declared.map_or(limit, |length| (length as usize).min(limit));
    let mut stream = body.into_data_stream();
    let mut gathered = Gathered::Nothing;
    let mut share = Share::new(budget);
    let mut received = 0;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {}", crate::error_chain(&e)),
            )
        })?;
        if piece.is_empty() {
            continue;
        }
        received += piece.len();
        if received > limit {
            return Err(too_large(limit));
        }
        let size = gathered.size_with(received, ceiling);
        let more = size - gathered.size();
        share.grow(more).map_err(|_| busy())?;
        gathered = gathered.add(piece, size);
    }
    Ok((gathered.into_bytes(), share))
}

/// A body as it arrives. The first piece is kept as it came, without a
/// copy, so a body that arrives whole costs its length. Once a second
/// piece comes, the pieces are copied into one buffer and let go: kept
/// apiece, each would cost its own bookkeeping (a body sent one byte per
/// chunk took some 37 bytes of memory per byte). The buffer doubles as it
/// grows, so it is at most twice what has arrived; while it grows, the old
/// copy is held for a moment too.
enum Gathered {
    Nothing,
    One(Bytes),
    Joined(Vec<u8>),
}

impl Gathered {
    /// The bytes of memory held now.
    fn size(&self) -> usize {
        match self {
            Gathered::Nothing => 0,
            Gathered::One(piece) => piece.len(),
            Gathered::Joined(buffer) => buffer.capacity(),
        }
    }

    /// The bytes of memory held once a piece is added, `received` in all.
    fn size_with(&self, received: usize, ceiling: usize) -> usize {
        match self {
            Gathered::Nothing => received,
            Gathered::Joined(buffer) if received <= buffer.capacity() => buffer.capacity(),
            _ => received.max((2 * self.size()).min(ceiling)),
        }
    }

    /// `piece` added, in a buffer of `size` bytes once there are two.
    fn add(self, piece: Bytes, size: usize) -> Gathered {
        match self {
            Gathered::Nothing => Gathered::One(piece),
            Gathered::One(first) => {
                let mut buffer = Vec::with_capacity(size);
                buffer.extend_from_slice(&first);
                buffer.extend_from_slice(&piece);
                Gathered::Joined(buffer)
            }
            Gathered::Joined(mut buffer) => {
                buffer.reserve_exact(size - buffer.len());
                buffer.extend_from_slice(&piece);
                Gathered::Joined(buffer)
            }
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Gathered::Nothing => Bytes::new(),
            Gathered::One(piece) => piece,
            Gathered::Joined(buffer) => Bytes::from(buffer),
        }
    }
}

/// The `wasmstash_rejected_total` reason of a request refused because
/// requests in progress hold all of `server.max_inflight_body_bytes`,
/// while its body arrived or while its events were made.
pub(crate) const BUDGET_SPENT: &str = "bodies_held_at_once";

/// Too many bytes of request bodies are held at once: the client should
/// come back shortly, as after a 429.
pub(crate) fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "requests in progress (their bodies, their events, and answers not yet written) already take all the memory allowed for them (server.max_inflight_body_bytes); retry shortly"
            .to_owned(),
    )
    .retry_after(1)
    .rejected(BUDGET_SPENT)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is over {limit} bytes (server.max_body_bytes)"),
    )
    .rejected("body_too_large")
}
