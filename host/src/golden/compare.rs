//! Reading a case's expected file and comparing the output with it, in the
//! words an author acts on: which event differs and how, field by field
//! when both were kept, "expected dropped, got kept" when the verdict
//! differs, and which events are extra or missing when the counts differ.

use std::path::Path;

use serde_json::Value;

use super::{DROPPED, TestError, event_count};
use crate::event_check::check_event;
use crate::files;

/// Events reported when the counts differ. Past the first difference the
/// events are likely shifted against each other, and each would differ.
const MAX_SHOWN_WHEN_SHIFTED: usize = 3;

/// Events reported when the counts agree. A change that touches every
/// event (a new field, a filter run before this one) would otherwise print
/// a screen per event; a few show what changed, and the count says how far.
const MAX_SHOWN: usize = 10;

/// Characters of an event shown whole in a report line; the rest is cut,
/// so that one large event does not bury the report.
const MAX_SHOWN_EVENT: usize = 300;

/// The events of an expected file, one per non-blank line, each held to
/// what the host holds an event to: one JSON object, no repeated key. A
/// repeated key would otherwise be read as its last value and pass. A
/// byte-order mark, as an editor may save, is passed over.
pub(super) fn expected_events(path: &Path, bytes: &[u8]) -> Result<Vec<Value>, TestError> {
    let text = std::str::from_utf8(crate::input::without_byte_order_mark(bytes))
        .map_err(|e| TestError::Setup(format!("{}: not UTF-8 text: {e}", files::shown(path))))?;
    let at_line = |number: usize, problem: String| {
        TestError::Setup(format!("{} line {number}: {problem}", files::shown(path)))
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let line = line.trim();
            check_event(line.as_bytes()).map_err(|e| at_line(index + 1, e))?;
            serde_json::from_str(line).map_err(|e| at_line(index + 1, format!("not JSON: {e}")))
        })
        .collect()
}

/// One line per difference between `expected` and `actual`, each naming
/// its event, for the first few events that differ and then a count of the
/// rest; none when they match.
pub(super) fn problems(expected: &[Value], actual: &[Value]) -> Vec<String> {
    let shifted = expected.len() != actual.len();
    let mut problems = Vec::new();
    if shifted {
        problems.push(format!(
            "expected {}, got {}",
            event_count(expected.len()),
            actual.len()
        ));
    }
    let (mut shown, mut unshown) = (0, 0);
    for index in 0..expected.len().max(actual.len()) {
        let differences = event_problems(expected.get(index), actual.get(index));
        if differences.is_empty() {
            continue;
        }
        if shown
            == if shifted {
                MAX_SHOWN_WHEN_SHIFTED
            } else {
                MAX_SHOWN
            }
        {
            unshown += 1;
            continue;
        }
        shown += 1;
        problems.extend(
            (differences.into_iter())
                .map(|difference| format!("event {}: {difference}", index + 1)),
        );
    }
    if unshown > 0 {
        let more = match unshown {
            1 => "1 more event differs".to_owned(),
            n => format!("{n} more events differ"),
        };
        problems.push(format!(
            "... and {more} (--bless rewrites the expected file when the new output is right)"
        ));
    }
    problems
}

/// How event `want` (expected) and `got` (actual) differ; either may be
/// absent when the counts differ.
fn event_problems(want: Option<&Value>, got: Option<&Value>) -> Vec<String> {
    let (want, got) = match (want, got) {
        (Some(want), Some(got)) => (want, got),
        (None, Some(got)) => return vec![format!("extra, got {}", shown(got))],
        (Some(want), None) => return vec![format!("missing, expected {}", shown(want))],
        (None, None) => return Vec::new(),
    };
    // A verdict that differs is the difference: the drop marker's fields
    // against the event's would only be noise.
    match (is_dropped(want), is_dropped(got)) {
        (true, true) => Vec::new(),
        (true, false) => vec![format!("expected dropped, got kept: {}", shown(got))],
        (false, true) => vec![format!(
            "expected kept, got dropped; expected {}",
            shown(want)
        )],
        (false, false) => {
            let mut differences = Vec::new();
            diff(want, got, String::new(), &mut differences);
            differences
        }
    }
}

fn is_dropped(event: &Value) -> bool {
    static MARKER: std::sync::LazyLock<Value> =
        std::sync::LazyLock::new(|| serde_json::from_str(DROPPED).expect("the marker is JSON"));
    *event == *MARKER
}

/// `event` as JSON, cut past [`MAX_SHOWN_EVENT`] characters; a dropped
/// event as the word.
fn shown(event: &Value) -> String {
    if is_dropped(event) {
        return "dropped".to_owned();
    }
    let text = event.to_string();
    match text.char_indices().nth(MAX_SHOWN_EVENT) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
        None => text,
    }
}

/// Field-level differences between `want` and `got`, as
/// `[a][b]: expected X, got Y` lines.
fn diff(want: &Value, got: &Value, path: String, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, wv) in w {
                let child = format!("{path}[{key}]");
                match g.get(key) {
                    Some(gv) => diff(wv, gv, child, out),
                    None => out.push(format!("{child}: missing, expected {wv}")),
                }
            }
            for (key, gv) in g {
                if !w.contains_key(key) {
                    out.push(format!("{path}[{key}]: unexpected, got {gv}"));
                }
            }
        }
        _ if want == got => {}
        _ => {
            let at = if path.is_empty() {
                "event".to_owned()
            } else {
                path
            };
            out.push(format!("{at}: expected {want}, got {got}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_each_field() {
        let mut out = Vec::new();
        diff(
            &json!({"a": 1, "b": {"c": "x"}, "d": 2}),
            &json!({"a": 1, "b": {"c": "y"}, "e": 3}),
            String::new(),
            &mut out,
        );
        assert_eq!(
            out,
            [
                r#"[b][c]: expected "x", got "y""#,
                "[d]: missing, expected 2",
                "[e]: unexpected, got 3"
            ]
        );
    }

    #[test]
    fn shifted_events_are_shown_up_to_a_few() {
        let expected: Vec<Value> = (0..1).map(|i| json!({ "n": i })).collect();
        let actual: Vec<Value> = (0..10).map(|i| json!({ "n": i })).collect();
        let problems = problems(&expected, &actual);
        assert_eq!(problems[0], "expected 1 event, got 10");
        assert_eq!(problems[1], r#"event 2: extra, got {"n":1}"#);
        assert_eq!(
            problems.len(),
            1 + MAX_SHOWN_WHEN_SHIFTED + 1,
            "{problems:?}"
        );
        assert!(
            problems[4].starts_with("... and 6 more events differ"),
            "{problems:?}"
        );
    }

    #[test]
    fn events_that_all_differ_are_shown_up_to_a_few() {
        let expected: Vec<Value> = (0..250).map(|i| json!({ "n": i })).collect();
        let actual: Vec<Value> = (0..250).map(|i| json!({ "n": i, "new": true })).collect();
        let problems = problems(&expected, &actual);
        assert_eq!(problems.len(), MAX_SHOWN + 1, "{problems:?}");
        assert_eq!(problems[0], "event 1: [new]: unexpected, got true");
        assert!(
            problems[MAX_SHOWN].starts_with("... and 240 more events differ"),
            "{problems:?}"
        );
    }

    #[test]
    fn long_events_are_cut() {
        let event = json!({ "message": "é".repeat(1000) });
        let text = shown(&event);
        let tail = format!("… ({} bytes)", event.to_string().len());
        assert!(text.ends_with(&tail), "{text}");
        assert_eq!(text.chars().count(), MAX_SHOWN_EVENT + tail.chars().count());
    }
}
