//! java.time patterns, as `DateTimeFormatter.ofPattern` reads them (JDK
//! 17, the JDK of Logstash 8), for printing in UTC.

use super::{Field, Item, Name, Width};

/// The items `pattern` prints; an error names what `ofPattern` refuses.
pub(super) fn compile(pattern: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    // Optional sections (`[...]`) print in full: every field is there when
    // printing an instant in a zone. Only their nesting is checked.
    let mut open_sections = 0usize;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            'A'..='Z' | 'a'..='z' => {
                let mut count = 1;
                while chars.next_if_eq(&c).is_some() {
                    count += 1;
                }
                items.push(letters(c, count)?);
            }
            '\'' => {
                // Up to the next quote that is not doubled; `''` alone is
                // one quote.
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => {
                            return Err(format!(
                                "a quote is never closed (java.time: Pattern ends with an incomplete string literal: {pattern})"
                            ));
                        }
                        Some('\'') if chars.next_if_eq(&'\'').is_some() => text.push('\''),
                        Some('\'') => break,
                        Some(c) => text.push(c),
                    }
                }
                if text.is_empty() {
                    text.push('\'');
                }
                items.push(Item::Literal(text));
            }
            '[' => open_sections += 1,
            ']' if open_sections == 0 => {
                return Err(
                    "`]` closes no `[` (java.time: Pattern invalid as it contains ] without previous [)"
                        .into(),
                );
            }
            ']' => open_sections -= 1,
            '{' | '}' | '#' => {
                return Err(format!(
                    "`{c}` is reserved in java.time patterns (java.time: Pattern includes reserved character: '{c}'); quote it"
                ));
            }
            other => items.push(Item::Literal(other.to_string())),
        }
    }
    Ok(items)
}

/// The item for `count` of the pattern letter `letter`.
fn letters(letter: char, count: usize) -> Result<Item, String> {
    let number = |field, width| Item::Number {
        field,
        width,
        plus_past_width: false,
    };
    // Years, as `appendValue(field, count, 19, ...)`: a sign when
    // negative, and past four letters also a `+` when wider than written.
    let year = |field| match count {
        2 => Item::TwoDigits(field),
        _ => Item::Number {
            field,
            width: count,
            plus_past_width: count >= 4,
        },
    };
    let text = |name, count| match count {
        1..=3 => Ok(Item::Name(name, Width::Short)),
        4 => Ok(Item::Name(name, Width::Full)),
        5 => Ok(Item::Name(name, Width::Narrow)),
        _ => Err(()),
    };
    let literal = |text: &str| Item::Literal(text.into());
    let item = match (letter, count) {
        ('G', _) => text(Name::Era, count),
        ('u' | 'y' | 'g' | 'A' | 'n' | 'N', 20..) => Err(()),
        ('u', _) => Ok(year(Field::Year)),
        ('y', _) => Ok(year(Field::YearOfEra)),
        // The week-based year takes any count.
        ('Y', _) => Ok(year(Field::UsWeekYear)),
        ('M' | 'L', 1..=2) => Ok(number(Field::Month, count)),
        ('M' | 'L', _) => text(Name::Month, count),
        ('Q' | 'q', 1..=2) => Ok(number(Field::Quarter, count)),
        ('Q' | 'q', _) => text(Name::Quarter, count),
        ('E', _) => text(Name::Weekday, count),
        ('e', 1..=2) | ('c', 1) => Ok(number(Field::UsWeekday, count)),
        ('c', 2) => Err(()),
        ('e' | 'c', _) => text(Name::Weekday, count),
        ('a', 1) => Ok(Item::Name(Name::HalfDay, Width::Short)),
        ('B', 1 | 4 | 5) => text(Name::DayPeriod, count),
        ('d', 1..=2) => Ok(number(Field::Day, count)),
        ('D', 1..=3) => Ok(number(Field::DayOfYear, count)),
        ('F', 1) => Ok(number(Field::AlignedDayOfWeekInMonth, 1)),
        ('w', 1..=2) => Ok(number(Field::UsWeek, count)),
        ('W', 1) => Ok(number(Field::UsWeekOfMonth, 1)),
        ('H', 1..=2) => Ok(number(Field::HourOfDay, count)),
        ('k', 1..=2) => Ok(number(Field::ClockHourOfDay, count)),
        ('K', 1..=2) => Ok(number(Field::HourOfHalfDay, count)),
        ('h', 1..=2) => Ok(number(Field::ClockHourOfHalfDay, count)),
        ('m', 1..=2) => Ok(number(Field::Minute, count)),
        ('s', 1..=2) => Ok(number(Field::Second, count)),
        ('S', 1..=9) => Ok(Item::JavaFraction(count)),
        ('n', _) => Ok(number(Field::NanoOfSecond, count)),
        ('N', _) => Ok(number(Field::NanoOfDay, count)),
        ('A', _) => Ok(number(Field::MilliOfDay, count)),
        ('g', _) => Ok(number(Field::ModifiedJulianDay, count)),
        // Zones and offsets print the same for every instant in UTC.
        ('V', 2) | ('v', 1 | 4) | ('z', 1..=4) | ('X', 1..=5) | ('Z', 5) => Ok(literal("Z")),
        ('O', 1 | 4) | ('Z', 4) => Ok(literal("GMT")),
        ('Z', 1..=3) => Ok(literal("+0000")),
        ('x', 1) => Ok(literal("+00")),
        ('x', 2 | 4) => Ok(literal("+0000")),
        ('x', 3 | 5) => Ok(literal("+00:00")),
        ('p', _) => {
            return Err(
                "padding (`p`) is not supported here; write the padding into the pattern".into(),
            );
        }
        // Known letters, too many or too few of them.
        (
            'a' | 'B' | 'd' | 'D' | 'F' | 'w' | 'W' | 'H' | 'k' | 'K' | 'h' | 'm' | 's' | 'S' | 'V'
            | 'v' | 'z' | 'X' | 'Z' | 'O' | 'x',
            _,
        ) => Err(()),
        (other, _) => {
            return Err(format!(
                "`{other}` is not a java.time pattern letter (java.time: Unknown pattern letter: {other}); quote literal text, like 'T'"
            ));
        }
    };
    item.map_err(|()| {
        let run: String = std::iter::repeat_n(letter, count).collect();
        format!("`{run}`: java.time takes no {count} of the pattern letter `{letter}`")
    })
}
