//! The filter against Logstash's json filter, option by option.

use super::*;
use wasmstash_sdk::NativeFilter;

fn run(config: Value, input: &str) -> String {
    let mut filter = Json::new(serde_json::from_value(config).unwrap()).unwrap();
    let mut event = Event::parse(input.as_bytes()).unwrap();
    assert_eq!(filter.process(&mut event), Verdict::Keep);
    event.to_json()
}

#[test]
fn parses_into_the_root_and_into_a_target() {
    let input = r#"{"message":"{\"level\":\"warn\",\"n\":{\"a\":1}}"}"#;
    assert_eq!(
        run(json!({"source": "message"}), input),
        r#"{"message":"{\"level\":\"warn\",\"n\":{\"a\":1}}","level":"warn","n":{"a":1}}"#
    );
    assert_eq!(
        run(json!({"source": "message", "target": "[app][doc]"}), input),
        r#"{"message":"{\"level\":\"warn\",\"n\":{\"a\":1}}","app":{"doc":{"level":"warn","n":{"a":1}}}}"#
    );
}

#[test]
fn empty_or_blank_text_is_a_null_document_as_jrjackson_reads_it() {
    for text in ["", " \\t\\r\\n "] {
        let input = format!(r#"{{"message":"{text}"}}"#);
        assert_eq!(
            run(
                json!({"source": "message", "target": "doc", "add_tag": ["parsed"]}),
                &input
            ),
            format!(r#"{{"message":"{text}","doc":null,"tags":["parsed"]}}"#)
        );
        // The root takes objects only, and this is no parse error that
        // `skip_on_invalid_json` would hide.
        assert_eq!(
            run(
                json!({"source": "message", "skip_on_invalid_json": true}),
                &input
            ),
            format!(r#"{{"message":"{text}","tags":["_jsonparsefailure"]}}"#)
        );
    }
    // A form feed is no JSON whitespace: invalid, so skipped quietly.
    assert_eq!(
        run(
            json!({"source": "message", "target": "doc", "skip_on_invalid_json": true}),
            r#"{"message":"\\f"}"#
        ),
        r#"{"message":"\\f"}"#
    );
}

#[test]
fn numbers_keep_their_text_unless_past_a_doubles_range() {
    assert_eq!(
        run(
            json!({"source": "message", "target": "d"}),
            r#"{"message":"{\"p\":1.50,\"big\":123456789012345678901234567890}"}"#
        ),
        r#"{"message":"{\"p\":1.50,\"big\":123456789012345678901234567890}","d":{"p":1.50,"big":123456789012345678901234567890}}"#
    );
    for document in [r#"{\"a\":1e400}"#, r#"{\"a\":[-1e309]}"#] {
        let input = format!(r#"{{"message":"{document}"}}"#);
        assert_eq!(
            run(json!({"source": "message"}), &input),
            format!(r#"{{"message":"{document}","tags":["_jsonparsefailure"]}}"#)
        );
    }
}

#[test]
fn invalid_json_is_tagged_unless_skipped() {
    let input = r#"{"message":"{not json"}"#;
    assert_eq!(
        run(json!({"source": "message"}), input),
        r#"{"message":"{not json","tags":["_jsonparsefailure"]}"#
    );
    assert_eq!(
        run(
            json!({"source": "message", "skip_on_invalid_json": true}),
            input
        ),
        input
    );
    assert_eq!(
        run(
            json!({"source": "message", "tag_on_failure": ["x"]}),
            r#"{"message":"[1]"}"#
        ),
        r#"{"message":"[1]","tags":["x"]}"#
    );
    // Valid JSON that is no object is tagged even when invalid JSON is
    // skipped: Logstash's flag guards only the parse.
    assert_eq!(
        run(
            json!({"source": "message", "skip_on_invalid_json": true, "tag_on_failure": "y"}),
            r#"{"message":"[1,2]"}"#
        ),
        r#"{"message":"[1,2]","tags":["y"]}"#
    );
}

#[test]
fn keys_written_as_field_references_set_nested_fields() {
    assert_eq!(
        run(
            json!({"source": "message"}),
            r#"{"message":"{\"[x][y]\":1,\"[[z]]\":2}"}"#
        ),
        r#"{"message":"{\"[x][y]\":1,\"[[z]]\":2}","x":{"y":1},"z":2}"#
    );
}

/// At the root, a key that is no field reference makes Logstash's
/// `event.set` raise (its strict tokenizer), and json.rb's rescue tags the
/// event: the members before it stay set, it and those after are not, and
/// the common options do not run. Under a `target` the key is only a key.
#[test]
fn a_root_key_that_is_no_field_reference_fails_there() {
    let config = json!({"source": "m", "add_tag": ["parsed"]});
    for key in ["a[b]", "[a]b", "[]", "a]", "[a", "[a]]", "[bad", "[x][y"] {
        let document = json!({"x": 0, key: 1, "z": 2}).to_string();
        assert_eq!(
            run_value(config.clone(), json!({"m": document})),
            json!({"m": document, "x": 0, "tags": ["_jsonparsefailure"]}),
            "{key}"
        );
        let targeted = json!({"source": "m", "target": "t"});
        assert_eq!(
            run_value(targeted, json!({"m": document}))["t"],
            json!({"x": 0, key: 1, "z": 2}),
            "{key}"
        );
    }
    // Keys Logstash reads as plain names are set as themselves.
    for key in ["a.b", "", "a b", "@timestamp_x"] {
        let document = json!({key: 1}).to_string();
        assert_eq!(
            run_value(config.clone(), json!({"m": document})),
            json!({"m": document, key: 1, "tags": ["parsed"]}),
            "{key}"
        );
    }
}

#[test]
fn the_common_options_apply_only_when_the_document_was_set() {
    let config = json!({"source": "message", "add_field": {"from": "%{[doc][a]}"},
                        "add_tag": ["parsed"], "target": "doc"});
    assert_eq!(
        run(config.clone(), r#"{"message":"{\"a\":1}"}"#),
        r#"{"message":"{\"a\":1}","doc":{"a":1},"from":"1","tags":["parsed"]}"#
    );
    assert_eq!(
        run(config, r#"{"message":"nope"}"#),
        r#"{"message":"nope","tags":["_jsonparsefailure"]}"#
    );
}

#[test]
fn a_documents_timestamp_is_read_as_a_time_at_the_root() {
    let config = json!({"source": "m", "add_tag": ["parsed"]});
    // A time in another zone is written in UTC, in place of the old one.
    assert_eq!(
        run(
            config.clone(),
            r#"{"@timestamp":"2000-01-01T00:00:00.000Z","m":"{\"@timestamp\":\"2022-03-04T05:06:07.8+01:00\",\"k\":1}"}"#
        ),
        r#"{"@timestamp":"2022-03-04T04:06:07.800Z","m":"{\"@timestamp\":\"2022-03-04T05:06:07.8+01:00\",\"k\":1}","k":1,"tags":["parsed"]}"#
    );
    // No time: the current time, a tag, the value kept as Ruby's `to_s`
    // writes it; still a success.
    for (time, kept) in [
        (r#"\"soon\""#, "soon"),
        ("42", "42"),
        ("true", "true"),
        // Decimals as BigDecimal's text, as JRuby 9.3 writes the Java
        // BigDecimals Logstash's JSON parser makes of them.
        ("1.5e3", "0.15e4"),
        ("1700000000.123", "0.1700000000123e10"),
        ("-0.00120", "-0.12e-2"),
        ("-0.0", "0.0"),
        ("[1.5,2]", "[0.15e1, 2]"),
        (r#"{\"a\":[1,null,1E2]}"#, r#"{"a"=>[1, nil, 0.1e3]}"#),
    ] {
        let input = format!(r#"{{"m":"{{\"@timestamp\":{time},\"k\":2}}"}}"#);
        let out: Value = serde_json::from_str(&run(config.clone(), &input)).unwrap();
        let now = out["@timestamp"].as_str().unwrap();
        assert!(timestamp::parse(now).as_deref() == Some(now), "{out}");
        assert_eq!(out["k"], 2, "{out}");
        assert_eq!(out["_@timestamp"], kept, "{out}");
        assert_eq!(
            out["tags"],
            json!(["_timestampparsefailure", "parsed"]),
            "{out}"
        );
    }
    // A null or false changes nothing (Ruby's `if parsed_timestamp`), and
    // is not set; under a target it is only a field.
    for time in ["null", "false"] {
        let input = format!(
            r#"{{"@timestamp":"2000-01-01T00:00:00.000Z","m":"{{\"@timestamp\":{time},\"k\":1}}"}}"#
        );
        let mut expected: Value = serde_json::from_str(&input).unwrap();
        expected["k"] = json!(1);
        expected["tags"] = json!(["parsed"]);
        assert_eq!(
            run_value(config.clone(), serde_json::from_str(&input).unwrap()),
            expected
        );
    }
    assert_eq!(
        run(
            json!({"source": "m", "target": "t"}),
            r#"{"m":"{\"@timestamp\":\"soon\"}"}"#
        ),
        r#"{"m":"{\"@timestamp\":\"soon\"}","t":{"@timestamp":"soon"}}"#
    );
}

#[test]
fn ecs_compatibility_is_accepted_as_logstash_accepts_it() {
    for mode in ["disabled", "v1", "v8"] {
        let config = json!({"source": "m", "ecs_compatibility": mode});
        assert_eq!(
            run(config, r#"{"m":"{\"a\":1}"}"#),
            r#"{"m":"{\"a\":1}","a":1}"#
        );
    }
    let err = NativeFilter::<Json>::new(br#"{"source":"m","ecs_compatibility":"v2"}"#)
        .err()
        .unwrap();
    assert!(err.contains("unknown variant `v2`"), "{err}");
}

#[test]
fn a_missing_source_leaves_the_event_alone() {
    assert_eq!(run(json!({"source": "nope"}), r#"{"a":1}"#), r#"{"a":1}"#);
    // So do a null and false, which Ruby's `unless source` skips too.
    for skipped in [r#"{"m":null}"#, r#"{"m":false}"#] {
        assert_eq!(run(json!({"source": "m"}), skipped), skipped);
    }
}

/// Logstash's JSON reader takes text only: an object, a list, a number
/// or `true` fails as bad JSON does, and is skipped with it.
#[test]
fn a_source_that_is_not_text_is_tagged() {
    for value in [r#"{"a":1}"#, "[1]", "5", "true"] {
        let input = format!(r#"{{"m":{value}}}"#);
        let tagged = format!(r#"{{"m":{value},"tags":["_jsonparsefailure"]}}"#);
        assert_eq!(run(json!({"source": "m", "target": "t"}), &input), tagged);
        let skipping = json!({"source": "m", "skip_on_invalid_json": true});
        assert_eq!(run(skipping, &input), input);
    }
}

#[test]
fn bad_config_is_explained() {
    let err = NativeFilter::<Json>::new(br#"{"sorce":"message"}"#)
        .err()
        .unwrap();
    assert!(err.contains("unknown field `sorce`"), "{err}");
    let err = NativeFilter::<Json>::new(br#"{"source":"[a][b"}"#)
        .err()
        .unwrap();
    assert!(err.contains("malformed field reference"), "{err}");
}

/// The host refuses a result nested more than `MAX_NESTING` deep (ABI.md)
/// and would fail the event as this filter's bug; the filter fails a
/// document that deep where it would be set, as it fails one it cannot
/// read.
#[test]
fn a_document_too_deep_for_its_target_is_tagged() {
    // The reviewer's case: 3 segments and 125 levels make 128.
    let document = format!(r#"{{"x":{}{}}}"#, "[".repeat(124), "]".repeat(124));
    let input = json!({"message": document}).to_string();
    let tagged = json!({"message": document, "tags": ["_jsonparsefailure"]});
    let out = |config: Value| serde_json::from_str::<Value>(&run(config, &input)).unwrap();
    assert_eq!(
        out(json!({"source": "message", "target": "[a][b][c]"})),
        tagged
    );
    // It is JSON, so `skip_on_invalid_json` does not skip it.
    let skipping =
        json!({"source": "message", "target": "[a][b][c]", "skip_on_invalid_json": true});
    assert_eq!(out(skipping), tagged);
    // One segment less is as deep as an event may be.
    let set = out(json!({"source": "message", "target": "[a][b]"}));
    assert_eq!(json_text::nesting(&set), json_text::MAX_NESTING);
    // At the root, a key written as a path counts its segments.
    let rooted = format!(r#"{{"[a][b][c]":{}{}}}"#, "[".repeat(125), "]".repeat(125));
    let input = json!({"message": rooted}).to_string();
    assert_eq!(
        serde_json::from_str::<Value>(&run(json!({"source": "message"}), &input)).unwrap(),
        json!({"message": rooted, "tags": ["_jsonparsefailure"]})
    );
    // A deep target with a document the fast path would take.
    let target = "[t]".repeat(30);
    let shallow = |levels: usize| {
        let doc = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        let input = json!({"message": doc}).to_string();
        serde_json::from_str::<Value>(&run(json!({"source": "message", "target": target}), &input))
            .unwrap()
    };
    assert_eq!(json_text::nesting(&shallow(97)), json_text::MAX_NESTING);
    assert_eq!(shallow(98)["tags"], json!(["_jsonparsefailure"]));
}

/// json.rb rescues what `filter_matched` raises (a set its event refuses)
/// and tags the event `tag_on_failure`, whatever `skip_on_invalid_json`
/// says; what was set before stays.
#[test]
fn a_common_option_logstash_refuses_tags_the_event() {
    for skip in [false, true] {
        for field in ["[tags][0]", "@timestamp", "[message][x]"] {
            let config = json!({"source": "message", "target": "doc", "skip_on_invalid_json": skip,
                                "add_field": {"before": "b", field: "v"}, "add_tag": ["done"]});
            assert_eq!(
                run(
                    config,
                    r#"{"message":"{\"a\":1}","tags":["t"],"@timestamp":"2020-01-01T00:00:00.000Z"}"#
                ),
                r#"{"message":"{\"a\":1}","tags":["t","_jsonparsefailure"],"@timestamp":"2020-01-01T00:00:00.000Z","doc":{"a":1},"before":"b"}"#,
                "{field}"
            );
        }
    }
}

/// The event after the filter, read back as a `Value` to compare.
fn run_value(config: Value, input: Value) -> Value {
    serde_json::from_str(&run(config, &input.to_string())).unwrap()
}

/// json.rb's `event.set` raises where Logstash's event refuses the set,
/// and its rescue tags the event `tag_on_failure` (even with
/// `skip_on_invalid_json`), without the common options: the value in the
/// way stays.
#[test]
fn a_target_logstash_refuses_tags_the_event() {
    for skip in [false, true] {
        let config = |target: &str| {
            json!({"source": "message", "target": target, "add_tag": ["parsed"],
                   "skip_on_invalid_json": skip})
        };
        let event = json!({"message": "\"h1\"", "host": "beats7host"});
        assert_eq!(
            run_value(config("[host][name]"), event),
            json!({"message": "\"h1\"", "host": "beats7host", "tags": ["_jsonparsefailure"]})
        );
        let time = "2020-01-01T00:00:00.000Z";
        for (target, document) in [
            ("tags", r#"{"a":1}"#),
            ("tags", "[1,2]"),
            ("[tags][0]", r#""t""#),
            ("[tags][x]", "{}"),
            ("@timestamp", r#""2021-01-01T00:00:00.000Z""#),
            ("[@timestamp]", r#""x""#),
            ("[@timestamp][x]", "1"),
            ("@metadata", "5"),
            ("[@metadata]", "[1]"),
        ] {
            let event = json!({"message": document, "@timestamp": time});
            assert_eq!(
                run_value(config(target), event),
                json!({"message": document, "@timestamp": time, "tags": ["_jsonparsefailure"]}),
                "{target} {document}"
            );
        }
        // What the event takes there is set, and the common options run.
        for (target, document, set) in [
            ("tags", r#"["a","b"]"#, json!(["a", "b", "parsed"])),
            ("tags", r#""a""#, json!(["a", "parsed"])),
            ("@metadata", r#"{"k":1}"#, json!({"k": 1})),
            ("[@metadata][x]", "5", json!({"x": 5})),
        ] {
            let out = run_value(config(target), json!({"message": document}));
            let field = field_ref::segments(target).next().unwrap();
            assert_eq!(&out[field], &set, "{target} {out}");
        }
    }
}

/// At the root, json.rb sets the document's members one by one: those
/// before the one refused stay, it and those after are not set, nor is the
/// document's `@timestamp`, which json.rb sets last.
#[test]
fn a_root_member_logstash_refuses_stops_the_sets_there() {
    let config = json!({"source": "m", "add_tag": ["parsed"]});
    let time = "2020-01-01T00:00:00.000Z";
    for (document, set_before) in [
        (r#"{"x":1,"tags":[1,2],"y":2}"#, json!({"x": 1})),
        (r#"{"tags":{"a":1}}"#, json!({})),
        (r#"{"a":"s","[tags][x]":"h"}"#, json!({"a": "s"})),
        (r#"{"[host][name]":"h","z":1}"#, json!({})),
        (r#"{"x":true,"[x][y]":1}"#, json!({"x": true})),
        (r#"{"[@timestamp]":"2021-01-01T00:00:00.000Z"}"#, json!({})),
        (r#"{"@metadata":5}"#, json!({})),
        (
            r#"{"@timestamp":"2021-01-01T00:00:00.000Z","k":1,"tags":[null]}"#,
            json!({"k": 1}),
        ),
    ] {
        for tags in [None, Some(json!(["t"]))] {
            let mut event = json!({"m": document, "host": "beats7host", "@timestamp": time});
            let mut expected = event.clone();
            if let Some(tags) = &tags {
                event["tags"] = tags.clone();
            }
            for (key, value) in set_before.as_object().unwrap() {
                expected[key] = value.clone();
            }
            let mut failed = tags.unwrap_or(json!([]));
            failed
                .as_array_mut()
                .unwrap()
                .push(json!("_jsonparsefailure"));
            expected["tags"] = failed;
            assert_eq!(run_value(config.clone(), event), expected, "{document}");
        }
    }
    // Values the event takes there are set as ever.
    for (document, tags) in [
        (r#"{"tags":"a"}"#, json!(["a", "parsed"])),
        (r#"{"tags":["a"]}"#, json!(["a", "parsed"])),
        (r#"{"tags":null}"#, json!(["parsed"])),
        (r#"{"[tags]":[]}"#, json!(["parsed"])),
    ] {
        let out = run_value(config.clone(), json!({"m": document}));
        assert_eq!(out["tags"], tags, "{document}");
    }
    assert_eq!(
        run_value(config, json!({"m": r#"{"@metadata":{"k":1}}"#}))["@metadata"],
        json!({"k": 1})
    );
}

/// Logstash's Jackson reads a lone surrogate escape, but the character it
/// stores is no Unicode text, which an event here cannot hold.
#[test]
fn a_lone_surrogate_fails_the_document() {
    for document in [r#"\"\\ud800\""#, r#"{\"a\":\"x\\udc00\"}"#] {
        let input = format!(r#"{{"message":"{document}"}}"#);
        assert_eq!(
            run(json!({"source": "message", "target": "t"}), &input),
            format!(r#"{{"message":"{document}","tags":["_jsonparsefailure"]}}"#)
        );
    }
}

/// JSON an event cannot hold is tagged, even with `skip_on_invalid_json`,
/// which skips only text that is no JSON: a number past a double's range.
/// Text nested past the parser's limit or with a lone surrogate escape may
/// be either, as the parser stops there: it is skipped as unreadable.
#[test]
fn json_an_event_cannot_hold_is_tagged_even_when_skipping() {
    let tagged = |document: &str| json!({"message": document, "tags": ["_jsonparsefailure"]});
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    for target in [json!("doc"), Value::Null] {
        let config = |skip: bool| {
            let mut config = json!({"source": "message", "skip_on_invalid_json": skip});
            if !target.is_null() {
                config["target"] = target.clone();
            }
            config
        };
        let out = |skip: bool, document: &str| -> Value {
            let input = json!({"message": document}).to_string();
            serde_json::from_str(&run(config(skip), &input)).unwrap()
        };
        let big = r#"{"a":1e400}"#;
        assert_eq!(out(true, big), tagged(big));
        for unreadable in [
            deep.as_str(),
            r#"{"a":"\ud800"}"#,
            &format!("{}x", "[".repeat(200)),
        ] {
            assert_eq!(out(true, unreadable), json!({"message": unreadable}));
            assert_eq!(out(false, unreadable), tagged(unreadable));
        }
    }
}

mod logged;
