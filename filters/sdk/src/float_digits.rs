//! The decimal digits of a double as Ruby's `Float#to_s` and Java's
//! `Double.toString` choose them: the fewest that read back as the same
//! double, the nearest of those, and the even one when two are equally
//! near. The two languages lay the digits out differently
//! ([`crate::logstash::ruby_number`], [`crate::logstash::java_number`]), but share this rule,
//! so it is written once.

/// The text both languages write for a double without digits to choose
/// (`NaN`, `Infinity`, `-Infinity`, `0.0`, `-0.0`) as `Err`; else the sign
/// to write before its digits and its magnitude.
pub(crate) fn sign_and_magnitude(value: f64) -> Result<(&'static str, f64), String> {
    if value.is_nan() {
        return Err("NaN".into());
    }
    if value.is_infinite() {
        return Err(if value > 0.0 { "Infinity" } else { "-Infinity" }.into());
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if value == 0.0 {
        return Err(format!("{sign}0.0"));
    }
    Ok((sign, value.abs()))
}

/// The digits of `value` (finite and above zero) and the power of ten of
/// the first: `1500.0` is `("15", 3)`, `0.025` is `("25", -2)`.
pub(crate) fn shortest_digits(value: f64) -> (String, i32) {
    // Rust's `{:e}` gives the shortest digits that read back. Where two
    // such are equally near (the value lies halfway), the even one is the
    // value rounded to that many digits, which `{:.Ne}` does exactly,
    // halves to even.
    let shortest = digits_and_exponent(&format!("{value:e}"));
    let rounded = format!("{:.*e}", shortest.0.len() - 1, value);
    match rounded.parse::<f64>() {
        Ok(back) if back == value => digits_and_exponent(&rounded),
        _ => shortest,
    }
}

/// The digits and the exponent of Rust's `{:e}` text, `d[.ddd]e[-]x`.
pub(crate) fn digits_and_exponent(scientific: &str) -> (String, i32) {
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let digits = mantissa.chars().filter(|c| *c != '.').collect();
    (
        digits,
        exponent.parse().expect("{:e}'s exponent is an integer"),
    )
}
