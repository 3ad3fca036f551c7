//! Splits a JSON object into its top-level members without parsing the values.
//!
//! This is why a filter pays only for the fields it touches: an event is cut
//! into `(key, raw value)` slices in one pass, and a value is parsed only when
//! the filter reads or changes it. The host has already validated the JSON, so
//! this scanner only needs to find boundaries, but it still reports (rather
//! than panics on) anything it cannot follow.

use crate::json_text;

/// Calls `member` with each top-level member of the object `json`: the key
/// exactly as written (with its quotes) and the value's bytes.
pub fn for_each_member<'a>(
    json: &'a [u8],
    mut member: impl FnMut(&'a [u8], &'a [u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut scanner = Scanner { json, pos: 0 };
    scanner.skip_ws();
    scanner.expect(b'{')?;
    scanner.skip_ws();
    if scanner.peek() == Some(b'}') {
        scanner.pos += 1;
    } else {
        loop {
            scanner.skip_ws();
            let key_start = scanner.pos;
            scanner.expect(b'"')?;
            scanner.skip_string_body()?;
            let raw_key = &json[key_start..scanner.pos];
            scanner.skip_ws();
            scanner.expect(b':')?;
            scanner.skip_ws();
            let value_start = scanner.pos;
            scanner.skip_value()?;
            member(raw_key, &json[value_start..scanner.pos])?;
            scanner.skip_ws();
            match scanner.next_byte() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(scanner.unexpected("`,` or `}`")),
            }
        }
    }
    scanner.skip_ws();
    if scanner.pos != json.len() {
        return Err(scanner.unexpected("the end of the event"));
    }
    Ok(())
}

struct Scanner<'a> {
    json: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.json.get(self.pos).copied()
    }

    fn next_byte(&mut self) -> Option<u8> {
        let byte = self.peek();
        self.pos += 1;
        byte
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{}`", byte as char)))
        }
    }

    fn unexpected(&self, wanted: &str) -> String {
        format!("not a JSON object: expected {wanted} at byte {}", self.pos)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Skips past the closing quote of a string whose opening quote is consumed.
    fn skip_string_body(&mut self) -> Result<(), String> {
        // A raw control character is invalid JSON, which the host never
        // sends; a native caller's is passed over like any byte.
        self.move_to(json_text::string_end(self.json, self.pos), "string")
    }

    /// Moves to `end`, just past a string or container, or to the end of
    /// the text with an error if it never closes.
    fn move_to(&mut self, end: Option<usize>, unterminated: &str) -> Result<(), String> {
        match end {
            Some(end) => {
                self.pos = end;
                Ok(())
            }
            None => {
                self.pos = self.json.len();
                Err(format!("not a JSON object: unterminated {unterminated}"))
            }
        }
    }

    fn skip_value(&mut self) -> Result<(), String> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.skip_string_body()
            }
            Some(b'{' | b'[') => self.skip_container(),
            Some(_) => {
                let start = self.pos;
                while matches!(self.peek(), Some(b) if !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                {
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.unexpected("a value"));
                }
                Ok(())
            }
            None => Err(self.unexpected("a value")),
        }
    }

    /// Steps over the object or array at `pos` (on its opening bracket).
    fn skip_container(&mut self) -> Result<(), String> {
        let end = json_text::container_end(self.json, self.pos + 1);
        self.move_to(end, "object or array")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(json: &str) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for_each_member(json.as_bytes(), |key, value| {
            let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
            pairs.push((text(key), text(value)));
            Ok(())
        })
        .unwrap();
        pairs
    }

    #[test]
    fn splits_members_verbatim() {
        let got = pairs(r#" { "a" : 1, "b\"c":"x\\\"}", "n":{"d":[1,{"e":"]"}]}, "t":true } "#);
        assert_eq!(
            got,
            [
                (r#""a""#.into(), "1".into()),
                (r#""b\"c""#.into(), r#""x\\\"}""#.into()),
                (r#""n""#.into(), r#"{"d":[1,{"e":"]"}]}"#.into()),
                (r#""t""#.into(), "true".into()),
            ]
        );
        assert!(pairs("{}").is_empty());
    }

    #[test]
    fn reports_what_it_cannot_follow() {
        for bad in [
            "",
            "[]",
            "{",
            r#"{"a"}"#,
            r#"{"a":1"#,
            r#"{"a":"x}"#,
            r#"{"a":1} x"#,
            r#"{"a":}"#,
        ] {
            assert!(
                for_each_member(bad.as_bytes(), |_, _| Ok(())).is_err(),
                "{bad:?} accepted"
            );
        }
    }
}
