//! A reader for Logstash's pipeline config language, enough to check our
//! `.conf` files without Logstash: tokens (strings, regexes, comments),
//! balanced brackets, sections, plugins with their settings, and
//! `if`/`else if`/`else` blocks. Used by `logstash_pipelines.rs`.

use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Word(String),
    Str(String),
    Regex(String),
    Punct(char),
    Arrow,
}

/// Whether a bare word stops at `chars[i]`.
fn ends_word(chars: &[char], i: usize) -> bool {
    chars[i].is_whitespace()
        || "{}[](),\"'#".contains(chars[i])
        || (chars[i] == '=' && chars.get(i + 1) == Some(&'>'))
}

/// A setting list: (name, value) pairs and the codecs named in it.
pub type Settings = (Vec<(String, String)>, Vec<String>);

/// Splits a config into tokens; errors carry the line number.
fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() || c == ',' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '"' | '\'' => {
                let start = line;
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("line {start}: string never closed")),
                        Some('\\') => {
                            value.push(chars[i]);
                            value.extend(chars.get(i + 1));
                            i += 2;
                        }
                        Some(&q) if q == c => break,
                        Some(&other) => {
                            if other == '\n' {
                                line += 1;
                            }
                            value.push(other);
                            i += 1;
                        }
                    }
                }
                i += 1;
                tokens.push((start, Token::Str(value)));
            }
            '/' if matches!(tokens.last(), Some((_, Token::Word(w))) if w == "=~" || w == "!~") => {
                let mut value = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '/' {
                    if chars[i] == '\n' {
                        return Err(format!("line {line}: regex never closed"));
                    }
                    if chars[i] == '\\' {
                        value.push(chars[i]);
                        i += 1;
                    }
                    value.extend(chars.get(i));
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(format!("line {line}: regex never closed"));
                }
                i += 1;
                tokens.push((line, Token::Regex(value)));
            }
            '=' if chars.get(i + 1) == Some(&'>') => {
                tokens.push((line, Token::Arrow));
                i += 2;
            }
            '{' | '}' | '[' | ']' | '(' | ')' => {
                tokens.push((line, Token::Punct(c)));
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && !ends_word(&chars, i) {
                    i += 1;
                }
                tokens.push((line, Token::Word(chars[start..i].iter().collect())));
            }
        }
    }
    let mut depth: Vec<(char, usize)> = Vec::new();
    for (line, token) in &tokens {
        if let Token::Punct(c) = token {
            match c {
                '{' | '[' | '(' => depth.push((*c, *line)),
                _ => {
                    let want = match c {
                        '}' => '{',
                        ']' => '[',
                        _ => '(',
                    };
                    match depth.pop() {
                        Some((open, _)) if open == want => {}
                        Some((open, at)) => {
                            return Err(format!(
                                "line {line}: `{c}` closes `{open}` from line {at}"
                            ));
                        }
                        None => return Err(format!("line {line}: `{c}` without an opening")),
                    }
                }
            }
        }
    }
    if let Some((open, at)) = depth.pop() {
        return Err(format!("line {at}: `{open}` never closed"));
    }
    Ok(tokens)
}

/// A plugin found in a file, with its string-valued settings.
#[derive(Debug)]
pub struct Plugin {
    pub section: String,
    pub name: String,
    pub line: usize,
    pub settings: Vec<(String, String)>,
    pub codecs: Vec<String>,
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    plugins: Vec<Plugin>,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }
    fn line(&self) -> usize {
        self.tokens
            .get(self.at)
            .or(self.tokens.last())
            .map_or(0, |(l, _)| *l)
    }
    fn next(&mut self) -> Result<Token, String> {
        let token = self.peek().cloned().ok_or("unexpected end of file")?;
        self.at += 1;
        Ok(token)
    }
    fn expect(&mut self, want: Token) -> Result<(), String> {
        let line = self.line();
        let got = self.next()?;
        if got != want {
            return Err(format!("line {line}: expected {want:?}, found {got:?}"));
        }
        Ok(())
    }

    fn config(&mut self) -> Result<(), String> {
        while let Some(token) = self.peek().cloned() {
            let line = self.line();
            match token {
                Token::Word(section)
                    if ["input", "filter", "output"].contains(&section.as_str()) =>
                {
                    self.at += 1;
                    self.expect(Token::Punct('{'))?;
                    self.block(&section)?;
                }
                other => {
                    return Err(format!(
                        "line {line}: expected input, filter or output, found {other:?}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Plugins and conditionals up to the closing `}`.
    fn block(&mut self, section: &str) -> Result<(), String> {
        loop {
            let line = self.line();
            match self.next()? {
                Token::Punct('}') => return Ok(()),
                Token::Word(word) if word == "if" => self.conditional(section)?,
                Token::Word(word) if word == "else" => {
                    if self.peek() == Some(&Token::Word("if".into())) {
                        self.at += 1;
                        self.conditional(section)?;
                    } else {
                        self.expect(Token::Punct('{'))?;
                        self.block(section)?;
                    }
                }
                Token::Word(name) => {
                    self.expect(Token::Punct('{'))?;
                    let (settings, codecs) = self.settings()?;
                    self.plugins.push(Plugin {
                        section: section.into(),
                        name,
                        line,
                        settings,
                        codecs,
                    });
                }
                other => {
                    return Err(format!(
                        "line {line}: expected a plugin or `if`, found {other:?}"
                    ));
                }
            }
        }
    }

    /// `if <condition> { ... }`: the condition runs to the first `{` outside
    /// brackets and parentheses.
    fn conditional(&mut self, section: &str) -> Result<(), String> {
        let line = self.line();
        let mut depth = 0;
        let mut empty = true;
        loop {
            match self.next()? {
                Token::Punct('[' | '(') => depth += 1,
                Token::Punct(']' | ')') => depth -= 1,
                Token::Punct('{') if depth == 0 => break,
                Token::Punct(c) => return Err(format!("line {line}: `{c}` in a condition")),
                _ => {}
            }
            empty = false;
        }
        if empty {
            return Err(format!("line {line}: `if` without a condition"));
        }
        self.block(section)
    }

    /// `name => value` pairs up to the closing `}`.
    fn settings(&mut self) -> Result<Settings, String> {
        let mut settings = Vec::new();
        let mut codecs = Vec::new();
        loop {
            let line = self.line();
            let name = match self.next()? {
                Token::Punct('}') => return Ok((settings, codecs)),
                Token::Word(name) | Token::Str(name) => name,
                other => {
                    return Err(format!(
                        "line {line}: expected a setting name, found {other:?}"
                    ));
                }
            };
            self.expect(Token::Arrow)?;
            let value = self.value()?;
            if name == "codec" {
                codecs.push(value.clone());
                if self.peek() == Some(&Token::Punct('{')) {
                    self.at += 1;
                    self.settings()?;
                }
            }
            settings.push((name, value));
        }
    }

    /// A value; arrays and hashes are checked and summarised as "[...]"/"{...}".
    fn value(&mut self) -> Result<String, String> {
        let line = self.line();
        match self.next()? {
            Token::Str(s) | Token::Word(s) => Ok(s),
            Token::Punct('[') => {
                while self.peek() != Some(&Token::Punct(']')) {
                    self.value()?;
                }
                self.at += 1;
                Ok("[...]".into())
            }
            Token::Punct('{') => loop {
                if self.peek() == Some(&Token::Punct('}')) {
                    self.at += 1;
                    return Ok("{...}".into());
                }
                self.value()?;
                self.expect(Token::Arrow)?;
                self.value()?;
            },
            other => Err(format!("line {line}: expected a value, found {other:?}")),
        }
    }
}

pub fn parse(path: &Path) -> Result<Vec<Plugin>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut parser = Parser {
        tokens: tokenize(&text)?,
        at: 0,
        plugins: Vec::new(),
    };
    parser.config()?;
    Ok(parser.plugins)
}

/// `${VAR:default}` as Logstash resolves it when VAR is unset.
pub fn with_defaults(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .expect("closed ${");
        let inner = &rest[start + 2..end];
        out.push_str(inner.split_once(':').map_or("", |(_, default)| default));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}
