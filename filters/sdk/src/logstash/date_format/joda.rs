//! Joda-Time patterns: how `DateTimeFormat` splits them into tokens (also
//! what the date filter parses with), and how each prints.

use super::{Field, Item, Name, Width};

/// One piece of a Joda-Time pattern, as `DateTimeFormat` splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A run of one ASCII letter, and how many: `yyyy` is `('y', 4)`.
    Letters(char, usize),
    /// Literal text: everything up to the next letter outside quotes, with
    /// the quotes taken out (`''` stands for one quote).
    Literal(String),
}

impl Token {
    /// Joda's test for a token that reads digits (`isNumericToken`): a
    /// number, or a year, just before it keeps to its own width when
    /// parsing (`yyyyMMdd`).
    pub fn is_numeric(&self) -> bool {
        match self {
            Token::Letters('M', len) => *len <= 2,
            Token::Letters(letter, _) => "cCxyYdhHmsSeDFwWkK".contains(*letter),
            Token::Literal(_) => false,
        }
    }
}

/// Splits `pattern` as Joda's `DateTimeFormat` does: a run of one ASCII
/// letter is a field; anything else is literal text up to the next letter
/// outside quotes. A quote opens or closes quoted text, two quotes stand
/// for one, and a quote left open runs to the end (Joda takes
/// `HH 'open` as the hour, then ` open`).
pub fn tokens(pattern: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut literal: Option<String> = None;
    let mut quoted = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphabetic() && !quoted {
            if let Some(text) = literal.take() {
                tokens.push(Token::Literal(text));
            }
            let mut len = 1;
            while chars.next_if_eq(&c).is_some() {
                len += 1;
            }
            tokens.push(Token::Letters(c, len));
            continue;
        }
        let text = literal.get_or_insert_with(String::new);
        if c != '\'' {
            text.push(c);
        } else if chars.next_if_eq(&'\'').is_some() {
            text.push('\'');
        } else {
            quoted = !quoted;
        }
    }
    if let Some(text) = literal {
        tokens.push(Token::Literal(text));
    }
    tokens
}

/// The items `pattern` prints, as `DateTimeFormat.forPattern` builds them.
pub(super) fn compile(pattern: &str) -> Result<Vec<Item>, String> {
    if pattern.is_empty() {
        return Err("an empty Joda-Time pattern (Joda: Invalid pattern specification)".into());
    }
    let number = |field, width| Item::Number {
        field,
        width,
        plus_past_width: false,
    };
    tokens(pattern)
        .into_iter()
        .map(|token| {
            let (letter, count) = match token {
                Token::Literal(text) => return Ok(Item::Literal(text)),
                Token::Letters(letter, count) => (letter, count),
            };
            let text = |width| if count >= 4 { Width::Full } else { width };
            Ok(match letter {
                'G' => Item::Name(Name::Era, Width::Short),
                'C' => number(Field::CenturyOfEra, count),
                // Two letters print the last two digits; Joda's `YY`, like
                // `yy`, is of the year, not the year of the era.
                'y' | 'Y' if count == 2 => Item::TwoDigits(Field::Year),
                'x' if count == 2 => Item::TwoDigits(Field::IsoWeekYear),
                'y' => number(Field::Year, count),
                'Y' => number(Field::YearOfEra, count),
                'x' => number(Field::IsoWeekYear, count),
                'w' => number(Field::IsoWeek, count),
                'M' if count >= 3 => Item::Name(Name::Month, text(Width::Short)),
                'M' => number(Field::Month, count),
                'd' => number(Field::Day, count),
                'D' => number(Field::DayOfYear, count),
                'e' => number(Field::IsoWeekday, count),
                'E' => Item::Name(Name::Weekday, text(Width::Short)),
                'a' => Item::Name(Name::HalfDay, Width::Short),
                'H' => number(Field::HourOfDay, count),
                'k' => number(Field::ClockHourOfDay, count),
                'K' => number(Field::HourOfHalfDay, count),
                'h' => number(Field::ClockHourOfHalfDay, count),
                'm' => number(Field::Minute, count),
                's' => number(Field::Second, count),
                'S' => Item::JodaFraction(count),
                // In UTC the zone prints the same whatever the instant.
                'z' if count >= 4 => Item::Literal("Coordinated Universal Time".into()),
                'z' => Item::Literal("UTC".into()),
                'Z' if count == 1 => Item::Literal("+0000".into()),
                'Z' if count == 2 => Item::Literal("+00:00".into()),
                'Z' => Item::Literal("UTC".into()),
                other => {
                    let run: String = std::iter::repeat_n(other, count).collect();
                    return Err(format!(
                        "`{other}` is not a Joda-Time pattern letter (Joda: Illegal pattern component: {run}); quote literal text, like 'T'"
                    ));
                }
            })
        })
        .collect()
}
