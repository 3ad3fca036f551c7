//! `field_split_pattern` and `value_split_pattern`: the part of Ruby's regex
//! syntax that separators are written in.
//!
//! Operators write `", "`, `":+"`, `"\\+\\+"` or `"\\s*,\\s*"` there; nobody
//! writes lookarounds. So instead of a regex engine this reads a plain
//! sequence of atoms (characters, escapes, classes as `charset.rs` reads
//! them, `.`) with `? * +`, matched by a set-of-states simulation that
//! reads each character once from a given start (but see `scan.rs` for what
//! trying it at every start costs). Anything else is refused at `init` with
//! a message.

use crate::charset::{CharClass, Member, Reader};

/// One position of a split pattern: what it matches and how often.
#[derive(Debug, Clone)]
struct Atom {
    class: CharClass,
    optional: bool,
    repeats: bool,
}

/// A split pattern: atoms in sequence, each optionally quantified.
#[derive(Debug, Clone)]
pub struct SplitPattern {
    atoms: Vec<Atom>,
}

/// Patterns longer than this are refused; the matcher keeps its state set in
/// one `u64`.
const MAX_ATOMS: usize = 63;

impl SplitPattern {
    pub fn parse(spec: &str) -> Result<SplitPattern, String> {
        let unsupported = |what: &str| {
            format!(
                "`{spec}`: {what} is not supported; a split pattern may use literal text, escapes \
                 (`\\+`, `\\s`, `\\d`, `\\w`, `\\h` and their negations, `\\t`, `\\xHH`), `[...]` \
                 classes, `.` and the quantifiers `?`, `*`, `+`"
            )
        };
        let mut atoms: Vec<Atom> = Vec::new();
        let mut reader = Reader::new(spec);
        while let Some(c) = reader.next_char() {
            let class = match c {
                '\\' => match reader.escape(false)? {
                    Member::Char(c) => CharClass::single(c),
                    Member::Set(set) => CharClass::from_set(set),
                },
                '[' => reader.class_body(true)?,
                '.' => CharClass::parse("^\n")?,
                '?' | '*' | '+' => {
                    let atom = atoms
                        .last_mut()
                        .filter(|a| !a.optional && !a.repeats)
                        .ok_or_else(|| {
                            unsupported("a quantifier without a single atom before it")
                        })?;
                    atom.optional = c != '+';
                    atom.repeats = c != '?';
                    continue;
                }
                '(' | ')' | '|' | '{' | '}' | '^' | '$' => {
                    return Err(unsupported(&format!("`{c}`")));
                }
                literal => CharClass::single(literal),
            };
            atoms.push(Atom {
                class,
                optional: false,
                repeats: false,
            });
        }
        if atoms.len() > MAX_ATOMS {
            return Err(format!("`{spec}` is longer than {MAX_ATOMS} atoms"));
        }
        if atoms.iter().all(|a| a.optional) {
            return Err(format!(
                "`{spec}` can match empty text, so it would split everywhere"
            ));
        }
        Ok(SplitPattern { atoms })
    }

    /// The length of the longest match starting at `pos`, if any (never 0).
    #[cfg(test)]
    pub fn match_len(&self, text: &str, pos: usize) -> Option<usize> {
        self.longest_match(text, pos).0
    }

    /// As `match_len`, with the characters read to decide it: as many as
    /// a partial match stays alive, so up to the rest of the text.
    pub fn longest_match(&self, text: &str, pos: usize) -> (Option<usize>, u64) {
        let accept = 1u64 << self.atoms.len();
        let mut states = self.closure(1);
        let mut best = None;
        let mut read = 0;
        for (offset, c) in text[pos..].char_indices() {
            read += 1;
            let mut next = 0u64;
            for (i, atom) in self.atoms.iter().enumerate() {
                if states & (1 << i) != 0 && atom.class.contains(c) {
                    next |= 1 << (i + 1);
                    if atom.repeats {
                        next |= 1 << i;
                    }
                }
            }
            states = self.closure(next);
            if states == 0 {
                break;
            }
            if states & accept != 0 {
                best = Some(offset + c.len_utf8());
            }
        }
        (best, read)
    }

    /// Adds the states reachable by skipping optional atoms.
    fn closure(&self, mut states: u64) -> u64 {
        for (i, atom) in self.atoms.iter().enumerate() {
            if atom.optional && states & (1 << i) != 0 {
                states |= 1 << (i + 1);
            }
        }
        states
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_patterns_match_longest_and_refuse_what_they_cannot_do() {
        let colons = SplitPattern::parse(":+").unwrap();
        assert_eq!(colons.match_len("a:::b", 1), Some(3));
        assert_eq!(colons.match_len("a:::b", 0), None);
        let plus = SplitPattern::parse(r"\+\+").unwrap();
        assert_eq!(plus.match_len("++x", 0), Some(2));
        assert_eq!(plus.match_len("+x", 0), None);
        let comma = SplitPattern::parse(r"\s*,\s*").unwrap();
        assert_eq!(comma.match_len("a , b", 1), Some(3));
        assert_eq!(comma.match_len("a,b", 1), Some(1));
        let any = SplitPattern::parse("a.c").unwrap();
        assert_eq!(any.match_len("abc", 0), Some(3));
        assert_eq!(any.match_len("a\nc", 0), None);
        for bad in ["(a|b)", "a{2}", ":*", "^a", "[a", "**"] {
            assert!(SplitPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn classes_and_escapes_in_patterns_read_as_ruby_reads_them() {
        let not_word = SplitPattern::parse(r"\W").unwrap();
        assert_eq!(not_word.match_len("a;b", 1), Some(1));
        assert_eq!(not_word.match_len("a;b", 0), None);
        // A POSIX bracket's own `]` does not close the class.
        let hex = SplitPattern::parse("[[:xdigit:]_]+").unwrap();
        assert_eq!(hex.match_len("x0f_9y", 1), Some(4));
        // An escaped `]`, and an escaped backslash before the closing one.
        let brackets = SplitPattern::parse(r"[\]\\]").unwrap();
        assert_eq!(brackets.match_len("]", 0), Some(1));
        assert_eq!(brackets.match_len("\\", 0), Some(1));
        assert_eq!(
            SplitPattern::parse(r"\x2c\u0020")
                .unwrap()
                .match_len("a, b", 1),
            Some(2)
        );
        for (bad, named) in [
            (r"\b", "anchor"),
            (r"\A", "anchor"),
            (r"\1", "back-reference"),
            (r"\R", "not supported"),
            (r"\p{P}", "Unicode property"),
            ("[[:punct:]]", "[:punct:]"),
            ("[a[b]]", "nested class"),
        ] {
            let error = SplitPattern::parse(bad).err().unwrap_or_default();
            assert!(error.contains(named), "{bad}: {error}");
        }
    }
}
