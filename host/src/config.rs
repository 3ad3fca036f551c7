//! The pipeline config file (TOML): engine limits and named pipelines, each an
//! ordered list of filters with their JSON config.
//!
//! ```toml
//! [engine]
//! call_timeout_ms = 1000     # 0 turns the per-call deadline off
//! memory_limit_mib = 64
//!
//! [[pipelines.app.filters]]
//! filter = "json"                     # a built-in ...
//! config = { source = "message" }
//!
//! [[pipelines.app.filters]]
//! module = "filters/redact.wasm"      # ... or a module file, relative to this file
//! ```
//!
//! Every error names the file and, where it applies, the pipeline and filter.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{Engine, EngineSettings, FilterModule, printable};

/// A config problem, worded for the operator who has to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    /// Several problems as one error, one a line, so that the operator
    /// fixes them all in one go.
    pub fn joined(problems: impl IntoIterator<Item = ConfigError>) -> ConfigError {
        let lines: Vec<String> = problems.into_iter().map(|problem| problem.0).collect();
        ConfigError(lines.join("\n"))
    }
}

/// What [`Config::load_all`] read of a config file.
pub struct Loaded {
    /// The config without the pipelines that have a problem, if `[engine]`
    /// and `[server]` could be read and the instances it makes are within
    /// their limit.
    pub config: Option<Config>,
    /// The `[server]` settings, with the default in place of a bad one, if
    /// the file could be read: for the checks of the good ones (the admin
    /// token, the state directory), which need no pipeline.
    pub server: Option<ServerSettings>,
    /// The pipelines left out of `config` because a filter of theirs has a
    /// problem, each with its other filters and their positions: `check`
    /// loads those too, for their own problems.
    pub incomplete: Vec<(String, Vec<(usize, FilterSpec)>)>,
    /// Every problem found, in the file's order of tables.
    pub problems: Vec<ConfigError>,
}

impl Loaded {
    /// A file of which nothing could be read.
    fn unread(problem: ConfigError) -> Loaded {
        Loaded {
            config: None,
            server: None,
            incomplete: Vec::new(),
            problems: vec![problem],
        }
    }
}

/// Names, comma-separated and escaped, for messages (a name the file
/// has may be one it cannot have, with a line break or an escape sequence).
fn names_of<'n>(names: impl Iterator<Item = &'n String>) -> String {
    names
        .map(|name| printable(name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `file` has no pipeline `name`; these are the ones it has.
fn no_pipeline<'n>(file: &str, name: &str, names: impl Iterator<Item = &'n String>) -> ConfigError {
    ConfigError(format!(
        "{file}: no pipeline `{}` (pipelines: {})",
        printable(name),
        names_of(names)
    ))
}

/// The config, if it has no problem; else every problem as one error, one
/// a line.
fn flawless(loaded: Loaded) -> Result<Config, ConfigError> {
    match loaded.config {
        Some(config) if loaded.problems.is_empty() => Ok(config),
        _ => Err(ConfigError::joined(loaded.problems)),
    }
}

/// Largest config file read: far more than any real one, small enough that
/// a wrong path (a device, a log file) is refused instead of read whole.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// A loaded config file.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub engine: EngineSettings,
    pub server: ServerSettings,
    pub pipelines: BTreeMap<String, Vec<FilterSpec>>,
    /// `engine.max_filter_instances`, for `run`, which makes its own count
    /// of workers (see [`check_instances`]).
    pub max_filter_instances: u64,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        flawless(Config::load_all(path))
    }

    /// Parses config text; `path` names the file in errors and anchors
    /// relative module paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        flawless(Config::parse_all(text, path, None))
    }

    /// As [`Config::load`], with every problem the file has, not only the
    /// first, and the config without the pipelines that have one, if the
    /// rest can be read (for `check`, which then loads those pipelines
    /// too). Past text that is not TOML, or a key the config does not know,
    /// nothing can be read, and that one problem is all.
    pub fn load_all(path: &Path) -> Loaded {
        Config::load_some(path, None)
    }

    /// As [`Config::load`], for `run`, which runs one pipeline: the others
    /// are left unread, so that a problem of theirs does not stop it.
    /// `None` reads them all, for a file whose one pipeline is run.
    pub fn load_one(path: &Path, pipeline: Option<&str>) -> Result<Config, ConfigError> {
        flawless(Config::load_some(path, pipeline))
    }

    fn load_some(path: &Path, only: Option<&str>) -> Loaded {
        match crate::files::read_capped_text(path, MAX_CONFIG_BYTES, "config") {
            Ok(text) => Config::parse_all(&text, path, only),
            Err(e) => {
                let message = format!("{}: cannot read config: {e}", crate::files::shown(path));
                Loaded::unread(ConfigError(message))
            }
        }
    }

    /// The config in `text`; with `only`, of its pipelines just that one.
    fn parse_all(text: &str, path: &Path, only: Option<&str>) -> Loaded {
        let file = crate::files::shown(path);
        let mut tables = match read_tables(text) {
            Ok(tables) => tables,
            Err(message) => return Loaded::unread(ConfigError(format!("{file}: {message}"))),
        };
        if let Some(name) = only {
            if !tables.pipelines.contains_key(name) {
                return Loaded::unread(no_pipeline(&file, name, tables.pipelines.keys()));
            }
            tables.pipelines.retain(|pipeline, _| pipeline == name);
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let mut problems = Vec::new();
        let mut problem = |message: String| problems.push(ConfigError(message));
        for message in tables.problems {
            problem(format!("{file}: {message}"));
        }
        let max_instances = (tables.engine.as_ref())
            .map(|engine| {
                max_filter_instances(engine)
                    .map_err(|msg| problem(format!("{file}: [engine] {msg}")))
                    .ok()
            })
            .unwrap_or_default();
        let (mut pipelines, mut incomplete) = (BTreeMap::new(), Vec::new());
        for (pipeline, raw_filters) in tables.pipelines {
            // Quoted as the config wrote it, escaped: the name is checked
            // only below, and a refused one may hold a line break or an
            // escape sequence.
            let shown = printable(&pipeline);
            let named = match check_pipeline_name(&pipeline) {
                Ok(()) => true,
                Err(msg) => {
                    problem(format!("{file}: pipeline `{shown}`: {msg}"));
                    false
                }
            };
            let in_file = &mut |msg: String| problem(format!("{file}: {msg}"));
            let Some((taken, took_all)) = specs_of(raw_filters, &shown, base, in_file) else {
                continue;
            };
            // A pipeline short of a filter, or with a name it cannot have,
            // is not one anybody configured: its filters are only checked.
            if !(named && took_all) {
                incomplete.push((pipeline, taken));
                continue;
            }
            let mut filters: Vec<FilterSpec> = taken.into_iter().map(|(_, spec)| spec).collect();
            match distinct_names(&mut filters) {
                Ok(()) => drop(pipelines.insert(pipeline, filters)),
                Err(msg) => problem(format!("{file}: pipeline `{shown}`, {msg}")),
            }
        }
        let engine = (tables.engine).and_then(|raw| {
            engine_settings(raw, base)
                .map_err(|msgs| {
                    (msgs.into_iter()).for_each(|msg| problem(format!("{file}: [engine] {msg}")))
                })
                .ok()
        });
        // An unreadable `[server]` table leaves nothing for `check`'s
        // server checks: the defaults in its place are not what it says.
        let server_table_read = tables.server.is_some();
        let (server, server_problems) = server_settings(tables.server.unwrap_or_default(), base);
        let server_read = server_table_read && server_problems.is_empty();
        for msg in server_problems {
            problem(format!("{file}: [server] {msg}"));
        }
        // A config without pipelines can serve nothing; refusing it also keeps
        // a reload from wiping every pipeline when it reads a half-written file.
        if pipelines.is_empty() && problems.is_empty() {
            problems.push(ConfigError(format!(
                "{file}: no pipelines defined; add at least one `[[pipelines.NAME.filters]]` table"
            )));
        }
        let config = match (engine, max_instances, server_read) {
            (Some(engine), Some(max_instances), true) => {
                // The filters of a pipeline left incomplete count too:
                // `check` loads them as well, and once the entry it lacks
                // is fixed, `serve` would make them all.
                let filters = (pipelines.values().map(Vec::len))
                    .chain(incomplete.iter().map(|(_, taken)| taken.len()))
                    .sum();
                let counted = pipelines.len() + incomplete.len();
                let workers = Workers {
                    count: server.workers,
                    set_by: "server.workers",
                };
                // Refused before any is made: `check` would otherwise make them all.
                match check_instances(filters, counted, workers, max_instances) {
                    Ok(()) => Some(Config {
                        path: path.to_path_buf(),
                        engine,
                        server: server.clone(),
                        pipelines,
                        max_filter_instances: max_instances,
                    }),
                    Err(msg) => {
                        problems.push(ConfigError(format!("{file}: {msg}")));
                        None
                    }
                }
            }
            _ => None,
        };
        Loaded {
            config,
            server: server_table_read.then_some(server),
            incomplete,
            problems,
        }
    }

    /// The pipelines' names, comma-separated, for messages.
    pub fn pipeline_names(&self) -> String {
        names_of(self.pipelines.keys())
    }

    /// Compiles and validates every filter of `pipeline`; past one that
    /// fails, the others are still loaded, so that the error names every
    /// filter's problem, one a line.
    pub fn load_pipeline(
        &self,
        engine: &Engine,
        pipeline: &str,
    ) -> Result<Vec<FilterModule>, ConfigError> {
        if !self.pipelines.contains_key(pipeline) {
            let file = crate::files::shown(&self.path);
            return Err(no_pipeline(&file, pipeline, self.pipelines.keys()));
        }
        self.check_pipeline(engine, pipeline)
            .map_err(ConfigError::joined)
    }

    /// Loads every filter of `pipeline`, past any that fails, for `check`:
    /// the modules, or every filter's error.
    pub fn check_pipeline(
        &self,
        engine: &Engine,
        pipeline: &str,
    ) -> Result<Vec<FilterModule>, Vec<ConfigError>> {
        let filters = self.pipelines.get(pipeline).map_or(&[][..], Vec::as_slice);
        self.check_filters(engine, pipeline, filters.iter().enumerate())
    }

    /// Loads `filters` (each with its position) of `pipeline`, past any that
    /// fails: the modules, or every filter's problem.
    pub fn check_filters<'s>(
        &self,
        engine: &Engine,
        pipeline: &str,
        filters: impl IntoIterator<Item = (usize, &'s FilterSpec)>,
    ) -> Result<Vec<FilterModule>, Vec<ConfigError>> {
        let _span = crate::pipeline::logging_in(pipeline);
        load_each(engine, filters).map_err(|errors| {
            (errors.into_iter())
                .map(|error| self.in_pipeline(pipeline, error))
                .collect()
        })
    }

    fn in_pipeline(&self, pipeline: &str, msg: impl std::fmt::Display) -> ConfigError {
        ConfigError(format!(
            "{}: pipeline `{}`, {msg}",
            crate::files::shown(&self.path),
            printable(pipeline)
        ))
    }
}

/// Every file the config depends on (itself and module files), for watching.
impl Config {
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.path.clone()];
        for filters in self.pipelines.values() {
            for spec in filters {
                if let FilterSource::File(path) = &spec.source {
                    files.push(path.clone());
                }
            }
        }
        files
    }
}

/// How many workers run each pipeline, and the option or setting that
/// said so, which a refusal tells the operator to lower.
#[derive(Debug, Clone, Copy)]
pub struct Workers {
    pub count: usize,
    pub set_by: &'static str,
}

/// Refuses `filters` filters in `pipelines` pipelines, each run by
/// `workers`, when they make more than `most` filter instances
/// (`engine.max_filter_instances`). A config is checked for `serve`'s
/// workers before any module is compiled, by every command that reads it,
/// so that a config `check` passes is one `serve` and `run` take; `run`
/// checks its own workers (`--workers`) against the same bound.
pub fn check_instances(
    filters: usize,
    pipelines: usize,
    workers: Workers,
    most: u64,
) -> Result<(), String> {
    let Workers { count, set_by } = workers;
    let instances = filters as u64 * count as u64;
    if instances <= most {
        return Ok(());
    }
    Err(format!(
        "{filters} filter(s) in {pipelines} pipeline(s), each run by {count} worker(s) ({set_by}), \
         make {instances} filter instances, more than {most} (engine.max_filter_instances); \
         raise that setting if these are meant, or lower {set_by}"
    ))
}

/// The longest pipeline name accepted.
const MAX_PIPELINE_NAME: usize = 64;

/// A pipeline's name is part of URLs (`/v1/pipelines/NAME/event`), metric
/// labels and the layout of `state_dir`, so it is kept to what is plain in
/// all three: a name like `..` or `a/b` would put state files outside the
/// directory or let two pipelines share them. A leading `_` is the
/// sidecar's own (`_unknown` labels requests to no loaded pipeline).
fn check_pipeline_name(name: &str) -> Result<(), String> {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain && !name.is_empty() && name.len() <= MAX_PIPELINE_NAME && !name.starts_with(['.', '_'])
    {
        Ok(())
    } else {
        Err(format!(
            "a pipeline name must be 1 to {MAX_PIPELINE_NAME} ASCII letters, digits, `-`, `_` \
             or `.`, and must not start with `.` or `_`"
        ))
    }
}

mod bounds;
mod engine;
mod filter_spec;
mod pattern_files;
mod server;
mod tables;
mod toml_error;
pub use engine::{
    DEFAULT_MAX_FILTER_INSTANCES, MAX_CALL_TIMEOUT_MS, MAX_EVENT_MIB, MAX_MEMORY_LIMIT_MIB,
};
use engine::{engine_settings, max_filter_instances};
pub(crate) use filter_spec::distinct_names;
pub use filter_spec::{
    FilterLoadError, FilterSource, FilterSpec, check_config_object, load_filters, shown_name,
    shown_names,
};
use filter_spec::{load_each, specs_of};
use server::server_settings;
pub use server::{ServerSettings, UiSettings, parse_listen};
use tables::read_tables;

#[cfg(test)]
mod tests;
