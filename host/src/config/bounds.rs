//! Reading a bounded setting: each of the config's numbers and paths is
//! read through these, so that every refusal is worded the same, and a
//! table's bad settings are all named at once, each replaced by its default
//! meanwhile.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The setting `name`'s `value`, if within `range`; `default` when it is
/// not given. Every bounded setting of the config is read through this, so
/// that each refusal says the same thing.
pub(super) fn in_range<T: Copy + PartialOrd + std::fmt::Display>(
    name: &str,
    value: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, String> {
    match value {
        None => Ok(default),
        Some(v) if range.contains(&v) => Ok(v),
        Some(v) => Err(format!(
            "{name} = {v}: must be between {} and {}",
            range.start(),
            range.end()
        )),
    }
}

/// As [`in_range`], for a setting written in another unit than it is
/// held in: `convert` makes a value in range into the setting (milliseconds
/// into a `Duration`, MiB into bytes), and `default` is one already.
pub(super) fn in_range_as<T>(
    name: &str,
    value: Option<u64>,
    default: T,
    range: std::ops::RangeInclusive<u64>,
    convert: impl FnOnce(u64) -> T,
) -> Result<T, String> {
    match value {
        None => Ok(default),
        Some(v) => in_range(name, Some(v), v, range).map(convert),
    }
}

/// A `*_ms` setting within `range` milliseconds, or `default`.
pub(super) fn millis_in(
    name: &str,
    value: Option<u64>,
    default: Duration,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, String> {
    in_range_as(name, value, default, range, Duration::from_millis)
}

/// A `*_ms` setting of 1 ms to an hour, or `default` when it is not given.
pub(super) fn millis(
    name: &str,
    value: Option<u64>,
    default: Duration,
) -> Result<Duration, String> {
    millis_in(name, value, default, 1..=3_600_000)
}

/// A `*_mib` setting in bytes: `default` when absent, else within `range`.
pub(super) fn mebibytes(
    name: &str,
    value: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, String> {
    in_range_as(name, value, default, range, |mib| mib << 20)
}

/// A path setting, a relative one read from `base` (the config's folder).
/// An empty one is refused: joined to `base` it would be that folder
/// itself, and files the setting names would land beside the config.
pub(super) fn path(
    name: &str,
    value: Option<PathBuf>,
    base: &Path,
) -> Result<Option<PathBuf>, String> {
    match value {
        Some(empty) if empty.as_os_str().is_empty() => Err(format!(
            "{name} = \"\": give a path (a relative one is read from the config's folder), \
             or leave the setting out"
        )),
        value => Ok(value.map(|path| base.join(path))),
    }
}

/// The problems of one table's settings. Each setting is read on past a
/// bad one, whose default stands in, so that all of a table's bad
/// settings are named at once.
#[derive(Default)]
pub(super) struct Problems(Vec<String>);

impl Problems {
    /// A setting that `read` makes of its `default` (which it gives where
    /// the setting is absent), or that default, the problem kept.
    pub(super) fn setting<T: Copy>(
        &mut self,
        default: T,
        read: impl FnOnce(T) -> Result<T, String>,
    ) -> T {
        self.or(read(default), default)
    }

    /// What `read` gave, or `fallback`, the problem kept.
    pub(super) fn or<T>(&mut self, read: Result<T, String>, fallback: T) -> T {
        read.unwrap_or_else(|problem| self.refuse(problem, fallback))
    }

    /// `fallback`, `problem` kept.
    pub(super) fn refuse<T>(&mut self, problem: String, fallback: T) -> T {
        self.0.push(problem);
        fallback
    }

    /// The problems kept, in the order they were found.
    pub(super) fn into_problems(self) -> Vec<String> {
        self.0
    }

    /// `value`, if no problem was kept.
    pub(super) fn settled<T>(self, value: T) -> Result<T, Vec<String>> {
        match self.0.is_empty() {
            true => Ok(value),
            false => Err(self.0),
        }
    }
}
