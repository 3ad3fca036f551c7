//! The parts of the regex dialect that describe single characters: escapes
//! (`\d`, `\xHH`, `\p{Alpha}`) and bracketed classes with ranges, nesting
//! and POSIX names. Split from `parse.rs`, which handles structure.

use super::class::{CharClass, Property};
use super::parse::Parser;

pub(super) enum Escaped {
    Char(char),
    Class(Box<CharClass>),
}

impl Parser<'_, '_, '_> {
    /// An escape that means a character or a class, valid inside `[...]` too.
    pub(super) fn class_escape(&mut self) -> Result<Escaped, String> {
        let c = self.next_char()?;
        let class = |test: fn(u8) -> bool, negated: bool| {
            let mut class = CharClass::new();
            class.add_ascii_if(test);
            Escaped::Class(Box::new(class.negate_if(negated)))
        };
        Ok(match c {
            'd' | 'D' => class(|b| b.is_ascii_digit(), c == 'D'),
            'w' | 'W' => class(|b| b.is_ascii_alphanumeric() || b == b'_', c == 'W'),
            's' | 'S' => class(|b| matches!(b, b' ' | b'\t'..=b'\r'), c == 'S'),
            'h' | 'H' => class(|b| b.is_ascii_hexdigit(), c == 'H'),
            'p' | 'P' => {
                let (class, negated) = self.property(c == 'P')?;
                Escaped::Class(Box::new(class.negate_if(negated)))
            }
            'c' | 'C' | 'M' => {
                self.pos -= 2;
                return Err(self.error(
                    "control and meta escapes (`\\cA`, `\\C-a`, `\\M-a`) are not supported",
                ));
            }
            'n' => Escaped::Char('\n'),
            't' => Escaped::Char('\t'),
            'r' => Escaped::Char('\r'),
            'f' => Escaped::Char('\x0C'),
            'v' => Escaped::Char('\x0B'),
            'a' => Escaped::Char('\x07'),
            'e' => Escaped::Char('\x1B'),
            '0' => Escaped::Char(self.octal_escape(2)?),
            'x' => {
                if self.rest().starts_with('{') {
                    // Ruby (MRI and JRuby, so Logstash) refuses `\x{...}`.
                    self.pos -= 2;
                    return Err(self.error("`\\x{...}` is not Ruby's (write `\\u{...}`)"));
                }
                let len = self.rest().bytes().take(2);
                let len = len.take_while(u8::is_ascii_hexdigit).count();
                let value = u32::from_str_radix(&self.rest()[..len], 16)
                    .map_err(|_| self.error("invalid hex escape"))?;
                if value > 0x7F {
                    return Err(self.error(
                        "a `\\x` escape above `\\x7F` (a byte of a multibyte character) is not supported",
                    ));
                }
                self.pos += len;
                Escaped::Char(char::from(value as u8))
            }
            'u' => {
                let (digits, len) = match self.rest().strip_prefix('{') {
                    Some(braced) => {
                        let end = braced
                            .find('}')
                            .ok_or_else(|| self.error("invalid Unicode escape"))?;
                        let digits = braced[..end].trim_matches(' ');
                        if digits.contains(' ') {
                            return Err(
                                self.error("a list of code points in `\\u{...}` is not supported")
                            );
                        }
                        let valid = (1..=6).contains(&digits.len())
                            && digits.bytes().all(|b| b.is_ascii_hexdigit());
                        (valid.then_some(digits), end + 2)
                    }
                    None => {
                        let digits = self
                            .rest()
                            .get(..4)
                            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
                        (digits, 4)
                    }
                };
                let c = digits
                    .and_then(|d| u32::from_str_radix(d, 16).ok())
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.error("invalid Unicode escape"))?;
                self.pos += len;
                Escaped::Char(c)
            }
            c => Escaped::Char(c),
        })
    }

    /// Up to `most` octal digits at the position (none is `\0`), the
    /// character they give. Past `\377` Ruby refuses the escape; from
    /// `\200` it is one byte of a multibyte character (`\303\251` is
    /// `é`), which is not supported here rather than read as another
    /// character.
    pub(super) fn octal_escape(&mut self, most: usize) -> Result<char, String> {
        let at = self.pos;
        let digits = self.rest().bytes().take(most);
        let len = digits.take_while(|b| (b'0'..=b'7').contains(b)).count();
        let value = u32::from_str_radix(&self.rest()[..len], 8).unwrap_or(0);
        if value > 0xFF {
            return Err(self.error("invalid escape code"));
        }
        if value > 0x7F {
            return Err(self.error(
                "an octal escape above `\\177` (a byte of a multibyte character) is not supported",
            ));
        }
        self.pos = at + len;
        Ok(char::from(value as u8))
    }

    /// After `\p` or `\P` (`negated`): the property's class, not yet
    /// negated, and whether it is to be.
    pub(super) fn property(&mut self, negated: bool) -> Result<(CharClass, bool), String> {
        if !self.eat("{") {
            return Err(self.error("invalid character property"));
        }
        let end = self
            .rest()
            .find('}')
            .ok_or_else(|| self.error("unterminated \\p{"))?;
        // A `^` right after the brace negates it; the name after is read
        // without case, spaces, `_` or `-`, as Onigmo reads `\p{X_Digit}`
        // as `\p{xdigit}` (but refuses `\p{ ^Upper}`).
        let written = &self.rest()[..end];
        let (negated, written) = match written.strip_prefix('^') {
            Some(name) => (!negated, name),
            None => (negated, written),
        };
        let name: String = (written.chars())
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        self.pos += end + 1;
        let property = Property::from_posix_name(&name)
            .ok_or_else(|| self.error(&format!("unsupported character property `{name}`")))?;
        let mut class = CharClass::new();
        class.add_property(property, false);
        if property == Property::Punct {
            // Onigmo's `\p{Punct}` is Unicode's P alone; only the bracket
            // adds POSIX's ASCII symbols.
            class.remove_ascii(b"$+<=>^`|~");
        }
        Ok((class, negated))
    }

    /// After `[`: the class up to the closing `]`, read as Onigmo reads it.
    pub(super) fn class_body(&mut self) -> Result<CharClass, String> {
        let (mut class, negated) = self.class_members()?;
        // Under `(?i)`, once, over the union of the members: a nested
        // class is negated unfolded, so `(?i)[^a[^b]]` matches nothing
        // (Onigmo, and JRuby's Joni; folding each nested class on its own
        // made it match `B`).
        if self.flags.ignore_case {
            class.fold_ascii_case();
        }
        Ok(class.negate_if(negated))
    }

    /// A class's members up to its `]`, unfolded, and whether it is
    /// negated; a nested class among them with its own negation applied.
    /// A character waits (`pending`) until what follows says whether it
    /// begins a range; a nested class leaves it waiting, so `[x[a]-z]`
    /// holds `x-z`. A `-` after a class escape or a POSIX bracket is
    /// refused unless it ends the class, and a class after `a-` too.
    fn class_members(&mut self) -> Result<(CharClass, bool), String> {
        let open = self.pos - 1;
        let negated = self.eat("^");
        let mut class = CharClass::new();
        let mut state = Pending::Start;
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                self.pos = open;
                return Err(self.error("premature end of char-class"));
            };
            if c == ']' && !first {
                self.pos += 1;
                if let Pending::Char(c) = state {
                    class.add_range(c, c);
                }
                break;
            }
            first = false;
            if self.rest().starts_with("&&") {
                return Err(self.error("class intersection `&&` is not supported"));
            }
            let at = self.pos;
            let member = if c == '-'
                && matches!(state, Pending::Char(_) | Pending::Class | Pending::Complete)
            {
                self.pos += 1;
                match state {
                    // `[a-]`, `[\w-]`, and `[a-b-c]`: a character.
                    _ if self.peek() == Some(']') => Escaped::Char('-'),
                    Pending::Complete => Escaped::Char('-'),
                    Pending::Char(low) => {
                        state = Pending::Range(low);
                        continue;
                    }
                    _ => {
                        self.pos = at;
                        return Err(self.error("unmatched range specifier in char-class"));
                    }
                }
            } else if c == '[' {
                match self.posix_bracket()? {
                    Some(Bracket::Class(property, negated)) => {
                        let mut posix = CharClass::new();
                        posix.add_property(property, negated);
                        Escaped::Class(Box::new(posix))
                    }
                    Some(Bracket::Char) => Escaped::Char('['),
                    None => {
                        if let Pending::Range(_) = state {
                            return Err(self.error("char-class value at end of range"));
                        }
                        self.enter_level(self.pos)?;
                        self.pos += 1;
                        let nested = self.class_members();
                        self.leave_level();
                        let (nested, nested_negated) = nested?;
                        class.add_class(&nested.negate_if(nested_negated));
                        continue;
                    }
                }
            } else {
                self.class_atom()?
            };
            state = match (member, state) {
                (Escaped::Char(high), Pending::Range(low)) => {
                    if high < low {
                        return Err(self.error("empty range in char class"));
                    }
                    class.add_range(low, high);
                    Pending::Complete
                }
                (Escaped::Class(_), Pending::Range(_)) => {
                    self.pos = at;
                    return Err(self.error("char-class value at end of range"));
                }
                (member, held) => {
                    if let Pending::Char(c) = held {
                        class.add_range(c, c);
                    }
                    match member {
                        Escaped::Char(c) => Pending::Char(c),
                        Escaped::Class(members) => {
                            class.add_class(&members);
                            Pending::Class
                        }
                    }
                }
            };
        }
        Ok((class, negated))
    }

    /// At a `[` inside a class: a POSIX bracket (`[:alpha:]`), a `[` that
    /// is a character, or `None` for a nested class. Onigmo reads a bracket
    /// when a `:]` comes before the next unescaped `]`; one naming no class
    /// is an error if its `:]` follows within twenty characters with no `:`
    /// between, and otherwise makes the `[` a character.
    fn posix_bracket(&mut self) -> Result<Option<Bracket>, String> {
        let Some(after) = self.rest().strip_prefix("[:") else {
            return Ok(None);
        };
        match read_bracket(after) {
            BracketRead::Nested => Ok(None),
            BracketRead::Invalid => Err(self.error("invalid POSIX bracket type")),
            BracketRead::Char => {
                self.pos += 1;
                Ok(Some(Bracket::Char))
            }
            BracketRead::Class(property, negated, len) => {
                self.pos += len;
                Ok(Some(Bracket::Class(property, negated)))
            }
        }
    }

    /// A member after `[` other than a nested class: an escape or a
    /// character. Inside a class, `\b` is a backspace and `\1` to `\7` begin
    /// an octal escape, as in Ruby.
    fn class_atom(&mut self) -> Result<Escaped, String> {
        if !self.eat("\\") {
            return Ok(Escaped::Char(self.next_char()?));
        }
        match self.peek() {
            Some('b') => {
                self.pos += 1;
                Ok(Escaped::Char('\u{8}'))
            }
            Some('1'..='7') => Ok(Escaped::Char(self.octal_escape(3)?)),
            _ => self.class_escape(),
        }
    }
}

/// Where a class stands between two members (Onigmo's `CCSTATE`).
#[derive(Clone, Copy)]
enum Pending {
    Start,
    /// A character not yet added: it may begin a range.
    Char(char),
    /// A class escape or POSIX bracket was last.
    Class,
    /// A character and `-`: the range's end comes next.
    Range(char),
    /// A range was last.
    Complete,
}

enum Bracket {
    Class(Property, bool),
    Char,
}

/// Onigmo's POSIX bracket names, in the order it tries them as prefixes.
const POSIX_NAMES: [&str; 14] = [
    "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space",
    "upper", "xdigit", "word", "ascii",
];

enum BracketRead {
    Nested,
    Invalid,
    Char,
    /// The class, whether negated, and the bracket's length in bytes.
    Class(Property, bool, usize),
}

/// Reads what follows `[:` inside a class (see `posix_bracket`).
fn read_bracket(after: &str) -> BracketRead {
    if !closes_as_bracket(after) {
        return BracketRead::Nested;
    }
    let (negated, body) = match after.strip_prefix('^') {
        Some(body) => (true, body),
        None => (false, after),
    };
    if let Some(name) = POSIX_NAMES.iter().find(|name| body.starts_with(**name)) {
        if !body[name.len()..].starts_with(":]") {
            return BracketRead::Invalid;
        }
        let property = Property::from_posix_name(name).expect("a POSIX name");
        let len = 2 + (after.len() - body.len()) + name.len() + 2;
        return BracketRead::Class(property, negated, len);
    }
    // Up to twenty characters, then `:]`.
    let colon = body
        .char_indices()
        .take(21)
        .find(|&(_, c)| c == ':' || c == ']');
    match colon {
        Some((at, _)) if body[at..].starts_with(":]") => BracketRead::Invalid,
        _ => BracketRead::Char,
    }
}

/// Whether a `:]` comes in `text` before an unescaped `]`.
fn closes_as_bracket(text: &str) -> bool {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            ':' if chars.as_str().starts_with(']') => return true,
            ']' => return false,
            _ => {}
        }
    }
    false
}
