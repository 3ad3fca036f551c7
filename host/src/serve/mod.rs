//! `wasmstash serve`: the HTTP sidecar that Logstash calls.
//!
//! - `listener`: accepting connections, with a header deadline and a cap
//!   (`open_files` fits the cap to the process's open-file limit);
//!   `write_deadline` cuts off a client that reads no answer.
//! - `routes`: the event, batch, health and metrics endpoints;
//!   `api_error` the one shape of an error answer; `admin` the admin API,
//!   `admin_token` its token, `token_refusals` the wrong tokens it was sent.
//! - `body`, `budget`: request bodies read under a size cap, a deadline and
//!   one memory budget for all connections; `answer` writes a batch's
//!   answer as it goes; `rejections` words axum's own refusals as ours;
//!   `cross_site` refuses requests a web page made.
//! - `workers`: per-pipeline workers draining a bounded queue, coalescing
//!   concurrent requests into one call.
//! - `ui`: the live view at `/ui`.
//! - `state`: which pipelines' saved state this process owns (their locks
//!   in `server.state_dir`), and restoring, handing over and saving it.
//! - `triggers`: the signals and file changes that start a shutdown or a
//!   reload; `warnings` the risky settings said at each load.
//!
//! This file owns the life cycle: load the pipeline set in the background
//! (ready once loaded), swap in a new set on reload (SIGHUP, file change or
//! admin call) without failing a request, save stateful filters' state every
//! `server.snapshot_interval_ms`, and on SIGTERM stop accepting, finish what
//! is in flight (for at most the drain limit, which by default covers a call
//! and its replay: `ServerSettings::drain_limit`) and save it once more (see
//! `state` and `crate::state`). A second SIGTERM or SIGINT ends the process
//! at once.
//!
//! A reload replaces pipelines, filters, modules and `[engine]`; `[server]`
//! is read at start only, so a reload keeps the running settings and warns
//! about the ones the file changed.

mod admin;
mod admin_token;
mod answer;
mod api_error;
mod body;
mod budget;
mod cross_site;
mod listener;
mod open_files;
mod rejections;
mod reload;
mod routes;
mod state;
mod token_refusals;
mod triggers;
mod ui;
pub(crate) mod warnings;
mod workers;
mod write_deadline;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use clap::Args;

use crate::config::{Config, ConfigError, ServerSettings};
use crate::engine::{Engine, EngineSettings};
use crate::metrics::Metrics;
use admin_token::admin_token;
use budget::Budget;
use state::StateDir;
use triggers::{StopSignals, reload_on_change, reload_on_sighup, shutdown_signal};
use workers::PipelineWorkers;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  wasmstash serve --config examples/wasmstash.toml
  curl -s -XPOST localhost:9700/v1/pipelines/app/event -d '{\"message\":\"{\\\"level\\\":\\\"WARN\\\"}\"}'
  WASMSTASH_ADMIN_TOKEN=$(openssl rand -hex 16) \\
    wasmstash serve -c examples/wasmstash.toml --listen 0.0.0.0:9700")]
pub struct ServeArgs {
    /// Pipeline config file (TOML); its [server] table sets limits.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Address to listen on; overrides server.listen (default 127.0.0.1:9700).
    #[arg(long, value_name = "ADDR", value_parser = crate::config::parse_listen)]
    pub listen: Option<std::net::SocketAddr>,
}

/// The pipelines being served, replaced as a whole on reload.
pub(crate) struct PipelineSet {
    pub pipelines: BTreeMap<String, Arc<PipelineWorkers>>,
    pub loaded_at: SystemTime,
    /// What the config and module files looked like just before this set
    /// read them, so that a change saved while it loaded is seen as one.
    pub fingerprint: Vec<(PathBuf, Option<(SystemTime, u64)>)>,
    /// The `[engine]` table its filters run under.
    pub engine: EngineSettings,
}

impl PipelineSet {
    pub fn names(&self) -> Vec<&str> {
        self.pipelines.keys().map(String::as_str).collect()
    }

    /// Whether a pipeline has a stateful filter, whose stage its workers
    /// share.
    fn has_stateful(&self) -> bool {
        self.sharing().next().is_some()
    }

    /// The pipelines whose workers share a stateful filter's one instance.
    fn sharing(&self) -> impl Iterator<Item = (&str, &PipelineWorkers)> {
        (self.pipelines.iter())
            .filter(|(_, workers)| !workers.shared_stages().is_empty())
            .map(|(name, workers)| (name.as_str(), &**workers))
    }
}

/// Everything handlers share.
pub(crate) struct App {
    /// `None` until the first set is loaded.
    current: RwLock<Option<Arc<PipelineSet>>>,
    pub metrics: Arc<Metrics>,
    pub server: ServerSettings,
    pub admin_token: Option<String>,
    /// Requests refused a missing or wrong admin token: counted and logged.
    pub token_refusals: token_refusals::TokenRefusals,
    pub config_path: PathBuf,
    /// The `[server]` table as the config file had it at start (before
    /// --listen), to tell which settings a reload's file changed.
    configured: ServerSettings,
    /// The `[engine]` table at start, for a shutdown before the first load.
    engine_at_start: EngineSettings,
    /// One load at a time: the first, then each reload.
    reloading: tokio::sync::Mutex<()>,
    /// Held by a reload from the swap until the new set has the old one's
    /// filter state, and by every save of state, which must not save the
    /// new set's state before it has it.
    handing_over: tokio::sync::Mutex<()>,
    /// `[server] state_dir`, if set, and the pipelines' state owned in it.
    state: Option<Arc<StateDir>>,
    pub live: ui::LiveView,
    /// The memory requests hold, from their bodies to their answers not
    /// yet written (`server.max_inflight_body_bytes`; see `budget`).
    pub budget: Arc<Budget>,
    /// Set once a shutdown begins: a body still arriving is then refused,
    /// rather than waited for up to `body_read_timeout_ms`.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

impl App {
    pub fn current(&self) -> Option<Arc<PipelineSet>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn swap(&self, set: Arc<PipelineSet>) -> Option<Arc<PipelineSet>> {
        self.metrics.set("wasmstash_ready", &[], 1.0);
        self.current
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .replace(set)
    }

    /// Reads the config and builds its pipeline set on the blocking pool
    /// (compiling modules is CPU work that must not stall the reactor).
    /// Every set is built with the `[server]` settings the process started
    /// with, whatever the file says now.
    async fn load(&self) -> Result<(PipelineSet, Config), ConfigError> {
        let path = self.config_path.clone();
        let metrics = self.metrics.clone();
        let server = self.server.clone();
        let budget = self.budget.clone();
        tokio::task::spawn_blocking(move || load_set(&path, &server, &metrics, &budget))
            .await
            .map_err(|e| ConfigError(format!("loading panicked: {e}")))?
    }

    /// Warns about `[server]` settings the file now sets otherwise than at
    /// start: they are not applied until a restart.
    fn warn_server_changes(&self, config: &Config, why: &str) {
        let changed = config.server.differences(&self.configured);
        if !changed.is_empty() {
            tracing::warn!(
                "{why}: the config file changes [server] {}; the running values are kept, as [server] is read at start only: restart to apply",
                changed.join(", ")
            );
        }
    }

    /// How long shutdown waits for the requests in flight, under the
    /// `[engine]` of the pipelines that run them.
    fn drain_limit(&self) -> Duration {
        match self.current() {
            Some(set) => self.server.drain_limit(&set.engine, set.has_stateful()),
            // Nothing has been served before the first set is live.
            None => self.server.drain_limit(&self.engine_at_start, false),
        }
    }
}

/// Reads the config and builds every pipeline's workers (compiling modules
/// through the engine's cache), sized and bounded by `server`, the settings
/// the process started with. Blocking; run off the reactor.
fn load_set(
    path: &Path,
    server: &ServerSettings,
    metrics: &Arc<Metrics>,
    budget: &Arc<Budget>,
) -> Result<(PipelineSet, Config), ConfigError> {
    // Each file is looked at before it is read: compiling takes a while, and
    // a file saved meanwhile must differ from the fingerprint, so that the
    // next check reloads it.
    let mut seen = fingerprint([&path.to_path_buf()]);
    let config = Config::load(path)?;
    // `watched_files` lists the config first, then the module files, which
    // are read below.
    let watched = config.watched_files();
    seen.extend(fingerprint(watched.iter().skip(1)));
    warnings::of_files_others_may_change(&watched);
    let engine =
        Engine::new(config.engine.clone()).map_err(|e| ConfigError(format!("engine: {e}")))?;
    // Every pipeline is loaded, past one that fails, so that a refusal
    // names all the config's broken filters at once, as `check` does.
    let (mut pipelines, mut problems) = (BTreeMap::new(), Vec::new());
    for name in config.pipelines.keys() {
        let modules = match config.load_pipeline(&engine, name) {
            Ok(modules) => modules,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let stateful = modules.iter().filter(|m| m.is_stateful()).map(|m| m.name());
        if let Some(warning) = crate::state::told_apart_by_position(stateful) {
            tracing::warn!(pipeline = %name, "pipeline `{name}`: {warning}");
        }
        let limits = workers::Limits {
            workers: server.workers,
            queue: server.queue,
            queue_timeout: server.queue_timeout,
            max_events: server.max_batch_events,
            max_bytes: server.max_body_bytes,
        };
        let workers = PipelineWorkers::new(name, modules, limits, metrics.clone(), budget.clone());
        match workers.start_instances() {
            Ok(()) => drop(pipelines.insert(name.clone(), Arc::new(workers))),
            Err(e) => problems.push(ConfigError(format!("pipeline `{name}`: {e}"))),
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError::joined(problems));
    }
    let set = PipelineSet {
        pipelines,
        loaded_at: SystemTime::now(),
        fingerprint: seen,
        engine: config.engine.clone(),
    };
    warnings::if_a_stuck_call_holds_a_pipeline(&set);
    Ok((set, config))
}

fn fingerprint<'a>(
    files: impl IntoIterator<Item = &'a PathBuf>,
) -> Vec<(PathBuf, Option<(SystemTime, u64)>)> {
    files
        .into_iter()
        .map(|path| {
            let seen = std::fs::metadata(path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            (path.clone(), seen)
        })
        .collect()
}

/// Why `serve` stopped other than cleanly.
#[derive(Debug)]
pub enum ServeError {
    /// It could not start: a bad config, port or state directory (exit 2).
    Config(ConfigError),
    /// It stopped, but the filters' state could not be saved (exit 1).
    StateNotSaved(PathBuf),
}

impl From<ConfigError> for ServeError {
    fn from(error: ConfigError) -> Self {
        ServeError::Config(error)
    }
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Config(error) => error.fmt(f),
            ServeError::StateNotSaved(dir) => write!(
                f,
                "stopped, but the filters' state could not be saved to {} (see the errors above)",
                crate::files::shown(dir)
            ),
        }
    }
}

/// Runs the sidecar until SIGTERM or SIGINT.
pub fn serve(args: &ServeArgs) -> Result<(), ServeError> {
    // Read the config once up front so a broken file fails fast, with exit 2.
    let config = Config::load(&args.config)?;
    let mut server = config.server.clone();
    if let Some(listen) = args.listen {
        server.listen = listen;
    }
    let admin_token = admin_token(&server, &args.config)?;
    if admin_token.is_none() {
        tracing::info!(
            "admin endpoints off: set WASMSTASH_ADMIN_TOKEN or server.admin_token_file to reload and inspect over HTTP"
        );
    }
    for warning in warnings::of_server_settings(&server) {
        tracing::warn!("{warning}");
    }
    let metrics = Arc::new(Metrics::default());
    let state = match &server.state_dir {
        Some(dir) => {
            crate::state::prepare_dir(dir).map_err(|e| state_dir_error(&args.config, dir, e))?;
            let state = StateDir::new(dir.clone(), &args.config, metrics.clone());
            // Before the port opens: a start refused for a lock must not
            // have answered `/healthz` first.
            state.claim_early(&config).map_err(ConfigError)?;
            Some(Arc::new(state))
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("wasmstash-http")
        .build()
        .map_err(|e| ConfigError(format!("cannot start the runtime: {e}")))?;
    let app = Arc::new(App {
        current: RwLock::new(None),
        live: ui::LiveView::new(server.ui.clone(), &metrics),
        budget: Budget::new(server.max_inflight_body_bytes),
        stopping: tokio::sync::watch::Sender::new(false),
        metrics,
        server,
        admin_token,
        token_refusals: Default::default(),
        config_path: args.config.clone(),
        configured: config.server,
        engine_at_start: config.engine,
        reloading: tokio::sync::Mutex::new(()),
        handing_over: tokio::sync::Mutex::new(()),
        state,
    });
    app.metrics.set("wasmstash_ready", &[], 0.0);
    let stopped = runtime.block_on(run(app));
    // Calls the drain cut off may still run on the blocking pool; the
    // process does not wait for them (their clients are gone).
    runtime.shutdown_timeout(Duration::from_secs(1));
    stopped
}

/// What `serve` would refuse at start in `[server]`, found without starting:
/// the admin token (its file, its length) and whether `state_dir` can be
/// made and written, each problem found. For `wasmstash check`; it creates
/// nothing that stays.
pub fn check_settings(config: &Path, server: &ServerSettings) -> Vec<ConfigError> {
    let token = admin_token(server, config).err();
    let state_dir = (server.state_dir.as_ref())
        .and_then(|dir| crate::state::check_dir(dir).err().map(|e| (dir, e)))
        .map(|(dir, e)| state_dir_error(config, dir, e));
    token.into_iter().chain(state_dir).collect()
}

/// A `state_dir` that cannot be used, said as a config error of `config`.
fn state_dir_error(config: &Path, dir: &Path, error: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!(
        "{}: [server] state_dir {}: {error}",
        crate::files::shown(config),
        crate::files::shown(dir)
    ))
}

async fn run(app: Arc<App>) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(app.server.listen)
        .await
        .map_err(|e| ConfigError(format!("cannot listen on {}: {e}", app.server.listen)))?;
    let address = listener
        .local_addr()
        .map_err(|e| ConfigError(e.to_string()))?;
    let stop_signals = StopSignals::install();
    // Caught from here on, as the stop signals are: a SIGHUP's default is
    // to end the process, and one sent while the first set loads (which
    // may take many seconds of compiling) would. Caught then, it reloads
    // once the first set is live.
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| ConfigError(format!("cannot catch SIGHUP: {e}")))?;
    // Printed on stdout so scripts and tests can find an ephemeral port;
    // a stdout nobody reads (`serve | true`) is no reason not to serve.
    let _ = std::io::Write::write_fmt(
        &mut std::io::stdout(),
        format_args!("wasmstash: listening on http://{address}\n"),
    );
    tracing::info!("listening on http://{address}; loading pipelines");

    // Serve at once, so /healthz answers while modules compile; /readyz and
    // the pipeline endpoints answer 503 until the set below is loaded.
    // Every route's body, the live view's login included, is read under
    // the body deadline and size cap before its handler runs.
    let router = (routes::router(app.clone()).merge(ui::router(app.clone())))
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::middleware::map_response(routes::challenge))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            body::read_whole,
        ));
    let limits = listener::ConnectionLimits {
        max_connections: open_files::connections_that_fit(app.server.max_connections),
        header_read_timeout: app.server.header_read_timeout,
        write_timeout: app.server.write_timeout,
        min_answer_bytes_per_sec: app.server.min_answer_bytes_per_sec,
        max_header_bytes: app.server.max_header_bytes,
        shutdown_linger: app.server.shutdown_linger,
        max_body_bytes: app.server.max_body_bytes,
    };
    let stopping = app.clone();
    let mut server = tokio::spawn(listener::serve(
        listener,
        router,
        limits,
        app.metrics.clone(),
        async move {
            let signal = shutdown_signal(stop_signals).await;
            let limit = stopping.drain_limit();
            tracing::info!(
                "{signal}: shutting down; waiting up to {:.1} s for the requests in flight (a second SIGTERM or SIGINT exits at once)",
                limit.as_secs_f64()
            );
            // Open live-view streams would otherwise never finish, nor
            // would bodies a slow client is still sending.
            stopping.live.close();
            stopping.stopping.send_replace(true);
            limit
        },
    ));

    // Held until the first set is live: an admin reload asked meanwhile
    // would otherwise swap in its own set and then have this one replace
    // it, the state it claimed and restored with it.
    let first_load = app.reloading.lock().await;
    // A SIGTERM while modules compile need not wait for them: nothing has
    // been served that needs them.
    let (set, config) = tokio::select! {
        loaded = app.load() => loaded?,
        drained = &mut server => {
            tracing::info!("stopped before the pipelines finished loading");
            return stopped(&app, drained).await;
        }
    };
    app.warn_server_changes(&config, "loading");
    let set = Arc::new(set);
    if let Some(state) = &app.state {
        // A pipeline whose state another process holds fails the start
        // (exit 2), as the one that started second: see `state`. Most such
        // starts failed before listening (`claim_early`); this one catches
        // a config edited, or a lock taken, since then.
        state.claim(&set).await.map_err(ConfigError)?;
        tokio::spawn(state::save_periodically(app.clone(), state.clone()));
    }
    app.swap(set);
    drop(first_load);
    tracing::info!("ready");

    tokio::spawn(reload_on_sighup(app.clone(), hangup));
    if app.server.ui.enabled {
        tokio::spawn(ui::run(app.clone()));
    }
    if app.server.watch {
        tokio::spawn(reload_on_change(app.clone()));
    }
    stopped(&app, server.await).await
}

/// Reports how the drain ended and saves the filters' state, once the
/// listener has stopped.
async fn stopped(
    app: &App,
    drained: Result<listener::Drained, tokio::task::JoinError>,
) -> Result<(), ServeError> {
    let drained = drained.map_err(|e| ConfigError(format!("server task failed: {e}")))?;
    if drained.finished {
        tracing::info!("stopped accepting; every request in flight was answered");
    } else {
        tracing::warn!(
            "stopped accepting; the drain limit of {:.1} s (server.drain_timeout_ms) ran out with {} request(s) unanswered and {} connection(s) open: they are cut off when the process exits, which waits only for filter state to be saved (and a save waits for a call in progress)",
            drained.limit.as_secs_f64(),
            drained.unanswered,
            drained.connections
        );
    }
    // A reload's handover finishes first: until then the live set's state
    // is not yet what it is handed.
    let _no_handover = app.handing_over.lock().await;
    if let (Some(state), Some(set)) = (&app.state, app.current()) {
        state::close_for_the_last_save(&set);
        if !state.save(&set, app.server.stage_wait(&set.engine)).await {
            return Err(ServeError::StateNotSaved(state.dir().to_owned()));
        }
        tracing::info!("saved filter state to {}", crate::files::shown(state.dir()));
    }
    Ok(())
}
