//! Refused admin tokens, counted and said. A request to the admin API with
//! a missing or wrong bearer token, or a wrong token at the live view's
//! login, is someone who has the wrong token or someone guessing it: the
//! operator should see both. Each refusal counts in
//! `wasmstash_admin_refused_total{endpoint}`, and the log says the first at
//! once and the rest at most once per [`QUIET`], with how many there were,
//! so that a guesser cannot flood the log.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

/// Least time between two log lines about refused tokens.
const QUIET: Duration = Duration::from_secs(10);

/// Where a token was refused.
#[derive(Clone, Copy)]
pub(crate) enum Endpoint {
    /// `/v1/admin/*`, with `Authorization: Bearer`.
    Admin,
    /// `/ui/login`.
    UiLogin,
}

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Endpoint::Admin => "admin",
            Endpoint::UiLogin => "ui_login",
        }
    }
}

/// The log's side: when it last spoke, and the refusals not said since.
#[derive(Default)]
pub(crate) struct TokenRefusals {
    unsaid: Mutex<Unsaid>,
}

#[derive(Default)]
struct Unsaid {
    last_said: Option<Instant>,
    count: u64,
}

impl TokenRefusals {
    /// Counts a refusal at `endpoint` from `peer`, and says it if the log
    /// has been quiet long enough.
    pub(crate) fn refused(&self, metrics: &Metrics, endpoint: Endpoint, peer: Option<SocketAddr>) {
        let label = endpoint.label();
        metrics.add("wasmstash_admin_refused_total", &[("endpoint", label)], 1);
        let mut unsaid = self.unsaid.lock().unwrap_or_else(|p| p.into_inner());
        unsaid.count += 1;
        let now = Instant::now();
        if unsaid
            .last_said
            .is_some_and(|at| now.duration_since(at) < QUIET)
        {
            return;
        }
        let count = std::mem::take(&mut unsaid.count);
        let since = unsaid
            .last_said
            .replace(now)
            .map(|at| now.duration_since(at));
        drop(unsaid);
        let from = peer.map_or_else(|| "an unknown address".to_owned(), |p| p.ip().to_string());
        match (count, since) {
            (1, _) | (_, None) => tracing::warn!(
                endpoint = label,
                "refused a missing or wrong admin token, from {from}"
            ),
            (_, Some(since)) => tracing::warn!(
                endpoint = label,
                "refused {count} missing or wrong admin tokens in the last {} s, the latest from {from} (all are counted in wasmstash_admin_refused_total)",
                since.as_secs()
            ),
        }
    }
}
