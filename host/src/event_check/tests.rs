//! The host's check of events and of a module's results, held to
//! serde_json's parser as the reference for what is valid JSON.

use super::{CheckedEvent, check_event};
use wasmstash_sdk::plumbing::wire;
use wasmstash_sdk::testing::{XorShift, escape_dense_string_body};

/// The reference: serde_json's own parser, with a visitor that refuses a
/// repeated key and a number beyond an f64's range (the SDK's, which its
/// native test kit holds filters' results to). `check_event` must agree
/// with it on acceptance.
mod oracle {
    pub fn accepts(bytes: &[u8]) -> bool {
        wasmstash_sdk::testing::host_refusal(bytes).is_none()
    }
}

#[test]
fn accepts_objects() {
    assert!(check_event(br#" {"a":[1,{"b":null}],"c":"\u00e9","a\"":2, "n":-0.5e+3} "#).is_ok());
    assert!(check_event(b"{}").is_ok());
    let near = br#"{"$serde_json::private::Numbers":1,"serde_json::private::Number":2}"#;
    assert!(check_event(near).is_ok());
}

#[test]
fn rejects_everything_else_with_a_reason() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty event"),
        (b"[1]", "not a JSON object"),
        (b"\"x\"", "not a JSON object"),
        (br#"{"a":1,"a":2}"#, "duplicate key `a`"),
        (br#"{"o":{"k":1,"k":1}}"#, "duplicate key `k`"),
        (br#"{"a":1,"\u0061":2}"#, "duplicate key `a`"),
        (br#"{"a":1} {"b":2}"#, "trailing characters"),
        (br#"{"a":1"#, "expected `,` or `}`"),
        (b"{\"a\":\"\xff\"}", "invalid UTF-8 at byte 6"),
        (b"{\"a\":\"tab\there\"}", "control character"),
        (br#"{"a":"\ud800"}"#, "lone leading surrogate"),
        (br#"{"a":1e400}"#, "number out of range"),
        (br#"{"a":01}"#, "expected `,` or `}`"),
        // serde_json's token for a number, as the SDK reads values: kept
        // out, also spelled with escapes and later in an object, since a
        // filter would read `{"a":{token:"1"}}` as `{"a":1}`.
        (
            br#"{"a":{"$serde_json::private::Number":"1"}}"#,
            "the key `$serde_json::private::Number` at byte 6 cannot be used",
        ),
        (
            br#"{"$serde_json::private::Number":"x"}"#,
            "`$serde_json::private::Number` at byte 1",
        ),
        (
            br#"{"m":1,"\u0024serde_json::private::Number":2}"#,
            "`$serde_json::private::Number` at byte 7",
        ),
    ];
    for (input, expected) in cases {
        let err = check_event(input).unwrap_err();
        assert!(
            err.contains(expected),
            "{:?}: {err}",
            String::from_utf8_lossy(input)
        );
    }
    let wide: String = (0..100).map(|i| format!("\"k{i}\":1,")).collect();
    let wide = format!("{{{wide}\"k7\":2}}");
    assert!(
        check_event(wide.as_bytes())
            .unwrap_err()
            .contains("duplicate key `k7`")
    );
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    assert!(
        check_event(deep.as_bytes())
            .unwrap_err()
            .contains("nesting too deep")
    );
}

/// Agreement with serde_json on tricky hand-picked inputs.
#[test]
fn agrees_with_serde_json_on_edge_cases() {
    let cases: &[&str] = &[
        r#"{"a":-0}"#,
        r#"{"a":-}"#,
        r#"{"a":1.}"#,
        r#"{"a":.5}"#,
        r#"{"a":1e}"#,
        r#"{"a":1E+2}"#,
        r#"{"a":18446744073709551615}"#,
        r#"{"a":18446744073709551616}"#,
        r#"{"a":-9223372036854775809}"#,
        r#"{"a":1e308}"#,
        r#"{"a":1e309}"#,
        r#"{"a":tru}"#,
        r#"{"a":nul}"#,
        r#"{"a":truex}"#,
        r#"{"a":"\ud83d\ude00"}"#,
        r#"{"a":"\udc00"}"#,
        r#"{"a":"\ud83dx"}"#,
        r#"{"a":"\u12"}"#,
        r#"{"a":"\x"}"#,
        r#"{"a":[1,]}"#,
        r#"{"a":1,}"#,
        r#"{,}"#,
        r#"{"a" 1}"#,
        "{\"a\":1}\n",
        "\t{\"a\":\"x\"}",
        r#"{"a":{"b":{"c":[{"d":"e"}]}}}"#,
        r#"{"":1,"":2}"#,
        r#"{"a\\":1,"a\\":1}"#,
        r#"{"a/":1,"a\/":1}"#,
        "{\"a\":\"\u{7f}\"}",
        r#"{"a":999999999999999999}"#,
        r#"{"a":-99999999999999999}"#,
        r#"{"a":9999999999999999999}"#,
        r#"{"a":-9999999999999999999}"#,
    ];
    for case in cases {
        assert_eq!(
            check_event(case.as_bytes()).is_ok(),
            oracle::accepts(case.as_bytes()),
            "disagree on {case}"
        );
    }
    for depth in 120..135 {
        let nested = format!("{{\"a\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(
            check_event(nested.as_bytes()).is_ok(),
            oracle::accepts(nested.as_bytes()),
            "depth {depth}"
        );
    }
}

/// A repeated key is found wherever it falls: among the few keys compared as
/// written, past them in the set, and across the switch between the two.
#[test]
fn finds_a_repeated_key_in_objects_of_any_size() {
    for len in 1..40 {
        let keys: Vec<String> = (0..len).map(|i| format!("\"k{i}\":{i}")).collect();
        let object = format!("{{{}}}", keys.join(","));
        assert!(check_event(object.as_bytes()).is_ok(), "{object}");
        for repeated in 0..len {
            let with_repeat = format!("{{{},\"k{repeated}\":0}}", keys.join(","));
            let error = check_event(with_repeat.as_bytes()).unwrap_err();
            assert!(
                error.contains(&format!("`k{repeated}`")),
                "{with_repeat}: {error}"
            );
        }
    }
}

/// Agreement with serde_json on real events and on every single-byte
/// corruption and truncation of a few of them.
#[test]
fn agrees_with_serde_json_on_mangled_real_events() {
    let path = wasmstash_sdk::crate_dir!().join("../../shared/data/access/apache_logs");
    let text = std::fs::read_to_string(path).expect("test data at ../shared/data (see the README)");
    let mut checked = 0;
    for (i, line) in text.lines().enumerate().step_by(97) {
        let event = serde_json::json!({
            "message": line, "n": i, "f": -1.5e-3, "ok": true, "none": null,
            "nested": {"parts": line.split(' ').take(4).collect::<Vec<_>>(), "é": "ü\u{1F600}\n"},
        })
        .to_string();
        let bytes = event.as_bytes();
        assert!(check_event(bytes).is_ok());
        let replacements: &[u8] = b"\"\\{}[]:,0e-+ .u\x01\xffa\x80\xc3";
        for at in (0..bytes.len()).step_by(3) {
            for &replacement in replacements {
                let mut mangled = bytes.to_vec();
                mangled[at] = replacement;
                assert_eq!(
                    check_event(&mangled).is_ok(),
                    oracle::accepts(&mangled),
                    "disagree on {}",
                    String::from_utf8_lossy(&mangled)
                );
                checked += 1;
            }
            assert_eq!(
                check_event(&bytes[..at]).is_ok(),
                oracle::accepts(&bytes[..at])
            );
        }
    }
    assert!(checked > 100_000, "only {checked} variants");
}

/// Checking only the added members of an `extended` result accepts exactly
/// what checking the whole extended event would, on every single-byte
/// corruption and truncation of some added members, against events with and
/// without the keys they add.
#[test]
fn extended_results_are_checked_as_strictly_as_whole_events() {
    let inputs: [&[u8]; 4] = [
        br#"{"message":"GET /a \"q\"","n":1}"#,
        b" { } ",
        br#"{"user":{"name":"x"},"tags":["t"]}"#,
        "{\"\\u0075ser\":1}\n".as_bytes(),
    ];
    let members = r#""user":{"name":"é","id":[1,-2.5e3,true,null]},"source":{"ip":"1.2.3.4"}"#;
    let replacements: &[u8] = b"\"\\{}[]:,0e-+ .u\x01\xffa";
    let mut checked = 0;
    for input in inputs {
        let agree = |members: &[u8]| {
            let mut event = CheckedEvent::new(input.to_vec()).unwrap();
            let ours = event.check_added(members);
            let mut whole = input.to_vec();
            if !members.iter().all(u8::is_ascii_whitespace) {
                wire::extend_event(input, members, &mut whole);
            }
            let whole = CheckedEvent::new(whole);
            assert_eq!(
                ours.is_ok(),
                whole.is_ok(),
                "{} + {}: {ours:?} vs {whole:?}",
                String::from_utf8_lossy(input),
                String::from_utf8_lossy(members)
            );
            // Added in place, with the keys carried: the event a whole
            // check makes of the text, keys and all.
            if let (Ok(added), Ok(whole)) = (ours, whole) {
                event.add(added);
                assert_eq!(event, whole);
            }
        };
        let bytes = members.as_bytes();
        for at in 0..bytes.len() {
            for &replacement in replacements {
                let mut mangled = bytes.to_vec();
                mangled[at] = replacement;
                agree(&mangled);
                checked += 1;
            }
            agree(&bytes[..at]);
        }
    }
    assert!(checked > 5_000, "only {checked} variants");
}

/// Non-ASCII text at every offset of a string, so across the sixteen-byte
/// blocks the string scan takes, whole and with each of its bytes replaced:
/// the verdict agrees with serde_json, and an event that is not UTF-8 is
/// reported at the byte the standard library names.
#[test]
fn checks_utf8_wherever_it_falls_in_a_string() {
    let samples = ["é", "€", "😀", "\u{10FFFF}", "\u{7FF}\u{800}", "ü😀é"];
    let replacements = [
        b'a', b'"', 0x80, 0xbf, 0xc0, 0xc3, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff,
    ];
    for sample in samples {
        for offset in 0..40 {
            let text = format!("{}{sample}{}", "a".repeat(offset), "b".repeat(offset % 7));
            let event = format!("{{\"k\":\"{text}\"}}");
            let bytes = event.as_bytes();
            assert!(check_event(bytes).is_ok(), "{event}");
            let start = "{\"k\":\"".len() + offset;
            for at in start..start + sample.len() {
                for replacement in replacements {
                    let mut mangled = bytes.to_vec();
                    mangled[at] = replacement;
                    let verdict = check_event(&mangled);
                    assert_eq!(verdict.is_ok(), oracle::accepts(&mangled), "{mangled:?}");
                    if let Err(e) = std::str::from_utf8(&mangled) {
                        assert_eq!(
                            verdict.unwrap_err(),
                            format!("invalid UTF-8 at byte {}", e.valid_up_to())
                        );
                    }
                }
            }
        }
    }
}

/// Strings with escapes every few bytes, valid and not, in every alignment
/// to the sixteen-byte blocks of the string scans, as values and as keys:
/// always the oracle's verdict. Long ones, with more of the event after
/// them, are read in strides of 64 bytes past their first escape.
#[test]
fn agrees_with_serde_json_on_escape_dense_strings() {
    let mut rng = XorShift(2024);
    let after = format!(",\"after\":\"{}\"", "x".repeat(64));
    for _ in 0..4000 {
        let string = escape_dense_string_body(&mut rng);
        let long = [
            escape_dense_string_body(&mut rng),
            string.clone(),
            escape_dense_string_body(&mut rng),
        ]
        .concat();
        let pad = "p".repeat(rng.below(16));
        for event in [
            [&b"{\"k"[..], pad.as_bytes(), b"\":\"", &string, b"\"}"].concat(),
            [&b"{\""[..], &string, b"\":1,\"", &string, b"\":2}"].concat(),
            [
                &b"{\"k"[..],
                pad.as_bytes(),
                b"\":\"",
                &long,
                b"\"",
                after.as_bytes(),
                b"}",
            ]
            .concat(),
            [
                &b"{\""[..],
                &long,
                b"\":1",
                after.as_bytes(),
                b",\"",
                &long,
                b"\":2}",
            ]
            .concat(),
        ] {
            assert_eq!(
                check_event(&event).is_ok(),
                oracle::accepts(&event),
                "{}",
                String::from_utf8_lossy(&event)
            );
        }
    }
}

/// Every run of whitespace an event can have, of every mix of the four
/// whitespace bytes, wherever whitespace may stand: the checked text is the
/// input with each `\n` and `\r` made a space, and an escaped one in a
/// string is left as it is.
#[test]
fn line_breaks_in_whitespace_become_spaces() {
    let shape = r#"_{_"a\n"_:_[_1_,_{_"b"_:_"c\r"_}_]_,_"d"_:_"e"_}_"#;
    let runs: [&[u8]; 9] = [
        b"",
        b" ",
        b"\t",
        b"\n",
        b"\r",
        b"\r\n",
        b" \n\t",
        b"\t\r ",
        b"\n\n\r\r",
    ];
    for (i, run) in runs.iter().enumerate() {
        for (j, other) in runs.iter().enumerate() {
            // Alternate two runs over the places, so each meets every other.
            let mut text = Vec::new();
            for (k, part) in shape.split('_').enumerate() {
                if k > 0 {
                    text.extend_from_slice(if k % 2 == 0 { run } else { other });
                }
                text.extend_from_slice(part.as_bytes());
            }
            let event = CheckedEvent::new(text.clone()).unwrap_or_else(|e| panic!("{i},{j}: {e}"));
            let expected: Vec<u8> = (text.iter())
                .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
                .collect();
            assert_eq!(event.text(), expected, "{i},{j}");
            assert!(event.text().windows(2).any(|w| w == br"\n"));
        }
    }
}
