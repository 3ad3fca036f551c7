//! Reads a logstash.conf as Logstash's own grammar (`grammar.treetop` in
//! logstash-core) does, far enough to take its filter blocks out.
//!
//! Values keep Logstash's meaning with its default
//! `config.support_escapes: false`: a quoted string is the text between its
//! quotes, backslashes included (`"a\"b"` is `a\"b`), which is what grok
//! patterns and gsub expressions copied from a working config rely on.
//! Conditionals are read (so that what follows them is read right) but not
//! kept: their condition is only skipped over.

use std::ops::Range;

use serde_json::{Map, Value};

/// A `name { ... }` block: a plugin, with its attributes in order.
pub struct Plugin {
    pub name: String,
    pub line: usize,
    /// Where it is in the text, from its name to its closing `}`.
    pub span: Range<usize>,
    pub attributes: Vec<Attribute>,
    /// The comments between the item before it (or the opening of its
    /// section or branch) and its name, each from its `#` to the line's end.
    pub comments_before: Vec<String>,
    /// The comments inside its block, likewise.
    pub comments: Vec<String>,
}

pub struct Attribute {
    pub name: String,
    pub line: usize,
    /// A bareword (`false`, `message`) is its text, as Logstash reads it.
    pub value: Value,
}

/// What a section (`filter { ... }`) or a branch holds.
pub enum Item {
    Plugin(Plugin),
    /// `if ... { }`, `else if ... { }` or `else { }`, with what it holds.
    Branch {
        line: usize,
        items: Vec<Item>,
    },
}

pub struct Section {
    /// `input`, `filter` or `output`.
    pub kind: String,
    pub items: Vec<Item>,
    /// Where it is in the text, from its kind to its closing `}`.
    pub span: Range<usize>,
}

/// A place in the text and what is wrong there, as `line:column: ...`.
#[derive(Debug, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Reads the whole config: its sections, in order.
pub fn parse(text: &str) -> Result<Vec<Section>, SyntaxError> {
    let line_starts = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(at, _)| at + 1))
        .collect();
    let mut reader = Reader {
        text,
        at: 0,
        line_starts,
        depth: 0,
        comments: Vec::new(),
    };
    let mut sections = Vec::new();
    reader.skip_blank();
    while reader.at < text.len() {
        let start = reader.at;
        let kind = reader.name()?;
        if !matches!(kind.as_str(), "input" | "filter" | "output") {
            return Err(reader.error_back(
                kind.len(),
                format!("`{kind}`: expected a section, `input`, `filter` or `output`"),
            ));
        }
        reader.expect(b'{')?;
        let items = reader.items()?;
        sections.push(Section {
            kind,
            items,
            span: start..reader.at,
        });
        reader.skip_blank();
    }
    Ok(sections)
}

/// How deep arrays, hashes and conditionals may nest: far past any real
/// config, short of what the reader's recursion could overflow, and of the
/// TOML reader's own limit, which the written config must pass (its
/// values sit five tables down, under `pipelines.NAME.filters`).
const MAX_NESTING: usize = 64;

struct Reader<'a> {
    text: &'a str,
    at: usize,
    /// Where each line starts, so that a place is found by a binary search,
    /// not by counting lines from the start each time.
    line_starts: Vec<usize>,
    /// Arrays, hashes and branches open around the reader.
    depth: usize,
    /// Where each comment read so far starts and ends, in order.
    comments: Vec<Range<usize>>,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn line(&self) -> usize {
        self.line_at(self.at)
    }

    fn line_at(&self, at: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= at)
    }

    fn position(&self, at: usize) -> (usize, usize) {
        let line = self.line_at(at);
        let column = self.text[self.line_starts[line - 1]..at].chars().count() + 1;
        (line, column)
    }

    fn error(&self, message: impl Into<String>) -> SyntaxError {
        self.error_at(self.at, message)
    }

    /// An error at what was just read, `len` bytes back.
    fn error_back(&self, len: usize, message: impl Into<String>) -> SyntaxError {
        self.error_at(self.at - len, message)
    }

    fn error_at(&self, at: usize, message: impl Into<String>) -> SyntaxError {
        let (line, column) = self.position(at);
        SyntaxError {
            line,
            column,
            message: message.into(),
        }
    }

    /// Whitespace and `#` comments, which Logstash allows between any two
    /// tokens.
    fn skip_blank(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b' ' | b'\t' | b'\r' | b'\n' => self.at += 1,
                b'#' => {
                    let rest = &self.text[self.at..];
                    let end = self.at + rest.find('\n').unwrap_or(rest.len());
                    if self.comments.last().is_none_or(|c| c.start < self.at) {
                        self.comments.push(self.at..end);
                    }
                    self.at = end;
                }
                _ => break,
            }
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), SyntaxError> {
        self.skip_blank();
        if self.peek() == Some(byte) {
            self.at += 1;
            return Ok(());
        }
        Err(self.error(format!(
            "expected `{}`, found {}",
            byte as char,
            self.found()
        )))
    }

    fn found(&self) -> String {
        match self.text[self.at..].chars().next() {
            None => "the end of the file".to_string(),
            Some(c) => format!("`{}`", c.escape_debug()),
        }
    }

    /// A plugin's or an attribute's name: `[A-Za-z0-9_-]+` or a string.
    fn name(&mut self) -> Result<String, SyntaxError> {
        self.skip_blank();
        if matches!(self.peek(), Some(b'"' | b'\'')) {
            return self.string();
        }
        let rest = &self.text[self.at..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error(format!("expected a name, found {}", self.found())));
        }
        self.at += len;
        Ok(rest[..len].to_string())
    }

    /// What a section or branch holds, up to and with its closing `}`.
    fn items(&mut self) -> Result<Vec<Item>, SyntaxError> {
        let mut items = Vec::new();
        // Whether the last item was an `if` or `else if`, which an `else`
        // may follow.
        let mut open_chain = false;
        loop {
            // Where the item before ends: the comments from here to the
            // next item are the ones before it.
            let after_previous = self.at;
            self.skip_blank();
            match self.peek() {
                Some(b'}') => {
                    self.at += 1;
                    return Ok(items);
                }
                None => return Err(self.error("expected `}`, found the end of the file")),
                _ => {}
            }
            let (start, line) = (self.at, self.line());
            let name = self.name()?;
            // Logstash's grammar allows `else if` without the space.
            if matches!(name.as_str(), "if" | "else" | "elseif") {
                if name != "if" && !open_chain {
                    return Err(self.error_at(start, "`else` without an `if` before it"));
                }
                let conditional = name != "else" || self.word_follows("if");
                open_chain = conditional;
                self.skip_condition(conditional)?;
                let branch = self.nested(Self::items)?;
                items.push(Item::Branch {
                    line,
                    items: branch,
                });
            } else {
                open_chain = false;
                let mut plugin = self.plugin(name, start)?;
                plugin.comments_before = self.comments_in(after_previous..start);
                items.push(Item::Plugin(plugin));
            }
        }
    }

    /// Whether `word` comes next, as a whole word; if so, past it.
    fn word_follows(&mut self, word: &str) -> bool {
        self.skip_blank();
        let rest = &self.text[self.at..];
        let whole = rest.strip_prefix(word).is_some_and(|after| {
            !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        });
        if whole {
            self.at += word.len();
        }
        whole
    }

    /// Past a condition (`[a] == "b" and [c] =~ /d{2}/`), which an `if`
    /// has and an `else` has not, to the `{` that opens its block, minding
    /// strings, regular expressions and brackets.
    fn skip_condition(&mut self, conditional: bool) -> Result<(), SyntaxError> {
        let start = self.at;
        let mut depth = 0usize;
        loop {
            self.skip_blank();
            match self.peek() {
                None => return Err(self.error("a condition runs to the end of the file")),
                Some(b'{') if depth == 0 => {
                    let empty = self.text[start..self.at].trim().is_empty();
                    if conditional && empty {
                        return Err(self.error("`if` without a condition"));
                    }
                    if !conditional && !empty {
                        return Err(self.error_at(start, "expected `{` or `if` after `else`"));
                    }
                    self.at += 1;
                    return Ok(());
                }
                Some(b'"' | b'\'') => drop(self.string()?),
                Some(b'/') => drop(self.quoted(b'/', "regular expression")?),
                // A field reference's part, `[app.kubernetes.io/name]`, is
                // any text but brackets and commas (Logstash's
                // `selector_element`); other brackets open a list.
                Some(b'[') => {
                    let rest = &self.text[self.at + 1..];
                    match rest.find([']', '[', ',']) {
                        Some(end) if rest.as_bytes()[end] == b']' && end > 0 => {
                            self.at += end + 2;
                        }
                        _ => {
                            depth += 1;
                            self.at += 1;
                        }
                    }
                }
                Some(b'(') => {
                    depth += 1;
                    self.at += 1;
                }
                Some(b']' | b')') => {
                    depth = depth.saturating_sub(1);
                    self.at += 1;
                }
                Some(_) => {
                    self.at += self.text[self.at..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8)
                }
            }
        }
    }

    /// The block of the plugin whose name, read already, starts at `start`.
    fn plugin(&mut self, name: String, start: usize) -> Result<Plugin, SyntaxError> {
        self.expect(b'{')?;
        let mut attributes = Vec::new();
        loop {
            self.skip_blank();
            if self.peek() == Some(b'}') {
                self.at += 1;
                return Ok(Plugin {
                    name,
                    line: self.line_at(start),
                    span: start..self.at,
                    attributes,
                    comments_before: Vec::new(),
                    comments: self.comments_in(start..self.at),
                });
            }
            let line = self.line();
            let name = self.name()?;
            self.arrow()?;
            let value = self.value()?;
            attributes.push(Attribute { name, line, value });
        }
    }

    /// The text of the comments read that start within `range`.
    fn comments_in(&self, range: Range<usize>) -> Vec<String> {
        let first = self.comments.partition_point(|c| c.start < range.start);
        (self.comments[first..].iter())
            .take_while(|c| c.start < range.end)
            .map(|c| self.text[c.clone()].to_string())
            .collect()
    }

    fn arrow(&mut self) -> Result<(), SyntaxError> {
        self.skip_blank();
        if self.text[self.at..].starts_with("=>") {
            self.at += 2;
            return Ok(());
        }
        Err(self.error(format!("expected `=>`, found {}", self.found())))
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        self.skip_blank();
        match self.peek() {
            Some(b'"' | b'\'') => self.string().map(Value::String),
            Some(b'[') => self.nested(Self::array),
            Some(b'{') => self.nested(Self::hash),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                let start = self.at;
                let word = self.name()?;
                self.skip_blank();
                if self.peek() == Some(b'{') {
                    // A plugin as a value: an input's or output's codec.
                    let plugin = self.plugin(word, start)?;
                    return Ok(Value::String(plugin.name));
                }
                self.bareword(word, start).map(Value::String)
            }
            _ => Err(self.error(format!("expected a value, found {}", self.found()))),
        }
    }

    /// `word`, read at `start` where a value or a hash key goes, if it is
    /// one Logstash reads unquoted there (its `bareword` rule: a letter or
    /// `_`, then one or more letters, digits or `_`). Plugin and option
    /// names may be shorter and hold `-`; values may not.
    fn bareword(&self, word: String, start: usize) -> Result<String, SyntaxError> {
        let bytes = word.as_bytes();
        let first = bytes
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_');
        let rest = bytes.get(1..).unwrap_or_default();
        if first && !rest.is_empty() && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            return Ok(word);
        }
        Err(self.error_at(
            start,
            format!("`{word}` unquoted, which Logstash does not read as a value: put it in quotes"),
        ))
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let quote = self.peek().expect("called at a quote");
        self.quoted(quote, "string")
    }

    /// The text between `quote` and the next one not after a backslash,
    /// kept as written; `what` it is, for the error.
    fn quoted(&mut self, quote: u8, what: &str) -> Result<String, SyntaxError> {
        let start = self.at;
        let bytes = self.text.as_bytes();
        let mut at = start + 1;
        while at < bytes.len() {
            match bytes[at] {
                b'\\' if bytes.get(at + 1) == Some(&quote) => at += 2,
                b if b == quote => {
                    self.at = at + 1;
                    return Ok(self.text[start + 1..at].to_string());
                }
                _ => at += 1,
            }
        }
        Err(self.error_at(start, format!("this {what} is never closed")))
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let rest = &self.text[self.at..];
        let sign = usize::from(rest.starts_with('-'));
        let digits = rest[sign..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - sign);
        if digits == 0 {
            return Err(self.error("expected a number after `-`"));
        }
        let mut len = sign + digits;
        if rest[len..].starts_with('.') {
            len += 1 + rest[len + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - len - 1);
        }
        let text = &rest[..len];
        self.at += len;
        // Logstash reads these with Ruby's `Float()` and `Integer()`: `1.`
        // is refused, and a leading 0 makes an integer octal.
        let unsigned = &text[sign..];
        let number = if text.ends_with('.') {
            None
        } else if text.contains('.') {
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
        } else if unsigned.len() > 1 && unsigned.starts_with('0') {
            i64::from_str_radix(unsigned, 8)
                .ok()
                .map(|n| serde_json::Number::from(if sign == 1 { -n } else { n }))
        } else {
            text.parse::<i64>().ok().map(serde_json::Number::from)
        };
        number
            .map(Value::Number)
            .ok_or_else(|| self.error_back(len, format!("`{text}` is not a number Logstash reads")))
    }

    /// `read` one level deeper, refused past [`MAX_NESTING`].
    fn nested<T>(
        &mut self,
        read: fn(&mut Self) -> Result<T, SyntaxError>,
    ) -> Result<T, SyntaxError> {
        if self.depth == MAX_NESTING {
            return Err(self.error(format!("nested more than {MAX_NESTING} deep")));
        }
        self.depth += 1;
        let read = read(self);
        self.depth -= 1;
        read
    }

    fn array(&mut self) -> Result<Value, SyntaxError> {
        self.at += 1;
        let mut values = Vec::new();
        loop {
            self.skip_blank();
            if self.peek() == Some(b']') {
                self.at += 1;
                return Ok(Value::Array(values));
            }
            if !values.is_empty() {
                self.expect(b',')?;
            }
            values.push(self.value()?);
        }
    }

    /// `{ key => value ... }`. Logstash refuses a key given twice, so this
    /// does too.
    fn hash(&mut self) -> Result<Value, SyntaxError> {
        self.at += 1;
        let mut entries = Map::new();
        loop {
            self.skip_blank();
            match self.peek() {
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(entries));
                }
                // `hashentry (whitespace hashentry)*` in Logstash's grammar:
                // a comma there stops Logstash from loading the file.
                Some(b',') => {
                    return Err(self.error(
                        "a comma between hash entries, which Logstash refuses: separate them \
                         with spaces or line breaks",
                    ));
                }
                _ => {}
            }
            let key_at = self.at;
            let key = match self.peek() {
                Some(b'-' | b'0'..=b'9') => self.number()?.to_string(),
                Some(b'"' | b'\'') => self.string()?,
                _ => {
                    let word = self.name()?;
                    self.bareword(word, key_at)?
                }
            };
            self.arrow()?;
            let value = self.value()?;
            if entries.insert(key.clone(), value).is_some() {
                let key = crate::engine::printable(&key);
                return Err(self.error_at(key_at, format!("`{key}` is given twice in this hash")));
            }
        }
    }
}
