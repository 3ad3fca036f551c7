//! Sets of characters, read from the regex syntax kv's options are written in.
//!
//! Logstash pastes `field_split`, `value_split`, `trim_key` and friends
//! between `[` and `]` in a Ruby regex, and `*_split_pattern` (`pattern.rs`)
//! may hold classes and escapes too. Instead of a regex engine (slow to build
//! into every module, and unbounded in time) this reads the class syntax
//! itself, as Ruby's Onigmo reads it: ranges, a leading `^`, the escapes
//! `\w \d \s \h` and their negations (ASCII-only in Ruby, so exactly
//! reproducible), character escapes, and the POSIX brackets `[:ascii:]` and
//! `[:xdigit:]`. What Ruby reads differently from a plain character, and this
//! cannot reproduce exactly, is refused at `init` naming the construct: the
//! other POSIX brackets and `\p{...}` (Unicode-aware in Ruby), nested classes
//! and `&&`, and escaped letters that mean no character. Read as literal
//! characters instead, they would quietly split, trim or remove other text
//! than Logstash does.

/// A set of characters, as written between `[` and `]` in a regex.
#[derive(Debug, Clone)]
pub struct CharClass {
    ascii: [bool; 128],
    /// The members as ranges; `negated` applies to these. Looked at only for
    /// characters beyond ASCII.
    ranges: Vec<(char, char)>,
    negated: bool,
}

impl CharClass {
    /// Parses class content such as `&?`, `<>\[\],`, `a-z_`, `^,` or `\s`:
    /// an option Logstash puts between `[` and `]`.
    pub fn parse(spec: &str) -> Result<CharClass, String> {
        Reader::new(spec).class_body(false)
    }

    /// The class of one character.
    pub fn single(c: char) -> CharClass {
        CharClass::from_ranges(vec![(c, c)], false)
    }

    /// The class of the characters in `set`.
    pub fn from_set(set: Vec<(char, char)>) -> CharClass {
        CharClass::from_ranges(set, false)
    }

    fn from_ranges(ranges: Vec<(char, char)>, negated: bool) -> CharClass {
        let mut ascii = [negated; 128];
        for (i, slot) in ascii.iter_mut().enumerate() {
            let c = i as u8 as char;
            if ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) {
                *slot = !negated;
            }
        }
        CharClass {
            ascii,
            ranges,
            negated,
        }
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

    /// Whether any character of `text` belongs to this class.
    pub fn any_in(&self, text: &str) -> bool {
        text.chars().any(|c| self.contains(c))
    }

    /// `text` without any character of this class.
    pub fn remove_all(&self, text: &str) -> String {
        text.chars().filter(|&c| !self.contains(c)).collect()
    }
}

/// Checks `spec` as Logstash also pastes it, after `[^`: the characters a
/// key (`value_split` then `field_split`) or an unquoted value
/// (`field_split`) may hold. It must compile, or Ruby refuses the config,
/// and hold every character not in `apart` (the options as read alone),
/// or Logstash would read other characters as separators than this filter:
/// a `-` where the two options meet makes a range (`=` and `-,` make
/// `[^=-,]`), and a leading `^` is a character there.
pub fn check_negated(spec: &str, apart: &[&CharClass]) -> Result<(), String> {
    let negated = CharClass::parse(&format!("^{spec}")).map_err(|e| {
        let why = e.split_once("`: ").map_or(e.as_str(), |(_, why)| why);
        format!("`[^{spec}]` in Logstash's regex: {why}")
    })?;
    let in_apart = |c: char| apart.iter().any(|class| class.contains(c));
    let mut classes = vec![&negated];
    classes.extend_from_slice(apart);
    if breakpoints(&classes)
        .into_iter()
        .any(|c| negated.contains(c) == in_apart(c))
    {
        return Err(format!(
            "`[^{spec}]` in Logstash's regex names other characters than the options do \
             apart (a `-` makes a range, a leading `^` is a character); write `\\-` or `\\^`"
        ));
    }
    Ok(())
}

/// Where membership of any of `classes` can change: at the first character
/// of a range and just after its last. Sets that agree at these agree on
/// every character.
fn breakpoints(classes: &[&CharClass]) -> Vec<char> {
    let mut points: Vec<char> = (0..128u8).map(char::from).collect();
    for class in classes {
        for &(lo, hi) in &class.ranges {
            points.push(lo);
            // After the last character before the surrogates comes U+E000.
            match char::from_u32(hi as u32 + 1) {
                Some(next) => points.push(next),
                None if hi < char::MAX => points.push('\u{e000}'),
                None => {}
            }
        }
    }
    points
}

const SPACE: &[(char, char)] = &[('\t', '\r'), (' ', ' ')];
const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const HEX: &[(char, char)] = &[('0', '9'), ('A', 'F'), ('a', 'f')];
const ASCII: &[(char, char)] = &[('\0', '\x7f')];

/// Every character not in `set`, an ASCII set in order: Ruby's `\W`,
/// `\D`, `\S`, `\H` and `[:^xdigit:]` take in every non-ASCII character.
fn complement(set: &[(char, char)]) -> Vec<(char, char)> {
    let mut out = Vec::new();
    let mut next = Some('\0');
    for &(lo, hi) in set {
        if let Some(from) = next
            && from < lo
        {
            out.push((from, char::from_u32(lo as u32 - 1).unwrap_or(from)));
        }
        next = char::from_u32(hi as u32 + 1);
    }
    if let Some(from) = next {
        out.push((from, char::MAX));
    }
    out
}

/// A member of a class: one character (which may begin a range) or a set.
pub enum Member {
    Char(char),
    Set(Vec<(char, char)>),
}

/// Where a class stands between two members, as Onigmo tracks it: whether a
/// `-` that follows begins a range, is a character, or is an error.
#[derive(Clone, Copy)]
enum Pending {
    Start,
    /// A character not yet added: it may begin a range.
    Char(char),
    /// A character and `-`: the range's end comes next.
    Range(char),
    /// A set (`\w`, `[:xdigit:]`) was last.
    Set,
    /// A range was last.
    Complete,
}

/// A cursor over an option's text, shared with `pattern.rs`.
pub struct Reader<'s> {
    spec: &'s str,
    pos: usize,
}

impl<'s> Reader<'s> {
    pub fn new(spec: &'s str) -> Reader<'s> {
        Reader { spec, pos: 0 }
    }

    pub fn next_char(&mut self) -> Option<char> {
        let c = self.rest().chars().next()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn rest(&self) -> &'s str {
        &self.spec[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn error(&self, what: &str) -> String {
        format!("`{}`: {what}", self.spec)
    }

    /// The members of a class. An option (`closed` false) is the body of a
    /// class Logstash closes itself, so it runs to the end of the text and a
    /// `]` inside would end the class early there; in a pattern (`closed`)
    /// the class runs to its `]`, which is consumed.
    pub fn class_body(&mut self, closed: bool) -> Result<CharClass, String> {
        let negated = self.rest().starts_with('^');
        if negated {
            self.pos += 1;
        }
        let mut ranges: Vec<(char, char)> = Vec::new();
        let mut state = Pending::Start;
        loop {
            let at_end = match self.peek() {
                None => true,
                // A `]` first in the class is a character, as in Ruby.
                Some(']') => !matches!(state, Pending::Start),
                Some(_) => false,
            };
            if at_end {
                if closed && self.peek().is_none() {
                    return Err(self.error("a `[` is never closed"));
                }
                if !closed && self.peek().is_some() {
                    return Err(self.error(
                        "a `]` here would end Logstash's character class early; write `\\]`",
                    ));
                }
                self.pos += usize::from(closed);
                break;
            }
            let c = self.next_char().unwrap_or_default();
            let member = match c {
                '-' => match state {
                    Pending::Char(low) if !self.at_class_end(closed) => {
                        state = Pending::Range(low);
                        continue;
                    }
                    Pending::Set if !self.at_class_end(closed) => {
                        return Err(self.error(
                            "a `-` after a class such as `\\w` is refused by Ruby; write `\\-`",
                        ));
                    }
                    _ => Member::Char('-'),
                },
                '[' => Member::Set(self.posix_bracket()?),
                '&' if self.rest().starts_with('&') => {
                    return Err(self.error("class intersection `&&` is not supported"));
                }
                '\\' => self.escape(true)?,
                c => Member::Char(c),
            };
            state = match (member, state) {
                (Member::Char(high), Pending::Range(low)) => {
                    if high < low {
                        return Err(self.error(&format!("range `{low}-{high}` is backwards")));
                    }
                    ranges.push((low, high));
                    Pending::Complete
                }
                (Member::Set(_), Pending::Range(_)) => {
                    return Err(self.error("a class such as `\\w` cannot end a range"));
                }
                (member, held) => {
                    if let Pending::Char(c) = held {
                        ranges.push((c, c));
                    }
                    match member {
                        Member::Char(c) => Pending::Char(c),
                        Member::Set(set) => {
                            ranges.extend(set);
                            Pending::Set
                        }
                    }
                }
            };
        }
        if let Pending::Char(c) = state {
            ranges.push((c, c));
        }
        if ranges.is_empty() {
            // Ruby refuses `[]` and `[^]` when it compiles the regex.
            return Err(self.error("names no characters"));
        }
        Ok(CharClass::from_ranges(ranges, negated))
    }

    /// Whether the class ends right here, so that a `-` just read is a
    /// character.
    fn at_class_end(&self, closed: bool) -> bool {
        match self.peek() {
            None => true,
            Some(']') => closed,
            Some(_) => false,
        }
    }

    /// After a `[` inside a class: a POSIX bracket this reproduces, or an
    /// error naming what Ruby would read there instead of a `[`.
    fn posix_bracket(&mut self) -> Result<Vec<(char, char)>, String> {
        let bracket = self.rest().strip_prefix(':').and_then(|after| {
            let (negated, body) = match after.strip_prefix('^') {
                Some(body) => (true, body),
                None => (false, after),
            };
            let end = body.find(":]")?;
            let name = &body[..end];
            name.bytes()
                .all(|b| b.is_ascii_lowercase())
                .then(|| (negated, name, 1 + (after.len() - body.len()) + end + 2))
        });
        let Some((negated, name, len)) = bracket else {
            return Err(self.error(
                "a `[` inside a class opens a nested class in Logstash's regex, which is not \
                 supported; write `\\[` for the character",
            ));
        };
        let set = match name {
            "ascii" => ASCII,
            "xdigit" => HEX,
            _ => return Err(self.error(&unicode_bracket(name))),
        };
        self.pos += len;
        Ok(if negated {
            complement(set)
        } else {
            set.to_vec()
        })
    }

    /// After a `\`: what Ruby reads the escape as, inside a class or out.
    /// Outside, `\b` is a word boundary rather than a backspace.
    pub fn escape(&mut self, in_class: bool) -> Result<Member, String> {
        let c = self
            .next_char()
            .ok_or_else(|| self.error("ends with a lone `\\`"))?;
        let set = |set: &[(char, char)], negated: bool| {
            Ok(Member::Set(if negated {
                complement(set)
            } else {
                set.to_vec()
            }))
        };
        let char = |c: char| Ok(Member::Char(c));
        match c {
            'w' | 'W' => set(WORD, c == 'W'),
            'd' | 'D' => set(DIGIT, c == 'D'),
            's' | 'S' => set(SPACE, c == 'S'),
            'h' | 'H' => set(HEX, c == 'H'),
            't' => char('\t'),
            'n' => char('\n'),
            'r' => char('\r'),
            'f' => char('\x0c'),
            'v' => char('\x0b'),
            'a' => char('\x07'),
            'e' => char('\x1b'),
            'b' if in_class => char('\x08'),
            '0' => char(char::from_u32(self.digits(8, 2).unwrap_or(0)).unwrap_or('\0')),
            'x' => {
                let value = self
                    .digits(16, 2)
                    .ok_or_else(|| self.error("`\\x` needs one or two hexadecimal digits"))?;
                char(char::from_u32(value).unwrap_or('\0'))
            }
            'u' => self.unicode_escape().map(Member::Char),
            'p' | 'P' => Err(self.error(&format!(
                "`\\{c}` is a Unicode property in Logstash's regex, which is not supported; \
                 list the characters instead"
            ))),
            'c' | 'C' | 'M' => Err(self.error(&format!(
                "the control and meta escapes (`\\{c}...`) are not supported; write `\\xHH`"
            ))),
            'b' | 'B' | 'A' | 'z' | 'Z' | 'G' if !in_class => Err(self.error(&format!(
                "`\\{c}` is an anchor (it matches a position, not a character), which is not supported"
            ))),
            'k' | 'g' | 'K' | 'R' | 'X' if !in_class => Err(self.error(&format!(
                "`\\{c}` is not supported in a split pattern"
            ))),
            '1'..='9' => Err(self.error(&format!(
                "`\\{c}` is a back-reference or an octal escape in Logstash's regex, which is not \
                 supported; write `\\xHH` for a character"
            ))),
            c if c.is_ascii_alphanumeric() => Err(self.error(&format!(
                "`\\{c}` is not a character escape Logstash's regex and this filter agree on; \
                 write `{c}` without the backslash"
            ))),
            other => char(other),
        }
    }

    /// Up to `max` digits in `radix`; `None` if there are none.
    fn digits(&mut self, radix: u32, max: usize) -> Option<u32> {
        let len = self
            .rest()
            .bytes()
            .take(max)
            .take_while(|b| char::from(*b).is_digit(radix))
            .count();
        let value = u32::from_str_radix(&self.rest()[..len], radix).ok()?;
        self.pos += len;
        Some(value)
    }

    /// `\uHHHH` or `\u{H...}` (one code point).
    fn unicode_escape(&mut self) -> Result<char, String> {
        let bad =
            || self.error("`\\u` needs four hexadecimal digits or `{...}` with one code point");
        let (digits, len) = match self.rest().strip_prefix('{') {
            Some(braced) => {
                let end = braced.find('}').ok_or_else(bad)?;
                (&braced[..end], end + 2)
            }
            None => (self.rest().get(..4).ok_or_else(bad)?, 4),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let c = u32::from_str_radix(digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(bad)?;
        self.pos += len;
        Ok(c)
    }
}

/// The refusal of a POSIX bracket other than `ascii` and `xdigit`: Ruby
/// tests non-ASCII characters against Unicode's categories there (`é` is
/// `[:alpha:]`, `—` is `[:punct:]`), so the ASCII part is offered instead.
fn unicode_bracket(name: &str) -> String {
    let ascii = match name {
        "alnum" => "a-zA-Z0-9",
        "alpha" => "a-zA-Z",
        "blank" => " \\t",
        "cntrl" => "\\x00-\\x1f\\x7f",
        "digit" => "\\d",
        "graph" => "!-~",
        "lower" => "a-z",
        "print" => " -~",
        "punct" => "!-/:-@\\[-`{-~",
        "space" => "\\s",
        "upper" => "A-Z",
        "word" => "\\w",
        _ => return format!("`[:{name}:]` is no POSIX bracket Logstash's regex knows"),
    };
    format!(
        "`[:{name}:]` also matches characters beyond ASCII in Logstash's regex (by their Unicode \
         category), which this filter does not reproduce; for ASCII only, write `{ascii}`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(spec: &str) -> String {
        let class = CharClass::parse(spec).unwrap();
        (0..128u8)
            .map(char::from)
            .filter(|&c| class.contains(c))
            .collect()
    }

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

    /// The members Ruby 3.1 gives for `Regexp.new("[#{spec}]")`, among the
    /// ASCII characters, and for a few beyond.
    #[test]
    fn escapes_and_brackets_mean_what_they_mean_in_ruby() {
        assert_eq!(members(r"\h"), "0123456789ABCDEFabcdef");
        assert_eq!(members(r"\W").len(), 65);
        assert_eq!(members(r"\S").len(), 122);
        assert_eq!(members(r"\D").len(), 118);
        assert_eq!(members(r"\H").len(), 106);
        assert_eq!(members(r"\s"), "\t\n\x0b\x0c\r ");
        assert_eq!(members("[:xdigit:]"), members(r"\h"));
        assert_eq!(members("[:ascii:]").len(), 128);
        assert_eq!(members(r"\x41\u0042\u{43}\0101"), "\x081ABC");
        assert_eq!(members(r"\t\n\r\f\v\a\e\b").len(), 8);
        assert_eq!(members(r"\x30-\x32"), "012");
        // `-` first, last or after a range is a character.
        assert_eq!(members("-a"), "-a");
        assert_eq!(members("a-"), "-a");
        assert_eq!(members("a-b-c"), "-abc");
        assert_eq!(members(r"\w-"), members(r"\-\w"));
        // `]` first is a character; `^` first negates.
        assert_eq!(members("]a"), "]a");
        assert_eq!(members("^^").len(), 127);
        for (spec, beyond) in [
            (r"\W", true),
            (r"\S", true),
            (r"\D", true),
            (r"\H", true),
            (r"\w", false),
            ("[:^ascii:]", true),
            ("[:^xdigit:]", true),
            ("^[:ascii:]", true),
        ] {
            let class = CharClass::parse(spec).unwrap();
            assert_eq!(class.contains('é'), beyond, "{spec}");
            assert_eq!(class.contains('\u{10FFFF}'), beyond, "{spec}");
        }
    }

    #[test]
    fn what_ruby_reads_otherwise_is_refused_naming_it() {
        for (spec, named) in [
            ("[:punct:]", "`[:punct:]`"),
            ("[:alpha:]", "a-zA-Z"),
            ("[:^space:]", "`[:space:]`"),
            ("[:nope:]", "no POSIX bracket"),
            (r"\p{P}", r"`\p`"),
            (r"\P{L}", "Unicode property"),
            ("a[bc]", "nested class"),
            ("a&&b", "`&&`"),
            ("a]b", "`\\]`"),
            ("^", "names no characters"),
            (r"\w-a", "`\\-`"),
            (r"a-\w", "cannot end a range"),
            (r"\x", "hexadecimal"),
            (r"\u12", "`\\u`"),
            (r"\cA", "control"),
            (r"\1", "back-reference"),
            (r"\q", "without the backslash"),
            (r"\R", "without the backslash"),
        ] {
            let error = CharClass::parse(spec).err().unwrap_or_default();
            assert!(error.contains(named), "{spec}: {error}");
        }
    }
}
