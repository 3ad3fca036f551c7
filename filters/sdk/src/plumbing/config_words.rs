//! What a config's type error says, in the words of the file it was
//! written in: serde names Rust's types (`expected u64`, `expected struct
//! RateConfig`), and a config is TOML or JSON. Shared with the host, so
//! that a type error in `[engine]` or `[server]` reads as one in a
//! filter's own options does.

/// `message` with what it expected said as the config would write it
/// (`a whole number ≥ 0`, `a table`); a message of another shape as it is.
pub fn in_plain_words(message: String) -> String {
    let Some((found, expected)) = message.rsplit_once(", expected ") else {
        return message;
    };
    // An integer past 64 bits, which the toml crate reads as an i128.
    let past_64_bits = (found.strip_suffix(" as i128"))
        .or_else(|| found.strip_suffix(" as u128"))
        .and_then(|found| found.strip_prefix("invalid type: "));
    let whole = |(low, high): (i128, u128)| format!("a whole number from {low} to {high}");
    let expected = match (expected, whole_range(expected)) {
        // A bound too large to read well is said only when it was passed.
        ("u64" | "u128" | "usize", _) if past_64_bits.is_none() => "a whole number ≥ 0".into(),
        ("i64" | "i128" | "isize", _) if past_64_bits.is_none() => "a whole number".into(),
        (_, Some(range)) => whole(range),
        ("f32" | "f64", _) => "a number".into(),
        ("a boolean", _) => "true or false".into(),
        ("a string" | "a borrowed string", _) => "a string".into(),
        ("a sequence", _) => "a list".into(),
        ("a map", _) => "a table".into(),
        _ if expected.starts_with("struct ") => "a table".into(),
        _ => return message,
    };
    let found = match (past_64_bits, found.strip_prefix("invalid type: ")) {
        (Some(integer), _) => format!("invalid value: {integer}"),
        (_, Some("map")) => "invalid type: a table".into(),
        (_, Some("sequence")) => "invalid type: a list".into(),
        _ => found.into(),
    };
    format!("{found}, expected {expected}")
}

/// The values of the integer type serde names, on this target.
fn whole_range(rust_type: &str) -> Option<(i128, u128)> {
    Some(match rust_type {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" => (0, u64::MAX.into()),
        "usize" => (0, usize::MAX as u128),
        "i8" => (i8::MIN.into(), i8::MAX as u128),
        "i16" => (i16::MIN.into(), i16::MAX as u128),
        "i32" => (i32::MIN.into(), i32::MAX as u128),
        "i64" => (i64::MIN.into(), i64::MAX as u128),
        "isize" => (isize::MIN as i128, isize::MAX as u128),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::in_plain_words;

    #[test]
    fn rust_types_are_said_as_the_config_writes_values() {
        for (serde, plain) in [
            (
                r#"invalid type: string "x", expected u64"#,
                r#"invalid type: string "x", expected a whole number ≥ 0"#,
            ),
            (
                "invalid value: integer `-4`, expected usize",
                "invalid value: integer `-4`, expected a whole number ≥ 0",
            ),
            // Within 64 bits but past the type: its bounds are said.
            (
                "invalid value: integer `5000000000`, expected u32",
                "invalid value: integer `5000000000`, expected a whole number from 0 to 4294967295",
            ),
            (
                "invalid type: integer `99999999999999999999` as i128, expected u64",
                "invalid value: integer `99999999999999999999`, expected a whole number from 0 to 18446744073709551615",
            ),
            (
                "invalid type: floating point `1.5`, expected i64",
                "invalid type: floating point `1.5`, expected a whole number",
            ),
            (
                "invalid type: map, expected a sequence",
                "invalid type: a table, expected a list",
            ),
            (
                "invalid type: integer `5`, expected struct RateConfig",
                "invalid type: integer `5`, expected a table",
            ),
            (
                "unknown field `x`, expected `a`",
                "unknown field `x`, expected `a`",
            ),
        ] {
            assert_eq!(in_plain_words(serde.to_owned()), plain);
        }
    }
}
