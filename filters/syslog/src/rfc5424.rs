//! RFC 5424: `<PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`.
//!
//! Header fields are space-separated tokens where `-` (NILVALUE) means
//! absent. Structured data is read strictly (an unterminated element or a
//! parameter value without quotes is a failure, never a guess), and the
//! escapes `\"`, `\\` and `\]` inside values are undone; a backslash before
//! anything else is kept, as the RFC says. A UTF-8 BOM opening MSG is removed.

use serde_json::{Map, Value};

use crate::Header;

/// Parses what follows `<PRI>`, which starts with the version digits.
pub fn parse(after_pri: &str) -> Result<Header<'_>, String> {
    let mut rest = after_pri;
    let mut header = Header::default();
    let mut next = |name: &str| -> Result<Option<&str>, String> {
        let end = rest
            .find(' ')
            .ok_or_else(|| format!("RFC 5424 header is cut short at {name}"))?;
        let token = &rest[..end];
        rest = &rest[end + 1..];
        if token.is_empty() {
            return Err(format!(
                "RFC 5424 {name} is empty (two spaces in the header)"
            ));
        }
        Ok((token != "-").then_some(token))
    };
    header.version = next("VERSION")?;
    header.timestamp = next("TIMESTAMP")?;
    header.hostname = next("HOSTNAME")?;
    header.app_name = next("APP-NAME")?;
    header.proc_id = next("PROCID")?;
    // MSGID is the last header field; structured data may end the line.
    let (msg_id, after) = match rest.split_once(' ') {
        Some((token, after)) => (token, after),
        None => return Err("RFC 5424 line ends before STRUCTURED-DATA".into()),
    };
    header.msg_id = (msg_id != "-").then_some(msg_id);
    let (structured_data, after) = structured_data(after)?;
    header.structured_data = structured_data;
    header.message = match after {
        "" => "",
        _ => after
            .strip_prefix(' ')
            .ok_or("RFC 5424 structured data must be followed by a space")?,
    };
    header.message = header
        .message
        .strip_prefix('\u{feff}')
        .unwrap_or(header.message);
    Ok(header)
}

/// SD-ID to its parameters.
type Elements = Map<String, Value>;

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
        if id_len == 0 {
            return Err("structured data element without an SD-ID".into());
        }
        let params = elements
            .entry(inside[..id_len].to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(params) = params else {
            unreachable!("elements only holds objects")
        };
        rest = &inside[id_len..];
        loop {
            if let Some(after) = rest.strip_prefix(']') {
                rest = after;
                break;
            }
            let param = rest.strip_prefix(' ').ok_or_else(|| {
                format!("structured data `{}` is not terminated", &inside[..id_len])
            })?;
            let name_end = name_len(param);
            let value_text = param[name_end..]
                .strip_prefix("=\"")
                .filter(|_| name_end > 0)
                .ok_or_else(|| {
                    format!(
                        "malformed parameter in structured data `{}`",
                        &inside[..id_len]
                    )
                })?;
            let (value, after) = param_value(value_text)?;
            add_param(params, &param[..name_end], value);
            rest = after;
        }
    }
    Ok((Some(elements), rest))
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
    fn escapes_repeats_and_brackets_in_values() {
        let h =
            parse(r#"1 - host app 42 - [a@1 p="x \"q\" \\ \] \n" p="y"][b z="[ok]"] msg"#).unwrap();
        assert_eq!(
            Value::Object(h.structured_data.unwrap()),
            json!({"a@1": {"p": ["x \"q\" \\ ] \\n", "y"]}, "b": {"z": "[ok]"}})
        );
        assert_eq!((h.proc_id, h.message), (Some("42"), "msg"));
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        for (line, reason) in [
            ("1 2003-10-11T22:14:15Z host", "cut short at HOSTNAME"),
            ("1 - host app - -", "ends before STRUCTURED-DATA"),
            ("1 - host app - - [a p=\"open", "closing quote"),
            ("1 - host app - - [a p=v]", "malformed parameter"),
            ("1 - host app - - [a p=\"v\"", "not terminated"),
            ("1 - host app - - nonsense", "must be `-` or start with `[`"),
            ("1 - host app - - [a]msg", "followed by a space"),
            ("1  - host app - - -", "empty"),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(reason), "{line}: {err}");
        }
    }
}
