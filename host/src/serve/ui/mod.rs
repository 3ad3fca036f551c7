//! The live view: `GET /ui`, a page served from the binary that shows what
//! the sidecar is doing right now, updated over server-sent events.
//!
//! - `tap`: the request path's only hook, a bounded byte-budget sampler that
//!   is idle unless a page is open.
//! - `digest`: failures, anomalies, templates and tails from the samples,
//!   masked before they are kept.
//! - `series`: events/s and latency quantiles from the metrics registry.
//! - `access`: the admin token, exchanged for a session cookie.
//!
//! One task does all the work once per `update_ms`: refill the sampling
//! budget, digest the samples, read the metrics, and broadcast one update
//! that every open page shares.

mod access;

pub(crate) use access::{bearer, same_secret};
mod digest;
mod mask;
mod series;
pub mod tap;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::locked;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use super::App;
use super::api_error::ApiError;
use crate::config::UiSettings;
use digest::Digest;
use series::Series;
use tap::Tap;

/// Update streams open at once (pages, tabs); one more is refused (503).
const MAX_STREAMS: usize = 16;

const INDEX_HTML: &str = include_str!("../../../ui/index.html");
const APP_JS: &str = include_str!("../../../ui/app.js");
const APP_CSS: &str = include_str!("../../../ui/app.css");

/// Scripts and styles come only from the binary; event text is only ever
/// inserted as text, and this policy stops anything that slips through.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) struct LiveView {
    pub tap: Arc<Tap>,
    settings: UiSettings,
    digest: Mutex<Digest>,
    series: Mutex<Series>,
    updates: broadcast::Sender<Arc<str>>,
    /// True once the server is stopping: every update stream ends, so an
    /// open page cannot hold up shutdown (a stream never finishes by itself).
    closing: watch::Sender<bool>,
    sessions: access::Sessions,
    last_reload: Mutex<Option<Value>>,
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl LiveView {
    pub fn new(settings: UiSettings, metrics: &crate::metrics::Metrics) -> LiveView {
        LiveView {
            tap: Arc::new(Tap::default()),
            digest: Mutex::new(Digest::new(&settings.mask_fields)),
            series: Mutex::new(Series::new(metrics)),
            settings,
            updates: broadcast::channel(8).0,
            closing: watch::channel(false).0,
            sessions: access::Sessions::default(),
            last_reload: Mutex::new(None),
        }
    }

    /// Ends every open update stream, and any opened from now on.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Remembers the outcome of a reload for the page.
    pub fn reloaded(&self, why: &str, result: Result<&[String], &String>) {
        let (ok, message) = match result {
            Ok(pipelines) => {
                locked(&self.digest).keep_tails_of(pipelines);
                (true, format!("pipelines {}", pipelines.join(", ")))
            }
            Err(e) => (false, e.clone()),
        };
        let t = unix_ms(SystemTime::now());
        *locked(&self.last_reload) =
            Some(json!({"t": t, "ok": ok, "why": why, "message": message}));
    }
}

pub(crate) fn router(app: Arc<App>) -> Router {
    if !app.server.ui.enabled {
        return Router::new();
    }
    let page = |body: &'static str, kind: &'static str| {
        move || async move {
            (
                [
                    (header::CONTENT_TYPE, kind),
                    (header::CONTENT_SECURITY_POLICY, CSP),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    (header::REFERRER_POLICY, "no-referrer"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
        }
    };
    Router::new()
        .route("/ui", get(page(INDEX_HTML, "text/html; charset=utf-8")))
        .route("/ui/", get(page(INDEX_HTML, "text/html; charset=utf-8")))
        .route(
            "/ui/app.js",
            get(page(APP_JS, "text/javascript; charset=utf-8")),
        )
        .route("/ui/app.css", get(page(APP_CSS, "text/css; charset=utf-8")))
        .route("/ui/session", get(session))
        .route("/ui/login", post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/events", get(events))
        .with_state(app)
}

fn denied(denied: access::Denied) -> Response {
    let status = match denied {
        access::Denied::NeedsLogin => StatusCode::UNAUTHORIZED,
        access::Denied::NotLoopback | access::Denied::ThroughProxy(_) => StatusCode::FORBIDDEN,
    };
    let login = denied == access::Denied::NeedsLogin;
    ApiError::new(status, denied.message())
        .with("login", json!(login))
        .into_response()
}

fn check(
    app: &App,
    request: (Version, &HeaderMap),
    peer: SocketAddr,
) -> Result<access::Admitted, access::Denied> {
    let checked = access::check(
        app.admin_token.as_deref(),
        &app.live.sessions,
        request,
        peer,
    );
    // A page with no session is no refusal of a token; a wrong bearer token
    // is, as at the admin API.
    if checked == Err(access::Denied::NeedsLogin) && bearer(request.1).is_some() {
        let endpoint = super::token_refusals::Endpoint::Ui;
        (app.token_refusals).refused(&app.metrics, endpoint, Some(peer));
    }
    checked
}

/// Tells the page whether it may connect, or must show the login form.
async fn session(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    version: Version,
    headers: HeaderMap,
) -> Response {
    match check(&app, (version, &headers), peer) {
        Ok(_) => {
            Json(json!({"ok": true, "token_required": app.admin_token.is_some()})).into_response()
        }
        Err(why) => denied(why),
    }
}

#[derive(serde::Deserialize)]
struct Login {
    token: String,
}

async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(login): Json<Login>,
) -> Response {
    let Some(token) = &app.admin_token else {
        let message = "no admin token is configured; the live view needs no login from loopback";
        return ApiError::new(StatusCode::BAD_REQUEST, message).into_response();
    };
    if !access::same_secret(login.token.trim(), token) {
        // Slows a guesser that tries one token at a time, and no other: tries
        // in parallel each wait their own 500 ms, as bearer tokens on the
        // admin routes wait none. What keeps the token is its length (16
        // characters at least), not this.
        let endpoint = super::token_refusals::Endpoint::UiLogin;
        (app.token_refusals).refused(&app.metrics, endpoint, Some(peer));
        tokio::time::sleep(Duration::from_millis(500)).await;
        return denied(access::Denied::NeedsLogin);
    }
    let id = match app.live.sessions.open() {
        Ok(id) => id,
        Err(e) => {
            let why = format!("cannot create a session: {e}");
            return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, why).into_response();
        }
    };
    setting_cookie(&id.to_string(), access::max_age_seconds())
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    // A logout takes no body, so another site's page could post one with a
    // form and end the operator's session (and streams). Browsers say where
    // a request comes from; only the view's own page may log it out.
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|site| site != "same-origin" && site != "none") {
        let message = "a logout from another site's page is refused";
        return ApiError::new(StatusCode::FORBIDDEN, message).into_response();
    }
    if let Some(id) = access::session_cookie(&headers) {
        app.live.sessions.close(id);
    }
    setting_cookie("", 0)
}

/// An empty answer that sets the session cookie to `value` for
/// `max_age_seconds` (0 ends it): login and logout write it alike, so that
/// the browser takes the logout's as the same cookie.
fn setting_cookie(value: &str, max_age_seconds: u64) -> Response {
    let cookie = format!(
        "{}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}",
        access::COOKIE
    );
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The update stream: a full `hello` first, then one `update` per tick.
/// A page that falls behind is disconnected; `EventSource` reconnects and
/// starts again from a fresh `hello`.
async fn events(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    version: Version,
    headers: HeaderMap,
) -> Response {
    let session = match check(&app, (version, &headers), peer) {
        Ok(access::Admitted::Session(id)) => Some(id),
        Ok(_) => None,
        Err(why) => return denied(why),
    };
    // Each stream holds a copy of the digest in its hello until the page
    // reads it (a page that reads nothing, until `write_timeout_ms` cuts
    // it off): streams are few, so that what they hold stays bounded.
    if app.live.tap.viewers() >= MAX_STREAMS {
        let why = format!(
            "{MAX_STREAMS} live view streams are open already, the most the sidecar serves at once; close a page, or try again"
        );
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, why)
            .retry_after(5)
            .into_response();
    }
    let viewer = app.live.tap.watch();
    let updates = app.live.updates.subscribe();
    let closing = app.live.closing.subscribe();
    let hello = hello(&app).to_string();
    let first = Event::default().event("hello").data(hello);
    let gate = StreamGate { app, session };
    let stream = futures_util::stream::unfold(
        (Some(first), updates, closing, viewer, gate),
        |(first, mut updates, mut closing, viewer, gate)| async move {
            if *closing.borrow_and_update() || !gate.open() {
                return None;
            }
            if let Some(first) = first {
                return Some((
                    Ok::<_, std::convert::Infallible>(first),
                    (None, updates, closing, viewer, gate),
                ));
            }
            tokio::select! {
                received = updates.recv() => match received {
                    Ok(frame) if gate.open() => {
                        let event = Event::default().event("update").data(&*frame);
                        Some((Ok(event), (None, updates, closing, viewer, gate)))
                    }
                    _ => None,
                },
                _ = closing.changed() => None,
            }
        },
    );
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Whether a stream of events may go on: one that a session let in ends
/// with the session (a logout, its expiry, its eviction by newer ones) at
/// its next update, so that a logout in one tab does not leave another
/// showing events.
struct StreamGate {
    app: Arc<App>,
    session: Option<String>,
}

impl StreamGate {
    fn open(&self) -> bool {
        (self.session.as_deref()).is_none_or(|id| self.app.live.sessions.is_open(id))
    }
}

fn hello(app: &App) -> Value {
    let live = &app.live;
    let mut frame = locked(&live.digest).frame(true);
    frame["series"] = json!(locked(&live.series).history());
    frame["overview"] = overview(app);
    frame["update_ms"] = json!(live.settings.update_interval.as_millis() as u64);
    frame["masked"] = json!(live.settings.mask_fields);
    frame
}

/// Modules, memory, exact failure counts from the host, filters' own
/// counters and the last reload: small, and sent whole every time.
fn overview(app: &App) -> Value {
    let metrics = &app.metrics;
    let memory = metrics.gauges_named("wasmstash_instance_memory_bytes");
    let label = crate::metrics::label;
    let (modules, loaded_at, pipelines) = match app.current() {
        Some(set) => {
            let modules: Vec<Value> =
                    set.pipelines
                        .values()
                        .flat_map(|workers| {
                            let pipeline = workers.name();
                            let memory = &memory;
                            workers.modules().iter().map(move |m| {
                        let bytes = memory
                            .iter()
                            .filter(|(l, _)| {
                                label(l, "pipeline") == pipeline && label(l, "filter") == m.name()
                            })
                            .map(|(_, v)| *v)
                            .fold(None, |max: Option<f64>, v| Some(max.map_or(v, |m| m.max(v))));
                        json!({"pipeline": pipeline, "filter": m.name(), "sha256": m.sha256(),
                               "abi": wasmstash_sdk::plumbing::wire::ABI_VERSION, "memory_bytes": bytes,
                               "workers": workers.size()})
                    })
                        })
                        .collect();
            (modules, Some(unix_ms(set.loaded_at)), set.names().join(","))
        }
        None => (Vec::new(), None, String::new()),
    };
    let mut host_failures = serde_json::Map::new();
    for (labels, count) in metrics.counters_named("wasmstash_failures_total") {
        let tag = label(&labels, "tag");
        let total = host_failures.get(tag).and_then(Value::as_u64).unwrap_or(0);
        host_failures.insert(tag.to_owned(), json!(total + count));
    }
    let counters: Vec<Value> = metrics
        .counters_named("wasmstash_filter_counter_total")
        .into_iter()
        .map(|(l, v)| {
            json!({"pipeline": label(&l, "pipeline"), "filter": label(&l, "filter"),
                   "name": label(&l, "name"), "value": v})
        })
        .collect();
    json!({
        "pipelines": pipelines.split(',').filter(|p| !p.is_empty()).collect::<Vec<_>>(),
        "modules": modules,
        "loaded_at": loaded_at,
        "reload": *locked(&app.live.last_reload),
        "host_failures": host_failures,
        "counters": counters,
        "viewers": app.live.tap.viewers(),
    })
}

/// The live view's task: runs for the life of the server.
pub(crate) async fn run(app: Arc<App>) {
    let interval = app.live.settings.update_interval;
    let budget = (app.live.settings.sample_bytes_per_sec as f64 * interval.as_secs_f64()) as usize;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut coverage = app.live.tap.coverage();
    loop {
        ticker.tick().await;
        let samples = app.live.tap.drain();
        app.live.tap.refill(budget);
        let started = std::time::Instant::now();
        // Bounded by the byte budget, but still CPU work: off the reactor.
        let job = app.clone();
        let Ok((frame, seen)) =
            tokio::task::spawn_blocking(move || update(&job, &samples, coverage)).await
        else {
            return; // the runtime is shutting down
        };
        coverage = seen;
        if let Some(frame) = frame {
            let _ = app.live.updates.send(Arc::from(frame));
        }
        // What the view costs, for operators and for bench/serve/ui.sh.
        let spent = started.elapsed().as_micros() as u64;
        app.metrics
            .add("wasmstash_ui_work_microseconds_total", &[], spent);
    }
}

/// One update: digest the samples, read the metrics, and build the frame
/// for the open pages (none if no page is open). `coverage_before` is the
/// tap's coverage at the last update; the current one is returned.
fn update(
    app: &App,
    samples: &[tap::Sample],
    coverage_before: (u64, u64),
) -> (Option<String>, (u64, u64)) {
    let live = &app.live;
    let now = unix_ms(SystemTime::now());
    let point = locked(&live.series).tick(&app.metrics, now).clone();
    let coverage = live.tap.coverage();
    let mut digest = locked(&live.digest);
    for sample in samples {
        digest.add(sample, now);
    }
    if live.updates.receiver_count() == 0 {
        digest.mark_sent();
        return (None, coverage);
    }
    let mut frame = digest.frame(false);
    digest.mark_sent();
    drop(digest);
    frame["point"] = point;
    frame["overview"] = overview(app);
    frame["calls"] = json!({
        "seen": coverage.0 - coverage_before.0,
        "sampled": coverage.1 - coverage_before.1,
    });
    (Some(frame.to_string()), coverage)
}
