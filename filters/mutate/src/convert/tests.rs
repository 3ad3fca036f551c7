//! The readings of single values, each against what Ruby and Logstash's
//! mutate give; `convert` on whole events is tested in `src/tests/convert.rs`.

use super::*;
use wasmstash_sdk::json;

#[test]
fn integers_are_read_as_logstash_8_14_reads_them() {
    for (input, expected) in [
        (json!("42"), Some(json!(42))),
        (json!(" -7 "), Some(json!(-7))),
        (json!("1,234"), Some(json!(1234))),
        (json!("12abc"), Some(json!(12))),
        (json!("1e3"), Some(json!(1000))),
        (json!("1.5e1"), Some(json!(15))),
        (json!("1e"), None),
        (json!("0x1A"), Some(json!(26))),
        (json!("-0x10"), Some(json!(-16))),
        (json!("3.9"), Some(json!(3))),
        (json!("1_000"), Some(json!(1000))),
        // Ruby's strip takes NUL off too.
        (json!("1e3\u{0}"), Some(json!(1000))),
        (json!("0x1A\u{0}"), Some(json!(26))),
        (json!("12 \u{0} "), Some(json!(12))),
        // Stripped before its commas go: a NUL then leads, which
        // `to_i` does not pass over.
        (json!(" ,\u{0} 1"), Some(json!(0))),
        (json!("-"), Some(json!(0))),
        (json!(""), Some(json!(0))),
        (json!("forty"), Some(json!(0))),
        (json!(true), Some(json!(1))),
        (json!(-2.7), Some(json!(-2))),
        (json!(5), Some(json!(5))),
    ] {
        assert_eq!(
            Conversion::Integer.apply(&input, false),
            expected,
            "{input}"
        );
    }
    assert_eq!(
        Conversion::IntegerEu.apply(&json!("1.234"), false),
        Some(json!(1234))
    );
    // The older reading: `to_i` whatever the text.
    assert_eq!(
        Conversion::Integer.apply(&json!("1e3"), true),
        Some(json!(1))
    );
    assert_eq!(
        Conversion::Integer.apply(&json!("0x1A"), true),
        Some(json!(0))
    );
}

#[test]
fn hexadecimal_is_exact_at_any_length_and_fails_on_anything_else() {
    let mut rng = wasmstash_sdk::testing::XorShift(0x6e78_0000_0000_0001);
    for _ in 0..2_000 {
        let n = u128::from(rng.bits()) << 64 | u128::from(rng.bits());
        let n = n >> rng.below(128);
        assert_eq!(hex_to_decimal(&format!("{n:x}")), n.to_string());
        assert_eq!(hex_to_decimal(&format!("000{n:X}")), n.to_string());
    }
    // Past a double's range, hex is what decimal digits are.
    let huge_hex = format!("-0x{}", "f".repeat(300));
    let huge_decimal = format!("-{}", "9".repeat(400));
    assert_eq!(
        Conversion::Integer.apply(&json!(huge_hex), false),
        Conversion::Integer.apply(&json!(huge_decimal), false)
    );
    // Ruby's `Float()` gives Infinity, which JSON cannot hold.
    assert_eq!(Conversion::Float.apply(&json!(huge_hex), false), None);
    assert_eq!(
        Conversion::Float.apply(&json!(format!("0x{}", "f".repeat(255))), false),
        Some(json!(1.1235582092889474e307))
    );
    // Rounded to the nearest double, halves to even, as JRuby's
    // `Float()` rounds.
    for (text, nearest) in [
        ("0x1fffffffffffff7", 1.4411518807585586e17),
        ("0x20000000000001", 9007199254740992.0),
        ("0x20000000000003", 9007199254740996.0),
    ] {
        assert_eq!(
            Conversion::Float.apply(&json!(text), false),
            Some(json!(nearest))
        );
    }
    assert_eq!(
        Conversion::Float.apply(&json!("-0x0"), false),
        Some(json!(-0.0))
    );
    assert_eq!(
        Conversion::Integer.apply(&json!("0xa_b_c"), false),
        Some(json!(2748))
    );
    assert_eq!(
        Conversion::Float.apply(&json!("0x1_a"), false),
        Some(json!(26.0))
    );
    for text in [
        "0x", "+0X", "0xZZ", "0x1g", "0x1.8", "0x 1", "5\n-0x1", "0x1__0", "0x_1", "0x1_",
    ] {
        assert_eq!(
            Conversion::Integer.apply(&json!(text), false),
            None,
            "{text}"
        );
        assert_eq!(Conversion::Float.apply(&json!(text), false), None, "{text}");
    }
    // Logstash drops the first sign that starts a line, even a later
    // one, before `Float()`; `Integer()` takes the whole text.
    assert_eq!(
        Conversion::Float.apply(&json!("0x1a\n-"), false),
        Some(json!(26.0))
    );
    assert_eq!(Conversion::Integer.apply(&json!("0x1a\n-"), false), None);
    // Neither a sign twice nor `0x` after the start is hex, to Logstash.
    assert_eq!(
        Conversion::Integer.apply(&json!("+-0x1"), false),
        Some(json!(0))
    );
    assert_eq!(
        Conversion::Integer.apply(&json!("00x1"), false),
        Some(json!(0))
    );
}

#[test]
fn floats_are_read_strictly_unless_lenient() {
    for (input, strict, lenient) in [
        (json!("1.5"), Some(json!(1.5)), json!(1.5)),
        (json!(" 1,234.5 "), Some(json!(1234.5)), json!(1234.5)),
        (json!(".5"), Some(json!(0.5)), json!(0.5)),
        (json!("1e3"), Some(json!(1000.0)), json!(1000.0)),
        (json!("1_000.5"), Some(json!(1000.5)), json!(1000.5)),
        (json!("12 \u{0} "), Some(json!(12.0)), json!(12.0)),
        (json!("0x1A"), Some(json!(26.0)), json!(0.0)),
        (json!("5."), None, json!(5.0)),
        (json!("2.5e-1x"), None, json!(0.25)),
        (json!("1e"), None, json!(1.0)),
        (json!("-"), None, json!(0.0)),
        (json!(""), None, json!(0.0)),
        (json!("abc"), None, json!(0.0)),
        (json!("1__0"), None, json!(1.0)),
        (json!(true), Some(json!(1.0)), json!(1.0)),
        (json!(3), Some(json!(3.0)), json!(3.0)),
    ] {
        assert_eq!(Conversion::Float.apply(&input, false), strict, "{input}");
        assert_eq!(
            Conversion::Float.apply(&input, true),
            Some(lenient),
            "{input}"
        );
    }
    assert_eq!(
        Conversion::FloatEu.apply(&json!("1.234,5"), false),
        Some(json!(1234.5))
    );
    // Past a double's range Ruby gives Infinity, which JSON cannot hold.
    for lenient in [false, true] {
        assert_eq!(Conversion::Float.apply(&json!("1e400"), lenient), None);
    }
}

#[test]
fn booleans_know_logstash_words_and_leave_the_rest() {
    for (input, expected) in [
        (json!("yes"), json!(true)),
        (json!("T"), json!(true)),
        (json!("1.0"), json!(true)),
        (json!(1), json!(true)),
        (json!("N"), json!(false)),
        (json!(""), json!(false)),
        (json!(0), json!(false)),
        (json!("maybe"), json!("maybe")),
        (json!(2), json!(2)),
        // Ruby's line anchors: any line may be the word, true first.
        (json!("true\n"), json!(true)),
        (json!("foo\nfalse"), json!(false)),
        (json!("\nfalse"), json!(false)),
        (json!("x\n0\ny"), json!(true)),
        (json!("0\n1"), json!(true)),
        (json!("t\r"), json!("t\r")),
        (json!("truex\nno"), json!(false)),
        // `.` is any character but a line break; `/i` folds `ſ` to `s`.
        (json!("1x0"), json!(true)),
        (json!("0€0"), json!(false)),
        (json!("1\n0"), json!(true)),
        (json!("1\n\n0"), json!(true)),
        (json!("yeſ"), json!(true)),
        (json!("FALſE"), json!(false)),
        (json!("\u{212a}"), json!("\u{212a}")),
        (json!("İ"), json!("İ")),
    ] {
        assert_eq!(
            Conversion::Boolean.apply(&input, false),
            Some(expected),
            "{input}"
        );
    }
}

#[test]
fn lists_convert_member_by_member_and_objects_stay() {
    assert_eq!(
        Conversion::Integer.apply(&json!(["1", null, "x", 2.5]), false),
        Some(json!([1, null, 0, 2]))
    );
    assert_eq!(
        Conversion::String.apply(&json!([1, 1.5, true, "s"]), false),
        Some(json!(["1", "1.5", "true", "s"]))
    );
    assert_eq!(
        Conversion::Integer.apply(&json!({"a": "1"}), false),
        Some(json!({"a": "1"}))
    );
    // Ruby's `Integer()` and `Float()` raise on a Hash or an Array.
    for member in [json!({"a": "1"}), json!([1])] {
        for conversion in [Conversion::Integer, Conversion::Float] {
            for lenient in [false, true] {
                assert_eq!(
                    conversion.apply(&json!(["1", member]), lenient),
                    None,
                    "{member}"
                );
            }
        }
    }
    // One member Ruby cannot read fails the whole field.
    assert_eq!(Conversion::Float.apply(&json!(["1", "x"]), false), None);
}

#[test]
fn numbers_become_text_as_ruby_writes_them() {
    // Ruby's Float#to_s, whatever text the number came in.
    let texts = r#"[1.50, 1E2, 3.14159265358979323846, 0.00001, 1.5e-7, 1e20, -0.0, 12, 123456789012345678901234567890]"#;
    let numbers: Value = serde_json::from_str(texts).unwrap();
    assert_eq!(
        Conversion::String.apply(&numbers, false),
        Some(json!([
            "1.5",
            "100.0",
            "3.141592653589793",
            "1.0e-05",
            "1.5e-07",
            "1.0e+20",
            "-0.0",
            "12",
            "123456789012345678901234567890"
        ]))
    );
}
