//! The filters `wasmstash test` runs before the one under test. A filter
//! that reads another's fields (grok's, say) gets raw lines in production,
//! so its cases should be raw lines too, run through the same chain. They
//! are named with `--before NAME[=JSON]`, the syntax of `run --filter`, or,
//! for a crate and no `--before`, listed in the crate's `before.json`, so
//! that `wasmstash test --crate DIR` needs no flags. The expected files
//! hold what the whole chain outputs.

use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::{FilterSource, FilterSpec, MAX_CONFIG_BYTES};
use crate::files::read_capped_text;
use crate::files::shown;

/// The file in a crate that lists the filters run before it.
pub(super) const FILE_NAME: &str = "before.json";

/// The filters to run first, in order, and where they were named.
#[derive(Default)]
pub(super) struct Before {
    pub specs: Vec<FilterSpec>,
    /// "given by --before" or "from DIR/before.json", for load errors.
    pub origin: String,
}

/// One entry of `before.json`: the two halves of a `--before` value, so
/// that the config can be written as JSON rather than quoted inside it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// A built-in's name, or a module's path from the crate's directory.
    filter: String,
    /// A JSON object, kept as its text: parsed, a repeated key would be
    /// lost before the object check could refuse it, and `null` would
    /// mean `{}`.
    #[serde(default = "empty_object")]
    config: Box<RawValue>,
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("`{}` is JSON")
}

/// The `--before` values given; or, with none, those in `crate_dir`'s
/// `before.json` if it has one; else none. Only parsed here: loading them
/// is the chain's (`load_filters`), whose errors name the filter.
pub(super) fn select(given: &[String], crate_dir: Option<&Path>) -> Result<Before, String> {
    if !given.is_empty() {
        let specs = (given.iter())
            .map(|value| FilterSpec::from_option("--before", value).map_err(|e| e.0))
            .collect::<Result<_, _>>()?;
        return Ok(Before {
            specs,
            origin: "given by --before".into(),
        });
    }
    match crate_dir {
        Some(dir) => from_file(dir, &dir.join(FILE_NAME)),
        None => Ok(Before::default()),
    }
}

/// The filters listed in `path`, a JSON list of `{"filter", "config"}`;
/// none when there is no such file. Module paths are taken from `dir`, as
/// the file may be read from any working directory.
fn from_file(dir: &Path, path: &Path) -> Result<Before, String> {
    let text = match read_capped_text(path, MAX_CONFIG_BYTES, "list of filters to run before") {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Before::default()),
        Err(e) => return Err(format!("{}: {e}", shown(path))),
    };
    let entries: Vec<Entry> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: {e}; it lists the filters to run before the one under test, like \
             [{{\"filter\": \"grok\", \"config\": {{\"match\": {{\"message\": \"%{{COMBINEDAPACHELOG}}\"}}}}}}]",
            shown(path)
        )
    })?;
    let specs = (entries.into_iter().enumerate())
        .map(|(index, entry)| {
            let option = format!("{}: filter #{}", shown(path), index + 1);
            let mut spec = FilterSpec::from_target(&entry.filter, entry.config.get(), &option)
                .map_err(|e| e.0)?;
            if let FilterSource::File(module) = &mut spec.source {
                // An absolute path stays as it is.
                *module = dir.join(&*module);
            }
            spec.config_dir = dir.to_owned();
            Ok(spec)
        })
        .collect::<Result<_, String>>()?;
    Ok(Before {
        specs,
        origin: format!("from {}", shown(path)),
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn crate_with(before: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), before).unwrap();
        dir
    }

    #[test]
    fn the_file_lists_filters_with_json_configs_and_paths_from_the_crate() {
        let dir = crate_with(
            r#"[{"filter": "grok", "config": {"match": {"message": "%{WORD:w}"}, "n": 1.50}},
                {"filter": "m/x.wasm"}, {"filter": "/abs/y.wasm"}]"#,
        );
        let before = select(&[], Some(dir.path())).unwrap();
        assert_eq!(before.specs.len(), 3);
        // The config's text as written: key order, number text and
        // spacing kept.
        assert_eq!(
            String::from_utf8_lossy(&before.specs[0].config_json),
            r#"{"match": {"message": "%{WORD:w}"}, "n": 1.50}"#
        );
        assert_eq!(before.specs[1].config_json, b"{}");
        assert_eq!(
            before.specs[1].source,
            FilterSource::File(dir.path().join("m/x.wasm"))
        );
        assert_eq!(
            before.specs[2].source,
            FilterSource::File(PathBuf::from("/abs/y.wasm"))
        );
        assert!(before.origin.ends_with("/before.json"), "{}", before.origin);
    }

    #[test]
    fn flags_replace_the_file_and_no_file_means_none() {
        let dir = crate_with("not json");
        let before = select(&["mutate".into()], Some(dir.path())).unwrap();
        assert_eq!(
            before.specs[0].source,
            FilterSource::Builtin("mutate".into())
        );
        assert_eq!(before.origin, "given by --before");
        let empty = tempfile::tempdir().unwrap();
        assert!(select(&[], Some(empty.path())).unwrap().specs.is_empty());
        assert!(select(&[], None).unwrap().specs.is_empty());
    }

    #[test]
    fn mistakes_are_named_with_where_they_are() {
        let err = |text: &str| select(&[], Some(crate_with(text).path())).err().unwrap();
        let e = err(r#"{"filter": "grok"}"#);
        assert!(
            e.contains("before.json: invalid type: map") && e.contains("like ["),
            "{e}"
        );
        let e = err(r#"[{"filter": "grok", "conifg": {}}]"#);
        assert!(e.contains("unknown field `conifg`"), "{e}");
        let e = err(r#"[{"filter": "grok"}, {"filter": "grok", "config": null}]"#);
        assert!(
            e.contains("before.json: filter #2 grok: config must be a JSON object"),
            "{e}"
        );
        let e =
            err(r#"[{"filter": "mutate", "config": {"uppercase": ["a"], "uppercase": ["b"]}}]"#);
        assert!(
            e.contains("filter #1 mutate: config: duplicate key `uppercase`"),
            "{e}"
        );
        let e = err(r#"[{"filter": "nope"}]"#);
        assert!(
            e.contains("filter #1 nope: no built-in filter of that name"),
            "{e}"
        );
        let e = select(&["grok=null".into()], None).err().unwrap();
        assert!(
            e.starts_with("--before grok=null: the config after `=`"),
            "{e}"
        );
    }
}
