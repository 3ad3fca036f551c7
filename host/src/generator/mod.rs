//! `wasmstash gen`: realistic logs for a handful of services, to try and test
//! the anomaly filter on. Two modes:
//!
//! - scenario (default): a fixed span of event time, deterministic for a
//!   `--seed`, with labelled incidents and a ground-truth file;
//! - `--follow`: endless live traffic stamped with the current time, to a TCP
//!   peer (Logstash's tcp input in the docker compose demo) or stdout, with an
//!   incident every so often.
//!
//! - `world`: services, templates, the daily shape and incident effects.
//! - `scenario`: the batch mode and the incident schedule.
//! - `follow`: the live mode and its reconnecting TCP writer.
//! - `random`: the seeded random source.

mod follow;
mod incident;
mod random;
mod scenario;
mod world;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

pub use incident::IncidentKind;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  wasmstash gen --seed 7 --duration 12h --out scenario.ndjson        # + scenario.truth.json
  wasmstash gen --parsed --duration 8h | wasmstash run -c examples/wasmstash.toml -p anomaly
  wasmstash gen --follow --rate 50 --tcp logstash:5000                 # the docker compose demo")]
pub struct GenArgs {
    /// Seed of the random source: the same seed writes the same logs.
    #[arg(long, default_value_t = 1, value_parser = crate::cli_number::in_range::<0, { u64::MAX }>)]
    pub seed: u64,
    /// Start of the scenario's event time, in UTC as Logstash writes
    /// `@timestamp` (e.g. 2026-11-24T00:00:00Z).
    #[arg(
        long,
        default_value = "2026-11-24T00:00:00Z",
        value_name = "TIME",
        conflicts_with = "follow"
    )]
    pub start: String,
    /// Span of event time to write, e.g. 24h, 90m; at most 366 days.
    #[arg(long, default_value = "24h", value_parser = parse_duration, value_name = "SPAN", conflicts_with = "follow")]
    pub duration: Duration,
    /// Quiet time at the start, with no incidents (detectors learn then);
    /// default 2h, or 35m with --follow (past `anomaly`'s 30-interval
    /// warm-up); at most 366 days.
    #[arg(long, value_parser = parse_duration, value_name = "SPAN")]
    pub warmup: Option<Duration>,
    /// Incidents of each of the six kinds to inject.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=50), conflicts_with = "follow")]
    pub incidents_per_kind: u32,
    /// Multiplies every service's traffic (1 = about 30 events/s at the peak).
    #[arg(long, default_value_t = 1.0, conflicts_with = "follow")]
    pub scale: f64,
    /// Events leave in an order up to this many seconds off their
    /// timestamps, as when several hosts ship logs; at most 3600. Events
    /// wait in memory until they leave, so --scale times this is bounded
    /// too (at most 2000000 events waiting at the peak).
    #[arg(long, default_value_t = 5, value_parser = crate::cli_number::in_range::<0, MAX_DISORDER_SECS>, conflicts_with = "follow")]
    pub disorder_secs: u64,
    /// Also write the fields grok would parse from access lines (source,
    /// http, url, user_agent), for pipelines without a grok stage.
    #[arg(long)]
    pub parsed: bool,
    /// Write events here instead of stdout. A regular file is written under
    /// a temporary name and replaces FILE only once complete, keeping its
    /// mode (in a directory this user cannot write, FILE itself is written:
    /// emptied when the first event is about to be made, so a run cut short
    /// leaves a prefix of its events); a FIFO or a device is
    /// written to directly, never replaced; a symlink is followed: the link
    /// stays, and what it points to is written as above.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Ground truth (JSON), written as --out is; with --out and no --truth,
    /// the out file's name with `.truth.json` for its extension
    /// (scenario.ndjson: scenario.truth.json), unless --out is a FIFO or a
    /// device: then no ground truth is written unless --truth names a file.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Live mode: write forever, stamped with the current time, to stdout
    /// or --tcp (not --out, whose file is replaced only once complete:
    /// redirect stdout to write a file as it grows). The scenario's span,
    /// start, scale, incident count and disorder do not apply to it.
    #[arg(long, conflicts_with_all = ["out", "truth"])]
    pub follow: bool,
    /// Live mode: events per second at the daily peak (the daily shape
    /// follows the wall clock).
    #[arg(long, default_value_t = 50.0, requires = "follow")]
    pub rate: f64,
    /// Live mode: send NDJSON lines to this TCP peer, reconnecting with
    /// backoff while it is down (default: stdout). HOST is a name or an
    /// address (`[::1]` for IPv6); a name is looked up on each connection.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_peer, requires = "follow")]
    pub tcp: Option<String>,
    /// Live mode: start an incident this often, after --warmup; at most
    /// 366 days. An incident lasts 5 or 10 minutes, so a shorter span
    /// makes them overlap, and 0s starts one every 100 ms (a stress test).
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "SPAN", requires = "follow")]
    pub incident_every: Duration,
}

impl GenArgs {
    fn warmup(&self) -> Duration {
        self.warmup.unwrap_or(Duration::from_secs(if self.follow {
            35 * 60
        } else {
            2 * 3600
        }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The arguments cannot make a scenario (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Writing the events or the ground truth failed (exit 1).
    #[error("{0}")]
    Io(String),
    /// Whoever read the events stopped reading (`gen | head`): not an error.
    #[error("the reader closed the output")]
    ReaderGone,
}

impl GenError {
    /// A failed operation whose error already names its file.
    fn file(error: std::io::Error) -> GenError {
        GenError::Io(error.to_string())
    }

    /// A failed write to `what`; a closed pipe is the reader's choice.
    fn writing(what: &str, error: std::io::Error) -> GenError {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            GenError::ReaderGone
        } else {
            GenError::Io(format!("writing {what}: {error}"))
        }
    }
}

pub fn run(args: &GenArgs) -> Result<(), GenError> {
    // Each said alone, so that the message names only the one given wrong.
    if !(args.scale > 0.0 && args.scale <= 1000.0) {
        let scale = args.scale;
        return Err(GenError::Usage(format!(
            "--scale {scale}: must be in (0, 1000]"
        )));
    }
    if !(args.rate > 0.0 && args.rate <= 1e6) {
        let rate = args.rate;
        return Err(GenError::Usage(format!(
            "--rate {rate}: must be in (0, 1000000]"
        )));
    }
    if args.follow {
        follow::run(args)
    } else {
        scenario::run(args)
    }
}

/// The longest span gen takes: a year of events is far past any test, and
/// event times stay in i64 milliseconds without overflow.
pub const MAX_SPAN: Duration = Duration::from_secs(366 * 86_400);

/// The most disorder: an hour of events is the most that waits in memory.
pub const MAX_DISORDER_SECS: u64 = 3600;

/// `90s`, `15m`, `24h`, `2d`; a bare number is seconds; at most [`MAX_SPAN`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: expected a span like 90s, 15m, 24h or 2d"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: unknown unit `{unit}`; use s, m, h or d")),
    };
    let too_long = || format!("`{text}`: at most 366 days");
    let span = number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(too_long)?;
    if span > MAX_SPAN {
        return Err(too_long());
    }
    Ok(span)
}

/// A --tcp peer, `HOST:PORT`. Only its form is checked here, so that a typo
/// is a usage error rather than endless retries; a name is not looked up
/// yet, as a peer's name may not resolve until the peer is up.
pub fn parse_peer(text: &str) -> Result<String, String> {
    let valid_port = |port: &str| port.parse::<u16>().is_ok_and(|port| port != 0);
    let well_formed = match text.parse::<std::net::SocketAddr>() {
        Ok(address) => address.port() != 0,
        Err(_) => text.rsplit_once(':').is_some_and(|(host, port)| {
            let host_name = host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
            !host.is_empty() && host_name && valid_port(port)
        }),
    };
    if well_formed {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}`: expected HOST:PORT, like logstash:5000, 127.0.0.1:5000 or [::1]:5000"
        ))
    }
}
