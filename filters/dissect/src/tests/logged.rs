//! What dissect logs where JavaDissectorLibrary warns: a mapping whose
//! field the event lacks (not a failure), a field that holds no text or
//! does not fit (tagged), and a value `convert_datatype` cannot convert
//! (tagged by datatype).

use super::*;
use wasmstash_sdk::host::{Level, native_log};

fn logged(config: Value, event: Value) -> (Value, Vec<String>) {
    let (out, lines) = native_log::during(|| dissect(config, event));
    assert!(
        lines.iter().all(|(level, _)| *level == Level::Warn),
        "{lines:?}"
    );
    (out, lines.into_iter().map(|(_, line)| line).collect())
}

#[test]
fn what_logstash_warns_of_is_logged_with_the_reason() {
    let mapping = json!({"mapping": {"message": "%{a} %{b}"}});
    let cases = [
        (
            json!({"x": 1}),
            "Dissector mapping, key not found in event: the event has no `message`",
            false,
        ),
        (
            json!({"message": ""}),
            "mapping `message`: `message` holds no text (empty, null, a list or an object)",
            true,
        ),
        (
            json!({"message": "hello"}),
            "mapping `message`: `message` does not fit the pattern: hello",
            true,
        ),
    ];
    for (event, expected, tagged) in cases {
        let (out, lines) = logged(mapping.clone(), event.clone());
        assert_eq!(lines, [expected], "{event}");
        assert_eq!(out.get("tags").is_some(), tagged, "{out}");
    }
    let config = json!({"mapping": {"message": "%{a} %{b}"}, "convert_datatype": {"a": "int"}});
    let (out, lines) = logged(config, json!({"message": "x y"}));
    assert_eq!(out["tags"], json!(["_dataconversionuncoercible_a_int"]));
    assert_eq!(
        lines,
        [
            "Dissector datatype conversion, value cannot be coerced: `a` holds x; it is left as it is"
        ]
    );
    // A value of another kind is shown as JSON, a missing one said so.
    let config = json!({"convert_datatype": {"c": "int", "d": "float"}});
    let (out, lines) = logged(config, json!({"c": [1, 2]}));
    assert_eq!(
        out["tags"],
        json!([
            "_dataconversionuncoercible_c_int",
            "_dataconversionnullvalue_d_float"
        ])
    );
    assert_eq!(
        lines,
        [
            "Dissector datatype conversion, value cannot be coerced: `c` holds [1,2]; it is left as it is",
            "Dissector datatype conversion, value cannot be coerced: `d` holds nothing (null, or no such field); it is left as it is",
        ]
    );
}

#[test]
fn a_line_that_fits_logs_nothing() {
    let (out, lines) = logged(
        json!({"mapping": {"message": "%{a} %{b}"}}),
        json!({"message": "x y"}),
    );
    assert_eq!(out, json!({"message": "x y", "a": "x", "b": "y"}));
    assert!(lines.is_empty(), "{lines:?}");
}
