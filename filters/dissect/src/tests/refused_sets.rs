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
