//! Low-level JSON text routines shared by the guest SDK and the host.
//!
//! Strings are most of a log event's bytes, so both writing them (SDK) and
//! checking them (host) skip plain bytes eight at a time. The byte-at-a-time
//! loops in general-purpose serializers were the largest single cost of
//! simple filters in WebAssembly (see BENCHMARKS.md).

use serde_json::Value;

/// Returns the first index at or after `pos` holding `"`, `\` or a control
/// character (or `bytes.len()`).
pub fn skip_plain_string_bytes(bytes: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap());
        let special = has_zero_byte(word ^ (ONES * b'"' as u64))
            | has_zero_byte(word ^ (ONES * b'\\' as u64))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
        if special != 0 {
            break;
        }
        pos += 8;
    }
    while let Some(&byte) = bytes.get(pos) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            break;
        }
        pos += 1;
    }
    pos
}

/// Writes `text` as a JSON string, escaping as `serde_json` does.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    loop {
        let special = skip_plain_string_bytes(bytes, start);
        out.extend_from_slice(&bytes[start..special]);
        let Some(&byte) = bytes.get(special) else {
            break;
        };
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            control => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(control >> 4) as usize]);
                out.push(HEX[(control & 0xf) as usize]);
            }
        }
        start = special + 1;
    }
    out.push(b'"');
}

/// Writes `value` as compact JSON, byte-identical to `serde_json::to_writer`.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            serde_json::to_writer(out, number).expect("writing to a Vec cannot fail")
        }
        Value::String(text) => write_str(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_what_serde_json_writes() {
        let mut text = String::from("plain, then \"quoted\" \\ back/slash é 😀 ");
        text.extend((0u8..0x20).map(char::from));
        text.push_str("long tail without specials at all, long enough for several words");
        let value = json!({"s": text, "n": [1, -2, 3.5, 1e300, u64::MAX], "b": [true, false, null], "o": {"k\n": {}}});
        let mut ours = Vec::new();
        write_value(&mut ours, &value);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
    }

    #[test]
    fn finds_the_first_special_byte() {
        assert_eq!(skip_plain_string_bytes(b"abcdefghijklmnop\"", 0), 16);
        assert_eq!(skip_plain_string_bytes(b"abc\\", 0), 3);
        assert_eq!(skip_plain_string_bytes(b"abcdefgh\x1f", 2), 8);
        assert_eq!(skip_plain_string_bytes("é€😀".as_bytes(), 0), 9);
    }
}
