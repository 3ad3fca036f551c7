//! Lookups past the threshold go through the map, so that work per member
//! stays linear in the members; and the map never disagrees with the list.
//! Work is counted in members looked at ([`MEMBERS_VISITED`]), not timed.

use serde_json::{Value, json};

use super::super::Event;
use super::{INDEXED_PAST, MEMBERS_VISITED};
use crate::testing::XorShift;

/// Members looked at while `work` runs.
fn visits(work: impl FnOnce()) -> usize {
    let before = MEMBERS_VISITED.with(|visited| visited.get());
    work();
    MEMBERS_VISITED.with(|visited| visited.get()) - before
}

/// An event of `members` members, as the host sends it.
fn flat_event(members: usize) -> Vec<u8> {
    let fields: serde_json::Map<String, Value> = (0..members)
        .map(|i| (format!("field_{i}"), json!(format!("value {i}"))))
        .collect();
    serde_json::to_vec(&fields).unwrap()
}

const MANY: usize = 4_000;

/// Each lookup looking at a few members at most: a scan per lookup would
/// look at millions.
const LINEAR_BUDGET: usize = 4 * MANY;

/// json's case: a document's keys added to the root one by one, each
/// looked up first.
#[test]
fn adding_many_members_looks_at_each_a_few_times() {
    let mut event = Event::parse(br#"{"message":"x"}"#).unwrap();
    let added = visits(|| {
        for i in 0..MANY {
            event.insert_json_with(&format!("key_{i}"), |json| json.extend_from_slice(b"1"));
        }
        for i in 0..MANY {
            event.insert(&format!("other_{i}"), i);
        }
        for i in 0..MANY {
            event.set(&format!("[nested_{i}][x]"), i);
        }
    });
    assert!(added <= 3 * LINEAR_BUDGET, "{added} members looked at");
    assert_eq!(event.keys().count(), 1 + 3 * MANY);
    assert_eq!(event.get("[nested_17][x]"), Some(&json!(17)));
}

/// mutate's case: one field looked up, read and replaced on an event with
/// many members, and a lookup of each member in turn.
#[test]
fn looking_up_every_member_of_a_large_event_looks_at_each_a_few_times() {
    let text = flat_event(MANY);
    let mut event = Event::parse(&text).unwrap();
    let read = visits(|| {
        for i in 0..MANY {
            assert_eq!(
                event.get_str(&format!("field_{i}")),
                Some(format!("value {i}").as_str())
            );
            assert!(event.contains(&format!("field_{i}")));
            let mut out = String::new();
            assert!(event.read_str_into(&format!("field_{i}"), &mut out));
        }
        for i in 0..MANY {
            let upper = format!("VALUE {i}");
            event.set(&format!("field_{i}"), upper);
        }
        assert_eq!(event.sprintf("%{field_3999}"), "VALUE 3999");
        assert_eq!(event.get("absent"), None);
    });
    assert!(read <= 2 * LINEAR_BUDGET, "{read} members looked at");
}

/// The events most filters see never pay for a map.
#[test]
fn small_events_are_scanned_and_large_ones_indexed() {
    let text = flat_event(INDEXED_PAST);
    let mut event = Event::parse(&text).unwrap();
    assert_eq!(event.get_str("field_31"), Some("value 31"));
    assert!(!event.index.is_built());
    event.insert("one_more", 1);
    assert!(!event.index.is_built(), "only a lookup builds it");
    assert_eq!(event.get("one_more"), Some(&json!(1)));
    assert!(event.index.is_built());
    // Built once: further lookups look at one member each.
    assert_eq!(visits(|| assert!(event.contains("field_0"))), 1);
    // A removal shifts the members after it, so the map goes; the next
    // lookup builds it again.
    event.remove("field_0");
    assert!(!event.index.is_built());
    assert_eq!(event.get_str("field_1"), Some("value 1"));
    assert!(
        !event.index.is_built(),
        "{INDEXED_PAST} members are scanned"
    );
    event.insert("two_more", 2);
    assert_eq!(event.get_str("field_1"), Some("value 1"));
    assert!(event.index.is_built());
}

/// Random changes to events that grow past the threshold and shrink back,
/// each followed by lookups, against a plain list of members kept in step.
#[test]
fn lookups_agree_with_a_scan_whatever_the_changes() {
    let mut rng = XorShift(0x1dea_5ca1_ab1e);
    for round in 0..40 {
        let start = rng.below(3 * INDEXED_PAST);
        let text = flat_event(start);
        let mut event = Event::parse(&text).unwrap();
        let mut expected: Vec<(String, Value)> = (0..start)
            .map(|i| (format!("field_{i}"), json!(format!("value {i}"))))
            .collect();
        for step in 0..400 {
            let key = format!("field_{}", rng.below(4 * INDEXED_PAST));
            let at = expected.iter().position(|(k, _)| *k == key);
            match rng.below(5) {
                0 => {
                    event.insert_json_with(&key, |json| json.extend_from_slice(b"[1]"));
                    set_expected(&mut expected, at, key, json!([1]));
                }
                1 => {
                    event.insert(&key, step);
                    set_expected(&mut expected, at, key, json!(step));
                }
                2 => {
                    event.set(&format!("[{key}]"), "s");
                    set_expected(&mut expected, at, key, json!("s"));
                }
                _ => {
                    let removed = event.remove(&key);
                    assert_eq!(removed, at.map(|at| expected.remove(at).1), "{key}");
                }
            }
            for probe in 0..4 * INDEXED_PAST {
                let probe = format!("field_{probe}");
                let want = expected.iter().find(|(k, _)| *k == probe).map(|(_, v)| v);
                assert_eq!(
                    event.get(&probe),
                    want,
                    "round {round} step {step}: {probe}"
                );
            }
            let keys: Vec<&str> = event.keys().collect();
            let want: Vec<&str> = expected.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, want, "round {round} step {step}");
        }
    }
}

fn set_expected(expected: &mut Vec<(String, Value)>, at: Option<usize>, key: String, value: Value) {
    match at {
        Some(at) => expected[at].1 = value,
        None => expected.push((key, value)),
    }
}
