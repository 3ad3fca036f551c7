//! The filter against answers recorded from the real Joda-Time, the library
//! Logstash's date filter parses with. `compat/JodaOracle.java` printed
//! random instants with each format, locale and zone, spoiled about half of
//! them, and wrote down what Joda made of each (see "COMPAT: the real
//! Joda-Time" in the README).
//! Here every one of those inputs goes through our parser, with the same
//! fixed "now", and must come out the same: the same instant, or a failure.

use std::collections::BTreeMap;

use serde_json::json;
use wasmstash_filter_date::Date;
use wasmstash_sdk::{Event, Filter};

/// 2026-06-10T12:00:00Z, the oracle's "now" and the pipeline's start.
const NOW: i64 = 1_781_092_800_000;

const CASES: &str = include_str!("../compat/joda-cases.tsv");

struct Case<'a> {
    line: usize,
    input: &'a str,
    /// `@timestamp` as Logstash would write it, or `None` for a failure.
    expected: Option<&'a str>,
}

#[test]
fn every_recorded_joda_answer_is_ours_too() {
    let mut by_setting: BTreeMap<(&str, &str, &str), Vec<Case>> = BTreeMap::new();
    for (index, line) in CASES.lines().enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [format, locale, zone, input, answer] = fields[..] else {
            panic!("joda-cases.tsv line {}: not five fields", index + 1);
        };
        // `!`: Joda threw something other than a parse error (see the
        // oracle); Logstash would not tag the event, we do.
        let expected = (answer != "-" && !answer.starts_with('!')).then_some(answer);
        let case = Case {
            line: index + 1,
            input,
            expected,
        };
        by_setting
            .entry((format, locale, zone))
            .or_default()
            .push(case);
    }

    let mut cases = 0;
    let mut differences = Vec::new();
    for ((format, locale, zone), group) in &by_setting {
        let config = json!({"match": ["t", format], "locale": locale, "timezone": zone});
        let date = match Date::new(serde_json::from_value(config).unwrap()) {
            Ok(date) => date.started_at(NOW),
            Err(e) => {
                differences.push(format!(
                    "{format} / {locale} / {zone}: refused at init ({e}), {} cases",
                    group.len()
                ));
                continue;
            }
        };
        for case in group {
            cases += 1;
            let mut event = Event::new();
            event.insert("t", case.input);
            date.process_at(&mut event, NOW);
            let ours = event.get_str("@timestamp");
            if ours != case.expected {
                differences.push(format!(
                    "line {}: `{}` with {format} / {locale} / {zone}: Joda {}, ours {}",
                    case.line,
                    case.input,
                    case.expected.unwrap_or("fails"),
                    ours.unwrap_or("fails"),
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {cases} cases differ from Joda:\n{}",
        differences.len(),
        differences[..differences.len().min(40)].join("\n")
    );
    assert!(cases > 5000, "only {cases} cases ran");
}
