//! The standard pattern library, embedded at build time, and the parsing of
//! Logstash's pattern-file format.
//!
//! Format, as jls-grok reads it: one `NAME<whitespace>regex` per line, lines
//! whose first non-blank is `#` are comments, and the regex is the rest of the
//! line with only the line ending removed (trailing spaces stay). The same
//! reader serves the embedded library and an operator's own files (grok's
//! `patterns_dir`, which the host reads), so both follow Logstash to the byte.

use std::collections::HashMap;

use wasmstash_sdk::logstash::common::EcsCompatibility;

mod files {
    include!(concat!(env!("OUT_DIR"), "/pattern_files.rs"));
}

/// Which pattern set: Logstash's `ecs_compatibility` picks the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternSet {
    Legacy,
    Ecs,
}

impl PatternSet {
    /// `disabled` is the legacy set; `v1` and `v8` share the ECS set, as in
    /// Logstash.
    pub fn for_mode(mode: EcsCompatibility) -> PatternSet {
        match mode {
            EcsCompatibility::Disabled => PatternSet::Legacy,
            EcsCompatibility::V1 | EcsCompatibility::V8 => PatternSet::Ecs,
        }
    }

    /// The embedded family files: (family name, text).
    pub fn files(self) -> &'static [(&'static str, &'static str)] {
        match self {
            PatternSet::Legacy => files::LEGACY,
            PatternSet::Ecs => files::ECS_V1,
        }
    }
}

/// Pattern name -> regex text.
pub type Patterns = HashMap<String, String>;

/// All patterns of one set.
pub fn load(set: PatternSet) -> Patterns {
    let mut patterns = Patterns::new();
    for (_, text) in set.files() {
        add_file(&mut patterns, text);
    }
    patterns
}

/// Adds the definitions of one pattern file; later ones win.
pub fn add_file(patterns: &mut Patterns, text: &str) {
    for (name, regex) in definitions(text) {
        patterns.insert(name.to_string(), regex.to_string());
    }
}

/// The `(name, regex)` definitions of a pattern file, in order, as jls-grok
/// reads them: lines end at `\n` only; leading whitespace goes; a line
/// that is then empty, starts with `#` or has no whitespace after its name
/// defines nothing; the regex is what follows the run of whitespace after
/// the name, less one line ending (`\r\n`, `\n` or `\r`). So a name
/// followed by whitespace alone defines an empty pattern, as in Ruby.
pub fn definitions(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split_inclusive('\n').filter_map(|line| {
        let line = line.trim_start_matches(is_ruby_space);
        if line.starts_with('#') {
            return None;
        }
        let (name, rest) = line.split_at(line.find(is_ruby_space)?);
        let regex = rest.trim_start_matches(is_ruby_space);
        let regex = (regex.strip_suffix("\r\n"))
            .or_else(|| regex.strip_suffix(['\n', '\r']))
            .unwrap_or(regex);
        Some((name, regex))
    })
}

/// Ruby's `\s`: ASCII whitespace only, vertical tab included.
fn is_ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_logstash_pattern_files() {
        let mut patterns = Patterns::new();
        add_file(
            &mut patterns,
            "# comment\n  \nWORD \\b\\w+\\b\nSP\t \\s \n  # x\nALONE\nWORD x",
        );
        assert_eq!(patterns["WORD"], "x");
        assert_eq!(patterns["SP"], "\\s ");
        // A name before a line break is an empty pattern in Ruby too.
        assert_eq!(patterns["ALONE"], "");
    }

    /// Each line below, and what jls-grok (Ruby 3.1) makes of it: the
    /// regex, or `None` where the line defines nothing.
    #[test]
    fn lines_are_read_as_ruby_reads_them() {
        let cases: [(&str, Option<(&str, &str)>); 12] = [
            ("NAME\n", Some(("NAME", ""))),
            ("N \r\n", Some(("N", ""))),
            ("NAME  pat  \n", Some(("NAME", "pat  "))),
            ("  N\tp x\r\n", Some(("N", "p x"))),
            ("N p\r\r\n", Some(("N", "p\r"))),
            ("N p\r", Some(("N", "p"))),
            ("N\x0bp\n", Some(("N", "p"))),
            ("N p # q\n", Some(("N", "p # q"))),
            ("N\u{a0}p\n", Some(("N\u{a0}p", ""))),
            ("NAME", None),
            (" \t\n", None),
            ("  # N p\n", None),
        ];
        for (line, expected) in cases {
            assert_eq!(definitions(line).next(), expected, "{line:?}");
        }
        let lines: Vec<_> = definitions("A a\rB b\nC c").collect();
        assert_eq!(lines, [("A", "a\rB b"), ("C", "c")]);
    }

    #[test]
    fn the_ecs_set_names_the_bind9_category_as_logstash_does() {
        // A review found it missing (2026-12-05): `%{BIND9_CATEGORY}` in a
        // moved config failed at init.
        assert!(load(PatternSet::Ecs).contains_key("BIND9_CATEGORY"));
    }

    #[test]
    fn both_sets_are_embedded_and_every_pattern_compiles() {
        for set in [PatternSet::Legacy, PatternSet::Ecs] {
            let patterns = load(set);
            assert!(
                patterns.contains_key("WORD"),
                "{set:?} lacks the base patterns"
            );
            let mut failures = Vec::new();
            for name in patterns.keys() {
                let expression = format!("%{{{name}}}");
                let options = crate::expression::Options::default();
                if let Err(e) =
                    crate::expression::Expression::compile(&expression, &patterns, &options)
                {
                    failures.push(e);
                }
            }
            failures.sort();
            assert!(failures.is_empty(), "{set:?}: {failures:#?}");
        }
    }
}
