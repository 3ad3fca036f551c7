//! Sets Logstash's event refuses, and sets deeper than an event may be: kv.rb's
//! `event.set` raises there (or, for depth, the host could not carry the
//! result), and its rescue tags the event without `filter_matched`.

use super::*;
use wasmstash_sdk::json_text;

#[test]
fn a_target_logstash_refuses_is_not_set_and_tags_the_event() {
    let event = json!({"message": "a=1", "host": "web", "tags": ["t"],
                       "@timestamp": "2020-01-01T00:00:00.000Z"});
    for target in [
        "[host][kv]",
        "[message][kv]",
        "@timestamp",
        "[@timestamp][kv]",
        "[tags][x]",
        "tags",
    ] {
        let config =
            json!({"target": target, "add_tag": ["ok"], "tag_on_failure": ["bad", "worse"]});
        let mut expected = event.clone();
        expected["tags"] = json!(["t", "bad", "worse"]);
        assert_eq!(kv(config, event.clone()), expected, "{target}");
    }
}

/// A target that loads may still be refused on one event and not the next.
#[test]
fn a_target_is_checked_on_each_event() {
    let config = json!({"target": "[host][kv]", "add_tag": ["ok"], "default_keys": {"d": "0"}});
    let mut filter = Kv::new(serde_json::from_value(config).unwrap()).unwrap();
    let mut run = |input: Value| {
        let input = input.to_string();
        let mut event = Event::parse(input.as_bytes()).unwrap();
        assert_eq!(filter.process(&mut event), Verdict::Keep);
        serde_json::from_str::<Value>(&event.to_json()).unwrap()
    };
    assert_eq!(
        run(json!({"message": "a=1", "host": {"name": "h"}})),
        json!({"message": "a=1", "host": {"name": "h", "kv": {"d": "0", "a": "1"}}, "tags": ["ok"]})
    );
    assert_eq!(
        run(json!({"message": "a=1", "host": "web"})),
        json!({"message": "a=1", "host": "web", "tags": ["_kv_filter_error"]})
    );
    // default_keys alone are pairs to set, and refused the same way.
    assert_eq!(
        run(json!({"host": "web"})),
        json!({"host": "web", "tags": ["_kv_filter_error"]})
    );
    // Without pairs kv.rb returns before it sets: nothing to refuse.
    let mut filter =
        Kv::new(serde_json::from_value(json!({"target": "[host][kv]"})).unwrap()).unwrap();
    let mut event = Event::parse(br#"{"message":"no pairs","host":"web"}"#).unwrap();
    filter.process(&mut event);
    assert_eq!(event.to_json(), r#"{"message":"no pairs","host":"web"}"#);
}

/// An event may be at most `MAX_NESTING` objects and arrays deep; the host
/// fails a deeper result as a bug of the filter. Logstash would set it, so
/// this is a difference, made a failure kv.rb's rescue would make.
#[test]
fn a_set_deeper_than_an_event_may_be_is_refused() {
    let deep = "[a]".repeat(126);
    // A string 127 segments deep makes the event exactly as deep as it may be.
    let out = pairs(json!({}), &format!("{deep}[z]=1"));
    assert_eq!(json_text::nesting(&out), MAX_NESTING);
    // Two values make a list there, one level deeper: refused, and the
    // pairs after it are not set.
    let line = format!("b=2 {deep}[z]=1 {deep}[z]=2 c=3");
    assert_eq!(
        pairs(json!({"add_tag": ["ok"]}), &line),
        json!({"b": "2", "tags": ["_kv_filter_error"]})
    );
    // Under a target, the target's segments count.
    let target = "[t]".repeat(125);
    let out = pairs(
        json!({"target": target, "recursive": true, "max_depth": 1}),
        "a=b=c",
    );
    assert!(out.get("tags").is_none(), "{out}");
    let out = pairs(
        json!({"target": target, "recursive": true, "max_depth": 1}),
        "a=b=c a=b=d",
    );
    assert_eq!(out, json!({"tags": ["_kv_filter_error"]}));
}

/// `max_depth` objects nested under the target must fit in an event.
#[test]
fn max_depth_is_refused_where_an_event_could_not_hold_it() {
    let target = "[t]".repeat(70);
    let error = init_error(json!({"recursive": true, "target": target, "max_depth": 64}));
    assert!(
        error.starts_with("max_depth: at most 56 with target `[t][t]"),
        "{error}"
    );
    // Unset, it is as deep as the target leaves room for.
    let out = pairs(
        json!({"recursive": true, "target": target}),
        &"a=".repeat(100),
    );
    assert_eq!(out["tags"], json!(["_kv_filter_error"]));
    assert_eq!(json_text::nesting(&out), MAX_NESTING);
    let error = init_error(json!({"recursive": true, "max_depth": 127}));
    assert!(error.starts_with("max_depth: at most 126:"), "{error}");
    // Without `recursive` it has no effect, and nothing to refuse.
    Kv::new(serde_json::from_value(json!({"target": target})).unwrap()).unwrap();
}
