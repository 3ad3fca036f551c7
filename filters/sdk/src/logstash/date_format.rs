//! Date patterns as Logstash's sprintf prints `@timestamp` with them: a
//! Joda-Time pattern (`%{+YYYY.MM.dd}`) or a java.time one
//! (`%{{yyyy-MM-dd}}`), always in UTC and with English names.
//!
//! A pattern compiles once into [`DateFormat`]; printing breaks the instant
//! into calendar fields once and writes each item. Both libraries' rules
//! (which letters exist, how many of each, padding, signs, two-digit
//! years, fractions) are pinned against the real libraries by
//! `tests/sprintf_cases.rs`, whose answers `compat/SprintfOracle.java`
//! recorded.
//!
//! Logstash gives neither formatter a locale, so both print with the JVM's
//! default one. The names here are English as JDK 17 (Logstash 8's) has
//! them for `en-US`, and java.time's week fields (`Y`, `w`, `W`, `e`, `c`)
//! follow the US rule: weeks start on Sunday and week 1 is the one holding
//! January 1st. Joda's week fields (`x`, `w`) are ISO 8601's whatever the
//! locale.

mod java;
pub mod joda;

use crate::civil::{civil_from_days, days_from_civil};
use crate::timestamp::{Timestamp, push_digits};

/// A compiled date pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Literal(String),
    /// A field in decimal, zero-padded to `width` digits after a `-` for
    /// a negative value; `plus_past_width`: java.time's `EXCEEDS_PAD`,
    /// which also writes `+` when the value has more digits than that.
    Number {
        field: Field,
        width: usize,
        plus_past_width: bool,
    },
    /// The last two digits of the field's absolute value (`yy`).
    TwoDigits(Field),
    /// Joda's fraction of a second: `digits` digits of the milliseconds,
    /// cut, not rounded (see [`push_joda_fraction`]).
    JodaFraction(usize),
    /// java.time's fraction of a second: `digits` (1-9) digits of the
    /// nanoseconds, cut.
    JavaFraction(usize),
    Name(Name, Width),
}

/// Calendar and clock fields an item can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// Proleptic year: 0 is 1 BC, -1 is 2 BC.
    Year,
    YearOfEra,
    CenturyOfEra,
    IsoWeekYear,
    IsoWeek,
    UsWeekYear,
    UsWeek,
    UsWeekOfMonth,
    Quarter,
    Month,
    Day,
    DayOfYear,
    /// 1 = Monday.
    IsoWeekday,
    /// 1 = Sunday.
    UsWeekday,
    /// What JDK 17 prints for `F`: the day's place in its run of seven
    /// counted from the 1st (`((day - 1) % 7) + 1`).
    AlignedDayOfWeekInMonth,
    ModifiedJulianDay,
    HourOfDay,
    ClockHourOfDay,
    HourOfHalfDay,
    ClockHourOfHalfDay,
    Minute,
    Second,
    MilliOfDay,
    NanoOfSecond,
    NanoOfDay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Month,
    Weekday,
    Era,
    HalfDay,
    Quarter,
    /// java.time's `B`: midnight, noon, in the morning, ...
    DayPeriod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    Short,
    Full,
    Narrow,
}

impl DateFormat {
    /// Compiles a Joda-Time pattern, as `DateTimeFormat.forPattern` reads
    /// it; an error for a pattern Joda refuses (an unknown letter), which
    /// in Logstash is an exception that stops the pipeline.
    pub fn joda(pattern: &str) -> Result<DateFormat, String> {
        joda::compile(pattern).map(DateFormat::new)
    }

    /// Compiles a java.time pattern, as `DateTimeFormatter.ofPattern` reads
    /// it; an error for a pattern it refuses, and for padding (`p`), which
    /// this port leaves out.
    pub fn java(pattern: &str) -> Result<DateFormat, String> {
        java::compile(pattern).map(DateFormat::new)
    }

    fn new(items: Vec<Item>) -> DateFormat {
        // Runs of literal text become one.
        let mut merged: Vec<Item> = Vec::with_capacity(items.len());
        for item in items {
            match (merged.last_mut(), item) {
                (Some(Item::Literal(text)), Item::Literal(more)) => text.push_str(&more),
                (_, item) => merged.push(item),
            }
        }
        DateFormat { items: merged }
    }

    /// Appends `time`, in UTC, as the pattern has it.
    pub fn write(&self, time: &Timestamp, out: &mut String) {
        let moment = Moment::new(time);
        for item in &self.items {
            match item {
                Item::Literal(text) => out.push_str(text),
                Item::Number {
                    field,
                    width,
                    plus_past_width,
                } => {
                    let value = moment.get(*field);
                    if value < 0 {
                        out.push('-');
                    } else if *plus_past_width && *width < 19 && value >= 10i64.pow(*width as u32) {
                        out.push('+');
                    }
                    push_digits(out, value.unsigned_abs(), *width);
                }
                Item::TwoDigits(field) => {
                    push_digits(out, moment.get(*field).unsigned_abs() % 100, 2);
                }
                Item::JodaFraction(digits) => push_joda_fraction(out, moment.nanos, *digits),
                Item::JavaFraction(digits) => {
                    let cut = u64::from(moment.nanos) / 10u64.pow(9 - *digits as u32);
                    push_digits(out, cut, *digits);
                }
                Item::Name(name, width) => out.push_str(moment.name(*name, *width)),
            }
        }
    }
}

/// Joda's fraction printer, fed milliseconds (Logstash hands Joda the
/// timestamp cut to them): no fraction prints `digits` zeros; otherwise
/// the digits are cut at 15 (18, where Joda caps them, times the 1000
/// milliseconds of a second overflows a long, so it steps down), and
/// `SSSSSS` prints `123000` for 123 ms.
fn push_joda_fraction(out: &mut String, nanos: u32, digits: usize) {
    let millis = u64::from(nanos / 1_000_000);
    if millis == 0 {
        for _ in 0..digits {
            out.push('0');
        }
        return;
    }
    let kept = digits.min(15);
    let scaled = millis * 10u64.pow(kept as u32) / 1000;
    push_digits(out, scaled, kept);
}

/// An instant broken into calendar fields, once per print.
struct Moment {
    epoch_day: i64,
    year: i64,
    month: u32,
    day: u32,
    /// 1 = Monday.
    weekday: u32,
    second_of_day: u32,
    nanos: u32,
}

impl Moment {
    fn new(time: &Timestamp) -> Moment {
        let epoch_day = time.seconds().div_euclid(86_400);
        let (year, month, day) = civil_from_days(epoch_day);
        Moment {
            epoch_day,
            year,
            month: month as u32,
            day: day as u32,
            weekday: (epoch_day + 3).rem_euclid(7) as u32 + 1,
            second_of_day: time.seconds().rem_euclid(86_400) as u32,
            nanos: time.nanos(),
        }
    }

    fn year_of_era(&self) -> i64 {
        if self.year > 0 {
            self.year
        } else {
            1 - self.year
        }
    }

    fn hour(&self) -> i64 {
        i64::from(self.second_of_day / 3600)
    }

    fn get(&self, field: Field) -> i64 {
        let day_of_year = |epoch_day: i64, year: i64| epoch_day - days_from_civil(year, 1, 1) + 1;
        match field {
            Field::Year => self.year,
            Field::YearOfEra => self.year_of_era(),
            Field::CenturyOfEra => self.year_of_era() / 100,
            Field::IsoWeekYear => self.week(1, 4).0,
            Field::IsoWeek => self.week(1, 4).1,
            Field::UsWeekYear => self.week(7, 1).0,
            Field::UsWeek => self.week(7, 1).1,
            Field::UsWeekOfMonth => {
                // Weeks from Sunday; the first is the one holding the 1st.
                let first = self.epoch_day - i64::from(self.day) + 1;
                let first_from_sunday = (first + 4).rem_euclid(7);
                (i64::from(self.day) - 1 + first_from_sunday) / 7 + 1
            }
            Field::Quarter => i64::from((self.month - 1) / 3 + 1),
            Field::Month => i64::from(self.month),
            Field::Day => i64::from(self.day),
            Field::DayOfYear => day_of_year(self.epoch_day, self.year),
            Field::IsoWeekday => i64::from(self.weekday),
            Field::UsWeekday => i64::from(self.weekday % 7 + 1),
            Field::AlignedDayOfWeekInMonth => i64::from((self.day - 1) % 7 + 1),
            Field::ModifiedJulianDay => self.epoch_day + 40_587,
            Field::HourOfDay => self.hour(),
            Field::ClockHourOfDay => match self.hour() {
                0 => 24,
                hour => hour,
            },
            Field::HourOfHalfDay => self.hour() % 12,
            Field::ClockHourOfHalfDay => match self.hour() % 12 {
                0 => 12,
                hour => hour,
            },
            Field::Minute => i64::from(self.second_of_day / 60 % 60),
            Field::Second => i64::from(self.second_of_day % 60),
            Field::MilliOfDay => {
                i64::from(self.second_of_day) * 1000 + i64::from(self.nanos / 1_000_000)
            }
            Field::NanoOfSecond => i64::from(self.nanos),
            Field::NanoOfDay => {
                i64::from(self.second_of_day) * 1_000_000_000 + i64::from(self.nanos)
            }
        }
    }

    /// The week-based year and week of the year, for weeks that start on
    /// `first_day` (1 = Monday, 7 = Sunday) and a first week that has at
    /// least `minimal_days` days of its year: ISO 8601's `(1, 4)`, the
    /// US's `(7, 1)`. A week belongs to the year of its day number
    /// `8 - minimal_days` (ISO's Thursday, the US's Saturday).
    fn week(&self, first_day: u32, minimal_days: i64) -> (i64, i64) {
        let into_week = i64::from((self.weekday + 7 - first_day) % 7);
        let anchor = self.epoch_day - into_week + (7 - minimal_days);
        let (year, _, _) = civil_from_days(anchor);
        (year, (anchor - days_from_civil(year, 1, 1)) / 7 + 1)
    }

    fn name(&self, name: Name, width: Width) -> &'static str {
        match name {
            Name::Month => {
                let index = self.month as usize - 1;
                match width {
                    Width::Short => &MONTHS[index][..3],
                    Width::Full => MONTHS[index],
                    Width::Narrow => &MONTHS[index][..1],
                }
            }
            Name::Weekday => {
                let index = self.weekday as usize - 1;
                match width {
                    Width::Short => &WEEKDAYS[index][..3],
                    Width::Full => WEEKDAYS[index],
                    Width::Narrow => &WEEKDAYS[index][..1],
                }
            }
            Name::Era => match (self.year > 0, width) {
                (true, Width::Short) => "AD",
                (true, Width::Full) => "Anno Domini",
                (true, Width::Narrow) => "A",
                (false, Width::Short) => "BC",
                (false, Width::Full) => "Before Christ",
                (false, Width::Narrow) => "B",
            },
            Name::HalfDay if self.hour() < 12 => "AM",
            Name::HalfDay => "PM",
            Name::Quarter => {
                let quarter = (self.month as usize - 1) / 3;
                match width {
                    Width::Short => ["Q1", "Q2", "Q3", "Q4"][quarter],
                    Width::Full => {
                        ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"][quarter]
                    }
                    Width::Narrow => ["1", "2", "3", "4"][quarter],
                }
            }
            Name::DayPeriod => {
                // CLDR's English day periods: midnight and noon are their
                // whole first minute.
                let minute = self.second_of_day / 60;
                match (minute, width) {
                    (0, Width::Narrow) => "mi",
                    (0, _) => "midnight",
                    (720, Width::Narrow) => "n",
                    (720, _) => "noon",
                    (360..720, _) => "in the morning",
                    (720..1080, _) => "in the afternoon",
                    (1080..1260, _) => "in the evening",
                    _ => "at night",
                }
            }
        }
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[cfg(test)]
mod tests;
