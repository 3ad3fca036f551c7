//! The scans, escaping and unescaping, each against a reference: the
//! simple loop it replaces, or `serde_json`.

use super::*;
use crate::testing::{XorShift, escape_dense_string_body};
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
fn numbers_are_written_as_their_values_would_be() {
    for n in [0, -1, 42, i64::MIN, i64::MAX] {
        let mut ours = Vec::new();
        write_i64(&mut ours, n);
        assert_eq!(ours, serde_json::to_vec(&Value::from(n)).unwrap());
    }
    for f in [0.0, -0.0, 1.0, 1.5, 1e300, 5e-324, f64::NAN, f64::INFINITY] {
        let mut ours = Vec::new();
        write_f64(&mut ours, f);
        assert_eq!(ours, serde_json::to_vec(&Value::from(f)).unwrap(), "{f}");
    }
}

/// Texts with bytes to escape every few bytes, in every alignment to the
/// sixteen-byte blocks and over several strides of four blocks: written as
/// `serde_json` writes them.
#[test]
fn writes_escape_dense_strings_as_serde_json_does() {
    let pieces = [
        "a",
        "line ",
        "0123456789abcdefghij",
        "\"",
        "\\",
        "\n",
        "\u{1}",
        "\u{1f}",
        "é",
        "😀",
        "/",
    ];
    let mut rng = XorShift(99);
    let mut next = |bound: usize| rng.below(bound);
    for _ in 0..3000 {
        let text: String = (0..next(80)).map(|_| pieces[next(pieces.len())]).collect();
        let mut ours = b"prefix".to_vec();
        write_str(&mut ours, &text);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            format!("prefix{}", serde_json::to_string(&text).unwrap())
        );
    }
}

#[test]
fn finds_the_first_special_byte() {
    assert_eq!(skip_plain_string_bytes(b"abcdefghijklmnop\"", 0), 16);
    assert_eq!(skip_plain_string_bytes(b"abc\\", 0), 3);
    assert_eq!(skip_plain_string_bytes(b"abcdefgh\x1f", 2), 8);
    assert_eq!(skip_plain_string_bytes("é€😀".as_bytes(), 0), 9);
}

/// Every arrangement of backslashes in a block, with and without an escape
/// carried in: the same escaped bytes and carry as stepping byte by byte.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
#[test]
fn escaped_bytes_agrees_with_stepping_through_the_block() {
    for backslashes in 0..=0xffff_u64 {
        for carried_in in [0, 1] {
            let (mut expected, mut escaping) = (0, carried_in == 1);
            for bit in 0..16 {
                if escaping {
                    expected |= 1 << bit;
                    escaping = false;
                } else if backslashes & (1 << bit) != 0 {
                    escaping = true;
                }
            }
            let mut carried = carried_in;
            assert_eq!(
                escaped_bytes::<16>(backslashes, &mut carried),
                expected,
                "{backslashes:016b} carrying {carried_in}"
            );
            assert_eq!(
                carried,
                u64::from(escaping),
                "{backslashes:016b} carrying {carried_in}"
            );
        }
    }
}

/// A stride of four blocks gives what the four blocks give one after
/// another, carry included, which the test above pins down per block.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
#[test]
fn escaped_bytes_of_a_stride_agrees_with_its_blocks_in_turn() {
    let mut rng = XorShift(0x5eed_0064);
    for round in 0..200_000 {
        // Sparse, dense and run-heavy arrangements alike.
        let backslashes = match round % 3 {
            0 => rng.bits(),
            1 => rng.bits() & rng.bits(),
            _ => rng.bits() | rng.bits(),
        };
        for carried_in in [0, 1] {
            let (mut expected, mut carried_by_blocks) = (0, carried_in);
            for i in 0..4 {
                let block = (backslashes >> (16 * i)) & 0xffff;
                expected |= escaped_bytes::<16>(block, &mut carried_by_blocks) << (16 * i);
            }
            let mut carried = carried_in;
            assert_eq!(
                escaped_bytes::<64>(backslashes, &mut carried),
                expected,
                "{backslashes:064b} carrying {carried_in}"
            );
            assert_eq!(
                carried, carried_by_blocks,
                "{backslashes:064b} carrying {carried_in}"
            );
        }
    }
}

#[test]
fn finds_where_a_string_ends_with_escapes_in_every_block_position() {
    fn byte_at_a_time(bytes: &[u8], mut pos: usize) -> Option<usize> {
        while pos < bytes.len() {
            match bytes[pos] {
                b'"' => return Some(pos + 1),
                b'\\' => pos += 2,
                _ => pos += 1,
            }
        }
        None
    }
    let pieces: [&[u8]; 6] = [b"ab", b"0123456789", br#"\""#, br"\\", b"\x01", br"\u00e9"];
    let mut rng = XorShift(7);
    let mut next = |bound: usize| rng.below(bound);
    // Up to 60 pieces, so that strings run over several strides of four
    // blocks, with runs of backslashes across their edges.
    for _ in 0..5000 {
        let mut text = b"\"".repeat(next(3));
        text.extend(std::iter::repeat_n(b'x', next(17)));
        let start = text.len();
        for _ in 0..next(60) {
            text.extend_from_slice(pieces[next(pieces.len())]);
        }
        // The closing quote, or not, then more that looks like strings.
        match next(3) {
            0 => text.extend_from_slice(br#"" tail "x" \""#),
            1 => text.push(b'\\'),
            _ => {}
        }
        assert_eq!(
            string_end(&text, start),
            byte_at_a_time(&text, start),
            "{}",
            String::from_utf8_lossy(&text[start..])
        );
    }
}

#[test]
fn finds_where_a_string_ends() {
    // Each string's body starts at 1, past its opening quote.
    assert_eq!(string_end(br#""plain" rest"#, 1), Some(7));
    assert_eq!(string_end(br#""a \" b \\" rest"#, 1), Some(11));
    assert_eq!(string_end(b"\"raw \x01 control\"", 1), Some(15));
    assert_eq!(string_end(br#""never ends"#, 1), None);
    assert_eq!(string_end(br#""escaped quote at the end\""#, 1), None);
    assert_eq!(string_end(br#""backslash last\"#, 1), None);
}

/// Every special byte, at every position of strings long enough to go
/// through the sixteen-byte, eight-byte and single-byte steps, from
/// every start: the answer is always the first special byte. The ASCII
/// variant also stops at every non-ASCII byte; the other passes them.
#[test]
fn finds_the_first_special_byte_at_every_offset() {
    let specials = [b'"', b'\\', 0x00, 0x1f];
    let non_ascii = [0x80, 0xc3, 0xff];
    // Bytes on either side of the special ones.
    let ascii_plain = [b' ', b'!', b'#', b'[', b']', 0x7f];
    let plain = [b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff];
    type Skip = fn(&[u8], usize) -> usize;
    let variants: [(Skip, &[u8], Vec<u8>); 2] = [
        (skip_plain_string_bytes, &plain, specials.to_vec()),
        (
            skip_plain_ascii_string_bytes,
            &ascii_plain,
            [&specials[..], &non_ascii].concat(),
        ),
    ];
    for (skip, plain, specials) in variants {
        for len in 0..70 {
            for start in 0..=len {
                let filler = plain[(len + start) % plain.len()];
                let mut bytes = vec![filler; len];
                assert_eq!(skip(&bytes, start), len);
                for at in start..len {
                    for &special in &specials {
                        bytes[at] = special;
                        assert_eq!(skip(&bytes, start), at, "len {len} start {start} at {at}");
                        bytes[at] = filler;
                    }
                }
            }
        }
    }
}
/// `container_end` against the byte-at-a-time walk it replaced, on
/// random text over the bytes that matter to it (so escapes, quotes and
/// brackets fall at every offset of the sixteen-byte blocks, and strings
/// and escapes run across their edges) and on real-looking nested events.
#[test]
fn finds_where_a_container_ends() {
    fn byte_at_a_time(bytes: &[u8], mut pos: usize) -> Option<usize> {
        let mut depth = 1;
        while pos < bytes.len() {
            match bytes[pos] {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(pos + 1);
                    }
                }
                b'"' => {
                    pos = string_end(bytes, pos + 1)?;
                    continue;
                }
                _ => {}
            }
            pos += 1;
        }
        None
    }
    // The second alphabet opens more than it closes, so that containers
    // run on across many blocks.
    let alphabets: [&[u8]; 2] = [b"{}[]\"\\a:,", b"{{[[}]\"\\\\aaaa:,"];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut long = 0;
    for round in 0..50_000 {
        let alphabet = alphabets[round % 2];
        let len = (random() % 300) as usize;
        let text: Vec<u8> = std::iter::once(b'{')
            .chain((0..len).map(|_| alphabet[(random() % alphabet.len() as u64) as usize]))
            .collect();
        assert_eq!(
            container_end(&text, 1),
            byte_at_a_time(&text, 1),
            "{}",
            String::from_utf8_lossy(&text)
        );
        long += usize::from(byte_at_a_time(&text, 1).is_none_or(|end| end > 150));
    }
    assert!(long > 5_000, "only {long} texts ran past 150 bytes");
    let event = r#"{"agent":{"name":"web-1","type":"filebeat"},"log":{"file":{"path":"/var/log/a \"b\".log"},"offset":[1,2,{"x":"]}"}]},"tags":["a\\","b"]}"#;
    for start in 0..16 {
        let padded = format!("{}{event} tail", " ".repeat(start));
        assert_eq!(
            container_end(padded.as_bytes(), start + 1),
            Some(start + event.len())
        );
    }
}

#[test]
fn unescape_matches_serde_json() {
    let mut out = String::from("old");
    for raw in [
        r#""plain""#,
        r#""a \"q\" \\ \/ \n\t\r\b\f""#,
        r#""\u00e9 \ud83d\ude00 \u4e2d""#,
        r#""caf\u00e9 ünï""#,
        r#""""#,
    ] {
        assert!(unescape_str_into(raw.as_bytes(), &mut out), "{raw}");
        assert_eq!(out, serde_json::from_str::<String>(raw).unwrap());
    }
    assert!(!unescape_str_into(br#""bad \x""#, &mut out));
    // `u32::from_str_radix` takes a sign; JSON's four hex digits do not.
    assert!(!unescape_str_into(br#""\u+041""#, &mut out));
    assert!(serde_json::from_str::<String>(r#""\u+041""#).is_err());
    assert!(!unescape_str_into(br#""lone \ud83d""#, &mut out));
    assert!(!unescape_str_into(br#""lone \ude00 trail""#, &mut out));
    assert!(!unescape_str_into(b"\"raw \x01 control\"", &mut out));
    assert!(!unescape_str_into(b"12", &mut out));
}

/// Escapes every few bytes, in every alignment to the sixteen-byte blocks
/// and at either end, valid and not: always what `serde_json` reads.
#[test]
fn unescape_matches_serde_json_on_escape_dense_strings() {
    let mut rng = XorShift(12345);
    let mut out = String::new();
    for _ in 0..3000 {
        let raw = [&b"\""[..], &escape_dense_string_body(&mut rng), b"\""].concat();
        let expected = serde_json::from_slice::<String>(&raw).ok();
        let ours = unescape_str_into(&raw, &mut out).then(|| out.clone());
        assert_eq!(ours, expected, "{}", String::from_utf8_lossy(&raw));
    }
}

/// UTF-8 is checked only where non-ASCII bytes occur, so every position of
/// a valid or invalid sequence (in short strings and in the sixteen-byte
/// blocks of long ones, beside escapes and at either end) must be judged as
/// `serde_json` judges it.
#[test]
fn unescape_checks_utf8_wherever_it_occurs() {
    let sequences: [&[u8]; 9] = [
        "é".as_bytes(),
        "中".as_bytes(),
        "😀".as_bytes(),
        b"\xff",
        b"\xc3",                 // truncated
        b"\xc0\xaf",             // overlong
        b"\xed\xa0\x80",         // a surrogate
        b"\xe4\xb8",             // truncated, three-byte
        b"\xf0\x9f\x98\x80\x80", // a stray continuation byte after a character
    ];
    let mut out = String::new();
    for filler in [
        &b"ab"[..],
        b"abcdefghijklmnopqrstuvwxyz012345",
        b"a\\nb\\\"c",
    ] {
        for sequence in sequences {
            for at in 0..=filler.len() {
                let mut raw = b"\"".to_vec();
                raw.extend_from_slice(&filler[..at]);
                raw.extend_from_slice(sequence);
                raw.extend_from_slice(&filler[at..]);
                raw.push(b'"');
                let expected = serde_json::from_slice::<String>(&raw).ok();
                let ours = unescape_str_into(&raw, &mut out).then(|| out.clone());
                assert_eq!(ours, expected, "{}", String::from_utf8_lossy(&raw));
            }
        }
    }
}

#[test]
fn nesting_counts_containers_one_inside_another() {
    for (value, deep) in [
        (json!(1), 0),
        (json!("[[x]]"), 0),
        (json!([]), 1),
        (json!({"a": 1}), 1),
        (json!([1, [2, [3]], {"a": []}]), 3),
        (json!({"a": {"b": [{}]}, "c": 1}), 4),
    ] {
        assert_eq!(nesting(&value), deep, "{value}");
    }
    // serde_json reads as deep as the limit, and no deeper.
    let deepest = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
    let value: Value = serde_json::from_str(&deepest).unwrap();
    assert_eq!(nesting(&value), MAX_NESTING);
    let deeper = format!("[{deepest}]");
    assert!(serde_json::from_str::<Value>(&deeper).is_err());
}
