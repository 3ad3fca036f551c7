//! mutate's operations, alone and in Logstash's order, its config and its
//! refusals, as Logstash's mutate behaves (conversions and the failures'
//! log lines in the submodules).

use super::*;
use wasmstash_sdk::NativeFilter;

mod convert;
mod logged;

fn run(config: Value, input: &str) -> String {
    let mut filter = Mutate::new(serde_json::from_value(config).unwrap()).unwrap();
    let mut event = Event::parse(input.as_bytes()).unwrap();
    assert_eq!(filter.process(&mut event), Verdict::Keep);
    event.to_json()
}

#[test]
fn renames_recases_and_strips() {
    let config = json!({
        "rename": {"lvl": "[log][level]", "absent": "x"},
        "uppercase": ["method"],
        "lowercase": ["[log][level]"],
        "capitalize": ["city"],
        "strip": ["name", "list", "nbsp"],
    });
    let input = r#"{"lvl":"WARN","method":"get","name":"  bob \u0000","list":[" a ","b"],"city":"oSLO","nbsp":"\u00a0x"}"#;
    assert_eq!(
        run(config, input),
        r#"{"method":"GET","name":"bob","list":["a","b"],"city":"Oslo","nbsp":"\u00a0x","log":{"level":"warn"}}"#
    );
}

#[test]
fn rename_fills_in_field_references_on_both_sides() {
    let config = json!({"rename": {"%{from}": "[x][%{k}]"}});
    assert_eq!(
        run(config, r#"{"k":"z","from":"a","a":1}"#),
        r#"{"k":"z","from":"a","x":{"z":1}}"#
    );
}

#[test]
fn a_rename_to_a_name_that_is_no_field_reference_fails_the_event() {
    let config = json!({"rename": {"a": "[%{k}"}, "uppercase": ["a"], "add_tag": ["done"]});
    assert_eq!(
        run(config, r#"{"k":"z","a":"v"}"#),
        r#"{"k":"z","a":"v","tags":["_mutate_error"]}"#
    );
}

/// mutate.rb's `next unless event.include?(old)` comes before the set, the
/// one step that raises: an old name deeper than any field an event holds
/// is passed by, whatever the new name; a new name that is no reference
/// fails only when the old field is there.
#[test]
fn a_rename_from_a_field_that_is_not_there_raises_nothing() {
    let deep = "[a]".repeat(200);
    let config = json!({"rename": {"%{n}": "x", "b": "[%{k}"}, "add_tag": ["done"]});
    let input = json!({"n": deep, "k": "z"}).to_string();
    let expected = json!({"n": deep, "k": "z", "tags": ["done"]}).to_string();
    assert_eq!(run(config, &input), expected);
}

#[test]
fn replace_update_copy_and_decorations() {
    let config = json!({
        "replace": {"msg": "%{host} said %{msg}"},
        "update": {"absent": "never", "host": "h-%{host}"},
        "copy": {"host": "[copy][host]", "nothing": "x"},
        "add_field": {"host": "second", "service": "svc-%{[copy][host]}", "[by][%{kind}]": "k"},
        "remove_field": ["drop_%{kind}"],
        "add_tag": ["seen", "from_%{kind}"],
        "remove_tag": ["old"],
    });
    let input = r#"{"host":"web","msg":"hi","kind":"a","drop_a":1,"tags":["old"],"nothing":null}"#;
    assert_eq!(
        run(config, input),
        r#"{"host":["h-web","second"],"msg":"h-web said hi","kind":"a","tags":["seen","from_a"],"nothing":null,"copy":{"host":"h-web"},"service":"svc-h-web","by":{"a":"k"}}"#
    );
}

#[test]
fn strip_of_a_list_with_a_non_string_fails_the_event() {
    let config = json!({"strip": ["l"], "add_tag": ["ok"]});
    assert_eq!(
        run(config, r#"{"l":[" a ",1]}"#),
        r#"{"l":[" a ",1],"tags":["_mutate_error"]}"#
    );
}

#[test]
fn coerce_split_join_and_merge() {
    let config = json!({
        "coerce": {"level": "info-%{n}", "set": "unused"},
        "split": {"path": "/", "words": " ", "chars": ""},
        "join": {"list": "+"},
        "merge": {"dest": "more", "obj": ["other", "scalar"], "fresh": "more"},
    });
    let input = r#"{"level":null,"n":1,"set":"kept","path":"a/b//","words":"  one two  ","chars":"hé","list":["x",1,null,["y"]],"dest":"d","more":["m1","m2"],"obj":{"a":1},"other":{"b":2},"scalar":3}"#;
    assert_eq!(
        run(config, input),
        r#"{"level":"info-1","n":1,"set":"kept","path":["a","b"],"words":["one","two"],"chars":["h","é"],"list":"x+1++y","dest":["d","m1","m2"],"more":["m1","m2"],"obj":{"a":1,"b":2},"other":{"b":2},"scalar":3,"fresh":["m1","m2"]}"#
    );
}

#[test]
fn tag_on_failure_may_be_one_tag_as_in_logstash() {
    let config = json!({"rename": {"a": "%{k}"}, "tag_on_failure": "bad_mutate"});
    assert_eq!(
        run(config, r#"{"k":"[z","a":1}"#),
        r#"{"k":"[z","a":1,"tags":["bad_mutate"]}"#
    );
}

#[test]
fn no_op_leaves_the_event_unchanged() {
    let mut filter =
        Mutate::new(serde_json::from_value(json!({"lowercase": ["m"]})).unwrap()).unwrap();
    let mut event = Event::parse(br#"{"m":"already lower"}"#).unwrap();
    filter.process(&mut event);
    assert!(!event.is_changed());
}

#[test]
fn bad_config_is_explained() {
    let error = |config: &str| {
        NativeFilter::<Mutate>::new(config.as_bytes())
            .err()
            .unwrap()
    };
    let err = error(r#"{"convert":{"a":"int"}}"#);
    assert!(err.contains("unknown type `int`"), "{err}");
    let err = error(r#"{"rename":{"a":5}}"#);
    assert!(err.contains("must be a string"), "{err}");
    let err = error(r#"{"lowercse":["a"]}"#);
    assert!(err.contains("unknown field `lowercse`"), "{err}");
    let err = error(r#"{"gsub":["a","(b","c"]}"#);
    assert!(err.contains("gsub `a`: regex `(b`"), "{err}");
    let err = error(r#"{"add_tag":{"x":1}}"#);
    assert!(err.contains("add_tag must be"), "{err}");
}

#[test]
fn gsub_runs_after_convert_and_before_the_case_changes() {
    let config = json!({
        "gsub": ["path", "/", "_", "list", "(\\d)", "<\\1-%{k}>"],
        "uppercase": ["path"],
        "add_tag": ["done"],
    });
    assert_eq!(
        run(config, r#"{"k":"v","path":"/var/log","list":["a1","b",3]}"#),
        r#"{"k":"v","path":"_VAR_LOG","list":["a<1-v>","b",3],"tags":["done"]}"#
    );
}

#[test]
fn a_gsub_that_runs_away_fails_the_event() {
    let config = json!({"gsub": ["m", "(a+)+$", ""], "add_tag": ["done"]});
    let input = format!(r#"{{"m":"{}b"}}"#, "a".repeat(40));
    assert_eq!(
        run(config, &input),
        format!(r#"{{"m":"{}b","tags":["_mutate_error"]}}"#, "a".repeat(40))
    );
}

#[test]
fn a_gsub_regex_with_field_references_is_filled_in_for_each_event() {
    let config = json!({"gsub": ["m", "%{user}|x", "<\\0>"], "add_tag": ["done"]});
    let mut filter = Mutate::new(serde_json::from_value(config).unwrap()).unwrap();
    let mut through = |input: &str| {
        let mut event = Event::parse(input.as_bytes()).unwrap();
        assert_eq!(filter.process(&mut event), Verdict::Keep);
        event.to_json()
    };
    // One instance, so the regex compiled for one event must not stick.
    assert_eq!(
        through(r#"{"user":"bob","m":"bob and ann, x"}"#),
        r#"{"user":"bob","m":"<bob> and ann, <x>","tags":["done"]}"#
    );
    assert_eq!(
        through(r#"{"user":"ann","m":"bob and ann"}"#),
        r#"{"user":"ann","m":"bob and <ann>","tags":["done"]}"#
    );
    // A regex that does not compile once filled in fails only its event.
    assert_eq!(
        through(r#"{"user":"(","m":"a(b"}"#),
        r#"{"user":"(","m":"a(b","tags":["_mutate_error"]}"#
    );
    assert_eq!(
        through(r#"{"user":"a","m":"a(b"}"#),
        r#"{"user":"a","m":"<a>(b","tags":["done"]}"#
    );
    // A missing field stays as written, as Logstash's sprintf leaves it.
    assert_eq!(
        through(r#"{"m":"%{user}"}"#),
        r#"{"m":"<%{user}>","tags":["done"]}"#
    );
}

#[test]
fn capitalize_titlecases_the_first_character_as_ruby_does() {
    let config = json!({"capitalize": ["a"]});
    let capitalized = |text: &str| {
        let out = run(config.clone(), &json!({ "a": text }).to_string());
        serde_json::from_str::<Value>(&out).unwrap()["a"].clone()
    };
    // Titlecase differs from uppercase for ligatures, digraphs, Greek
    // letters with a iota subscript and Georgian (SpecialCasing.txt).
    assert_eq!(capitalized("ßtraße"), "Sstraße");
    assert_eq!(capitalized("\u{fb01}ne"), "Fine");
    assert_eq!(capitalized("\u{1c6}ungla"), "\u{1c5}ungla");
    assert_eq!(capitalized("\u{1c4}UNGLA"), "\u{1c5}ungla");
    assert_eq!(capitalized("\u{1fb3}\u{1fb3}"), "\u{1fbc}\u{1fb3}");
    assert_eq!(capitalized("\u{1f80}x"), "\u{1f88}x");
    assert_eq!(capitalized("\u{1f8f}x"), "\u{1f8f}x");
    assert_eq!(capitalized("\u{1fb7}"), "\u{391}\u{342}\u{345}");
    assert_eq!(capitalized("\u{10d0}\u{10d1}"), "\u{10d0}\u{10d1}");
    // Everywhere else it is the uppercase.
    assert_eq!(capitalized("éCOLE"), "École");
    assert_eq!(capitalized("ǰx"), "J\u{30c}x");
}

#[test]
fn a_path_through_a_list_writes_that_member() {
    // Logstash reads and writes `[list][1]` as the list's member; the list
    // stays a list.
    let config = json!({
        "convert": {"[ports][0]": "integer", "[ports][1]": "integer"},
        "uppercase": ["[hosts][1]"],
        "gsub": ["[hosts][0]", "\\.", "-"],
        "replace": {"[hosts][2]": "z"},
        "update": {"[ports][2]": "%{[ports][0]}"},
    });
    assert_eq!(
        run(
            config,
            r#"{"ports":["80",true,"x"],"hosts":["a.b","c","d"]}"#
        ),
        r#"{"ports":[80,1,"80"],"hosts":["a-b","C","z"]}"#
    );
}

#[test]
fn options_take_the_shapes_logstash_configs_give_them() {
    // A hash option as a flat list, a list option as one field, and a
    // number or boolean where a text is expected, as `sprintf` makes them.
    let config = json!({
        "rename": ["from", "to"],
        "convert": ["n", "integer", "f", "float"],
        "merge": ["all", "a", "all", "b"],
        "lowercase": "level",
        "coerce": {"retries": 0, "ok": true, "ratio": 0.5},
    });
    // `all`, missing, is read once as Ruby's `Array(nil)`, a new empty
    // list at each field, so only the last (`b`) is merged (see `merge` in lib.rs).
    assert_eq!(
        run(
            config,
            r#"{"from":1,"n":"7","f":"2","level":"WARN","a":"x","b":["y"],"retries":null,"ok":null,"ratio":null}"#
        ),
        r#"{"n":7,"f":2.0,"level":"warn","a":"x","b":["y"],"retries":"0","ok":"true","ratio":"0.5","to":1,"all":["y"]}"#
    );
    let err = NativeFilter::<Mutate>::new(br#"{"rename":["a","b","c"]}"#)
        .err()
        .unwrap();
    assert!(err.contains("even number of items"), "{err}");
}

/// Logstash's event refuses a set through a string (`[host][name]` when
/// `host` is the string Beats 7 wrote): mutate's rescue tags the event and
/// runs nothing after, where a set here would have turned `host` into an
/// object. A rename loses its field, as Logstash's has taken it out by
/// then.
#[test]
fn a_set_through_a_string_is_refused_as_logstash_refuses_it() {
    let host = r#"{"host":"web1","hostname":"web1.example","m":"A"}"#;
    let refused = |config: Value| {
        let out: Value = serde_json::from_str(&run(config.clone(), host)).unwrap();
        assert_eq!(out["host"], "web1", "{config}");
        assert_eq!(out["tags"], json!(["_mutate_error"]), "{config}");
        assert_eq!(
            out["m"], "A",
            "{config}: lowercase runs after, so not at all"
        );
        out
    };
    let out = refused(json!({"rename": {"hostname": "[host][name]"}, "lowercase": ["m"]}));
    assert_eq!(
        out["hostname"], "web1.example",
        "kept, where Logstash loses it"
    );
    refused(json!({"replace": {"[host][name]": "%{hostname}"}, "lowercase": ["m"]}));
    // Text at `@timestamp`, a timestamp object in Logstash, raises too.
    refused(json!({"replace": {"@timestamp": "not a time"}, "lowercase": ["m"]}));
    let stamped = r#"{"host":"web1","m":"A","@timestamp":"2020-01-01T00:00:00.000Z"}"#;
    let out = run(json!({"update": {"@timestamp": "x"}}), stamped);
    assert!(
        out.contains(r#""@timestamp":"2020-01-01T00:00:00.000Z""#) && out.contains("_mutate_error"),
        "{out}"
    );
    refused(json!({"merge": {"[host][ip]": "hostname"}, "add_tag": ["x"]}));
    let out = refused(json!({"copy": {"hostname": "[host][name]"}, "add_tag": ["x"]}));
    assert_eq!(out["tags"], json!(["_mutate_error"]));
    // The ECS move of a field under its own name: Logstash takes `host`
    // out before it sets `[host][name]`, so nothing is in the way.
    let out = run(json!({"rename": {"host": "[host][name]"}}), host);
    assert_eq!(
        out,
        r#"{"hostname":"web1.example","m":"A","host":{"name":"web1"}}"#
    );
    // A merge Logstash skips (a hash with a string) sets nothing, so raises
    // nothing.
    let out = run(
        json!({"merge": {"[host][ip]": "obj"}}),
        r#"{"host":"web1","obj":{"a":1}}"#,
    );
    assert_eq!(out, r#"{"host":"web1","obj":{"a":1}}"#);
    // Through an object, or nothing at all, the set is made.
    let out = run(
        json!({"rename": {"hostname": "[host][name]"}}),
        r#"{"host":{"ip":"10.0.0.1"},"hostname":"web1"}"#,
    );
    assert_eq!(out, r#"{"host":{"ip":"10.0.0.1","name":"web1"}}"#);
}

/// A date pattern Joda refuses is a config error in mutate's own templates
/// too, as in the common options (Logstash would stop at the first event).
#[test]
fn refused_date_patterns_in_templates_fail_init() {
    for option in ["replace", "update", "coerce"] {
        let config = json!({option: {"x": "%{+yyyy-MM-ddTHH}"}});
        let error =
            NativeFilter::<Mutate>::new(config.to_string().as_bytes()).expect_err("refused");
        assert!(error.starts_with(&format!("{option}: ")), "{error}");
    }
}

/// Logstash's event takes only a string or a list of strings as `tags`,
/// and nothing under it (`InvalidTagsTypeException`): mutate's rescue tags
/// the event, whichever operation made the value.
#[test]
fn tags_take_only_strings_as_in_logstash() {
    let tags = r#"{"tags":["1","x"],"n":5,"s":"new","l":["m"]}"#;
    let tagged = |config: Value| {
        let out: Value = serde_json::from_str(&run(config.clone(), tags)).unwrap();
        assert_eq!(out["tags"], json!(["1", "x", "_mutate_error"]), "{config}");
        out
    };
    tagged(json!({"convert": {"tags": "integer"}, "add_tag": ["ok"]}));
    tagged(json!({"convert": {"tags": "boolean"}}));
    tagged(json!({"merge": {"tags": "n"}}));
    tagged(json!({"copy": {"n": "tags"}}));
    let out = tagged(json!({"rename": {"n": "tags"}}));
    assert_eq!(out["n"], 5, "kept, where Logstash has taken it out");
    // A list member goes back into its place: set at its index, it wrote
    // over the member after it, which had moved up.
    for from in ["[l][0]", "[l][-3]"] {
        let config = json!({"rename": {from: "[s][x]"}});
        let out = run(config, r#"{"l":["a","b","c"],"s":"text"}"#);
        let expected = r#"{"l":["a","b","c"],"s":"text","tags":["_mutate_error"]}"#;
        assert_eq!(out, expected, "{from}");
    }
    let config = json!({"rename": {"[l][-1]": "[s][x]"}});
    let out = run(config, r#"{"l":["a","b","c"],"s":"text"}"#);
    assert_eq!(
        out,
        r#"{"l":["a","b","c"],"s":"text","tags":["_mutate_error"]}"#
    );
    // Under `tags` every set is refused, even of a value left as it was.
    for config in [
        json!({"uppercase": ["[tags][1]"]}),
        json!({"lowercase": ["[tags][1]"]}),
        json!({"strip": ["[tags][1]"]}),
        json!({"gsub": ["[tags][1]", "q", "r"]}),
        json!({"convert": {"[tags][1]": "string"}}),
        json!({"split": {"[tags][1]": ","}}),
        json!({"copy": {"s": "[tags][5]"}}),
        json!({"merge": {"[tags][0]": "s"}}),
        json!({"add_field": {"[tags][0]": "t"}}),
    ] {
        tagged(config);
    }
    // Strings are what `tags` takes.
    assert_eq!(
        run(
            json!({"convert": {"tags": "string"}, "merge": {"tags": "l"}}),
            tags
        ),
        r#"{"tags":["1","x","m"],"n":5,"s":"new","l":["m"]}"#
    );
    assert_eq!(
        run(json!({"copy": {"s": "tags"}}), tags),
        r#"{"tags":"new","n":5,"s":"new","l":["m"]}"#
    );
    assert_eq!(
        run(json!({"split": {"tags": ","}}), r#"{"tags":"a,b"}"#),
        r#"{"tags":["a","b"]}"#
    );
    assert_eq!(
        run(
            json!({"join": {"tags": "+"}, "uppercase": ["tags"]}),
            r#"{"tags":["a","b"]}"#
        ),
        r#"{"tags":"A+B"}"#
    );
}

/// The reviewer's case: Logstash has removed `host` by the time its event
/// refuses `[tags][x]`, and mutate tags the event; here `host` is kept.
#[test]
fn a_rename_under_tags_keeps_the_field_and_tags_the_event() {
    assert_eq!(
        run(
            json!({"rename": {"host": "[tags][x]"}}),
            r#"{"host":"x","tags":["a"]}"#
        ),
        r#"{"tags":["a","_mutate_error"],"host":"x"}"#
    );
}

/// Logstash's `@timestamp` is a timestamp object: the string operations
/// pass it by, `convert` to anything but `boolean` and any text or list
/// set there raise, and only a timestamp may be carried there.
#[test]
fn timestamp_is_a_timestamp_to_mutate_as_in_logstash() {
    let stamped = r#"{"@timestamp":"2020-01-01T00:00:00.000Z","ts":"2021-02-03T04:05:06.789Z","when":"yesterday","n":5}"#;
    for config in [
        json!({"lowercase": ["@timestamp"], "capitalize": ["@timestamp"], "uppercase": ["@timestamp"]}),
        json!({"strip": ["@timestamp"], "split": {"@timestamp": "-"}, "join": {"@timestamp": ","}}),
        json!({"gsub": ["@timestamp", "2020", "1999"]}),
        json!({"convert": {"@timestamp": "boolean"}}),
    ] {
        assert_eq!(run(config.clone(), stamped), stamped, "{config}");
    }
    let tagged = |config: Value| {
        let out: Value = serde_json::from_str(&run(config.clone(), stamped)).unwrap();
        assert_eq!(out["@timestamp"], "2020-01-01T00:00:00.000Z", "{config}");
        assert_eq!(out["tags"], json!(["_mutate_error"]), "{config}");
        out
    };
    for conversion in ["string", "integer", "float", "integer_eu"] {
        tagged(json!({"convert": {"@timestamp": conversion}}));
    }
    // Carried out of `@timestamp`, it is a timestamp object, which `tags`
    // does not take.
    tagged(json!({"copy": {"@timestamp": "tags"}}));
    tagged(json!({"merge": {"@timestamp": "n"}}));
    tagged(json!({"copy": {"n": "@timestamp"}}));
    tagged(json!({"copy": {"when": "@timestamp"}}));
    let out = tagged(json!({"rename": {"when": "@timestamp"}}));
    assert_eq!(
        out["when"], "yesterday",
        "kept, where Logstash has taken it out"
    );
    let out = run(
        json!({"coerce": {"@timestamp": "x"}}),
        r#"{"@timestamp":null}"#,
    );
    assert_eq!(out, r#"{"@timestamp":null,"tags":["_mutate_error"]}"#);
    // A timestamp carried there is one, as Logstash carries its object.
    assert_eq!(
        run(json!({"copy": {"ts": "@timestamp"}}), stamped),
        r#"{"@timestamp":"2021-02-03T04:05:06.789Z","ts":"2021-02-03T04:05:06.789Z","when":"yesterday","n":5}"#
    );
    // Written as Logstash writes its object, whatever the text's fraction.
    assert_eq!(
        run(
            json!({"rename": {"ts": "@timestamp"}}),
            r#"{"ts":"2021-01-01T00:00:00.5Z"}"#
        ),
        r#"{"@timestamp":"2021-01-01T00:00:00.500Z"}"#
    );
}

/// `add_field` through a string, at `@timestamp` or under `tags` raises in
/// Logstash's `filter_matched`: what was added before stays, the rest of
/// the common options are skipped, and mutate tags the event.
#[test]
fn a_common_option_logstash_refuses_tags_the_event() {
    let input = r#"{"host":"web-1","@timestamp":"2020-01-01T00:00:00.000Z","tags":["a"]}"#;
    for field in ["[host][name]", "@timestamp", "[@timestamp][z]", "[tags][0]"] {
        let config = json!({"add_field": {"before": "b", field: "v", "after": "a"},
                            "add_tag": ["done"], "remove_tag": ["a"]});
        assert_eq!(
            run(config, input),
            r#"{"host":"web-1","@timestamp":"2020-01-01T00:00:00.000Z","tags":["a","_mutate_error"],"before":"b"}"#,
            "{field}"
        );
    }
}

/// Logstash sets `Array(tags)` less the tags removed: a lone string is a
/// list afterwards.
#[test]
fn remove_tag_of_a_lone_string_leaves_a_list() {
    let config = json!({"remove_tag": ["b"]});
    assert_eq!(run(config.clone(), r#"{"tags":"b"}"#), r#"{"tags":[]}"#);
    assert_eq!(run(config.clone(), r#"{"tags":"a"}"#), r#"{"tags":["a"]}"#);
    assert_eq!(run(config, r#"{"m":1}"#), r#"{"m":1}"#);
}

/// A `%{...}` that is no field reference raises "Invalid FieldReference"
/// on every event in Logstash; here the config is refused, naming the
/// option and the reference.
#[test]
fn a_malformed_field_reference_in_a_template_fails_init() {
    for (config, says) in [
        (
            json!({"add_field": {"t1": "%{message[0]}"}}),
            "add_field: `%{message[0]}`: malformed field reference `message[0]`",
        ),
        (json!({"replace": {"x": "a%{[a]b}"}}), "replace: `%{[a]b}`"),
        (json!({"update": {"x": "%{a]}"}}), "update: `%{a]}`"),
        (json!({"coerce": {"x": "%{[a}"}}), "coerce: `%{[a}`"),
        (json!({"rename": {"%{m[0]}": "x"}}), "rename: `%{m[0]}`"),
        (
            json!({"gsub": ["m", "a", "%{m[0]}"]}),
            "gsub `m`: `%{m[0]}`",
        ),
        (
            json!({"gsub": ["m", "%{m[0]}", "b"]}),
            "gsub `m`: `%{m[0]}`",
        ),
    ] {
        let error = NativeFilter::<Mutate>::new(config.to_string().as_bytes())
            .err()
            .unwrap_or_else(|| panic!("{config} loaded"));
        assert!(error.starts_with(says), "{error}");
    }
}

/// `@metadata` itself takes only an object in Logstash's event (its
/// `setField` casts the value to a map): a string there is refused, and
/// the event tagged, as a set through a string is.
#[test]
fn metadata_itself_takes_only_an_object() {
    let config = json!({"add_field": {"@metadata": "x"}});
    assert_eq!(
        run(config, r#"{"m":"a"}"#),
        r#"{"m":"a","tags":["_mutate_error"]}"#
    );
    // Added to where there is one, the field becomes a list: refused too
    // (it was made one, untagged).
    let config = json!({"add_field": {"@metadata": "x"}});
    assert_eq!(
        run(config, r#"{"m":"a","@metadata":{"k":"v"}}"#),
        r#"{"m":"a","@metadata":{"k":"v"},"tags":["_mutate_error"]}"#
    );
    let config = json!({"add_field": {"[@metadata][k]": "x"}});
    assert_eq!(
        run(config, r#"{"m":"a"}"#),
        r#"{"m":"a","@metadata":{"k":"x"}}"#
    );
}

#[test]
fn join_writes_floats_as_ruby_does() {
    let config = json!({"join": {"a": ","}});
    assert_eq!(
        run(config, r#"{"a":[1.5,1e20,0.00001,1e16,[2.50,true]]}"#),
        r#"{"a":"1.5,1.0e+20,1.0e-05,1.0e+16,2.5,true"}"#
    );
}

/// Ruby's `Array#join` joins a nested list in its place, so an empty one
/// still has a separator before it.
#[test]
fn join_keeps_the_separator_of_an_empty_nested_list() {
    for (list, joined) in [
        (r#"[["x"],[],"y"]"#, "x,,y"),
        ("[[],[]]", ","),
        ("[1,[[],2]]", "1,,2"),
        ("[null,[]]", ","),
        (r#"[["a","b"],"c"]"#, "a,b,c"),
    ] {
        let out = run(json!({"join": {"v": ","}}), &format!(r#"{{"v":{list}}}"#));
        assert_eq!(out, format!(r#"{{"v":"{joined}"}}"#), "{list}");
    }
}

/// Ruby's `Array#join` flattens nested lists but calls `to_s` on a hash,
/// which is its `inspect`; null members are empty.
#[test]
fn join_writes_a_hash_member_as_ruby_inspects_it() {
    let config = json!({"join": {"a": "|"}});
    assert_eq!(
        run(
            config,
            r#"{"a":[1,[2,{"k":[null,1e20,-0.0,"\u00e9\n"]}],null,{},true]}"#
        ),
        r#"{"a":"1|2|{\"k\"=>[nil, 1.0e+20, -0.0, \"é\\n\"]}||{}|true"}"#
    );
}

/// Logstash's `coerce` and `rename` skip a field its `include?` says is
/// not there, which a null list member is not; a null object member is.
#[test]
fn coerce_and_rename_pass_a_null_list_member_by() {
    let config = json!({"coerce": {"[a][0]": "d", "[o][k]": "d"}, "rename": {"[b][0]": "c"}});
    assert_eq!(
        run(config, r#"{"a":[null],"b":[null,1],"o":{"k":null}}"#),
        r#"{"a":[null],"b":[null,1],"o":{"k":"d"}}"#
    );
    assert_eq!(
        run(json!({"rename": {"[b][0]": "c"}}), r#"{"b":[0,1]}"#),
        r#"{"b":[1],"c":0}"#
    );
}
