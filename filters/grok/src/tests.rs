//! The filter's Logstash semantics, option by option.

use super::*;
use serde_json::json;

fn grok(config: Value) -> Grok {
    Grok::new(serde_json::from_value(config).unwrap()).unwrap()
}

fn run(config: Value, event: Value) -> Value {
    let mut filter = grok(config);
    let text = event.to_string();
    let mut event = Event::parse(text.as_bytes()).unwrap();
    assert_eq!(filter.process(&mut event), Verdict::Keep);
    serde_json::from_str(&event.to_json()).unwrap()
}

/// The error a config gets, whether its options are refused as read or
/// when the filter is made from them.
fn init_error(config: Value) -> String {
    let config = match serde_json::from_value(config) {
        Ok(config) => config,
        Err(e) => return e.to_string(),
    };
    match Grok::new(config) {
        Ok(_) => panic!("expected an init error"),
        Err(e) => e,
    }
}

#[test]
fn captures_casts_and_nested_fields() {
    let out = run(
        json!({"match": {"message": "%{IP:[client][ip]} %{NUMBER:bytes:int} %{NUMBER:ms:float} %{WORD}"},
               "ecs_compatibility": "disabled"}),
        json!({"message": "10.0.0.1 512 1.5 done"}),
    );
    assert_eq!(out["client"]["ip"], "10.0.0.1");
    assert_eq!(out["bytes"], 512);
    assert_eq!(out["ms"], 1.5);
    assert!(
        out.get("WORD").is_none(),
        "named_captures_only skips %{{WORD}}"
    );
    assert!(out.get("tags").is_none());
}

#[test]
fn int_captures_past_64_bits_keep_every_digit_as_in_ruby() {
    let config = json!({"match": {"message": "n=%{INT:n:int} m=%{INT:m:int}"}});
    // `n` new (written by grok itself), `m` already present (through the
    // event, which makes it a list).
    let out = run(
        config,
        json!({"message": "n=123456789012345678901234567890 m=-000099999999999999999999", "m": "x"}),
    );
    assert_eq!(out["n"].to_string(), "123456789012345678901234567890");
    assert_eq!(out["m"].to_string(), r#"["x",-99999999999999999999]"#);
}

#[test]
fn failure_and_custom_tags() {
    let out = run(
        json!({"match": {"message": "%{IP:ip}"}}),
        json!({"message": "no address"}),
    );
    assert_eq!(out["tags"], json!(["_grokparsefailure"]));
    let out = run(
        json!({"match": {"message": "%{IP:ip}"}, "tag_on_failure": ["a", "b"]}),
        json!({"message": "x", "tags": ["old"]}),
    );
    assert_eq!(out["tags"], json!(["old", "a", "b"]));
}

#[test]
fn a_capture_into_an_existing_field_appends() {
    let out = run(
        json!({"match": {"message": "%{WORD} %{GREEDYDATA:message}"}}),
        json!({"message": "GET rest of it"}),
    );
    assert_eq!(out["message"], json!(["GET rest of it", "rest of it"]));
    let out = run(
        json!({"match": {"message": "%{WORD} %{GREEDYDATA:message}"}, "overwrite": ["message"]}),
        json!({"message": "GET rest of it"}),
    );
    assert_eq!(out["message"], "rest of it");
    let out = run(
        json!({"match": {"message": "(?<n>\\d)(?<n>\\d)"}}),
        json!({"message": "12", "n": ["0"]}),
    );
    assert_eq!(out["n"], json!(["0", "1", "2"]));
    // A number already there is left alone, as Logstash does.
    let out = run(
        json!({"match": {"message": "(?<n>\\d)"}}),
        json!({"message": "1", "n": 5}),
    );
    assert_eq!(out["n"], 5);
}

#[test]
fn only_the_first_group_of_a_name_is_cast() {
    let out = run(
        json!({"match": {"message": "%{INT:n:int}|x%{INT:n:int}"}}),
        json!({"message": "x7"}),
    );
    // The first `n` group did not participate (nil, skipped); the second is
    // not cast, exactly as jls-grok's generated code behaves.
    assert_eq!(out["n"], "7");
}

#[test]
fn empty_captures_are_dropped_unless_kept() {
    let config = |keep: bool| json!({"match": {"message": "a(?<e>x?)b(?<n>y)?"}, "keep_empty_captures": keep});
    let out = run(config(false), json!({"message": "ab"}));
    assert!(out.get("e").is_none() && out.get("n").is_none());
    let out = run(config(true), json!({"message": "ab"}));
    assert_eq!(out["e"], "");
    assert_eq!(out["n"], Value::Null);
}

/// Nested targets: a branch whose every capture was left empty is not
/// written at all, at any depth, while its filled siblings are.
#[test]
fn empty_branches_of_nested_targets_are_left_out() {
    let pattern = "%{WORD:[a][b][c]}(?: %{WORD:[a][d][e]})?(?: %{WORD:[f][g]})?(?<h>x?)";
    let config = |keep: bool| json!({"match": {"message": pattern}, "keep_empty_captures": keep});
    let out = run(config(false), json!({"message": "one"}));
    assert_eq!(out["a"], json!({"b": {"c": "one"}}));
    assert!(out.get("f").is_none() && out.get("h").is_none(), "{out}");
    let out = run(config(false), json!({"message": "one two three"}));
    assert_eq!(out["a"], json!({"b": {"c": "one"}, "d": {"e": "two"}}));
    assert_eq!(out["f"], json!({"g": "three"}));
    let out = run(config(true), json!({"message": "one"}));
    assert_eq!(out["a"], json!({"b": {"c": "one"}, "d": {"e": null}}));
    assert_eq!((&out["f"], &out["h"]), (&json!({"g": null}), &json!("")));
}

#[test]
fn patterns_are_tried_in_order_and_break_on_match() {
    let config = |brk: bool| json!({"match": {"message": ["%{INT:num}", "%{WORD:word}"]}, "break_on_match": brk});
    let out = run(config(true), json!({"message": "abc 12"}));
    assert_eq!(out["num"], "12");
    assert!(out.get("word").is_none());
    let out = run(config(false), json!({"message": "abc 12"}));
    assert_eq!(
        (out["num"].as_str(), out["word"].as_str()),
        (Some("12"), Some("abc"))
    );
    // Logstash quirk: without break_on_match, the last pattern decides.
    let out = run(
        json!({"match": {"message": ["%{INT:num}", "%{IP:ip}"]}, "break_on_match": false}),
        json!({"message": "abc 12"}),
    );
    assert_eq!(out["num"], "12");
    assert_eq!(out["tags"], json!(["_grokparsefailure"]));
}

/// Logstash's flat list for `match`, a hash option: field, then a pattern
/// or a list of them, a field given twice collecting its patterns.
#[test]
fn match_as_a_flat_list_takes_lists_of_patterns() {
    let line = json!({"message": "a b"});
    for form in [
        json!(["message", ["%{NUMBER:n}", "%{WORD:x} %{WORD:y}"]]),
        json!(["message", ["%{NUMBER:n}"], "message", "%{WORD:x} %{WORD:y}"]),
    ] {
        let out = run(json!({ "match": form }), line.clone());
        assert_eq!(
            (out["x"].as_str(), out["y"].as_str()),
            (Some("a"), Some("b")),
            "{form}"
        );
    }
    assert!(init_error(json!({"match": [["message"], "%{WORD:x}"]})).contains("match must be"));
}

/// `timeout_millis` is a number to Logstash: a fraction counts, and 0 or
/// less turns the clock off.
#[test]
fn timeout_millis_takes_what_grok_rb_takes() {
    let millis = |value: Value| grok(json!({"match": {"message": "x"}, "timeout_millis": value}));
    assert_eq!(millis(json!(0.5)).time_limit_nanos, Some(500_000));
    assert_eq!(millis(json!("1.5")).time_limit_nanos, Some(1_500_000));
    assert_eq!(millis(json!(-1)).time_limit_nanos, None);
    assert_eq!(millis(json!(0)).time_limit_nanos, None);
    assert_eq!(millis(json!(30000)).time_limit_nanos, Some(30_000_000_000));
}

#[test]
fn several_fields_arrays_and_missing_fields() {
    let out = run(
        json!({"match": {"a": "%{INT:x}", "b": "%{WORD:y}"}, "break_on_match": false}),
        json!({"a": [1, "z", 2], "b": "w"}),
    );
    assert_eq!(out["x"], json!(["1", "2"]));
    assert_eq!(out["y"], "w");
    let out = run(
        json!({"match": {"absent": "%{INT:x}"}}),
        json!({"message": "1"}),
    );
    assert_eq!(out["tags"], json!(["_grokparsefailure"]));
}

#[test]
fn pattern_definitions_inline_groups_and_targets() {
    let out = run(
        json!({"match": {"message": "%{QUEUE:qid}: (?<[mail][to]>\\S+)"},
               "pattern_definitions": ["QUEUE", "[0-9A-F]{10,11}"],
               "target": "[postfix]"}),
        json!({"message": "BEF25A72965: a@b.c"}),
    );
    assert_eq!(
        out["postfix"],
        json!({"qid": "BEF25A72965", "mail": {"to": "a@b.c"}})
    );
}

/// Logstash loads the standard patterns, then the `patterns_dir` files in
/// order, then `pattern_definitions`; the last definition of a name wins.
#[test]
fn pattern_files_override_the_library_and_are_overridden_inline() {
    let files = json!([
        {"path": "/p/a", "text": "# mine\nQUEUE [0-9A-F]{10,11}\nWORD [a-z]+\nHOST x\n"},
        {"path": "/p/b", "text": "HOST [a-z.]+\r\n"},
    ]);
    let config = json!({"match": {"message": "%{QUEUE:qid} %{WORD:w} %{HOST:h}"},
                        "pattern_files": files.clone()});
    let out = run(config, json!({"message": "BEF25A72965 abc mail.example"}));
    assert_eq!(
        (&out["qid"], &out["w"], &out["h"]),
        (&json!("BEF25A72965"), &json!("abc"), &json!("mail.example"))
    );
    // WORD from the file no longer takes digits or capitals, as \b\w+\b would.
    let out = run(
        json!({"match": {"message": "^%{WORD:w}$"}, "pattern_files": files.clone()}),
        json!({"message": "Abc1"}),
    );
    assert_eq!(out["tags"], json!(["_grokparsefailure"]));
    let out = run(
        json!({"match": {"message": "^%{WORD:w}$"}, "pattern_files": files,
               "pattern_definitions": {"WORD": "\\w+"}}),
        json!({"message": "Abc1"}),
    );
    assert_eq!(out["w"], "Abc1");
    // An error met in a file's pattern names the file, so that the user
    // need not search every file for it; one in the config is not placed.
    let files = json!([{"path": "/p/a", "text": "OUTER x%{BROKEN}\nBROKEN (foo\n"}]);
    let err = init_error(json!({"match": {"message": "%{OUTER}"}, "pattern_files": files}));
    assert!(
        err.contains("in pattern OUTER (defined in /p/a) -> BROKEN (defined in /p/a): end pattern with unmatched parenthesis"),
        "{err}"
    );
}

/// `patterns_dir` is the host's to read; a config that reaches the filter
/// with it is refused, not run without its patterns.
#[test]
fn patterns_dir_unread_by_the_host_is_refused() {
    let err = init_error(json!({"match": {"message": "%{WORD}"}, "patterns_dir": "/etc/p"}));
    assert!(err.contains("reached grok unread"), "{err}");
    // The glob alone means nothing, and is taken, as in Logstash.
    grok(json!({"match": {"message": "%{WORD}"}, "patterns_files_glob": "*.grok"}));
}

#[test]
fn named_captures_only_false_captures_bare_references() {
    let out = run(
        json!({"match": {"message": "%{INT} %{WORD:w}"}, "named_captures_only": false}),
        json!({"message": "5 x"}),
    );
    assert_eq!(out["INT"], "5");
    assert_eq!(out["w"], "x");
}

#[test]
fn common_options_apply_on_success_only() {
    let config = json!({"match": {"message": "%{INT:n}"}, "add_tag": ["n_%{n}"],
                        "add_field": {"[meta][seen]": "yes"}, "remove_field": ["junk"]});
    let out = run(config.clone(), json!({"message": "7", "junk": 1}));
    assert_eq!(out["tags"], json!(["n_7"]));
    assert_eq!(out["meta"]["seen"], "yes");
    assert!(out.get("junk").is_none());
    let out = run(config, json!({"message": "x", "junk": 1}));
    assert_eq!(out["junk"], 1);
    assert_eq!(out["tags"], json!(["_grokparsefailure"]));
}

#[test]
fn a_runaway_pattern_is_tagged_timeout() {
    let out = run(
        json!({"match": {"message": "^(?:a|a)*b$"}, "timeout_steps": 10000}),
        // With the `b` the pattern needs, so that it is tried at all.
        json!({"message": format!("{}bx", "a".repeat(60))}),
    );
    assert_eq!(out["tags"], json!(["_groktimeout"]));
}

/// Steps bound an attempt's forward work too: this pattern never
/// backtracks, and one start position costs it up to 20,000 bytes.
#[test]
fn a_long_forward_search_is_tagged_timeout() {
    let out = run(
        json!({"match": {"message": "(?:(?:(?:[ab]{10}){10}){10}){21}"}, "timeout_steps": 100000,
               "timeout_millis": 0}),
        json!({"message": "a".repeat(20_000)}),
    );
    assert_eq!(out["tags"], json!(["_groktimeout"]));
}

/// `timeout_scope => event` gives one limit to a field's patterns on each
/// value, as grok.rb's `EventTimeoutMatcher` times each value's match: the
/// elements of a list field are not charged to one limit together.
#[test]
fn the_event_scope_times_each_value_of_a_field() {
    let slow = "a".repeat(2000);
    let config = |steps: u64| {
        json!({"match": {"message": ["\\w+(?:@|!)", "\\w+(?:#|%)"]}, "timeout_scope": "event",
               "timeout_steps": steps, "timeout_millis": 0})
    };
    // Two patterns of some 33,000 steps each on one value pass 100,000.
    let one = run(config(100_000), json!({"message": slow}));
    assert_eq!(one["tags"], json!(["_grokparsefailure"]));
    // Two values take twice that, each within its own limit.
    let two = run(config(100_000), json!({"message": [slow, slow]}));
    assert_eq!(two["tags"], json!(["_grokparsefailure"]));
    // One value's patterns share theirs.
    let shared = run(config(50_000), json!({"message": slow}));
    assert_eq!(shared["tags"], json!(["_groktimeout"]));
}

/// grok.rb chomps each of `pattern_definitions` (a TOML multi-line string
/// ends with a line break): one `\n`, `\r\n` or `\r` at the end goes.
#[test]
fn pattern_definitions_lose_one_line_ending() {
    for ending in ["\n", "\r\n", "\r"] {
        let out = run(
            json!({"match": {"message": "^%{A:a}$"}, "pattern_definitions": {"A": format!("\\d+{ending}")}}),
            json!({"message": "12"}),
        );
        assert_eq!(out["a"], "12", "{ending:?}");
    }
    let out = run(
        json!({"match": {"message": "^%{A:a}$"}, "pattern_definitions": {"A": "\\d+\n\n"}}),
        json!({"message": "12"}),
    );
    assert_eq!(out["tags"], json!(["_grokparsefailure"]));
}

/// A long line without the text a pattern needs (`: ` here) fails that
/// pattern at once, as in Logstash, and the next one is tried: searched
/// from every start, it ran out of steps on lines of 12 KB.
#[test]
fn a_long_line_lacking_a_patterns_literal_goes_on_to_the_next() {
    let line = format!("payload {}", "x y ".repeat(4000));
    let out = run(
        json!({"match": {"message": ["%{DATA:key}: %{GREEDYDATA:value}",
                                      "%{WORD:first} %{GREEDYDATA:rest}"]}}),
        json!({"message": line}),
    );
    assert_eq!(out["first"], "payload");
    assert!(out.get("tags").is_none(), "{out}");
    // Under `(?i)` too: its letters are looked for in either case.
    let out = run(
        json!({"match": {"message": ["(?i)%{DATA:k}level=error %{GREEDYDATA:v}",
                                      "%{WORD:first} %{GREEDYDATA:rest}"]}}),
        json!({"message": line}),
    );
    assert_eq!(out["first"], "payload");
    assert!(out.get("tags").is_none(), "{out}");
    let found = run(
        json!({"match": {"message": "(?i)%{DATA:k}level=error %{GREEDYDATA:v}"}}),
        json!({"message": format!("{line} LEVEL=Error disk full")}),
    );
    assert_eq!(found["v"], "disk full", "{found}");
}

/// A short line that a pattern cannot match fails it at once, as in
/// Logstash, where backtracking through it (exponential in the `a`s here)
/// ran out of steps and stopped grok with `_groktimeout`: `(a+)+` is one
/// repeat, as Onigmo reduces it, and without a `b` neither pattern that
/// needs one is tried.
#[test]
fn a_short_hopeless_line_goes_on_to_the_next_pattern() {
    let line = format!("{}c", "a".repeat(24));
    for pattern in ["(?<x>(a+)+b)", "(?<x>(?:a+a+)+b)"] {
        let out = run(
            json!({"match": {"message": [pattern, "%{WORD:w}"]}}),
            json!({"message": line}),
        );
        assert_eq!(out["w"], line.as_str(), "{pattern}: {out}");
        assert!(out.get("tags").is_none(), "{pattern}: {out}");
    }
}

/// Logstash's `\b` is Onigmo's: `é` is a word character there, though
/// `\w` is ASCII-only, so `caféabc` holds no whole word.
#[test]
fn word_boundaries_see_unicode_letters() {
    let out = run(
        json!({"match": {"message": "%{WORD:w}"}}),
        json!({"message": "caféabc def"}),
    );
    assert_eq!(out["w"], "def");
}

#[test]
fn constructs_ruby_reads_otherwise_fail_init() {
    for (pattern, refusal) in [
        ("%{WORD:w}\\K", "`\\K`"),
        ("\\R%{WORD:w}", "`\\R`"),
        ("%{WORD:w}\\X", "`\\X`"),
        ("\\cA", "control and meta escapes"),
        ("[[:foo:]]", "invalid POSIX bracket type"),
        ("[\\d-z]", "unmatched range specifier"),
        ("(?<1a>x)", "invalid group name <1a>"),
    ] {
        let err = init_error(json!({"match": {"message": pattern}}));
        assert!(err.contains(refusal), "{pattern}: {err}");
        assert!(err.contains("position"), "{pattern}: {err}");
    }
    // Field names of every shape grok writes stay valid group names.
    let out = run(
        json!({"match": {"message": "(?<[a][b-c]>\\d) (?<@x.y>\\d)"}}),
        json!({"message": "1 2"}),
    );
    assert_eq!(out["a"]["b-c"], "1");
    assert_eq!(out["@x.y"], "2");
}

#[test]
fn bad_patterns_fail_init_naming_pattern_and_position() {
    let err = init_error(json!({"match": {"message": "%{WORD:w} (%{NOPE}"}}));
    assert!(err.contains("pattern %{NOPE} not defined"), "{err}");
    assert!(err.contains("position 11"), "{err}");
    let err =
        init_error(json!({"match": {"message": "%{BAD}"}, "pattern_definitions": {"BAD": "a(b"}}));
    assert!(
        err.contains("in pattern BAD: end pattern with unmatched parenthesis at position 1"),
        "{err}"
    );
    let err = init_error(
        json!({"match": {"message": "%{R}"}, "pattern_definitions": {"R": "x%{S}", "S": "%{R}"}}),
    );
    assert!(
        err.contains("in pattern R -> S: pattern R refers to itself at position 0"),
        "{err}"
    );
    let err = init_error(json!({"match": {"message": "%{WORD}"}, "ecs_compatibility": "v2"}));
    assert!(err.contains("ecs_compatibility"), "{err}");
    let err = init_error(json!({"match": "nope"}));
    assert!(err.contains("match must be"), "{err}");
}

#[test]
fn ecs_compatibility_picks_the_pattern_set() {
    let line =
        "127.0.0.1 - - [11/Dec/2013:00:01:45 -0800] \"GET /x HTTP/1.1\" 200 3891 \"-\" \"curl\"";
    let legacy = run(
        json!({"match": {"message": "%{COMBINEDAPACHELOG}"}, "ecs_compatibility": "disabled"}),
        json!({"message": line}),
    );
    assert_eq!(legacy["clientip"], "127.0.0.1");
    assert_eq!(legacy["response"], "200");
    let ecs = run(
        json!({"match": {"message": "%{COMBINEDAPACHELOG}"}}),
        json!({"message": line}),
    );
    assert_eq!(ecs["source"]["address"], "127.0.0.1");
    assert_eq!(ecs["http"]["response"]["status_code"], 200);
}

/// Where Logstash's event raises on a capture, grok counts the field as
/// unmatched: the captures set before it stay, the rest and `add_*` do
/// not happen, and the event is tagged.
#[test]
fn a_capture_logstash_cannot_set_fails_the_field() {
    let line = "Mar 16 00:01:25 evita postfix/smtpd[1713]: connect from x";
    // ECS SYSLOGLINE writes [host][hostname]; a legacy input's `host` is a string.
    let out = run(
        json!({"match": {"message": "%{SYSLOGLINE}"}, "overwrite": ["message"], "add_tag": ["parsed"]}),
        json!({"message": line, "host": "10.20.30.1"}),
    );
    assert_eq!(
        out,
        json!({"message": line, "host": "10.20.30.1", "timestamp": "Mar 16 00:01:25",
               "tags": ["_grokparsefailure"]})
    );
    // An object or a missing `host` takes the capture.
    let out = run(
        json!({"match": {"message": "%{SYSLOGLINE}"}}),
        json!({"message": line, "host": {"ip": "10.20.30.1"}}),
    );
    assert_eq!(
        out["host"],
        json!({"ip": "10.20.30.1", "hostname": "evita"})
    );
    // Through a list, nothing is set and nothing fails.
    let out = run(
        json!({"match": {"message": "%{WORD:[a][b]}"}}),
        json!({"message": "w", "a": [1, 2]}),
    );
    assert_eq!(out, json!({"message": "w", "a": [1, 2]}));
    // A failed field is not tried with its next pattern either; another
    // field still is.
    let out = run(
        json!({"match": {"message": ["%{WORD:[a][b]}", "%{WORD:c}"], "other": "%{WORD:d}"}}),
        json!({"message": "w", "a": "s", "other": "o"}),
    );
    assert_eq!(
        out,
        json!({"message": "w", "a": "s", "other": "o", "d": "o"})
    );
}

/// A Logstash event always has `@timestamp`, as a timestamp object: grok
/// leaves it, and fails the field if `overwrite` asks to replace it.
#[test]
fn a_capture_into_timestamp_is_kept_out_or_fails() {
    let config = |overwrite: Value| {
        json!({"match": {"message": "%{TIMESTAMP_ISO8601:@timestamp} %{GREEDYDATA:msg}"},
               "overwrite": overwrite})
    };
    let event =
        json!({"message": "2020-01-01T00:00:00Z hi", "@timestamp": "2024-05-05T00:00:00.000Z"});
    let out = run(config(json!([])), event.clone());
    assert_eq!(out["@timestamp"], "2024-05-05T00:00:00.000Z");
    assert_eq!(out["msg"], "hi");
    // One field may be given alone, as Logstash takes it for a list option.
    let out = run(config(json!("@timestamp")), event);
    assert_eq!(out["@timestamp"], "2024-05-05T00:00:00.000Z");
    assert!(out.get("msg").is_none(), "{out}");
    assert_eq!(out["tags"], json!(["_grokparsefailure"]));
}

/// `target` and a capture's name are each short enough, and together
/// deeper than an event may nest: refused at load, as either alone would be.
#[test]
fn a_target_and_capture_too_deep_together_are_refused() {
    let target = "[a]".repeat(100);
    let config =
        |name: &str| json!({"match": {"message": format!("%{{WORD:{name}}}")}, "target": target});
    let error = init_error(config(&"[b]".repeat(30)));
    assert!(
        error.starts_with("match `message` pattern #1 `%{WORD:[b]")
            && error.contains("target with the capture `")
            && error.ends_with("at most 127 are allowed"),
        "{error}"
    );
    let out = run(config(&"[b]".repeat(27)), json!({"message": "hi"}));
    assert!(out.get("a").is_some() && out.get("tags").is_none(), "{out}");
}

/// Logstash's event takes only strings as `tags`, nothing under it, and
/// only an object as `@metadata`, which it always has: grok's `handle`
/// meets the refusal as an error and the field fails, or (`@metadata`
/// without `overwrite`) finds a map there and keeps it.
#[test]
fn a_capture_into_tags_or_metadata_follows_logstashs_event() {
    let failed = |config: Value, event: Value| {
        let out = run(config.clone(), event);
        assert_eq!(
            out["tags"],
            json!(["t", "_grokparsefailure"]),
            "{config}: {out}"
        );
        assert!(
            out.get("w").is_none() && out.get("@metadata").is_none(),
            "{out}"
        );
    };
    let event = json!({"message": "hello 5", "tags": ["t"]});
    for pattern in [
        "%{WORD:[tags][x]} %{INT:w}",
        "%{WORD:[tags][0]} %{INT:w}",
        "%{WORD} %{INT:tags:int}",
    ] {
        failed(json!({"match": {"message": pattern}}), event.clone());
    }
    let target = json!({"match": {"message": "%{WORD:x} %{INT:w}"}, "target": "tags"});
    failed(target, event.clone());
    let overwrite = json!({"match": {"message": "%{WORD:@metadata} %{INT:w}"},
                           "overwrite": ["@metadata"]});
    failed(overwrite, event.clone());
    // A string is a tag; `@metadata` without `overwrite` is kept.
    let into_tags = json!({"match": {"message": "%{WORD:tags} %{INT:w}"}});
    let out = run(into_tags.clone(), event.clone());
    assert_eq!(out["tags"], json!(["t", "hello"]));
    // Tags Logstash's event would have moved to `_tags` when it was made
    // are moved so here, and the capture added to what it leaves.
    for illegal in [json!(["a", 1]), json!({"k": 1}), json!(7)] {
        let out = run(
            into_tags.clone(),
            json!({"message": "hello 5", "tags": illegal}),
        );
        assert_eq!(out["tags"], json!(["_tagsparsefailure", "hello"]), "{out}");
        assert_eq!((&out["_tags"], &out["w"]), (&json!([illegal]), &json!("5")));
    }
    let out = run(
        json!({"match": {"message": "%{WORD:@metadata} %{INT:w}"}}),
        event.clone(),
    );
    assert!(out.get("@metadata").is_none() && out["w"] == "5", "{out}");
    let out = run(
        json!({"match": {"message": "%{WORD:[@metadata][x]} %{INT:w}"}}),
        event,
    );
    assert_eq!(out["@metadata"], json!({"x": "hello"}));
}

/// A number is matched as Ruby's `to_s` writes it, as Logstash's grok
/// turns a non-string field into text.
#[test]
fn a_number_field_is_matched_as_ruby_writes_it() {
    let event: Value = serde_json::from_str(r#"{"v": [1E2, 1e20, 0.00001, 7]}"#).unwrap();
    let out = run(json!({"match": {"v": "%{GREEDYDATA:s}"}}), event);
    assert_eq!(out["s"], json!(["100.0", "1.0e+20", "1.0e-05", "7"]));
}

/// grok.rb matches `input.to_s`: a hash field, or a list inside a list
/// field, is matched as Ruby's `inspect` of it.
#[test]
fn a_hash_or_nested_list_is_matched_as_ruby_inspects_it() {
    let event = json!({"o": {"k": [1, null]}, "l": [["a", true]]});
    let config = json!({"match": {"o": "^%{GREEDYDATA:so}$", "l": "^%{GREEDYDATA:sl}$"},
                        "break_on_match": false});
    let out = run(config, event);
    assert_eq!(out["so"], r#"{"k"=>[1, nil]}"#);
    assert_eq!(out["sl"], r#"["a", true]"#);
}

/// grok.rb rescues only its timeout around `filter_matched`: an
/// `add_field` set Logstash's event refuses stops Logstash's worker. Here
/// the event fails, with the reason, and the host passes it on as it came.
#[test]
fn a_common_option_logstash_refuses_fails_the_event() {
    let config = json!({"match": {"message": "%{WORD:w} %{NUMBER:num}"},
                        "add_field": {"[host][name]": "h", "[n][x]": "y", "[@timestamp][z]": "q"}});
    let event = json!({"message": "hello 5", "host": "web-1", "n": 3,
                       "@timestamp": "2020-01-01T00:00:00.000Z", "tags": ["a"]});
    let text = event.to_string();
    let mut event = Event::parse(text.as_bytes()).unwrap();
    let verdict = grok(config).process(&mut event);
    let Verdict::Error(reason) = verdict else {
        panic!("{verdict:?}: {}", event.to_json());
    };
    assert!(
        reason.starts_with("add_field: Logstash's event cannot set `[host][name]`: the way to it passes through a string"),
        "{reason}"
    );
    // Under `tags`, and at `tags` itself, which takes strings.
    let tags = json!({"message": "hello 5", "tags": ["a"]});
    let mut filter =
        grok(json!({"match": {"message": "%{WORD:w}"}, "add_field": {"[tags][0]": "t"}}));
    let text = tags.to_string();
    let mut event = Event::parse(text.as_bytes()).unwrap();
    assert!(
        matches!(filter.process(&mut event), Verdict::Error(reason) if reason.contains("under `tags`"))
    );
    let out = run(
        json!({"match": {"message": "%{WORD:w}"}, "add_field": {"tags": "t"}}),
        tags,
    );
    assert_eq!(out["tags"], json!(["a", "t"]));
}

mod logged;
