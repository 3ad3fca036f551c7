//! Accepting connections, with the limits `axum::serve` does not set.
//!
//! A client that opens a connection and sends its request headers a byte at
//! a time (or never) would otherwise hold that connection, and its memory,
//! for as long as it likes; enough of them exhaust the process's file
//! descriptors. So every connection gets a deadline for its request headers
//! (`server.header_read_timeout_ms`), its writes must make progress within
//! `server.write_timeout_ms` (see `write_deadline`), and at most `server.max_connections`
//! are open at once: past that, a new connection is closed as soon as it is
//! accepted, without reading from it. Shutdown stops accepting, lets each
//! open connection finish the request it is serving (for at most
//! `DRAIN_LIMIT`), then returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::write_deadline::WriteDeadline;
use crate::metrics::Metrics;

/// The longest shutdown waits for open connections to finish their requests.
/// Calls into filters end long before (their deadlines); this bounds what
/// else could hold an exit up, such as a client that never reads its answer,
/// so that state is saved before a supervisor's SIGKILL.
const DRAIN_LIMIT: Duration = Duration::from_secs(20);

/// The per-connection limits, from the `[server]` table.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub write_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves, then waits for
/// the open connections to finish their current requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
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
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            metrics.add(
                "wasmstash_connections_refused_total",
                &[("reason", "max_connections")],
                1,
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // What `into_make_service_with_connect_info` would add: the live
            // view logs who opened it.
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            // Routers never fail (errors are responses): `Err` is `Infallible`.
            router.oneshot(request)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(
                TokioIo::new(WriteDeadline::new(stream, limits.write_timeout)),
                service,
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_LIMIT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open after {} s of shutdown; closing them",
            DRAIN_LIMIT.as_secs()
        );
    }
}
