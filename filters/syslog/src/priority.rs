//! The PRI value: `facility * 8 + severity`, with Logstash's labels.
//!
//! The default labels are those of Logstash's `syslog_pri` filter (and its
//! syslog input), so dashboards built on Logstash keep working; operators who
//! prefer other names set `facility_labels` / `severity_labels`.

pub const FACILITY_LABELS: [&str; 24] = [
    "kernel",
    "user-level",
    "mail",
    "daemon",
    "security/authorization",
    "syslogd",
    "line printer",
    "network news",
    "uucp",
    "clock",
    "security/authorization",
    "ftp",
    "ntp",
    "log audit",
    "log alert",
    "clock",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

pub const SEVERITY_LABELS: [&str; 8] = [
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
];

/// The highest PRI: facility 23 (local7), severity 7 (debug).
pub const MAX: u8 = 191;

/// Reads `<PRI>` at the start of `line`: one to three digits, at most 191.
/// Returns the value and the rest of the line; `None` if the line does not
/// start with `<`; `Some(Err)` if it starts with a malformed PRI.
pub fn parse(line: &str) -> Option<Result<(u8, &str), String>> {
    let inner = line.strip_prefix('<')?;
    let digits = inner.bytes().take_while(u8::is_ascii_digit).count();
    // Both RFCs write 0 as `<0>` and forbid leading zeros elsewhere, and
    // Logstash's `<%{POSINT}>` does not match `<01>`: such a line is not
    // one a sender following either RFC wrote.
    let leading_zero = digits > 1 && inner.starts_with('0');
    let value = ((1..=3).contains(&digits) && !leading_zero)
        .then(|| inner[..digits].parse::<u16>().ok())
        .flatten()
        .filter(|&v| v <= u16::from(MAX));
    Some(match (value, inner[digits..].strip_prefix('>')) {
        (Some(value), Some(rest)) => Ok((value as u8, rest)),
        _ => Err(format!(
            "malformed priority `{}`: expected <0> to <{MAX}>, without leading zeros",
            line.get(..digits + 2).unwrap_or(line)
        )),
    })
}

/// Checks operator-given labels: one per facility or severity.
pub fn labels(
    option: &str,
    given: Option<Vec<String>>,
    defaults: &[&str],
) -> Result<Vec<String>, String> {
    match given {
        None => Ok(defaults.iter().map(|s| (*s).to_owned()).collect()),
        Some(labels) if labels.len() == defaults.len() => Ok(labels),
        Some(labels) => Err(format!(
            "{option} needs exactly {} labels, got {}",
            defaults.len(),
            labels.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_parse_and_decode() {
        assert_eq!(parse("<34>Oct"), Some(Ok((34, "Oct"))));
        assert_eq!(parse("<0>x"), Some(Ok((0, "x"))));
        assert_eq!(parse("<191>"), Some(Ok((191, ""))));
        assert_eq!(parse("Oct 11"), None);
        for bad in ["<192>x", "<>x", "<1234>x", "<12x", "<-1>x"] {
            assert!(parse(bad).unwrap().is_err(), "{bad}");
        }
        assert_eq!(parse("<10>x"), Some(Ok((10, "x"))));
        for padded in ["<00>x", "<01>x", "<001>x", "<013>x", "<0191>x"] {
            let err = parse(padded).unwrap().unwrap_err();
            assert!(err.contains("leading zeros"), "{padded}: {err}");
        }
        assert_eq!((165 / 8, 165 % 8), (20, 5));
        assert_eq!(FACILITY_LABELS[20], "local4");
        assert_eq!(SEVERITY_LABELS[5], "notice");
    }
}
