//! The `[server]` table: how `wasmstash serve` listens, what it accepts and
//! how long it waits, each setting checked against its bounds, with the
//! defaults of [`ServerSettings`]. The drain and save waits are derived
//! here too, because they follow from these settings and the engine's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::bounds::{Problems, in_range, millis, millis_in, path};
use crate::engine::{EngineSettings, printable};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "the [server] table")]
pub(super) struct RawServer {
    listen: Option<String>,
    max_body_bytes: Option<usize>,
    max_batch_events: Option<usize>,
    workers: Option<usize>,
    queue: Option<usize>,
    queue_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    header_read_timeout_ms: Option<u64>,
    max_header_bytes: Option<usize>,
    body_read_timeout_ms: Option<u64>,
    write_timeout_ms: Option<u64>,
    min_answer_bytes_per_sec: Option<u64>,
    max_inflight_body_bytes: Option<usize>,
    admin_token_file: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    snapshot_interval_ms: Option<u64>,
    watch: Option<bool>,
    watch_interval_ms: Option<u64>,
    drain_timeout_ms: Option<u64>,
    shutdown_linger_ms: Option<u64>,
    ui: Option<RawUi>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "the [server.ui] table")]
struct RawUi {
    enabled: Option<bool>,
    mask_fields: Option<Vec<String>>,
    sample_bytes_per_sec: Option<usize>,
    update_ms: Option<u64>,
}

/// The `[server]` table: how `wasmstash serve` listens and what it accepts.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Address to bind; loopback unless configured otherwise.
    pub listen: SocketAddr,
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// Most lines in one batch request, blank ones included (413 above it).
    pub max_batch_events: usize,
    /// Calls that may run at once per pipeline; also its number of instances.
    pub workers: usize,
    /// Requests that may wait for a worker per pipeline; beyond it, 429.
    pub queue: usize,
    /// Longest a request waits for a worker before a 503.
    pub queue_timeout: Duration,
    /// Connections open at once; a connection past this is answered 503
    /// unread (lowered at start to what the open-file limit allows).
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// The most a connection buffers of a request line and headers (431).
    pub max_header_bytes: usize,
    /// Longest a client may take to send a request's body, once its headers
    /// are in.
    pub body_read_timeout: Duration,
    /// Longest a write of an answer may wait for the client to take bytes.
    pub write_timeout: Duration,
    /// The slowest a batch answer may be taken, on average from its first
    /// byte, once it has been written for `write_timeout`; 0: no minimum.
    /// Its memory is held until it is taken.
    pub min_answer_bytes_per_sec: u64,
    /// Request bodies held in memory at once, all connections together;
    /// past it a request is answered 503.
    pub max_inflight_body_bytes: usize,
    /// File holding the admin bearer token (`WASMSTASH_ADMIN_TOKEN` wins).
    pub admin_token_file: Option<PathBuf>,
    /// Where stateful filters' snapshots are kept across restarts.
    pub state_dir: Option<PathBuf>,
    /// How often stateful filters' state is saved to `state_dir` (it is also
    /// saved at shutdown).
    pub snapshot_interval: Duration,
    /// Reload when the config or a module file changes.
    pub watch: bool,
    pub watch_interval: Duration,
    /// Longest shutdown waits for the requests in flight to be answered;
    /// `None` derives it from the other limits (see [`ServerSettings::drain_limit`]).
    pub drain_timeout: Option<Duration>,
    /// How long, at shutdown, a connection between two requests stays open
    /// to answer what it sends next with a 503 (and close), rather than be
    /// closed as its client may be sending (part of the drain).
    pub shutdown_linger: Duration,
    /// The live view at `/ui` (`[server.ui]`).
    pub ui: UiSettings,
}

/// The `[server.ui]` table: the live view's limits and what it must hide.
#[derive(Debug, Clone, PartialEq)]
pub struct UiSettings {
    pub enabled: bool,
    /// Field references replaced by `"***"` before an event leaves the process.
    pub mask_fields: Vec<String>,
    /// Most bytes of results the live view samples per second, while a page is open.
    pub sample_bytes_per_sec: usize,
    /// Time between two updates sent to a page.
    pub update_interval: Duration,
}

impl Default for UiSettings {
    fn default() -> Self {
        UiSettings {
            enabled: true,
            mask_fields: Vec::new(),
            sample_bytes_per_sec: 512 << 10,
            update_interval: Duration::from_secs(1),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 9700)),
            max_body_bytes: 16 << 20,
            max_batch_events: 10_000,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue: 64,
            queue_timeout: Duration::from_secs(5),
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 << 10,
            body_read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            min_answer_bytes_per_sec: 256 << 10,
            max_inflight_body_bytes: 256 << 20,
            admin_token_file: None,
            state_dir: None,
            snapshot_interval: Duration::from_secs(60),
            watch: true,
            watch_interval: Duration::from_secs(2),
            drain_timeout: None,
            shutdown_linger: Duration::from_secs(1),
            ui: UiSettings::default(),
        }
    }
}

/// Added to the derived drain for what surrounds the calls: starting fresh
/// instances after failures and writing the answer.
const DRAIN_MARGIN: Duration = Duration::from_secs(2);

impl ServerSettings {
    /// Longest shutdown waits for the requests in flight: `drain_timeout_ms`
    /// if set, else what one request can legitimately take under `engine`:
    /// `queue_timeout` waiting for a worker, one batch of a filter that
    /// fails it ([`EngineSettings::one_batch`]: the calls before a failure,
    /// each within its deadline, and the isolation of one within
    /// `replay_budget`), and [`DRAIN_MARGIN`]. `stateful` says whether a
    /// pipeline has a stateful filter. Workers take turns on a stateful
    /// filter's stage, and a batch's wait comes off its replay budget, not
    /// its calls; turns behind a filter that fails every batch are not
    /// counted (README, "Shutdown").
    pub fn drain_limit(&self, engine: &EngineSettings, stateful: bool) -> Duration {
        (self.drain_timeout)
            .unwrap_or_else(|| self.queue_timeout + engine.one_batch(stateful) + DRAIN_MARGIN)
    }

    /// How long a save waits for a stateful filter's call to end before it
    /// leaves that filter's file as it was: one batch of a stateful filter
    /// ([`EngineSettings::one_batch`]) under a deadline,
    /// else the drain limit, since a call may then never end.
    pub fn stage_wait(&self, engine: &EngineSettings) -> Duration {
        match engine.call_timeout {
            Some(_) => engine.one_batch(true),
            None => self.drain_limit(engine, true),
        }
    }

    /// Why the body budget cannot take one body as large as allowed, if it
    /// cannot: a budget between `max_body_bytes` and what such a body needs
    /// is accepted (a deployment may want it), but a body or event over
    /// about 4/9 of the budget is then refused (413) every time.
    pub fn body_budget_shortfall(&self) -> Option<String> {
        let needs = largest_body_needs(self.max_body_bytes, self.max_batch_events);
        (self.max_inflight_body_bytes < needs).then(|| {
            format!(
                "max_inflight_body_bytes = {} is below the {needs} a body of max_body_bytes = {} \
                 in max_batch_events = {} events needs (2.25 x the body, and 160 bytes an event): \
                 a body or event much over {} bytes will be refused (413) every time",
                self.max_inflight_body_bytes,
                self.max_body_bytes,
                self.max_batch_events,
                self.max_inflight_body_bytes * 4 / 9
            )
        })
    }

    /// The names of the settings (as the `[server]` table spells them) whose
    /// values differ from `other`'s.
    pub fn differences(&self, other: &ServerSettings) -> Vec<&'static str> {
        // Destructured, so that a new setting cannot be left out here.
        let ServerSettings {
            listen,
            max_body_bytes,
            max_batch_events,
            workers,
            queue,
            queue_timeout,
            max_connections,
            header_read_timeout,
            max_header_bytes,
            body_read_timeout,
            write_timeout,
            min_answer_bytes_per_sec,
            max_inflight_body_bytes,
            admin_token_file,
            state_dir,
            snapshot_interval,
            watch,
            watch_interval,
            drain_timeout,
            shutdown_linger,
            ui,
        } = self;
        let differs = [
            ("listen", *listen != other.listen),
            ("max_body_bytes", *max_body_bytes != other.max_body_bytes),
            (
                "max_batch_events",
                *max_batch_events != other.max_batch_events,
            ),
            ("workers", *workers != other.workers),
            ("queue", *queue != other.queue),
            ("queue_timeout_ms", *queue_timeout != other.queue_timeout),
            ("max_connections", *max_connections != other.max_connections),
            (
                "header_read_timeout_ms",
                *header_read_timeout != other.header_read_timeout,
            ),
            (
                "max_header_bytes",
                *max_header_bytes != other.max_header_bytes,
            ),
            (
                "body_read_timeout_ms",
                *body_read_timeout != other.body_read_timeout,
            ),
            ("write_timeout_ms", *write_timeout != other.write_timeout),
            (
                "min_answer_bytes_per_sec",
                *min_answer_bytes_per_sec != other.min_answer_bytes_per_sec,
            ),
            (
                "max_inflight_body_bytes",
                *max_inflight_body_bytes != other.max_inflight_body_bytes,
            ),
            (
                "admin_token_file",
                *admin_token_file != other.admin_token_file,
            ),
            ("state_dir", *state_dir != other.state_dir),
            (
                "snapshot_interval_ms",
                *snapshot_interval != other.snapshot_interval,
            ),
            ("watch", *watch != other.watch),
            ("watch_interval_ms", *watch_interval != other.watch_interval),
            ("drain_timeout_ms", *drain_timeout != other.drain_timeout),
            (
                "shutdown_linger_ms",
                *shutdown_linger != other.shutdown_linger,
            ),
            ("[server.ui]", *ui != other.ui),
        ];
        (differs.into_iter())
            .filter_map(|(name, differs)| differs.then_some(name))
            .collect()
    }
}

/// The `[server]` settings, with the default in place of each bad one, and
/// the problems: those settings may serve checks of the good ones, not a
/// server.
pub(super) fn server_settings(raw: RawServer, base: &Path) -> (ServerSettings, Vec<String>) {
    let defaults = ServerSettings::default();
    let mut bad = Problems::default();
    let within = |name: &str, value: Option<usize>, default: usize, max: usize| {
        in_range(name, value, default, 1..=max)
    };
    let listen = match raw.listen {
        None => defaults.listen,
        Some(text) => bad.or(
            parse_listen(&text).map_err(|e| format!("listen = \"{}\": {e}", printable(&text))),
            defaults.listen,
        ),
    };
    let settings = ServerSettings {
        listen,
        max_body_bytes: bad.setting(defaults.max_body_bytes, |default| {
            within("max_body_bytes", raw.max_body_bytes, default, 1 << 30)
        }),
        max_batch_events: bad.setting(defaults.max_batch_events, |default| {
            within("max_batch_events", raw.max_batch_events, default, 1_000_000)
        }),
        workers: bad.setting(defaults.workers, |default| {
            within("workers", raw.workers, default, 256)
        }),
        queue: bad.setting(defaults.queue, |default| {
            in_range("queue", raw.queue, default, 0..=100_000)
        }),
        queue_timeout: bad.setting(defaults.queue_timeout, |default| {
            millis("queue_timeout_ms", raw.queue_timeout_ms, default)
        }),
        max_connections: bad.setting(defaults.max_connections, |default| {
            within("max_connections", raw.max_connections, default, 1_000_000)
        }),
        header_read_timeout: bad.setting(defaults.header_read_timeout, |default| {
            millis(
                "header_read_timeout_ms",
                raw.header_read_timeout_ms,
                default,
            )
        }),
        // hyper's buffer cannot be smaller than 8 KiB.
        max_header_bytes: bad.setting(defaults.max_header_bytes, |default| {
            in_range(
                "max_header_bytes",
                raw.max_header_bytes,
                default,
                8192..=16_777_216,
            )
        }),
        body_read_timeout: bad.setting(defaults.body_read_timeout, |default| {
            millis("body_read_timeout_ms", raw.body_read_timeout_ms, default)
        }),
        write_timeout: bad.setting(defaults.write_timeout, |default| {
            millis("write_timeout_ms", raw.write_timeout_ms, default)
        }),
        min_answer_bytes_per_sec: bad.setting(defaults.min_answer_bytes_per_sec, |default| {
            let value = raw.min_answer_bytes_per_sec;
            in_range("min_answer_bytes_per_sec", value, default, 0..=1 << 30)
        }),
        // Unset, it is at least room for what one body of the largest size
        // allowed holds at its peak (serve/budget.rs): while its events are
        // made, the body gathered (up to twice its size) and the events
        // (its bytes and some 130 bytes of bookkeeping each).
        max_inflight_body_bytes: bad.setting(
            defaults.max_inflight_body_bytes.max(largest_body_needs(
                raw.max_body_bytes.unwrap_or(defaults.max_body_bytes),
                raw.max_batch_events.unwrap_or(defaults.max_batch_events),
            )),
            |default| {
                let value = raw.max_inflight_body_bytes;
                within("max_inflight_body_bytes", value, default, 1 << 40)
            },
        ),
        admin_token_file: bad.or(path("admin_token_file", raw.admin_token_file, base), None),
        state_dir: bad.or(path("state_dir", raw.state_dir, base), None),
        snapshot_interval: bad.setting(defaults.snapshot_interval, |default| {
            millis("snapshot_interval_ms", raw.snapshot_interval_ms, default)
        }),
        watch: raw.watch.unwrap_or(defaults.watch),
        watch_interval: bad.setting(defaults.watch_interval, |default| {
            millis("watch_interval_ms", raw.watch_interval_ms, default)
        }),
        drain_timeout: match raw.drain_timeout_ms {
            None => None,
            Some(ms) => bad.or(
                millis("drain_timeout_ms", Some(ms), Duration::ZERO).map(Some),
                None,
            ),
        },
        shutdown_linger: bad.setting(defaults.shutdown_linger, |default| {
            millis_in(
                "shutdown_linger_ms",
                raw.shutdown_linger_ms,
                default,
                0..=60_000,
            )
        }),
        ui: ui_settings(raw.ui.unwrap_or_default(), &mut bad),
    };
    if settings.max_inflight_body_bytes < settings.max_body_bytes {
        bad.refuse(
            format!(
                "max_inflight_body_bytes = {} is below max_body_bytes = {}: a body as large as allowed could never be read",
                settings.max_inflight_body_bytes, settings.max_body_bytes
            ),
            (),
        );
    }
    (settings, bad.into_problems())
}

/// The `[server.ui]` table, each bad setting among `bad`'s problems.
fn ui_settings(raw: RawUi, bad: &mut Problems) -> UiSettings {
    let defaults = UiSettings::default();
    // A bad entry is a problem, and is left out, as a bad setting is.
    let mask_fields = (raw.mask_fields.unwrap_or_default().into_iter())
        .filter(|field| match wasmstash_sdk::field_ref::validate(field) {
            Ok(()) => true,
            Err(e) => bad.refuse(format!("ui.mask_fields: {e}"), false),
        })
        .collect();
    UiSettings {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        mask_fields,
        sample_bytes_per_sec: bad.setting(defaults.sample_bytes_per_sec, |default| {
            in_range(
                "ui.sample_bytes_per_sec",
                raw.sample_bytes_per_sec,
                default,
                1024..=1_073_741_824,
            )
        }),
        update_interval: bad.setting(defaults.update_interval, |default| {
            millis_in("ui.update_ms", raw.update_ms, default, 250..=60_000)
        }),
    }
}

/// An address to listen on, `IP:PORT`. Host names are not looked up: which
/// of a name's addresses is meant is the operator's to say.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        "expected IP:PORT, like 127.0.0.1:9700 or [::1]:9700 (host names such as \
         localhost are not looked up)"
            .to_owned()
    })
}

/// What the budget must hold for one body of `max_body` bytes in
/// `max_events` events to be taken: 2.25 times the body and 160 bytes an
/// event, as the README says.
fn largest_body_needs(max_body: usize, max_events: usize) -> usize {
    (max_body.saturating_mul(9) / 4).saturating_add(max_events.saturating_mul(160))
}
