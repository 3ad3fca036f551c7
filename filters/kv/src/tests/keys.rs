//! Keys as kv.rb turns them into fields: Ruby's case mappings, field
//! references as Logstash's tokenizer reads them, and the sets Logstash's
//! event raises on or carries out where one might not expect it.

use super::*;

/// kv.rb calls Ruby's `downcase`, `upcase` and `capitalize`; the expected
/// texts are Ruby 3.1's. Rust's own mappings differ on each of these: a
/// final sigma (`ς`), and the uppercase (not titlecase) of a first letter.
#[test]
fn transforms_map_case_as_ruby_does() {
    assert_eq!(
        pairs(
            json!({"transform_key": "capitalize", "transform_value": "lowercase"}),
            "ǆem=ΣΑΣ ß=ΌΣΟΣ ﬁx=1 ᾳb=2"
        ),
        json!({"ǅem": "σασ", "Ss": "όσοσ", "Fix": "1", "ᾼb": "2"})
    );
    assert_eq!(
        pairs(
            json!({"transform_key": "uppercase", "transform_value": "capitalize"}),
            "ǆem=ǆem ßa=ﬁx x=ΣΑΣ"
        ),
        json!({"ǄEM": "ǅem", "SSA": "Fix", "X": "Σασ"})
    );
    assert_eq!(
        pairs(json!({"transform_key": "lowercase"}), "ΣΑΣ=1"),
        json!({"σασ": "1"})
    );
}

/// Logstash's tokenizer reads `[[c]]` as `[c]`: a `]` may follow a `]`.
#[test]
fn doubled_brackets_are_the_field_they_enclose() {
    let out = kv(
        json!({"add_tag": ["ok"]}),
        json!({"message": "[[c]]=1 [[host]][[name]]=h [a][[b]]=2 d=3"}),
    );
    assert_eq!(
        out,
        json!({"message": "[[c]]=1 [[host]][[name]]=h [a][[b]]=2 d=3",
               "c": "1", "host": {"name": "h"}, "a": {"b": "2"}, "d": "3", "tags": ["ok"]})
    );
    // So in options, at load and on each event.
    let out = kv(
        json!({"target": "[[kv]]", "add_field": {"[[f]][[g]]": "%{[[kv]][[x]]}"}}),
        json!({"message": "x=1"}),
    );
    assert_eq!(
        out,
        json!({"message": "x=1", "kv": {"x": "1"}, "f": {"g": "1"}})
    );
}

/// The shapes Logstash's tokenizer raises on keep failing as before: the
/// pairs before are set, the rest are not, and the event is tagged.
#[test]
fn malformed_bracket_shapes_fail_the_rest_of_the_pairs() {
    for key in ["[a]]", "[[a]", "a[b]", "[a][]", "[[a]b]", "[a]x[b]"] {
        let line = format!("p=0 {key}=1 q=2");
        let out = kv(json!({"add_tag": ["ok"]}), json!({"message": line}));
        assert_eq!(
            out,
            json!({"message": line, "p": "0", "tags": ["_kv_filter_error"]}),
            "{key}"
        );
    }
}

/// Logstash's `setOnList` sets member `len + i` for a negative index `i`;
/// before the list's start that is a negative offset, and the list throws,
/// into kv.rb's rescue. A negative index within the list sets its member.
#[test]
fn a_negative_index_before_a_lists_start_fails_like_a_refused_set() {
    let event = json!({"message": "a=1 [lst][-3]=x b=2", "lst": ["p", "q"]});
    assert_eq!(
        kv(json!({"add_tag": ["ok"]}), event),
        json!({"message": "a=1 [lst][-3]=x b=2", "lst": ["p", "q"], "a": "1",
               "tags": ["_kv_filter_error"]})
    );
    let event = json!({"message": "[lst][-2]=x [lst][3][k]=y", "lst": ["p", "q"]});
    assert_eq!(
        kv(json!({}), event),
        json!({"message": "[lst][-2]=x [lst][3][k]=y", "lst": ["x", "q", null, {"k": "y"}]})
    );
    // A target there is refused as a whole.
    let event = json!({"message": "a=1", "lst": ["p"]});
    assert_eq!(
        kv(json!({"target": "[lst][-2][kv]"}), event),
        json!({"message": "a=1", "lst": ["p"], "tags": ["_kv_filter_error"]})
    );
}

/// Logstash's event sets a key that trimming emptied as a top-level field
/// named by the empty string (its tokenizer reads `""` as that name).
/// Elasticsearch refuses such a field; `exclude_keys => [""]` drops it.
#[test]
fn an_empty_key_is_a_field_named_by_the_empty_string() {
    let line = "a=1& =2&b=3";
    let config = json!({"field_split": "&", "trim_key": " ", "add_tag": ["ok"]});
    assert_eq!(
        pairs(config.clone(), line),
        json!({"a": "1", "": "2", "b": "3", "tags": ["ok"]})
    );
    let mut excluded = config.clone();
    excluded["exclude_keys"] = json!([""]);
    assert_eq!(
        pairs(excluded, line),
        json!({"a": "1", "b": "3", "tags": ["ok"]})
    );
    let mut targeted = config;
    targeted["target"] = json!("kv");
    assert_eq!(
        pairs(targeted, line),
        json!({"kv": {"a": "1", "": "2", "b": "3"}, "tags": ["ok"]})
    );
    // With a prefix the key is no longer empty.
    assert_eq!(
        pairs(json!({"remove_char_key": "x", "prefix": "p"}), "x=1"),
        json!({"p": "1"})
    );
}

/// A key that would pad a list past what an event adds is refused as a key
/// Logstash's event refuses: the pairs before it are kept, the event tagged.
#[test]
fn a_key_padding_a_list_too_far_is_refused_and_tagged() {
    let out = kv(
        json!({}),
        json!({"l": ["a"], "message": "z=1 [l][100000]=x w=2"}),
    );
    assert_eq!(out["z"], "1");
    assert_eq!(out["l"], json!(["a"]));
    assert_eq!(out.get("w"), None);
    assert_eq!(out["tags"], json!(["_kv_filter_error"]));
}
