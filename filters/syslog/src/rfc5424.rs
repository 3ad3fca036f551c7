//! RFC 5424: `<PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`.
//!
//! Header fields are space-separated tokens where `-` (NILVALUE) means
//! absent. Structured data is read strictly (an unterminated element, a
//! parameter value without quotes or an SD-ID or parameter name past the 32
//! characters of an SD-NAME is a failure, never a guess), and the
//! escapes `\"`, `\\` and `\]` inside values are undone; a backslash before
//! anything else is kept, as the RFC says. A UTF-8 BOM opening MSG is removed.

use serde_json::{Map, Value};
use wasmstash_sdk::civil::days_in_month;

use crate::{Header, count_digits};

/// The header fields before STRUCTURED-DATA, each with the most characters
/// the RFC allows (VERSION is checked before this parser is chosen).
const FIELDS: [(&str, usize); 6] = [
    ("VERSION", 3),
    ("TIMESTAMP", 32),
    ("HOSTNAME", 255),
    ("APP-NAME", 48),
    ("PROCID", 128),
    ("MSGID", 32),
];

/// Parses what follows `<PRI>`, which starts with the version digits.
pub fn parse(after_pri: &str) -> Result<Header<'_>, String> {
    let mut rest = after_pri;
    let mut tokens = [None; FIELDS.len()];
    for (i, &(name, max_len)) in FIELDS.iter().enumerate() {
        let (token, after) = rest.split_once(' ').ok_or_else(|| {
            let missing = FIELDS.get(i + 1).map_or("STRUCTURED-DATA", |f| f.0);
            format!("RFC 5424 header ends at {name}: {missing} is missing")
        })?;
        rest = after;
        if token.is_empty() {
            return Err(format!(
                "RFC 5424 {name} is empty (two spaces in the header)"
            ));
        }
        if !token.bytes().all(|b| (33..=126).contains(&b)) {
            return Err(format!(
                "RFC 5424 {name} `{token}` holds a character outside printable ASCII"
            ));
        }
        if token.len() > max_len {
            return Err(format!(
                "RFC 5424 {name} is longer than {max_len} characters"
            ));
        }
        tokens[i] = (token != "-").then_some(token);
    }
    let [version, timestamp, hostname, app_name, proc_id, msg_id] = tokens;
    if let Some(timestamp) = timestamp {
        check_timestamp(timestamp)?;
    }
    let (structured_data, after) = structured_data(rest)?;
    let message = match after {
        "" => "",
        _ => after
            .strip_prefix(' ')
            .ok_or("RFC 5424 structured data must be followed by a space")?,
    };
    Ok(Header {
        version,
        timestamp,
        hostname,
        app_name,
        proc_id,
        msg_id,
        structured_data,
        message: message.strip_prefix('\u{feff}').unwrap_or(message),
        ..Header::default()
    })
}

/// RFC 5424's TIMESTAMP: `YYYY-MM-DDThh:mm:ss`, a fraction of one to six
/// digits, then `Z` or `+hh:mm` / `-hh:mm`, each number within its range,
/// the day within its month as RFC 3339's full-date requires (no leap
/// seconds, which RFC 5424 forbids).
fn check_timestamp(text: &str) -> Result<(), String> {
    let bad =
        || format!("RFC 5424 TIMESTAMP `{text}` is not `YYYY-MM-DDThh:mm:ss[.ffffff](Z|+hh:mm)`");
    let bytes = text.as_bytes();
    let number = |at: usize, len: usize, max: u32| -> Result<u32, String> {
        let value = bytes.get(at..at + len).and_then(crate::decimal);
        value.filter(|&value| value <= max).ok_or_else(bad)
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators
        .iter()
        .any(|&(at, sep)| bytes.get(at) != Some(&sep))
    {
        return Err(bad());
    }
    let year = number(0, 4, 9999)?;
    let (month, day) = (number(5, 2, 12)?, number(8, 2, 31)?);
    if month == 0 || day == 0 || i64::from(day) > days_in_month(year.into(), month.into()) {
        return Err(bad());
    }
    number(11, 2, 23)?;
    number(14, 2, 59)?;
    number(17, 2, 59)?;
    let mut at = 19;
    if bytes.get(at) == Some(&b'.') {
        let digits = count_digits(&bytes[at + 1..]);
        if !(1..=6).contains(&digits) {
            return Err(bad());
        }
        at += 1 + digits;
    }
    match bytes.get(at) {
        Some(b'Z') if at + 1 == bytes.len() => Ok(()),
        Some(b'+' | b'-') if at + 6 == bytes.len() && bytes[at + 3] == b':' => {
            number(at + 1, 2, 23)?;
            number(at + 4, 2, 59).map(drop)
        }
        _ => Err(bad()),
    }
}

/// SD-ID to its parameters.
type Elements = Map<String, Value>;

/// The most characters an SD-ID or PARAM-NAME (an SD-NAME) may have.
const SD_NAME_MAX: usize = 32;

/// `-` or one or more `[SD-ID param="value" ...]` elements; returns them as
/// `{sd_id: {param: value}}` (a repeated parameter gives an array) and what
/// follows.
fn structured_data(text: &str) -> Result<(Option<Elements>, &str), String> {
    if let Some(after) = text.strip_prefix('-') {
        return Ok((None, after));
    }
    if !text.starts_with('[') {
        return Err("RFC 5424 STRUCTURED-DATA must be `-` or start with `[`".into());
    }
    let mut elements = Map::new();
    let mut rest = text;
    while let Some(inside) = rest.strip_prefix('[') {
        let id_len = name_len(inside);
        let id = &inside[..id_len];
        check_sd_id(id)?;
        if elements.contains_key(id) {
            return Err(format!(
                "structured data SD-ID `{id}` appears twice (RFC 5424 allows each once)"
            ));
        }
        let mut params = Map::new();
        rest = &inside[id_len..];
        loop {
            if let Some(after) = rest.strip_prefix(']') {
                rest = after;
                break;
            }
            let param = rest
                .strip_prefix(' ')
                .ok_or_else(|| format!("structured data `{id}` is not terminated"))?;
            let name_end = name_len(param);
            let value_text = param[name_end..]
                .strip_prefix("=\"")
                .filter(|_| name_end > 0)
                .ok_or_else(|| format!("malformed parameter in structured data `{id}`"))?;
            if name_end > SD_NAME_MAX {
                return Err(format!(
                    "PARAM-NAME in structured data `{id}` is longer than {SD_NAME_MAX} characters"
                ));
            }
            let (value, after) = param_value(value_text)?;
            add_param(&mut params, &param[..name_end], value);
            rest = after;
        }
        elements.insert(id.to_owned(), Value::Object(params));
    }
    Ok((Some(elements), rest))
}

/// An SD-ID is an SD-NAME; one with an `@` is `name@number`, the number a
/// private enterprise number, dotted where the enterprise uses
/// sub-identifiers (RFC 5424 sections 6.3.2 and 7.2.2). Names without `@`
/// are IANA's; which ones it has registered is not checked.
fn check_sd_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("structured data element without an SD-ID".into());
    }
    if id.len() > SD_NAME_MAX {
        return Err(format!(
            "structured data SD-ID is longer than {SD_NAME_MAX} characters"
        ));
    }
    let Some((name, enterprise)) = id.split_once('@') else {
        return Ok(());
    };
    let is_number = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if name.is_empty() || !enterprise.split('.').all(is_number) {
        return Err(format!(
            "structured data SD-ID `{id}` is not `name@enterprise-number`"
        ));
    }
    Ok(())
}

/// The length of an SD-ID or PARAM-NAME: printable ASCII but `=`, space,
/// `]` and `"`.
fn name_len(text: &str) -> usize {
    text.bytes()
        .take_while(|&b| (33..=126).contains(&b) && !b"= ]\"".contains(&b))
        .count()
}

/// A quoted value up to the closing `"`, unescaped, and what follows it.
fn param_value(text: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' => match chars.clone().next() {
                Some((_, escaped @ ('"' | '\\' | ']'))) => {
                    value.push(escaped);
                    chars.next();
                }
                _ => value.push('\\'),
            },
            ']' => {
                return Err(
                    "structured data value holds `]` unescaped (RFC 5424 wants `\\]`)".into(),
                );
            }
            c => value.push(c),
        }
    }
    Err("structured data value without its closing quote".into())
}

fn add_param(params: &mut Map<String, Value>, name: &str, value: String) {
    match params.get_mut(name) {
        None => {
            params.insert(name.to_owned(), Value::String(value));
        }
        Some(Value::Array(values)) => values.push(Value::String(value)),
        Some(first) => {
            let first_value = first.take();
            *first = Value::Array(vec![first_value, Value::String(value)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_rfc_examples() {
        let h = parse("1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8").unwrap();
        assert_eq!(h.version, Some("1"));
        assert_eq!(h.timestamp, Some("2003-10-11T22:14:15.003Z"));
        assert_eq!(h.hostname, Some("mymachine.example.com"));
        assert_eq!(
            (h.app_name, h.proc_id, h.msg_id),
            (Some("su"), None, Some("ID47"))
        );
        assert_eq!(h.structured_data, None);
        assert_eq!(h.message, "'su root' failed for lonvick on /dev/pts/8");

        let h = parse(r#"1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#).unwrap();
        assert_eq!(
            Value::Object(h.structured_data.unwrap()),
            json!({"exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
                   "examplePriority@32473": {"class": "high"}})
        );
        assert_eq!(h.message, "");

        let h = parse("1 - - - - - -").unwrap();
        assert_eq!(
            (h.timestamp, h.hostname, h.app_name, h.message),
            (None, None, None, "")
        );
    }

    #[test]
    fn timestamps_in_the_rfc_forms() {
        for time in [
            "2003-10-11T22:14:15.003Z",
            "2003-08-24T05:14:15.000003-07:00",
            "1985-04-12T23:20:50.52Z",
            "2024-02-29T00:00:00+05:30",
            "2000-02-29T23:59:59Z",
            "2023-04-30T00:00:00Z",
            "2023-12-31T00:00:00Z",
        ] {
            let line = format!("1 {time} h a p m - x");
            assert_eq!(parse(&line).unwrap().timestamp, Some(time));
        }
    }

    #[test]
    fn escapes_repeats_and_brackets_in_values() {
        let h = parse(
            r#"1 - host app 42 - [a@1 p="x \"q\" \\ \] \n" p="y"][b z="[ok\]"][c@32473.1.2] msg"#,
        )
        .unwrap();
        assert_eq!(
            Value::Object(h.structured_data.unwrap()),
            json!({"a@1": {"p": ["x \"q\" \\ ] \\n", "y"]}, "b": {"z": "[ok]"}, "c@32473.1.2": {}})
        );
        assert_eq!((h.proc_id, h.message), (Some("42"), "msg"));
    }

    #[test]
    fn sd_names_of_32_characters_are_the_longest() {
        let name = "abcdefghijklmnopqrstuvwxyz012345";
        let line = format!(r#"1 - h a - - [{name} {name}="v"] x"#);
        let h = parse(&line).unwrap();
        assert_eq!(
            Value::Object(h.structured_data.unwrap()),
            json!({name: {name: "v"}})
        );
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        for (line, reason) in [
            (
                "1 2003-10-11T22:14:15Z host",
                "ends at HOSTNAME: APP-NAME is missing",
            ),
            ("1 - h a p", "ends at PROCID: MSGID is missing"),
            ("1 - h a p  - x", "MSGID is empty"),
            ("1 - h\u{e9} a p m - x", "outside printable ASCII"),
            (
                "1 - h a p 123456789012345678901234567890123 - x",
                "longer than 32",
            ),
            ("1 notatime h a p m - x", "TIMESTAMP `notatime`"),
            ("1 2024-01-01T00:00:00.1234567Z h a p m - x", "TIMESTAMP"),
            ("1 2024-01-01T00:00:00 h a p m - x", "TIMESTAMP"),
            ("1 2024-13-01T00:00:00Z h a p m - x", "TIMESTAMP"),
            ("1 2024-01-01T00:00:60Z h a p m - x", "TIMESTAMP"),
            ("1 2024-01-01T00:00:00+1:00 h a p m - x", "TIMESTAMP"),
            (
                "1 - host app - -",
                "ends at MSGID: STRUCTURED-DATA is missing",
            ),
            ("1 - host app - - [a p=\"open", "closing quote"),
            ("1 - host app - - [a p=v]", "malformed parameter"),
            ("1 - host app - - [a p=\"v\"", "not terminated"),
            ("1 - host app - - nonsense", "must be `-` or start with `[`"),
            ("1 - host app - - [a]msg", "followed by a space"),
            ("1 2023-02-29T00:00:00Z h a p m - x", "TIMESTAMP"),
            ("1 1900-02-29T00:00:00Z h a p m - x", "TIMESTAMP"),
            ("1 2024-02-30T00:00:00Z h a p m - x", "TIMESTAMP"),
            ("1 2024-04-31T00:00:00Z h a p m - x", "TIMESTAMP"),
            ("1 2024-00-10T00:00:00Z h a p m - x", "TIMESTAMP"),
            ("1 2024-01-01T24:00:00Z h a p m - x", "TIMESTAMP"),
            (
                "1 - h a - - [abcdefghijklmnopqrstuvwxyz0123456 p=\"v\"] x",
                "SD-ID is longer than 32 characters",
            ),
            (
                "1 - h a - - [a abcdefghijklmnopqrstuvwxyz0123456=\"v\"] x",
                "PARAM-NAME in structured data `a` is longer than 32 characters",
            ),
            ("1  - host app - - -", "empty"),
            (
                r#"1 - h a - - [a@1 x="1"][a@1 y="2"] m"#,
                "SD-ID `a@1` appears twice",
            ),
            (
                r#"1 - h a - - [a@b x="1"] m"#,
                "not `name@enterprise-number`",
            ),
            (
                r#"1 - h a - - [c@1@2 x="1"] m"#,
                "not `name@enterprise-number`",
            ),
            (
                r#"1 - h a - - [@1 x="1"] m"#,
                "not `name@enterprise-number`",
            ),
            (
                r#"1 - h a - - [a@1. x="1"] m"#,
                "not `name@enterprise-number`",
            ),
            (r#"1 - h a - - [a@1 x="v]"] m"#, "`]` unescaped"),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(reason), "{line}: {err}");
        }
    }
}
