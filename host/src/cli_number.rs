//! Whole-number command-line options.
//!
//! clap's parser for `u64` reads `-1` as text with a bad digit, and says
//! "invalid digit found in string", where its parsers for the smaller
//! types say which numbers are allowed. Every `u64` option parses through
//! here instead, so that each says the same thing.

/// A whole number in `MIN..=MAX`, for `#[arg(value_parser = ...)]`.
pub fn in_range<const MIN: u64, const MAX: u64>(text: &str) -> Result<u64, String> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a whole number"));
    }
    // A negative number, or one too large for a u64, is a number still:
    // say where it falls short. `-0` is zero.
    let below_zero = negative && digits.bytes().any(|b| b != b'0');
    match digits.parse::<u64>() {
        Ok(n) if !below_zero && (MIN..=MAX).contains(&n) => Ok(n),
        _ => Err(format!("{text} is not in {MIN}..={MAX}")),
    }
}

#[cfg(test)]
mod tests {
    use super::in_range;

    #[test]
    fn says_the_range_for_any_number_outside_it() {
        assert_eq!(in_range::<1, 10>("10"), Ok(10));
        assert_eq!(
            in_range::<0, { u64::MAX }>("18446744073709551615"),
            Ok(u64::MAX)
        );
        assert_eq!(in_range::<1, 10>("-1"), Err("-1 is not in 1..=10".into()));
        assert_eq!(in_range::<1, 10>("0"), Err("0 is not in 1..=10".into()));
        assert_eq!(
            in_range::<0, { u64::MAX }>("18446744073709551616"),
            Err("18446744073709551616 is not in 0..=18446744073709551615".into())
        );
        let long = "9".repeat(60);
        assert_eq!(
            in_range::<1, 10>(&long),
            Err(format!("{long} is not in 1..=10"))
        );
        assert_eq!(in_range::<0, 10>("-0"), Ok(0));
        assert_eq!(in_range::<0, 10>("+7"), Ok(7));
        assert_eq!(in_range::<1, 10>("-0"), Err("-0 is not in 1..=10".into()));
    }

    #[test]
    fn says_when_the_text_is_no_whole_number() {
        for text in ["", "-", "+", "1.5", "ten", " 3", "0x10", "--1", "1e3"] {
            assert_eq!(
                in_range::<0, 10>(text),
                Err(format!("`{text}` is not a whole number"))
            );
        }
    }
}
