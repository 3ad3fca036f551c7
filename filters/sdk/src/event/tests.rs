//! The event's reads, writes and removals by field reference, its tags and
//! sprintf, and what goes out: untouched members byte for byte, and added
//! members only when nothing else changed.

use super::*;
use serde_json::json;

/// Which changes can go out as "members added" (ABI result `extended`):
/// only new top-level members, with every member the event came with
/// untouched. Reading does not count as touching.
#[test]
fn only_added_members_is_exactly_adding_new_top_level_fields() {
    let input = br#"{"message":"a \"b\"","n":1,"o":{"k":"v"}}"#;
    let added = |change: &dyn Fn(&mut Event)| {
        let mut event = Event::parse(input).unwrap();
        change(&mut event);
        let mut members = Vec::new();
        event.write_added_members(&mut members);
        (
            event.only_added_members(),
            String::from_utf8(members).unwrap(),
        )
    };
    assert_eq!(added(&|_| {}), (false, String::new()));
    assert_eq!(
        added(&|e| {
            e.get("o");
            e.get_str("message");
            e.set("[x][y]", 2);
            e.add_tag("t");
        }),
        (true, r#""x":{"y":2},"tags":["t"]"#.to_string())
    );
    assert!(added(&|e| e.insert_json("j", b"[1]".to_vec())).0);
    assert!(!added(&|e| e.set("n", 2)).0);
    assert!(!added(&|e| e.set("[o][k2]", 2)).0);
    assert!(!added(&|e| e.insert_json("n", b"2".to_vec())).0);
    assert!(
        !added(&|e| {
            e.get_mut("o");
            e.set("x", 1);
        })
        .0
    );
    assert!(
        !added(&|e| {
            e.remove("n");
            e.set("x", 1);
        })
        .0
    );
    assert!(
        !added(&|e| {
            e.remove("n");
            e.set("n", 1);
        })
        .0
    );
    assert!(
        !added(&|e| {
            e.set("x", 1);
            e.remove("x");
        })
        .0
    );
}

#[test]
fn untouched_fields_round_trip_byte_for_byte() {
    let input = br#"{"message":"a \u00e9 b","n":1.50,"o":{"x":[1, 2]}}"#;
    let mut event = Event::parse(input).unwrap();
    assert_eq!(event.get_str("message"), Some("a é b"));
    assert!(!event.is_changed());
    event.set("added", true);
    assert_eq!(
        event.to_json(),
        r#"{"message":"a \u00e9 b","n":1.50,"o":{"x":[1, 2]},"added":true}"#
    );
}

/// JSON has no NaN or infinity: such a float is set as null, not refused
/// and not written as text no JSON reader takes.
#[test]
fn a_float_that_is_not_finite_is_set_as_null() {
    let mut event = Event::parse(br#"{"message":"m"}"#).unwrap();
    event.set("nan", f64::NAN);
    event.set("[deep][inf]", f64::NEG_INFINITY);
    event.set("finite", 1.5);
    assert_eq!(
        event.to_json(),
        r#"{"message":"m","nan":null,"deep":{"inf":null},"finite":1.5}"#
    );
}

/// A nested change parses its top-level field, and writes it out again;
/// numbers the change did not touch keep their text (`1.50`, integers past
/// 64 bits, exponents; only an exponent's `E` comes out as `e`), so
/// their values reach Elasticsearch unchanged.
#[test]
fn nested_changes_keep_sibling_numbers_as_written() {
    let input = br#"{"o":{"price":1.50,"big":123456789012345678901234567890,"e":1E+2,"z":-0,"f":0.1000000000000000055511151231257827},"n":[1.0]}"#;
    let mut event = Event::parse(input).unwrap();
    event.set("[o][added]", 1);
    if let Some(Value::Array(items)) = event.get_mut("[n]") {
        items.push(json!(2));
    }
    assert_eq!(
        event.to_json(),
        r#"{"o":{"price":1.50,"big":123456789012345678901234567890,"e":1e+2,"z":-0,"f":0.1000000000000000055511151231257827,"added":1},"n":[1.0,2]}"#
    );
    assert_eq!(event.get("[o][price]").and_then(Value::as_f64), Some(1.5));
}

#[test]
fn inserted_json_is_written_as_is_and_readable() {
    let mut event = Event::parse(br#"{"a":1}"#).unwrap();
    event.insert_json("b", br#"{"c":[1,"x"]}"#.to_vec());
    event.insert_json("a", b"2".to_vec());
    assert!(event.is_changed());
    assert_eq!(event.get("[b][c][1]"), Some(&json!("x")));
    assert_eq!(event.to_json(), r#"{"a":2,"b":{"c":[1,"x"]}}"#);
}

#[test]
fn nested_references_get_set_and_remove() {
    let mut event =
        Event::parse(br#"{"http":{"response":{"status_code":200}},"a":[5,6]}"#).unwrap();
    assert_eq!(
        event.get("[http][response][status_code]"),
        Some(&json!(200))
    );
    assert_eq!(event.get("[a][1]"), Some(&json!(6)));
    event.set("[http][request][method]", "GET");
    event.set("[new][deep]", 1);
    assert_eq!(
        event.remove("[http][response]"),
        Some(json!({"status_code": 200}))
    );
    assert_eq!(event.remove("[http][missing]"), None);
    assert_eq!(event.remove("a"), Some(json!([5, 6])));
    assert_eq!(
        event.to_json(),
        r#"{"http":{"request":{"method":"GET"}},"new":{"deep":1}}"#
    );
}

/// A path through a list writes the member it names, as `get` reads it
/// and as Logstash writes it: negative indices count from the end, an
/// index past the end pads the list with nulls, and a key that is no index
/// leaves the list as it was (before, it became an object and lost its
/// members).
#[test]
fn a_path_through_a_list_sets_that_member() {
    let mut event = Event::parse(br#"{"a":[5,{"b":6}],"c":[1]}"#).unwrap();
    event.set("[a][0]", 50);
    event.set("[a][1][b]", 60);
    assert_eq!(event.get("[a]"), Some(&json!([50, {"b": 60}])));
    event.set("[c][3]", 2);
    assert_eq!(event.get("[c]"), Some(&json!([1, null, null, 2])));
    event.set("[c][-1]", 4);
    event.set("[c][-4]", 0);
    event.set("[c][5][d]", "new");
    assert_eq!(
        event.get("[c]"),
        Some(&json!([0, null, null, 4, null, {"d": "new"}]))
    );
    for untouched in ["[c][x]", "[c][-7]", "[c][x][y]", "[c][99999999999]"] {
        event.set(untouched, "lost?");
    }
    assert_eq!(
        event.get("[c]"),
        Some(&json!([0, null, null, 4, null, {"d": "new"}]))
    );
}

#[test]
fn negative_indices_read_and_remove_from_the_end() {
    let mut event = Event::parse(br#"{"a":[1,2,{"b":3}]}"#).unwrap();
    assert_eq!(event.get("[a][-1][b]"), Some(&json!(3)));
    assert_eq!(event.get("[a][-3]"), Some(&json!(1)));
    assert_eq!(event.get("[a][-4]"), None);
    assert_eq!(event.get("[a][3]"), None);
    assert_eq!(event.remove("[a][-2]"), Some(json!(2)));
    assert_eq!(event.remove("[a][-3]"), None);
    assert_eq!(event.to_json(), r#"{"a":[1,{"b":3}]}"#);
}

/// Logstash pads without a limit and exhausts its heap; a write that would
/// pad past the limit is not made, and the event fails with the reason.
#[test]
fn a_write_far_past_a_lists_end_fails_its_event_with_the_reason() {
    use crate::{Filter, NativeFilter, Outcome, Verdict};
    struct SetFarMember;
    impl Filter for SetFarMember {
        type Config = crate::NoConfig;
        fn new(_: crate::NoConfig) -> Result<Self, String> {
            Ok(SetFarMember)
        }
        fn process(&mut self, event: &mut Event) -> Verdict {
            let index = event.get_str("index").unwrap_or("0").to_owned();
            event.set(format!("[a][{index}]").as_str(), 1);
            event.set("done", true);
            Verdict::Keep
        }
    }
    let mut filter = NativeFilter::<SetFarMember>::new(b"{}").unwrap();
    let outcomes = filter.process_events(&[
        br#"{"a":[1],"index":"65537"}"#,
        br#"{"a":[1],"index":"2000000000"}"#,
    ]);
    let padded = outcomes[0].clone().into_value();
    assert_eq!(padded["a"].as_array().unwrap().len(), 65538);
    assert_eq!(
        outcomes[1],
        Outcome::Failed(
            "cannot set [a][2000000000]: member 2000000000 of a list of 1 would pad it \
             with 1999999999 nulls (at most 65536)"
                .into()
        )
    );
}

/// A reference from event data may be deeper than any event may nest:
/// the write fails the event, where building it (and freeing it) would
/// have exhausted the filter's stack.
#[test]
fn a_reference_deeper_than_an_event_nests_fails_the_event() {
    use crate::{Filter, NativeFilter, Outcome, Verdict};
    struct SetFromData;
    impl Filter for SetFromData {
        type Config = crate::NoConfig;
        fn new(_: crate::NoConfig) -> Result<Self, String> {
            Ok(SetFromData)
        }
        fn process(&mut self, event: &mut Event) -> Verdict {
            let field = event.get_str("field").unwrap_or("").to_owned();
            event.set(field.as_str(), 1);
            Verdict::Keep
        }
    }
    let mut filter = NativeFilter::<SetFromData>::new(b"{}").unwrap();
    let deep = format!(r#"{{"field":"{}"}}"#, "[a]".repeat(100_000));
    let fits = format!(
        r#"{{"field":"{}"}}"#,
        "[a]".repeat(crate::field_ref::MAX_SEGMENTS)
    );
    let one_more = format!(
        r#"{{"field":"{}"}}"#,
        "[a]".repeat(crate::field_ref::MAX_SEGMENTS + 1)
    );
    let outcomes = filter.process_events(&[deep.as_bytes(), fits.as_bytes(), one_more.as_bytes()]);
    assert_eq!(
        outcomes[0],
        Outcome::Failed(
            "cannot set [a][a][a][a]...: the reference has more than 127 segments, deeper than \
             an event may nest"
                .into()
        )
    );
    assert!(
        !matches!(outcomes[1], Outcome::Failed(_)),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2], outcomes[0]);
}

/// The same reads and changes, naming fields by text and by `FieldRef`,
/// give the same answers and the same event.
#[test]
fn field_refs_name_the_same_fields_as_text() {
    use crate::field_ref::FieldRef;
    let input = br#"{"http":{"response":{"status_code":200}},"a":[5,6],"[x":1}"#;
    let mut by_text = Event::parse(input).unwrap();
    let mut by_ref = Event::parse(input).unwrap();
    for text in ["[http][response][status_code]", "[a][1]", "[x", "missing"] {
        let field = FieldRef::new(text);
        assert_eq!(by_text.get(text), by_ref.get(&field), "{text}");
        assert_eq!(by_text.contains(text), by_ref.contains(&field), "{text}");
    }
    by_text.set("[http][request][method]", "GET");
    by_ref.set(&FieldRef::new("[http][request][method]"), "GET");
    let removed = by_text.remove("[http][response]");
    assert_eq!(by_ref.remove(&FieldRef::new("[http][response]")), removed);
    assert_eq!(by_text.to_json(), by_ref.to_json());
    assert_eq!(FieldRef::new("[a][b]").as_str(), "[a][b]");
}

#[test]
fn a_miss_does_not_mark_the_event_changed() {
    let mut event = Event::parse(br#"{"a":{"b":1}}"#).unwrap();
    assert_eq!(event.remove("[a][c]"), None);
    assert_eq!(event.remove("zzz"), None);
    assert!(!event.is_changed());
}

#[test]
fn tags_behave_like_logstash() {
    let mut event = Event::parse(br#"{"tags":"one"}"#).unwrap();
    event.add_tag("two");
    event.add_tag("two");
    assert_eq!(event.tags(), ["one", "two"]);
    event.remove_tag("one");
    assert!(!event.has_tag("one"));
    let mut fresh = Event::new();
    fresh.add_tag("x");
    assert_eq!(fresh.to_json(), r#"{"tags":["x"]}"#);
    // A `tags` Logstash would not accept is kept aside, not overwritten.
    for (tags, kept) in [
        (r#"{"a":1}"#, r#"[{"a":1}]"#),
        ("[1,2]", "[[1,2]]"),
        ("5", "[5]"),
    ] {
        let input = format!(r#"{{"tags":{tags}}}"#);
        let mut event = Event::parse(input.as_bytes()).unwrap();
        event.add_tag("x");
        assert_eq!(
            event.to_json(),
            format!(r#"{{"tags":["_tagsparsefailure","x"],"_tags":{kept}}}"#)
        );
    }
}

/// `add_tags` gives what `add_tag` one at a time gives, for every shape
/// `tags` can have, a list that repeats itself, and one that names the
/// tag the shape's repair adds.
#[test]
fn add_tags_is_add_tag_in_turn() {
    let lists: [&[&str]; 7] = [
        &["a", "b", "a"],
        &["a", "a"],
        &["a"],
        &["a", "b", "a", "c"],
        &["one", "b", "b"],
        &["_tagsparsefailure", "x", "_tagsparsefailure"],
        &["x", "_tagsparsefailure", "one"],
    ];
    for tags in [
        "",
        r#""tags":"one","#,
        r#""tags":["b","one"],"#,
        r#""tags":{"a":1},"#,
        r#""tags":null,"#,
        // Present in a list Logstash would not hold: the move comes later.
        r#""tags":["a",1],"#,
        r#""tags":["one",{"x":1}],"#,
        r#""tags":["a","b"],"#,
    ] {
        let input = format!(r#"{{{tags}"m":1}}"#);
        for list in lists {
            let mut batch = Event::parse(input.as_bytes()).unwrap();
            batch.add_tags(list);
            let mut in_turn = Event::parse(input.as_bytes()).unwrap();
            list.iter().for_each(|tag| in_turn.add_tag(tag));
            assert_eq!(batch.to_json(), in_turn.to_json(), "{input} {list:?}");
        }
    }
}

/// Logstash's `remove_tag` sets `Array(tags)` less the tag: a lone string
/// is a list afterwards, whether or not it was the tag removed; a missing
/// or null `tags` stays as it was.
#[test]
fn remove_tag_leaves_a_list_as_logstash_does() {
    for (tags, removed, left) in [
        (r#""b""#, "b", "[]"),
        (r#""a""#, "b", r#"["a"]"#),
        (r#"["a","b","b"]"#, "b", r#"["a"]"#),
        (r#"["a"]"#, "b", r#"["a"]"#),
        ("[]", "b", "[]"),
        ("null", "b", "null"),
        // Logstash's event never holds these as `tags`.
        ("5", "b", "5"),
        (r#"{"b":1}"#, "b", r#"{"b":1}"#),
    ] {
        let input = format!(r#"{{"x":1,"tags":{tags}}}"#);
        let mut event = Event::parse(input.as_bytes()).unwrap();
        event.remove_tag(removed);
        assert_eq!(
            event.to_json(),
            format!(r#"{{"x":1,"tags":{left}}}"#),
            "{tags}"
        );
    }
    let mut untagged = Event::parse(br#"{"x":1}"#).unwrap();
    untagged.remove_tag("b");
    assert_eq!(untagged.to_json(), r#"{"x":1}"#);
    assert!(!untagged.is_changed());
}

#[test]
fn sprintf_expands_known_fields_and_keeps_unknown_ones() {
    let event = Event::parse(br#"{"host":"web1","n":{"v":3}}"#).unwrap();
    assert_eq!(
        event.sprintf("%{host}:%{[n][v]} %{nope} %{"),
        "web1:3 %{nope} %{"
    );
}

#[test]
fn json_inserted_as_text_is_written_as_is_and_readable() {
    let mut event = Event::parse(br#"{"message":"m","n":1}"#).unwrap();
    event.insert_json("http", br#"{"version":"1.1","status":200}"#.to_vec());
    event.insert_json("n", b"2".to_vec());
    assert!(event.is_changed());
    assert_eq!(event.get("[http][status]"), Some(&json!(200)));
    assert_eq!(
        event.to_json(),
        r#"{"message":"m","n":2,"http":{"version":"1.1","status":200}}"#
    );
    event.set("[http][status]", 404);
    assert_eq!(
        event.to_json(),
        r#"{"message":"m","n":2,"http":{"version":"1.1","status":404}}"#
    );
}

#[test]
fn escaped_keys_are_decoded_for_lookup_and_kept_on_output() {
    let input = br#"{"a\"b":1}"#;
    let event = Event::parse(input).unwrap();
    assert_eq!(event.get("a\"b"), Some(&json!(1)));
    assert_eq!(event.to_json().as_bytes(), input);
}

/// Added fields are written into buffers handed from one event to the next;
/// nothing an earlier event wrote may show through in a later one.
#[test]
fn reused_field_buffers_start_empty() {
    let first = br#"{"message":"first"}"#;
    let second = br#"{"message":"second"}"#;
    let mut event = Event::parse(first).unwrap();
    event.insert_json_with("a_long_key_name", |json| {
        json.extend_from_slice(br#""a long value, longer than the next one""#)
    });
    event.set("[nested][deeper]", "x");
    let storage = event.into_storage();
    assert_eq!(storage.spare.json.len(), 1, "the inserted JSON is kept");
    assert_eq!(storage.spare.keys.len(), 2, "both added keys are kept");

    let mut event = Event::parse_into(second, None, storage).unwrap();
    event.insert_json_with("b", |json| {
        assert!(json.is_empty());
        assert!(json.capacity() > 0, "a kept buffer, not a new one");
        json.extend_from_slice(b"1")
    });
    event.set("c", 2);
    assert_eq!(
        event.to_json(),
        r#"{"message":"second","b":1,"c":2}"#,
        "keys and values carry nothing over from the first event"
    );
}

/// `contains` answers as Logstash's `event.include?`: a `null` member of an
/// object is there, a `null` member of a list is not.
#[test]
fn a_null_counts_as_present_in_an_object_but_not_in_a_list() {
    let event = Event::parse(br#"{"m":{"k":null},"l":[null,1],"n":null}"#).unwrap();
    let answers: Vec<bool> = [
        "[m][k]",
        "n",
        "[l][0]",
        "[l][-2]",
        "[l][1]",
        "[l][0][x]",
        "[l][2]",
    ]
    .iter()
    .map(|field| event.contains(*field))
    .collect();
    assert_eq!(answers, [true, true, false, false, true, false, false]);
}
