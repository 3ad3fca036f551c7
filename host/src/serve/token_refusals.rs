//! Refused admin tokens, counted and said. A request with a missing or
//! wrong bearer token to the admin API, a wrong bearer token to the live
//! view, or a wrong token at its login, comes from someone who has the
//! wrong token or someone guessing it: the operator should see both. Each
//! refusal counts in `wasmstash_admin_refused_total{endpoint}`. The log says
//! the first at once, and those that follow within [`QUIET`] in one line
//! when it has passed, with how many there were at each endpoint, so that a
//! guesser cannot flood the log, nor go unsaid by stopping.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

/// Least time between two log lines about refused tokens.
const QUIET: Duration = Duration::from_secs(10);

/// Where a token was refused.
#[derive(Clone, Copy)]
pub(crate) enum Endpoint {
    /// `/v1/admin/*`, with `Authorization: Bearer`.
    Admin,
    /// The live view's endpoints, with `Authorization: Bearer`.
    Ui,
    /// `/ui/login`.
    UiLogin,
}

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Endpoint::Admin => "admin",
            Endpoint::Ui => "ui",
            Endpoint::UiLogin => "ui_login",
        }
    }
}

/// The log's side: when it last spoke, and the refusals not said since.
pub(crate) struct TokenRefusals {
    unsaid: Arc<Mutex<Unsaid>>,
    quiet: Duration,
}

impl Default for TokenRefusals {
    fn default() -> TokenRefusals {
        TokenRefusals {
            unsaid: Arc::default(),
            quiet: QUIET,
        }
    }
}

#[derive(Default)]
struct Unsaid {
    last_said: Option<Instant>,
    by_endpoint: BTreeMap<&'static str, u64>,
    latest_from: String,
    /// A task will say these once the log has been quiet long enough.
    flush_due: bool,
}

impl TokenRefusals {
    /// Counts a refusal at `endpoint` from `peer`, and says it, now or
    /// once the log has been quiet long enough.
    pub(crate) fn refused(&self, metrics: &Metrics, endpoint: Endpoint, peer: Option<SocketAddr>) {
        let label = endpoint.label();
        metrics.add("wasmstash_admin_refused_total", &[("endpoint", label)], 1);
        let mut unsaid = self.unsaid.lock().unwrap_or_else(|p| p.into_inner());
        *unsaid.by_endpoint.entry(label).or_default() += 1;
        unsaid.latest_from =
            peer.map_or_else(|| "an unknown address".to_owned(), |p| p.ip().to_string());
        let Some(last) = unsaid.last_said.filter(|at| at.elapsed() < self.quiet) else {
            return unsaid.say();
        };
        if unsaid.flush_due {
            return;
        }
        // Outside a runtime (never, in the server) they wait for the next.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        unsaid.flush_due = true;
        let (later, quiet) = (Arc::clone(&self.unsaid), self.quiet);
        runtime.spawn(async move {
            tokio::time::sleep_until((last + quiet).into()).await;
            later.lock().unwrap_or_else(|p| p.into_inner()).say();
        });
    }
}

impl Unsaid {
    /// Logs the refusals not said yet, as one line.
    fn say(&mut self) {
        self.flush_due = false;
        let counts = std::mem::take(&mut self.by_endpoint);
        let total: u64 = counts.values().sum();
        if total == 0 {
            return; // said already, by a refusal that came after the quiet
        }
        let now = Instant::now();
        let since = self.last_said.replace(now).map(|at| now.duration_since(at));
        let from = &self.latest_from;
        if total == 1 {
            let endpoint = counts.keys().next().copied().unwrap_or_default();
            tracing::warn!(
                endpoint,
                "refused a missing or wrong admin token, from {from}"
            );
            return;
        }
        let mut each = String::new();
        for (endpoint, count) in &counts {
            let _ = write!(
                each,
                "{}{endpoint} {count}",
                if each.is_empty() { "" } else { ", " }
            );
        }
        let since = since.map_or(String::new(), |s| format!(" in the last {} s", s.as_secs()));
        tracing::warn!(
            "refused {total} missing or wrong admin tokens{since} ({each}), the latest from {from}; all are counted in wasmstash_admin_refused_total"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsaid(refusals: &TokenRefusals) -> (u64, bool) {
        let unsaid = refusals.unsaid.lock().unwrap();
        (unsaid.by_endpoint.values().sum(), unsaid.flush_due)
    }

    /// The first refusal is said at once; those within the quiet time
    /// after it wait, and are said when it has passed, without another.
    #[test]
    fn refusals_in_the_quiet_time_are_said_once_it_passes() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let refusals = TokenRefusals {
                quiet: Duration::from_millis(200),
                ..TokenRefusals::default()
            };
            let metrics = Metrics::default();
            refusals.refused(&metrics, Endpoint::Admin, None);
            assert_eq!(unsaid(&refusals), (0, false));
            refusals.refused(&metrics, Endpoint::Ui, None);
            refusals.refused(&metrics, Endpoint::Admin, None);
            assert_eq!(unsaid(&refusals), (2, true));
            tokio::time::sleep(Duration::from_millis(400)).await;
            assert_eq!(unsaid(&refusals), (0, false));
            let counted =
                metrics.counter("wasmstash_admin_refused_total", &[("endpoint", "admin")]);
            assert_eq!(counted, 2);
        });
    }
}
