//! The common options against what Logstash's `filter_matched` does with
//! them, and their config shapes and errors.

use super::*;
use crate::{NoConfig, json};

fn common(config: Value) -> Result<CommonOptions, String> {
    serde_json::from_value::<WithCommon<NoConfig>>(config)
        .map(|c| c.common)
        .map_err(|e| e.to_string())
}

fn applied(config: Value, event: Value) -> Value {
    let (event, refused) = applied_or_refused(config, event);
    assert_eq!(refused, None);
    event
}

/// The event after `apply`, and why a set was refused if one was.
fn applied_or_refused(config: Value, event: Value) -> (Value, Option<String>) {
    let text = event.to_string();
    let mut event = Event::parse(text.as_bytes()).unwrap();
    let refused = common(config).unwrap().apply(&mut event).err();
    (serde_json::from_str(&event.to_json()).unwrap(), refused)
}

/// Logstash's event refuses these sets, and its `add_fields` raises at
/// the first: the fields added before it stay, and nothing after it
/// (the rest of `add_field`, then `remove_field`, the tags) is done.
#[test]
fn a_set_logstash_refuses_stops_the_options_there() {
    let event = json!({"host": "web-1", "n": 3, "tags": ["a"],
                       "@timestamp": "2020-01-01T00:00:00.000Z"});
    for (field, why) in [
        ("[host][name]", "the way to it passes through a string"),
        ("[n][x]", "the way to it passes through a string, number"),
        ("[@timestamp][z]", "`@timestamp` takes only a timestamp"),
        ("@timestamp", "`@timestamp` takes only a timestamp"),
        ("[tags][0]", "nothing can be set under `tags`"),
        ("[tags][x]", "nothing can be set under `tags`"),
    ] {
        let config = json!({"add_field": {"before": "b", field: "v", "after": "x"},
                            "remove_field": ["n"], "add_tag": ["t"], "remove_tag": ["a"]});
        let (out, refused) = applied_or_refused(config, event.clone());
        let mut expected = event.clone();
        expected["before"] = json!("b");
        assert_eq!(out, expected, "{field}");
        let refused = refused.expect(field);
        assert!(
            refused.starts_with(&format!(
                "add_field: Logstash's event cannot set `{field}`: {why}"
            )),
            "{refused}"
        );
    }
    // A field filled in for the event is named as it was filled in.
    let (_, refused) = applied_or_refused(
        json!({"add_field": {"[%{k}][x]": "v"}}),
        json!({"k": "host", "host": "h"}),
    );
    assert!(refused.unwrap().contains("cannot set `[host][x]`"));
}

/// `tags` itself takes a string or a list of strings: a new one is a
/// string, one already there gets the value at its end, unless that
/// list would hold something else (our event may carry a `tags`
/// Logstash would have moved aside when it made the event).
#[test]
fn add_field_at_tags_is_legal_while_tags_stay_strings() {
    let config = json!({"add_field": {"tags": "x"}});
    assert_eq!(applied(config.clone(), json!({})), json!({"tags": "x"}));
    assert_eq!(
        applied(config.clone(), json!({"tags": ["a"]})),
        json!({"tags": ["a", "x"]})
    );
    assert_eq!(
        applied(config.clone(), json!({"tags": "a"})),
        json!({"tags": ["a", "x"]})
    );
    assert_eq!(
        applied(config.clone(), json!({"tags": null})),
        json!({"tags": ["x"]})
    );
    for illegal in [json!(5), json!(["a", 1]), json!({"k": "v"})] {
        let event = json!({"tags": illegal});
        let (out, refused) = applied_or_refused(config.clone(), event.clone());
        assert_eq!(out, event);
        assert!(
            refused
                .unwrap()
                .ends_with("`tags` takes only a string or a list of strings")
        );
    }
}

/// Logstash's `remove_tag` makes a lone string tag a list (Ruby's
/// `Array`), and leaves a missing `tags` alone.
#[test]
fn remove_tag_leaves_tags_as_logstash_does() {
    let config = json!({"remove_tag": ["b", "%{k}"]});
    for (tags, left) in [
        (json!("b"), json!([])),
        (json!("a"), json!(["a"])),
        (json!(["a", "b", "c"]), json!(["a"])),
        (json!(null), json!(null)),
    ] {
        let out = applied(config.clone(), json!({"k": "c", "tags": tags.clone()}));
        assert_eq!(out, json!({"k": "c", "tags": left}), "{tags}");
    }
    assert_eq!(applied(config, json!({"k": "c"})), json!({"k": "c"}));
    // No `remove_tag`, no change to a lone string.
    assert_eq!(
        applied(json!({"add_field": {"x": "1"}}), json!({"tags": "a"})),
        json!({"tags": "a", "x": "1"})
    );
}

/// A `%{...}` that is no field reference and no date is refused with
/// the config, where Logstash raises "Invalid FieldReference" on every
/// event; the references its strict parser takes are kept.
#[test]
fn a_malformed_field_reference_in_a_template_is_refused() {
    for (config, says) in [
        (
            json!({"add_field": {"t1": "%{message[0]}"}}),
            "add_field: `%{message[0]}`: malformed field reference `message[0]`",
        ),
        (
            json!({"add_field": {"%{[a]b}": "x"}}),
            "add_field: `%{[a]b}`: malformed",
        ),
        (
            json!({"add_tag": ["ok", "x-%{[a}"]}),
            "add_tag: `%{[a}`: malformed",
        ),
        (
            json!({"remove_tag": "%{a]}"}),
            "remove_tag: `%{a]}`: malformed",
        ),
        (
            json!({"remove_field": "[x][%{[b][}]"}),
            "remove_field: `%{[b][}`: malformed",
        ),
    ] {
        let error = common(config).err().unwrap();
        assert!(error.contains(says), "{error}");
    }
    let config = json!({"add_field": {"t": "%{[a][b]}|%{a}|%{@timestamp}|%{+yyyy.MM.dd}|%{{yyyy}}|%{[@metadata][x]}|%{a b}|%{é}|%{+%s}|%{}|%{{TIME_NOW}}|%{ never"}});
    let out = applied(
        config,
        json!({"a": {"b": 1}, "@timestamp": "2015-05-17T10:05:03.000Z",
               "@metadata": {"x": "m"}, "a b": "s", "é": "e"}),
    );
    let t = out["t"].as_str().unwrap();
    assert!(
        t.starts_with(
            r#"1|{"b":1}|2015-05-17T10:05:03.000Z|2015.05.17|2015|m|s|e|1431857103|1431857103|"#
        ),
        "{t}"
    );
    assert!(t.ends_with("|%{ never"), "{t}");
}

#[test]
fn add_field_makes_a_list_of_a_field_that_is_there_as_logstash_does() {
    let config = json!({"add_field": {"new": "v-%{n}", "s": "x", "nul": "x",
                                      "[o]": ["x", "%{n}"], "list": "x"}});
    let event = json!({"n": 7, "s": "a", "nul": null, "o": {"k": 1}, "list": [1]});
    assert_eq!(
        applied(config, event),
        json!({"n": 7, "s": ["a", "x"], "nul": ["x"], "o": [["k", 1], "x", "7"],
               "list": [1, "x"], "new": "v-7"})
    );
}

/// A name whose `%{...}`, filled in, makes no field reference raises
/// "Invalid FieldReference" in Logstash's `filter_matched` as it sets or
/// removes the field: what came before stays, nothing after is done.
#[test]
fn a_filled_in_name_that_is_no_field_reference_stops_the_options() {
    for name in ["[a", "[labels][x]y]"] {
        let event = json!({"n": name, "[a": 1});
        for (config, option) in [
            (
                json!({"add_field": {"%{n}": "x"}, "add_tag": ["t"]}),
                "add_field",
            ),
            (
                json!({"remove_field": ["%{n}"], "add_tag": ["t"]}),
                "remove_field",
            ),
        ] {
            let (out, refused) = applied_or_refused(config, event.clone());
            assert_eq!(out, event, "{name}");
            let refused = refused.unwrap_or_default();
            assert!(
                refused.starts_with(&format!(
                    "{option}: Logstash's event cannot use the field name: malformed"
                )),
                "{refused}"
            );
        }
    }
    // Past the depth limit, which Logstash does not have: no field here is
    // that deep, so there is none to remove; adding one fails, saying why.
    let event = json!({"n": "[a]".repeat(200), "a": {"a": {"a": 1}}});
    let config = json!({"remove_field": ["%{n}"], "add_tag": ["t"]});
    let mut tagged = event.clone();
    tagged["tags"] = json!(["t"]);
    assert_eq!(applied(config, event.clone()), tagged);
    let config = json!({"add_field": {"%{n}": "x"}, "add_tag": ["t"]});
    let (out, refused) = applied_or_refused(config, event.clone());
    assert_eq!(out, event);
    let refused = refused.unwrap_or_default();
    assert!(
        refused.starts_with("add_field: the field name is too deep to set here: ")
            && refused.ends_with("is 200 segments deep; at most 127 are allowed"),
        "{refused}"
    );
    // A good one is used: added, then removed, leaving its parent; and an
    // empty one is the top-level field `""`, as Logstash reads it.
    let config = json!({"add_field": {"%{n}": "x"}, "remove_field": ["%{n}"]});
    assert_eq!(
        applied(config, json!({"n": "[b][c]"})),
        json!({"n": "[b][c]", "b": {}})
    );
    let config = json!({"add_field": {"%{n}": "x"}});
    assert_eq!(applied(config, json!({"n": ""})), json!({"n": "", "": "x"}));
}

/// Logstash's flat-list form of a hash, and its options for every
/// plugin, come over from logstash.conf as they are.
#[test]
fn logstash_shapes_of_the_options_are_taken() {
    let config = json!({"add_field": ["a", "1", "b", "%{n}", "a", "2"],
                        "id": "my_filter", "enable_metric": false, "periodic_flush": true});
    assert_eq!(
        applied(config, json!({"n": 7})),
        json!({"n": 7, "a": ["1", "2"], "b": "7"})
    );
    let odd = common(json!({"add_field": ["a", "1", "b"]})).err().unwrap();
    assert!(
        odd.contains("add_field: a list in place of a map needs an even number"),
        "{odd}"
    );
    let keyless = common(json!({"add_field": [1, "x"]})).err().unwrap();
    assert!(keyless.contains("expected a key, not 1"), "{keyless}");
    // Every Logstash 8 plugin takes `ecs_compatibility`, so every filter
    // here does, once, for grok to read.
    let mode = |config| common(config).map(|c| c.ecs_compatibility());
    assert_eq!(mode(json!({})), Ok(None));
    assert_eq!(
        mode(json!({"ecs_compatibility": ["v1"]})),
        Ok(Some(EcsCompatibility::V1))
    );
    let misspelt = mode(json!({"ecs_compatibility": "v2"})).unwrap_err();
    assert!(
        misspelt.starts_with("ecs_compatibility: unknown variant `v2`"),
        "{misspelt}"
    );
    // The options for every plugin take what Logstash takes, and no more.
    let config = json!({"id": ["f"], "enable_metric": "false", "periodic_flush": ["true"]});
    assert!(common(config).is_ok());
    for (config, error) in [
        (
            json!({"id": ["a", "b"]}),
            "id: invalid type: a list, expected a string",
        ),
        (
            json!({"id": 5}),
            "id: invalid type: integer `5`, expected a string",
        ),
        (
            json!({"enable_metric": "yes"}),
            "enable_metric: invalid type: string \"yes\", expected true or false",
        ),
        (
            json!({"periodic_flush": 1}),
            "periodic_flush: invalid type: integer `1`, expected true or false",
        ),
    ] {
        assert_eq!(common(config).err().as_deref(), Some(error));
    }
}

#[test]
fn timestamps_are_formatted_and_bad_date_patterns_refused() {
    let config = json!({"add_field": {"[@metadata][index]": "app-%{+YYYY.MM.dd}",
                                      "day-%{{e}}": "%{+%s}"},
                        "add_tag": "%{{MMM}}"});
    assert_eq!(
        applied(config, json!({"@timestamp": "2015-05-17T10:05:03.000Z"})),
        json!({"@timestamp": "2015-05-17T10:05:03.000Z",
               "@metadata": {"index": "app-2015.05.17"}, "day-1": "1431857103",
               "tags": ["May"]})
    );
    for (config, says) in [
        (
            json!({"add_field": {"i": "%{+yyyy-MM-ddTHH}"}}),
            "add_field: `%{+yyyy-MM-ddTHH}`: `T` is not",
        ),
        (
            json!({"add_field": {"%{{aa}}": "x"}}),
            "add_field: `%{{aa}}`: `aa`",
        ),
        (
            json!({"add_tag": ["ok", "%{{BAD_TIME_NOW}}"]}),
            "add_tag: `%{{BAD_TIME_NOW}}`",
        ),
        (json!({"remove_tag": "%{+q}"}), "remove_tag: `%{+q}`"),
        (json!({"remove_field": "%{+q}"}), "remove_field: `%{+q}`"),
    ] {
        let error = common(config).err().unwrap();
        assert!(error.contains(says), "{error}");
    }
}

#[test]
fn the_options_run_in_logstash_order() {
    // remove_field runs after add_field, remove_tag after add_tag.
    let config = json!({"add_field": {"gone": "x"}, "remove_field": ["gone", "[a][%{k}]"],
                        "add_tag": ["t-%{k}", "u"], "remove_tag": "u"});
    assert_eq!(
        applied(config, json!({"k": "b", "a": {"b": 1, "c": 2}})),
        json!({"k": "b", "a": {"c": 2}, "tags": ["t-b"]})
    );
}

#[test]
fn the_filter_keeps_its_own_options_strict() {
    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Own {
        #[serde(default, deserialize_with = "tags")]
        tag_on_failure: Vec<String>,
    }
    let read = |config: Value| {
        serde_json::from_value::<WithCommon<Own>>(config).map(|c| c.options.tag_on_failure)
    };
    assert_eq!(
        read(json!({"add_tag": ["a"], "tag_on_failure": "x"})).unwrap(),
        ["x"]
    );
    assert_eq!(
        read(json!({"tag_on_failure": ["x", "y"]})).unwrap(),
        ["x", "y"]
    );
    let unknown = read(json!({"add_tags": ["a"]})).unwrap_err().to_string();
    assert!(unknown.contains("unknown field `add_tags`"), "{unknown}");
    // The common options are named too, not only the filter's own.
    assert!(
        unknown.ends_with("or one of Logstash's common options: `add_field`, `add_tag`, `remove_field`, `remove_tag`, `id`, `enable_metric`, `periodic_flush`, `ecs_compatibility`"),
        "{unknown}"
    );
    let bad = read(json!({"tag_on_failure": 3})).unwrap_err().to_string();
    assert!(bad.starts_with("tag_on_failure: "), "{bad}");
    assert!(bad.contains("a tag or a list of tags"), "{bad}");
}

/// serde says what it expected, not of which option: `invalid type:
/// string "x", expected u64` sent an operator through every number in
/// the config.
#[test]
fn a_value_of_the_wrong_type_names_its_option() {
    // Read only through the errors they make.
    #[allow(dead_code)]
    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Own {
        #[serde(default)]
        limit: u64,
        #[serde(default)]
        inner: Option<Inner>,
    }
    #[allow(dead_code)]
    #[derive(Deserialize, Debug)]
    struct Inner {
        ratio: f64,
    }
    let error = |config: Value| {
        serde_json::from_value::<WithCommon<Own>>(config)
            .map(|c| c.options)
            .unwrap_err()
            .to_string()
    };
    // In the words of the TOML or JSON it was written in, not Rust's types.
    assert_eq!(
        error(json!({"limit": "x"})),
        "limit: invalid type: string \"x\", expected a whole number ≥ 0"
    );
    assert_eq!(
        error(json!({"limit": -1})),
        "limit: invalid value: integer `-1`, expected a whole number ≥ 0"
    );
    assert_eq!(
        error(json!({"limit": 1.5})),
        "limit: invalid type: floating point `1.5`, expected a whole number ≥ 0"
    );
    assert_eq!(
        error(json!({"inner": {"ratio": "NaN"}})),
        "inner.ratio: invalid type: string \"NaN\", expected a number"
    );
    assert_eq!(
        error(json!({"inner": "x"})),
        "inner: invalid type: string \"x\", expected a table"
    );
    assert_eq!(
        error(json!({"limit": [1, 2]})),
        "limit: invalid type: a list, expected a whole number ≥ 0"
    );
    assert_eq!(
        error(json!({"limit": {}})),
        "limit: invalid type: a table, expected a whole number ≥ 0"
    );
    assert!(error(json!({"nope": 1})).starts_with("unknown field `nope`"));
}

#[test]
fn bad_common_options_are_named() {
    let error = |config| common(config).err().unwrap();
    assert!(error(json!({"add_tag": {"a": 1}})).contains("add_tag must be a string"));
    assert!(error(json!({"add_field": "a"})).contains("add_field: expected a map"));
    assert!(error(json!({"add_field": {"a": {}}})).contains("value for `a`"));
    assert!(error(json!({"remove_field": ["[a"]})).starts_with("remove_field:"));
}

/// Logstash's `add_tags` appends each tag to `Array(tags)`, one the event
/// has already too (its duplicate check is commented out), filling in
/// every tag before `tags` is set; `tag_on_failure` (`Event::add_tag`,
/// Logstash's `event.tag`) still skips a tag the event has.
#[test]
fn add_tag_appends_as_logstash_does() {
    let config = json!({"add_tag": ["x", "x", "%{tags}"]});
    for (tags, after) in [
        (json!(["x"]), json!(["x", "x", "x", "x"])),
        (json!("x"), json!(["x", "x", "x", "x"])),
        (json!(["a", "b"]), json!(["a", "b", "x", "x", "a,b"])),
        (json!(null), json!(["x", "x", "%{tags}"])),
    ] {
        let out = applied(config.clone(), json!({"tags": tags.clone()}));
        assert_eq!(out["tags"], after, "{tags}");
    }
    let out = applied(config, json!({}));
    assert_eq!(out, json!({"tags": ["x", "x", "%{tags}"]}));
    // Tags Logstash's event would have set aside when it was made.
    let out = applied(json!({"add_tag": ["x", "x"]}), json!({"tags": {"k": 1}}));
    assert_eq!(
        out,
        json!({"tags": ["_tagsparsefailure", "x", "x"], "_tags": [{"k": 1}]})
    );
    let mut event = Event::parse(br#"{"tags":["x"]}"#).unwrap();
    event.add_tag("x");
    assert_eq!(event.to_json(), r#"{"tags":["x"]}"#);
}

/// `add_field` tests Logstash's `include?`, for which a null list member
/// is not there: the member is set, not made a list. A null object
/// member is there.
#[test]
fn add_field_sets_a_null_list_member() {
    let config = json!({"add_field": {"[a][0]": "v", "[o][k]": "w"}});
    assert_eq!(
        applied(config, json!({"a": [null], "o": {"k": null}})),
        json!({"a": ["v"], "o": {"k": ["w"]}})
    );
}

/// `add_field` on a field that is there makes it a list of what it held
/// and the new value, a level deeper than it was: a string in a list, an
/// object's members as `[key, value]` lists in one. Where that would nest the event past the depth
/// limit the set is refused, saying why, as the host would refuse the
/// result; one level shallower is set.
#[test]
fn add_field_refuses_a_list_the_event_cannot_be_deep_enough_for() {
    let nested = |levels: usize| (0..levels).fold(json!(1), |inner, _| json!([inner]));
    let cases = [
        // (the field's value, how deep it already is, whether the list fits)
        (json!("s"), 126, true),
        (json!("s"), 127, false),
        (json!({"k": nested(124)}), 1, true),
        (json!({"k": nested(125)}), 1, false),
    ];
    for (value, segments, fits) in cases {
        let field: String = "[a]".repeat(segments);
        let mut event = json!({});
        let mut at = &mut event;
        for _ in 0..segments - 1 {
            at = at.as_object_mut().unwrap().entry("a").or_insert(json!({}));
        }
        at["a"] = value.clone();
        let config = json!({"add_field": {field.clone(): "v"}});
        let (out, refused) = applied_or_refused(config, event.clone());
        match fits {
            true => {
                assert_eq!(refused, None, "{value} at {segments}");
                let host = crate::testing::host_refusal(out.to_string().as_bytes());
                assert_eq!(host, None, "the host takes what was set");
            }
            false => {
                assert_eq!(out, event, "{value} at {segments}");
                let refused = refused.unwrap_or_default();
                assert!(
                    refused.starts_with(&format!("add_field: cannot set `{field}` here: "))
                        && refused.contains("more than 127 objects and arrays deep"),
                    "{refused}"
                );
            }
        }
    }
}
