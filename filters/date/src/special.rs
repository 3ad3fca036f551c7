//! The epoch formats Logstash accepts besides Joda patterns: `UNIX`,
//! `UNIX_MS` and `TAI64N` (`ISO8601` has a module of its own).

/// The largest number of seconds `UNIX` takes, as Logstash: a Java `int`'s
/// maximum (2038-01-19T03:14:07Z). Larger values fail, so that
/// `["UNIX", "UNIX_MS"]` hands milliseconds to `UNIX_MS`.
pub const MAX_UNIX_SECONDS: i64 = i32::MAX as i64;

/// Seconds since the epoch, with an optional fraction (`1431857103.123`),
/// read as Logstash reads text: the whole seconds are a Java `long` (an
/// optional sign, then digits), at most [`MAX_UNIX_SECONDS`]; of the
/// fraction only the first three characters are read, as a number of tenths,
/// hundredths or thousandths, and added to the seconds. So digits past
/// milliseconds are dropped, and the sign belongs to the whole seconds only:
/// `-1.5` is -1 s + 500 ms, as in Logstash. The arithmetic is Java's `long`
/// arithmetic, which wraps where it overflows (seconds below about -9.2e15):
/// Logstash sets whatever instant that gives, and so does this.
pub fn unix(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a UNIX time (seconds since 1970, like 1431857103.5)");
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let seconds = java_long(whole).ok_or_else(bad)?;
    if seconds > MAX_UNIX_SECONDS {
        return Err(format!(
            "`{text}` is past the largest UNIX time Logstash reads ({MAX_UNIX_SECONDS} s)"
        ));
    }
    let mut millis = seconds.wrapping_mul(1000);
    if let Some(fraction) = fraction {
        let head: String = fraction.chars().take(3).collect();
        let part = java_long(&head).ok_or_else(bad)?;
        millis = millis.wrapping_add(part * [100, 10, 1][head.chars().count() - 1]);
    }
    Ok(millis)
}

/// A JSON float as `UNIX` reads it in Logstash: whole seconds past
/// [`MAX_UNIX_SECONDS`] fail, and the milliseconds are the value times 1000,
/// cut toward zero (`1.0049999` s is 1004 ms).
pub fn unix_float(seconds: f64) -> Result<i64, String> {
    if seconds.trunc() > MAX_UNIX_SECONDS as f64 || seconds.is_nan() {
        return Err(format!(
            "{seconds} is past the largest UNIX time Logstash reads ({MAX_UNIX_SECONDS} s)"
        ));
    }
    Ok((seconds * 1000.0) as i64)
}

/// Text as Java's `Long.parseLong` reads it: an optional `+` or `-`, then
/// one or more ASCII digits, within a 64-bit integer.
fn java_long(text: &str) -> Option<i64> {
    java_long_in(text, 10)
}

/// Java's `Long.parseLong(text, radix)`: an optional `+` or `-`, then one
/// or more (ASCII) digits of the radix, within a 64-bit integer.
fn java_long_in(text: &str, radix: u32) -> Option<i64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(text.strip_prefix('+').unwrap_or(text), radix).ok()
}

/// A JSON float as `UNIX_MS` reads it in Logstash: Java's `longValue()`,
/// which cuts toward zero and saturates past a 64-bit integer (`1e300` is
/// `+292278994-08-17T07:12:55.807Z` there too).
pub fn unix_ms_float(millis: f64) -> i64 {
    // Rust's float-to-integer `as` saturates as Java's does.
    millis as i64
}

/// Milliseconds since the epoch.
pub fn unix_ms(text: &str) -> Result<i64, String> {
    java_long(text).ok_or_else(|| {
        format!("`{text}` is not a UNIX_MS time (milliseconds since 1970, a 64-bit integer)")
    })
}

/// A TAI64N label (`@4000000050d506482dbdf024`, the `@` optional), as
/// daemontools writes it, read as Logstash reads it: 16 characters of
/// seconds (the label's top two bits dropped) and 8 of nanoseconds (below
/// 2^31), each read by Java's `parseLong(.., 16)`, so a sign may take a
/// digit's place (`@-00000009470640a00018614` is in 1891); anything after
/// the 24 characters is ignored. Like Logstash, this takes
/// TAI to be 10 s ahead of UTC (the offset when TAI64 was defined; leap
/// seconds since are ignored), and computes the milliseconds in Java's
/// wrapping `long` arithmetic: labels past about 2^53 s wrap around.
pub fn tai64n(text: &str) -> Result<i64, String> {
    let hex = text.strip_prefix('@').unwrap_or(text);
    let bad = || format!("`{text}` is not a TAI64N label (@ and 24 hex digits)");
    let (Some(label), Some(nanos)) = (hex.get(..16), hex.get(16..24)) else {
        return Err(bad());
    };
    // Java's `long` and `int` parsing refuse what does not fit, the top bit
    // of 16 and 8 hex digits included.
    let label = java_long_in(label, 16).ok_or_else(bad)?;
    let nanos = java_long_in(nanos, 16)
        .and_then(|nanos| i32::try_from(nanos).ok())
        .ok_or_else(bad)?;
    // A negative label loses its sign bits here, but the wrapping product
    // below gives them back: Logstash's arithmetic, step by step.
    let seconds = (label & ((1 << 62) - 1)) - 10;
    Ok(seconds
        .wrapping_mul(1000)
        .wrapping_add(i64::from(nanos / 1_000_000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times() {
        assert_eq!(unix("1431857103"), Ok(1_431_857_103_000));
        assert_eq!(unix("1431857103.5"), Ok(1_431_857_103_500));
        assert_eq!(unix("1431857103.123999"), Ok(1_431_857_103_123));
        // As Logstash: the sign belongs to the whole seconds, and only three
        // characters of the fraction are read.
        assert_eq!(unix("-1.5"), Ok(-500));
        assert_eq!(unix("+7.2505x"), Ok(7250));
        assert!(unix("7.25x").is_err());
        assert_eq!(unix("2147483647"), Ok(2_147_483_647_000));
        for bad in [
            "",
            "1e9",
            "12a",
            "1.",
            ".5",
            "2147483648",
            "99999999999999999999",
        ] {
            assert!(unix(bad).is_err(), "{bad}");
        }
        assert_eq!(unix_ms("1431857103123"), Ok(1_431_857_103_123));
        assert!(unix_ms("1431857103.1").is_err());
        assert_eq!(unix_ms("+5"), Ok(5));
        assert_eq!(unix_float(1.0049999), Ok(1004));
        assert!(unix_float(2_147_483_648.5).is_err());
        // Java's `longValue()`: cut toward zero, saturated past a long.
        assert_eq!(unix_ms_float(-1.9), -1);
        assert_eq!(unix_ms_float(1e300), i64::MAX);
        assert_eq!(unix_ms_float(-1e300), i64::MIN);
    }

    #[test]
    fn tai64n_labels() {
        // 0x50d50648 s is 2012-12-22T01:00:56 TAI, 10 s ahead of UTC as
        // Logstash counts; 0x2dbdf024 ns is .767422500.
        let millis = tai64n("@4000000050d506482dbdf024").unwrap();
        assert_eq!(crate::format_timestamp(millis), "2012-12-22T01:00:46.767Z");
        assert_eq!(tai64n("4000000050d506482dbdf024"), Ok(millis));
        assert!(tai64n("@4000000050d50648").is_err());
        // As Logstash: the top two bits are dropped, trailing text ignored.
        assert_eq!(tai64n("@0000000050d506482dbdf024"), Ok(millis));
        assert_eq!(tai64n("4000000050d506482dbdf024 x"), Ok(millis));
        assert!(tai64n("@c000000050d506482dbdf024").is_err());
        assert!(tai64n("@4000000050d5064880000000").is_err());
        // Java's hex parsing takes a sign where a digit would be: Logstash
        // reads these (answers from its parser run on Joda's JVM).
        let as_logstash = |label| tai64n(label).map(crate::format_timestamp);
        assert_eq!(
            as_logstash("@-00000009470640a00018614").as_deref(),
            Ok("1891-01-30T23:59:40.000Z")
        );
        assert_eq!(
            as_logstash("@+00000006a5343752f4de274").as_deref(),
            Ok("2026-07-12T07:34:03.793Z")
        );
        assert_eq!(
            as_logstash("4000000050d50648-2dbdf02").as_deref(),
            Ok("2012-12-22T01:00:45.953Z")
        );
        assert!(tai64n("@-").is_err());
    }
}
