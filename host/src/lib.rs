//! wasmstash: sandboxed WebAssembly log filters for Logstash.
//!
//! The binary (`main.rs`) is a thin command line over this library:
//!
//! - [`engine`]: wasmtime, the module cache, limits, and failure isolation.
//! - [`pipeline`]: filters in order; every event comes out exactly once.
//! - [`config`]: the TOML pipeline file.
//! - [`builtins`]: the filters compiled into the binary.
//! - [`event_check`]: the JSON validation that guards the ABI boundary.
//! - [`run`]: the `wasmstash run` command (files or stdin to NDJSON).
//! - [`serve`]: the `wasmstash serve` sidecar (HTTP for Logstash).
//! - [`golden`]: `wasmstash test`, golden-file tests for filter authors.
//! - [`scaffold`]: `wasmstash new`, a ready filter crate.
//! - [`metrics`]: the Prometheus registry behind `GET /metrics`.
//! - [`state`]: stateful filters' snapshots, shared by `run` and `serve`.
//! - [`generator`]: `wasmstash gen`, scenario and live logs with labelled incidents.
//! - [`probe`]: `wasmstash probe`, the container health check.
//! - [`setup`]: `wasmstash setup`, index templates and Kibana objects.
//! - [`check`]: `wasmstash check`, every problem of a config at once.
//! - [`input`]: how input lines become events (formats, byte-order mark).
//! - [`files`]: reading files under a size cap, refusing what is not a
//!   regular file.

/// `eprintln!` for what the commands tell the operator, without its panic
/// (exit 101) when stderr is closed or full, as in `wasmstash run … 2>&1 |
/// head -1`, where the reader of both went away: a message no one can read
/// is dropped instead, and the exit status stays the command's own.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// A mutex's guard even if a thread panicked while holding it: what the
/// host guards (queues, counters, a filter's stage, state locks) stays
/// usable after such a panic, which the panic's own handling reports, and
/// the process must keep serving.
pub(crate) fn locked<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `tag` marks a failure, by Logstash's convention that failure
/// tags start with `_` (`_grokparsefailure`, `_wasmfilter_failure`): what
/// `run`'s summary and the live view count as failures.
pub(crate) fn is_failure_tag(tag: &str) -> bool {
    tag.starts_with('_')
}

pub mod builtins;
pub mod check;
pub(crate) mod cli_number;
pub mod config;
pub mod engine;
pub mod event_check;
pub mod files;
pub mod generator;
pub mod golden;
pub mod import;
pub mod input;
pub mod logstash_event;
pub mod metrics;
pub mod pipeline;
pub mod probe;
pub mod run;
pub mod scaffold;
pub mod serve;
pub mod setup;
pub mod state;

/// An error with its causes, each said once: a library's outer words
/// ("error sending request", "error reading a body from connection") often
/// leave out the useful part ("Connection refused", "invalid chunk size").
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
