//! The standard pattern library, embedded at build time, and the parsing of
//! Logstash's pattern-file format.
//!
//! Format, as jls-grok reads it: one `NAME<whitespace>regex` per line, lines
//! whose first non-blank is `#` are comments, and the regex is the rest of the
//! line with only the line ending removed (trailing spaces stay).

use std::collections::HashMap;

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
    pub fn from_ecs_compatibility(mode: &str) -> Result<PatternSet, String> {
        match mode {
            "disabled" => Ok(PatternSet::Legacy),
            "v1" | "v8" => Ok(PatternSet::Ecs),
            other => Err(format!(
                "ecs_compatibility must be `disabled`, `v1` or `v8`, not `{other}`"
            )),
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
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        let Some(split) = line.find(char::is_whitespace) else {
            continue;
        };
        let (name, rest) = line.split_at(split);
        let regex = rest.trim_start();
        if regex.is_empty() {
            continue;
        }
        patterns.insert(name.to_string(), regex.to_string());
    }
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
        assert!(!patterns.contains_key("ALONE"));
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
