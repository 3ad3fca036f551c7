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
            Escaped::Class(Box::new(if negated { class.negate() } else { class }))
        };
        Ok(match c {
            'd' | 'D' => class(|b| b.is_ascii_digit(), c == 'D'),
            'w' | 'W' => class(|b| b.is_ascii_alphanumeric() || b == b'_', c == 'W'),
            's' | 'S' => class(|b| matches!(b, b' ' | b'\t'..=b'\r'), c == 'S'),
            'h' | 'H' => class(|b| b.is_ascii_hexdigit(), c == 'H'),
            'p' | 'P' => Escaped::Class(Box::new(self.property(c == 'P')?)),
            'n' => Escaped::Char('\n'),
            't' => Escaped::Char('\t'),
            'r' => Escaped::Char('\r'),
            'f' => Escaped::Char('\x0C'),
            'v' => Escaped::Char('\x0B'),
            'a' => Escaped::Char('\x07'),
            'e' => Escaped::Char('\x1B'),
            '0' => {
                let digits: String = self
                    .rest()
                    .chars()
                    .take(2)
                    .take_while(|c| c.is_digit(8))
                    .collect();
                self.pos += digits.len();
                Escaped::Char(char::from(u8::from_str_radix(&digits, 8).unwrap_or(0)))
            }
            'x' => {
                let (value, len) = if self.rest().starts_with('{') {
                    let end = self
                        .rest()
                        .find('}')
                        .ok_or_else(|| self.error("bad \\x{}"))?;
                    (u32::from_str_radix(&self.rest()[1..end], 16).ok(), end + 1)
                } else {
                    let digits: String = self
                        .rest()
                        .chars()
                        .take(2)
                        .take_while(|c| c.is_ascii_hexdigit())
                        .collect();
                    (u32::from_str_radix(&digits, 16).ok(), digits.len())
                };
                let c = value
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.error("invalid hexadecimal escape"))?;
                self.pos += len;
                Escaped::Char(c)
            }
            'u' => {
                let digits = self.rest().get(..4).unwrap_or("");
                let c = u32::from_str_radix(digits, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.error("invalid \\u escape"))?;
                self.pos += 4;
                Escaped::Char(c)
            }
            c => Escaped::Char(c),
        })
    }

    fn property(&mut self, negated: bool) -> Result<CharClass, String> {
        if !self.eat("{") {
            return Err(self.error("invalid character property"));
        }
        let end = self
            .rest()
            .find('}')
            .ok_or_else(|| self.error("unterminated \\p{"))?;
        let mut name = self.rest()[..end].to_ascii_lowercase();
        self.pos += end + 1;
        let mut negated = negated;
        if let Some(rest) = name.strip_prefix('^') {
            negated = !negated;
            name = rest.to_string();
        }
        let property = Property::from_posix_name(&name)
            .ok_or_else(|| self.error(&format!("unsupported character property `{name}`")))?;
        let mut class = CharClass::new();
        class.add_property(property, false);
        Ok(if negated { class.negate() } else { class })
    }

    /// After `[`: the members up to the closing `]`.
    pub(super) fn class_body(&mut self) -> Result<CharClass, String> {
        let open = self.pos - 1;
        let negated = self.eat("^");
        let mut class = CharClass::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                self.pos = open;
                return Err(self.error("premature end of char-class"));
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if self.rest().starts_with("&&") {
                return Err(self.error("class intersection `&&` is not supported"));
            }
            // The name's closing `:]` comes after its opening `[:`, which
            // may itself be the `:` of one (`[:]` is a class holding `:`).
            if self.rest().starts_with("[:")
                && let Some(end) = self.rest()[2..].find(":]").map(|at| at + 2)
            {
                let mut name = &self.rest()[2..end];
                let negated = name.starts_with('^');
                if negated {
                    name = &name[1..];
                }
                if let Some(property) = Property::from_posix_name(name) {
                    self.pos += end + 2;
                    class.add_property(property, negated);
                    continue;
                }
            }
            if c == '[' {
                self.enter_level(self.pos)?;
                self.pos += 1;
                let nested = self.class_body();
                self.leave_level();
                class.add_class(&nested?);
                continue;
            }
            let low = match self.class_atom()? {
                Escaped::Class(nested) => {
                    class.add_class(&nested);
                    continue;
                }
                Escaped::Char(c) => c,
            };
            // A range, unless `-` is last or followed by a class escape.
            if self.rest().starts_with('-')
                && !self.rest()[1..].starts_with(']')
                && self.rest().len() > 1
            {
                let save = self.pos;
                self.pos += 1;
                match self.class_atom()? {
                    Escaped::Char(high) => {
                        if high < low {
                            return Err(self.error("empty range in char class"));
                        }
                        class.add_range(low, high);
                        continue;
                    }
                    Escaped::Class(_) => self.pos = save,
                }
            }
            class.add_range(low, low);
        }
        if self.flags.ignore_case {
            class.fold_ascii_case();
        }
        Ok(if negated { class.negate() } else { class })
    }

    fn class_atom(&mut self) -> Result<Escaped, String> {
        if self.eat("\\") {
            self.class_escape()
        } else {
            Ok(Escaped::Char(self.next_char()?))
        }
    }
}
