//! What dissect does where Logstash's event refuses a set of the common
//! options: the plugin's catch (JavaDissectorLibrary's `dissect`) tags the
//! event, and the mappings and conversions after it do not run.

use super::*;

#[test]
fn a_common_option_logstash_refuses_tags_the_event_and_stops() {
    let config = json!({
        "mapping": {"message": "%{a} %{b}", "other": "%{c}"},
        "convert_datatype": {"b": "int"},
        "add_field": {"before": "x", "[host][name]": "h", "after": "y"},
        "add_tag": ["done"],
    });
    assert_eq!(
        dissect(
            config,
            json!({"message": "1 2", "other": "3", "host": "web-1"})
        ),
        json!({"message": "1 2", "other": "3", "host": "web-1", "a": "1", "b": "2",
               "before": "x", "tags": ["_dissectfailure"]})
    );
    for field in ["[tags][0]", "@timestamp"] {
        let config = json!({"mapping": {"message": "%{a}"}, "add_field": {field: "v"},
                            "tag_on_failure": "refused"});
        let out = dissect(
            config,
            json!({"message": "1", "tags": ["t"], "@timestamp": "2020-01-01T00:00:00.000Z"}),
        );
        assert_eq!(out["tags"], json!(["t", "refused"]), "{field}");
        assert_eq!(out["@timestamp"], "2020-01-01T00:00:00.000Z", "{field}");
    }
}

#[test]
fn a_malformed_field_reference_in_a_common_option_fails_init() {
    let error = init_error(json!({"mapping": {"message": "%{a}"}, "add_tag": ["%{a[0]}"]}));
    assert!(
        error.starts_with("add_tag: `%{a[0]}`: malformed field reference"),
        "{error}"
    );
}

/// Logstash's `Accessors` cannot set a child of a string (it throws
/// InvalidFieldSetException); the plugin's catch tags the event. Its sets
/// are made in order (normal fields as written, then appended parts, then
/// indirect fields), so those before the refused one stay.
#[test]
fn a_field_set_through_a_string_tags_the_event_and_keeps_the_sets_before_it() {
    let config = json!({"mapping": {"message": "%{[host][name]} %{rest}"}});
    assert_eq!(
        dissect(
            config,
            json!({"message": "web-1 hello", "host": "10.0.0.1"})
        ),
        json!({"message": "web-1 hello", "host": "10.0.0.1", "tags": ["_dissectfailure"]})
    );
    // The key a field of the pattern made a string is refused as well.
    assert_eq!(
        on_message("%{a} %{[a][b]}", "x y"),
        json!({"message": "x y", "a": "x", "tags": ["_dissectfailure"]})
    );
    assert_eq!(
        on_message("%{[a][b]} %{[a][b][c]}", "x y"),
        json!({"message": "x y", "a": {"b": "x"}, "tags": ["_dissectfailure"]})
    );
    // `a` got its normal part before the refused set, and its appended part
    // would have come after it.
    let config = json!({
        "mapping": {"message": "%{a} %{[h][x]} %{+a} %{b}", "other": "%{c}"},
        "convert_datatype": {"a": "int"},
        "add_tag": ["matched"],
    });
    assert_eq!(
        dissect(
            config,
            json!({"message": "1 2 3 4", "h": "s", "other": "5"})
        ),
        json!({"message": "1 2 3 4", "h": "s", "other": "5", "a": "1",
               "tags": ["_dissectfailure"]})
    );
}

#[test]
fn a_set_in_a_list_member_that_is_a_string_is_refused() {
    // `[l][-1]` is the string `[l][0]` just wrote.
    let out = dissect(
        json!({"mapping": {"message": "%{[l][0]} %{[l][-1][x]}"}}),
        json!({"message": "a b", "l": [{}]}),
    );
    assert_eq!(
        out,
        json!({"message": "a b", "l": ["a"], "tags": ["_dissectfailure"]})
    );
}

/// An indirect field's key is parsed as a field reference when Logstash
/// sets it, and checked like any other key.
#[test]
fn an_indirect_key_logstash_refuses_tags_the_event() {
    for key in [
        "[a",
        "a[0]",
        "]",
        "@metadata",
        "[tags][0]",
        "[host][name]",
        "[@timestamp][x]",
    ] {
        let out = dissect(
            json!({"mapping": {"message": "%{?k}=%{&k} %{after}"}}),
            json!({"message": format!("{key}=v w"), "host": "h",
                   "@timestamp": "2020-01-01T00:00:00.000Z"}),
        );
        assert_eq!(
            out,
            json!({"message": format!("{key}=v w"), "host": "h", "after": "w",
                   "@timestamp": "2020-01-01T00:00:00.000Z", "tags": ["_dissectfailure"]}),
            "{key}"
        );
    }
    let out = on_message("%{?k}=%{&k}", "[@metadata][k]=v");
    assert_eq!(out["@metadata"], json!({"k": "v"}));
}

/// Logstash's dissect sets through the event's Java API, which puts text at
/// `@timestamp` (only Ruby's `event.set` refuses it), but not under it.
#[test]
fn text_at_timestamp_is_set_and_under_it_is_refused() {
    let event = json!({"message": "2021-02-03T04:05:06.000Z x",
                       "@timestamp": "2020-01-01T00:00:00.000Z"});
    let out = dissect(
        json!({"mapping": {"message": "%{@timestamp} %{b}"}}),
        event.clone(),
    );
    assert_eq!(out["@timestamp"], "2021-02-03T04:05:06.000Z");
    assert_eq!(out["tags"], Value::Null);
    let out = dissect(
        json!({"mapping": {"message": "%{b} %{[@timestamp][x]}"}}),
        event.clone(),
    );
    assert_eq!(
        out,
        json!({"message": "2021-02-03T04:05:06.000Z x", "@timestamp": "2020-01-01T00:00:00.000Z",
               "b": "2021-02-03T04:05:06.000Z", "tags": ["_dissectfailure"]})
    );
    let out = dissect(json!({"mapping": {"message": "%{b} %{[tags][x]}"}}), event);
    assert_eq!(out["tags"], json!(["_dissectfailure"]));
}

/// A number Logstash's event refuses in `tags` raises out of its
/// conversion pass: the event is tagged and the conversions after it do
/// not run.
#[test]
fn a_conversion_logstash_refuses_tags_the_event_and_stops() {
    let out = dissect(
        json!({"convert_datatype": {"tags": "int", "n": "int"}}),
        json!({"tags": "5", "n": "7"}),
    );
    assert_eq!(out, json!({"tags": ["5", "_dissectfailure"], "n": "7"}));
}
