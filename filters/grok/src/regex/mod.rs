//! A regex engine for the Oniguruma/Ruby dialect that grok patterns are
//! written in, with Ruby's matching order, so captures equal Logstash's.
//!
//! Why not an existing crate: `regex` has no lookaround, atomic groups or
//! possessive repeats, and rewriting the standard patterns around that both
//! risks their semantics and (for the ECS e-mail pattern) multiplies the
//! automaton's size; fancy-regex and Oniguruma are general backtrackers that
//! do not prune by the next byte. Measured in issue 4, a purpose-built
//! backtracker over the compiled pattern was 2-5x faster than either.
//!
//! Pipeline: [`parse`] (text, with `%{NAME}` expansion, to a tree),
//! [`compile`] (tree to instructions, plus the byte sets that prune choices),
//! [`exec`] (the matcher).

mod ascii_block;
mod budget;
mod class;
mod compile;
mod exec;
mod literal;
mod parse;
mod parse_class;
mod runs;

pub use budget::{Budget, Stop};
pub use exec::{Matcher, UNSET};
pub use parse::{Resolver, Splice};

/// A compiled pattern.
pub struct Regex {
    program: compile::Program,
    names: Vec<(String, Vec<usize>)>,
}

impl Regex {
    /// Parses and compiles `pattern`; `%{...}` references go to `resolver`.
    /// Errors name the position, and the pattern it is in.
    pub fn new(pattern: &str, resolver: &mut dyn Resolver) -> Result<Regex, String> {
        let parsed = parse::parse(pattern, resolver)?;
        let program = compile::compile(&parsed.node, parsed.group_count)?;
        Ok(Regex {
            program,
            names: parsed.names,
        })
    }

    /// Named groups in order of first appearance, each with its group
    /// indices (several groups may share a name).
    pub fn names(&self) -> &[(String, Vec<usize>)] {
        &self.names
    }

    /// Finds the leftmost match in `input`; on `Ok(true)` group `i` spans
    /// `matcher.slots()[2i]..matcher.slots()[2i + 1]` (or is [`UNSET`]).
    pub fn search(
        &self,
        matcher: &mut Matcher,
        input: &str,
        budget: &mut Budget,
    ) -> Result<bool, Stop> {
        matcher.search(&self.program, input, budget)
    }
}

/// A resolver for plain regexes, where `%{` has no special meaning to grok
/// but is still refused, so tests cannot silently skip an expansion.
pub struct NoReferences;

impl Resolver for NoReferences {
    fn resolve(&mut self, name: &str, _: Option<&str>, _: Option<&str>) -> Result<Splice, String> {
        Err(format!("unknown pattern {name}"))
    }
}

#[cfg(test)]
mod tests;
