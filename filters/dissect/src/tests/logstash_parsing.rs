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

// The expected events below are what the Python model of dissect 1.2.5
// (Field.java, FieldFactory, ValueResolver, Dissector.java) gives.

/// Logstash takes `->` and `/N` in either order.
#[test]
fn padding_and_order_suffixes_come_in_either_order() {
    for pattern in ["%{+a->/2} %{+a/1}", "%{+a/2->} %{+a/1}"] {
        assert_eq!(
            on_message(pattern, "x    y"),
            json!({"message": "x    y", "a": "y x"}),
            "{pattern}"
        );
    }
}

/// Only `/` and one or two digits make an order; any other `/` is in the
/// name, and a skip's order is read and ignored.
#[test]
fn a_slash_that_is_no_order_stays_in_the_name() {
    assert_eq!(
        on_message("%{a/b} %{+a/b}", "1 2"),
        json!({"message": "1 2", "a/b": "1 2"})
    );
    assert_eq!(
        on_message("%{+a/b} %{c}", "1 2"),
        json!({"message": "1 2", "a/b": "1", "c": "2"})
    );
    assert_eq!(
        on_message("%{+a/123} %{+a/1}", "x y"),
        json!({"message": "x y", "a/123": "x", "a": "y"})
    );
    assert_eq!(
        on_message("%{?k/2} %{&k}", "cpu 95"),
        json!({"message": "cpu 95", "cpu": "95"})
    );
}

/// ValueResolver takes the key from the first other field of the name.
#[test]
fn an_indirect_key_comes_from_the_first_field_of_its_name() {
    assert_eq!(
        on_message("%{?k}-%{?k} %{&k}", "first-second val"),
        json!({"message": "first-second val", "first": "val"})
    );
    // Another indirect field of the name counts too.
    assert_eq!(
        on_message("%{&k} %{&k}", "a b"),
        json!({"message": "a b", "b": "a", "a": "b"})
    );
}

/// Logstash reads only closed fields; an open `%{` after the last one is
/// delimiter text, and an empty pattern builds no dissector at all.
#[test]
fn open_braces_and_empty_patterns_are_taken_as_logstash_takes_them() {
    assert_eq!(
        on_message("%{a} %{b", "1 2 %{b"),
        json!({"message": "1 2 %{b", "a": "1 2"})
    );
    assert_eq!(
        on_message("%{a} %{b", "1 2")["tags"],
        json!(["_dissectfailure"])
    );
    assert_eq!(
        dissect(
            json!({"mapping": {"message": ""}, "add_tag": ["seen"]}),
            json!({"message": "x"})
        ),
        json!({"message": "x"})
    );
}
