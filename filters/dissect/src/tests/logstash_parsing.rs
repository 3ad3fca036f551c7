//! Pattern details where Logstash's dissect 1.2 reads the pattern or the
//! event in a way one would not guess: where an indirect field's key comes
//! from, and which trailing text ends the last field.

use super::*;

/// IndirectField takes the key from the event when the event has the
/// field, and only otherwise from what the pattern captured.
#[test]
fn an_indirect_key_comes_from_the_event_first() {
    let config = json!({"mapping": {"message": "%{?k} %{&k}"}});
    assert_eq!(
        dissect(config.clone(), json!({"message": "cpu 95", "k": "mem"})),
        json!({"message": "cpu 95", "k": "mem", "mem": "95"})
    );
    assert_eq!(
        dissect(config.clone(), json!({"message": "cpu 95"})),
        json!({"message": "cpu 95", "cpu": "95"})
    );
    // Any value but an object or list, as Java's String.valueOf writes it.
    assert_eq!(
        dissect(config.clone(), json!({"message": "cpu 95", "k": 7}))["7"],
        "95"
    );
    assert_eq!(
        dissect(config.clone(), json!({"message": "cpu 95", "k": null}))["null"],
        "95"
    );
    assert_eq!(
        dissect(config, json!({"message": "cpu 95", "k": {"x": 1}})),
        json!({"message": "cpu 95", "k": {"x": 1}})
    );
    // A normal field is written before the indirect one reads the key.
    assert_eq!(
        dissect(
            json!({"mapping": {"message": "%{k} %{&k}"}}),
            json!({"message": "cpu 95", "k": "mem"})
        ),
        json!({"message": "cpu 95", "k": "cpu", "cpu": "95"})
    );
}

/// Logstash's final delimiter is the text after the pattern's last `}`.
#[test]
fn a_pattern_ending_in_a_brace_lets_the_last_field_take_the_rest() {
    assert_eq!(
        on_message("{%{a}}", "{foo}"),
        json!({"message": "{foo}", "a": "foo}"})
    );
    assert_eq!(
        on_message("{%{a}}", "{foo"),
        json!({"message": "{foo", "a": "foo"})
    );
    assert_eq!(
        on_message("{%{a}}", "foo}")["tags"],
        json!(["_dissectfailure"])
    );
    assert_eq!(on_message("%{a} %{b}x}y", "1 2x}3y")["b"], "2x}3");
    // Logstash's own spec: braces between fields are delimiters as usual.
    assert_eq!(
        on_message("{%{a}}{%{b}}%{rest}", "{foo}{bar}"),
        json!({"message": "{foo}{bar}", "a": "foo", "b": "bar", "rest": ""})
    );
}
