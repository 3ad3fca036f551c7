//! `wasmstash import`: the filter blocks of a logstash.conf as a wasmstash
//! pipeline, so that an operator moves a working grok, dissect, kv, date,
//! json or mutate setup without retyping it.
//!
//! By hand the move has traps: `=>` becomes `=`, and a regular expression
//! must go in TOML's single-quoted strings, or `\d` is an error and `\b` a
//! backspace. Here the config is read with Logstash's grammar and written
//! as TOML by a serialiser, so every value arrives as Logstash read it.
//! What cannot move is refused, each place named: a plugin that is not a
//! built-in, and conditionals, which stay in logstash.conf around the call
//! to the sidecar. Nothing is left out quietly.

pub mod logstash_conf;

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;

use logstash_conf::{Attribute, Item, Plugin};

/// The Logstash filters that have a built-in of the same name and options.
const MOVABLE: &[&str] = &["date", "dissect", "grok", "json", "kv", "mutate"];

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The Logstash pipeline config to read (`-` for stdin).
    #[arg(value_name = "LOGSTASH_CONF")]
    pub logstash_conf: PathBuf,
    /// The name of the wasmstash pipeline to write.
    #[arg(long, default_value = "main")]
    pub pipeline: String,
}

/// What `import` made: the TOML text, and a summary for the operator.
pub struct Imported {
    pub toml: String,
    pub summary: String,
}

/// Reads `args.logstash_conf` and converts its filter section. Every
/// reason it cannot is in the error, a line each.
pub fn import(args: &ImportArgs) -> Result<Imported, String> {
    let shown = crate::files::shown(&args.logstash_conf);
    let text = read(&args.logstash_conf).map_err(|e| format!("{shown}: {e}"))?;
    convert(&text, &shown, &args.pipeline)
}

fn read(path: &Path) -> std::io::Result<String> {
    let limit = crate::config::MAX_CONFIG_BYTES;
    if path != Path::new("-") {
        return crate::files::read_capped_text(path, limit, "Logstash config");
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "the Logstash config is over {} MiB",
            limit >> 20
        )));
    }
    let text = crate::input::without_byte_order_mark(&bytes);
    String::from_utf8(text.to_vec()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the Logstash config is not UTF-8 text",
        )
    })
}

/// The conversion itself: `source` names the text in messages.
pub fn convert(text: &str, source: &str, pipeline: &str) -> Result<Imported, String> {
    let sections = logstash_conf::parse(text)
        .map_err(|e| format!("{source}:{}:{}: {}", e.line, e.column, e.message))?;
    let mut problems = Vec::new();
    let mut filters = Vec::new();
    let mut left = Vec::new();
    for section in &sections {
        if section.kind == "filter" {
            collect(&section.items, &mut filters, &mut problems);
        } else if !left.contains(&section.kind.as_str()) {
            left.push(section.kind.as_str());
        }
    }
    if filters.is_empty() && problems.is_empty() {
        problems.push("it has no filter to import".to_string());
    }
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(|p| format!("{source}:{p}")).collect();
        return Err(lines.join("\n"));
    }
    let toml = write_toml(&filters, source, pipeline)?;
    // The text must be a config `check`, `run` and `serve` take as it is.
    crate::config::Config::parse(&toml, Path::new("imported.toml"))
        .map_err(|e| format!("the imported config is refused: {e}"))?;
    let names: Vec<&str> = filters.iter().map(|p| p.name.as_str()).collect();
    let count = match filters.len() {
        1 => "1 filter".to_string(),
        n => format!("{n} filters"),
    };
    let mut summary = format!(
        "{count} from {source} ({}) into pipeline `{pipeline}`",
        names.join(", ")
    );
    if !left.is_empty() {
        summary.push_str(&format!(
            "; its {} sections stay in Logstash",
            left.join(" and ")
        ));
    }
    Ok(Imported { toml, summary })
}

/// The plugins to move, in order; the reason for each that cannot.
fn collect<'a>(items: &'a [Item], filters: &mut Vec<&'a Plugin>, problems: &mut Vec<String>) {
    for item in items {
        match item {
            Item::Plugin(plugin) if !MOVABLE.contains(&plugin.name.as_str()) => {
                problems.push(format!(
                    "{}: `{}` has no wasmstash built-in (those that take a Logstash filter's \
                     options: {}); keep it in logstash.conf, before or after the call to the \
                     sidecar",
                    plugin.line,
                    plugin.name,
                    MOVABLE.join(", ")
                ));
            }
            Item::Plugin(plugin) => {
                repeated_attributes(plugin, problems);
                filters.push(plugin);
            }
            Item::Branch { line, items } => {
                problems.push(format!(
                    "{line}: a conditional: conditionals stay in logstash.conf; import the \
                     filters of each branch as a pipeline of their own, and call that \
                     pipeline from the branch"
                ));
                // Their own problems are said too, so one run lists them all.
                let mut inner = Vec::new();
                collect(items, &mut inner, problems);
            }
        }
    }
}

fn repeated_attributes(plugin: &Plugin, problems: &mut Vec<String>) {
    for (index, attribute) in plugin.attributes.iter().enumerate() {
        let earlier = plugin.attributes[..index]
            .iter()
            .find(|a| a.name == attribute.name);
        if let Some(earlier) = earlier {
            problems.push(format!(
                "{}: `{}` is given twice in `{}` (also at line {}); write it once",
                attribute.line, attribute.name, plugin.name, earlier.line
            ));
        }
    }
}

/// A filter's config as JSON: its attributes, with `true` and `false`
/// made booleans, as Logstash's validation makes them for its boolean
/// options (the config's text holds them as words or strings).
fn config_of(plugin: &Plugin) -> serde_json::Map<String, Value> {
    let value = |attribute: &Attribute| match &attribute.value {
        Value::String(text) if text == "true" || text == "false" => Value::Bool(text == "true"),
        other => other.clone(),
    };
    (plugin.attributes.iter())
        .map(|a| (a.name.clone(), value(a)))
        .collect()
}

fn write_toml(filters: &[&Plugin], source: &str, pipeline: &str) -> Result<String, String> {
    let mut list = Vec::new();
    for plugin in filters {
        let mut entry = toml::Table::new();
        entry.insert("filter".into(), toml::Value::String(plugin.name.clone()));
        let config = config_of(plugin);
        if !config.is_empty() {
            let config = toml::Value::try_from(Value::Object(config))
                .map_err(|e| format!("{source}:{}: `{}`: {e}", plugin.line, plugin.name))?;
            entry.insert("config".into(), config);
        }
        list.push(toml::Value::Table(entry));
    }
    let mut filters_table = toml::Table::new();
    filters_table.insert("filters".into(), toml::Value::Array(list));
    let mut pipelines = toml::Table::new();
    pipelines.insert(pipeline.into(), toml::Value::Table(filters_table));
    let mut document = toml::Table::new();
    document.insert("pipelines".into(), toml::Value::Table(pipelines));
    let body = toml::to_string(&document).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Imported by `wasmstash import` from {source}.\n\
         # In logstash.conf these filters become one call to the sidecar:\n\
         #   wasm {{ url => \"http://127.0.0.1:9700\" pipeline => \"{pipeline}\" }}\n\n\
         {body}"
    ))
}

#[cfg(test)]
mod tests;
