//! How Joda-Time makes a date and time of the fields a pattern read
//! (`DateTimeParserBucket.computeMillis`), which Logstash's date filter
//! inherits, oddities included.
//!
//! The parser saves each field as it reads it; at the end Joda sorts them
//! (the field with the longer range first, then the longer unit; equal ones
//! keep the order read) and sets them on 1970-01-01T00:00, each set checked
//! against the date it lands on and followed by rounding down to that
//! field's unit. Then it sets them all a second time, in the same order,
//! without rounding (but for the last one). So a day of the year next to a
//! month and day wins over the day (`yyyy-MM-DD` on `2024-03-05` is January
//! 5th), a day name moves the date within its week after the day of the
//! month was set, and the second pass sets that day of the month again in
//! the month the week moved to, which may not have it (`Sun 30` fails when
//! that Sunday is in February). Modelling the two passes once, rather than
//! each combination, keeps every one of those answers Joda's.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// One field as Joda's parser saves it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Saved {
    /// `y`, `yy` and ISO 8601's year.
    Year(i32),
    /// `Y`: the year of the current era, so `1 - value` on a date BC.
    YearOfEra(i32),
    Month(u32),
    DayOfYear(u32),
    DayOfMonth(u32),
    /// 1 = Monday.
    DayOfWeek(u32),
    /// `a`: `true` for PM.
    HalfDay(bool),
    /// `H`, and `k` with 24 as 0.
    HourOfDay(u32),
    /// `K`, and `h` with 12 as 0.
    HourOfHalfDay(u32),
    Minute(u32),
    Second(u32),
    /// `S...`, in nanoseconds; Joda keeps the milliseconds.
    Fraction(u32),
}

impl Saved {
    /// Joda's sort key: the range's length (a year's is unbounded, like
    /// an era's), then the unit's. `Y` and `y`, `H` and `k`, `K` and `h`
    /// tie, and keep the order read.
    fn rank(self) -> u8 {
        match self {
            Saved::Year(_) | Saved::YearOfEra(_) => 0,
            Saved::Month(_) => 1,
            Saved::DayOfYear(_) => 2,
            Saved::DayOfMonth(_) => 3,
            Saved::DayOfWeek(_) => 4,
            Saved::HalfDay(_) => 5,
            Saved::HourOfDay(_) => 6,
            Saved::HourOfHalfDay(_) => 7,
            Saved::Minute(_) => 8,
            Saved::Second(_) => 9,
            Saved::Fraction(_) => 10,
        }
    }

    /// Whether the field counts months or days, the fields Joda gives its
    /// default year to when one of them comes first.
    fn counts_months_or_days(self) -> bool {
        matches!(
            self,
            Saved::Month(_) | Saved::DayOfYear(_) | Saved::DayOfMonth(_) | Saved::DayOfWeek(_)
        )
    }

    /// Joda's `set`, which checks the value against the date it lands on.
    fn set(self, local: Local) -> Result<Local, String> {
        let Local { at, cycles } = local;
        let real_year = |date: NaiveDate| i64::from(date.year()) + i64::from(cycles) * 400;
        let date = at.date();
        let hour = at.hour();
        let year_set = |year: i32| -> Result<Local, String> {
            let (date, cycles) = with_joda_year(date, year)?;
            Ok(Local {
                at: date.and_time(at.time()),
                cycles,
            })
        };
        let (date, time) = match self {
            Saved::Year(year) => return year_set(year),
            Saved::YearOfEra(value) => {
                let year = match real_year(date) <= 0 {
                    true => 1 - value,
                    false => value,
                };
                return year_set(year);
            }
            Saved::Month(month) => (in_month(date.year(), month, date.day())?, at.time()),
            Saved::DayOfYear(day) => {
                let year = date.year();
                let set = NaiveDate::from_yo_opt(year, day).ok_or_else(|| {
                    format!("day {day} of the year is not in {}", real_year(date))
                })?;
                (set, at.time())
            }
            Saved::DayOfMonth(day) => {
                let set = date.with_day(day).ok_or_else(|| {
                    let (year, month) = (real_year(date), date.month());
                    format!("day {day} is not in {year:04}-{month:02}")
                })?;
                (set, at.time())
            }
            Saved::DayOfWeek(weekday) => {
                let from = date.weekday().number_from_monday();
                let days = i64::from(weekday) - i64::from(from);
                let set = (date.checked_add_signed(chrono::Duration::days(days)))
                    .ok_or("date out of range")?;
                (set, at.time())
            }
            Saved::HalfDay(pm) => (date, with_hour(at, hour % 12 + 12 * u32::from(pm))),
            Saved::HourOfDay(value) => (date, with_hour(at, value)),
            Saved::HourOfHalfDay(value) => (date, with_hour(at, hour / 12 * 12 + value)),
            Saved::Minute(minute) => (date, at.time().with_minute(minute).ok_or("bad minute")?),
            Saved::Second(second) => (date, at.time().with_second(second).ok_or("bad second")?),
            Saved::Fraction(nanos) => (
                date,
                at.time().with_nanosecond(nanos).ok_or("bad fraction")?,
            ),
        };
        Ok(Local {
            at: date.and_time(time),
            cycles,
        })
    }

    /// Joda's `roundFloor`: the start of the field's unit.
    fn round_down(self, Local { at, cycles }: Local) -> Local {
        Local {
            at: self.round_down_at(at),
            cycles,
        }
    }

    fn round_down_at(self, at: NaiveDateTime) -> NaiveDateTime {
        let date = at.date();
        let (hour, minute, second) = (at.hour(), at.minute(), at.second());
        let start = |date: Option<NaiveDate>| date.unwrap_or(at.date()).and_time(NaiveTime::MIN);
        let time = |hour, minute, second, nanos| {
            let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos);
            date.and_time(time.unwrap_or(at.time()))
        };
        match self {
            Saved::Year(_) | Saved::YearOfEra(_) => start(date.with_ordinal(1)),
            Saved::Month(_) => start(date.with_day(1)),
            Saved::DayOfYear(_) | Saved::DayOfMonth(_) | Saved::DayOfWeek(_) => start(None),
            Saved::HalfDay(_) => time(hour / 12 * 12, 0, 0, 0),
            Saved::HourOfDay(_) | Saved::HourOfHalfDay(_) => time(hour, 0, 0, 0),
            Saved::Minute(_) => time(hour, minute, 0, 0),
            Saved::Second(_) => time(hour, minute, second, 0),
            Saved::Fraction(_) => time(
                hour,
                minute,
                second,
                at.nanosecond() / 1_000_000 * 1_000_000,
            ),
        }
    }
}

/// The local date and time Joda makes of `saved` (in the order read), and
/// the milliseconds to add to its instant: a year past `chrono`'s is read
/// whole 400-year cycles nearer (see [`Local`]). `default_year` is the year
/// Joda gives a date read without one.
pub fn compute(saved: Vec<Saved>, default_year: i32) -> Result<(NaiveDateTime, i64), String> {
    match plain(&saved, default_year) {
        Some(at) => Ok((at, 0)),
        None => set_twice(saved, default_year),
    }
}

/// [`compute`] as Joda does it: the fields sorted, then set twice.
fn set_twice(mut saved: Vec<Saved>, default_year: i32) -> Result<(NaiveDateTime, i64), String> {
    saved.sort_by_key(|field| field.rank());
    if saved
        .first()
        .is_some_and(|first| first.counts_months_or_days())
    {
        saved.insert(0, Saved::Year(default_year));
    }
    let mut local = Local {
        at: NaiveDate::from_ymd_opt(1970, 1, 1)
            .unwrap()
            .and_time(NaiveTime::MIN),
        cycles: 0,
    };
    for field in &saved {
        local = field.round_down(field.set(local)?);
    }
    for (index, field) in saved.iter().enumerate() {
        local = field.set(local)?;
        if index + 1 == saved.len() {
            local = field.round_down(local);
        }
    }
    Ok((local.at, i64::from(local.cycles) * CYCLE_MILLIS))
}

/// What [`compute`] makes of the fields most patterns have, each read once
/// and none moving another (a year, month, day of the month, hour of the
/// day, minute, second, fraction), all in range: plainly that date and
/// time, built at once rather than set field by field twice over, which
/// cost a fifth of the `date` filter's time on the access log. `None`
/// where the passes could say something else, or refuse.
fn plain(saved: &[Saved], default_year: i32) -> Option<NaiveDateTime> {
    let (mut year, mut month, mut day) = (None, None, None);
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0);
    let mut seen = 0u16;
    for field in saved {
        let kind = 1u16 << field.rank();
        if seen & kind != 0 {
            return None;
        }
        seen |= kind;
        match *field {
            Saved::Year(value) => year = Some(value),
            Saved::Month(value) => month = Some(value),
            Saved::DayOfMonth(value) => day = Some(value),
            Saved::HourOfDay(value) => hour = value,
            Saved::Minute(value) => minute = value,
            Saved::Second(value) => second = value,
            // Joda keeps milliseconds.
            Saved::Fraction(value) => nanos = value / 1_000_000 * 1_000_000,
            _ => return None,
        }
    }
    // Joda's default year goes to a date read without a year, and a time
    // alone stays on 1970-01-01.
    let year = match year {
        Some(year) => year,
        None if month.is_some() || day.is_some() => default_year,
        None => 1970,
    };
    // Years held whole cycles nearer take the passes (see [`Local`]).
    if !(-200_000..=200_000).contains(&year) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, month.unwrap_or(1), day.unwrap_or(1))?;
    date.and_hms_nano_opt(hour, minute, second, nanos)
}

/// The years Joda's year field takes (`[-292275055,292278994]`, as its
/// error says), beyond which Logstash fails too.
const JODA_YEARS: std::ops::RangeInclusive<i32> = -292_275_055..=292_278_994;

/// 400 Gregorian years: 146,097 days, a whole number of weeks.
pub const CYCLE_MILLIS: i64 = 146_097 * 86_400_000;

/// The date and time being set, `cycles` times 400 years before the one
/// Joda holds. `chrono`'s dates end about 262,000 years out, but Joda reads
/// any year in [`JODA_YEARS`] (`ISO8601` takes `20150517` for the year
/// 20,150,517), and the calendar repeats every 400 years: a year past
/// 200,000 either way is held whole cycles nearer, where its dates and
/// weekdays are the same, and so are its zone's rules (the last ones, see
/// `Zone::to_utc_millis`, or the local mean time before the first). Each
/// year set picks its own cycles, so a pattern with two years (`yy` and
/// `YYYY`) holds whichever was set last.
#[derive(Clone, Copy)]
struct Local {
    at: NaiveDateTime,
    cycles: i32,
}

/// Joda's year `set` (the month and day kept, Feb 29 cut to Feb 28), with
/// the cycles the year is held at.
fn with_joda_year(date: NaiveDate, year: i32) -> Result<(NaiveDate, i32), String> {
    const NEAR: i32 = 200_000;
    if !JODA_YEARS.contains(&year) {
        return Err(format!(
            "year {year} is outside Joda-Time's years ({} to {}), as in Logstash",
            JODA_YEARS.start(),
            JODA_YEARS.end()
        ));
    }
    let cycles = year.div_euclid(400) - year.clamp(-NEAR, NEAR).div_euclid(400);
    Ok((with_year(date, year - cycles * 400)?, cycles))
}

/// `date` in `year`, its month and day kept (Feb 29 becomes Feb 28), as
/// Joda's year `set` does.
pub fn with_year(date: NaiveDate, year: i32) -> Result<NaiveDate, String> {
    in_month(year, date.month(), date.day())
}

/// Joda's month `set`: the day kept, cut to the month's length.
fn in_month(year: i32, month: u32, day: u32) -> Result<NaiveDate, String> {
    (1..=day)
        .rev()
        .find_map(|day| NaiveDate::from_ymd_opt(year, month, day))
        .ok_or_else(|| format!("year {year} is out of range"))
}

fn with_hour(at: NaiveDateTime, hour: u32) -> NaiveTime {
    at.time().with_hour(hour).unwrap_or(at.time())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmstash_sdk::testing::XorShift;

    /// The shortcut for plain fields says what the two passes say, for
    /// random sets of them in any order, values in range or not (where
    /// the shortcut declines, the passes answer alone).
    #[test]
    fn plain_fields_give_what_setting_them_twice_gives() {
        let mut rng = XorShift(0x5eed_da7e);
        let mut taken = 0;
        for _ in 0..200_000 {
            let mut saved = Vec::new();
            for kind in 0..7 {
                if rng.below(3) == 0 {
                    continue;
                }
                let near = |rng: &mut XorShift, most: usize| rng.below(most + 3) as u32;
                saved.push(match kind {
                    0 => Saved::Year(
                        rng.below(4001) as i32 - 2000 + 2000 * (rng.below(3) as i32 - 1) * 100,
                    ),
                    1 => Saved::Month(near(&mut rng, 12)),
                    2 => Saved::DayOfMonth(near(&mut rng, 31)),
                    3 => Saved::HourOfDay(near(&mut rng, 23)),
                    4 => Saved::Minute(near(&mut rng, 59)),
                    5 => Saved::Second(near(&mut rng, 60)),
                    _ => Saved::Fraction(rng.below(2_000_000_000) as u32),
                });
            }
            if rng.below(10) == 0 && !saved.is_empty() {
                saved.push(saved[rng.below(saved.len())]);
            }
            for at in (1..saved.len()).rev() {
                saved.swap(at, rng.below(at + 1));
            }
            let default_year = 2026;
            if let Some(at) = plain(&saved, default_year) {
                taken += 1;
                let passes = set_twice(saved.clone(), default_year);
                assert_eq!(passes, Ok((at, 0)), "{saved:?}");
            }
        }
        assert!(taken > 10_000, "the shortcut was taken {taken} times");
    }
}
