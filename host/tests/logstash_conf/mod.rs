//! The shipped `.conf` files' plugins, read with the parser `wasmstash
//! import` uses (Logstash's grammar), flattened for `logstash_pipelines.rs`:
//! every plugin of every section and branch, with its settings as text.

use std::path::Path;

use serde_json::Value;
use wasmstash::import::logstash_conf::{self, Item};

/// A plugin found in a file, with its settings summarised as text.
#[derive(Debug)]
pub struct Plugin {
    pub section: String,
    pub name: String,
    pub line: usize,
    /// Strings and numbers as written; a list as `[...]`, a hash as `{...}`.
    pub settings: Vec<(String, String)>,
    pub codecs: Vec<String>,
}

pub fn parse(path: &Path) -> Result<Vec<Plugin>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let sections = logstash_conf::parse(&text)
        .map_err(|e| format!("line {}:{}: {}", e.line, e.column, e.message))?;
    let mut plugins = Vec::new();
    for section in &sections {
        flatten(&section.kind, &section.items, &mut plugins);
    }
    Ok(plugins)
}

fn flatten(section: &str, items: &[Item], plugins: &mut Vec<Plugin>) {
    for item in items {
        match item {
            Item::Branch { items, .. } => flatten(section, items, plugins),
            Item::Plugin(plugin) => {
                let settings: Vec<(String, String)> = (plugin.attributes.iter())
                    .map(|a| (a.name.clone(), summary(&a.value)))
                    .collect();
                let codecs = (settings.iter())
                    .filter(|(name, _)| name == "codec")
                    .map(|(_, codec)| codec.clone())
                    .collect();
                plugins.push(Plugin {
                    section: section.to_string(),
                    name: plugin.name.clone(),
                    line: plugin.line,
                    settings,
                    codecs,
                });
            }
        }
    }
}

fn summary(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(_) => "[...]".to_string(),
        Value::Object(_) => "{...}".to_string(),
        other => other.to_string(),
    }
}

/// `${VAR:default}` as Logstash resolves it when VAR is unset.
pub fn with_defaults(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .expect("closed ${");
        let inner = &rest[start + 2..end];
        out.push_str(inner.split_once(':').map_or("", |(_, default)| default));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}
