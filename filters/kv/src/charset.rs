//! The small pieces of regular-expression syntax kv's options are written in.
//!
//! Logstash pastes `field_split`, `value_split`, `trim_key` and friends into a
//! regex character class, and `*_split_pattern` is a whole regex. Operators
//! write `"&?"`, `"<>\[\],"` or `":+"`; nobody writes lookarounds there. So
//! instead of a regex engine (slow to build into every module, and unbounded
//! in time) this reads a character class, and for the split patterns a plain
//! sequence of atoms with `? * +`, matched by a set-of-states simulation that
//! is linear in the text. Anything else is refused at `init` with a message.

/// A set of characters, as written between `[` and `]` in a regex.
#[derive(Debug, Clone)]
pub struct CharClass {
    ascii: [bool; 128],
    /// Ranges for characters beyond ASCII; `negated` applies to these.
    ranges: Vec<(char, char)>,
    negated: bool,
}

impl CharClass {
    /// Parses class content such as `&?`, `<>\[\],`, `a-z_`, `^,` or `\s`.
    pub fn parse(spec: &str) -> Result<CharClass, String> {
        let (negated, body) = match spec.strip_prefix('^') {
            Some(rest) if !rest.is_empty() => (true, rest),
            _ => (false, spec),
        };
        let mut ranges: Vec<(char, char)> = Vec::new();
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            let low = if c == '\\' {
                let escaped = chars
                    .next()
                    .ok_or_else(|| format!("`{spec}` ends with a lone `\\`"))?;
                match shorthand(escaped) {
                    Some(set) => {
                        ranges.extend_from_slice(set);
                        continue;
                    }
                    None => control(escaped),
                }
            } else {
                c
            };
            let mut lookahead = chars.clone();
            if lookahead.next() == Some('-')
                && let Some(high) = lookahead.next()
            {
                let high = if high == '\\' {
                    control(lookahead.next().ok_or("a range ends with a lone `\\`")?)
                } else {
                    high
                };
                if high < low {
                    return Err(format!("range `{low}-{high}` in `{spec}` is backwards"));
                }
                chars = lookahead;
                ranges.push((low, high));
            } else {
                ranges.push((low, low));
            }
        }
        if ranges.is_empty() {
            return Err(format!("`{spec}` names no characters"));
        }
        let mut ascii = [negated; 128];
        for (i, slot) in ascii.iter_mut().enumerate() {
            let c = i as u8 as char;
            if ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) {
                *slot = !negated;
            }
        }
        Ok(CharClass {
            ascii,
            ranges,
            negated,
        })
    }

    pub fn contains(&self, c: char) -> bool {
        if c.is_ascii() {
            self.ascii[c as usize]
        } else {
            self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
        }
    }

    /// The length of the character at byte `pos` of `text` if it belongs to
    /// this class. ASCII, nearly every byte of a log line, is one lookup.
    pub fn match_at(&self, text: &str, pos: usize) -> Option<usize> {
        let byte = *text.as_bytes().get(pos)?;
        if byte.is_ascii() {
            return self.ascii[byte as usize].then_some(1);
        }
        let c = text[pos..].chars().next()?;
        self.contains(c).then(|| c.len_utf8())
    }

    /// `text` without leading and trailing characters of this class.
    pub fn trim<'t>(&self, text: &'t str) -> &'t str {
        text.trim_matches(|c| self.contains(c))
    }

    /// `text` without any character of this class.
    pub fn remove_all(&self, text: &str) -> String {
        text.chars().filter(|&c| !self.contains(c)).collect()
    }
}

const SPACE: &[(char, char)] = &[(' ', ' '), ('\t', '\r')];
const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];

fn shorthand(c: char) -> Option<&'static [(char, char)]> {
    match c {
        's' => Some(SPACE),
        'd' => Some(DIGIT),
        'w' => Some(WORD),
        _ => None,
    }
}

fn control(c: char) -> char {
    match c {
        't' => '\t',
        'n' => '\n',
        'r' => '\r',
        other => other,
    }
}

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
                 (`\\+`, `\\s`, `\\d`, `\\w`, `\\t`), `[...]` classes, `.` and the quantifiers `?`, `*`, `+`"
            )
        };
        let mut atoms: Vec<Atom> = Vec::new();
        let mut chars = spec.chars();
        while let Some(c) = chars.next() {
            let class = match c {
                '\\' => {
                    let escaped = chars
                        .next()
                        .ok_or_else(|| format!("`{spec}` ends with a lone `\\`"))?;
                    let mut text = String::from('\\');
                    text.push(escaped);
                    CharClass::parse(&text)?
                }
                '[' => {
                    let mut body = String::new();
                    loop {
                        match chars.next() {
                            None => return Err(format!("`{spec}`: `[` is never closed")),
                            Some(']') if !body.is_empty() && !body.ends_with('\\') => break,
                            Some(ch) => body.push(ch),
                        }
                    }
                    CharClass::parse(&body)?
                }
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
                literal => CharClass::parse(&literal.to_string().replace('-', "\\-"))?,
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
    pub fn match_len(&self, text: &str, pos: usize) -> Option<usize> {
        let accept = 1u64 << self.atoms.len();
        let mut states = self.closure(1);
        let mut best = None;
        for (offset, c) in text[pos..].char_indices() {
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
        best
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
    fn classes_with_escapes_ranges_and_negation() {
        let class = CharClass::parse(r"<>\[\],").unwrap();
        assert!("<>[],".chars().all(|c| class.contains(c)));
        assert!(!class.contains('a'));
        assert_eq!(class.trim("<[value],>"), "value");
        let range = CharClass::parse("a-c_").unwrap();
        assert!(range.contains('b') && range.contains('_') && !range.contains('d'));
        let not_comma = CharClass::parse("^,").unwrap();
        assert!(not_comma.contains('x') && not_comma.contains('é') && !not_comma.contains(','));
        let space = CharClass::parse(r"\s").unwrap();
        assert!(space.contains('\t') && space.contains(' ') && !space.contains('s'));
        assert_eq!(CharClass::parse("é").unwrap().remove_all("aéb"), "ab");
        assert!(CharClass::parse("z-a").is_err());
        assert!(CharClass::parse("\\").is_err());
    }

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
}
