//! The `[engine]` table: the limits every filter instance runs under, each
//! checked against its bounds, with the defaults of [`EngineSettings`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::bounds::{Problems, in_range, mebibytes, millis, millis_in, path};
use crate::engine::EngineSettings;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "the [engine] table")]
pub(super) struct RawEngine {
    call_timeout_ms: Option<u64>,
    state_call_timeout_ms: Option<u64>,
    memory_limit_mib: Option<u64>,
    cache_dir: Option<PathBuf>,
    cache_max_mib: Option<u64>,
    checkpoint_interval_ms: Option<u64>,
    replay_budget_ms: Option<u64>,
    max_module_mib: Option<u64>,
    max_event_mib: Option<u64>,
    compile_timeout_ms: Option<u64>,
    compile_memory_mib: Option<u64>,
    max_filter_instances: Option<u64>,
}

/// The largest limits the `[engine]` table takes, which `run` and `inspect`
/// also take as flags.
pub const MAX_MEMORY_LIMIT_MIB: u64 = 4096;
pub const MAX_CALL_TIMEOUT_MS: u64 = 600_000;
pub const MAX_EVENT_MIB: u64 = 1024;

/// The most filter instances a config may create when no setting says:
/// the stack's config (14 filters) at the most workers there may be (256)
/// is 3584. Each instance costs its module's memory and an `init`, and
/// loading a config of ten thousand filters took a minute and gigabytes
/// before anything could refuse it.
pub const DEFAULT_MAX_FILTER_INSTANCES: u64 = 4096;

/// `max_filter_instances`, checked against its bounds.
pub(super) fn max_filter_instances(raw: &RawEngine) -> Result<u64, String> {
    in_range(
        "max_filter_instances",
        raw.max_filter_instances,
        DEFAULT_MAX_FILTER_INSTANCES,
        1..=65_536,
    )
}

pub(super) fn engine_settings(raw: RawEngine, base: &Path) -> Result<EngineSettings, Vec<String>> {
    let defaults = EngineSettings::default();
    let mut bad = Problems::default();
    let memory_limit_bytes = bad.setting(defaults.memory_limit_bytes as u64, |default| {
        mebibytes(
            "memory_limit_mib",
            raw.memory_limit_mib,
            default,
            1..=MAX_MEMORY_LIMIT_MIB,
        )
    }) as usize;
    let call_timeout = match raw.call_timeout_ms {
        None => defaults.call_timeout,
        Some(0) => None,
        Some(ms @ 1..=MAX_CALL_TIMEOUT_MS) => Some(Duration::from_millis(ms)),
        Some(other) => bad.refuse(
            format!("call_timeout_ms = {other}: must be 0 (off) or at most {MAX_CALL_TIMEOUT_MS}"),
            defaults.call_timeout,
        ),
    };
    let state_call_timeout = bad.setting(defaults.state_call_timeout, |default| {
        millis_in(
            "state_call_timeout_ms",
            raw.state_call_timeout_ms,
            default,
            1..=MAX_CALL_TIMEOUT_MS,
        )
    });
    let checkpoint_interval = bad.setting(defaults.checkpoint_interval, |default| {
        millis_in(
            "checkpoint_interval_ms",
            raw.checkpoint_interval_ms,
            default,
            0..=3_600_000,
        )
    });
    let replay_budget = bad.setting(defaults.replay_budget, |default| {
        millis("replay_budget_ms", raw.replay_budget_ms, default)
    });
    let compile_timeout = bad.setting(defaults.compile_timeout, |default| {
        millis("compile_timeout_ms", raw.compile_timeout_ms, default)
    });
    let compile_memory_bytes = bad.setting(defaults.compile_memory_bytes, |default| {
        mebibytes(
            "compile_memory_mib",
            raw.compile_memory_mib,
            default,
            MIN_COMPILE_MEMORY_MIB..=65_536,
        )
    });
    let cache_max_bytes = bad.setting(defaults.cache_max_bytes, |default| {
        mebibytes("cache_max_mib", raw.cache_max_mib, default, 16..=1_048_576)
    });
    let max_module_bytes = bad.setting(defaults.max_module_bytes, |default| {
        mebibytes("max_module_mib", raw.max_module_mib, default, 1..=1024)
    });
    let max_event_bytes = bad.setting(defaults.max_event_bytes as u64, |default| {
        mebibytes(
            "max_event_mib",
            raw.max_event_mib,
            default,
            1..=MAX_EVENT_MIB,
        )
    }) as usize;
    let cache_dir = bad
        .or(path("cache_dir", raw.cache_dir, base), None)
        .or(defaults.cache_dir);
    bad.settled(EngineSettings {
        call_timeout,
        state_call_timeout,
        max_module_bytes,
        max_event_bytes,
        memory_limit_bytes,
        checkpoint_interval,
        replay_budget,
        compile_timeout,
        compile_memory_bytes,
        cache_max_bytes,
        fixed_clock: None,
        cache_dir,
    })
}

/// The least address space a compiler process is given. Its own code,
/// threads and allocators take about 60 MiB before it reads the module,
/// and the largest built-in (date, 1.5 MB) compiles in 128 MiB.
const MIN_COMPILE_MEMORY_MIB: u64 = 256;
