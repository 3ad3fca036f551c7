//! `recursive` and `max_depth`: how deep values are read, and what happens
//! at the limit.

use super::*;
use wasmstash_sdk::json_text;

fn access_log() -> String {
    let path = wasmstash_sdk::crate_dir!()
        .join("../../../shared/data/access/apache_logs")
        .display()
        .to_string();
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("test data missing: {path}: {e} (see ../shared/data/README.md)"))
}

/// A value with pairs below `max_depth` stays text, as `max_keys` keeps
/// what fit, and the event is tagged: Logstash would have nested it.
#[test]
fn hitting_max_depth_tags_the_event() {
    let config = json!({"recursive": true, "max_depth": 2, "add_tag": ["ok"]});
    assert_eq!(
        pairs(config.clone(), "a=b=c=d=e"),
        json!({"a": {"b": {"c": "d=e"}}, "tags": ["ok", "_kv_filter_error"]})
    );
    // Text without a pair there is no failure: Ruby keeps it as text too.
    assert_eq!(
        pairs(config.clone(), "a=b=c=d"),
        json!({"a": {"b": {"c": "d"}}, "tags": ["ok"]})
    );
    assert_eq!(
        pairs(config, "a=b=c=d="),
        json!({"a": {"b": {"c": "d="}}, "tags": ["ok"]})
    );
    // Nor is a pair there that include_keys leaves out.
    let config = json!({"recursive": true, "max_depth": 1, "include_keys": ["a", "b"]});
    assert_eq!(pairs(config, "a=b=c=d"), json!({"a": {"b": "c=d"}}));
}

/// Google referrers in the access log are query strings without spaces:
/// `recursive` reads `url?sa=t&rct=j&q=...` one `=` per level, 21 objects
/// deep at most, which Logstash's kv nests in full. The default reaches it.
#[test]
fn real_query_strings_nest_within_the_default_max_depth() {
    let mut deepest = 0;
    let mut nested = 0;
    for line in access_log().lines() {
        let out = pairs(json!({"recursive": true}), line);
        assert!(out.get("tags").is_none(), "{line}");
        let depth = json_text::nesting(&out);
        deepest = deepest.max(depth);
        nested += usize::from(depth > 9);
    }
    assert_eq!((deepest, nested), (21, 268));
}

#[test]
fn a_chain_deeper_than_max_depth_is_read_in_bounded_time() {
    // Each level scans the rest of the text again: 64 levels of 256 KiB.
    let line = "a=".repeat(128 << 10);
    let out = pairs(json!({"recursive": true}), &line);
    assert_eq!(json_text::nesting(&out), 65);
    assert_eq!(out["tags"], json!(["_kv_filter_error"]));
}
