//! The timestamps a BSD-style line may open with, read as Logstash's
//! `SYSLOGLINE` reads them: `SYSLOGTIMESTAMP` (`%{MONTH} +%{MONTHDAY}
//! %{TIME}`) or `TIMESTAMP_ISO8601`, each followed by a space or the end of
//! the line.
//!
//! Those patterns have optional pieces (a colon, the seconds, a zone, a
//! fraction) and numbers of one or two digits, so a line can fit them in
//! more than one way, and a regex engine backtracks through the ways until
//! one is followed by a space. This module does the same, with each piece a
//! function that calls on to the rest of the pattern after each way it can
//! match (longest first, as grok's greedy patterns try them), and stops at
//! the first way the whole timestamp fits. Two extensions that lines seen in
//! the wild need, both kept from before: the year between day and time
//! that Cisco ASA writes (`Jun 14 2015 23:59:59`) and the colon after its
//! time (`23:59:59: %ASA-...`), which the timestamp does not include.

use std::cell::Cell;

use crate::{count_digits, decimal};

/// The rest of a pattern, from a position in the line: whether it matches.
type Rest<'a> = &'a dyn Fn(usize) -> bool;

/// The length of the timestamp opening `line`, if it opens with one.
pub fn timestamp_len(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let end = Cell::new(None);
    // Whether a word ends at `at`, noting `timestamp_end` if it does.
    let word_ends = |at: usize, timestamp_end: usize| {
        let ends = matches!(bytes.get(at), None | Some(b' '));
        if ends {
            end.set(Some(timestamp_end));
        }
        ends
    };
    let ends_word = |at: usize| word_ends(at, at);
    // ASA's colon after the time stays out of the timestamp.
    let ends_word_or_colon =
        |at: usize| ends_word(at) || (bytes.get(at) == Some(&b':') && word_ends(at + 1, at));
    let found = bsd(bytes, &ends_word_or_colon) || iso(bytes, &ends_word);
    found.then(|| end.get()).flatten()
}

/// Every spelling Logstash's `MONTH` takes: English and German names, short
/// and long. Compared without regard to case, as this filter always has.
const MONTHS: [&str; 42] = [
    "jan",
    "januar",
    "january",
    "feb",
    "februar",
    "february",
    "mr",
    "mrz",
    "mrch",
    "mar",
    "marz",
    "march",
    "mär",
    "märz",
    "märch",
    "apr",
    "april",
    "ma",
    "may",
    "mai",
    "jun",
    "june",
    "juni",
    "jul",
    "july",
    "juli",
    "aug",
    "august",
    "sep",
    "september",
    "ot",
    "otober",
    "oct",
    "october",
    "okt",
    "oktober",
    "nov",
    "november",
    "dec",
    "december",
    "dez",
    "dezember",
];

/// `%{MONTH} +%{MONTHDAY} [yyyy ]%{TIME}`.
fn bsd(bytes: &[u8], rest: Rest) -> bool {
    let month_len = bytes.iter().position(|&b| b == b' ').unwrap_or(bytes.len());
    let month = &bytes[..month_len];
    if !MONTHS
        .iter()
        .any(|m| m.as_bytes().eq_ignore_ascii_case(month))
    {
        return false;
    }
    let spaces = bytes[month_len..]
        .iter()
        .take_while(|&&b| b == b' ')
        .count();
    if spaces == 0 {
        return false;
    }
    let time = |at: usize| {
        hour(bytes, at, &|at| {
            literal(bytes, at, b':', &|at| {
                minute(bytes, at, &|at| {
                    literal(bytes, at, b':', &|at| second(bytes, at, rest))
                })
            })
        })
    };
    let year_then_time = |at: usize| {
        let is_year = bytes
            .get(at..at + 4)
            .is_some_and(|y| y.iter().all(u8::is_ascii_digit));
        (is_year && literal(bytes, at + 4, b' ', &time)) || time(at)
    };
    number(bytes, month_len + spaces, 2, 1..=31, &|at| {
        literal(bytes, at, b' ', &year_then_time)
    })
}

/// `%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?`,
/// taking a lower-case `t` and `z` as well.
fn iso(bytes: &[u8], rest: Rest) -> bool {
    let after_seconds = |at: usize| zone(bytes, at, rest);
    let after_minute = |at: usize| {
        optional(bytes, at, b':', &|at| second(bytes, at, &after_seconds)) || after_seconds(at)
    };
    let time = |at: usize| {
        hour(bytes, at, &|at| {
            optional(bytes, at, b':', &|at| minute(bytes, at, &after_minute))
        })
    };
    let date = |at: usize| {
        literal(bytes, at, b'-', &|at| {
            number(bytes, at, 2, 1..=12, &|at| {
                literal(bytes, at, b'-', &|at| {
                    number(bytes, at, 2, 1..=31, &|at| {
                        matches!(bytes.get(at), Some(b'T' | b't' | b' ')) && time(at + 1)
                    })
                })
            })
        })
    };
    // `(?>\d\d){1,2}`: four digits, or two.
    [4, 2].into_iter().any(|len| {
        bytes
            .get(..len)
            .is_some_and(|y| y.iter().all(u8::is_ascii_digit))
            && date(len)
    })
}

/// `%{HOUR}`: 0 to 23, in one digit or two.
fn hour(bytes: &[u8], at: usize, rest: Rest) -> bool {
    number(bytes, at, 2, 0..=23, rest)
}

/// `%{MINUTE}`: two digits, 00 to 59.
fn minute(bytes: &[u8], at: usize, rest: Rest) -> bool {
    bytes
        .get(at..at + 2)
        .is_some_and(|d| matches!(decimal(d), Some(0..=59)))
        && rest(at + 2)
}

/// `%{SECOND}`: 0 to 60 in one digit or two, then an optional fraction
/// after `:`, `.` or `,`.
fn second(bytes: &[u8], at: usize, rest: Rest) -> bool {
    number(bytes, at, 2, 0..=60, &|at| {
        let digits = count_digits(bytes.get(at + 1..).unwrap_or_default());
        let fraction = matches!(bytes.get(at), Some(b':' | b'.' | b',')) && digits > 0;
        (fraction && rest(at + 1 + digits)) || rest(at)
    })
}

/// `%{ISO8601_TIMEZONE}?`: nothing, `Z`, or a sign, an hour and a minute
/// with an optional colon between.
fn zone(bytes: &[u8], at: usize, rest: Rest) -> bool {
    match bytes.get(at) {
        Some(b'Z' | b'z') => rest(at + 1) || rest(at),
        Some(b'+' | b'-') => {
            hour(bytes, at + 1, &|at| {
                optional(bytes, at, b':', &|at| minute(bytes, at, rest))
            }) || rest(at)
        }
        _ => rest(at),
    }
}

/// A number of one to `most` digits within `range`, longest first.
fn number(
    bytes: &[u8],
    at: usize,
    most: usize,
    range: std::ops::RangeInclusive<u32>,
    rest: Rest,
) -> bool {
    let digits = count_digits(bytes.get(at..).unwrap_or_default()).min(most);
    (1..=digits).rev().any(|len| {
        decimal(&bytes[at..at + len]).is_some_and(|value| range.contains(&value)) && rest(at + len)
    })
}

fn literal(bytes: &[u8], at: usize, expected: u8, rest: Rest) -> bool {
    bytes.get(at) == Some(&expected) && rest(at + 1)
}

/// `expected` if it is there, or nothing.
fn optional(bytes: &[u8], at: usize, expected: u8, rest: Rest) -> bool {
    literal(bytes, at, expected, rest) || rest(at)
}

#[cfg(test)]
mod tests;
