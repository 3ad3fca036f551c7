//! Splits a JSON object into its top-level members without parsing the values.
//!
//! This is why a filter pays only for the fields it touches: an event is cut
//! into `(key, raw value)` slices in one pass, and a value is parsed only when
//! the filter reads or changes it. The host has already validated the JSON, so
//! this scanner only needs to find boundaries, but it still reports (rather
//! than panics on) anything it cannot follow.

/// One top-level member: the key exactly as written (with its quotes) and the
/// value's bytes.
pub(crate) struct Member<'a> {
    pub raw_key: &'a [u8],
    pub raw_value: &'a [u8],
}

pub(crate) fn split_object(json: &[u8]) -> Result<Vec<Member<'_>>, String> {
    let mut scanner = Scanner { json, pos: 0 };
    scanner.skip_ws();
    scanner.expect(b'{')?;
    let mut members = Vec::with_capacity(16);
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
            members.push(Member {
                raw_key,
                raw_value: &json[value_start..scanner.pos],
            });
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
    Ok(members)
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
        // memchr scans 16 bytes a step (SIMD natively and with wasm simd128);
        // string values are most of an event's bytes.
        while let Some(offset) = memchr::memchr2(b'"', b'\\', &self.json[self.pos..]) {
            self.pos += offset;
            if self.json[self.pos] == b'"' {
                self.pos += 1;
                return Ok(());
            }
            self.pos += 2; // a backslash and the character it escapes
        }
        self.pos = self.json.len();
        Err("not a JSON object: unterminated string".into())
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

    fn skip_container(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        while let Some(byte) = self.next_byte() {
            match byte {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b'"' => self.skip_string_body()?,
                _ => {}
            }
        }
        Err("not a JSON object: unterminated object or array".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(json: &str) -> Vec<(String, String)> {
        split_object(json.as_bytes())
            .unwrap()
            .into_iter()
            .map(|m| {
                (
                    String::from_utf8(m.raw_key.to_vec()).unwrap(),
                    String::from_utf8(m.raw_value.to_vec()).unwrap(),
                )
            })
            .collect()
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
            assert!(split_object(bad.as_bytes()).is_err(), "{bad:?} accepted");
        }
    }
}
