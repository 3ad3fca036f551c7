//! `Event::sprintf`'s date references against answers recorded from the
//! real libraries Logstash 8 formats `@timestamp` with: Joda-Time 2.10 for
//! `%{+FORMAT}`, JDK 17's java.time for `%{{FORMAT}}`, and
//! `Instant.getEpochSecond` for `%{+%s}`. `compat/SprintfOracle.java`
//! printed each pattern for each instant (and every letter alone, at
//! several counts), with an English (US) default locale, or the exception
//! with which the library refused the pattern.
//!
//! Each case goes through `sprintf` on an event whose `@timestamp` is the
//! instant as Logstash writes it, and through `DateFormat` directly. A
//! pattern the library refused must be refused here too (by
//! `Template::check`, so at config time), and be left as written if it
//! reaches `sprintf`.

use wasmstash_sdk::Event;
use wasmstash_sdk::logstash::date_format::DateFormat;
use wasmstash_sdk::template::Template;
use wasmstash_sdk::timestamp::Timestamp;

const CASES: &str = include_str!("../compat/sprintf-cases.tsv");

/// java.time patterns that JDK 17 takes and this port refuses: padding.
const LEFT_OUT: &[&str] = &["ppH"];

#[test]
fn every_recorded_answer_is_ours_too() {
    let mut differences = Vec::new();
    let mut checked = [0usize; 3];
    for (index, line) in CASES.lines().enumerate() {
        let [kind, pattern, timestamp, answer] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("sprintf-cases.tsv line {}: not four fields", index + 1);
        };
        let case = format!("line {}: {kind} `{pattern}` at {timestamp}", index + 1);
        let (compiled, template) = match kind {
            "epoch" => {
                checked[0] += 1;
                let event = event_at(timestamp);
                if event.sprintf("%{+%s}") != answer {
                    differences.push(format!("{case}: {} for {answer}", event.sprintf("%{+%s}")));
                }
                continue;
            }
            "joda" => (DateFormat::joda(pattern), format!("%{{+{pattern}}}")),
            "java" => (DateFormat::java(pattern), format!("%{{{{{pattern}}}}}")),
            other => panic!("{case}: unknown kind {other}"),
        };
        checked[if kind == "joda" { 1 } else { 2 }] += 1;
        if let Some(refusal) = answer.strip_prefix('!') {
            let template = Template::new(template.as_str());
            if compiled.is_ok() || template.check().is_ok() {
                differences.push(format!("{case}: taken, where the library says {refusal}"));
            }
            // Left as written when it gets to sprintf anyway.
            let written = event_at("2015-05-17T10:05:03.000Z")
                .sprintf(template.as_str())
                .into_owned();
            if written != template.as_str() {
                differences.push(format!("{case}: refused, yet printed as {written}"));
            }
            continue;
        }
        let format = match compiled {
            Ok(format) => format,
            Err(_) if kind == "java" && LEFT_OUT.contains(&pattern) => continue,
            Err(e) => {
                differences.push(format!(
                    "{case}: refused ({e}), where the library gives {answer}"
                ));
                continue;
            }
        };
        let mut direct = String::new();
        format.write(&Timestamp::parse(timestamp).unwrap(), &mut direct);
        if direct != answer {
            differences.push(format!("{case}: {direct} for {answer}"));
        }
        // `%{+%}` and `%{+}` are seconds, as in Logstash, not Joda patterns.
        if kind == "joda" && "%s".starts_with(pattern) {
            continue;
        }
        let event = event_at(timestamp);
        let through_sprintf = event.sprintf(&template);
        let through_template = Template::new(template.as_str());
        if through_sprintf != answer || through_template.render(&event) != answer {
            differences.push(format!(
                "{case}: sprintf gives {through_sprintf} for {answer}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
    // The file is whole: every kind is there in number.
    assert!(
        checked[0] >= 20 && checked[1] >= 2000 && checked[2] >= 4000,
        "{checked:?}"
    );
}

fn event_at(timestamp: &str) -> Event<'static> {
    let mut event = Event::new();
    event.set("@timestamp", timestamp);
    event
}
