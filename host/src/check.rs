//! `wasmstash check`: loads a config as `serve` and `run` would, compiling
//! every filter and calling its `init`, and gathers every problem rather
//! than stopping at the first, so that one run lists all of a config's
//! mistakes.

use std::path::Path;

use crate::config::{Config, shown_name};
use crate::engine::Engine;

/// What `check` found: a line per pipeline that loads, and the problems.
pub struct Checked {
    pub loaded: Vec<String>,
    pub problems: Vec<String>,
}

/// `check`: a line per pipeline that loads, and every problem found, not
/// only the first, so that one run lists all a config's mistakes. A file
/// that does not parse stops there: nothing after it can be read.
pub fn check(path: &Path) -> Checked {
    let read = Config::load_all(path);
    let mut problems: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
    if let Some(server) = &read.server {
        for warning in crate::serve::warnings::of_server_settings(server) {
            crate::say!("wasmstash: warning: [server] {warning}");
        }
        let settings = crate::serve::check_settings(path, server);
        problems.extend(settings.iter().map(ToString::to_string));
    }
    let Some(config) = read.config else {
        return Checked {
            loaded: Vec::new(),
            problems,
        };
    };
    let engine = match Engine::new(config.engine.clone()) {
        Ok(engine) => engine,
        Err(error) => {
            problems.push(error.to_string());
            return Checked {
                loaded: Vec::new(),
                problems,
            };
        }
    };
    let pipelines = load_pipelines(&config, &engine);
    let loaded = pipelines.loaded;
    problems.extend(pipelines.problems);
    // Pipelines left out for a filter the config cannot take: their other
    // filters' problems are found now, not after that one is fixed.
    for (name, filters) in &read.incomplete {
        let taken = filters.iter().map(|(index, spec)| (*index, spec));
        if let Err(errors) = config.check_filters(&engine, name, taken) {
            problems.extend(errors.iter().map(ToString::to_string));
        }
    }
    Checked { loaded, problems }
}

/// Loads every pipeline of `config` in `engine`, filters and all: a line
/// per pipeline that loads, and every problem of those that do not.
pub fn load_pipelines(config: &Config, engine: &Engine) -> Checked {
    let mut checked = Checked {
        loaded: Vec::new(),
        problems: Vec::new(),
    };
    for name in config.pipelines.keys() {
        match config.check_pipeline(engine, name) {
            Ok(modules) => {
                let stateful = modules.iter().filter(|m| m.is_stateful()).map(|m| m.name());
                if let Some(warning) = crate::state::told_apart_by_position(stateful) {
                    say!("wasmstash: warning: pipeline `{name}`: {warning}");
                }
                let filters: Vec<String> = modules
                    .iter()
                    .map(|m| format!("{} ({})", shown_name(m.name()), &m.sha256()[..12]))
                    .collect();
                (checked.loaded).push(format!("pipeline `{name}`: {}", filters.join(" -> ")));
            }
            Err(errors) => (checked.problems).extend(errors.iter().map(ToString::to_string)),
        }
    }
    checked
}
