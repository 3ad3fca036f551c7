//! `%{NAME}` references: resolving one, splicing its pattern in as a
//! group, and the bounds that keep an expansion from recursing, nesting or
//! growing without end.

use super::{MAX_DEPTH, MAX_EXPANDED_BYTES, MAX_EXPANSIONS, Node, Parser, parse_source};

impl Parser<'_, '_, '_> {
    /// `%{NAME}`, `%{NAME:semantic}`, `%{NAME=definition}`, with jls-grok's
    /// grammar: a name of `[A-z0-9]`, a semantic of `[@\[\]A-z0-9_:.-]`, and
    /// anything else up to `}` ignored. `None` if the text is not a reference
    /// (then `%` is a literal).
    pub(super) fn grok_reference(&mut self) -> Result<Option<Node>, String> {
        let start = self.pos - 1;
        let rest = &self.src[self.pos + 1..];
        let name_len = rest
            .bytes()
            .take_while(|&b| is_reference_name_byte(b))
            .count();
        if name_len == 0 {
            return Ok(None);
        }
        let name = &rest[..name_len];
        let mut tail = &rest[name_len..];
        let mut semantic = None;
        if let Some(after) = tail.strip_prefix(':') {
            let len = after
                .bytes()
                .take_while(|&b| {
                    b.is_ascii_digit() || (b'A'..=b'z').contains(&b) || b"@[]_:.-".contains(&b)
                })
                .count();
            if len > 0 {
                semantic = Some(&after[..len]);
                tail = &after[len..];
            }
        }
        let mut definition = None;
        if let Some(after) = tail.strip_prefix('=') {
            let len = definition_length(after);
            if len > 0 {
                definition = Some(&after[..len]);
                tail = &after[len..];
            }
        }
        let Some(close) = tail.find('}') else {
            return Ok(None);
        };
        let end = self.src.len() - tail.len() + close + 1;
        let splice = self
            .shared
            .resolver
            .resolve(name, semantic, definition)
            .map_err(|e| format!("{e} (`{}` at position {start})", &self.src[start..end]))?;
        if self.shared.expanding.iter().any(|n| n == name) {
            return Err(format!(
                "pattern {name} refers to itself at position {start}"
            ));
        }
        if self.shared.expanding.len() >= MAX_DEPTH {
            return Err(format!(
                "patterns nest deeper than {MAX_DEPTH} at position {start}"
            ));
        }
        self.shared.expanded_bytes += splice.regex.len();
        self.shared.expansions += 1;
        if self.shared.expanded_bytes > MAX_EXPANDED_BYTES
            || self.shared.expansions > MAX_EXPANSIONS
        {
            return Err(format!(
                "the expression expands to more than {MAX_EXPANSIONS} references or {MAX_EXPANDED_BYTES} bytes of pattern text (`{}` at position {start})",
                &self.src[start..end],
            ));
        }
        self.pos = end;
        let capture = splice.capture_as.map(|n| self.new_group(&n));
        self.shared.expanding.push(name.to_string());
        let inner = parse_source(&splice.regex, self.flags, self.shared).map_err(|e| {
            let label = match &splice.defined_in {
                Some(place) => format!("{name} (defined in {place})"),
                None => name.to_owned(),
            };
            within_pattern(&label, &e)
        });
        self.shared.expanding.pop();
        let inner = inner?;
        Ok(Some(match capture {
            Some(index) => Node::Capture(index, Box::new(inner)),
            None => inner,
        }))
    }
}

/// `error`, met while expanding pattern `name` (with where it was defined,
/// if that is said), said once with the whole
/// chain of patterns it was met in (`in pattern A -> B: ...`); the
/// position it gives is within the last of them.
fn within_pattern(name: &str, error: &str) -> String {
    match error.strip_prefix("in pattern ") {
        Some(inner) => format!("in pattern {name} -> {inner}"),
        None => format!("in pattern {name}: {error}"),
    }
}

/// Length of an inline `%{NAME=definition}` body: up to the `}` that closes
/// the reference, with nested braces (`{1,3}`) and escapes skipped.
fn definition_length(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' if depth == 0 => return i,
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    0
}

/// Whether `byte` may be part of the NAME in `%{NAME}`: jls-grok's
/// `[A-z0-9]`, a range that also takes `[`, `\`, `]`, `^`, `_` and a backtick.
pub fn is_reference_name_byte(byte: u8) -> bool {
    byte.is_ascii_digit() || (b'A'..=b'z').contains(&byte)
}
