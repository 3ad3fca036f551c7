//! Month and weekday names for the `locale` option.
//!
//! Only English is built in: it is what syslog, Apache and nearly every
//! server log write, and each extra language would add its tables to every
//! module. A locale we do not have is an init error, not a silent fallback.

#[derive(Debug)]
pub struct Names {
    pub months: [(&'static str, &'static str); 12],
    pub weekdays: [(&'static str, &'static str); 7],
}

const ENGLISH: Names = Names {
    months: [
        ("Jan", "January"),
        ("Feb", "February"),
        ("Mar", "March"),
        ("Apr", "April"),
        ("May", "May"),
        ("Jun", "June"),
        ("Jul", "July"),
        ("Aug", "August"),
        ("Sep", "September"),
        ("Oct", "October"),
        ("Nov", "November"),
        ("Dec", "December"),
    ],
    weekdays: [
        ("Mon", "Monday"),
        ("Tue", "Tuesday"),
        ("Wed", "Wednesday"),
        ("Thu", "Thursday"),
        ("Fri", "Friday"),
        ("Sat", "Saturday"),
        ("Sun", "Sunday"),
    ],
};

/// The names for a locale tag as Logstash takes it (`en`, `en-US`, `en_GB`).
pub fn for_locale(locale: Option<&str>) -> Result<&'static Names, String> {
    let Some(tag) = locale else {
        return Ok(&ENGLISH);
    };
    let language = tag.split(['-', '_']).next().unwrap_or_default();
    if language.eq_ignore_ascii_case("en") || language.eq_ignore_ascii_case("english") {
        Ok(&ENGLISH)
    } else {
        Err(format!(
            "locale `{tag}` is not built in; only English (`en`, `en-US`, ...) month and day names are available"
        ))
    }
}

impl Names {
    /// Matches a month name at the start of `text`, short or full, as
    /// written or all in lower or upper case (`May`, `may`, `MAY`; not
    /// `mAy`), preferring the longest, as Joda does. Returns the month (1-12) and the
    /// bytes consumed.
    pub fn month(&self, text: &str) -> Option<(u32, usize)> {
        longest_match(text, &self.months).map(|(i, len)| (i as u32 + 1, len))
    }

    /// As [`Names::month`], for weekdays (1 = Monday).
    pub fn weekday(&self, text: &str) -> Option<(u32, usize)> {
        longest_match(text, &self.weekdays).map(|(i, len)| (i as u32 + 1, len))
    }
}

fn longest_match(text: &str, table: &[(&str, &str)]) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    // Names whose first letter differs are passed over with one compare:
    // every access-log line asks this of its month, and most names differ.
    let first = bytes.first()?.to_ascii_lowercase();
    let starts_with = |name: &str| {
        let name = name.as_bytes();
        if name.first().map(u8::to_ascii_lowercase) != Some(first) || bytes.len() < name.len() {
            return false;
        }
        let head = &bytes[..name.len()];
        head == name
            || head
                .iter()
                .zip(name)
                .all(|(h, n)| *h == n.to_ascii_lowercase())
            || head
                .iter()
                .zip(name)
                .all(|(h, n)| *h == n.to_ascii_uppercase())
    };
    let mut best: Option<(usize, usize)> = None;
    for (index, (short, full)) in table.iter().enumerate() {
        for name in [short, full] {
            if starts_with(name) && best.is_none_or(|(_, len)| name.len() > len) {
                best = Some((index, name.len()));
            }
        }
    }
    best
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
        assert!(
            for_locale(Some("fr-FR"))
                .unwrap_err()
                .contains("only English")
        );
    }
}
