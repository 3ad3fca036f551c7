//! One filter of a pipeline as configured: where its WebAssembly comes
//! from, its JSON config and its name, read from the config file or the
//! command line, and loaded into modules. Names are what an operator reads
//! in logs, metrics and failure records, so each filter of a pipeline gets
//! one of its own.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, pattern_files};
use crate::builtins;
use crate::engine::{Engine, EngineSettings, FilterModule, LoadError, printable};

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a filter: a `[[pipelines.NAME.filters]]` table with `filter` or `module`"
)]
pub(super) struct RawFilter {
    filter: Option<String>,
    module: Option<PathBuf>,
    name: Option<String>,
    sha256: Option<String>,
    #[serde(default)]
    config: Option<toml::Table>,
}

impl RawFilter {
    /// `filter #N`, with the name the filter would have when one can be
    /// told (`filter #2 (`json`)`), as a loaded filter's problems name it.
    pub(super) fn label(&self, index: usize) -> String {
        let stem = || self.module.as_deref()?.file_stem()?.to_str();
        match (self.name.as_deref())
            .or(self.filter.as_deref())
            .or_else(stem)
        {
            Some(name) if !name.is_empty() => {
                format!("filter #{} (`{}`)", index + 1, shown_name(name))
            }
            _ => format!("filter #{}", index + 1),
        }
    }
}

/// A pipeline's filters as specs, each with its position, past any the
/// config cannot take (each such a `problem`), and whether it took them
/// all; `None` when there are none to take. `read` is what could be read
/// of the pipeline's table (see `tables`).
pub(super) fn specs_of(
    read: Result<Vec<Result<RawFilter, String>>, String>,
    shown: &str,
    base: &Path,
    problem: &mut dyn FnMut(String),
) -> Option<(Vec<(usize, FilterSpec)>, bool)> {
    let raw_filters = read.map_err(&mut *problem).ok()?;
    if raw_filters.is_empty() {
        problem(format!("pipeline `{shown}` has no filters"));
        return None;
    }
    let count = raw_filters.len();
    let mut taken = Vec::new();
    for (index, raw_filter) in raw_filters.into_iter().enumerate() {
        // A table that could not be read is placed by its own message.
        let raw_filter = match raw_filter {
            Ok(raw_filter) => raw_filter,
            Err(msg) => {
                problem(msg);
                continue;
            }
        };
        let label = raw_filter.label(index);
        match filter_spec(raw_filter, base) {
            Ok(spec) => taken.push((index, spec)),
            Err(msg) => problem(format!("pipeline `{shown}`, {label}: {msg}")),
        }
    }
    let took_all = taken.len() == count;
    Some((taken, took_all))
}

/// Refuses a filter config that is not a JSON object, or that repeats a
/// key at any depth, or holds a number beyond an f64's range (as the host
/// refuses in an event), naming `subject`, where it came from. serde would
/// keep a repeated key's last value, where Logstash refuses a hash literal
/// with one ("Duplicate keys found in your configuration"): a `match` moved
/// over with two patterns for one field would quietly lose the first. (A
/// plugin setting repeated at the top of a Logstash block is merged
/// instead, for legacy reasons; here it is refused too, as nothing says
/// which of the two was meant.)
pub fn check_config_object(config: &str, subject: &str) -> Result<(), String> {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(config)
        .map_err(|e| format!("{subject} must be a JSON object: {e}"))?;
    crate::event_check::check_event(config.as_bytes()).map_err(|e| format!("{subject}: {e}"))
}

/// Where a filter's WebAssembly comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterSource {
    Builtin(String),
    File(PathBuf),
}

impl FilterSource {
    /// A built-in, or a path whose extension is a module's: what a
    /// `NAME=` on the command line is taken to be followed by a config.
    fn names_a_module_kind(&self) -> bool {
        match self {
            FilterSource::Builtin(_) => true,
            FilterSource::File(path) => {
                matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("wasm" | "wat")
                )
            }
        }
    }
}

/// One filter of a pipeline, as configured.
#[derive(Debug, Clone)]
pub struct FilterSpec {
    /// Label for logs, metrics and failure records.
    pub name: String,
    pub source: FilterSource,
    pub config_json: Vec<u8>,
    /// The module must have this SHA-256 (hex) or it is refused.
    pub sha256: Option<String>,
    /// Where relative paths in the config (grok's `patterns_dir`) are
    /// taken from: the config file's directory, or the working directory
    /// for a filter given on the command line.
    pub config_dir: PathBuf,
}

impl FilterSpec {
    /// A spec from `run --filter NAME[=JSON]`, where NAME is a built-in or a
    /// path to a module. A `=` starts the config only where a JSON object
    /// follows it, so a module path may hold `=` (`./a=b.wasm`).
    pub fn from_cli(spec: &str) -> Result<FilterSpec, ConfigError> {
        FilterSpec::from_option("--filter", spec)
    }

    /// As [`FilterSpec::from_cli`], for another `option` that takes the
    /// same `NAME[=JSON]` (`test --before`); errors name `option`.
    pub fn from_option(option: &str, spec: &str) -> Result<FilterSpec, ConfigError> {
        let config_at = (spec.match_indices('=').map(|(at, _)| at))
            .find(|&at| spec[at + 1..].trim_start().starts_with('{'));
        if config_at.is_none()
            && let Some((target, config)) = spec.split_once('=')
            && FilterSpec::source(target).is_some_and(|source| source.names_a_module_kind())
        {
            // `m.wasm=` from an empty `$(cat config.json)`, or `m.wasm=null`:
            // a config that is not an object, not a file named `m.wasm=`.
            let (spec, target, config) = (printable(spec), printable(target), printable(config));
            return Err(ConfigError(format!(
                "{option} {spec}: the config after `=` must be a JSON object, like {target}={{\"key\":1}}, not `{config}`"
            )));
        }
        let (target, config) = config_at.map_or((spec, "{}"), |at| (&spec[..at], &spec[at + 1..]));
        FilterSpec::from_target(target, config, option)
    }

    /// A spec for `target`, a built-in's name or a module's path, with
    /// `config`, a JSON object; errors name `option`, where they came from.
    pub fn from_target(
        target: &str,
        config: &str,
        option: &str,
    ) -> Result<FilterSpec, ConfigError> {
        let target = target.trim();
        // How errors show the target: a path may hold anything.
        let shown = printable(target);
        check_config_object(config, &format!("{option} {shown}: config")).map_err(ConfigError)?;
        let source = FilterSpec::source(target).ok_or_else(|| {
            // `json=[1]`: not split, as no JSON object follows the `=`.
            let config_hint = if target.contains('=') {
                "; a config goes after `=` as a JSON object, like NAME={\"key\":1}"
            } else {
                ""
            };
            ConfigError(format!(
                "{option} {shown}: no built-in filter of that name (built-ins: {}); a module file must end in .wasm or .wat{config_hint}",
                builtins::names()
            ))
        })?;
        let name =
            default_name(&source).map_err(|e| ConfigError(format!("{option} {shown}: {e}")))?;
        Ok(FilterSpec {
            name,
            source,
            config_json: config.as_bytes().to_vec(),
            sha256: None,
            config_dir: PathBuf::from("."),
        })
    }

    /// The module's bytes (WebAssembly or its text format), from the
    /// binary or from a file of at most `max_module_bytes`.
    fn bytes(&self, max_module_bytes: u64) -> std::io::Result<std::borrow::Cow<'static, [u8]>> {
        Ok(match &self.source {
            FilterSource::Builtin(name) => builtins::find(name)
                .expect("checked when parsed")
                .wasm
                .into(),
            FilterSource::File(path) => {
                crate::files::read_capped(path, max_module_bytes, "module")?.into()
            }
        })
    }

    /// Whether the module keeps state, read without compiling it
    /// (`engine::declares_state`, within `settings`' bounds); a module that
    /// cannot be read says no here, and its load says why.
    pub fn declares_state(&self, settings: &EngineSettings) -> bool {
        self.bytes(settings.max_module_bytes)
            .is_ok_and(|bytes| crate::engine::declares_state(&bytes, settings))
    }

    /// A built-in by name, or a module file by a path that looks like one.
    fn source(target: &str) -> Option<FilterSource> {
        if builtins::find(target).is_some() {
            Some(FilterSource::Builtin(target.to_owned()))
        } else if target.ends_with(".wasm") || target.ends_with(".wat") || target.contains('/') {
            Some(FilterSource::File(PathBuf::from(target)))
        } else {
            None
        }
    }
}

/// Why a filter of a list did not load: which one, and why. Its text
/// names the filter by position and name; the parts are there for a
/// caller that says more about where that filter came from.
#[derive(Debug, thiserror::Error)]
#[error("filter #{} (`{}`): {}", .index + 1, shown_name(.name), .error)]
pub struct FilterLoadError {
    /// The filter's place in the list, from 0.
    pub index: usize,
    pub name: String,
    pub error: LoadError,
}

/// Compiles and validates a list of filters, past any that fails: the
/// modules, or every failing filter's error.
pub fn load_filters(
    engine: &Engine,
    filters: &[FilterSpec],
) -> Result<Vec<FilterModule>, Vec<FilterLoadError>> {
    load_each(engine, filters.iter().enumerate())
}

/// [`load_filters`] for filters each given with its place in its list.
pub(super) fn load_each<'s>(
    engine: &Engine,
    filters: impl IntoIterator<Item = (usize, &'s FilterSpec)>,
) -> Result<Vec<FilterModule>, Vec<FilterLoadError>> {
    let (mut modules, mut errors) = (Vec::new(), Vec::new());
    for (index, spec) in filters {
        match load_filter(engine, index, spec) {
            Ok(module) => modules.push(module),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(modules)
    } else {
        Err(errors)
    }
}

/// Compiles and validates the filter at `index` of a list; the error names it.
fn load_filter(
    engine: &Engine,
    index: usize,
    spec: &FilterSpec,
) -> Result<FilterModule, FilterLoadError> {
    let context = |error: LoadError| FilterLoadError {
        index,
        name: spec.name.clone(),
        error,
    };
    let bytes = spec
        .bytes(engine.settings().max_module_bytes)
        .map_err(|e| {
            // The setting is named only when it is the cause; a crate's
            // directory, with the module it builds.
            let crate_hint = match &spec.source {
                FilterSource::File(path) => crate::engine::crate_directory_hint(path),
                FilterSource::Builtin(_) => None,
            };
            let hint = match (e.kind(), crate_hint) {
                (std::io::ErrorKind::FileTooLarge, _) => " (engine.max_module_mib)".to_owned(),
                (_, Some(crate_hint)) => format!("; {crate_hint}"),
                _ => String::new(),
            };
            let path = match &spec.source {
                FilterSource::File(path) => crate::files::shown(path),
                FilterSource::Builtin(name) => name.clone(),
            };
            context(LoadError::module(format!(
                "cannot read module {path}: {e}{hint}"
            )))
        })?;
    // The built-in grok's `patterns_dir` only: another filter's
    // option of that name is its own business.
    let config = match &spec.source {
        FilterSource::Builtin(name) if name == "grok" => {
            pattern_files::read_into_config(&spec.config_json, &spec.config_dir)
                .map_err(|e| context(LoadError::init(format!("invalid config: {e}"))))?
        }
        _ => None,
    };
    let module = FilterModule::load_pinned(
        engine,
        &spec.name,
        &bytes,
        config.as_deref().unwrap_or(&spec.config_json),
        spec.sha256.as_deref(),
    )
    .map_err(context)?;
    // After the filter took its config: a value it refuses is said once,
    // by its refusal, not first warned of as if it would run.
    if let FilterSource::Builtin(builtin) = &spec.source {
        warn_of_state_budget(builtin, spec, engine.settings().memory_limit_bytes);
    }
    Ok(module)
}

/// The built-in stateful filters (`anomaly`, `templates`) bound their
/// state by `max_state_mib`, which must leave the instance room for the
/// batch in hand and for the snapshot a checkpoint writes beside the
/// state: their READMEs say to keep it about half the memory limit. One
/// over half, given or the default, lets the state grow past what a
/// snapshot can be made of (a templates state of 48 MiB in a 64 MiB
/// instance failed its checkpoint), and one at the limit fills the memory
/// before any key is evicted. It is warned of, not refused: a small
/// stream may never fill it.
fn warn_of_state_budget(builtin: &str, spec: &FilterSpec, memory_limit_bytes: usize) {
    let Some(default) = default_state_budget_mib(builtin) else {
        return;
    };
    let Ok(serde_json::Value::Object(config)) = serde_json::from_slice(&spec.config_json) else {
        return;
    };
    let (mib, whose) = match config.get("max_state_mib") {
        None => (default, " (the filter's default)"),
        // templates takes a null for its default too; anomaly refuses it.
        Some(serde_json::Value::Null) if builtin == "templates" => {
            (default, " (the filter's default)")
        }
        // Anything else that is no count the filter refuses, saying why.
        Some(given) => match given.as_u64() {
            Some(mib) => (mib, ""),
            None => return,
        },
    };
    let limit_mib = (memory_limit_bytes >> 20) as u64;
    if mib * 2 > limit_mib {
        tracing::warn!(
            "filter `{}`: max_state_mib = {mib}{whose} is more than half engine.memory_limit_mib \
             ({limit_mib}): a checkpoint's snapshot is made in the instance's memory beside the \
             state, so a state that large may fail to be saved, and one near the limit makes \
             calls fail out of memory; keep max_state_mib at most half the limit",
            shown_name(&spec.name)
        );
    }
}

/// `max_state_mib` of a built-in filter whose config gives none; `None`
/// for the filters without one. A test holds these to the filters' own.
fn default_state_budget_mib(builtin: &str) -> Option<u64> {
    match builtin {
        "anomaly" => Some(32),
        "templates" => Some(16),
        _ => None,
    }
}

pub(super) fn filter_spec(raw: RawFilter, base: &Path) -> Result<FilterSpec, String> {
    let source = match (raw.filter, raw.module) {
        (Some(name), None) => {
            if builtins::find(&name).is_none() {
                return Err(format!(
                    "unknown built-in filter `{}` (built-ins: {}); use `module = \"path.wasm\"` for a module file",
                    shown_name(&name),
                    builtins::names()
                ));
            }
            FilterSource::Builtin(name)
        }
        (None, Some(path)) => FilterSource::File(base.join(path)),
        (Some(_), Some(_)) => {
            return Err("give either `filter` (a built-in) or `module` (a file), not both".into());
        }
        (None, None) => {
            return Err("missing `filter = \"<built-in>\"` or `module = \"<path.wasm>\"`".into());
        }
    };
    let config = json_of_table(raw.config.unwrap_or_default(), "config")?.to_string();
    if let Some(pin) = &raw.sha256
        && !(pin.len() == 64 && pin.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(format!(
            "sha256 = \"{}\": expected 64 hex digits (see `sha256sum module.wasm`)",
            crate::engine::printable(pin)
        ));
    }
    let name = match raw.name {
        Some(name) => name,
        None => default_name(&source)?,
    };
    Ok(FilterSpec {
        name,
        source,
        config_json: config.into_bytes(),
        sha256: raw.sha256,
        config_dir: base.to_owned(),
    })
}

/// A filter's TOML config as the JSON its module is given. TOML has
/// values JSON has not: a date-time (which serde would pass on as an
/// object of its own private shape) and nan or inf (which would become
/// null). Each is refused, naming where it is, rather than reaching the
/// filter as something the operator did not write.
fn json_of_table(table: toml::Table, at: &str) -> Result<serde_json::Value, String> {
    (table.into_iter())
        .map(|(key, value)| {
            let at = format!("{at}.{key}");
            Ok((key, json_of(value, &at)?))
        })
        .collect::<Result<_, String>>()
        .map(serde_json::Value::Object)
}

fn json_of(value: toml::Value, at: &str) -> Result<serde_json::Value, String> {
    use serde_json::Value as Json;
    Ok(match value {
        toml::Value::String(text) => Json::String(text),
        toml::Value::Integer(number) => Json::from(number),
        toml::Value::Float(number) => serde_json::Number::from_f64(number)
            .map(Json::Number)
            .ok_or_else(|| {
                format!("{at} = {number}: filters are configured in JSON, which has no such number")
            })?,
        toml::Value::Boolean(flag) => Json::Bool(flag),
        toml::Value::Datetime(when) => {
            return Err(format!(
                "{at} = {when}: filters are configured in JSON, which has no date-time; quote it to pass it as a string: \"{when}\""
            ));
        }
        toml::Value::Array(items) => Json::Array(
            (items.into_iter().enumerate())
                .map(|(index, item)| json_of(item, &format!("{at}[{index}]")))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => json_of_table(table, at)?,
    })
}

/// A built-in's name, or a module file's stem; a path with no file name
/// (`/`, `..`) names no module, and is refused as such rather than as a
/// filter with an empty name.
fn default_name(source: &FilterSource) -> Result<String, String> {
    match source {
        FilterSource::Builtin(name) => Ok(name.clone()),
        FilterSource::File(path) => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .ok_or_else(|| {
                format!(
                    "`{}` names no module file: a module is a .wasm or .wat file",
                    crate::files::shown(path)
                )
            }),
    }
}

/// A filter's name as printed: the config chose it, and a line break or an
/// escape sequence in it would start a line the sidecar did not write or
/// steer the terminal. Escaped as module text is.
pub fn shown_name(name: &str) -> String {
    crate::engine::printable(name)
}

/// Filters' names as printed ([`shown_name`]), joined.
pub fn shown_names(names: &[String]) -> String {
    (names.iter().map(|name| shown_name(name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Gives each filter of a pipeline a name of its own: an empty one is
/// refused, and a name an earlier filter has gets `#` and the filter's
/// position (a second `mutate` at position 3 is `mutate#3`), so that
/// counters and failure records say which one, and a stateful filter's
/// saved state (which belongs to its name) is its own. A name made so that
/// an earlier filter has too (it was set as `name = "mutate#3"`) is refused
/// rather than shared.
pub(crate) fn distinct_names(specs: &mut [FilterSpec]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for (index, spec) in specs.iter_mut().enumerate() {
        if spec.name.is_empty() {
            return Err(format!("filter #{}: `name` is empty", index + 1));
        }
        if !seen.insert(spec.name.clone()) {
            let numbered = format!("{}#{}", spec.name, index + 1);
            if !seen.insert(numbered.clone()) {
                return Err(format!(
                    "filter #{}: its name `{}` is an earlier filter's, and so is `{}`, \
                     the name it would be given instead; give it a `name` of its own",
                    index + 1,
                    shown_name(&spec.name),
                    shown_name(&numbered)
                ));
            }
            spec.name = numbered;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::default_state_budget_mib;

    /// The host's table of defaults is the filters' own, read from the
    /// crates the built-in modules are made from.
    #[test]
    fn the_state_budget_defaults_are_the_filters_own() {
        let anomaly: wasmstash_filter_anomaly::Config =
            serde_json::from_value(serde_json::json!({"rate": {}})).unwrap();
        assert_eq!(
            default_state_budget_mib("anomaly"),
            Some(anomaly.max_state_mib)
        );
        let templates = wasmstash_filter_templates::miner::Config::default();
        assert_eq!(
            default_state_budget_mib("templates"),
            Some(templates.max_state_mib as u64)
        );
        assert_eq!(default_state_budget_mib("grok"), None);
    }
}
