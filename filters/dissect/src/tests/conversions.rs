//! When `convert_datatype` runs: after every mapping and the common options
//! each that fits runs, as Logstash's JavaDissectorLibrary does
//! (`invokeDissection`, then `invokeConversions`), however many mappings
//! there are. Converting as fields are written is only a shortcut, taken
//! where nothing in between could see the difference.

use super::*;

/// The same config with one mapping and with a second one that does not
/// apply (its source is missing) gives the same event.
fn one_and_two_mappings(config: Value, event: Value) -> Value {
    let one = dissect(config.clone(), event.clone());
    let mut two = config;
    two["mapping"]["absent"] = json!("%{x} %{y}");
    assert_eq!(dissect(two, event), one);
    one
}

#[test]
fn the_common_options_see_the_text_before_it_is_converted() {
    let config = |common: Value| {
        let mut config = json!({"mapping": {"message": "%{code} %{b}"},
                                "convert_datatype": {"code": "int"}});
        config
            .as_object_mut()
            .unwrap()
            .extend(common.as_object().unwrap().clone());
        config
    };
    let event = json!({"message": "00000001 x"});
    let out = one_and_two_mappings(
        config(json!({"add_field": {"copy": "%{code}"}})),
        event.clone(),
    );
    assert_eq!(
        (&out["copy"], &out["code"]),
        (&json!("00000001"), &json!(1))
    );
    let out = one_and_two_mappings(config(json!({"add_tag": ["c-%{code}"]})), event.clone());
    assert_eq!(out["tags"], json!(["c-00000001"]));
    // Removed before the conversion pass, which then finds nothing.
    let out = one_and_two_mappings(config(json!({"remove_field": ["code"]})), event.clone());
    assert_eq!(out["code"], Value::Null);
    assert_eq!(out["tags"], json!(["_dataconversionnullvalue_code_int"]));
    // Added to, it is a list, which does not convert.
    let out = one_and_two_mappings(config(json!({"add_field": {"code": "5"}})), event);
    assert_eq!(out["code"], json!(["00000001", "5"]));
    assert_eq!(out["tags"], json!(["_dataconversionuncoercible_code_int"]));
}

#[test]
fn an_indirect_field_sees_the_text_and_may_overwrite_a_converted_field() {
    let config = json!({"mapping": {"message": "%{code} %{&code}"},
                        "convert_datatype": {"code": "int"}});
    let out = one_and_two_mappings(config, json!({"message": "0001 v"}));
    assert_eq!(out, json!({"message": "0001 v", "code": 1, "0001": "v"}));
    let config = json!({"mapping": {"message": "%{code} %{?k} %{&k}"},
                        "convert_datatype": {"code": "int"}});
    let out = one_and_two_mappings(config, json!({"message": "0001 code 0002"}));
    assert_eq!(out["code"], 2);
}

#[test]
fn a_converted_key_the_pattern_overwrites_is_converted_afterwards() {
    // `a` replaces the object `[a][b]` was written in: the conversion pass
    // finds no `[a][b]`.
    let config = json!({"mapping": {"message": "%{[a][b]} %{a}"},
                        "convert_datatype": {"[a][b]": "int"}});
    let out = one_and_two_mappings(config, json!({"message": "1 x"}));
    assert_eq!(
        out,
        json!({"message": "1 x", "a": "x", "tags": ["_dataconversionnullvalue_[a][b]_int"]})
    );
}

#[test]
fn datatypes_are_read_in_any_case_and_tags_spell_them_as_written() {
    let out = dissect(
        json!({"mapping": {"message": "%{a} %{b} %{c}"},
               "convert_datatype": {"a": "INT", "b": "Float", "c": "iNt"}}),
        json!({"message": "7 2.5 x"}),
    );
    assert_eq!(
        out,
        json!({"message": "7 2.5 x", "a": 7, "b": 2.5, "c": "x",
               "tags": ["_dataconversionuncoercible_c_iNt"]})
    );
    let error = init_error(json!({"convert_datatype": {"a": "integer"}}));
    assert!(error.contains("unknown datatype \"integer\""), "{error}");
}
