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

use std::ops::Range;

use toml::de::{DeTable, DeValue};

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
/// be worth quoting, the line and column alone.
fn located(error: &toml::de::Error, text: &str) -> String {
    const MAX_QUOTED: usize = 4096;
    let full = error.to_string();
    if full.len() <= MAX_QUOTED {
        return full;
    }
    let Some(at) = error.span().map(|span| span.start.min(text.len())) else {
        return error.message().to_owned();
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
        "TOML parse error at line {line}, column {column} (the line is too long to quote): {}",
        error.message()
    )
}

/// The pipeline and filter, or the top-level table, whose text holds byte
/// `at`; `None` outside them, or when the text is no TOML at all (a syntax
/// error, which the toml crate has placed already).
fn place_of(text: &str, at: usize) -> Option<String> {
    let root = DeTable::parse(text).ok()?.into_inner();
    let within = |value: &toml::Spanned<DeValue>| extent(value).contains(&at);
    for (key, value) in root.iter() {
        if !within(value) {
            continue;
        }
        return match (key.get_ref().as_ref(), value.get_ref()) {
            ("pipelines", DeValue::Table(pipelines)) => {
                let (name, pipeline) = pipelines.iter().find(|(_, p)| within(p))?;
                let filters = match pipeline.get_ref() {
                    DeValue::Table(table) => table.get("filters"),
                    _ => None,
                };
                let filter = match filters.map(|f| f.get_ref()) {
                    Some(DeValue::Array(filters)) => filters.iter().position(within),
                    _ => None,
                };
                Some(match filter {
                    Some(index) => format!("pipeline `{}`, filter #{}", name.get_ref(), index + 1),
                    None => format!("pipeline `{}`", name.get_ref()),
                })
            }
            (table @ ("engine" | "server"), _) => Some(format!("[{table}]")),
            _ => None,
        };
    }
    None
}

/// The bytes `value` and everything in it cover. A table's own span can be
/// its header alone (`[[pipelines.a.filters]]`), so the keys and values
/// under it count too.
fn extent(value: &toml::Spanned<DeValue>) -> Range<usize> {
    let mut range = value.span();
    let mut widen = |span: Range<usize>| {
        range.start = range.start.min(span.start);
        range.end = range.end.max(span.end);
    };
    match value.get_ref() {
        DeValue::Table(table) => {
            for (key, inner) in table.iter() {
                widen(key.span());
                widen(extent(inner));
            }
        }
        DeValue::Array(items) => {
            for inner in items.iter() {
                widen(extent(inner));
            }
        }
        _ => {}
    }
    range
}
