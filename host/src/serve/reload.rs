//! Reloading the pipelines while the sidecar runs (an admin request,
//! SIGHUP, a changed file): the new set is loaded and claimed beside the
//! running one, swapped in, and handed the running filters' state; on any
//! error before the swap the running set stays, and the refusal is counted
//! and said.

use std::sync::Arc;

use super::{App, state, workers};

/// What a reload did: the pipelines now running, and the stateful filters
/// that refused the state the replaced set handed them (`pipeline/filter`),
/// which start afresh.
pub struct Reloaded {
    pub pipelines: Vec<String>,
    pub state_refused: Vec<String>,
}

impl App {
    /// Loads the config again and swaps the new set in, carrying filter state
    /// over. On any error the old set stays live and the error is returned.
    ///
    /// The reload runs to its end in a task of its own, whatever becomes of
    /// the caller: an admin request's future is dropped when its client
    /// hangs up, and a reload dropped between pausing the new set and
    /// handing it the old one's state would leave it paused for good.
    pub async fn reload(self: &Arc<Self>, why: &str) -> Result<Reloaded, String> {
        let (this, why) = (self.clone(), why.to_owned());
        tokio::spawn(async move { this.reload_to_the_end(&why).await })
            .await
            .unwrap_or_else(|e| Err(format!("the reload failed: {e}")))
    }

    async fn reload_to_the_end(self: &Arc<Self>, why: &str) -> Result<Reloaded, String> {
        let _one_at_a_time = self.reloading.lock().await;
        let (set, config) = match self.load().await {
            Ok(loaded) => loaded,
            Err(e) => return Err(self.reload_rejected(why, e.0)),
        };
        self.warn_server_changes(&config, &format!("reload ({why})"));
        let set = Arc::new(set);
        if let Some(state) = &self.state
            && let Err(e) = state.claim(&set).await
        {
            return Err(self.reload_rejected(why, e));
        }
        let handover = self.handing_over.lock().await;
        let old = self.current();
        if let Some(old) = &old {
            if let Some(state) = &self.state {
                state.restore_added(old, &set).await;
            }
            state::hold_for_handover(old, &set);
        }
        let names: Vec<String> = set.names().iter().map(|n| n.to_string()).collect();
        self.swap(set.clone());
        let mut state_refused = Vec::new();
        if let Some(old) = &old {
            let limit = self.drain_limit();
            let not_taken = state::carry(old, &set, limit, self.state.as_ref()).await;
            state_refused = not_taken.refused_names();
            if let Some(state) = &self.state {
                state.keep_not_taken(not_taken).await;
                let wait = self.server.stage_wait(&old.engine);
                state.release_dropped(old, &set, wait).await;
            }
        }
        drop(handover);
        // The replaced set's stateless pipelines may still be finishing
        // calls, each counting and reporting its instance's memory: forget
        // the series of what is gone once they are done. Against the set
        // live then, under the load lock: a later reload may bring a name
        // back, and the handles its set holds must keep their series.
        let (this, limit) = (self.clone(), self.drain_limit());
        tokio::spawn(async move {
            if let Some(old) = &old {
                let all = old.pipelines.iter().map(|(name, w)| (name, w.as_ref()));
                workers::wait_idle(all, limit).await;
            }
            let _one_at_a_time = this.reloading.lock().await;
            if let Some(live) = this.current() {
                workers::forget_what_is_not_in(&this.metrics, &live.pipelines);
            }
        });
        self.metrics
            .add("wasmstash_reloads_total", &[("result", "ok")], 1);
        tracing::info!("reloaded ({why}): pipelines {}", names.join(", "));
        self.live.reloaded(why, Ok(&names));
        Ok(Reloaded {
            pipelines: names,
            state_refused,
        })
    }

    /// Counts and logs a refused reload; returns why it was refused. Called
    /// under the load lock.
    fn reload_rejected(&self, why: &str, error: String) -> String {
        self.metrics
            .add("wasmstash_reloads_total", &[("result", "rejected")], 1);
        // The refused set may have made series for pipelines of its own
        // before a later one failed; nothing runs them.
        if let Some(live) = self.current() {
            workers::forget_what_is_not_in(&self.metrics, &live.pipelines);
        }
        // A line a record, each with its time and level, as collectors that
        // read a line at a time (journald, docker logs) need: the problems
        // are a line each, and a TOML error shows its line of the file.
        let mut lines = error.lines();
        let first = lines.next().unwrap_or_default();
        tracing::error!("reload ({why}) rejected, keeping the running pipelines: {first}");
        for line in lines {
            tracing::error!("reload ({why}) rejected: {line}");
        }
        self.live.reloaded(why, Err(&error));
        error
    }
}
