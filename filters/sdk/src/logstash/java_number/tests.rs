//! `double_to_string` against Java's own answers, recorded by
//! `compat/DoubleOracle.java` (see `compat/regenerate-doubles`), and the
//! JSON numbers a `%{field}` reference prints.

use super::*;

const CASES: &str = include_str!("../../../compat/double-cases.tsv");

#[test]
fn doubles_print_as_java_prints_them() {
    let mut differences = Vec::new();
    let mut checked = 0;
    for (index, line) in CASES.lines().enumerate() {
        let (bits, java) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("double-cases.tsv line {}: no tab", index + 1));
        let value = f64::from_bits(u64::from_str_radix(bits, 16).expect("hex bits"));
        let ours = double_to_string(value);
        if ours != java {
            differences.push(format!("{value:e} ({bits}): ours {ours}, Java {java}"));
        }
        checked += 1;
    }
    crate::testing::assert_agrees("Java", &differences);
    assert!(checked >= 5000, "double-cases.tsv holds {checked} doubles");
}

#[test]
fn examples() {
    for (value, java) in [
        (1e7, "1.0E7"),
        (12345678.5, "1.23456785E7"),
        (1e-4, "1.0E-4"),
        (100.0, "100.0"),
        (-1.5, "-1.5"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1e-3, "0.001"),
        (9999999.0, "9999999.0"),
        (1e21, "1.0E21"),
        (f64::MAX, "1.7976931348623157E308"),
        (5e-324, "4.9E-324"),
        (-2.5e-7, "-2.5E-7"),
    ] {
        assert_eq!(double_to_string(value), java, "{value:e}");
    }
}

/// A JSON number as Logstash's reader makes it: a Double when written
/// with a fraction or an exponent, else a Long or a BigInteger.
#[test]
fn json_numbers_print_as_the_java_values_logstash_reads() {
    for (json, java) in [
        ("1e7", "1.0E7"),
        ("1E2", "100.0"),
        ("1.0", "1.0"),
        ("1.50", "1.5"),
        ("-0.0", "-0.0"),
        ("2.5e-3", "0.0025"),
        ("12", "12"),
        ("-7", "-7"),
        ("-0", "0"),
        ("18446744073709551615", "18446744073709551615"),
        (
            "123456789012345678901234567890",
            "123456789012345678901234567890",
        ),
        (
            "-123456789012345678901234567890",
            "-123456789012345678901234567890",
        ),
    ] {
        let number: Number = serde_json::from_str(json).unwrap();
        let mut out = String::from("[");
        push_number_text(&number, &mut out);
        assert_eq!(out, format!("[{java}"), "{json}");
    }
}
