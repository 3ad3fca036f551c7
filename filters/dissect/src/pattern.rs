//! Parses a dissect pattern (`%{a} %{+a} [%{?skip}] %{&key}`) into a list of
//! fields, each with the literal delimiter that ends it.
//!
//! All checks happen here, once at `init`, so a pattern that cannot work is
//! refused with its position instead of failing on every event.

use wasmstash_sdk::{field_ref, json_text};

/// What a field does with the text it captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `%{name}`: stored under `name`.
    Normal,
    /// `%{}` or `%{?name}`: captured but not stored (a named skip can still
    /// give an indirect field its key).
    Skip,
    /// `%{+name}` or `%{+name/N}`: appended to `name`, in order `N` if given.
    Append { ordinal: Option<u32> },
    /// `%{&name}`: stored under the key that field `name` captured.
    Indirect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The key without prefix, ordinal or padding marker; empty for `%{}`.
    pub name: String,
    pub kind: Kind,
    /// `->`: repeats of the delimiter after this field are padding.
    pub padded: bool,
    /// The literal text before this field in the pattern, used to join
    /// appended values.
    pub previous: String,
    /// The literal text that ends this field; empty only for the last field,
    /// which then takes the rest of the text.
    pub next: String,
}

/// A parsed pattern: literal text that must open the value, then the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub prefix: String,
    pub fields: Vec<Field>,
}

/// Parses `pattern`, naming the position (in characters, from 1) of any problem.
pub fn parse(pattern: &str) -> Result<Pattern, String> {
    if pattern.is_empty() {
        return Err("the pattern is empty".into());
    }
    let mut prefix = None;
    let mut fields: Vec<Field> = Vec::new();
    let mut rest = pattern;
    let mut literal = String::new();
    while !rest.is_empty() {
        let Some(open) = rest.find("%{") else {
            literal.push_str(rest);
            break;
        };
        literal.push_str(&rest[..open]);
        let start = pattern.len() - rest.len() + open;
        let body_and_rest = &rest[open + 2..];
        let Some(close) = body_and_rest.find('}') else {
            // Logstash only sees fields that close; after the last one, an
            // open `%{` is text of the final delimiter. Before any field it
            // leaves none, which is more likely a typo than a layout.
            if fields.is_empty() {
                return Err(format!(
                    "`%{{` at {} is never closed by `}}`",
                    column(pattern, start)
                ));
            }
            literal.push_str(&rest[open..]);
            break;
        };
        let body = &body_and_rest[..close];
        if body.contains("%{") {
            return Err(format!(
                "`%{{` at {} is never closed by `}}` before the next `%{{`",
                column(pattern, start)
            ));
        }
        let previous = std::mem::take(&mut literal);
        match fields.last_mut() {
            None => prefix = Some(previous.clone()),
            Some(last) if previous.is_empty() => {
                return Err(format!(
                    "fields `%{{{}}}` and `%{{{body}}}` at {} have no delimiter between them, so there is no way to tell where one ends",
                    display_body(last),
                    column(pattern, start)
                ));
            }
            Some(last) => last.next = previous.clone(),
        }
        let mut field = parse_field(body)
            .map_err(|e| format!("field `%{{{body}}}` at {}: {e}", column(pattern, start)))?;
        field.previous = previous;
        fields.push(field);
        rest = &body_and_rest[close + 1..];
    }
    let Some(last) = fields.last_mut() else {
        return Err("the pattern has no `%{...}` field".into());
    };
    // Logstash's dissect 1.2 finds the final delimiter with `[^}]+$` over
    // the whole pattern: only the text after the pattern's last `}` ends
    // the last field. A pattern ending in `}` (`{%{a}}`) has none, and its
    // last field takes the rest, `}` and all; operators moving a config
    // expect the fields Logstash gave them.
    last.next = match literal.rfind('}') {
        Some(at) => literal[at + 1..].to_owned(),
        None => literal,
    };
    Ok(Pattern {
        prefix: prefix.unwrap_or_default(),
        fields,
    })
}

fn display_body(field: &Field) -> String {
    let marker = match &field.kind {
        Kind::Normal => "",
        Kind::Skip if field.name.is_empty() => "",
        Kind::Skip => "?",
        Kind::Append { .. } => "+",
        Kind::Indirect => "&",
    };
    format!("{marker}{}", field.name)
}

fn column(pattern: &str, byte: usize) -> String {
    format!("character {}", pattern[..byte].chars().count() + 1)
}

fn parse_field(body: &str) -> Result<Field, String> {
    let (kind, body) = match body.as_bytes().first() {
        Some(b'+') => (Kind::Append { ordinal: None }, &body[1..]),
        Some(b'?') => (Kind::Skip, &body[1..]),
        Some(b'&') => (Kind::Indirect, &body[1..]),
        _ => (Kind::Normal, body),
    };
    if body.starts_with(['+', '?', '&']) {
        return Err("a field takes one prefix: `+` (append), `?` (skip) or `&` (indirect)".into());
    }
    let (name, padded, ordinal) = split_suffix(body);
    let kind = match kind {
        Kind::Append { .. } => Kind::Append { ordinal },
        // Logstash reads the order of a skip and drops it: it orders nothing.
        Kind::Skip => Kind::Skip,
        // `%{/2}` is as nameless as `%{->}`; no order can mislead there.
        kind if ordinal.is_none() || name.is_empty() => kind,
        _ => {
            return Err(
                "an order suffix `/N` is only allowed on an append field (`%{+name/N}`)".into(),
            );
        }
    };
    match (&kind, name.is_empty()) {
        (Kind::Normal, true) => Ok(Field {
            name: String::new(),
            kind: Kind::Skip,
            padded,
            previous: String::new(),
            next: String::new(),
        }),
        (Kind::Skip, true) => Ok(Field {
            name: String::new(),
            kind: Kind::Skip,
            padded,
            previous: String::new(),
            next: String::new(),
        }),
        (_, true) => Err("this field needs a name".into()),
        (_, false) => {
            field_ref::validate(name)?;
            // Readable, but a value set there would nest the event past
            // what it may hold, failing every event that matches.
            let depth = field_ref::segments(name).count();
            if depth > json_text::MAX_NESTING {
                return Err(format!(
                    "`{}...` is {depth} segments deep; a field set there would nest the event \
                     deeper than the {} levels it may hold",
                    name.chars().take(40).collect::<String>(),
                    json_text::MAX_NESTING
                ));
            }
            Ok(Field {
                name: name.to_owned(),
                kind,
                padded,
                previous: String::new(),
                next: String::new(),
            })
        }
    }
}

/// Splits off Logstash's field suffix (Field.java's SUFFIX_REGEX): `->`,
/// `/N`, `/N->` or `->/N` at the very end, with N one or two ASCII digits.
/// Anything else stays in the name, as Logstash keeps it there: `a/b` and
/// `a/123` are names, not orders. The longest suffix wins, which is what
/// the regex's lazy name gives.
fn split_suffix(body: &str) -> (&str, bool, Option<u32>) {
    fn ordinal_at_end(text: &str) -> Option<(&str, u32)> {
        let head = text.trim_end_matches(|c: char| c.is_ascii_digit());
        let digits = &text[head.len()..];
        if !(1..=2).contains(&digits.len()) {
            return None;
        }
        Some((head.strip_suffix('/')?, digits.parse().ok()?))
    }
    if let Some((head, ordinal)) = ordinal_at_end(body) {
        return match head.strip_suffix("->") {
            Some(name) => (name, true, Some(ordinal)),
            None => (head, false, Some(ordinal)),
        };
    }
    match body.strip_suffix("->") {
        Some(head) => match ordinal_at_end(head) {
            Some((name, ordinal)) => (name, true, Some(ordinal)),
            None => (head, true, None),
        },
        None => (body, false, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(pattern: &str) -> Vec<(String, Kind, bool, String)> {
        parse(pattern)
            .unwrap()
            .fields
            .into_iter()
            .map(|f| (f.name, f.kind, f.padded, f.next))
            .collect()
    }

    #[test]
    fn prefixes_suffixes_and_delimiters() {
        let pattern =
            parse("[%{ts}] %{+ts/2} %{?skip} %{&skip}: %{} %{pad->} %{[nested][f]}.").unwrap();
        assert_eq!(pattern.prefix, "[");
        assert_eq!(
            kinds("[%{ts}] %{+ts/2} %{?skip} %{&skip}: %{} %{pad->} %{[nested][f]}."),
            vec![
                ("ts".into(), Kind::Normal, false, "] ".into()),
                (
                    "ts".into(),
                    Kind::Append { ordinal: Some(2) },
                    false,
                    " ".into()
                ),
                ("skip".into(), Kind::Skip, false, " ".into()),
                ("skip".into(), Kind::Indirect, false, ": ".into()),
                ("".into(), Kind::Skip, false, " ".into()),
                ("pad".into(), Kind::Normal, true, " ".into()),
                ("[nested][f]".into(), Kind::Normal, false, ".".into()),
            ]
        );
        assert_eq!(pattern.fields[1].previous, "] ");
        assert_eq!(pattern.fields[0].previous, "[");
    }

    #[test]
    fn unicode_delimiters_keep_their_bytes() {
        let pattern = parse("%{a}྿྿%{b}").unwrap();
        assert_eq!(pattern.fields[0].next, "྿྿");
        assert_eq!(pattern.fields[1].next, "");
    }

    #[test]
    fn only_the_text_after_the_last_closing_brace_ends_the_last_field() {
        for (pattern, next) in [
            ("{%{a}}", ""),
            ("%{a}}", ""),
            ("%{a} x}", ""),
            ("%{a}x}y", "y"),
            ("{%{a}}{%{b}}.", "."),
            ("%{a}.log", ".log"),
        ] {
            assert_eq!(
                parse(pattern).unwrap().fields.last().unwrap().next,
                next,
                "{pattern}"
            );
        }
    }

    /// Field.java's SUFFIX_REGEX: `->` and `/N` in either order, N one or
    /// two digits; any other `/` is part of the name.
    #[test]
    fn suffixes_are_read_as_logstash_reads_them() {
        let field = |body: &str| {
            let field = parse(&format!("%{{{body}}} x")).unwrap().fields.remove(0);
            (field.name, field.kind, field.padded)
        };
        let append = |ordinal| Kind::Append { ordinal };
        for (body, expected) in [
            ("+a->/2", ("a", append(Some(2)), true)),
            ("+a/2->", ("a", append(Some(2)), true)),
            ("+a/12", ("a", append(Some(12)), false)),
            ("+a/123", ("a/123", append(None), false)),
            ("+a/b", ("a/b", append(None), false)),
            ("+a/1/2", ("a/1", append(Some(2)), false)),
            ("+[a/2]", ("[a/2]", append(None), false)),
            ("a/b", ("a/b", Kind::Normal, false)),
            ("a/123->", ("a/123", Kind::Normal, true)),
            ("a->->", ("a->", Kind::Normal, true)),
            ("?k/2", ("k", Kind::Skip, false)),
            ("?k->/2", ("k", Kind::Skip, true)),
            ("->", ("", Kind::Skip, true)),
            ("/2", ("", Kind::Skip, false)),
        ] {
            let (name, kind, padded) = expected;
            assert_eq!(field(body), (name.to_owned(), kind, padded), "{body}");
        }
    }

    #[test]
    fn an_open_brace_after_the_last_field_is_delimiter_text() {
        let pattern = parse("%{a} %{b").unwrap();
        assert_eq!(pattern.fields.len(), 1);
        assert_eq!(pattern.fields[0].next, " %{b");
        assert_eq!(parse("%{a}, x}y %{b").unwrap().fields[0].next, "y %{b");
    }

    #[test]
    fn invalid_patterns_are_explained_with_their_position() {
        for (pattern, expected) in [
            ("", "empty"),
            ("no fields here", "no `%{...}` field"),
            ("%{a", "`%{` at character 1 is never closed"),
            ("x %{a", "`%{` at character 3 is never closed"),
            ("%{a}%{b}", "no delimiter between them"),
            ("%{+&a}", "one prefix"),
            ("%{&+a}", "one prefix"),
            ("%{a/2}", "only allowed on an append"),
            ("%{&a->/2}", "only allowed on an append"),
            ("%{+/2}", "needs a name"),
            ("%{+}", "needs a name"),
            ("%{&}", "needs a name"),
            ("x %{[a][b}", "malformed field reference"),
            ("%{a %{b}", "never closed by `}` before"),
        ] {
            let err = parse(pattern).unwrap_err();
            assert!(err.contains(expected), "{pattern:?}: {err}");
        }
    }
}
