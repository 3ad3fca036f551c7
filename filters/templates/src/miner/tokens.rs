//! Splits a line into whitespace tokens and masks them into one reusable
//! buffer, remembering where each token came from so parameters can be cut
//! out of the original text afterwards.

use super::mask::{Masks, WILDCARD, mask_token};

/// One masked token: its text in [`Tokens::masked`] and its span in the line.
#[derive(Clone, Copy, Debug)]
pub struct Token {
    pub masked: (u32, u32),
    pub line: (u32, u32),
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
    /// memory a pathological line can cost. With `collapse`, runs of
    /// consecutive `<*>` tokens become one, so a variable that spans a
    /// varying number of words does not split a template.
    pub fn fill(&mut self, line: &str, masks: &Masks, max_tokens: usize, collapse: bool) {
        self.buffer.clear();
        self.tokens.clear();
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i == bytes.len() {
                break;
            }
            let start = i;
            let rest_is_one = self.tokens.len() + 1 >= max_tokens;
            if rest_is_one {
                i = line.trim_end().len();
            } else {
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            let masked_start = self.buffer.len();
            if rest_is_one && i > start && line[start..i].contains(char::is_whitespace) {
                self.buffer.push_str(WILDCARD);
            } else {
                mask_token(&line[start..i], masks, &mut self.buffer);
            }
            let is_wildcard = &self.buffer[masked_start..] == WILDCARD;
            let follows_wildcard = self
                .tokens
                .last()
                .is_some_and(|last| self.text_of(*last) == WILDCARD);
            if collapse && is_wildcard && follows_wildcard {
                self.buffer.truncate(masked_start);
                if let Some(last) = self.tokens.last_mut() {
                    last.line.1 = i as u32;
                }
                continue;
            }
            self.tokens.push(Token {
                masked: (masked_start as u32, self.buffer.len() as u32),
                line: (start as u32, i as u32),
            });
        }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
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
        t.fill(line, &Masks::ALL, max, collapse);
        t.iter().map(str::to_owned).collect()
    }

    #[test]
    fn splits_masks_and_collapses() {
        assert_eq!(
            masked("  Fan speeds ( 3552 3534 3375 )  ", 64, true),
            ["Fan", "speeds", "(", "<*>", ")"]
        );
        assert_eq!(masked("a 1 2 b", 64, false), ["a", "<*>", "<*>", "b"]);
    }

    #[test]
    fn long_lines_end_in_one_wildcard() {
        assert_eq!(masked("a b c d e", 3, false), ["a", "b", "<*>"]);
        assert_eq!(masked("a b c", 3, false), ["a", "b", "c"]);
    }
}
