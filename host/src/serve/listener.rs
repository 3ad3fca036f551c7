//! Accepting connections, with the limits `axum::serve` does not set.
//!
//! A client that opens a connection and sends its request headers a byte at
//! a time (or never) would otherwise hold that connection, and its memory,
//! for as long as it likes; enough of them exhaust the process's file
//! descriptors. So every connection gets a deadline for its request headers
//! (`server.header_read_timeout_ms`), its writes must make progress within
//! `server.write_timeout_ms` (see `write_deadline`), and at most `server.max_connections`
//! are open at once: past that, a new connection is answered 503 and closed
//! (see `turn_away`), never served. Shutdown stops accepting, lets each
//! open connection finish the request it is serving, for at most the drain
//! limit the shutdown future resolves to, then returns what it left open.
//!
//! A connection between two requests is not closed at once either: its
//! client may be sending its next request at that moment, and would see
//! the connection close with no answer, unable to tell whether the request
//! ran. For `server.shutdown_linger_ms` (part of the drain) every request
//! that arrives is answered 503 with `Retry-After` and `Connection:
//! close`, and every answer written carries `Connection: close`, so
//! clients leave of their own accord; then what is left closes. A
//! connection that has not yet sent one whole request head is closed then:
//! nothing of it has run, and hyper would wait out its header deadline for
//! a client sending its headers slowly.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::answer::SlowReader;
use super::write_deadline::WriteDeadline;
use crate::metrics::Metrics;

/// The per-connection limits, from the `[server]` table.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub write_timeout: Duration,
    /// The least rate at which a client must take an answer the server is
    /// waiting to write more of (0: none).
    pub min_answer_bytes_per_sec: u64,
    /// The most a connection buffers of a request's head (431 past it).
    pub max_header_bytes: usize,
    /// How long connections stay open at shutdown to turn requests away
    /// cleanly (see the module's comment); zero closes them at once.
    pub shutdown_linger: Duration,
    /// The most of a turned-away request's body read (and dropped) before
    /// its answer, so that the close does not reset the connection (which
    /// would lose the answer) over bytes left unread.
    pub max_body_bytes: usize,
}

/// How the drain after shutdown ended.
#[derive(Debug, Clone, Copy)]
pub struct Drained {
    /// How long it could wait.
    pub limit: Duration,
    /// Every connection finished its request (and closed) within `limit`.
    pub finished: bool,
    /// Requests not yet answered when the drain ended (0 if `finished`).
    pub unanswered: usize,
    /// Connections still open when the drain ended (0 if `finished`).
    pub connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves to the drain
/// limit, then waits, for that long at most, for the open connections to
/// finish their current requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = Duration>,
) -> Drained {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let turning_away = Arc::new(Semaphore::new(TURNED_AWAY_AT_ONCE));
    // Requests whose handler has not answered yet, for the shutdown's report.
    let unanswered = Arc::new(AtomicUsize::new(0));
    let graceful = GracefulShutdown::new();
    // Begins with the shutdown; `draining` below only once it ends.
    let linger = Arc::new(Linger::default());
    let (draining, drain_seen) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let drain_limit = loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Usually out of file descriptors: back off rather than
                    // spin, and keep serving the connections already open.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            limit = &mut shutdown => break limit,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            metrics.add(
                "wasmstash_connections_refused_total",
                &[("reason", "max_connections")],
                1,
            );
            turn_away(stream, &turning_away, limits);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let unanswered = unanswered.clone();
        let requested = Arc::new(AtomicBool::new(false));
        let head_read = requested.clone();
        let linger = linger.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            head_read.store(true, Ordering::SeqCst);
            // What `into_make_service_with_connect_info` would add: the live
            // view logs who opened it.
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            let pending = Unanswered::count(&unanswered);
            let linger = linger.clone();
            async move {
                let _pending = pending;
                if linger.on.load(Ordering::SeqCst) {
                    linger.turned_away.fetch_add(1, Ordering::SeqCst);
                    let response = refused(request, limits.shutdown_linger, limits, SHUTTING_DOWN);
                    return Ok::<_, std::convert::Infallible>(response.await);
                }
                // Routers never fail (errors are responses): `Err` is `Infallible`.
                let mut response = router.oneshot(request).await?;
                if linger.on.load(Ordering::SeqCst) {
                    closing(&mut response);
                }
                Ok(response)
            }
        });
        // Half-closes stay off (hyper's default): a client that shuts its
        // side is taken as gone, so a request whose client hung up while it
        // waited is withdrawn (`workers`), not run for nobody.
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_header_size(limits.max_header_bytes)
            .max_buf_size(limits.max_header_bytes)
            .serve_connection(
                TokioIo::new(WriteDeadline::new(
                    stream,
                    limits.write_timeout,
                    limits.min_answer_bytes_per_sec,
                )),
                service,
            );
        let connection = graceful.watch(connection);
        let metrics = metrics.clone();
        let mut drain_seen = drain_seen.clone();
        tokio::spawn(async move {
            tokio::select! {
                ended = connection => if let Err(e) = ended {
                    count_cut_off(&metrics, peer, &e);
                },
                // Dropping the connection closes it.
                () = unrequested_at_drain(&mut drain_seen, &requested) => {
                    tracing::debug!(%peer, "closed at shutdown before a whole request head arrived");
                }
            }
            drop(permit);
        });
    };
    // Before the listener closes: a client refused a new connection knows
    // the requests it sends on the old ones are turned away.
    linger.on.store(true, Ordering::SeqCst);
    drop(listener);
    let drain_began = Instant::now();
    let lingers_for = limits.shutdown_linger.min(drain_limit);
    if !lingers_for.is_zero() {
        // Every permit back: every connection has closed.
        let all_closed = open.acquire_many(limits.max_connections as u32);
        let _ = tokio::time::timeout(lingers_for, all_closed).await;
    }
    match linger.turned_away.load(Ordering::SeqCst) {
        0 => {}
        n => tracing::info!("turned {n} request(s) away while shutting down (503, not run)"),
    }
    let _ = draining.send(true);
    let rest_of_drain = drain_limit.saturating_sub(drain_began.elapsed());
    let finished = tokio::time::timeout(rest_of_drain, graceful.shutdown())
        .await
        .is_ok();
    Drained {
        limit: drain_limit,
        finished,
        unanswered: if finished {
            0
        } else {
            unanswered.load(Ordering::SeqCst)
        },
        connections: if finished {
            0
        } else {
            limits.max_connections - open.available_permits()
        },
    }
}

/// The shutdown's linger (see the module's comment): whether it has begun,
/// and how many requests it has turned away.
#[derive(Default)]
struct Linger {
    on: AtomicBool,
    turned_away: AtomicUsize,
}

/// Why a request that arrived after shutdown began is turned away.
const SHUTTING_DOWN: &str = "the sidecar is shutting down: this request was not run; send it again";

/// Why a request on a connection past `max_connections` is turned away.
const AT_CAPACITY: &str =
    "the sidecar has server.max_connections open: this request was not run; send it again";

/// The answer to a request turned away, `why`: 503, not run, to be sent
/// again (to this sidecar once it is back or has room, or another). Its
/// body is read first, for `read_for` and `max_body_bytes` at most, and
/// dropped, so that the close does not reset the connection (which would
/// lose the answer) over bytes left unread.
async fn refused(
    request: hyper::Request<Incoming>,
    read_for: Duration,
    limits: ConnectionLimits,
    why: &'static str,
) -> Response {
    let mut body = Body::new(request.into_body()).into_data_stream();
    let read_through = async {
        let mut read = 0;
        while let Some(Ok(piece)) = body.next().await {
            read += piece.len();
            if read > limits.max_body_bytes {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(read_for, read_through).await;
    let mut response = super::api_error::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, why)
        .retry_after(1)
        .into_response();
    closing(&mut response);
    response
}

/// Connections past `max_connections` held at once to be answered 503;
/// past these, one is closed unanswered.
const TURNED_AWAY_AT_ONCE: usize = 64;

/// How long a connection past `max_connections` may take to send its
/// request head, and then its body.
const TURN_AWAY_FOR: Duration = Duration::from_secs(1);

/// Answers the request of a connection past `max_connections` as
/// [`refused`] answers one at shutdown (503, not run, marked so for the
/// gem), then closes it: closed unanswered, its client could not tell that
/// from a crash after its request arrived, so could not send it again.
/// Only [`TURNED_AWAY_AT_ONCE`] are held so, each for a few seconds at
/// most; past that, one is closed at once, as the file descriptors are
/// what the cap protects.
fn turn_away(
    stream: tokio::net::TcpStream,
    turning_away: &Arc<Semaphore>,
    limits: ConnectionLimits,
) {
    let Ok(permit) = turning_away.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let service = hyper::service::service_fn(|request| async move {
            let response = refused(request, TURN_AWAY_FOR, limits, AT_CAPACITY).await;
            Ok::<_, std::convert::Infallible>(response)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(TURN_AWAY_FOR)
            .max_header_size(limits.max_header_bytes)
            .max_buf_size(limits.max_header_bytes)
            .serve_connection(
                TokioIo::new(WriteDeadline::new(
                    stream,
                    limits.write_timeout,
                    limits.min_answer_bytes_per_sec,
                )),
                service,
            );
        // Head, body and answer, each bounded above; this bounds them all.
        let _ = tokio::time::timeout(3 * TURN_AWAY_FOR, connection).await;
    });
}

/// Marks `response` as the connection's last: hyper closes it once written.
fn closing(response: &mut Response) {
    (response.headers_mut()).insert(header::CONNECTION, HeaderValue::from_static("close"));
}

/// Resolves once the drain begins if no request head has been read whole on
/// the connection by then; else never (the connection ends on its own).
async fn unrequested_at_drain(
    drain: &mut tokio::sync::watch::Receiver<bool>,
    requested: &AtomicBool,
) {
    let _ = drain.wait_for(|&draining| draining).await;
    if requested.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
}

/// Counts and logs a connection cut off while an answer was being
/// written (`server.write_timeout_ms`, or a batch answer taken slower than
/// `server.min_answer_bytes_per_sec`): its client missed all or part of
/// the answer, which the request metrics had counted as given. Any other
/// end is the client's doing or an idle connection's (hyper's header
/// deadline also closes idle keep-alive connections, which is no fault),
/// logged at debug level only.
fn count_cut_off(metrics: &Metrics, peer: std::net::SocketAddr, error: &hyper::Error) {
    let causes = || std::iter::successors(std::error::Error::source(error), |e| e.source());
    // The answer's own pace, or the write deadline's (an `io::Error`
    // holding it).
    fn slow_reader<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e SlowReader> {
        e.downcast_ref::<SlowReader>().or_else(|| {
            let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
            inner.downcast_ref::<SlowReader>()
        })
    }
    if let Some(slow) = causes().find_map(slow_reader) {
        metrics.add(
            "wasmstash_connections_cut_total",
            &[("reason", "slow_reader")],
            1,
        );
        return tracing::warn!(%peer, "cut off a client mid-answer: {slow}");
    }
    let write_stalled = (causes())
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::TimedOut);
    if !write_stalled {
        return tracing::debug!(%peer, "connection ended: {error}");
    }
    metrics.add(
        "wasmstash_connections_cut_total",
        &[("reason", "write_timeout")],
        1,
    );
    tracing::warn!(%peer, "cut off a client that took no byte of its answer within server.write_timeout_ms: {error}");
}

/// One request counted as unanswered until its handler's future ends
/// (answered, or dropped with its connection).
struct Unanswered(Arc<AtomicUsize>);

impl Unanswered {
    fn count(counter: &Arc<AtomicUsize>) -> Unanswered {
        counter.fetch_add(1, Ordering::SeqCst);
        Unanswered(counter.clone())
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
