//! A regex engine for the Oniguruma/Ruby dialect that grok patterns (and
//! mutate's `gsub`) are written in, with Ruby's matching order, so captures
//! equal Logstash's.
//!
//! Why not an existing crate: `regex` has no lookaround, atomic groups or
//! possessive repeats, and rewriting the standard patterns around that both
//! risks their semantics and (for the ECS e-mail pattern) multiplies the
//! automaton's size; fancy-regex and Oniguruma are general backtrackers that
//! do not prune by the next byte. Measured in issue 4, a purpose-built
//! backtracker over the compiled pattern was 1.9-5.5x faster than either
//! (filters/grok/README.md).
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
mod required;
mod runs;

pub use budget::{Budget, Stop};
pub use exec::{Matcher, UNSET};
pub use parse::{Resolver, Splice, is_reference_name_byte};

/// A compiled pattern.
pub struct Regex {
    program: compile::Program,
    names: Vec<(String, Vec<usize>)>,
    /// The group that spans the whole match, in a pattern built for
    /// replacing ([`Regex::for_replace`]).
    whole: Option<usize>,
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
            whole: None,
        })
    }

    /// Compiles `pattern` as Ruby's `Regexp.new` reads it, for a replace
    /// (mutate's `gsub`): `.` stops at a newline, and plain groups capture,
    /// numbered from 1, unless the pattern names groups (then, as in Ruby,
    /// only those do). [`Regex::group`] reads group 0, the whole match, and
    /// the numbered ones.
    pub fn for_replace(pattern: &str) -> Result<Regex, String> {
        let mut parsed = parse::parse_with(pattern, &mut RubyText, false, false)?;
        if parsed.names.is_empty() {
            parsed = parse::parse_with(pattern, &mut RubyText, true, false)?;
        }
        let whole = parsed.group_count;
        let node = parse::Node::Capture(whole, Box::new(parsed.node));
        let program = compile::compile(&node, whole + 1)?;
        Ok(Regex {
            program,
            names: parsed.names,
            whole: Some(whole),
        })
    }

    /// Where group `number` of the last match lies in its input, if it took
    /// part: 0 is the whole match (for a pattern from
    /// [`Regex::for_replace`]), 1 and up the groups in order.
    pub fn group(&self, matcher: &Matcher, number: usize) -> Option<(usize, usize)> {
        let index = match number {
            0 => self.whole?,
            // The whole match's group comes after the pattern's own.
            n if self.whole.is_some_and(|whole| n > whole) => return None,
            n => n - 1,
        };
        span(matcher.slots(), index)
    }

    /// The last group, by number, that took part in the last match (Ruby's
    /// `\+`), for a pattern from [`Regex::for_replace`].
    pub fn last_group(&self, matcher: &Matcher) -> Option<(usize, usize)> {
        (1..=self.whole?).rev().find_map(|n| self.group(matcher, n))
    }

    /// Where the last group named `name` that took part in the last match
    /// lies, as Ruby's `\k<name>` reads it.
    pub fn named(&self, matcher: &Matcher, name: &str) -> Option<(usize, usize)> {
        let (_, groups) = self.names.iter().find(|(n, _)| n == name)?;
        (groups.iter().rev()).find_map(|&index| span(matcher.slots(), index))
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
        matcher.search(&self.program, input, 0, budget)
    }

    /// [`Regex::search`] for a match that starts at or after `from`, a
    /// character boundary of `input`: the next match of a global replace.
    pub fn search_from(
        &self,
        matcher: &mut Matcher,
        input: &str,
        from: usize,
        budget: &mut Budget,
    ) -> Result<bool, Stop> {
        matcher.search(&self.program, input, from, budget)
    }
}

/// Group `index`'s span among `slots`, if it was set.
fn span(slots: &[u32], index: usize) -> Option<(usize, usize)> {
    match (slots.get(2 * index), slots.get(2 * index + 1)) {
        (Some(&start), Some(&end)) if start != UNSET && end != UNSET => {
            Some((start as usize, end as usize))
        }
        _ => None,
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

/// A Ruby regex, as `Regexp.new` reads it: `%{name}` is text there.
struct RubyText;

impl Resolver for RubyText {
    fn resolve(&mut self, _: &str, _: Option<&str>, _: Option<&str>) -> Result<Splice, String> {
        unreachable!("a Ruby regex has no references to resolve")
    }

    fn expands_references(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
