//! The HTTP endpoints. Each handler is small: validate, hand the events to the
//! pipeline's workers, encode the answer. Every error is a JSON body
//! `{"error": "..."}` with a status that says whose fault it is.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use wasmstash_sdk::json_text::write_str;

use super::App;
use super::answer::{BatchAnswer, ErrorLine, Pace};
use super::api_error::ApiError;
use super::body::{ShareSlot, busy};
use super::budget::{OverBudget, Share, event_bytes, list_bytes};
use super::ui::tap::BodyKind;
use super::workers::{Done, PipelineWorkers, Rejected};
use crate::event_check::CheckedEvent;
use crate::pipeline::EventResult;

pub(crate) fn router(app: Arc<App>) -> Router {
    // Web pages are kept off the routes that take no token (`cross_site`).
    let no_browsers =
        || axum::middleware::from_fn_with_state(app.clone(), super::cross_site::refuse_browsers);
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }).layer(no_browsers()))
        .route("/readyz", get(readyz).layer(no_browsers()))
        .route("/metrics", get(metrics).layer(no_browsers()))
        .route("/v1/pipelines/{pipeline}/event", post(event).layer(no_browsers()))
        .route("/v1/pipelines/{pipeline}/batch", post(batch).layer(no_browsers()))
        .route("/v1/admin/pipelines", get(super::admin::pipelines))
        .route("/v1/admin/reload", post(super::admin::reload))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such endpoint; see POST /v1/pipelines/{name}/event, POST /v1/pipelines/{name}/batch, \
                 GET /healthz, /readyz, /metrics, /ui, GET /v1/admin/pipelines, POST /v1/admin/reload",
            )
        })
        .layer(DefaultBodyLimit::max(app.server.max_body_bytes))
        .with_state(app)
}

/// The answer to a known path asked with the wrong method, on every router.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method; the pipeline, reload, login and logout \
         endpoints take POST, the others GET",
    )
}

/// Finishes every route's answer, the admin API's and the live view's
/// alike: an error axum wrote itself, in plain text, becomes a JSON error
/// like ours (see `rejections`), and a 401 names the scheme it wants (RFC
/// 9110 requires it).
pub(crate) async fn challenge(response: Response) -> Response {
    let mut response = super::rejections::as_json(response).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        (response.headers_mut())
            .entry(header::WWW_AUTHENTICATE)
            .or_insert(HeaderValue::from_static("Bearer realm=\"wasmstash admin\""));
    }
    response
}

type Answer = Result<Response, ApiError>;

async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.current() {
        Some(set) => Json(json!({ "ready": true, "pipelines": set.names() })).into_response(),
        None => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "loading pipelines")
            .retry_after(1)
            .into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let held = app.budget.held();
    (app.metrics).set("wasmstash_request_body_bytes_held", &[], held as f64);
    let text = app.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

pub(super) fn workers_for(app: &App, pipeline: &str) -> Result<Arc<PipelineWorkers>, ApiError> {
    let Some(set) = app.current() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "pipelines are still loading",
        )
        .retry_after(1));
    };
    set.pipelines.get(pipeline).cloned().ok_or_else(|| {
        // A name from the URL, so as long as a header may be: cut, as no
        // pipeline's name is that long.
        let shown = crate::engine::printable_within(pipeline, 100);
        ApiError::new(StatusCode::NOT_FOUND, format!("no pipeline `{shown}`"))
            .with("pipelines", json!(set.names()))
    })
}

fn body_or_error(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        ApiError::new(
            status,
            format!("cannot read the request body: {}", rejection.body_text()),
        )
    })
}

async fn run(
    app: &App,
    found: &PipelineWorkers,
    events: Vec<CheckedEvent>,
    share: Share,
) -> Result<Done, ApiError> {
    // A batch with no valid line has nothing for a worker: its answer (the
    // lines' errors) must not wait for one, or be refused for want of one.
    if events.is_empty() {
        return Ok((Vec::new(), share));
    }
    // A reload may have replaced the pipeline while the body was checked;
    // the live one takes the events, since the one replaced refuses them
    // once its filter state is being handed over.
    let live = (app.current()).and_then(|set| set.pipelines.get(found.name()).cloned());
    let workers = live.as_deref().unwrap_or(found);
    let count = events.len() as u64;
    let started = std::time::Instant::now();
    let (results, share) = workers
        .run(events, share)
        .await
        .map_err(|rejected| match rejected {
            Rejected::QueueFull => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "all {} workers of this pipeline are busy and the queue is full; send fewer requests at once, or raise server.workers or server.queue",
                    workers.size()
                ),
            )
            .retry_after(1),
            Rejected::QueueTimeout => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no worker of this pipeline was free within server.queue_timeout_ms; send fewer requests at once, or raise server.workers or server.queue_timeout_ms",
            )
            .retry_after(1),
            Rejected::WorkerPanicked => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the worker failed; the events were not processed",
            ),
            Rejected::Replaced => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "a reload replaced this pipeline as the request reached it; the events were not processed, and sent again they reach the new one",
            )
            .retry_after(1),
            Rejected::ShuttingDown => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the sidecar is shutting down and saving its filters' state; the events were not processed: send them again once it is back",
            )
            .retry_after(1),
        })?;
    let counts = workers.request_metrics();
    counts.duration.observe(started.elapsed());
    let dropped = results
        .iter()
        .filter(|r| matches!(r, EventResult::Dropped))
        .count() as u64;
    counts.events_in.add(count);
    counts.events_out.add(count - dropped);
    counts.events_dropped.add(dropped);
    Ok((results, share))
}

/// Counts a pipeline endpoint's request in `wasmstash_requests_total` by
/// its status, and a refusal that carries a reason in
/// `wasmstash_rejected_total` too (the queue's refusals the workers count
/// there themselves).
fn count_request(app: &App, workers: Option<&PipelineWorkers>, endpoint: &str, answer: &Answer) {
    let status = match answer {
        Ok(response) => response.status(),
        Err(error) => error.status,
    };
    if let (StatusCode::OK, Some(workers)) = (status, workers) {
        let counts = workers.request_metrics();
        return match endpoint {
            "event" => counts.ok_event.add(1),
            _ => counts.ok_batch.add(1),
        };
    }
    // Pipeline names in the URL are the client's to choose; only those of
    // loaded pipelines become label values, so metrics cannot grow without
    // bound. Every other request is counted under `_unknown`: a name of no
    // pipeline (404), one that does not decode (400), and any name while
    // the pipelines load (503), when none is known yet.
    let pipeline = workers.map_or("_unknown", PipelineWorkers::name);
    let labels = [
        ("pipeline", pipeline),
        ("endpoint", endpoint),
        ("status", status.as_str()),
    ];
    app.metrics.add("wasmstash_requests_total", &labels, 1);
    if let Err(ApiError {
        rejected: Some(reason),
        ..
    }) = answer
    {
        let labels = [("pipeline", pipeline), ("reason", *reason)];
        app.metrics.add("wasmstash_rejected_total", &labels, 1);
    }
}

/// One event in, as Logstash's `http` filter sends it; the processed event
/// out. A dropped event answers `{"wasmstash":{"dropped":true}}` with the
/// header `x-wasmstash-dropped: true`.
async fn event(
    State(app): State<Arc<App>>,
    pipeline: Result<Path<String>, PathRejection>,
    slot: Option<Extension<ShareSlot>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    pipeline_call(
        &app,
        pipeline,
        "event",
        slot,
        body,
        |workers, body, share| answer_event(&app, workers, body, share),
    )
    .await
}

async fn answer_event(
    app: &App,
    workers: Arc<PipelineWorkers>,
    body: Bytes,
    share: Share,
) -> Answer {
    let (event, share) = off_the_reactor_if_large(body, move |body| {
        let mut share = share;
        let body_bytes = share.bytes();
        let event = checked_copy(&body).map_err(|e| {
            let e = e.to_string();
            // An event and more after it, were meant for the batch endpoint.
            let hint = match e.starts_with("trailing characters") {
                true => "; this endpoint takes one event: send NDJSON, one event a line, to the pipeline's /batch",
                false => "",
            };
            ApiError::new(StatusCode::BAD_REQUEST, format!("invalid event: {e}{hint}"))
        })?;
        share.grow(event_bytes(&event)).map_err(memory_refused)?;
        drop(body);
        share.give_back(body_bytes);
        Ok((event, share))
    })
    .await?;
    let (mut results, share) = run(app, &workers, vec![event], share).await?;
    Ok(match results.pop().expect("one result per event") {
        EventResult::Event(event) => {
            let event = Bytes::from(event);
            app.live.tap.offer(workers.name(), BodyKind::Event, &event);
            let answer = ([(header::CONTENT_TYPE, "application/json")], event).into_response();
            super::body::holding(answer, share)
        }
        EventResult::Dropped => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (
                    header::HeaderName::from_static("x-wasmstash-dropped"),
                    "true",
                ),
            ],
            r#"{"wasmstash":{"dropped":true}}"#,
        )
            .into_response(),
    })
}

/// The frame of both pipeline endpoints: find the pipeline, read the body,
/// answer, and count the request by its final status. A name that does
/// not decode is answered here, not by axum, so that it is counted too.
async fn pipeline_call<F, Fut>(
    app: &App,
    pipeline: Result<Path<String>, PathRejection>,
    endpoint: &str,
    slot: Option<Extension<ShareSlot>>,
    body: Result<Bytes, BytesRejection>,
    answer: F,
) -> Response
where
    F: FnOnce(Arc<PipelineWorkers>, Bytes, Share) -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let found = match pipeline {
        Ok(Path(pipeline)) => workers_for(app, &pipeline),
        Err(rejection) => Err(ApiError::new(rejection.status(), rejection.body_text())),
    };
    let (workers, result) = match found {
        Ok(workers) => {
            // The body's share, which the request resizes as it goes on.
            let share = (slot.and_then(|Extension(slot)| slot.take()))
                .unwrap_or_else(|| Share::new(&app.budget));
            let result = match body_or_error(body) {
                Ok(body) => answer(workers.clone(), without_byte_order_mark(body), share).await,
                Err(error) => Err(error),
            };
            (Some(workers), result)
        }
        Err(error) => (None, Err(error)),
    };
    count_request(app, workers.as_deref(), endpoint, &result);
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The body without a UTF-8 byte-order mark at its start, which some
/// Windows tools write and `wasmstash run` passes over too.
fn without_byte_order_mark(body: Bytes) -> Bytes {
    let skip = body.len() - crate::input::without_byte_order_mark(&body).len();
    body.slice(skip..)
}

/// NDJSON in, NDJSON out: one line per input line, in order. Each answer is
/// `{"event":{...}}`, `{"dropped":true}`, or `{"error":"..."}` for a line that
/// is not a valid event (the other lines are still processed).
async fn batch(
    State(app): State<Arc<App>>,
    pipeline: Result<Path<String>, PathRejection>,
    slot: Option<Extension<ShareSlot>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    pipeline_call(
        &app,
        pipeline,
        "batch",
        slot,
        body,
        |workers, body, share| answer_batch(&app, workers, body, share),
    )
    .await
}

async fn answer_batch(
    app: &App,
    workers: Arc<PipelineWorkers>,
    body: Bytes,
    share: Share,
) -> Answer {
    // Counted before anything is built: a body of newlines alone would
    // otherwise make a list of millions of lines to refuse.
    let lines = ndjson_lines(&body);
    if lines > app.server.max_batch_events {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{lines} lines in one batch (a blank one too: each line gets a result); the limit is {} \
                 (server.max_batch_events)",
                app.server.max_batch_events
            ),
        )
        .rejected("batch_too_large"));
    }
    // The events are copies: the body goes once they are made, and the
    // share stands for them instead.
    let (events, errors, share) = off_the_reactor_if_large(body, move |body| {
        let mut share = share;
        let body_bytes = share.bytes();
        let (events, errors) = check_batch(&body, lines, &mut share).map_err(memory_refused)?;
        drop(body);
        share.give_back(body_bytes);
        Ok((events, errors, share))
    })
    .await?;
    let (results, share) = run(app, &workers, events, share).await?;
    // Counted once the lines' errors are sure to be answered: a batch
    // refused whole (429, 503) is sent again, and would count them again.
    let refused = errors.len() as u64;
    workers.request_metrics().lines_refused.add(refused);
    let pace = Pace {
        grace: app.server.write_timeout,
        min_bytes_per_sec: app.server.min_answer_bytes_per_sec,
    };
    let answer = BatchAnswer::new(results, errors, lines, share, pace);
    if app.live.tap.viewers() > 0 {
        let sample = answer.first_lines(app.live.tap.wants());
        app.live.tap.offer(workers.name(), BodyKind::Batch, &sample);
    }
    let body = axum::body::Body::new(answer);
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

/// The lines of an NDJSON body: a last line without its newline counts,
/// an empty end after the last newline does not.
fn ndjson_lines(body: &[u8]) -> usize {
    let newlines = memchr::memchr_iter(b'\n', body).count();
    newlines + usize::from(!body.is_empty() && !body.ends_with(b"\n"))
}

/// The answer to a request whose events the memory budget cannot take:
/// 503 while other requests hold it (counted under the reason a body the
/// budget cannot take is: the same budget, spent the same way), 413 for
/// one that alone needs more.
fn memory_refused(over: OverBudget) -> ApiError {
    match over {
        OverBudget::Now => busy(),
        OverBudget::Ever { budget } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "this request's body and its events, checked, take more than the {budget} bytes server.max_inflight_body_bytes allows all requests at once: send smaller batches, or raise it"
            ),
        )
        .rejected("over_inflight_budget"),
    }
}

/// How much of a batch's events are made before they are charged: one
/// acquire a line would cost more than the check of a short line.
const CHARGED_STEP: usize = 64 << 10;

/// Each line of a batch of `lines` lines checked: the valid events, in
/// order, and the answer lines of the others. `share` grows by what they
/// take as they are made (in steps of [`CHARGED_STEP`]), or they are
/// given up.
fn check_batch(
    body: &[u8],
    lines: usize,
    share: &mut Share,
) -> Result<(Vec<CheckedEvent>, Vec<ErrorLine>), OverBudget> {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    if body.is_empty() {
        return Ok((events, errors));
    }
    share.grow(list_bytes::<CheckedEvent>(lines))?;
    events.reserve_exact(lines);
    let mut uncharged = 0;
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    for (index, line) in body.split(|&b| b == b'\n').enumerate() {
        match check_line(line, index) {
            Ok(event) => {
                uncharged += event_bytes(&event);
                events.push(event);
            }
            Err(reason) => {
                let mut text = Vec::with_capacity(reason.len() + 16);
                text.extend_from_slice(b"{\"error\":");
                write_str(&mut text, &reason);
                text.extend_from_slice(b"}\n");
                uncharged += super::budget::allocation(text.capacity());
                let before = list_bytes::<ErrorLine>(errors.capacity());
                errors.push((index, text));
                uncharged += list_bytes::<ErrorLine>(errors.capacity()).saturating_sub(before);
            }
        }
        if uncharged >= CHARGED_STEP {
            share.grow(std::mem::take(&mut uncharged))?;
        }
    }
    share.grow(uncharged)?;
    Ok((events, errors))
}

/// Line `index` (from 0) of a batch as an event, or why it is none.
fn check_line(line: &[u8], index: usize) -> Result<CheckedEvent, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if crate::input::is_blank(line) {
        return Err(format!("line {}: empty line", index + 1));
    }
    if line.trim_ascii_start().starts_with(b"[") {
        return Err(format!(
            "line {}: a JSON array, not an event: a batch is NDJSON, one JSON object per line",
            index + 1
        ));
    }
    checked_copy(line).map_err(|e| format!("line {}: invalid event: {e}", index + 1))
}

/// `text` checked, in a copy of its own length, and made as Logstash makes
/// an event from data (`logstash_event`). A request's events wait
/// in the queue as these copies; the room a filter's additions need is
/// made by the worker that adds them, whose memory the queue does not
/// multiply.
fn checked_copy(text: &[u8]) -> Result<CheckedEvent, String> {
    CheckedEvent::new(text.to_vec())
        .map(|event| crate::logstash_event::as_logstash_makes_it(event, None))
}

/// Bodies up to this size are checked on the reactor's thread: that takes
/// a few microseconds, less than a hop to the blocking pool. A larger one
/// (16 MiB may take a second) is checked on the pool, so that it cannot
/// hold up other connections, health checks among them.
const CHECKED_INLINE_BYTES: usize = 64 << 10;

async fn off_the_reactor_if_large<T: Send + 'static>(
    body: Bytes,
    check: impl FnOnce(Bytes) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if body.len() <= CHECKED_INLINE_BYTES {
        return check(body);
    }
    tokio::task::spawn_blocking(move || check(body))
        .await
        .unwrap_or_else(|e| {
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("checking the request body failed: {e}"),
            ))
        })
}
