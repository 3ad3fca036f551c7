//! `convert` on whole events: what is written, and when the event is
//! tagged instead. Apart from `tests.rs` to keep that file short; the
//! readings of single values are tested in `src/convert/tests.rs`.

use super::*;

#[test]
fn convert_follows_ruby_and_never_fails_the_event() {
    let config = json!({"convert": {"a": "integer", "b": "float", "c": "boolean", "d": "string",
                                    "e": "integer", "bytes": "integer", "f": "float_eu"}});
    let out = run(
        config,
        r#"{"a":"42","b":"1,234.5","c":"yes","d":7,"e":["1","2.9",null],"bytes":"-","f":"1.234,5"}"#,
    );
    assert_eq!(
        out,
        r#"{"a":42,"b":1234.5,"c":true,"d":"7","e":[1,2,null],"bytes":0,"f":1234.5}"#
    );
    // An integer that reads as zero and a boolean left as it was are no
    // failures: the common options still apply.
    let out = run(
        json!({"convert": {"a": "integer", "b": "boolean"}, "add_tag": ["ok"]}),
        r#"{"a":"forty","b":"maybe"}"#,
    );
    assert_eq!(out, r#"{"a":0,"b":"maybe","tags":["ok"]}"#);
}

#[test]
fn integers_past_64_bits_stay_exact_as_rubys_do() {
    let config =
        json!({"convert": {"a": "integer", "b": "integer", "c": "integer", "d": "integer"}});
    assert_eq!(
        run(
            config,
            r#"{"a":"123456789012345678901234567890","b":"-00099999999999999999999x","c":1e20,"d":"1.5e20"}"#
        ),
        r#"{"a":123456789012345678901234567890,"b":-99999999999999999999,"c":100000000000000000000,"d":150000000000000000000}"#
    );
}

#[test]
fn a_float_ruby_cannot_read_fails_the_event_unless_lenient() {
    let config = json!({"convert": {"f": "float"}, "uppercase": ["m"], "add_tag": ["ok"]});
    assert_eq!(
        run(config, r#"{"f":"-","m":"x"}"#),
        r#"{"f":"-","m":"x","tags":["_mutate_error"]}"#
    );
    // Ruby's `"-".to_f` is 0.0 (MRI and JRuby alike).
    let lenient = json!({"convert": {"f": "float"}, "lenient_conversion": true});
    assert_eq!(run(lenient, r#"{"f":"-"}"#), r#"{"f":0.0}"#);
}

/// Ruby's `Integer()` and `Float()` raise TypeError for a Hash or an Array,
/// so a list holding one fails its `convert` (lenient too: a Hash has no
/// `to_i`). As mutate.rb's rescue works, the conversions before it stay and
/// nothing of the failed one is written; a field that is itself an object
/// is passed by.
#[test]
fn convert_of_a_list_holding_an_object_or_a_list_fails_the_event() {
    for (kind, lenient) in [("integer", false), ("float", false), ("integer", true)] {
        let config = json!({"convert": {"n": kind, "a": kind}, "uppercase": ["m"],
                            "add_tag": ["ok"], "lenient_conversion": lenient});
        let out = run(config, r#"{"n":"5","a":[{"x":1},[1,2],"3"],"m":"x"}"#);
        let out: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(out["a"], json!([{"x": 1}, [1, 2], "3"]), "{kind}");
        assert_eq!(out["n"].as_f64(), Some(5.0), "{kind}");
        assert_eq!(out["m"], "x", "{kind}");
        assert_eq!(out["tags"], json!(["_mutate_error"]), "{kind}");
    }
    for kind in ["integer", "float", "boolean"] {
        let config = json!({"convert": {"o": kind}, "add_tag": ["ok"]});
        assert_eq!(
            run(config, r#"{"o":{"x":"1"}}"#),
            r#"{"o":{"x":"1"},"tags":["ok"]}"#,
            "{kind}"
        );
    }
}

/// `0x` text is Logstash's `parse_signed_hex_str`, whose `Float()` raises
/// where no number follows; past 64 bits an integer stays exact,
/// as a decimal one does.
#[test]
fn hexadecimal_text_is_read_whole_or_fails_the_event() {
    let config = json!({"convert": {"a": "integer"}, "add_tag": ["ok"]});
    for text in ["0x", "0xZZ", "-0x", "0x1__0", "12\\n0x5"] {
        let input = format!(r#"{{"a":"{text}"}}"#);
        assert_eq!(
            run(config.clone(), &input),
            format!(r#"{{"a":"{text}","tags":["_mutate_error"]}}"#)
        );
    }
    let config = json!({"convert": {"a": "integer", "b": "integer", "f": "float"}});
    assert_eq!(
        run(
            config,
            r#"{"a":"0xFFFFFFFFFFFFFFFFFF","b":"-0x1000000000000000000000","f":"0xFFFFFFFFFFFFFFFFFF"}"#
        ),
        r#"{"a":4722366482869645213695,"b":-19342813113834066795298816,"f":4.722366482869645e+21}"#
    );
}

/// `convert => string` is `to_s` on each member of a list: a member that is
/// a list or a hash becomes its Ruby `inspect`. A hash field is left alone.
#[test]
fn string_of_a_nested_member_is_its_ruby_inspect() {
    let config = json!({"convert": {"a": "string", "o": "string"}});
    assert_eq!(
        run(
            config,
            r#"{"a":[[1,null,"x"],{"k":{"f":1.50}},null,1E2],"o":{"k":[1]}}"#
        ),
        r#"{"a":["[1, nil, \"x\"]","{\"k\"=>{\"f\"=>1.5}}",null,"100.0"],"o":{"k":[1]}}"#
    );
}
