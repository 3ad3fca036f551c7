//! The coercions against what Logstash's `validate_value` makes of the same
//! values, through `WithCommon`, as a filter reads its options.

use serde::Deserialize;

use crate::json;
use crate::logstash::common::{EcsCompatibility, WithCommon};

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    flag: bool,
    #[serde(default)]
    count: u64,
    #[serde(default)]
    offset: i32,
    #[serde(default)]
    ratio: f64,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    mode: Option<EcsCompatibility>,
    #[serde(default)]
    list: Vec<String>,
    #[serde(default)]
    table: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    inner: Option<Inner>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Inner {
    counts: Vec<u64>,
}

fn read(config: serde_json::Value) -> Result<Options, String> {
    serde_json::from_value::<WithCommon<Options>>(config)
        .map(|c| c.options)
        .map_err(|e| e.to_string())
}

#[test]
fn text_that_logstash_reads_as_a_boolean_is_one() {
    assert!(read(json!({"flag": "true"})).unwrap().flag);
    assert!(!read(json!({"flag": "false"})).unwrap().flag);
    assert!(read(json!({"flag": true})).unwrap().flag);
    assert!(read(json!({"flag": ["true"]})).unwrap().flag);
    // Ruby's `^` and `$` match at every line, so Logstash passes text with
    // a line `true` or `false`, and then compares the whole with "true".
    assert!(!read(json!({"flag": "true\nmore"})).unwrap().flag);
    for refused in ["TRUE", "yes", "1", " true", "true "] {
        assert_eq!(
            read(json!({ "flag": refused })).unwrap_err(),
            format!("flag: invalid type: string {refused:?}, expected true or false"),
        );
    }
    assert_eq!(
        read(json!({"flag": ["true", "false"]})).unwrap_err(),
        "flag: invalid type: a list, expected true or false"
    );
    // `[*value]` unwraps one list, not two.
    assert_eq!(
        read(json!({"flag": [["true"]]})).unwrap_err(),
        "flag: invalid type: a list, expected true or false"
    );
}

#[test]
fn text_that_ruby_writes_back_unchanged_is_a_number() {
    let options = read(json!({"count": "5000", "offset": "-3", "ratio": "1.5", "limit": "7"}));
    let options = options.unwrap();
    assert_eq!((options.count, options.offset), (5000, -3));
    assert_eq!((options.ratio, options.limit), (1.5, Some(7)));
    // Ruby writes 1e20 as 1.0e+20, so that text is a float.
    assert_eq!(read(json!({"ratio": "1.0e+20"})).unwrap().ratio, 1e20);
    assert_eq!(read(json!({"ratio": "2"})).unwrap().ratio, 2.0);
    assert_eq!(read(json!({"count": ["12"]})).unwrap().count, 12);
    assert_eq!(read(json!({"count": [12]})).unwrap().count, 12);
    // `to_i` and `to_f` read a prefix; Logstash takes the text only when
    // one of them writes it back as it was.
    for refused in [
        "05000", "+5", "1e3", "5000 ", "5k", "", "-0", "Infinity", "1.50",
    ] {
        assert_eq!(
            read(json!({ "ratio": refused })).unwrap_err(),
            format!("ratio: invalid type: string {refused:?}, expected a number"),
        );
    }
    // Text with a point is a float. One with no fraction serves where a
    // whole number is wanted, as Logstash's 5000.0 does; 1.5 does not.
    assert_eq!(read(json!({"count": "5000.0"})).unwrap().count, 5000);
    assert_eq!(read(json!({"count": 5000.0})).unwrap().count, 5000);
    assert_eq!(read(json!({"limit": "0.0"})).unwrap().limit, Some(0));
    assert_eq!(
        read(json!({"count": "1.5"})).unwrap_err(),
        "count: invalid type: floating point `1.5`, expected a whole number ≥ 0"
    );
    assert_eq!(
        read(json!({"count": [["5000"]]})).unwrap_err(),
        "count: invalid type: a list, expected a whole number ≥ 0"
    );
    assert_eq!(
        read(json!({"count": "-1"})).unwrap_err(),
        "count: invalid value: integer `-1`, expected a whole number ≥ 0"
    );
    assert_eq!(
        read(json!({"offset": "99999999999999999999"})).unwrap_err(),
        "offset: invalid type: string \"99999999999999999999\", expected a whole number from -2147483648 to 2147483647"
    );
}

#[test]
fn a_list_of_one_value_is_that_value() {
    let options = read(json!({"name": ["x"], "target": ["t"], "mode": ["v1"]})).unwrap();
    assert_eq!(options.name, "x");
    assert_eq!(options.target.as_deref(), Some("t"));
    assert_eq!(options.mode, Some(EcsCompatibility::V1));
    assert_eq!(
        read(json!({"name": ["x", "y"]})).unwrap_err(),
        "name: invalid type: a list, expected a string"
    );
    assert!(
        (read(json!({"mode": [["v1"]]})).unwrap_err()).starts_with("mode: invalid type: sequence")
    );
}

#[test]
fn nothing_inside_a_list_or_a_table_is_turned() {
    let options = read(json!({"list": ["true", "5"], "table": {"a": "5", "b": ["x"]}})).unwrap();
    assert_eq!(options.list, ["true", "5"]);
    assert_eq!(
        options.table,
        *json!({"a": "5", "b": ["x"]}).as_object().unwrap()
    );
    // A list option is read as written: no text becomes a list of one here
    // (the filters that take one or many say so with `common::fields`).
    assert_eq!(
        read(json!({"list": "x"})).unwrap_err(),
        "list: invalid type: string \"x\", expected a list"
    );
}

/// A number where it does not belong says what number it is, at any depth,
/// and a number kept as a `Value` keeps the digits it was written with.
#[test]
fn wrong_numbers_are_named_and_kept_numbers_unchanged() {
    assert_eq!(
        read(json!({"name": 5})).unwrap_err(),
        "name: invalid type: integer `5`, expected a string"
    );
    assert_eq!(
        read(json!({"list": ["a", 5]})).unwrap_err(),
        "list[1]: invalid type: integer `5`, expected a string"
    );
    assert_eq!(
        read(json!({"inner": {"counts": [1, -1]}})).unwrap_err(),
        "inner.counts[1]: invalid value: integer `-1`, expected a whole number ≥ 0"
    );
    let table: serde_json::Value = serde_json::from_str(r#"{"table": {"n": 1.50}}"#).unwrap();
    assert_eq!(read(table).unwrap().table["n"].to_string(), "1.50");
}

#[test]
fn unknown_and_missing_options_are_still_errors() {
    assert!(
        read(json!({"nope": 1}))
            .unwrap_err()
            .starts_with("unknown field `nope`")
    );
    assert_eq!(
        read(json!({})).unwrap(),
        read(json!({"flag": "false"})).unwrap()
    );
}
