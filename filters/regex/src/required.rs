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

/// Literal text, as UTF-8 bytes, with, per byte, whether it matches in
/// either ASCII case (a letter under `(?i)`; such a byte is kept in lower
/// case).
#[derive(Default)]
pub struct Literal {
    pub bytes: Vec<u8>,
    pub either_case: Vec<bool>,
}

impl Literal {
    fn push(&mut self, byte: u8, either_case: bool) {
        self.bytes.push(byte);
        self.either_case.push(either_case);
    }
}

/// The longest literal every match of `node` contains; `None` if there is
/// none. Of two as long, the later is taken: the first byte of one that
/// begins the pattern is already looked for before each start, and in
/// `(?:a+a+)+b` only `b` tells a hopeless line apart.
pub fn required_literal(node: &Node) -> Option<Literal> {
    let mut runs = Runs::default();
    runs.walk(node);
    runs.close();
    (!runs.best.bytes.is_empty()).then_some(runs.best)
}

/// Looks for a pattern's required literal, built once per pattern.
pub enum RequiredFinder {
    /// Boxed: the finder is large, and is looked at only on slow searches.
    Exact(Box<memchr::memmem::Finder<'static>>),
    /// Some of its letters in either case: `lowered` has them in lower case.
    Caseless {
        lowered: Box<[u8]>,
        either_case: Box<[bool]>,
    },
}

/// A searcher for `node`'s required literal.
pub fn required_finder(node: &Node) -> Option<RequiredFinder> {
    let Literal { bytes, either_case } = required_literal(node)?;
    Some(match either_case.contains(&true) {
        false => RequiredFinder::Exact(Box::new(memchr::memmem::Finder::new(&bytes).into_owned())),
        true => RequiredFinder::Caseless {
            lowered: bytes.into(),
            either_case: either_case.into(),
        },
    })
}

impl RequiredFinder {
    /// Where the literal first occurs in `haystack`.
    pub fn find(&self, haystack: &[u8]) -> Option<usize> {
        let (lowered, either_case) = match self {
            RequiredFinder::Exact(finder) => return finder.find(haystack),
            RequiredFinder::Caseless {
                lowered,
                either_case,
            } => (lowered, either_case),
        };
        let fits = |at: usize| {
            let window = &haystack[at..at + lowered.len()];
            (window.iter().zip(lowered.iter()).zip(either_case.iter()))
                .all(|((&b, &l), &folds)| b == l || (folds && b.to_ascii_lowercase() == l))
        };
        let last = haystack.len().checked_sub(lowered.len())?;
        let (first, other) = match either_case[0] {
            true => (lowered[0], lowered[0].to_ascii_uppercase()),
            false => (lowered[0], lowered[0]),
        };
        let mut from = 0;
        while from <= last {
            let at = from + memchr::memchr2(first, other, &haystack[from..=last])?;
            if fits(at) {
                return Some(at);
            }
            from = at + 1;
        }
        None
    }
}

#[derive(Default)]
struct Runs {
    /// The literal text met since the last thing that was not one, and
    /// which of its bytes match in either case.
    current: Literal,
    best: Literal,
}

impl Runs {
    /// Walks `node`, whose text follows the current run directly.
    fn walk(&mut self, node: &Node) {
        match node {
            Node::Char(c) => {
                let mut utf8 = [0; 4];
                for &byte in c.encode_utf8(&mut utf8).as_bytes() {
                    self.current.push(byte, false);
                }
            }
            Node::Class(class) => match class.as_ascii_letter_pair() {
                Some(lower) => self.current.push(lower, true),
                None => self.close(),
            },
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
        if !self.current.bytes.is_empty() && self.current.bytes.len() >= self.best.bytes.len() {
            self.best = std::mem::take(&mut self.current);
        } else {
            self.current = Literal::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoReferences;
    use crate::parse;

    /// The literal, a letter that matches in either case shown upper case.
    fn required(pattern: &str) -> Option<String> {
        let parsed = parse::parse(pattern, &mut NoReferences).unwrap();
        let Literal { bytes, either_case } = required_literal(&parsed.node)?;
        let shown = (bytes.iter().zip(either_case))
            .map(|(&b, folds)| if folds { b.to_ascii_uppercase() } else { b });
        Some(String::from_utf8(shown.collect()).unwrap())
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
    fn letters_under_i_are_required_in_either_case() {
        assert_eq!(required("(?i)abc").as_deref(), Some("ABC"));
        assert_eq!(
            required("(?i).*?level=error .*").as_deref(),
            Some("LEVEL=ERROR ")
        );
        assert_eq!(required("x(?i:a)=").as_deref(), Some("xA="));
        let parsed = parse::parse("(?i)level=Error", &mut NoReferences).unwrap();
        let finder = required_finder(&parsed.node).unwrap();
        assert_eq!(finder.find(b"xx LEVEL=eRRor"), Some(3));
        assert_eq!(finder.find(b"level=erro"), None);
        assert_eq!(finder.find(b"level:error level=error"), Some(12));
        assert_eq!(finder.find(b""), None);
    }

    #[test]
    fn what_a_match_may_lack_is_passed_over() {
        assert_eq!(required("a|b"), None);
        assert_eq!(required("(?:abc)?x").as_deref(), Some("x"));
        assert_eq!(required("(?:abc)*"), None);
        assert_eq!(required("(?<=abc)x").as_deref(), Some("x"));
        assert_eq!(required("(?=abcd)x").as_deref(), Some("x"));
        // `k` and `s` fold to the Kelvin sign and the long s too.
        assert_eq!(required("(?i)ks"), None);
        assert_eq!(required("(?i)é"), None);
        assert_eq!(required(r"\d+"), None);
    }
}
