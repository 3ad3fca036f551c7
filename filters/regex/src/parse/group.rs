//! Groups: plain, named, atomic, lookaround and option groups, and the
//! names Onigmo accepts for a group. Split from `parse.rs`, which handles
//! the rest of the structure.

use super::super::class::is_decimal_digit;
use super::{Node, Parser, is_option};

impl Parser<'_, '_, '_> {
    pub(super) fn group(&mut self, start: usize) -> Result<Node, String> {
        self.enter_level(start)?;
        let node = self.group_body(start);
        self.leave_level();
        node
    }

    fn group_body(&mut self, start: usize) -> Result<Node, String> {
        let saved = self.flags;
        // (A comment `(?#...)` never gets here: it is skipped as nothing.)
        let node = if self.eat("?") {
            if self.eat(":") {
                self.alternation()?
            } else if self.eat(">") {
                Node::Atomic(Box::new(self.alternation()?))
            } else if self.eat("=") {
                self.look(false, false)?
            } else if self.eat("!") {
                self.look(false, true)?
            } else if self.eat("<=") {
                self.look(true, false)?
            } else if self.eat("<!") {
                self.look(true, true)?
            } else if self.eat("<") || self.eat("'") {
                let close = if self.src[..self.pos].ends_with('<') {
                    '>'
                } else {
                    '\''
                };
                let name = self.group_name(close)?;
                let index = self.new_group(&name);
                Node::Capture(index, Box::new(self.alternation()?))
            } else if self.rest().starts_with('(') || self.rest().starts_with('~') {
                let feature = if self.rest().starts_with('(') {
                    "conditional groups `(?(cond)yes|no)` are not supported"
                } else {
                    "the absence operator `(?~...)` is not supported"
                };
                self.pos = start;
                return Err(self.error(feature));
            } else {
                let spec: String = self.rest().chars().take_while(|&c| is_option(c)).collect();
                if spec.is_empty() || !self.rest()[spec.len()..].starts_with(':') {
                    self.pos = start;
                    return Err(self.error("undefined group option"));
                }
                self.flags = self.apply_flags(&spec)?;
                self.pos += spec.len() + 1;
                self.alternation()?
            }
        } else if self.shared.plain_groups_capture {
            let index = self.shared.group_count;
            self.shared.group_count += 1;
            Node::Capture(index, Box::new(self.alternation()?))
        } else {
            // Oniguruma: with named groups about, plain groups do not capture,
            // and grok patterns only ever read named groups.
            self.shared.plain_groups += 1;
            self.alternation()?
        };
        self.flags = saved;
        if !self.eat(")") {
            self.pos = start;
            return Err(self.error("end pattern with unmatched parenthesis"));
        }
        Ok(node)
    }

    fn look(&mut self, behind: bool, negative: bool) -> Result<Node, String> {
        let start = self.pos;
        let (groups, plain_groups) = (self.shared.group_count, self.shared.plain_groups);
        let node = self.alternation()?;
        // Onigmo refuses it: what a capture there held would be read from
        // a match that, by the look-behind's success, did not happen.
        if behind && negative {
            if self.shared.group_count > groups {
                self.pos = start;
                return Err(self.error(super::CAPTURE_BEHIND));
            }
            if self.shared.plain_groups > plain_groups {
                self.shared.plain_group_behind.get_or_insert(start);
            }
        }
        Ok(Node::Look {
            behind,
            negative,
            node: Box::new(node),
        })
    }

    pub(super) fn new_group(&mut self, name: &str) -> usize {
        let index = self.shared.group_count;
        self.shared.group_count += 1;
        let shared = &mut *self.shared;
        match shared.name_places.get(name) {
            Some(&place) => shared.names[place].1.push(index),
            None => {
                shared
                    .name_places
                    .insert(name.to_string(), shared.names.len());
                shared.names.push((name.to_string(), vec![index]));
            }
        }
        index
    }

    /// A group's name, up to `close`, as Onigmo takes it: anything but a
    /// first character that is a digit or `-` (there Onigmo reads a number
    /// for a reference), or a `)` after the first (where it stops reading).
    /// Grok's field names, `[a][b]` or `@x.y`, are all valid.
    fn group_name(&mut self, close: char) -> Result<String, String> {
        let end = self
            .rest()
            .find(close)
            .ok_or_else(|| self.error("unterminated group name"))?;
        let name = &self.rest()[..end];
        let Some(first) = name.chars().next() else {
            return Err(self.error("group name is empty"));
        };
        if is_decimal_digit(first) || first == '-' || name[first.len_utf8()..].contains(')') {
            return Err(self.error(&format!("invalid group name <{name}>")));
        }
        let name = name.to_string();
        self.pos += end + 1;
        Ok(name)
    }
}
