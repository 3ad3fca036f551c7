//! Masking: replaces the parts of a token that are variable by their shape
//! (addresses, numbers, identifiers, paths) with `<*>` before the tree sees it.
//!
//! Masking works below the token: `uid=0` becomes `uid=<*>` and `node-17`
//! becomes `node-<*>`, so the constant part stays in the template. A token is
//! first tried whole (an IP with its port, a path, a URL, an e-mail address
//! span delimiters that would otherwise split them), then split at delimiters
//! and each segment tried alone. Everything here is byte scanning: no regex
//! engine, no allocation beyond the caller's output buffer.

use serde::{Deserialize, Serialize};

/// The wildcard that stands for a variable part, as in Drain and Loghub.
pub const WILDCARD: &str = "<*>";

/// Which shapes count as variables. Every mask is on by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Masks {
    /// IPv4 (with an optional `:port` or leading `/`) and IPv6 addresses.
    pub ip: bool,
    /// Absolute and relative file paths (`/var/log/x`, `./a/b`, `C:\x`).
    pub path: bool,
    /// URLs (`scheme://...`).
    pub url: bool,
    /// E-mail addresses.
    pub email: bool,
    /// `0x`-prefixed hex and long hex strings (hashes, addresses).
    pub hex: bool,
    /// UUIDs.
    pub uuid: bool,
    /// Numbers, with sign, decimals, exponent and a unit (`-3`, `1.5e3`, `250ms`, `4GB`).
    pub number: bool,
    /// Times of day (`07:07:00`, `16:01:03.072`), dates joined to them
    /// (`2026-11-24T04:47:08Z`, `17/May/2015:10:05:03`) and, next to a masked
    /// number, month and weekday names (`Fri Jun 17 07:07:00 2005`).
    pub time: bool,
    /// Any other segment with a digit in it (ids such as `blk_-42`,
    /// `job_1445_0020`, `FNANLI5`), except short names like `ssh2`, `eth0`, `L1`.
    pub digits: bool,
}

impl Masks {
    pub const ALL: Masks = Masks {
        ip: true,
        path: true,
        url: true,
        email: true,
        hex: true,
        uuid: true,
        number: true,
        time: true,
        digits: true,
    };
    pub const NONE: Masks = Masks {
        ip: false,
        path: false,
        url: false,
        email: false,
        hex: false,
        uuid: false,
        number: false,
        time: false,
        digits: false,
    };

    /// Names accepted in the `masks` option, in documentation order.
    pub const NAMES: &'static [&'static str] = &[
        "ip", "path", "url", "email", "hex", "uuid", "number", "time", "digits",
    ];

    /// Builds the set from option names; unknown names are an error.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Masks, String> {
        let mut masks = Masks::NONE;
        for name in names {
            let flag = match name.as_ref() {
                "ip" => &mut masks.ip,
                "path" => &mut masks.path,
                "url" => &mut masks.url,
                "email" => &mut masks.email,
                "hex" => &mut masks.hex,
                "uuid" => &mut masks.uuid,
                "number" => &mut masks.number,
                "time" => &mut masks.time,
                "digits" => &mut masks.digits,
                other => {
                    return Err(format!(
                        "unknown mask `{other}`, expected some of {}",
                        Masks::NAMES.join(", ")
                    ));
                }
            };
            *flag = true;
        }
        Ok(masks)
    }
}

impl Default for Masks {
    fn default() -> Self {
        Masks::ALL
    }
}

/// Whether a (masked) token holds a `<*>`.
pub fn has_wildcard(token: &str) -> bool {
    token.as_bytes().windows(3).any(|w| w == b"<*>")
}

/// Characters that wrap a token and stay in the template around a variable.
fn is_opener(b: u8) -> bool {
    matches!(b, b'(' | b'[' | b'{' | b'<' | b'"' | b'\'' | b'`')
}
fn is_closer(b: u8) -> bool {
    matches!(
        b,
        b')' | b']' | b'}' | b'>' | b'"' | b'\'' | b'`' | b',' | b';' | b':' | b'.' | b'!' | b'?'
    )
}

/// Delimiters inside a token: the template keeps them and masks between them.
pub fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'=' | b':'
            | b','
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'<'
            | b'>'
            | b'"'
            | b'\''
            | b'`'
            | b'@'
            | b'/'
            | b'|'
            | b';'
            | b'#'
            | b'&'
            | b'+'
    )
}

/// Appends `token` to `out` with its variable parts replaced by `<*>`.
pub fn mask_token(token: &str, masks: &Masks, out: &mut String) {
    let bytes = token.as_bytes();
    // Most tokens are plain words: one pass decides that nothing can match.
    let suspect = bytes
        .iter()
        .any(|b| b.is_ascii_digit() || matches!(b, b'/' | b'\\' | b'@'));
    if !suspect
        || (!bytes.iter().any(u8::is_ascii_digit) && !might_be_digitless_variable(bytes, masks))
    {
        out.push_str(token);
        return;
    }
    let mut start = 0;
    while start < bytes.len() && is_opener(bytes[start]) {
        start += 1;
    }
    let mut end = bytes.len();
    while end > start && is_closer(bytes[end - 1]) {
        end -= 1;
    }
    let core = &token[start..end];
    if !core.is_empty() && whole_is_variable(core, masks) {
        out.push_str(&token[..start]);
        out.push_str(WILDCARD);
        out.push_str(&token[end..]);
        return;
    }
    mask_segments(token, masks, out);
}

/// Paths, URLs and e-mail addresses need no digit to be variable.
fn might_be_digitless_variable(token: &[u8], masks: &Masks) -> bool {
    (masks.path && (token.contains(&b'/') || token.contains(&b'\\')))
        || (masks.email && token.contains(&b'@'))
}

/// Shapes that contain delimiters and are variable as a whole.
fn whole_is_variable(core: &str, masks: &Masks) -> bool {
    let bytes = core.as_bytes();
    let colon = bytes.contains(&b':');
    (masks.ip && is_ip(core))
        || (masks.ip && (is_hostname(bytes) || (colon && is_host_port(core))))
        || (masks.time && colon && (is_time(bytes) || is_date_time(bytes)))
        || (masks.url && colon && is_url(core))
        || (masks.path
            && matches!(bytes[0], b'/' | b'.' | b'~' | b'A'..=b'Z' | b'a'..=b'z')
            && is_path(core))
        || (masks.email && bytes.contains(&b'@') && is_email(core))
}

/// Splits at delimiters and masks each variable segment.
fn mask_segments(token: &str, masks: &Masks, out: &mut String) {
    let bytes = token.as_bytes();
    let mut segment_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_delimiter(b) {
            push_segment(&token[segment_start..i], masks, out);
            out.push(b as char);
            segment_start = i + 1;
        }
    }
    push_segment(&token[segment_start..], masks, out);
}

fn push_segment(segment: &str, masks: &Masks, out: &mut String) {
    if segment.is_empty() {
        return;
    }
    if segment_is_variable(segment, masks) {
        out.push_str(WILDCARD);
        return;
    }
    // `node-17`, `MININT-FNANLI5`: a word, a dash, then a variable.
    if masks.digits
        && let Some(dash) = segment.bytes().position(|b| b == b'-')
        && dash >= 2
        && segment.as_bytes()[..dash]
            .iter()
            .all(u8::is_ascii_alphabetic)
    {
        let rest = &segment.as_bytes()[dash + 1..];
        if rest.iter().any(u8::is_ascii_digit) && !is_short_name(rest) {
            out.push_str(&segment[..=dash]);
            out.push_str(WILDCARD);
            return;
        }
    }
    out.push_str(segment);
}

fn segment_is_variable(segment: &str, masks: &Masks) -> bool {
    let bytes = segment.as_bytes();
    let has_digit = bytes.iter().any(u8::is_ascii_digit);
    if !has_digit {
        return masks.hex && is_long_hex(bytes);
    }
    // Cheapest first: with the default masks the digit rule decides most.
    let has_dash = bytes.contains(&b'-');
    (masks.digits
        && if has_dash {
            !starts_with_word_dash(bytes)
        } else {
            !is_short_name(bytes)
        })
        || (masks.number && is_number(bytes))
        || (masks.hex && (is_prefixed_hex(bytes) || is_long_hex(bytes)))
        || (masks.uuid && is_uuid(bytes))
        || (masks.ip && is_ip(segment))
}

/// `ssh2`, `eth0`, `L1`, `ipv6`, `x86`: letters then at most two digits are
/// names, not values.
/// Also `jk2_init`, `mod_ssl2`: snake-case names whose parts are words or
/// such names with at least two letters (`rack_A8` stays a value).
fn is_short_name(bytes: &[u8]) -> bool {
    let name = |part: &[u8], min_letters: usize| {
        let letters = part.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let digits = part.len() - letters;
        letters >= min_letters && digits <= 2 && part[letters..].iter().all(u8::is_ascii_digit)
    };
    if !bytes.contains(&b'_') {
        return name(bytes, 1) && bytes.iter().any(u8::is_ascii_digit);
    }
    bytes.iter().any(u8::is_ascii_digit) && bytes.split(|b| *b == b'_').all(|part| name(part, 2))
}

/// `node-17`: handled by the caller, which keeps the word.
fn starts_with_word_dash(bytes: &[u8]) -> bool {
    let letters = bytes.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    letters >= 2 && bytes.get(letters) == Some(&b'-')
}

/// Sign, digits, optional fraction and exponent, optional alphabetic unit of
/// at most three letters or `%`.
pub fn is_number(bytes: &[u8]) -> bool {
    let mut i = 0;
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        i = 1;
    }
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    if i + 1 < bytes.len() && matches!(bytes[i], b'e' | b'E') && bytes[i + 1].is_ascii_digit() {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    let unit = &bytes[i..];
    unit.is_empty() || unit == b"%" || (unit.len() <= 3 && unit.iter().all(u8::is_ascii_alphabetic))
}

/// A dotted host name with a digit in it, `node-41.example.com`: at least
/// two dots, and the last label alphabetic, so `1.2.3` or `a.b` do not count.
fn is_hostname(bytes: &[u8]) -> bool {
    bytes.iter().filter(|b| **b == b'.').count() >= 2
        && bytes.iter().any(u8::is_ascii_digit)
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        && bytes
            .rsplit(|b| *b == b'.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic))
}

/// `host-41:8030`, `db7.example.com:5432`, `name/10.1.2.3:9000`: an
/// address with a port, where the host part has a digit (`file.c:120` is a
/// source position, not an address).
fn is_host_port(text: &str) -> bool {
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    let host = host.as_bytes();
    (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && host
            .first()
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'/')
        && host.iter().any(u8::is_ascii_digit)
        && host
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'/'))
}

/// `7:07`, `07:07:00`, `16:01:03.072`.
fn is_time(bytes: &[u8]) -> bool {
    let mut parts = 0;
    for (i, part) in bytes.split(|b| *b == b':').enumerate() {
        parts += 1;
        let digits = part.iter().take_while(|b| b.is_ascii_digit()).count();
        let ok = match i {
            0 => (1..=2).contains(&digits) && digits == part.len(),
            _ => {
                digits == 2
                    && (digits == part.len()
                        || (matches!(part[2], b'.' | b',')
                            && part.len() > 3
                            && part[3..].iter().all(u8::is_ascii_digit)))
            }
        };
        if !ok {
            return false;
        }
    }
    (2..=3).contains(&parts)
}

/// A date joined to its time in one token: `2026-11-24T04:47:08.813Z`
/// (ISO 8601, with an optional offset) and `17/May/2015:10:05:03` (the
/// common log format). Split at their delimiters they would give one `<*>`
/// per part with the month name left literal, so the next month's line
/// would generalise the template and change its id.
fn is_date_time(bytes: &[u8]) -> bool {
    fn digits(bytes: &[u8], n: std::ops::RangeInclusive<usize>) -> Option<&[u8]> {
        let count = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        n.contains(&count).then(|| &bytes[count..])
    }
    fn sep(bytes: &[u8], c: u8) -> Option<&[u8]> {
        bytes.strip_prefix(&[c])
    }
    let iso = || -> Option<&[u8]> {
        let rest = sep(digits(bytes, 4..=4)?, b'-')?;
        let rest = sep(digits(rest, 2..=2)?, b'-')?;
        sep(digits(rest, 2..=2)?, b'T')
    };
    let clf = || -> Option<&[u8]> {
        let rest = sep(digits(bytes, 1..=2)?, b'/')?;
        let month = rest.get(..3)?;
        if !is_calendar_word(std::str::from_utf8(month).ok()?) {
            return None;
        }
        let rest = sep(&rest[3..], b'/')?;
        sep(digits(rest, 4..=4)?, b':')
    };
    if let Some(time) = clf() {
        return is_time(time);
    }
    let Some(time) = iso() else {
        return false;
    };
    // The time, then `Z`, `+02:00`, `-0500` or nothing.
    let zone = time
        .iter()
        .position(|b| matches!(b, b'Z' | b'+' | b'-'))
        .unwrap_or(time.len());
    let offset = &time[zone..];
    let offset_ok = match offset {
        [] | [b'Z'] => true,
        [_, rest @ ..] => {
            let rest = digits(rest, 2..=4);
            match rest {
                Some([]) => offset.len() == 5 || offset.len() == 3,
                Some([b':', tail @ ..]) => {
                    offset.len() == 3 + 1 + tail.len() && digits(tail, 2..=2) == Some(&[])
                }
                _ => false,
            }
        }
    };
    offset_ok && is_time(&time[..zone])
}

/// Month and weekday names, as syslog and `date` print them.
pub fn is_calendar_word(word: &str) -> bool {
    const WORDS: &[&str] = &[
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Mon",
        "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
    ];
    let word = word.strip_suffix(',').unwrap_or(word);
    word.len() == 3 && word.as_bytes()[0].is_ascii_uppercase() && WORDS.contains(&word)
}

fn is_prefixed_hex(bytes: &[u8]) -> bool {
    bytes.len() > 2
        && (bytes.starts_with(b"0x") || bytes.starts_with(b"0X"))
        && bytes[2..].iter().all(u8::is_ascii_hexdigit)
}

/// Sixteen or more hex digits: hashes, ids, addresses.
fn is_long_hex(bytes: &[u8]) -> bool {
    bytes.len() >= 16 && bytes.iter().all(u8::is_ascii_hexdigit)
}

fn is_uuid(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// IPv4 with optional leading `/` and `:port`; IPv6 (two or more colons,
/// hex groups, optional `%zone`).
pub fn is_ip(text: &str) -> bool {
    let text = text.strip_prefix('/').unwrap_or(text);
    let first = text.as_bytes().first().copied().unwrap_or(b' ');
    (first.is_ascii_digit() && is_ipv4_port(text))
        || ((first.is_ascii_hexdigit() || first == b':')
            && text.as_bytes().contains(&b':')
            && is_ipv6(text))
}

fn is_ipv4_port(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (mut i, mut dots) = (0, 0);
    loop {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if !(1..=3).contains(&(i - start)) {
            return false;
        }
        if dots == 3 {
            break;
        }
        if bytes.get(i) != Some(&b'.') {
            return false;
        }
        dots += 1;
        i += 1;
    }
    // An optional `:port`.
    match bytes.get(i) {
        None => true,
        Some(b':') => i + 1 < bytes.len() && bytes[i + 1..].iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

fn is_ipv6(text: &str) -> bool {
    let text = text.split('%').next().unwrap_or(text);
    let colons = text.bytes().filter(|b| *b == b':').count();
    (2..=8).contains(&colons)
        && text.bytes().any(|b| b.is_ascii_hexdigit())
        && text.bytes().all(|b| b == b':' || b.is_ascii_hexdigit())
        && text.split(':').all(|g| g.len() <= 4)
}

fn is_url(text: &str) -> bool {
    text.find("://").is_some_and(|i| {
        i > 0 && text.as_bytes()[..i].iter().all(u8::is_ascii_alphanumeric) && text.len() > i + 3
    })
}

/// `/a`, `/a/b`, `./a`, `../a`, `~/a`, `C:\a`; a lone `/` is not a path.
fn is_path(text: &str) -> bool {
    let b = text.as_bytes();
    let unix = (b.len() > 1 && b[0] == b'/' && b[1] != b'/')
        || text.starts_with("./")
        || text.starts_with("../")
        || text.starts_with("~/");
    let windows = b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\';
    (unix || windows) && !text.contains("//")
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b))
        && domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())
        })
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests;
