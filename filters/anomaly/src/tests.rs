//! Whole-filter tests through the SDK's native runner: the same batches and
//! result encoding the host uses, without WebAssembly.

use wasmstash_sdk::{NativeFilter, Outcome, Value, json};

use super::Anomaly;
use crate::time::format_millis;

const T0: i64 = 1_795_600_800_000; // 2026-11-25T10:00:00Z

fn filter(config: Value) -> NativeFilter<Anomaly> {
    NativeFilter::new(config.to_string().as_bytes()).expect("valid config")
}

/// Runs `events` through `filter` and returns the output events.
fn run(filter: &mut NativeFilter<Anomaly>, events: &[Value]) -> Vec<Value> {
    let texts: Vec<String> = events.iter().map(Value::to_string).collect();
    let refs: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
    filter
        .process_events(&refs)
        .into_iter()
        .map(Outcome::into_value)
        .collect()
}

fn event(service: &str, millis: i64) -> Value {
    json!({"@timestamp": stamp(millis), "service": {"name": service}, "message": "m"})
}

fn stamp(millis: i64) -> String {
    let whole = format_millis(millis);
    format!("{}.{:03}Z", &whole[..19], millis.rem_euclid(1000))
}

/// `per_minute[i]` events for each service in minute i, spread evenly.
fn traffic(services: &[(&str, &dyn Fn(i64) -> i64)], minutes: i64) -> Vec<Value> {
    let mut events = Vec::new();
    for minute in 0..minutes {
        let mut this_minute = Vec::new();
        for (service, rate) in services {
            let n = rate(minute);
            for i in 0..n {
                this_minute.push(event(service, T0 + minute * 60_000 + i * 60_000 / n));
            }
        }
        this_minute.sort_by_key(|e| e["@timestamp"].as_str().unwrap().to_owned());
        events.extend(this_minute);
    }
    events
}

fn findings(out: &[Value], detector: &str) -> Vec<(String, String)> {
    out.iter()
        .filter_map(|e| e["wasmstash"]["anomaly"]["findings"].as_array())
        .flatten()
        .filter(|f| f["detector"] == detector)
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_owned(),
                f["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// 60 events a minute with a little deterministic wobble.
fn steady(minute: i64) -> i64 {
    60 + (minute * 7) % 9 - 4
}

#[test]
fn rate_flags_a_spike_a_drop_and_a_service_gone_silent_but_not_warm_up() {
    let spiky = |m: i64| {
        if (50..53).contains(&m) {
            300
        } else {
            steady(m)
        }
    };
    let dropping = |m: i64| if (60..63).contains(&m) { 10 } else { steady(m) };
    let silent = |m: i64| if m >= 70 { 0 } else { steady(m) };
    let services: [(&str, &dyn Fn(i64) -> i64); 4] = [
        ("spiky", &spiky),
        ("dropping", &dropping),
        ("silent", &silent),
        ("calm", &steady),
    ];
    let mut anomaly = filter(json!({"rate": {}}));
    let out = run(&mut anomaly, &traffic(&services, 90));
    let found = findings(&out, "rate");
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys.iter().filter(|&&k| k == "spiky").count(),
        3,
        "{found:#?}"
    );
    assert_eq!(
        keys.iter().filter(|&&k| k == "dropping").count(),
        3,
        "{found:#?}"
    );
    // Silence is judged as the other keys' events advance time, and reported
    // for `adapt_intervals` (10) intervals before it is learned.
    assert_eq!(
        keys.iter().filter(|&&k| k == "silent").count(),
        10,
        "{found:#?}"
    );
    assert!(!keys.contains(&"calm"), "{found:#?}");
    let silent_reason = &found.iter().find(|(k, _)| k == "silent").unwrap().1;
    assert!(
        silent_reason.contains("went silent: 0 events") && silent_reason.contains("expected 6"),
        "{silent_reason}"
    );
    // Every flagged event carries the whole contract.
    let flagged = out.iter().find(|e| e.get("wasmstash").is_some()).unwrap();
    assert_eq!(flagged["tags"], json!(["anomaly"]));
    let anomaly = &flagged["wasmstash"]["anomaly"];
    for field in [
        "score",
        "detectors",
        "reason",
        "key",
        "key_field",
        "findings",
    ] {
        assert!(anomaly.get(field).is_some(), "{field} missing in {anomaly}");
    }
    assert_eq!(anomaly["key_field"], "[service][name]");
}

/// A key first seen while the clock runs starts its warm-up at its first
/// event: the intervals between the watermark and that event (up to the
/// lateness) are not learned as empty, which made its first real interval a
/// spike after a short warm-up and diluted the baseline its silence is
/// judged against.
#[test]
fn a_new_key_learns_nothing_from_before_its_first_event() {
    let late = |m: i64| if (40..80).contains(&m) { steady(m) } else { 0 };
    let services: [(&str, &dyn Fn(i64) -> i64); 3] =
        [("a", &steady), ("b", &steady), ("late", &late)];
    let events = traffic(&services, 130);
    for config in [
        json!({"lateness_secs": 1800, "rate": {"warmup_intervals": 5}}),
        json!({"rate": {"warmup_intervals": 2}}),
        // Ten events an interval: silence is only 3.2 deviations below.
        json!({"interval_secs": 10, "rate": {"warmup_intervals": 10, "threshold": 2.5}}),
    ] {
        let out = run(&mut filter(config.clone()), &events);
        let found = findings(&out, "rate");
        assert!(
            found
                .iter()
                .all(|(_, reason)| reason.contains("went silent")),
            "{config}: {found:#?}"
        );
        let silences: Vec<_> = found.iter().filter(|(key, _)| key == "late").collect();
        assert!(!silences.is_empty(), "{config}: {found:#?}");
        for (_, reason) in silences {
            let expected: f64 = reason
                .split("expected ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap();
            let per_interval = if config["interval_secs"] == 10 {
                10.0
            } else {
                60.0
            };
            assert!(
                (expected - per_interval).abs() < 0.1 * per_interval,
                "{config}: {reason}"
            );
        }
    }
}

#[test]
fn nothing_is_flagged_during_warm_up() {
    let wild = |m: i64| if m % 2 == 0 { 5 } else { 500 };
    let services: [(&str, &dyn Fn(i64) -> i64); 1] = [("wild", &wild)];
    let config = json!({"rate": {}, "error_ratio": {}, "value_outlier": {"field": "n"}, "new_value": {"field": "n"}});
    let mut anomaly = filter(config);
    let mut events = traffic(&services, 25);
    for (i, e) in events.iter_mut().enumerate() {
        e["n"] = json!(i);
    }
    let out = run(&mut anomaly, &events);
    assert!(out.iter().all(|e| e.get("tags").is_none()));
}

#[test]
fn out_of_order_events_within_the_lateness_land_in_their_interval() {
    let services: [(&str, &dyn Fn(i64) -> i64); 1] = [("api", &steady)];
    let mut events = traffic(&services, 60);
    // Shuffle deterministically within windows of 100 events (under a minute
    // and a half of event time, inside the default two-minute lateness).
    for chunk in events.chunks_mut(100) {
        chunk.reverse();
    }
    let mut anomaly = filter(json!({"rate": {}}));
    let out = run(&mut anomaly, &events);
    assert!(
        findings(&out, "rate").is_empty(),
        "{:#?}",
        findings(&out, "rate")
    );
    assert!(!wasmstash_sdk::host::native_counters::take().contains_key("late_events"));
}

#[test]
fn error_ratio_flags_a_burst_of_errors_by_level_status_or_tag() {
    let mut events = Vec::new();
    for minute in 0..60 {
        for i in 0..100 {
            let mut e = event("api", T0 + minute * 60_000 + i * 600);
            let burst = (45..48).contains(&minute) && i % 3 == 0;
            match (burst, i) {
                (true, _) => e["log"] = json!({"level": "ERROR"}),
                (false, 0) => e["http"] = json!({"response": {"status_code": 503}}),
                (false, 50) if minute % 2 == 0 => e["tags"] = json!(["failed"]),
                _ => e["log"] = json!({"level": "info"}),
            }
            events.push(e);
        }
    }
    let mut anomaly = filter(json!({"error_ratio": {"tag": "failed"}}));
    let out = run(&mut anomaly, &events);
    let found = findings(&out, "error_ratio");
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].1.contains("(34 of 100 events)"), "{}", found[0].1);
    assert!(found[0].1.contains("expected 1.5%"), "{}", found[0].1);
}

#[test]
fn restored_state_continues_exactly_where_the_snapshot_was_taken() {
    let spiky = |m: i64| {
        if (50..53).contains(&m) {
            300
        } else {
            steady(m)
        }
    };
    let services: [(&str, &dyn Fn(i64) -> i64); 2] = [("spiky", &spiky), ("calm", &steady)];
    let mut events = traffic(&services, 80);
    for (i, e) in events.iter_mut().enumerate() {
        e["latency"] = json!(if i == 7000 {
            1e9
        } else {
            1e6 + (i % 13) as f64 * 1e4
        });
        e["client"] = json!(if i == 7100 {
            "new".to_owned()
        } else {
            format!("c{}", i % 7)
        });
    }
    let config = json!({"rate": {}, "error_ratio": {}, "value_outlier": {"field": "latency"}, "new_value": {"field": "client"}});
    let mut whole = filter(config.clone());
    let expected = run(&mut whole, &events);
    for cut in [1, 3001, 6060] {
        let mut first = filter(config.clone());
        let mut got = run(&mut first, &events[..cut]);
        let state = first.snapshot();
        let mut second = filter(config.clone());
        second.restore(&state).unwrap();
        got.extend(run(&mut second, &events[cut..]));
        assert_eq!(got, expected, "cut at {cut}");
    }
    assert!(findings(&expected, "value_outlier").len() == 1);
    assert!(findings(&expected, "new_value").len() == 1);
    assert!(!findings(&expected, "rate").is_empty());
}

#[test]
fn a_snapshot_from_another_config_keeps_the_parts_that_still_apply() {
    let services: [(&str, &dyn Fn(i64) -> i64); 1] = [("api", &steady)];
    let events = traffic(&services, 40);
    let mut old = filter(json!({"rate": {}, "new_value": {"field": "message"}}));
    run(&mut old, &events);
    let mut new = filter(json!({"rate": {}}));
    new.restore(&old.snapshot()).unwrap();
    // The rate baseline came along: a spike right away is flagged.
    let spike: Vec<Value> = (0..400)
        .map(|i| event("api", T0 + 40 * 60_000 + i * 150))
        .chain([event("api", T0 + 44 * 60_000)])
        .collect();
    assert!(!findings(&run(&mut new, &spike), "rate").is_empty());
    assert!(new.restore(&[9, 1, 2]).unwrap_err().contains("version 9"));
}

/// `v` and `[v]` are one field: a config respelled between restarts finds
/// the state learned under the other spelling.
#[test]
fn a_respelled_field_keeps_its_state() {
    let events: Vec<Value> = (0..40)
        .map(|i| {
            let mut e = event("api", T0 + i * 1000);
            e["v"] = json!(format!("seen{}", i % 3));
            e
        })
        .collect();
    let config = |field: &str| json!({"new_value": {"field": field, "warmup_events": 20}});
    let mut old = filter(config("v"));
    run(&mut old, &events);
    // State saved before fields were filed one way, under `[v]` as written.
    let mut saved = crate::snapshot::decode(&old.snapshot()).unwrap();
    for part in &mut saved.parts {
        part.id = part.id.replace(":v", ":[v]");
    }
    assert!(saved.parts.iter().any(|p| p.id.ends_with(":[v]")));
    let mut new = filter(config("v"));
    new.restore(&crate::snapshot::encode_whole(&saved)).unwrap();
    // Warm from the restored state: a known value passes, a new one is flagged.
    let mut known = event("api", T0 + 50_000);
    known["v"] = json!("seen1");
    let mut fresh = event("api", T0 + 51_000);
    fresh["v"] = json!("fresh");
    let found = findings(&run(&mut new, &[known, fresh]), "new_value");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].1.contains("\"fresh\""), "{found:?}");
}

/// Null is a detector left off, as an absent table is (a JSON config).
#[test]
fn a_null_detector_is_off() {
    let config = json!({"rate": null, "value_outlier": null, "new_value": {"field": "a"}});
    assert!(NativeFilter::<Anomaly>::new(config.to_string().as_bytes()).is_ok());
}

#[test]
fn bad_configs_are_refused_with_the_option_named() {
    for (config, expected) in [
        (json!({}), "no detector is on"),
        (json!({"rate": {"threshold": -1}}), "rate.threshold = -1"),
        (json!({"new_value": {}}), "new_value needs `field`"),
        (
            json!({"rate": {}, "key_field": "[a][b"}),
            "key_field: malformed field reference",
        ),
        (
            json!({"rate": {"thresold": 3}}),
            "rate: unknown field `thresold`",
        ),
        (
            json!({"value_outlier": {"field": "x", "thresh": 5}}),
            "unknown field `thresh`",
        ),
        (
            json!({"new_value": [{"field": "a"}, {"field": "b", "warmup": 1}]}),
            "new_value[1]: unknown field `warmup`",
        ),
        (
            json!({"rate": {}, "interval_secs": 0}),
            "interval_secs must be between",
        ),
        (
            json!({"rare_template": {"min_count": 0}}),
            "rare_template.min_count must be at least 1",
        ),
        (
            json!({"error_ratio": {"min_events": 0}}),
            "error_ratio.min_events must be at least 1",
        ),
        (
            json!({"rate": {}, "max_clock_jump_secs": 0}),
            "max_clock_jump_secs must be between 1 and 31536000",
        ),
        (
            json!({"rate": {}, "clock_jump_confirm_events": 0}),
            "clock_jump_confirm_events must be between 1 and 1000",
        ),
        (
            json!({"rate": {}, "max_findings_per_event": 0}),
            "max_findings_per_event must be between 1 and 1000",
        ),
        (
            json!({"rate": {}, "max_pending_findings": 0}),
            "max_pending_findings must be between 1 and 1000000",
        ),
        (
            json!({"rate": {"adapt_intervals": 0}}),
            "rate.adapt_intervals must be at least 1",
        ),
        (
            json!({"error_ratio": {"adapt_intervals": 0}}),
            "error_ratio.adapt_intervals must be at least 1",
        ),
        (
            json!({"rate": {"min_expected": -1}}),
            "rate.min_expected = -1: must be between 0 and",
        ),
        (
            json!({"rate": {"min_delta": -1}}),
            "rate.min_delta = -1: must be between 0 and",
        ),
        (
            json!({"error_ratio": {"levels": []}}),
            "error_ratio.levels is empty",
        ),
        (
            json!({"rate": {"warmup_intervals": -1}}),
            "rate.warmup_intervals: invalid value: integer `-1`, expected a whole number from 0 to 4294967295",
        ),
        (
            json!({"rate": 1}),
            "rate: invalid type: integer `1`, expected a table",
        ),
        // A list would be read by position, its first item a `key_field`.
        (
            json!({"rate": ["[service][name]"]}),
            "rate: invalid type: list, expected a table",
        ),
        (
            json!({"rare_template": ["[f]", "k", 0, 1, 5]}),
            "rare_template: invalid type: list, expected a table",
        ),
        (
            json!({"value_outlier": [{"field": "d"}, ["e"]]}),
            "value_outlier[1]: invalid type: list, expected a table",
        ),
        (
            json!({"value_outlier": [
                {"field": "v", "warmup_values": 5, "threshold": 3},
                {"field": "[v]", "warmup_values": 50, "threshold": 10},
            ]}),
            "value_outlier has two tables with field = \"[v]\" and key_field = \"[service][name]\"",
        ),
        (
            json!({"key_field": "host", "new_value": [
                {"field": "[source][address]"},
                {"field": "[source][address]", "key_field": "[host]"},
            ]}),
            "new_value has two tables with field = \"[source][address]\" and key_field = \"[host]\"",
        ),
    ] {
        let err = NativeFilter::<Anomaly>::new(config.to_string().as_bytes())
            .err()
            .unwrap();
        assert!(err.contains(expected), "{config}: {err}");
    }
}

#[test]
fn keys_are_capped() {
    let mut anomaly = filter(json!({"rate": {}, "max_keys": 100}));
    let events: Vec<Value> = (0..1000).map(|i| event(&format!("k{i}"), T0 + i)).collect();
    run(&mut anomaly, &events);
    assert!(anomaly.filter().keys_held() <= 100);
}

mod bounds;
mod namespace;
mod robust;

/// One field watched per key field by one table each, under ids of their own.
#[test]
fn one_field_may_be_watched_under_two_key_fields() {
    let config = json!({"value_outlier": [
        {"field": "v"},
        {"field": "v", "key_field": "host"},
    ], "new_value": [{"field": "v"}, {"field": "v", "key_field": "host"}]});
    assert!(NativeFilter::<Anomaly>::new(config.to_string().as_bytes()).is_ok());
}

/// A snapshot none of whose parts the config uses (here, a `key_field`
/// misspelt) is refused, so that the host keeps the file aside: taken,
/// the next save would have written the learning away.
#[test]
fn a_snapshot_the_config_uses_nothing_of_is_refused() {
    let services: [(&str, &dyn Fn(i64) -> i64); 1] = [("api", &steady)];
    let mut old = filter(json!({"rate": {}, "new_value": {"field": "message"}}));
    run(&mut old, &traffic(&services, 40));
    let mut misspelt = filter(json!({"key_field": "[service][nmae]", "rate": {},
                                     "new_value": {"field": "message"}}));
    let refused = misspelt.restore(&old.snapshot()).unwrap_err();
    assert!(
        refused.contains("none of the saved state's parts") && refused.contains("key_field"),
        "{refused}"
    );
    // A state that learnt nothing (its key matched no event) is no loss:
    // taken, and the config's own detectors start afresh.
    let mut learnt_nothing = filter(json!({"key_field": "[service][nmae]", "rate": {}}));
    run(&mut learnt_nothing, &traffic(&services, 5));
    let mut fixed = filter(json!({"rate": {}}));
    fixed.restore(&learnt_nothing.snapshot()).unwrap();
}

/// `holds_keys` reads postcard's map length, the first byte of the keys.
#[test]
fn holds_keys_tells_empty_keys_from_others() {
    let services: [(&str, &dyn Fn(i64) -> i64); 1] = [("api", &steady)];
    for (key_field, learns) in [("[service][name]", true), ("[service][nmae]", false)] {
        let mut detector = filter(json!({"key_field": key_field, "rate": {}}));
        run(&mut detector, &traffic(&services, 5));
        let state = crate::snapshot::decode(&detector.snapshot()).unwrap();
        assert!(!state.parts.is_empty());
        for part in &state.parts {
            assert_eq!(crate::keyed::holds_keys(&part.bytes), learns, "{key_field}");
        }
    }
}
