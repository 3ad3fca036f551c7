//! What starts a shutdown or a reload of the sidecar: SIGTERM and SIGINT,
//! SIGHUP, and the config and module files changing on disk. The life
//! cycle these start is in `mod.rs`; here is only how each is noticed.

use std::sync::Arc;

use super::{App, fingerprint};

/// Waits for SIGTERM or SIGINT and names it. From then on, another one ends
/// the process at once, with 128 + its number (143 or 130), as `run` does:
/// for a shutdown that cannot wait for its drain.
pub(super) async fn shutdown_signal(stop_signals: StopSignals) -> &'static str {
    let StopSignals {
        mut terminate,
        mut interrupt,
    } = stop_signals;
    let (first, _) = next_signal(&mut terminate, &mut interrupt).await;
    tokio::spawn(async move {
        let (second, number) = next_signal(&mut terminate, &mut interrupt).await;
        tracing::error!(
            "second signal ({second}) during shutdown: exiting now, without waiting for the requests in flight or saving filter state"
        );
        std::process::exit(128 + number);
    });
    first
}

/// SIGTERM and SIGINT, caught from the moment these exist: made before
/// the port is announced, so a signal sent as soon as it is (by a
/// supervisor, a test) starts a shutdown rather than killing the process.
pub(super) struct StopSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub(super) fn install() -> StopSignals {
        use tokio::signal::unix::{SignalKind, signal};
        StopSignals {
            terminate: signal(SignalKind::terminate()).expect("installing the SIGTERM handler"),
            interrupt: signal(SignalKind::interrupt()).expect("installing the SIGINT handler"),
        }
    }
}

/// The next SIGTERM or SIGINT: its name and number.
async fn next_signal(
    terminate: &mut tokio::signal::unix::Signal,
    interrupt: &mut tokio::signal::unix::Signal,
) -> (&'static str, i32) {
    tokio::select! {
        _ = terminate.recv() => ("SIGTERM", libc::SIGTERM),
        _ = interrupt.recv() => ("SIGINT", libc::SIGINT),
    }
}

pub(super) async fn reload_on_sighup(app: Arc<App>, mut hangup: tokio::signal::unix::Signal) {
    while hangup.recv().await.is_some() {
        let _ = app.reload("SIGHUP").await;
    }
}

/// Polls the config and module files; a change triggers a reload. A change
/// that fails to load is not retried until the files change again.
pub(super) async fn reload_on_change(app: Arc<App>) {
    // The files as they were when a reload failed; not retried until they change.
    let mut rejected = None;
    loop {
        tokio::time::sleep(app.server.watch_interval).await;
        let Some(set) = app.current() else { continue };
        let now = fingerprint(set.fingerprint.iter().map(|(path, _)| path));
        if now == set.fingerprint || rejected.as_ref() == Some(&now) {
            continue;
        }
        // Editors and `cp` write in steps: reload only once the files have
        // stopped changing for one interval, not on a half-written file.
        tokio::time::sleep(app.server.watch_interval).await;
        if fingerprint(set.fingerprint.iter().map(|(path, _)| path)) != now {
            continue;
        }
        if app.reload("files changed").await.is_err() {
            rejected = Some(now);
        }
    }
}
