//! Unit tests, one per option, plus real Loghub lines.

use super::*;
use wasmstash_sdk::NativeFilter;
use wasmstash_sdk::testing::{XorShift, mangle};

mod classes;
mod depth;
mod keys;
mod logged;
mod quoted;
mod target;

pub(crate) fn kv(config: Value, event: Value) -> Value {
    let mut filter = Kv::new(serde_json::from_value(config).unwrap()).unwrap();
    let input = event.to_string();
    let mut event = Event::parse(input.as_bytes()).unwrap();
    assert_eq!(filter.process(&mut event), Verdict::Keep);
    serde_json::from_str(&event.to_json()).unwrap()
}

/// Only the fields kv added, for a message-only event.
pub(crate) fn pairs(config: Value, message: &str) -> Value {
    let mut out = kv(config, json!({"message": message}));
    out.as_object_mut().unwrap().shift_remove("message");
    out
}

fn init_error(config: Value) -> String {
    NativeFilter::<Kv>::new(config.to_string().as_bytes()).expect_err("config must be refused")
}

#[test]
fn defaults_split_on_spaces_and_equals() {
    assert_eq!(
        pairs(json!({}), "ip=1.2.3.4 error=REFUSED"),
        json!({"ip": "1.2.3.4", "error": "REFUSED"})
    );
    // Words without a separator are skipped, and so are empty values.
    assert_eq!(
        pairs(json!({}), "Hello there a=1 stray b= c=3"),
        json!({"a": "1", "b": "c=3"})
    );
}

#[test]
fn field_split_and_value_split_are_character_sets() {
    assert_eq!(
        pairs(
            json!({"field_split": "&?"}),
            "?pin=12345~0&d=123&e=foo@bar.com&oq=bobo&ss=12345"
        ),
        json!({"pin": "12345~0", "d": "123", "e": "foo@bar.com", "oq": "bobo", "ss": "12345"})
    );
    assert_eq!(
        pairs(json!({"value_split": ":"}), "key1:value1 key2:value2"),
        json!({"key1": "value1", "key2": "value2"})
    );
}

#[test]
fn split_patterns_for_multi_character_separators() {
    assert_eq!(
        pairs(
            json!({"field_split_pattern": ":+"}),
            "k1=v1:k2=v2::k3=v3:::k4=v4"
        ),
        json!({"k1": "v1", "k2": "v2", "k3": "v3", "k4": "v4"})
    );
    assert_eq!(
        pairs(
            json!({"field_split_pattern": "\\+\\+"}),
            "k1=v1++k2=v2++k3=v3"
        ),
        json!({"k1": "v1", "k2": "v2", "k3": "v3"})
    );
    assert_eq!(
        pairs(
            json!({"value_split_pattern": "=>", "field_split_pattern": ", "}),
            "a=>1, b=>x y, c=>2"
        ),
        json!({"a": "1", "b": "x y", "c": "2"})
    );
    let err = init_error(json!({"field_split_pattern": "(a|b)"}));
    assert!(
        err.contains("field_split_pattern") && err.contains("not supported"),
        "{err}"
    );
}

#[test]
fn quoted_and_bracketed_values() {
    let line = r#"a="hello world" b='x y' c=(p q) d=[r s] e=<t u> f="" g=plain"#;
    assert_eq!(
        pairs(json!({}), line),
        json!({"a": "hello world", "b": "x y", "c": "p q", "d": "r s", "e": "t u", "g": "plain"})
    );
    assert_eq!(
        pairs(json!({"include_brackets": false}), line),
        json!({"a": "hello world", "b": "x y", "c": "(p", "d": "[r", "e": "<t", "g": "plain"})
    );
    // A quote that never closes, or is not followed by a separator, is text.
    assert_eq!(
        pairs(json!({}), r#"a="open b=2 c="x"y"#),
        json!({"a": "\"open", "b": "2", "c": "\"x\"y"})
    );
    // Escaped separators stay in keys and values, backslashes included.
    assert_eq!(
        pairs(json!({}), r"a=x\ y b=2"),
        json!({"a": r"x\ y", "b": "2"})
    );
}

#[test]
fn trim_and_remove_characters() {
    assert_eq!(
        pairs(
            json!({"trim_key": "<>\\[\\],", "trim_value": "<>\\[\\],", "include_brackets": false}),
            "[from]=<abc>, [to]=def,"
        ),
        json!({"from": "abc", "to": "def"})
    );
    assert_eq!(
        pairs(
            json!({"remove_char_key": "-", "remove_char_value": "\"'"}),
            "user-name=a\"b'c"
        ),
        json!({"username": "abc"})
    );
}

#[test]
fn include_exclude_prefix_and_target() {
    let line = "Hey, from=<abc>, to=def foo=bar";
    assert_eq!(
        pairs(
            json!({"include_keys": ["from", "to"], "trim_value": "<>,"}),
            line
        ),
        json!({"from": "abc", "to": "def"})
    );
    assert_eq!(
        pairs(json!({"exclude_keys": ["from", "to"]}), line),
        json!({"foo": "bar"})
    );
    assert_eq!(
        pairs(json!({"prefix": "arg_", "include_keys": ["foo"]}), line),
        json!({"arg_foo": "bar"})
    );
    assert_eq!(
        pairs(
            json!({"target": "[kv][parsed]", "exclude_keys": ["from", "to"]}),
            line
        ),
        json!({"kv": {"parsed": {"foo": "bar"}}})
    );
    // Keys that are field references nest, as Logstash's event.set does.
    assert_eq!(pairs(json!({}), "[a][b]=1"), json!({"a": {"b": "1"}}));
    // include_keys and prefix may refer to event fields.
    let out = kv(
        json!({"include_keys": ["%{wanted}"], "prefix": "%{wanted}_"}),
        json!({"message": "x=1 y=2", "wanted": "y"}),
    );
    assert_eq!(out["y_y"], "2");
    assert!(out.get("y_x").is_none());
}

#[test]
fn duplicates_become_arrays_unless_refused() {
    assert_eq!(
        pairs(json!({}), "from=me from=me from=you"),
        json!({"from": ["me", "me", "you"]})
    );
    assert_eq!(
        pairs(
            json!({"allow_duplicate_values": false}),
            "from=me from=me from=you"
        ),
        json!({"from": ["me", "you"]})
    );
}

#[test]
fn default_keys_fill_in_what_is_missing() {
    assert_eq!(
        pairs(
            json!({"default_keys": {"from": "logstash@example.com", "to": "default@dev.null"}}),
            "to=me@example.com"
        ),
        json!({"from": "logstash@example.com", "to": "me@example.com"})
    );
    // Defaults apply even when the source is missing.
    let out = kv(json!({"default_keys": {"a": "1"}}), json!({"other": "x"}));
    assert_eq!(out, json!({"other": "x", "a": "1"}));
}

#[test]
fn recursive_values_become_objects() {
    assert_eq!(
        pairs(json!({"recursive": true}), "a=b=c d=e"),
        json!({"a": {"b": "c"}, "d": "e"})
    );
    assert_eq!(pairs(json!({}), "a=b=c"), json!({"a": "b=c"}));
    assert_eq!(
        pairs(json!({"recursive": true, "max_depth": 1}), "a=b=c=d"),
        json!({"a": {"b": "c=d"}, "tags": ["_kv_filter_error"]})
    );
}

#[test]
fn lenient_and_strict_whitespace() {
    assert_eq!(pairs(json!({}), "a = b c= d"), json!({"a": "b", "c": "d"}));
    assert_eq!(
        pairs(json!({"whitespace": "strict"}), "a = b c= d e=f"),
        json!({"e": "f"})
    );
}

#[test]
fn transforms() {
    assert_eq!(
        pairs(
            json!({"transform_key": "lowercase", "transform_value": "capitalize"}),
            "User=aLiCe HOST=web"
        ),
        json!({"user": "Alice", "host": "Web"})
    );
    assert_eq!(
        pairs(json!({"transform_value": "uppercase"}), "a=x"),
        json!({"a": "X"})
    );
}

#[test]
fn arrays_of_strings_are_parsed_and_other_types_ignored() {
    let out = kv(json!({}), json!({"message": ["a=1", "b=2", 3]}));
    assert_eq!((&out["a"], &out["b"]), (&json!("1"), &json!("2")));
    assert_eq!(kv(json!({}), json!({"message": 5})), json!({"message": 5}));
}

#[test]
fn limits_tag_the_event_and_keep_what_fits() {
    let out = kv(
        json!({"max_keys": 2}),
        json!({"message": "a=1 b=2 c=3 d=4"}),
    );
    assert_eq!(
        out,
        json!({"message": "a=1 b=2 c=3 d=4", "a": "1", "b": "2", "tags": ["_kv_filter_error"]})
    );
    // Pairs of every level count, with `recursive`: x, its two, then y.
    let out = kv(
        json!({"max_keys": 3, "recursive": true}),
        json!({"message": "x=\"a=1 b=2\" y=3 z=4"}),
    );
    assert_eq!(out["x"], json!({"a": "1", "b": "2"}));
    assert_eq!(out.get("y"), None);
    assert_eq!(out["tags"], json!(["_kv_filter_error"]));
    // A level's pair is counted before its value's pairs.
    let out = kv(
        json!({"max_keys": 1, "recursive": true}),
        json!({"message": "x=a=b=c"}),
    );
    assert_eq!(out["x"], "a=b=c");
    assert_eq!(out["tags"], json!(["_kv_filter_error"]));
    let long = "x".repeat(100);
    let out = kv(
        json!({"max_value_bytes": 50, "tag_on_failure": ["too_long"]}),
        json!({"message": format!("a={long} b=2")}),
    );
    assert_eq!(out["b"], "2");
    assert!(out.get("a").is_none());
    assert_eq!(out["tags"], json!(["too_long"]));
}

#[test]
fn keys_that_are_not_field_references_are_tagged() {
    // As in Logstash: the pairs before the bad key are set, the rest are
    // not, and the common options are not applied.
    let out = pairs(json!({}), "a[b=1 c=2");
    assert_eq!(out, json!({"tags": ["_kv_filter_error"]}));
    let out = kv(
        json!({"add_tag": ["ok"]}),
        json!({"message": "a=1 b[=2 c=3"}),
    );
    assert_eq!(
        out,
        json!({"message": "a=1 b[=2 c=3", "a": "1", "tags": ["_kv_filter_error"]})
    );
    // So do keys Logstash's event refuses text at: `@timestamp`, and a
    // path through a string (the pair before it set `host` to one).
    for (line, kept) in [
        ("a=1 @timestamp=foo b=2", json!({"a": "1"})),
        ("host=x [host][name]=y c=3", json!({"host": "x"})),
    ] {
        let out = kv(json!({"add_tag": ["ok"]}), json!({"message": line}));
        let mut expected = kept;
        expected["message"] = json!(line);
        expected["tags"] = json!(["_kv_filter_error"]);
        assert_eq!(out, expected, "{line}");
    }
    // Inside a target, keys are plain names and need no checking.
    assert_eq!(
        pairs(json!({"target": "kv"}), "a[b=1 c=2"),
        json!({"kv": {"a[b": "1", "c": "2"}})
    );
}

#[test]
fn a_huge_line_without_separators_is_scanned_in_linear_time() {
    // Quadratic rescanning would take minutes here; the test just has to end.
    let line = "x".repeat(1 << 20);
    assert_eq!(pairs(json!({"field_split": "&"}), &line), json!({}));
    let spaced = "ab ".repeat(1 << 18);
    assert_eq!(
        pairs(json!({"field_split_pattern": ", "}), &spaced),
        json!({})
    );
}

#[test]
fn invalid_configs_are_explained() {
    for (config, expected) in [
        (json!({"value_split": ""}), "value_split must name"),
        (json!({"field_split_pattern": ""}), "must not be empty"),
        (json!({"field_split_pattern": ":*"}), "can match empty"),
        (json!({"trim_key": "z-a"}), "trim_key"),
        (json!({"source": "[a"}), "malformed field reference"),
        (json!({"whitespace": "loose"}), "unknown variant `loose`"),
        (
            json!({"transform_key": "reverse"}),
            "unknown variant `reverse`",
        ),
        (json!({"max_keys": 0}), "at least 1"),
        (json!({"feild_split": ","}), "unknown field `feild_split`"),
    ] {
        let err = init_error(config.clone());
        assert!(err.contains(expected), "{config}: {err}");
    }
}

fn loghub(dataset: &str) -> Vec<String> {
    let path = wasmstash_sdk::crate_dir!()
        .join(format!(
            "../../../shared/data/loghub/{dataset}/{dataset}_2k.log"
        ))
        .display()
        .to_string();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("test data missing: {path}: {e} (see ../shared/data/README.md)")
    });
    text.lines().map(str::to_owned).collect()
}

#[test]
fn pam_authentication_failures_from_openssh_and_linux() {
    let mut checked = 0;
    for dataset in ["OpenSSH", "Linux"] {
        for line in loghub(dataset) {
            if !line.contains("authentication failure; logname=") {
                continue;
            }
            // Strict: `logname=` and `ruser=` are empty and ignored.
            let strict = pairs(json!({"whitespace": "strict"}), &line);
            assert_eq!(strict["uid"], "0", "{line}");
            assert_eq!(strict["euid"], "0", "{line}");
            let tty = line
                .split("tty=")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            assert_eq!(strict["tty"], tty, "{line}");
            let rhost = line
                .split("rhost=")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            if rhost.is_empty() {
                assert!(strict.get("rhost").is_none(), "{line}");
            } else {
                assert_eq!(strict["rhost"], rhost, "{line}");
            }
            assert!(strict.get("logname").is_none() && strict.get("ruser").is_none());
            if let Some(user) = line.split(" user=").nth(1) {
                assert_eq!(strict["user"], user.trim_end(), "{line}");
            }
            // Lenient (the default) lets `logname= ` take the next word, as
            // Logstash does; this is why `whitespace => strict` exists.
            let lenient = pairs(json!({}), &line);
            assert_eq!(lenient["logname"], "uid=0", "{line}");
            if !rhost.is_empty() {
                assert_eq!(lenient["ruser"], format!("rhost={rhost}"), "{line}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 986);
}

#[test]
fn spark_timings_with_a_multi_character_field_separator() {
    let mut checked = 0;
    for line in loghub("Spark") {
        let Some((_, times)) = line.split_once(": Times: ") else {
            continue;
        };
        let out = pairs(json!({"field_split_pattern": ", "}), times);
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["total", "boot", "init", "finish"], "{line}");
        for value in out.as_object().unwrap().values() {
            assert!(value.as_str().unwrap().parse::<i64>().is_ok(), "{line}");
        }
        checked += 1;
    }
    assert_eq!(checked, 375);
}

#[test]
fn thunderbird_parenthesised_pairs_with_trim() {
    let mut checked = 0;
    for line in loghub("Thunderbird") {
        if !line.ends_with("(uid=0)") {
            continue;
        }
        let out = pairs(
            json!({"trim_key": "(", "trim_value": ")", "include_keys": ["uid"]}),
            &line,
        );
        assert_eq!(out, json!({"uid": "0"}), "{line}");
        checked += 1;
    }
    assert!(checked >= 19, "{checked}");
}

#[test]
fn every_loghub_line_yields_one_event() {
    // Whatever the line, kv returns it with at most added fields and a tag.
    let config = json!({"max_keys": 8});
    let mut filter = NativeFilter::<Kv>::new(config.to_string().as_bytes()).unwrap();
    for dataset in [
        "HDFS",
        "Hadoop",
        "Spark",
        "Zookeeper",
        "Linux",
        "OpenSSH",
        "Thunderbird",
        "Windows",
    ] {
        let events: Vec<Vec<u8>> = loghub(dataset)
            .iter()
            .map(|l| serde_json::to_vec(&json!({"message": l})).unwrap())
            .collect();
        for chunk in events.chunks(125) {
            let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
            let outcomes = filter.process_events(&refs);
            assert_eq!(outcomes.len(), chunk.len());
            for (outcome, input) in outcomes.into_iter().zip(chunk) {
                let before: Value = serde_json::from_slice(input).unwrap();
                let after = outcome.into_value();
                assert_eq!(after["message"], before["message"]);
            }
        }
    }
}

/// Real key=value lines with characters deleted, repeated, replaced by
/// quotes, brackets, separators and escapes, or cut off, under several
/// configs: nothing panics and every event keeps its message.
#[test]
fn mangled_real_lines_never_panic() {
    let lines: Vec<String> = ["OpenSSH", "Linux", "Spark", "Zookeeper", "Thunderbird"]
        .iter()
        .flat_map(|d| loghub(d))
        .filter(|l| l.contains('='))
        .collect();
    let specials: Vec<char> = "\"'()[]<>=,; &:\\é\n".chars().collect();
    let configs = [
        json!({}),
        json!({"whitespace": "strict", "include_brackets": false, "target": "kv"}),
        json!({"field_split_pattern": "\\s*[,;]\\s*", "value_split_pattern": "\\s*[=:]\\s*",
               "recursive": true, "max_keys": 5, "max_value_bytes": 20}),
        json!({"field_split": "&, ", "trim_key": "<>\\[\\],", "trim_value": "()\"", "allow_duplicate_values": false,
               "transform_key": "capitalize", "prefix": "p_"}),
    ];
    let mut filters: Vec<Kv> = configs
        .iter()
        .map(|c| Kv::new(serde_json::from_value(c.clone()).unwrap()).unwrap())
        .collect();
    let mut rng = XorShift(0x6b76_6b76);
    for case in 0..20_000 {
        let line = &lines[rng.below(lines.len())];
        let message = mangle(&mut rng, line, &specials);
        let input = json!({"message": message}).to_string();
        let filter = &mut filters[case % configs.len()];
        let mut event = Event::parse(input.as_bytes()).unwrap();
        assert_eq!(filter.process(&mut event), Verdict::Keep, "{message:?}");
        let out: Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(out["message"], message.as_str(), "{message:?}");
    }
}

#[test]
fn the_common_options_apply_when_pairs_were_set() {
    let config =
        json!({"add_tag": ["kv-%{a}"], "remove_field": ["message"], "tag_on_failure": "bad"});
    assert_eq!(
        pairs(config.clone(), "a=1"),
        json!({"a": "1", "tags": ["kv-1"]})
    );
    assert_eq!(pairs(config.clone(), "no pairs here"), json!({}));
    // A value the default limit would once have dropped (64 KiB) is kept.
    let long = "x".repeat(100_000);
    let out = kv(config, json!({"message": format!("a={long}")}));
    assert_eq!(out["a"].as_str().map(str::len), Some(100_000));
}

/// A list option may be one string, and a hash option a flat list, as
/// logstash.conf writes them.
#[test]
fn logstash_shapes_of_list_and_hash_options() {
    let config = json!({"include_keys": "a", "default_keys": ["b", "2", "c", "3"]});
    assert_eq!(
        pairs(config, "a=1 z=9"),
        json!({"b": "2", "c": "3", "a": "1"})
    );
}

/// A separator pattern tried across a long run it partly matches reads
/// the run again from each of its characters: past its allowance of steps
/// the scan gives up, and the event is tagged and left as it was, as
/// Logstash's kv leaves one that timed out. Ordinary pairs never get near.
#[test]
fn a_scan_that_runs_out_of_steps_is_tagged_as_a_timeout() {
    let text = format!("a=1; k{}x", " ".repeat(20_000));
    let config = json!({"field_split_pattern": "\\s*;", "timeout_steps": 1000});
    assert_eq!(
        pairs(config, &text),
        json!({"tags": ["_kv_filter_timeout"]})
    );
    // 64 steps a character allowed, whatever the base: a long line of
    // ordinary pairs is parsed whole.
    let long: String = (0..20_000).map(|i| format!("k{i}=v;  ")).collect();
    let config =
        json!({"field_split_pattern": "\\s*;\\s*", "timeout_steps": 1000, "max_keys": 100_000});
    let parsed = pairs(config, &long);
    assert_eq!(parsed.get("tags"), None);
    assert_eq!(parsed["k19999"], "v");
    // `timeout_millis => 0` lifts the limit, and `tag_on_timeout` names the tag.
    let lifted =
        json!({"field_split_pattern": "\\s*;", "timeout_steps": 1000, "timeout_millis": 0});
    let short = format!("a=1; k{}x", " ".repeat(300));
    assert_eq!(pairs(lifted, &short), json!({"a": "1"}));
    let renamed =
        json!({"field_split_pattern": "\\s*;", "timeout_steps": 1000, "tag_on_timeout": "_slow"});
    assert_eq!(pairs(renamed, &text), json!({"tags": ["_slow"]}));
    // One allowance per event: the strings of a list share it, and so do
    // the levels of `recursive`. Each item here reads about 11,000 steps,
    // within 20,000 alone, not three times over.
    let spaces = " ".repeat(150);
    let item = format!("a=1; k{spaces}x");
    let config = json!({"field_split_pattern": "\\s*;", "timeout_steps": 20_000});
    let one = kv(config.clone(), json!({"message": [item.clone()]}));
    assert_eq!(one.get("tags"), None, "{one}");
    let three = kv(config.clone(), json!({"message": vec![item; 3]}));
    assert_eq!(three["tags"], json!(["_kv_filter_timeout"]));
    let recursive =
        json!({"field_split_pattern": "\\s*;", "timeout_steps": 20_000, "recursive": true});
    let value = |i: usize| format!("k{i}=\"a=1; k{spaces}x\"");
    assert_eq!(pairs(recursive.clone(), &value(0)).get("tags"), None);
    let nested = (0..3).map(value).collect::<Vec<_>>().join("; ");
    assert_eq!(
        pairs(recursive, &nested)["tags"],
        json!(["_kv_filter_timeout"])
    );
}

#[test]
fn logstash_options_are_taken_and_checked() {
    let config =
        json!({"timeout_millis": 250, "tag_on_timeout": "_slow", "ecs_compatibility": "v8"});
    let mut filter = Kv::new(serde_json::from_value(config).unwrap()).unwrap();
    let mut event = Event::parse(br#"{"message":"a=1 b=2"}"#).unwrap();
    assert_eq!(filter.process(&mut event), Verdict::Keep);
    assert_eq!(event.to_json(), r#"{"message":"a=1 b=2","a":"1","b":"2"}"#);
    for (bad, expected) in [
        (json!({"ecs_compatibility": "v2"}), "unknown variant `v2`"),
        (json!({"timeout_millis": "soon"}), "timeout_millis"),
        // One tag in a list is taken, as Logstash takes it; two are not.
        (json!({"tag_on_timeout": ["a", "b"]}), "tag_on_timeout"),
    ] {
        let err = NativeFilter::<Kv>::new(bad.to_string().as_bytes()).expect_err("refused");
        assert!(err.contains(expected), "{bad}: {err}");
    }
}

/// A set Logstash's event refuses in `filter_matched` (`add_field` under
/// `tags`, at `@timestamp`, through a string) raises into kv.rb's rescue,
/// which tags the event `tag_on_failure`; what was set before it stays.
#[test]
fn a_common_option_logstash_refuses_tags_the_event() {
    let event = json!({"message": "a=1", "@timestamp": "2020-01-01T00:00:00.000Z",
                       "tags": ["a"], "host": "h"});
    for field in ["[tags][0]", "@timestamp", "[host][name]"] {
        let config = json!({"add_field": {"before": "b", field: "t", "after": "x"},
                            "add_tag": ["done"]});
        let mut expected = event.clone();
        expected["a"] = json!("1");
        expected["before"] = json!("b");
        expected["tags"] = json!(["a", "_kv_filter_error"]);
        assert_eq!(kv(config, event.clone()), expected, "{field}");
    }
}

#[test]
fn a_malformed_field_reference_in_a_template_fails_init() {
    for (option, value) in [
        ("prefix", json!("p_%{a[0]}_")),
        ("include_keys", json!(["a", "%{a[0]}"])),
        ("exclude_keys", json!(["%{a[0]}"])),
    ] {
        let error = init_error(json!({option: value}));
        assert!(
            error.starts_with(&format!("{option}: `%{{a[0]}}`: malformed")),
            "{error}"
        );
    }
    let error = init_error(json!({"add_field": {"x": "%{a[0]}"}}));
    assert!(
        error.starts_with("add_field: `%{a[0]}`: malformed"),
        "{error}"
    );
}
