//! Month, weekday and AM/PM names for the `locale` option.
//!
//! Logstash's date filter reads names through Joda-Time, which takes them
//! from the JDK. `names/tables.rs` holds what JDK 17 (the JDK in Logstash 8)
//! gives for English, French, German, Spanish, Italian, Portuguese and
//! Dutch, region by region where a region's names differ: en-GB abbreviates
//! September `Sept`, so `Sep` does not parse there, in Logstash or here. A
//! locale outside those languages is an init error, not a silent fallback.

mod tables;

/// The names one locale has, as the JDK gives them, each in every spelling
/// Joda accepts: short and full, as written, in lower and in upper case
/// (by Java's case rules, so written out rather than derived here).
pub struct Table {
    /// BCP 47 tags with exactly these names (`en`, `en-US`, ...).
    pub tags: &'static [&'static str],
    /// January first.
    pub months: [&'static [&'static str]; 12],
    /// Monday first (Joda's numbering).
    pub weekdays: [&'static [&'static str]; 7],
    /// AM, then PM.
    pub half_days: [&'static [&'static str]; 2],
}

/// The spellings a pattern's text fields accept in one locale.
pub struct Names {
    months: Spellings,
    weekdays: Spellings,
    half_days: Spellings,
}

/// Names for the `locale` option, as Logstash takes it: a BCP 47 tag with
/// `_` allowed for `-` (`fr`, `fr-FR`, `fr_FR`). A region without names of
/// its own has its language's, as in the JDK; no locale means English.
pub fn for_locale(locale: Option<&str>) -> Result<Names, String> {
    let table = match locale {
        None => find("en"),
        Some(tag) => {
            let tag = tag.replace('_', "-");
            let mut subtags = tag.split('-');
            let language = subtags.next().unwrap_or_default().to_ascii_lowercase();
            // A script (`en-Latn-GB`) comes before the region, which is two
            // letters or three digits.
            let region = subtags
                .find(|subtag| subtag.len() != 4)
                .filter(|subtag| subtag.len() == 2 || subtag.len() == 3)
                .unwrap_or_default()
                .to_ascii_uppercase();
            find(&format!("{language}-{region}")).or_else(|| find(&language))
        }
    };
    let table = table.ok_or_else(|| {
        format!(
            "locale `{}` is not built in; the languages with month and day names are {}",
            locale.unwrap_or_default(),
            languages().join(", ")
        )
    })?;
    Ok(Names {
        months: Spellings::new(&table.months),
        weekdays: Spellings::new(&table.weekdays),
        half_days: Spellings::new(&table.half_days),
    })
}

fn find(tag: &str) -> Option<&'static Table> {
    tables::TABLES
        .iter()
        .find(|table| table.tags.contains(&tag))
}

/// The built-in languages, each once (`de, en, es, ...`).
fn languages() -> Vec<&'static str> {
    let mut languages: Vec<&str> = (tables::TABLES.iter())
        .flat_map(|table| table.tags.iter().map(|tag| tag.split('-').next().unwrap()))
        .collect();
    languages.sort_unstable();
    languages.dedup();
    languages
}

impl Names {
    /// Matches a month name at the start of `text`, short or full, as
    /// written or all in lower or upper case (`May`, `may`, `MAY`; not
    /// `mAy`), preferring the longest, as Joda does. Returns the month (1-12) and the
    /// bytes consumed.
    pub fn month(&self, text: &str) -> Option<(u32, usize)> {
        self.months.longest_at_start(text)
    }

    /// As [`Names::month`], for weekdays (1 = Monday).
    pub fn weekday(&self, text: &str) -> Option<(u32, usize)> {
        self.weekdays.longest_at_start(text)
    }

    /// As [`Names::month`], for AM and PM: whether it is PM, and the bytes
    /// consumed.
    pub fn half_day(&self, text: &str) -> Option<(bool, usize)> {
        let (index, len) = self.half_days.longest_at_start(text)?;
        Some((index == 2, len))
    }
}

/// Every spelling Joda accepts for a field, with the value it stands for
/// (1-based), longest first so that the first match is the longest.
struct Spellings(Vec<(u8, &'static str, u32)>);

impl Spellings {
    fn new(values: &[&'static [&'static str]]) -> Spellings {
        let mut spellings: Vec<(u8, &str, u32)> = (values.iter().enumerate())
            .flat_map(|(index, spellings)| {
                (spellings.iter())
                    .map(move |spelling| (spelling.as_bytes()[0], *spelling, index as u32 + 1))
            })
            .collect();
        spellings.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.1.cmp(b.1)));
        Spellings(spellings)
    }

    fn longest_at_start(&self, text: &str) -> Option<(u32, usize)> {
        let first = *text.as_bytes().first()?;
        // The first byte passes over most names with one compare: every
        // access-log line asks this of its month.
        (self.0.iter())
            .find(|(head, spelling, _)| *head == first && text.starts_with(spelling))
            .map(|(_, spelling, value)| (*value, spelling.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_short_full_lower_and_upper_case() {
        let en = for_locale(Some("en-US")).unwrap();
        assert_eq!(en.month("May 17"), Some((5, 3)));
        assert_eq!(en.month("september"), Some((9, 9)));
        assert_eq!(en.month("SEP 1"), Some((9, 3)));
        assert_eq!(en.month("Foo"), None);
        assert_eq!(en.month(""), None);
        assert_eq!(en.month("Ma"), None);
        assert_eq!(en.month("marchx"), Some((3, 5)));
        assert_eq!(en.weekday("Sunday,"), Some((7, 6)));
        // Joda takes a name as written, in lower case or in upper case only.
        assert_eq!(en.month("sEP 1"), None);
        assert_eq!(en.weekday("tUESDAY"), None);
        assert_eq!(en.weekday("TUESDAY"), Some((2, 7)));
        assert_eq!(en.half_day("pm"), Some((true, 2)));
        assert_eq!(en.half_day("Am"), None);
    }

    #[test]
    fn locales_follow_the_jdk_region_by_region() {
        let french = for_locale(Some("fr_FR")).unwrap();
        assert_eq!(french.month("juillet 1789"), Some((7, 7)));
        assert_eq!(french.month("FÉVR. 3"), Some((2, 6)));
        assert_eq!(french.weekday("dim. 5"), Some((7, 4)));
        // A region with no names of its own has its language's.
        assert_eq!(
            for_locale(Some("fr-XX")).unwrap().month("juil."),
            Some((7, 5))
        );
        // Canada's French abbreviates July otherwise.
        assert_eq!(
            for_locale(Some("fr-CA")).unwrap().month("juill."),
            Some((7, 6))
        );
        assert_eq!(
            for_locale(Some("de-AT")).unwrap().month("Jänner"),
            Some((1, 7))
        );
        assert_eq!(for_locale(Some("en-GB")).unwrap().month("Sep 1"), None);
        assert_eq!(
            for_locale(Some("en-Latn-GB")).unwrap().month("Sept 1"),
            Some((9, 4))
        );
        let spanish = for_locale(Some("es")).unwrap();
        assert_eq!(spanish.half_day("p.\u{a0}m."), Some((true, 6)));
    }

    #[test]
    fn an_unknown_language_is_refused_with_the_list() {
        let error = for_locale(Some("xx-YY")).err().unwrap();
        assert!(error.contains("`xx-YY`"), "{error}");
        assert!(error.contains("de, en, es, fr, it, nl, pt"), "{error}");
        assert!(for_locale(Some("english")).is_err());
    }
}
