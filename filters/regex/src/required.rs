//! The longest run of literal text that every match of a pattern holds.
//!
//! A search tries each start position in turn, and a pattern such as
//! `%{DATA:key}: %{GREEDYDATA:value}` walks most of the rest of the line
//! from each one before it fails: on a long line with no `: ` in it, the
//! work grows with the square of the line's length, and a 12 KB line ran
//! out of grok's step budget (`_groktimeout`) where Ruby's Onigmo, which
//! Logstash's Joni mirrors, fails at once because it first looks for the
//! text the pattern cannot match without. So does this engine, on any
//! input (a short line is no safer: `(?:a|aa)+b` on thirty `a`s
//! backtracks exponentially from the first start), but only once a
//! search has spent a few thousand steps (`Matcher::search`): most end
//! sooner, and pay nothing for a look that could only have confirmed
//! what they found.
//!
//! Only what is sure to be in every match counts: runs of literal
//! characters in the pattern's sequence, also inside groups and repeats
//! taken at least once. Alternatives, optional parts and look-arounds (a
//! look-behind may read before where a search starts) are passed over.

use super::parse::Node;

/// The longest literal every match of `node` contains, as UTF-8 bytes;
/// `None` if there is none. Of two as long, the later is taken: the first
/// byte of one that begins the pattern is already looked for before each
/// start, and in `(?:a+a+)+b` only `b` tells a hopeless line apart.
pub fn required_literal(node: &Node) -> Option<Box<[u8]>> {
    let mut runs = Runs::default();
    runs.walk(node);
    runs.close();
    (!runs.best.is_empty()).then(|| runs.best.into_boxed_slice())
}

/// A searcher for `node`'s required literal, built once per pattern.
pub fn required_finder(node: &Node) -> Option<memchr::memmem::Finder<'static>> {
    required_literal(node).map(|literal| memchr::memmem::Finder::new(&literal).into_owned())
}

#[derive(Default)]
struct Runs {
    /// The literal text met since the last thing that was not one.
    current: Vec<u8>,
    best: Vec<u8>,
}

impl Runs {
    /// Walks `node`, whose text follows the current run directly.
    fn walk(&mut self, node: &Node) {
        match node {
            Node::Char(c) => {
                let mut utf8 = [0; 4];
                self.current
                    .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
            // A sequence inside a sequence goes on with its run.
            Node::Concat(items) => items.iter().for_each(|item| self.walk(item)),
            // Taken exactly once: its text is in every match, in place.
            Node::Capture(_, inner) | Node::Atomic(inner) => self.walk(inner),
            // Taken at least once: its body's text is in every match, but
            // what follows may come after another turn, not right after.
            Node::Repeat { node, min, .. } if *min >= 1 => {
                self.close();
                self.walk(node);
                self.close();
            }
            _ => self.close(),
        }
    }

    /// Ends the current run, kept if it is at least as long as the best.
    fn close(&mut self) {
        if !self.current.is_empty() && self.current.len() >= self.best.len() {
            self.best = std::mem::take(&mut self.current);
        } else {
            self.current.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoReferences;
    use crate::parse;

    fn required(pattern: &str) -> Option<String> {
        let parsed = parse::parse(pattern, &mut NoReferences).unwrap();
        required_literal(&parsed.node).map(|bytes| String::from_utf8(bytes.into()).unwrap())
    }

    #[test]
    fn the_longest_run_in_every_match() {
        assert_eq!(required(".*?: .*").as_deref(), Some(": "));
        assert_eq!(required(r"\[(?<t>.*?)\] HTTP/").as_deref(), Some("] HTTP/"));
        assert_eq!(required("(?:abc)+x").as_deref(), Some("abc"));
        assert_eq!(required("(?<a>ab(?<b>cd))e").as_deref(), Some("abcde"));
        assert_eq!(required("é€x").as_deref(), Some("é€x"));
        // Of two as long, the later.
        assert_eq!(required("(?:a+a+)+b").as_deref(), Some("b"));
        assert_eq!(required("ab.cd").as_deref(), Some("cd"));
    }

    #[test]
    fn what_a_match_may_lack_is_passed_over() {
        assert_eq!(required("a|b"), None);
        assert_eq!(required("(?:abc)?x").as_deref(), Some("x"));
        assert_eq!(required("(?:abc)*"), None);
        assert_eq!(required("(?<=abc)x").as_deref(), Some("x"));
        assert_eq!(required("(?=abcd)x").as_deref(), Some("x"));
        assert_eq!(required("(?i)abc"), None);
        assert_eq!(required(r"\d+"), None);
    }
}
