//! What a config file's TOML error says: where it is, in the file and in
//! the config's terms.
//!
//! The toml crate quotes the line, but a typed field's error (a `sha256`
//! that is a number, an unknown key in a filter table) says nothing of the
//! pipeline or filter it sits in, and in a config written with inline
//! tables, one long line, the quote says nothing at all. So the error's
//! position is looked up in the file's syntax tree, and the message opens
//! with the pipeline and filter (or the `[engine]` / `[server]` table)
//! around it, as every other config error does.

use toml::de::{DeTable, DeValue};

use wasmstash_sdk::plumbing::config_words::in_plain_words;

use crate::engine::printable;

/// The message for `error`, met parsing `text`.
pub(super) fn toml_error(error: &toml::de::Error, text: &str) -> String {
    // The toml crate gives this one no position, and no words.
    if error.span().is_none() && error.message() == "recursion limit" {
        return "tables, arrays or dotted keys are nested too deeply (the TOML reader's \
                recursion limit)"
            .to_owned();
    }
    let place = error
        .span()
        .and_then(|span| place_of(text, span.start))
        .map_or_else(String::new, |place| format!("{place}: "));
    format!("{place}{}", located(error, text))
}

/// The toml crate's own text, or, when it would quote a line too long to
/// be worth quoting, the line and column alone. Its message names no Rust
/// type (`expected u64` reads `expected a whole number ≥ 0`), and is escaped: it
/// quotes keys as the config spelled them (`unknown field`), control
/// characters included; the quoted line is the file's own, where TOML
/// allows none.
fn located(error: &toml::de::Error, text: &str) -> String {
    const MAX_QUOTED: usize = 4096;
    let message = in_plain_words(printable(error.message()));
    let full = error.to_string();
    if full.len() <= MAX_QUOTED {
        let quoted = full.trim_end().strip_suffix(error.message());
        return match quoted {
            Some(quoted) => format!("{quoted}{message}"),
            // Not laid out as expected: escaped whole, one line.
            None => printable(&full),
        };
    }
    let Some(at) = error.span().map(|span| span.start.min(text.len())) else {
        return message;
    };
    let before = &text.as_bytes()[..at];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = 1 + String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count();
    format!(
        "TOML parse error at line {line}, column {column} (the line is too long to quote): \
         {message}"
    )
}

/// The pipeline and filter, or the top-level table, whose text holds byte
/// `at`; `None` outside them, or when the text is no TOML at all (a syntax
/// error, which the toml crate has placed already).
fn place_of(text: &str, at: usize) -> Option<String> {
    let root = DeTable::parse(text).ok()?;
    let root = toml::Spanned::new(root.span(), DeValue::Table(root.into_inner()));
    // A key or a plain value holding `at` says most; failing that, a
    // table or array whose own span does (a missing field is placed at
    // its table).
    let mut path = Vec::new();
    if !find(&root, at, false, &mut path) && !find(&root, at, true, &mut path) {
        return None;
    }
    match path.as_slice() {
        [Step::Key(top), Step::Key(pipeline), rest @ ..] if top == "pipelines" => {
            Some(match rest {
                [Step::Key(filters), Step::Index(index), ..] if filters == "filters" => {
                    format!("pipeline `{}`, filter #{}", printable(pipeline), index + 1)
                }
                _ => format!("pipeline `{}`", printable(pipeline)),
            })
        }
        [Step::Key(table), ..] if table == "engine" || table == "server" => {
            Some(format!("[{table}]"))
        }
        _ => None,
    }
}

/// One step down the syntax tree: a key of a table, or an item of an array.
enum Step {
    Key(String),
    Index(usize),
}

/// Whether byte `at` lies in `value`, leaving in `path` the steps down to
/// the innermost key or value whose own text holds it; tables and arrays
/// count by their own span only with `containers`. Own spans, not whole
/// subtrees: a pipeline's filter tables may be written apart, with another
/// pipeline's between them, and a table's span may be its header alone
/// (`[[pipelines.a.filters]]`) or run over other tables written between
/// its parts.
fn find(value: &toml::Spanned<DeValue>, at: usize, containers: bool, path: &mut Vec<Step>) -> bool {
    let children = match value.get_ref() {
        DeValue::Table(table) => {
            for (key, inner) in table.iter() {
                path.push(Step::Key(key.get_ref().to_string()));
                if key.span().contains(&at) || find(inner, at, containers, path) {
                    return true;
                }
                path.pop();
            }
            true
        }
        DeValue::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                path.push(Step::Index(index));
                if find(inner, at, containers, path) {
                    return true;
                }
                path.pop();
            }
            true
        }
        _ => false,
    };
    (containers || !children) && value.span().contains(&at)
}
