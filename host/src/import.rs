//! `wasmstash import`: the filter blocks of a logstash.conf as wasmstash
//! pipelines, so that an operator moves a working grok, dissect, kv, date,
//! json or mutate setup without retyping it.
//!
//! By hand the move has traps: `=>` becomes `=`, and a regular expression
//! must go in TOML's single-quoted strings, or `\d` is an error and `\b` a
//! backspace. Here the config is read with Logstash's grammar and written
//! as TOML by a serialiser, so every value arrives as Logstash read it.
//!
//! What cannot move stays in Logstash as written: plugins with no built-in,
//! and conditionals. Each unbroken run of movable filters becomes a
//! pipeline, and the logstash.conf to run beside them is the original with
//! each run replaced by one `wasm` call, so conditionals keep routing and
//! the other plugins keep their places. Nothing is left out quietly: a
//! split config is only imported together with that rewritten file.

mod command;
pub mod logstash_conf;

pub use command::{ImportArgs, ImportError, import};

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::printable;
use logstash_conf::{Item, Plugin, Section};

/// The Logstash filters that have a built-in of the same name and options.
const MOVABLE: &[&str] = &["date", "dissect", "grok", "json", "kv", "mutate"];

/// What `import` made.
pub struct Imported {
    /// The pipelines, as a wasmstash config.
    pub toml: String,
    /// The input, each moved run replaced by a call to its pipeline.
    pub logstash: String,
    /// What stays in Logstash, a line each (`12: a conditional`).
    pub stays: Vec<String>,
    /// What was moved where, in a line.
    pub summary: String,
    /// What the operator should know of the result, a line each.
    pub notes: Vec<String>,
    /// `toml` as read back, which shows it is a config `check`, `run` and
    /// `serve` take as it is.
    config: crate::config::Config,
    /// Each pipeline's filters' lines in the logstash.conf, in order, so
    /// that a filter that does not load is named where the operator wrote it.
    lines: Vec<(String, Vec<usize>)>,
    /// Where `logstash` goes, once the pipelines are out
    /// ([`Imported::write_logstash`]).
    logstash_out: Option<PathBuf>,
}

/// Where the imported filters go.
pub struct Target<'a> {
    /// The pipelines' name (a stem when there are several).
    pub pipeline: &'a str,
    /// The sidecar, for the `wasm` calls.
    pub url: &'a str,
    /// The Logstash pipeline's `pipeline.ecs_compatibility`, if given.
    pub ecs_compatibility: Option<&'a str>,
    /// Where relative paths in the config are read from: the current
    /// directory, standing for Logstash's working directory.
    pub working_dir: &'a Path,
}

/// The conversion itself: `source` names the text in messages.
pub fn convert(text: &str, source: &str, target: &Target) -> Result<Imported, String> {
    let (pipeline, url) = (target.pipeline, target.url);
    let sections = logstash_conf::parse(text)
        .map_err(|e| format!("{source}:{}:{}: {}", e.line, e.column, e.message))?;
    // Logstash runs a config's filter sections as one chain, in order, so
    // a run goes on from one section into the next.
    let mut found = Found::default();
    for section in sections.iter().filter(|s| s.kind == "filter") {
        found.runs_in(&section.items);
    }
    found.close();
    if found.runs.is_empty() {
        return Err(format!(
            "{source}: it has no filter to import (those with a built-in: {})",
            MOVABLE.join(", ")
        ));
    }
    if !found.problems.is_empty() {
        let lines: Vec<String> = (found.problems.iter())
            .map(|p| format!("{source}:{p}"))
            .collect();
        return Err(lines.join("\n"));
    }
    check_instance_count(source, &found.runs)?;
    let names: Vec<String> = match found.runs.len() {
        1 => vec![pipeline.to_string()],
        n => (1..=n).map(|i| format!("{pipeline}-{i}")).collect(),
    };
    let mut notes = Vec::new();
    let toml = write_toml(source, &found.runs, &names, target, &mut notes)?;
    let config = crate::config::Config::parse(&toml, Path::new("(imported)"))
        .map_err(|e| format!("the imported config is refused: {e}"))?;
    let logstash = rewrite(text, &sections, &found.runs, &names, url);
    let moved: usize = found.runs.iter().map(Vec::len).sum();
    let mut summary = format!(
        "{moved} {} from {source} into {}",
        if moved == 1 { "filter" } else { "filters" },
        match names.as_slice() {
            [one] => format!("pipeline `{one}`"),
            _ => format!("pipelines `{}`", names.join("`, `")),
        }
    );
    match found.stays.len() {
        0 => {}
        1 => summary.push_str("; 1 part stays in Logstash"),
        n => summary.push_str(&format!("; {n} parts stay in Logstash")),
    }
    if let Some(note) = escapes_note(source, &found.runs) {
        notes.push(note);
    }
    let unset_ecs = (found.runs.iter().flatten())
        .filter(|plugin| plugin.name == "grok" && ecs_mode_of(plugin).is_none())
        .count();
    if unset_ecs > 0 && target.ecs_compatibility.is_none() {
        notes.push(format!(
            "{unset_ecs} grok filter(s) without an ecs_compatibility of their own will run with \
             v8, Logstash 8's default: if the Logstash pipeline sets pipeline.ecs_compatibility \
             (in logstash.yml or pipelines.yml; Logstash 7's default was disabled), import \
             again with --ecs-compatibility MODE"
        ));
    }
    Ok(Imported {
        toml,
        logstash,
        stays: found.stays,
        summary,
        notes,
        config,
        lines: (names.iter().cloned())
            .zip(
                found
                    .runs
                    .iter()
                    .map(|run| run.iter().map(|p| p.line).collect()),
            )
            .collect(),
        logstash_out: None,
    })
}

/// Refuses runs that would make more filter instances than `serve` takes
/// with the settings the imported config leaves at their defaults, before
/// any TOML is written: a logstash.conf of a million filters would
/// otherwise be written out and read back whole first, gigabytes on the
/// way to the same refusal.
fn check_instance_count(source: &str, runs: &[Vec<&Plugin>]) -> Result<(), String> {
    use crate::config::{DEFAULT_MAX_FILTER_INSTANCES, ServerSettings, Workers, check_instances};
    let filters = runs.iter().map(Vec::len).sum();
    let workers = Workers {
        count: ServerSettings::default().workers,
        set_by: "server.workers",
    };
    check_instances(filters, runs.len(), workers, DEFAULT_MAX_FILTER_INSTANCES).map_err(|msg| {
        format!(
            "{source}: {msg}; the imported config leaves both at their defaults \
             (server.workers is this machine's core count), so import the logstash.conf in \
             smaller parts"
        )
    })
}

/// A note on the values holding a backslash sequence that Logstash
/// unescapes when `config.support_escapes` is on in logstash.yml (off by
/// default; `\0` included, as its string_escape.rb has it): the import
/// keeps them as written, as Logstash does by default, so an operator with
/// escapes on knows which to change.
fn escapes_note(source: &str, runs: &[Vec<&Plugin>]) -> Option<String> {
    fn text_holds_escape(text: &str) -> bool {
        ["\\\\", "\\\"", "\\'", "\\n", "\\r", "\\t", "\\0"]
            .iter()
            .any(|sequence| text.contains(sequence))
    }
    fn holds_escape(value: &Value) -> bool {
        match value {
            Value::String(text) => text_holds_escape(text),
            Value::Array(items) => items.iter().any(holds_escape),
            Value::Object(members) => {
                (members.iter()).any(|(key, member)| text_holds_escape(key) || holds_escape(member))
            }
            _ => false,
        }
    }
    let mut lines: Vec<usize> = (runs.iter().flatten())
        .flat_map(|plugin| &plugin.attributes)
        .filter(|attribute| holds_escape(&attribute.value))
        .map(|attribute| attribute.line)
        .collect();
    let options = lines.len();
    lines.dedup();
    let first = lines.first()?;
    Some(format!(
        "{source}:{first}: {} option(s) hold a backslash sequence (`\\t`, `\\n`, `\\\"`, ...), \
         written as Logstash reads them with its default config.support_escapes: false; if \
         logstash.yml turns that on, write the characters they stand for in the imported \
         config (lines {})",
        options,
        (lines.iter().take(10).map(usize::to_string))
            .chain((lines.len() > 10).then(|| "...".to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// What a config's filter sections hold, sorted for the move.
#[derive(Default)]
struct Found<'a> {
    /// Unbroken runs of movable filters, each a pipeline.
    runs: Vec<Vec<&'a Plugin>>,
    /// The run being read, which the next movable filter joins.
    open: Vec<&'a Plugin>,
    /// What stays in Logstash, as `line: what`.
    stays: Vec<String>,
    /// What stops the import, as `line: why`.
    problems: Vec<String>,
}

impl<'a> Found<'a> {
    fn runs_in(&mut self, items: &'a [Item]) {
        for item in items {
            match item {
                Item::Plugin(plugin) if MOVABLE.contains(&plugin.name.as_str()) => {
                    self.problems.extend(substituted(plugin));
                    self.open.push(plugin);
                }
                Item::Plugin(plugin) => {
                    self.stays.push(format!(
                        "{}: `{}`, which has no built-in",
                        plugin.line, plugin.name
                    ));
                    self.close();
                }
                // A branch's filters run only on some events: a run inside
                // it is its own, and ends with it.
                Item::Branch { line, items } => {
                    self.stays.push(format!("{line}: a conditional"));
                    self.close();
                    self.runs_in(items);
                    self.close();
                }
            }
        }
    }

    fn close(&mut self) {
        if !self.open.is_empty() {
            self.runs.push(std::mem::take(&mut self.open));
        }
    }
}

/// Logstash fills in `${VAR}` and `${VAR:default}` from its environment
/// or keystore when it loads a config; the sidecar would read them as
/// written, so each is refused, for the operator to write the value.
fn substituted(plugin: &Plugin) -> Vec<String> {
    fn holds_reference(value: &Value) -> bool {
        match value {
            Value::String(text) => text.contains("${"),
            Value::Array(values) => values.iter().any(holds_reference),
            Value::Object(map) => (map.iter()).any(|(k, v)| k.contains("${") || holds_reference(v)),
            _ => false,
        }
    }
    (plugin.attributes.iter())
        .filter(|a| holds_reference(&a.value))
        .map(|a| {
            format!(
                "{}: `{}` of `{}` holds a `${{...}}` reference, which Logstash fills in from its \
                 environment or keystore and the sidecar would not: write the value itself",
                a.line, a.name, plugin.name
            )
        })
        .collect()
}

/// A filter's entry: `filter`, its Logstash `id` as the `name` that labels
/// it in metrics and failure records, and its config. An option given
/// more than once is merged as Logstash merges it. Values stay as the
/// config's text holds them (`false` is the text "false" there): the
/// filters turn an option's value into its type as Logstash's validation
/// does, so `"false"` reads as false only where the option is a boolean.
fn entry_of(
    plugin: &Plugin,
    source: &str,
    target: &Target,
    notes: &mut Vec<String>,
) -> Result<toml::Table, String> {
    let mut entry = toml::Table::new();
    entry.insert("filter".into(), plugin.name.clone().into());
    let mut config = serde_json::Map::new();
    for attribute in &plugin.attributes {
        let value = attribute.value.clone();
        // Merged in place: the option keeps its first place in the config.
        match config.get_mut(&attribute.name) {
            None => drop(config.insert(attribute.name.clone(), value)),
            Some(earlier) => {
                *earlier = merged(earlier.take(), value).ok_or_else(|| {
                    format!(
                        "{source}:{}: `{}` is given again in `{}` as another kind of value (a \
                         hash merges only with a hash)",
                        attribute.line, attribute.name, plugin.name
                    )
                })?;
            }
        }
    }
    // Only grok's output depends on the mode (json and kv take it, and it
    // changes nothing there), so only grok is given the pipeline's.
    if let Some(mode) = (target.ecs_compatibility)
        .filter(|_| plugin.name == "grok" && ecs_mode_of(plugin).is_none())
    {
        config.insert("ecs_compatibility".into(), mode.into());
    }
    if plugin.name == "grok"
        && let Some(dirs) = config.get_mut("patterns_dir")
    {
        let line = (plugin.attributes.iter())
            .find(|a| a.name == "patterns_dir")
            .map_or(plugin.line, |a| a.line);
        for (written, absolute) in anchored(dirs, target.working_dir) {
            let (written, absolute) = (printable(&written), printable(&absolute));
            notes.push(format!(
                "{source}:{line}: grok's patterns_dir `{written}` is written as `{absolute}`, read \
                 from the current directory (Logstash reads a relative path from its own working \
                 directory): check that it names the pattern files meant"
            ));
        }
    }
    // `id` is one text to Logstash, which takes a list of one for it.
    let id = match config.get("id") {
        Some(Value::Array(one)) if one.len() == 1 => one.first(),
        id => id,
    };
    if let Some(Value::String(id)) = id {
        entry.insert("name".into(), id.clone().into());
    }
    if !config.is_empty() {
        entry.insert("config".into(), toml_value(&Value::Object(config)));
    }
    Ok(entry)
}

/// An option given twice, as Logstash's config compiler merges it
/// (`expr_attributes` in lscl.rb): hashes merge, a list takes the new
/// value's members, and two different values become a list of both.
fn merged(earlier: Value, value: Value) -> Option<Value> {
    Some(match (earlier, value) {
        (Value::Object(earlier), Value::Object(value)) => Value::Object(hash_merge(earlier, value)),
        (Value::Object(_), _) => return None,
        (Value::Array(mut items), Value::Array(more)) => {
            items.extend(more);
            Value::Array(items)
        }
        (Value::Array(mut items), value) => {
            items.push(value);
            Value::Array(items)
        }
        (earlier, value) if earlier == value => earlier,
        (earlier, value) => Value::Array(vec![earlier, value]),
    })
}

/// Logstash's `Util.hash_merge`: a key in both merges hashes, unites lists
/// (without repeats) and makes two different values a list.
fn hash_merge(
    mut into: serde_json::Map<String, Value>,
    from: serde_json::Map<String, Value>,
) -> serde_json::Map<String, Value> {
    fn united(items: Vec<Value>, more: Vec<Value>) -> Value {
        let mut out: Vec<Value> = Vec::new();
        for item in items.into_iter().chain(more) {
            if !out.contains(&item) {
                out.push(item);
            }
        }
        Value::Array(out)
    }
    for (key, value) in from {
        // A key both have keeps its first place, as in a Ruby hash.
        let Some(slot) = into.get_mut(&key) else {
            into.insert(key, value);
            continue;
        };
        *slot = match (slot.take(), value) {
            (Value::Object(a), Value::Object(b)) => Value::Object(hash_merge(a, b)),
            (Value::Array(a), Value::Array(b)) => united(a, b),
            (a, Value::Array(b)) => united(vec![a], b),
            (Value::Array(mut a), b) => {
                if !a.contains(&b) {
                    a.push(b);
                }
                Value::Array(a)
            }
            (a, b) if a == b => a,
            (a, b) => Value::Array(vec![a, b]),
        };
    }
    into
}

/// JSON as TOML, numbers as TOML's own integers and floats (serde_json's
/// exact-number mode would otherwise show them as tables).
fn toml_value(value: &Value) -> toml::Value {
    match value {
        // A Logstash config has no null; nothing here makes one.
        Value::Null => toml::Value::String(String::new()),
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => toml::Value::String(text.clone()),
        Value::Array(items) => toml::Value::Array(items.iter().map(toml_value).collect()),
        Value::Object(map) => toml::Value::Table(
            (map.iter())
                .map(|(k, v)| (k.clone(), toml_value(v)))
                .collect(),
        ),
    }
}

/// The `ecs_compatibility` a plugin sets for itself, if any.
fn ecs_mode_of(plugin: &Plugin) -> Option<&Value> {
    (plugin.attributes.iter())
        .find(|a| a.name == "ecs_compatibility")
        .map(|a| &a.value)
}

/// grok's `patterns_dir` entries, made absolute from `working_dir` where
/// relative: the written config would read a relative one from its own
/// directory, and the import's load check from the current one, so one
/// reading is fixed for both. Returns each entry changed, as (was, is).
fn anchored(dirs: &mut Value, working_dir: &Path) -> Vec<(String, String)> {
    let entries: Vec<&mut Value> = match dirs {
        Value::Array(entries) => entries.iter_mut().collect(),
        one => vec![one],
    };
    let mut changed = Vec::new();
    for entry in entries {
        let Value::String(path) = entry else { continue };
        let relative = Path::new(path.as_str());
        if !relative.is_relative() {
            continue;
        }
        let plain: PathBuf = (relative.components())
            .filter(|c| *c != std::path::Component::CurDir)
            .collect();
        // A directory name that is not UTF-8 cannot go into TOML; left
        // relative, the load check still reads it from here.
        if let Some(absolute) = working_dir.join(plain).to_str().map(str::to_owned) {
            changed.push((std::mem::replace(path, absolute.clone()), absolute));
        }
    }
    changed
}

fn write_toml(
    source: &str,
    runs: &[Vec<&Plugin>],
    names: &[String],
    target: &Target,
    notes: &mut Vec<String>,
) -> Result<String, String> {
    let url = target.url;
    // One document a filter, each after its comments: the documents
    // together are the config, as TOML's `[[...]]` tables add up.
    let mut body = String::new();
    // Logstash refuses a config in which two plugins share an `id`; the
    // config loader here would rename the second (`x#2`) instead.
    let mut ids = std::collections::HashMap::new();
    for (run, name) in runs.iter().zip(names) {
        for plugin in run {
            let entry = entry_of(plugin, source, target, notes)?;
            if let Some(toml::Value::String(id)) = entry.get("name")
                && let Some(first) = ids.insert(id.clone(), plugin.line)
            {
                return Err(format!(
                    "{source}:{}: two filters have the id `{}` (the other at line {first}), \
                     which Logstash refuses too",
                    plugin.line,
                    printable(id)
                ));
            }
            // The comments before a filter go with it. Those before a
            // run's first filter (or a section's first, in a run that
            // goes on into another) stay in logstash.conf as well, where
            // the `wasm` call comes after them.
            for comment in plugin.comments_before.iter().chain(&plugin.comments) {
                let comment = comment.trim_end();
                // TOML refuses control characters in a comment.
                body.extend(comment.chars().filter(|c| *c == '\t' || !c.is_control()));
                body.push('\n');
            }
            let document = toml::Table::from_iter([(
                "pipelines".to_string(),
                toml::Value::Table(toml::Table::from_iter([(
                    name.clone(),
                    toml::Value::Table(toml::Table::from_iter([(
                        "filters".to_string(),
                        toml::Value::Array(vec![toml::Value::Table(entry)]),
                    )])),
                )])),
            )]);
            body.push_str(&toml::to_string(&document).map_err(|e| e.to_string())?);
            body.push('\n');
        }
    }
    let calls: String = (names.iter())
        .map(|name| format!("#   {}\n", wasm_call(url, name)))
        .collect();
    Ok(format!(
        "# Imported by `wasmstash import` from {source}.\n\
         # In logstash.conf each pipeline is one call to the sidecar:\n\
         {calls}\n{body}"
    ))
}

/// The comment that stands for a run's part from `start` to `end` of
/// `text`, as the span it replaces and its text. A comment runs to the
/// line's end, so what followed the part on its line (another filter, the
/// section's `}`) goes on a line of its own, indented as the part's line
/// was.
fn moved_comment(text: &str, start: usize, end: usize, pipeline: &str) -> (usize, usize, String) {
    let comment = format!("# moved into the sidecar's pipeline `{pipeline}`, called above");
    let is_blank = |c: char| c == ' ' || c == '\t';
    let rest_of_line = text[end..].split('\n').next().unwrap_or_default();
    if rest_of_line.trim().is_empty() {
        return (start, end, comment);
    }
    let line_start = text[..start].rfind('\n').map_or(0, |at| at + 1);
    let indent: String = text[line_start..]
        .chars()
        .take_while(|&c| is_blank(c))
        .collect();
    let next = end + (rest_of_line.len() - rest_of_line.trim_start_matches(is_blank).len());
    // The line break the file uses there.
    let newline = if rest_of_line.ends_with('\r') {
        "\r\n"
    } else {
        "\n"
    };
    (start, next, format!("{comment}{newline}{indent}"))
}

fn wasm_call(url: &str, pipeline: &str) -> String {
    format!("wasm {{ url => \"{url}\" pipeline => \"{pipeline}\" }}")
}

/// `text` with each run's span, from its first filter to its last,
/// replaced by a call to its pipeline; everything else as written. A run
/// that goes on into a later filter section is replaced there by a
/// comment, section by section, so that what lies between the sections
/// (an `output`, say) stays.
fn rewrite(
    text: &str,
    sections: &[Section],
    runs: &[Vec<&Plugin>],
    names: &[String],
    url: &str,
) -> String {
    let section_of =
        |plugin: &Plugin| sections.partition_point(|s| s.span.end <= plugin.span.start);
    let mut spans: Vec<(usize, usize, String)> = Vec::new();
    for (run, name) in runs.iter().zip(names) {
        let pieces = run.chunk_by(|a, b| section_of(a) == section_of(b));
        for (i, piece) in pieces.enumerate() {
            let (start, end) = (piece[0].span.start, piece[piece.len() - 1].span.end);
            spans.push(match i {
                0 => (start, end, wasm_call(url, name)),
                _ => moved_comment(text, start, end, name),
            });
        }
    }
    spans.sort_by_key(|&(start, ..)| start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, replacement) in spans {
        out.push_str(&text[at..start]);
        out.push_str(&replacement);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests;
