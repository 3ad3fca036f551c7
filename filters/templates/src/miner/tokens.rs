//! Splits a line into whitespace tokens and masks them into one reusable
//! buffer, remembering where each token came from so parameters can be cut
//! out of the original text afterwards.

use super::mask::{Masks, WILDCARD, is_calendar_word, mask_token};

/// One masked token: its text in [`Tokens::masked`] and its span in the line.
#[derive(Clone, Copy, Debug)]
pub struct Token {
    pub masked: (u32, u32),
    pub line: (u32, u32),
}

/// How much of a line is kept: tokens per line, bytes per token.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_tokens: usize,
    pub max_bytes: usize,
}

/// The masked tokens of the current line; reused from line to line.
#[derive(Default)]
pub struct Tokens {
    buffer: String,
    tokens: Vec<Token>,
}

impl Tokens {
    /// Tokenises and masks `line`. At most `max_tokens` tokens are kept: the
    /// rest of a longer line becomes one last `<*>` token, which bounds the
    /// memory a pathological line can cost. A token longer than `max_bytes`
    /// once masked becomes `<*>`: text that long is a value
    /// (a blob, a key, a dump), and storing it would let a few lines fill
    /// the template table. With `collapse`, runs of consecutive `<*>` tokens
    /// become one, so a variable that spans a varying number of words does
    /// not split a template.
    ///
    /// Whitespace is ASCII whitespace everywhere here (splitting, trimming
    /// the rest of a long line, deciding the rest is several words): with two
    /// notions a trailing U+00A0 was trimmed but never skipped, and the
    /// tokeniser stood still pushing empty tokens until memory ran out.
    pub fn fill(&mut self, line: &str, limits: Limits, masks: &Masks, collapse: bool) {
        self.buffer.clear();
        self.tokens.clear();
        let bytes = line.as_bytes();
        let end = line
            .trim_end_matches(|c: char| c.is_ascii_whitespace())
            .len();
        let mut i = 0;
        while i < end {
            while bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let start = i;
            let rest_is_one = self.tokens.len() + 1 >= limits.max_tokens;
            if rest_is_one {
                i = end;
            } else {
                while i < end && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            let token = &line[start..i];
            let masked_start = self.buffer.len();
            if rest_is_one && token.bytes().any(|b| b.is_ascii_whitespace()) {
                self.buffer.push_str(WILDCARD);
            } else {
                mask_token(token, masks, &mut self.buffer);
                if self.buffer.len() - masked_start > limits.max_bytes {
                    self.buffer.truncate(masked_start);
                    self.buffer.push_str(WILDCARD);
                }
            }
            self.tokens.push(Token {
                masked: (masked_start as u32, self.buffer.len() as u32),
                line: (start as u32, i as u32),
            });
        }
        if masks.time {
            self.mask_calendar_words(line);
        }
        if collapse {
            self.collapse_wildcards();
        }
    }

    /// `Fri Jun 17 07:07:00 2005`: a month or weekday name next to a masked
    /// token is part of a date.
    fn mask_calendar_words(&mut self, line: &str) {
        let mut wildcard = None;
        // Right to left, so `Fri` sees `Jun` already masked.
        for i in (0..self.tokens.len()).rev() {
            let (start, end) = self.tokens[i].line;
            if !is_calendar_word(&line[start as usize..end as usize]) {
                continue;
            }
            let beside_variable = (i > 0 && self.is_wildcard(i - 1))
                || (i + 1 < self.tokens.len() && self.is_wildcard(i + 1));
            if beside_variable {
                let at = *wildcard.get_or_insert_with(|| {
                    let at = self.buffer.len() as u32;
                    self.buffer.push_str(WILDCARD);
                    (at, self.buffer.len() as u32)
                });
                self.tokens[i].masked = at;
            }
        }
    }

    /// Runs of `<*>` tokens become one token spanning them all.
    fn collapse_wildcards(&mut self) {
        let mut kept = 0;
        for i in 0..self.tokens.len() {
            if kept > 0 && self.is_wildcard(i) && self.is_wildcard(kept - 1) {
                self.tokens[kept - 1].line.1 = self.tokens[i].line.1;
                continue;
            }
            self.tokens[kept] = self.tokens[i];
            kept += 1;
        }
        self.tokens.truncate(kept);
    }

    fn is_wildcard(&self, index: usize) -> bool {
        self.text_of(self.tokens[index]) == WILDCARD
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn get(&self, index: usize) -> &str {
        self.text_of(self.tokens[index])
    }

    pub fn span(&self, index: usize) -> (usize, usize) {
        let (a, b) = self.tokens[index].line;
        (a as usize, b as usize)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().map(|t| self.text_of(*t))
    }

    fn text_of(&self, token: Token) -> &str {
        &self.buffer[token.masked.0 as usize..token.masked.1 as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(line: &str, max: usize, collapse: bool) -> Vec<String> {
        let mut t = Tokens::default();
        let limits = Limits {
            max_tokens: max,
            max_bytes: 256,
        };
        t.fill(line, limits, &Masks::ALL, collapse);
        t.iter().map(str::to_owned).collect()
    }

    #[test]
    fn splits_masks_and_collapses() {
        assert_eq!(
            masked("  Fan speeds ( 3552 3534 3375 )  ", 64, true),
            ["Fan", "speeds", "(", "<*>", ")"]
        );
        assert_eq!(masked("a 1 2 b", 64, false), ["a", "<*>", "<*>", "b"]);
        assert_eq!(
            masked("at Fri Jun 17 07:07:00 2005", 64, true),
            ["at", "<*>"]
        );
        assert_eq!(masked("May I", 64, true), ["May", "I"]);
    }

    #[test]
    fn long_lines_end_in_one_wildcard() {
        assert_eq!(masked("a b c d e", 3, false), ["a", "b", "<*>"]);
        assert_eq!(masked("a b c", 3, false), ["a", "b", "c"]);
        assert_eq!(masked("a b c\u{a0}", 3, false), ["a", "b", "c\u{a0}"]);
    }

    #[test]
    fn overlong_tokens_are_variables() {
        let long = "x".repeat(257);
        let line = format!("a {long} {} b", "x".repeat(256));
        assert_eq!(masked(&line, 64, false)[..2], ["a", "<*>"]);
        assert_eq!(masked(&line, 64, false)[2].len(), 256);
        // Masking can lengthen a token (`1` becomes `<*>`); the bound holds
        // for what is stored.
        let digits = vec!["1"; 100].join(",");
        assert_eq!(masked(&digits, 64, false), ["<*>"]);
    }

    /// Splitting and the rest-of-line token must agree on what whitespace
    /// is, or the tokeniser never gets past a trailing space they disagree on.
    #[test]
    fn a_line_over_the_limit_may_end_in_any_whitespace() {
        let words: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        let head = words.join(" ");
        let spaces = (0..=0x10_ffff)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace() || c.is_ascii_whitespace());
        for space in spaces {
            let line = format!("{head}{space}");
            let mut tokens = Tokens::default();
            let limits = Limits {
                max_tokens: 128,
                max_bytes: 256,
            };
            tokens.fill(&line, limits, &Masks::ALL, false);
            assert_eq!(tokens.len(), 128, "{space:?}");
            assert_eq!(tokens.get(127), WILDCARD, "{space:?}");
            let end = line.trim_end_matches(|c: char| c.is_ascii_whitespace());
            assert_eq!(tokens.span(127), (head.find("w127").unwrap(), end.len()));
        }
    }
}
