//! What the sidecar says, at start and at each load, about settings that
//! are allowed but risky: said where an operator looks first, not refused,
//! since a deployment may want them on purpose.

use std::path::PathBuf;
use std::time::Duration;

use super::PipelineSet;
use crate::config::ServerSettings;

/// How long the Logstash `wasm` plugin keeps an idle connection
/// (`KEEP_ALIVE_SECONDS` in `logstash/plugin/.../client.rb`).
const GEM_KEEP_ALIVE: Duration = Duration::from_secs(4);

/// What to say of the `[server]` settings that reach beyond this machine,
/// leave too little room for the largest body, or cut off the Logstash
/// gem's idle connections: logged by `serve`, printed by `check`.
pub(crate) fn of_server_settings(server: &ServerSettings) -> Vec<String> {
    let mut said = Vec::new();
    // `[::ffff:127.0.0.1]` is IPv4's loopback written as IPv6.
    if !server.listen.ip().to_canonical().is_loopback() {
        // Said, not refused: a container network needs it. The pipeline
        // endpoints take no token, as Logstash calls them.
        said.push(format!(
            "listening on {} reaches beyond this machine: anyone who can connect may send events through the pipelines; keep the port on a private network or behind a firewall",
            server.listen
        ));
    }
    said.extend(server.body_budget_shortfall());
    // The cut-off also ends idle keep-alive connections, and a client that
    // writes its next batch into one as it closes cannot retry it: the
    // request may have run. The `wasm` gem lets a connection idle 4 s.
    if server.header_read_timeout < GEM_KEEP_ALIVE + Duration::from_secs(1) {
        said.push(format!(
            "header_read_timeout_ms = {} also closes idle connections that soon: the Logstash `wasm` plugin keeps one idle for {} s, and a batch it sends as the sidecar closes it fails tagged _httprequestfailure; keep it at 5000 or more",
            server.header_read_timeout.as_millis(),
            GEM_KEEP_ALIVE.as_secs()
        ));
    }
    said
}

/// Whoever can change the config or a module runs code on every event (the
/// file watch reloads it unasked): said at each load, not refused, as a
/// deployment may share them with a group on purpose.
pub(super) fn of_files_others_may_change(files: &[PathBuf]) {
    for file in files {
        if let Ok(Some(why)) = crate::files::others_may_change(file) {
            tracing::warn!(
                "{}: another user can change this file ({why}); they could run filters of their \
                 choosing on every event (chown it, chmod go-w)",
                crate::files::shown(file)
            );
        }
    }
}

/// With the deadline off, a call that never ends keeps its worker for good;
/// where a pipeline's workers share a stateful filter's one instance, it
/// keeps all of them, and every request of that pipeline waits unanswered.
/// The docs say so, but an operator who turned the deadline off for speed
/// should hear it where they look first.
pub(super) fn if_a_stuck_call_holds_a_pipeline(set: &PipelineSet) {
    if set.engine.call_timeout.is_some() {
        return;
    }
    let held: Vec<&str> = set.sharing().map(|(name, _)| name).collect();
    if !held.is_empty() {
        tracing::warn!(
            "engine.call_timeout_ms = 0 turns the per-call deadline off: pipeline(s) {} share one instance of a stateful filter among their workers, so one call that never ends would hold every request of that pipeline unanswered",
            held.join(", ")
        );
    }
}
