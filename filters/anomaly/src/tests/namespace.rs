//! Findings go under `wasmstash.anomaly`; an event whose `wasmstash` is not
//! an object cannot take them (Logstash's event refuses a set through a
//! string, number or boolean, and a set through a list changes nothing).
//! Such an event used to get the tag `anomaly` without the fields, or its
//! `wasmstash` replaced: it now fails, with its findings in the reason.

use super::*;

fn outcomes(filter: &mut NativeFilter<Anomaly>, events: &[Value]) -> Vec<Outcome> {
    let texts: Vec<String> = events.iter().map(Value::to_string).collect();
    let refs: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
    filter.process_events(&refs)
}

#[test]
fn an_event_whose_wasmstash_is_not_an_object_fails_with_its_findings() {
    let mut anomaly = filter(json!({"new_value": {"field": "client", "warmup_events": 0}}));
    let cases = [
        (json!("str"), Some("a string")),
        (json!(["x"]), Some("a list")),
        (json!(7), Some("a number")),
        (json!(false), Some("a boolean")),
        (json!(null), None),
        (json!({"other": 1}), None),
    ];
    for (i, (wasmstash, what)) in cases.into_iter().enumerate() {
        let event = json!({
            "@timestamp": stamp(T0 + i as i64), "service": {"name": "api"},
            "client": format!("c{i}"), "wasmstash": wasmstash,
        });
        let outcome = outcomes(&mut anomaly, std::slice::from_ref(&event)).remove(0);
        match what {
            Some(what) => {
                let Outcome::Failed(reason) = outcome else {
                    panic!("{wasmstash}: {outcome:?}");
                };
                assert!(
                    reason.starts_with(&format!(
                        "cannot set `[wasmstash][anomaly]`: the event's `wasmstash` is {what}, not an object"
                    )),
                    "{reason}"
                );
                assert!(reason.contains("new_value new value"), "{reason}");
            }
            None => {
                let out = outcome.into_value();
                assert_eq!(out["tags"], json!(["anomaly"]), "{out}");
                assert_eq!(
                    out["wasmstash"]["anomaly"]["detectors"],
                    json!(["new_value"])
                );
                if wasmstash.is_object() {
                    assert_eq!(out["wasmstash"]["other"], 1, "siblings are kept");
                }
            }
        }
    }
}

/// An event that cannot take findings carries no interval findings
/// either: they wait for the next event that can, and none is lost.
#[test]
fn interval_findings_wait_for_an_event_that_can_carry_them() {
    let silent = |m: i64| if m >= 50 { 0 } else { steady(m) };
    let services: [(&str, &dyn Fn(i64) -> i64); 2] = [("api", &steady), ("web", &silent)];
    let events = traffic(&services, 70);
    let expected = findings(&run(&mut filter(json!({"rate": {}})), &events), "rate");
    assert_eq!(expected.len(), 10);
    // Every event of minutes 50 to 55, when the silence is reported, has
    // a `wasmstash` that cannot take findings.
    let blocked = |e: &Value| {
        let millis = crate::time::parse_millis(e["@timestamp"].as_str().unwrap()).unwrap();
        (50 * 60_000..56 * 60_000).contains(&(millis - T0))
    };
    let events: Vec<Value> = events
        .into_iter()
        .map(|mut e| {
            if blocked(&e) {
                e["wasmstash"] = json!("kept");
            }
            e
        })
        .collect();
    let out = outcomes(&mut filter(json!({"rate": {}})), &events);
    let mut carried = Vec::new();
    for (event, outcome) in events.iter().zip(out) {
        let out = outcome.into_value();
        if blocked(event) {
            assert_eq!(&out, event, "passed on unchanged");
        }
        carried.push(out);
    }
    assert_eq!(findings(&carried, "rate"), expected);
}
