//! Event-time gaps, bogus timestamps, restores under other settings and
//! corrupted snapshots: the ways the interval detectors could stall or lie.

use super::*;
use crate::keyed::KeyTable;
use wasmstash_sdk::host::native_counters;

const DAY: i64 = 86_400_000;

fn counter(counters: &std::collections::BTreeMap<String, i64>, name: &str) -> i64 {
    counters.get(name).copied().unwrap_or(0)
}

#[test]
fn a_day_long_gap_costs_a_bounded_amount_of_work_per_key() {
    let keys = 5000;
    let mut anomaly = filter(json!({"rate": {}, "max_keys": 100_000}));
    let before_gap: Vec<Value> = (0..keys)
        .map(|i| event(&format!("k{i}"), T0 + i * 10))
        .collect();
    run(&mut anomaly, &before_gap);
    native_counters::take();
    let judged = anomaly.filter().intervals[0].judged;
    let after_gap: Vec<Value> = (0..20)
        .map(|i| event(&format!("k{i}"), T0 + DAY + i * 1000))
        .collect();
    run(&mut anomaly, &after_gap);
    // Replaying the gap's 1440 empty intervals one by one for every key
    // would judge over seven million; each key's few open intervals are
    // judged one by one, and the empty rest in one step.
    let tracker = &anomaly.filter().intervals[0];
    let judged = tracker.judged - judged;
    assert!(judged <= 4 * keys as u64, "{judged} intervals judged");
    assert!(
        tracker.skipped_runs >= keys as u64,
        "{}",
        tracker.skipped_runs
    );
    let counters = native_counters::take();
    assert_eq!(counter(&counters, "late_events"), 0, "{counters:?}");
}

#[test]
fn a_restore_under_another_interval_learns_the_intervals_afresh() {
    let services: [(&str, &dyn Fn(i64) -> i64); 2] = [("api", &steady), ("web", &steady)];
    let config = json!({"rate": {}, "error_ratio": {}});
    let mut old = filter(config);
    run(&mut old, &traffic(&services, 60));
    let state = old.snapshot();
    for secs in [30, 120] {
        let mut new = filter(json!({"rate": {}, "error_ratio": {}, "interval_secs": secs}));
        new.restore(&state).unwrap();
        native_counters::take();
        // Steady traffic on, then a spike of `api` three hours in.
        let spiky = |m: i64| {
            if (180..184).contains(&m) {
                600
            } else {
                steady(m)
            }
        };
        let later: [(&str, &dyn Fn(i64) -> i64); 2] = [("api", &spiky), ("web", &steady)];
        let events: Vec<Value> = traffic(&later, 200).split_off(60 * 120);
        let out = run(&mut new, &events);
        let counters = native_counters::take();
        assert_eq!(
            counter(&counters, "late_events"),
            0,
            "{secs} s: {counters:?}"
        );
        let found = findings(&out, "rate");
        assert!(!found.is_empty(), "{secs} s: the spike is missed");
        assert!(
            found.iter().all(|(k, r)| k == "api" && r.contains("spike")),
            "{secs} s: {found:#?}"
        );
    }
}

/// Two services at a steady rate; `web` goes silent at minute 50.
fn silent_web() -> Vec<Value> {
    let silent = |m: i64| if m >= 50 { 0 } else { steady(m) };
    let services: [(&str, &dyn Fn(i64) -> i64); 2] = [("api", &steady), ("web", &silent)];
    traffic(&services, 70)
}

#[test]
fn one_far_future_timestamp_does_not_stop_the_clock() {
    let expected = findings(
        &run(&mut filter(json!({"rate": {}})), &silent_web()),
        "rate",
    );
    assert_eq!(expected.len(), 10, "{expected:#?}");
    let mut events = silent_web();
    events.insert(
        40 * 120,
        json!({"@timestamp": "2099-01-01T00:00:00Z", "service": {"name": "api"}}),
    );
    native_counters::take();
    let out = run(&mut filter(json!({"rate": {}})), &events);
    let counters = native_counters::take();
    assert_eq!(findings(&out, "rate"), expected);
    assert_eq!(counter(&counters, "future_events"), 1, "{counters:?}");
    assert_eq!(counter(&counters, "late_events"), 0, "{counters:?}");
}

#[test]
fn a_real_gap_is_followed_once_enough_events_confirm_it() {
    let services: [(&str, &dyn Fn(i64) -> i64); 2] = [("api", &steady), ("web", &steady)];
    let mut events = traffic(&services, 40);
    let gap_at = events.len();
    // A day later, lower traffic: eight minutes, each event in its own
    // interval, then steady again.
    for minute in 0..8 {
        events.push(event("api", T0 + DAY + minute * 60_000));
    }
    for e in traffic(&services, 60) {
        let millis = crate::time::parse_millis(e["@timestamp"].as_str().unwrap()).unwrap();
        events.push(event(
            e["service"]["name"].as_str().unwrap(),
            millis + DAY + 8 * 60_000,
        ));
    }
    let sorted = |out: Vec<Value>| {
        let mut found = findings(&out, "rate");
        found.sort();
        found
    };
    // Without the guard every event may move the clock: the reference.
    let unguarded = json!({"rate": {}, "clock_jump_confirm_events": 1});
    let expected = sorted(run(&mut filter(unguarded), &events));
    assert!(!expected.is_empty());
    native_counters::take();
    let mut guarded = filter(json!({"rate": {}}));
    let mut got = run(&mut guarded, &events[..gap_at + 3]);
    // The first events of the new day are held, across a restart too.
    let mut restarted = filter(json!({"rate": {}}));
    restarted.restore(&guarded.snapshot()).unwrap();
    got.extend(run(&mut restarted, &events[gap_at + 3..]));
    let counters = native_counters::take();
    assert_eq!(sorted(got), expected);
    assert_eq!(counter(&counters, "future_events"), 0, "{counters:?}");
    assert_eq!(counter(&counters, "late_events"), 0, "{counters:?}");
    assert_eq!(counter(&counters, "clock_jumps"), 1, "{counters:?}");
}

#[test]
fn a_snapshot_with_any_bit_flipped_is_refused() {
    let config = json!({"rate": {}, "error_ratio": {}, "new_value": {"field": "message"}});
    let services: [(&str, &dyn Fn(i64) -> i64); 1] = [("api", &steady)];
    let mut anomaly = filter(config.clone());
    run(&mut anomaly, &traffic(&services, 3));
    let state = anomaly.snapshot();
    assert!(state.len() > 100);
    let mut accepted = Vec::new();
    for bit in 0..state.len() * 8 {
        let mut flipped = state.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        if filter(config.clone()).restore(&flipped).is_ok() {
            accepted.push(bit);
        }
    }
    assert!(accepted.is_empty(), "{} flips accepted", accepted.len());
    let err = filter(config.clone())
        .restore(&state[..state.len() - 1])
        .unwrap_err();
    assert!(err.contains("checksum"), "{err}");
}

#[test]
fn a_version_1_snapshot_is_still_read() {
    let services: [(&str, &dyn Fn(i64) -> i64); 1] = [("api", &steady)];
    let spiky = |m: i64| if m == 45 { 300 } else { steady(m) };
    let events = traffic(&[("api", &spiky), services[0]], 50);
    let config = json!({"rate": {}, "new_value": {"field": "message"}});
    let expected = run(&mut filter(config.clone()), &events);
    let cut = events.len() / 2;
    let mut first = filter(config.clone());
    let mut got = run(&mut first, &events[..cut]);
    let v1 = crate::snapshot::encode_v1(crate::snapshot::decode(&first.snapshot()).unwrap());
    let mut second = filter(config.clone());
    second.restore(&v1).unwrap();
    got.extend(run(&mut second, &events[cut..]));
    assert_eq!(got, expected);
    assert!(!findings(&expected, "rate").is_empty());
    // Under another interval, a version 1 snapshot's interval state is
    // dropped too: it recorded the interval in its clock.
    let mut other = filter(json!({"rate": {}, "interval_secs": 120}));
    other.restore(&v1).unwrap();
    assert_eq!(other.filter().intervals[0].keys.len(), 0);
}

/// Epoch milliseconds are taken as they come, so a first event at
/// i64::MIN once wrapped the watermark (`millis - lateness`) to near
/// i64::MAX: every interval closed, every later event late for good, and
/// the saved state kept it so.
#[test]
fn a_first_timestamp_near_i64_min_does_not_make_every_later_event_late() {
    let expected: Vec<(String, String)> = findings(
        &run(&mut filter(json!({"rate": {}})), &silent_web()),
        "rate",
    );
    for first in [
        json!(i64::MIN),
        json!(i64::MIN + 1),
        json!(-9_223_372_036_854_700_000i64),
    ] {
        let mut events = silent_web();
        events.insert(0, json!({"@timestamp": first, "service": {"name": "api"}}));
        native_counters::take();
        let mut anomaly = filter(json!({"rate": {}}));
        let out = run(&mut anomaly, &events[..100]);
        // And across a restart: the saved clock is sane.
        let mut restarted = filter(json!({"rate": {}}));
        restarted.restore(&anomaly.snapshot()).unwrap();
        let out: Vec<Value> = out
            .into_iter()
            .chain(run(&mut restarted, &events[100..]))
            .collect();
        let counters = native_counters::take();
        assert_eq!(
            counter(&counters, "late_events"),
            0,
            "{first}: {counters:?}"
        );
        // The bogus first event taught `api` a baseline of empty
        // intervals (the first event is taken as it is); `web`'s silence
        // is found as without it.
        let web: Vec<_> = findings(&out, "rate")
            .into_iter()
            .filter(|(key, _)| key == "web")
            .collect();
        assert_eq!(web, expected, "{first}");
    }
}

/// A state saved with such a wrapped clock (closed past its newest event,
/// which no lateness allows) is repaired on restore.
#[test]
fn a_saved_clock_closed_past_its_newest_event_is_repaired() {
    let events = silent_web();
    let mut first = filter(json!({"rate": {}}));
    run(&mut first, &events[..1000]);
    let mut state = crate::snapshot::decode(&first.snapshot()).unwrap();
    // What `bucket(i64::MIN - lateness) - 1` wrapped to.
    state.clock.closed_through = Some((i64::MIN).wrapping_sub(120_000).div_euclid(60_000) - 1);
    let mut second = filter(json!({"rate": {}}));
    second
        .restore(&crate::snapshot::encode_whole(&state))
        .unwrap();
    native_counters::take();
    let out = run(&mut second, &events[1000..]);
    let counters = native_counters::take();
    assert_eq!(counter(&counters, "late_events"), 0, "{counters:?}");
    assert!(!findings(&out, "rate").is_empty());
}

/// The intervals with events before a gap past the judged limit (1440
/// intervals) are judged and learned as any others: they were dropped,
/// and keys still warming up then never finished, so the gap's silence was
/// flagged after 1430 minutes and not after 1450.
#[test]
fn a_gap_past_the_judged_limit_still_counts_the_intervals_before_it() {
    let config = json!({"rate": {"warmup_intervals": 2, "adapt_intervals": 1000}});
    for gap in [1430, 1450] {
        let services: [(&str, &dyn Fn(i64) -> i64); 2] = [("a", &steady), ("b", &steady)];
        let mut events = traffic(&services, 4);
        let after = T0 + (4 + gap) * 60_000;
        events.extend((0..12).map(|i| event("a", after + i)));
        let out = run(&mut filter(config.clone()), &events);
        let silent: Vec<String> = findings(&out, "rate")
            .into_iter()
            .filter(|(_, reason)| reason.contains("went silent"))
            .map(|(key, _)| key)
            .collect();
        assert!(!silent.is_empty(), "gap {gap}: no silence flagged");
    }
}

/// Epoch milliseconds are read from a JSON number, a float's fraction
/// dropped; text is read as ISO 8601 only.
#[test]
fn epoch_milliseconds_are_read_from_any_json_number() {
    let events = [
        json!({"@timestamp": T0, "service": {"name": "api"}}),
        json!({"@timestamp": T0 as f64 + 1000.5, "service": {"name": "api"}}),
        json!({"@timestamp": 1e300, "service": {"name": "api"}}),
        json!({"@timestamp": T0.to_string(), "service": {"name": "api"}}),
    ];
    native_counters::take();
    run(&mut filter(json!({"rate": {}})), &events);
    let counters = native_counters::take();
    assert_eq!(counter(&counters, "events_without_timestamp"), 2);
}

/// Where Logstash (or the host) could not read an event's `@timestamp`, it
/// puts the time of reading there and tags the event; that time is not
/// the event's, and taking it made a replay's clock jump to today.
#[test]
fn an_at_timestamp_logstash_could_not_read_is_no_time() {
    let tagged = |field: &str| json!({field: T0, "service": {"name": "api"}, "tags": ["_timestampparsefailure"]});
    for field in ["@timestamp", "[@timestamp]"] {
        native_counters::take();
        run(
            &mut filter(json!({"rate": {}, "timestamp_field": field})),
            &[tagged("@timestamp")],
        );
        let counters = native_counters::take();
        assert_eq!(counter(&counters, "events_without_timestamp"), 1, "{field}");
    }
    // Another field is the event's own, whatever became of @timestamp.
    run(
        &mut filter(json!({"rate": {}, "timestamp_field": "t"})),
        &[tagged("t")],
    );
    let counters = native_counters::take();
    assert_eq!(counter(&counters, "events_without_timestamp"), 0);
}
