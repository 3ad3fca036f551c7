//! The config file read a table at a time. Read as one typed document, the
//! first value of the wrong type (a string where a number goes, a `sha256`
//! that is a number) ended the reading, and `check` could name nothing
//! else. Here the file is parsed once into its syntax tree, and `[engine]`,
//! `[server]`, each pipeline and each of its filters is read from that tree
//! on its own, so that such a value is one problem among the rest, placed
//! as every TOML error is (see `toml_error`).
//!
//! Only what leaves nothing to read stops it: text that is not TOML, and a
//! top-level key the config does not know.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{IgnoredAny, IntoDeserializer};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::engine::RawEngine;
use super::filter_spec::RawFilter;
use super::server::RawServer;
use super::toml_error::toml_error;

/// What could be read of each table, and why the rest could not.
pub(super) struct Tables {
    /// `None` when the `[engine]` table could not be read.
    pub engine: Option<RawEngine>,
    /// `None` when the `[server]` table could not be read.
    pub server: Option<RawServer>,
    /// Each pipeline, in name order: each of its filters' tables (or why it
    /// could not be read), or why the pipeline's own table could not be.
    pub pipelines: BTreeMap<String, Result<Vec<Result<RawFilter, String>>, String>>,
    /// Why `[engine]` or `[server]` could not be read, placed in the file.
    pub problems: Vec<String>,
}

/// The top-level keys, only to refuse one the config does not know.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a config file of tables: [engine], [server], [pipelines.NAME]"
)]
struct TopLevel {
    #[serde(default, rename = "engine")]
    _engine: Option<IgnoredAny>,
    #[serde(default, rename = "server")]
    _server: Option<IgnoredAny>,
    #[serde(default, rename = "pipelines")]
    _pipelines: Option<BTreeMap<String, IgnoredAny>>,
}

/// A pipeline's table, its filters not yet read: the keys and the shape
/// of the `filters` list are checked here, each filter on its own later.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a pipeline: a table holding a `filters` list"
)]
struct PipelineTable {
    #[serde(deserialize_with = "filter_list", rename = "filters")]
    _filters: Vec<IgnoredAny>,
}

/// A pipeline's `filters`: a list of tables. `[pipelines.web.filters]` with
/// one bracket (a table, where `[[...]]` makes a list) is a slip common
/// enough to name, rather than leave to "expected a sequence".
/// Only the list's shape is read here; each filter is read on its own.
fn filter_list<'de, D>(deserializer: D) -> Result<Vec<IgnoredAny>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct FilterList;
    impl<'de> serde::de::Visitor<'de> for FilterList {
        type Value = Vec<IgnoredAny>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of filters, each a `[[pipelines.NAME.filters]]` table")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(serde::de::Error::custom(
                "`filters` is a table here, but it must be a list: write each filter under \
                 `[[pipelines.NAME.filters]]`, with two brackets on each side",
            ))
        }
    }
    deserializer.deserialize_seq(FilterList)
}

/// Reads `text`'s tables; the error is the one problem that leaves nothing
/// to read.
pub(super) fn read_tables(text: &str) -> Result<Tables, String> {
    let root = DeTable::parse(text).map_err(|e| toml_error(&e, text))?;
    let top = toml::de::Deserializer::from(root.clone());
    TopLevel::deserialize(top).map_err(|e| placed(e, text))?;
    let mut tables = Tables {
        engine: Some(RawEngine::default()),
        server: Some(RawServer::default()),
        pipelines: BTreeMap::new(),
        problems: Vec::new(),
    };
    for (key, value) in root.into_inner() {
        match key.get_ref().as_ref() {
            "engine" => tables.engine = tables.read(value, text),
            "server" => tables.server = tables.read(value, text),
            "pipelines" => {
                // TopLevel has read `pipelines` as a table; were the two
                // to drift apart, a problem is said rather than a panic.
                let DeValue::Table(pipelines) = value.into_inner() else {
                    tables.problems.push("`pipelines` must be a table".into());
                    continue;
                };
                for (name, pipeline) in pipelines {
                    let filters = read_pipeline(pipeline, text);
                    tables
                        .pipelines
                        .insert(name.into_inner().into_owned(), filters);
                }
            }
            other => tables
                .problems
                .push(format!("unknown top-level key `{other}`")),
        }
    }
    Ok(tables)
}

impl Tables {
    /// `value` as a `T`, or `None` with why not among the problems.
    fn read<'de, T: Deserialize<'de>>(
        &mut self,
        value: Spanned<DeValue<'de>>,
        text: &str,
    ) -> Option<T> {
        read(value, text).map_err(|e| self.problems.push(e)).ok()
    }
}

/// A pipeline's filters, each read on its own, or why the pipeline's own
/// table cannot be read.
fn read_pipeline(
    pipeline: Spanned<DeValue<'_>>,
    text: &str,
) -> Result<Vec<Result<RawFilter, String>>, String> {
    read::<PipelineTable>(pipeline.clone(), text)?;
    // PipelineTable has checked the shape read here; were the two to
    // drift apart, the pipeline is refused rather than the process panic.
    let shape = || "a pipeline must be a table with a `filters` list".to_owned();
    let DeValue::Table(table) = pipeline.into_inner() else {
        return Err(shape());
    };
    let filters = table
        .into_iter()
        .find(|(key, _)| key.get_ref().as_ref() == "filters");
    let Some((_, filters)) = filters else {
        return Err(shape());
    };
    let DeValue::Array(filters) = filters.into_inner() else {
        return Err(shape());
    };
    Ok(filters
        .into_iter()
        .map(|filter| read(filter, text))
        .collect())
}

/// `value` as a `T`, or why not, placed in the file and quoting its line.
fn read<'de, T: Deserialize<'de>>(value: Spanned<DeValue<'de>>, text: &str) -> Result<T, String> {
    T::deserialize(value.into_deserializer()).map_err(|e| placed(e, text))
}

/// A reading error, placed in the file and quoting its line.
fn placed(mut error: toml::de::Error, text: &str) -> String {
    error.set_input(Some(text));
    toml_error(&error, text)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    /// A value of the wrong type is a problem of its own table or filter:
    /// the others are still read, and the pipeline short of that filter
    /// keeps its other filters, for their own problems.
    #[test]
    fn a_value_of_the_wrong_type_is_one_problem_among_the_rest() {
        let loaded = Config::parse_all(
            r#"
            [engine]
            call_timeout_ms = "5"
            [server]
            listen = 5
            [pipelines.a]
            filters = [{ filter = "json", sha256 = 5 }, { filter = "mutate" }]
            [pipelines.b]
            filter = []
            [pipelines.c]
            filters = [{ filter = "nope" }]
            "#,
            Path::new("w.toml"),
            None,
        );
        let problems: Vec<String> = loaded.problems.iter().map(|p| p.0.clone()).collect();
        let expected = [
            "w.toml: [engine]: TOML parse error at line 3",
            "w.toml: [server]: TOML parse error at line 5",
            "w.toml: pipeline `a`, filter #1: TOML parse error at line 7",
            "w.toml: pipeline `b`: TOML parse error at line 9",
            "w.toml: pipeline `c`, filter #1 (`nope`): unknown built-in filter `nope`",
        ];
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
        for (problem, start) in problems.iter().zip(expected) {
            assert!(problem.starts_with(start), "{start}: {problem}");
        }
        // In the file's terms, not Rust's (`expected u64`).
        assert!(
            problems[0].ends_with(r#"invalid type: string "5", expected a whole number ≥ 0"#),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].ends_with("invalid type: integer `5`, expected a string"),
            "{}",
            problems[1]
        );
        assert!(
            problems[3].contains("unknown field `filter`"),
            "{}",
            problems[3]
        );
        assert!(loaded.config.is_none());
        // Nothing of `[server]` was read, so there is nothing to check.
        assert!(loaded.server.is_none());
        let (name, kept) = &loaded.incomplete[0];
        assert_eq!((name.as_str(), kept.len(), kept[0].0), ("a", 1, 1));
    }

    /// `[pipelines.web.filters]` with one bracket makes a table, not a
    /// list: the slip is named, and how to write it.
    #[test]
    fn filters_written_as_a_table_are_named_as_such() {
        let text = "[pipelines.web.filters]\nfilter = \"json\"\n";
        let loaded = Config::parse_all(text, Path::new("w.toml"), None);
        let problems: Vec<&str> = loaded.problems.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("w.toml: pipeline `web`: TOML parse error at line 1"));
        assert!(
            problems[0].contains("with two brackets on each side"),
            "{problems:?}"
        );
    }

    /// `run` runs one pipeline: the others' problems are not its own, and
    /// do not hide its own (they did, being found first).
    #[test]
    fn one_pipeline_is_read_without_the_others() {
        let text = r#"
            [[pipelines.b.filters]]
            filter = "nosuch"
            [[pipelines.c.filters]]
            filtr = "json"
            [[pipelines.d.filters]]
            filter = "json"
            "#;
        let path = Path::new("w.toml");
        let problems = |only| {
            let loaded = Config::parse_all(text, path, Some(only));
            let problems: Vec<String> = loaded.problems.iter().map(|p| p.0.clone()).collect();
            (loaded.config.map(|c| c.pipelines.len()), problems)
        };
        assert_eq!(problems("d"), (Some(1), vec![]));
        let (without_b, b) = problems("b");
        assert_eq!(without_b, Some(0));
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(b[0].contains("unknown built-in filter `nosuch`"), "{b:?}");
        let (_, c) = problems("c");
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].starts_with("w.toml: pipeline `c`, filter #1: TOML parse error"));
        let (_, e) = problems("e");
        assert_eq!(e, ["w.toml: no pipeline `e` (pipelines: b, c, d)"]);
        // Names listed are escaped, a name the file cannot have too.
        let odd = format!("{text}[[pipelines.\"a\\u001b[31m\\nb\".filters]]\nfilter = \"json\"\n");
        let loaded = Config::parse_all(&odd, path, Some("e"));
        assert_eq!(
            loaded.problems[0].0,
            "w.toml: no pipeline `e` (pipelines: a\\u{1b}[31m\\nb, b, c, d)"
        );
        // Read whole, the file has both problems.
        assert_eq!(Config::parse_all(text, path, None).problems.len(), 2);
    }
}
