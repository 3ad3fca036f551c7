//! The digest against sampled batches: what it keeps, masked, and how it
//! stays bounded.

use super::*;
use axum::body::Bytes;

fn batch(lines: &[Value]) -> Sample {
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    Sample {
        pipeline: "app".into(),
        kind: BodyKind::Batch,
        body: Bytes::from(body),
    }
}

/// What a page is sent stays small whatever the events: one too large
/// to keep is shown as a note of its size (its template still counted),
/// and a long template text is cut.
#[test]
fn large_events_and_long_templates_are_kept_small() {
    let mut digest = Digest::new(&[]);
    let big = "x".repeat(KEPT_EVENT_BYTES);
    let long_text = "word ".repeat(TEMPLATE_TEXT_CHARS);
    let huge = json!({"event": {"message": big, "tags": ["anomaly"],
        "wasmstash": {"template": {"id": "00000000000000bb", "text": "t <*>", "new": true}}}});
    let long = json!({"event": {"message": "m",
        "wasmstash": {"template": {"id": "00000000000000cc", "text": long_text, "new": true}}}});
    digest.add(&batch(&[huge, long]), 7);
    let frame = digest.frame(true);
    let note = |item: &Value| item[OMITTED]["omitted"].as_str().map(str::to_owned);
    let shown = note(&frame["tail"]["app"][0]["event"]).unwrap();
    assert!(shown.starts_with("an event of 16"), "{shown}");
    assert!(note(&frame["anomalies"][0]["event"]).is_some(), "{frame}");
    // The big event alone is larger than all that is sent.
    assert!(
        frame.to_string().len() < KEPT_EVENT_BYTES,
        "{} bytes",
        frame.to_string().len()
    );
    let top = frame["templates"]["top"].as_array().unwrap();
    let text_of = |id: &str| {
        let found = top.iter().find(|t| t["id"] == id).unwrap();
        found["text"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        text_of("00000000000000bb"),
        "(its event was too large for the live view)"
    );
    let cut = text_of("00000000000000cc");
    assert_eq!(cut.chars().count(), TEMPLATE_TEXT_CHARS + 1);
    assert!(cut.ends_with('…'), "{cut}");

    // Tags and ids are keys the events choose: a long tag is counted
    // cut, and an id no templates filter writes is not counted.
    let long_tag = format!("_{}", "y".repeat(10 * TAG_CHARS));
    let odd_id = "9".repeat(10 * TEMPLATE_ID_BYTES);
    let keyed = json!({"event": {"message": "m", "tags": [long_tag],
        "wasmstash": {"template": {"id": odd_id, "text": "t", "new": false}}}});
    digest.add(&batch(&[keyed]), 8);
    let frame = digest.frame(true);
    let tag = frame["failures"][0]["tag"].as_str().unwrap();
    assert_eq!(tag.chars().count(), TAG_CHARS + 1, "{tag}");
    let top = frame["templates"]["top"].as_array().unwrap();
    assert!(top.iter().all(|t| t["id"] != odd_id.as_str()), "{top:?}");
}

#[test]
fn keeps_failures_anomalies_and_templates_masked() {
    let mut digest = Digest::new(&["[user][name]".into(), "[source][address]".into()]);
    let anomaly = json!({"event": {
        "message": "login failed for bob from 10.0.0.7",
        "user": {"name": "bob"},
        "source": {"address": "10.0.0.7"},
        "tags": ["anomaly"],
        "wasmstash": {"anomaly": {"score": 0.8, "detectors": ["rate"], "key": "10.0.0.7",
            "key_field": "source.address", "reason": "10.0.0.7 sent 50 events/s, expected 2"},
            "template": {"id": "00000000000000aa", "text": "login failed for <*> from <*>", "new": true}}}});
    let failed = json!({"event": {"message": "x", "tags": ["_jsonparsefailure"],
        "wasmstash": {"template": {"id": "00000000000000aa", "text": "login failed for <*> from <*>", "new": false}}}});
    digest.add(
        &batch(&[
            anomaly,
            json!({"dropped": true}),
            failed,
            json!({"error": "line 4"}),
        ]),
        7,
    );
    let frame = digest.frame(true);
    assert_eq!(frame["sampled_events"], 2);
    let flagged = &frame["anomalies"][0]["event"];
    assert_eq!(flagged["user"]["name"], "***");
    assert_eq!(flagged["source"]["address"], "***");
    assert_eq!(flagged["wasmstash"]["anomaly"]["key"], "***");
    assert_eq!(
        flagged["wasmstash"]["anomaly"]["reason"],
        "*** sent 50 events/s, expected 2"
    );
    assert!(!frame.to_string().contains("10.0.0.7"), "{frame}");
    assert!(!frame.to_string().contains("\"bob\""), "{frame}");
    assert_eq!(frame["failures"][0]["tag"], "_jsonparsefailure");
    assert_eq!(frame["failures"][0]["sampled"], 1);
    assert_eq!(frame["templates"]["top"][0]["count"], 2);
    assert_eq!(frame["templates"]["new"].as_array().unwrap().len(), 1);
    assert_eq!(frame["tail"]["app"].as_array().unwrap().len(), 2);

    // Once sent, an update carries only what is new.
    digest.mark_sent();
    let update = digest.frame(false);
    assert!(update["tail"]["app"].as_array().unwrap().is_empty());
    assert!(update["anomalies"].as_array().unwrap().is_empty());
    assert_eq!(update["failures"][0]["sampled"], 1);
    // A failure sample already sent is not sent again.
    assert!(
        update["failures"][0]["samples"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_full_failures_panel_makes_room_for_new_tags_by_the_one_seen_longest_ago() {
    let mut digest = Digest::new(&[]);
    let failed = |tag: &str| json!({"event": {"message": "x", "tags": [tag]}});
    let first: Vec<Value> = (0..FAILURE_TAGS)
        .map(|i| failed(&format!("_old{i}")))
        .collect();
    digest.add(&batch(&first), 1);
    // `_old0` is seen again, so `_old1` is now the one seen longest ago.
    digest.add(&batch(&[failed("_old0"), failed("_new")]), 2);
    let frame = digest.frame(true);
    let tags: Vec<&str> = (frame["failures"].as_array().unwrap().iter())
        .map(|f| f["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags.len(), FAILURE_TAGS);
    assert!(tags.contains(&"_new"), "{tags:?}");
    assert!(tags.contains(&"_old0"), "{tags:?}");
    assert!(!tags.contains(&"_old1"), "{tags:?}");
    let new = (frame["failures"].as_array().unwrap().iter())
        .find(|f| f["tag"] == "_new")
        .unwrap();
    assert_eq!(new["sampled"], 1);
    assert_eq!(new["samples"].as_array().unwrap().len(), 1);
}

/// A failure tag that quotes a masked value (`add_tag` with
/// `%{[user][name]}`) is counted under the masked event's tag.
#[test]
fn a_failure_tag_quoting_a_masked_value_is_counted_masked() {
    let mut digest = Digest::new(&["[user][name]".into()]);
    let failed = json!({"event": {"message": "login failed", "user": {"name": "carol.private"},
        "tags": ["_login_failed_carol.private"]}});
    digest.add(&batch(&[failed]), 1);
    let frame = digest.frame(true);
    assert_eq!(frame["failures"][0]["tag"], "_login_failed_***");
    assert!(!frame.to_string().contains("carol.private"), "{frame}");
}

#[test]
fn an_anomaly_key_from_a_masked_field_is_masked_in_either_spelling() {
    let mut digest = Digest::new(&["[service][name]".into()]);
    let flagged = json!({"event": {"service": {"name": "checkout"}, "tags": ["anomaly"],
        "wasmstash": {"anomaly": {"key": "checkout", "key_field": "[service][name]",
            "reason": "rate of checkout went silent",
            "findings": [{"key": "checkout", "reason": "rate of checkout went silent"}]}}}});
    digest.add(&batch(&[flagged]), 1);
    let frame = digest.frame(true).to_string();
    assert!(!frame.contains("checkout"), "{frame}");
    assert!(frame.contains("rate of *** went silent"), "{frame}");
}

/// The panel of top templates shows a template as the event's masked
/// template says it: mined from a masked `message`, not at all.
#[test]
fn the_top_templates_of_a_masked_message_are_masked() {
    let mut digest = Digest::new(&["message".into()]);
    let line = json!({"event": {"message": "Failed password for alice from 10.0.0.1",
        "wasmstash": {"template": {"id": "b2", "new": true,
            "text": "Failed password for alice from <*>", "params": ["10.0.0.1"]}}}});
    digest.add(&batch(&[line]), 1);
    let frame = digest.frame(true);
    assert_eq!(frame["templates"]["top"][0]["text"], MASK);
    assert!(!frame.to_string().contains("alice"), "{frame}");
}

#[test]
fn a_reload_forgets_the_tails_of_pipelines_it_removed() {
    let mut digest = Digest::new(&[]);
    digest.add(&batch(&[json!({"event": {"message": "m"}})]), 7);
    assert_eq!(
        digest.frame(true)["tail"]["app"].as_array().unwrap().len(),
        1
    );
    digest.keep_tails_of(&["app".to_owned()]);
    assert_eq!(
        digest.frame(true)["tail"]["app"].as_array().unwrap().len(),
        1
    );
    digest.keep_tails_of(&["other".to_owned()]);
    assert!(digest.frame(true)["tail"].as_object().unwrap().is_empty());
}

#[test]
fn tails_stay_bounded() {
    let mut digest = Digest::new(&[]);
    let lines: Vec<Value> = (0..500).map(|i| json!({"event": {"message": i}})).collect();
    digest.add(&batch(&lines), 1);
    let frame = digest.frame(true);
    let tail = frame["tail"]["app"].as_array().unwrap();
    assert_eq!(tail.len(), TAIL);
    assert_eq!(tail.last().unwrap()["event"]["message"], 499);
    assert_eq!(
        digest.frame(false)["tail"]["app"].as_array().unwrap().len(),
        TAIL_PER_UPDATE
    );
}
