//! Parses the Oniguruma/Ruby regex dialect of grok patterns into a syntax tree.
//!
//! Grok's `%{NAME}` references are part of the dialect here: the parser asks a
//! [`Resolver`] for the referenced pattern's text and parses it in place, as a
//! group. That is what jls-grok does by splicing text, but an error can then
//! name the pattern and the position inside it where it occurred.

use std::collections::HashMap;

use super::class::CharClass;
use super::parse_class::Escaped;

mod case_fold;
mod group;
mod reference;
mod repeat;

pub use reference::is_reference_name_byte;
use repeat::{interval, repeat};

/// What Ruby's grok splices in for `%{NAME:field}`: the pattern's regex text
/// and, when the reference captures, the group name to capture under.
pub struct Splice {
    pub regex: String,
    pub capture_as: Option<String>,
    /// Where the pattern was defined, when that is worth saying in an
    /// error met inside it (a file or a config the user wrote).
    pub defined_in: Option<String>,
}

/// Looks up `%{...}` references while parsing.
pub trait Resolver {
    /// `name` is the pattern name, `semantic` what follows the first `:`
    /// (`field` or `field:int`), `definition` an inline `=regex`.
    fn resolve(
        &mut self,
        name: &str,
        semantic: Option<&str>,
        definition: Option<&str>,
    ) -> Result<Splice, String>;

    /// Whether `%{...}` is a reference at all; where it is not, as in a
    /// plain Ruby regex, it is text.
    fn expands_references(&self) -> bool {
        true
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assertion {
    LineStart,
    LineEnd,
    TextStart,
    TextEnd,
    /// `\Z`: the end, or before a final newline.
    TextEndNewline,
    WordBoundary,
    NotWordBoundary,
}

#[derive(Clone, Debug)]
pub enum Node {
    Empty,
    Class(CharClass),
    /// A literal character (kept apart from classes so literals can be merged).
    Char(char),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Capture(usize, Box<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
        greedy: bool,
    },
    Atomic(Box<Node>),
    Look {
        behind: bool,
        negative: bool,
        node: Box<Node>,
    },
    Assert(Assertion),
}

/// The parsed pattern: its tree and its named groups.
pub struct Parsed {
    pub node: Node,
    /// Group names in order of first appearance, each with its group indices
    /// in order (Ruby's `Regexp#named_captures`).
    pub names: Vec<(String, Vec<usize>)>,
    pub group_count: usize,
}

/// Onigmo's refusal of a capture where nothing can be captured.
pub(super) const CAPTURE_BEHIND: &str =
    "invalid pattern in look-behind: a negative look-behind may not hold a capture";

/// Deep `%{}` nesting is refused rather than allowed to exhaust the stack.
const MAX_DEPTH: usize = 200;
/// Groups, nested classes, stacked repeats (`a{1}{1}`) and `%{}`
/// expansions nested deeper than this are refused: the parser and the
/// compiler recurse once per level, and in WebAssembly a pattern some 500
/// levels deep would overflow the filter's stack, a trap that names no
/// pattern.
const MAX_NESTING: usize = 300;
/// Most pattern text one expression may expand to, and most `%{}`
/// references expanded in it (the standard patterns' largest use a few
/// hundred). Definitions that each use the one before twice double at every
/// level; twenty levels are a million copies, which would exhaust the
/// filter's memory with a message naming no pattern.
const MAX_EXPANDED_BYTES: usize = 1 << 20;
const MAX_EXPANSIONS: usize = 10_000;
/// Counted repetition above this is refused, as Oniguruma does (100,000).
pub const MAX_REPEAT: u32 = 100_000;

#[derive(Clone, Copy)]
pub(super) struct Flags {
    pub(super) ignore_case: bool,
    dot_all: bool,
    extended: bool,
}

struct Shared<'r> {
    resolver: &'r mut dyn Resolver,
    names: Vec<(String, Vec<usize>)>,
    /// Where each name is in `names`: grok patterns may name tens of
    /// thousands of groups, and a search of the list per group made
    /// parsing quadratic.
    name_places: HashMap<String, usize>,
    group_count: usize,
    /// Plain groups that do not capture: Onigmo still counts them when it
    /// decides whether `\10` is a backreference or an octal escape.
    plain_groups: usize,
    /// Where a negative look-behind holding a plain group starts: Onigmo
    /// refuses one that captures, and a plain group does capture in Ruby
    /// when the pattern names none, which is known only at its end.
    plain_group_behind: Option<usize>,
    /// Whether a plain `(...)` captures: in grok never (its patterns read
    /// only named groups), for a replace as in Ruby (see `parse_with`).
    plain_groups_capture: bool,
    /// Patterns being expanded, to refuse recursion.
    expanding: Vec<String>,
    /// Levels open around the parser's position (groups, nested classes,
    /// stacked repeats), in this pattern and the ones it is expanded within.
    nesting: usize,
    /// Bytes of pattern text parsed so far, expansions included, and how
    /// many `%{}` references were expanded.
    expanded_bytes: usize,
    expansions: usize,
}

pub(super) struct Parser<'s, 'r, 'x> {
    src: &'s str,
    pub(super) pos: usize,
    pub(super) flags: Flags,
    shared: &'x mut Shared<'r>,
}

/// Parses `pattern`, expanding `%{...}` through `resolver`. Grok compiles with
/// Ruby's MULTILINE option, so `.` matches a newline unless `(?-m)` says not.
pub fn parse(pattern: &str, resolver: &mut dyn Resolver) -> Result<Parsed, String> {
    parse_with(pattern, resolver, false, true)
}

/// [`parse`], saying whether plain groups capture (numbered in order with
/// the named ones) and whether `.` matches a newline.
pub fn parse_with(
    pattern: &str,
    resolver: &mut dyn Resolver,
    plain_groups_capture: bool,
    dot_all: bool,
) -> Result<Parsed, String> {
    let mut shared = Shared {
        resolver,
        names: Vec::new(),
        name_places: HashMap::new(),
        group_count: 0,
        plain_groups: 0,
        plain_group_behind: None,
        plain_groups_capture,
        expanding: Vec::new(),
        nesting: 0,
        expanded_bytes: pattern.len(),
        expansions: 0,
    };
    let flags = Flags {
        ignore_case: false,
        dot_all,
        extended: false,
    };
    let node = parse_source(pattern, flags, &mut shared)?;
    if let Some(at) = shared
        .plain_group_behind
        .filter(|_| shared.names.is_empty())
    {
        return Err(format!("{CAPTURE_BEHIND} at position {at}"));
    }
    Ok(Parsed {
        node,
        names: shared.names,
        group_count: shared.group_count,
    })
}

fn parse_source(src: &str, flags: Flags, shared: &mut Shared) -> Result<Node, String> {
    let mut parser = Parser {
        src,
        pos: 0,
        flags,
        shared,
    };
    let node = parser.alternation()?;
    if parser.pos < src.len() {
        return Err(parser.error("unmatched `)`"));
    }
    Ok(node)
}

impl Parser<'_, '_, '_> {
    pub(super) fn error(&self, message: &str) -> String {
        format!("{message} at position {}", self.pos)
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    pub(super) fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    pub(super) fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    pub(super) fn next_char(&mut self) -> Result<char, String> {
        let c = self.peek().ok_or_else(|| self.error("unexpected end"))?;
        self.pos += c.len_utf8();
        Ok(c)
    }

    /// Alternatives up to the end of the group. An option on its own,
    /// `(?i)`, holds to the end of its group and takes in the alternatives
    /// after it, as Onigmo reads it: `a(?i)b|c` is `a(?i:b|c)`, and
    /// `x|a(?i)b|c(?m)d|e` is `x|a(?i:b|c(?m:d|e))`. The flags are the
    /// parser's from the option on; the tree is built here, from the last
    /// branch back, without a call per option (a pattern may hold
    /// thousands), each branch that ends in such a scope holding all that
    /// follow it as one level more of nesting.
    fn alternation(&mut self) -> Result<Node, String> {
        let outside = self.shared.nesting;
        let mut branches = vec![self.concatenation()?];
        while self.eat("|") {
            if branches.last().is_some_and(|(_, scope)| scope.is_some()) {
                self.enter_level(self.pos - 1)?;
            }
            branches.push(self.concatenation()?);
        }
        self.shared.nesting = outside;
        let mut later = std::collections::VecDeque::new();
        for (mut items, scope) in branches.into_iter().rev() {
            if let Some(start) = scope.filter(|_| !later.is_empty()) {
                let mut options = vec![sequence(items.split_off(start))];
                options.extend(later.drain(..));
                items.push(Node::Alt(options));
            }
            later.push_front(sequence(items));
        }
        Ok(match later.len() {
            1 => later.pop_front().expect("one branch"),
            _ => Node::Alt(later.into()),
        })
    }

    /// A branch's items, and where the scope of its last option on its own
    /// (`(?i)`) begins among them, if it has one.
    fn concatenation(&mut self) -> Result<(Vec<Node>, Option<usize>), String> {
        let mut items = Vec::new();
        let mut scope = None;
        loop {
            self.skip_ignored()?;
            match self.peek() {
                None | Some('|') | Some(')') => break,
                _ => {}
            }
            if let Some(flags) = self.bare_flag_group()? {
                self.flags = flags;
                scope = Some(items.len());
                continue;
            }
            let atom = self.atom()?;
            let atom = self.quantifiers(atom)?;
            items.push(atom);
        }
        Ok((items, scope))
    }

    /// Steps over what Onigmo reads as nothing: comments `(?#...)`
    /// anywhere, and under `(?x)` whitespace and `#` to the line's end. A
    /// quantifier after them repeats the atom before them (`a(?#x)*`).
    fn skip_ignored(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(c) if self.flags.extended && c.is_ascii_whitespace() => self.pos += 1,
                Some('#') if self.flags.extended => {
                    let end = self
                        .rest()
                        .find('\n')
                        .map_or(self.src.len(), |i| self.pos + i);
                    self.pos = end;
                }
                Some('(') if self.rest().starts_with("(?#") => self.comment()?,
                _ => return Ok(()),
            }
        }
    }

    /// `(?#...)`, which a backslash keeps open past a `)`.
    fn comment(&mut self) -> Result<(), String> {
        let start = self.pos;
        let mut chars = self.rest()[3..].char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                ')' => {
                    self.pos += 3 + at + 1;
                    return Ok(());
                }
                '\\' => {
                    chars.next();
                }
                _ => {}
            }
        }
        self.pos = start;
        Err(self.error("end pattern in group (an unterminated comment)"))
    }

    /// `(?imx-imx)` on its own: returns the new flags.
    fn bare_flag_group(&mut self) -> Result<Option<Flags>, String> {
        let rest = self.rest();
        if !rest.starts_with("(?") {
            return Ok(None);
        }
        let body: String = rest[2..].chars().take_while(|&c| is_option(c)).collect();
        if body.is_empty() || !rest[2 + body.len()..].starts_with(')') {
            return Ok(None);
        }
        let flags = self.apply_flags(&body)?;
        self.pos += 3 + body.len();
        Ok(Some(flags))
    }

    fn apply_flags(&self, spec: &str) -> Result<Flags, String> {
        let mut flags = self.flags;
        let mut on = true;
        for c in spec.chars() {
            match c {
                '-' => on = false,
                'i' => flags.ignore_case = on,
                'm' => flags.dot_all = on,
                'x' => flags.extended = on,
                // Ruby's character-set options, only ever turned on: `d`
                // is its default, the one this engine follows.
                'd' | 'a' | 'u' if !on => return Err(self.error("undefined group option")),
                'd' => {}
                'a' | 'u' => {
                    return Err(self.error(&format!(
                        "Ruby's option `(?{c})` ({} meanings of \\w \\d \\s \\b and the POSIX \
                         brackets) is not supported; without it they have Ruby's default (`(?d)`) \
                         meanings",
                        if c == 'a' { "ASCII" } else { "Unicode" }
                    )));
                }
                _ => return Err(self.error(&format!("unknown option `{c}`"))),
            }
        }
        Ok(flags)
    }

    fn quantifiers(&mut self, atom: Node) -> Result<Node, String> {
        let outside = self.shared.nesting;
        let node = self.stacked_quantifiers(atom);
        self.shared.nesting = outside;
        node
    }

    /// Each repeat wraps the node before it, one level deeper.
    fn stacked_quantifiers(&mut self, mut atom: Node) -> Result<Node, String> {
        loop {
            self.skip_ignored()?;
            let (min, max, interval, fixed) = match self.peek() {
                Some('*') => (0, None, false, false),
                Some('+') => (1, None, false, false),
                Some('?') => (0, Some(1), false, false),
                Some('{') => match interval(self.rest()) {
                    Some((min, max, len)) => {
                        if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
                            return Err(self.error("repeat count too large"));
                        }
                        if max.is_some_and(|m| m < min) {
                            return Err(self.error("upper bound below lower bound"));
                        }
                        let fixed = !self.rest()[..len].contains(',');
                        self.pos += len - 1;
                        (min, max, true, fixed)
                    }
                    None => return Ok(atom),
                },
                _ => return Ok(atom),
            };
            self.enter_level(self.pos)?;
            self.pos += 1;
            let mut greedy = true;
            let mut possessive = false;
            // Ruby: `a{2}?` is `(?:a{2})?`, the `?` a quantifier of its own
            // (Onigmo's FIXED_INTERVAL_IS_GREEDY_ONLY); `a{2,}?` is lazy.
            if !fixed && self.eat("?") {
                greedy = false;
            } else if !interval && self.eat("+") {
                // Ruby: `a*+` is possessive, but `a{1,2}+` is `(a{1,2})+`.
                possessive = true;
            }
            atom = repeat(atom, min, max, greedy);
            if possessive {
                atom = Node::Atomic(Box::new(atom));
            }
        }
    }

    fn atom(&mut self) -> Result<Node, String> {
        let start = self.pos;
        let c = self.next_char()?;
        Ok(match c {
            '(' => self.group(start)?,
            '[' => Node::Class(self.class_body()?),
            '.' => Node::Class(if self.flags.dot_all {
                CharClass::any()
            } else {
                CharClass::single('\n').negate()
            }),
            '^' => Node::Assert(Assertion::LineStart),
            '$' => Node::Assert(Assertion::LineEnd),
            '\\' => self.escape()?,
            '%' if self.peek() == Some('{') && self.shared.resolver.expands_references() => {
                match self.grok_reference()? {
                    Some(node) => node,
                    None => self.literal('%'),
                }
            }
            '*' | '+' | '?' => {
                self.pos = start;
                return Err(self.error("target of repeat operator is not specified"));
            }
            // A count with nothing before it to repeat; any other `{` is
            // a literal, as after an atom.
            '{' if interval(&self.src[start..]).is_some() => {
                self.pos = start;
                return Err(self.error("target of repeat operator is not specified"));
            }
            c => self.literal(c),
        })
    }

    pub(super) fn literal(&self, c: char) -> Node {
        if !self.flags.ignore_case {
            return Node::Char(c);
        }
        let mut class = CharClass::single(c);
        for other in case_fold::case_variants(c) {
            class.add_range(other, other);
        }
        if class.is_single() {
            Node::Char(c)
        } else {
            Node::Class(class)
        }
    }

    /// Opens one more level of nesting at `at`, refused past [`MAX_NESTING`];
    /// the caller closes it (`nesting -= 1`) when the level ends.
    pub(super) fn enter_level(&mut self, at: usize) -> Result<(), String> {
        if self.shared.nesting + self.shared.expanding.len() >= MAX_NESTING {
            self.pos = at;
            return Err(self.error(&format!(
                "the pattern nests deeper than {MAX_NESTING} levels (groups, classes, repeats, references, and options such as `(?i)` followed by `|`)"
            )));
        }
        self.shared.nesting += 1;
        Ok(())
    }

    pub(super) fn leave_level(&mut self) {
        self.shared.nesting -= 1;
    }

    fn escape(&mut self) -> Result<Node, String> {
        let c = self.next_char()?;
        Ok(match c {
            'A' => Node::Assert(Assertion::TextStart),
            'z' => Node::Assert(Assertion::TextEnd),
            'Z' => Node::Assert(Assertion::TextEndNewline),
            'b' => Node::Assert(Assertion::WordBoundary),
            'B' => Node::Assert(Assertion::NotWordBoundary),
            'k' | 'g' => {
                self.pos -= 1;
                return Err(self.error("backreferences and subexpression calls are not supported"));
            }
            '1'..='9' => return self.numbered_escape(c),
            'G' => {
                self.pos -= 1;
                return Err(self.error("`\\G` is not supported"));
            }
            // Ruby gives these a meaning outside a class (in one they are
            // letters, as here); read as letters they would match silently
            // what Logstash never would.
            'K' | 'R' | 'X' => {
                let meaning = match c {
                    'K' => "keep what matched so far out of the match",
                    'R' => "any line break",
                    _ => "an extended grapheme cluster",
                };
                self.pos -= 2;
                return Err(self.error(&format!("`\\{c}` ({meaning}) is not supported")));
            }
            // Outside brackets, `(?i)` folds a property before it is
            // negated: `(?i)\p{Upper}` matches `a`, `(?i)\P{Lower}` does
            // not (inside brackets the class folds its members' union).
            'p' | 'P' => {
                let (mut class, negated) = self.property(c == 'P')?;
                if self.flags.ignore_case {
                    class.fold_ascii_case();
                }
                Node::Class(class.negate_if(negated))
            }
            _ => {
                self.pos -= c.len_utf8();
                match self.class_escape()? {
                    Escaped::Char(c) => self.literal(c),
                    Escaped::Class(class) => Node::Class(*class),
                }
            }
        })
    }

    /// `\N` after its first digit, `first`, read as Onigmo reads it: a
    /// backreference if the number is at most 9 or at most the groups
    /// opened so far (refused), else `\8` and `\9` are the digit and the
    /// rest an octal escape of up to three digits (`\101` is `A`, `\18` is
    /// `\1` then `8`).
    fn numbered_escape(&mut self, first: char) -> Result<Node, String> {
        let digits_at = self.pos - 1;
        let digits = self.src[digits_at..].bytes();
        let count = digits.take_while(u8::is_ascii_digit).count();
        let number: usize = self.src[digits_at..digits_at + count]
            .parse()
            .unwrap_or(usize::MAX);
        let opened = self.shared.group_count + self.shared.plain_groups;
        if number <= 9 || number <= opened {
            self.pos = digits_at;
            return Err(self.error("backreferences and subexpression calls are not supported"));
        }
        if matches!(first, '8' | '9') {
            return Ok(self.literal(first));
        }
        self.pos = digits_at;
        let c = self.octal_escape(3)?;
        Ok(self.literal(c))
    }
}

/// Items one after another, as one node.
fn sequence(mut items: Vec<Node>) -> Node {
    match items.len() {
        0 => Node::Empty,
        1 => items.pop().expect("one item"),
        _ => Node::Concat(items),
    }
}

/// A letter of an option group, `(?imx-imx)` or Ruby's `(?d)`, `(?a)`,
/// `(?u)`.
fn is_option(c: char) -> bool {
    matches!(c, 'i' | 'm' | 'x' | '-' | 'd' | 'a' | 'u')
}
