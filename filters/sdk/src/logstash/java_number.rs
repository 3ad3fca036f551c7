//! Java's `toString` of the numbers Logstash's event holds for JSON
//! numbers, which is what its `sprintf` (`StringInterpolation`) prints for
//! a `%{field}` holding one: Logstash's JSON reader makes a `Double` of a
//! number written with a fraction or an exponent (`1.0`, `1E2`, `1e7`) and
//! a `Long` or a `BigInteger` of one written without, and the reference
//! prints that Java value, not the JSON text it came in. `1e7` prints as
//! `1.0E7`, `1E2` as `100.0`.

use std::fmt::Write;

use serde_json::Number;

use crate::float_digits::{digits_and_exponent, shortest_digits, sign_and_magnitude};

/// Appends what Java's `toString` gives for the value Logstash reads
/// `number` as: an integer's digits (`-0` is a `Long` zero, so `0`), a
/// number with a fraction or an exponent as [`double_to_string`] writes
/// it. A number past a double's range (which the host does not let into
/// an event) keeps its JSON text.
pub fn push_number_text(number: &Number, out: &mut String) {
    // `serde_json` keeps each number's text (`arbitrary_precision`); it
    // calls one a float exactly when Logstash's reader makes it a Double.
    let written = match (number.as_i64(), number.as_u64(), number.as_f64()) {
        (Some(long), _, _) => write!(out, "{long}"),
        (_, Some(big), _) => write!(out, "{big}"),
        (_, _, Some(double)) if number.is_f64() => {
            out.push_str(&double_to_string(double));
            Ok(())
        }
        _ => write!(out, "{number}"),
    };
    written.expect("writing to a String cannot fail");
}

/// Java's `Double.toString`: from 10^-3 up to (not including) 10^7 plainly,
/// with at least one digit after the point (`100.0`, `0.001`); otherwise in
/// computerized scientific notation, `d.dddE±n` with no `+` (`1.0E7`,
/// `1.23456785E7`, `1.0E-4`). The digits are the fewest that read back as
/// `value`, as JDK 19 and later choose them (Logstash 8.15 and later bundle
/// JDK 21). JDK 17, which earlier Logstash 8 releases bundle, writes some
/// doubles with more digits than they need (`1e23` as
/// `9.999999999999999E22`, `7.0511e20` as `7.051100000000001E20`; 56 of the
/// 8,131 recorded in `compat/double-cases.tsv`); that is not reproduced.
pub fn double_to_string(value: f64) -> String {
    let (sign, magnitude) = match sign_and_magnitude(value) {
        Ok(written) => written,
        Err(text) => return text,
    };
    let (digits, exponent) = java_digits(magnitude);
    if !(-3..7).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        return format!("{sign}{first}.{rest}E{exponent}");
    }
    if exponent < 0 {
        let zeros = "0".repeat(exponent.unsigned_abs() as usize - 1);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = exponent as usize + 1;
    if digits.len() > point {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    } else {
        format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
    }
}

/// The digits Java prints for `value` (finite, above zero) and the power of
/// ten of the first. Java's rule differs from Ruby's in one case: where one
/// digit reads back, it takes the nearer of the one- and two-digit
/// decimals that do. That matters only for the smallest subnormals, whose
/// few bits let a single digit read back from afar: `Double.MIN_VALUE` is
/// `4.9E-324`, not `5.0E-324`.
fn java_digits(value: f64) -> (String, i32) {
    let shortest = shortest_digits(value);
    if shortest.0.len() > 1 {
        return shortest;
    }
    // The nearest two-digit decimal is at least as near as the one-digit one.
    let two = format!("{value:.1e}");
    match two.parse::<f64>() {
        Ok(back) if back == value => {
            let (mut digits, exponent) = digits_and_exponent(&two);
            if digits.ends_with('0') {
                digits.pop();
            }
            (digits, exponent)
        }
        _ => shortest,
    }
}

#[cfg(test)]
mod tests;
