//! The memory bound in bytes: long keys, keys with many values and the
//! snapshot must stay within `max_state_mib` (README, "Memory bound"),
//! where a cap on the number of keys alone let an instance pass its limit.

use super::*;
use wasmstash_sdk::host::native_counters;

/// An event of `key` at `millis` with a value (a client address) and a
/// template id of its own, and a latency.
fn rich(key: &str, millis: i64, value: u64) -> Value {
    json!({
        "@timestamp": stamp(millis),
        "url": {"path": key},
        "event": {"duration": 1000 + value % 977},
        "source": {"address": format!("10.{}.{}.{}", value >> 16 & 255, value >> 8 & 255, value & 255)},
        "wasmstash": {"template": {"id": format!("{:016x}", value.wrapping_mul(2_654_435_761))}},
    })
}

fn all_five(extra: Value) -> Value {
    let mut config = json!({
        "key_field": "[url][path]",
        "rate": {}, "error_ratio": {},
        "value_outlier": {"field": "[event][duration]"},
        "rare_template": {},
        "new_value": {"field": "[source][address]", "warmup_events": 0},
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    config
}

/// The auditor's stream, shorter: distinct 5,000-byte URL paths. Every
/// detector kept its own copy of every key, and the snapshot three more:
/// 10,000 such keys took the instance past 64 MiB.
#[test]
fn long_keys_are_kept_short_and_the_snapshot_small() {
    let long = |i: i64| format!("/api/{i:06}/{}", "q".repeat(5000));
    let events: Vec<Value> = (0..2000)
        .map(|i| rich(&long(i), T0 + i * 1000, i as u64))
        .collect();
    let mut anomaly = filter(all_five(json!({})));
    let out = run(&mut anomaly, &events);
    let snapshot = anomaly.snapshot();
    // Four detectors' copies of 2,000 keys of 5,000 bytes are 40 MB.
    assert!(snapshot.len() < 2_000_000, "{} bytes", snapshot.len());
    // `new_value` flags each event's new address at once: its key is
    // reported as it is stored, its start and a hash of the whole.
    let key = out[7]["wasmstash"]["anomaly"]["key"].as_str().unwrap();
    assert!(key.len() <= 128, "{} bytes: {key}", key.len());
    assert!(key.starts_with("/api/000007/qqq"), "{key}");
    assert!(key.ends_with(&format!("…{:016x}", crate::keyed::hash_text(&long(7)))));
    // Restored, the same key is the same state: an address seen is not new.
    let mut restored = filter(all_five(json!({})));
    restored.restore(&snapshot).unwrap();
    let again = run(&mut restored, &[rich(&long(7), T0 + 2_000_000, 7)]);
    assert!(
        again[0]["wasmstash"].get("anomaly").is_none(),
        "{}",
        again[0]
    );
}

/// Few keys, every event a value never seen: the novelty detectors' values
/// and `value_outlier`'s seeds grow without a new key, so no count of keys
/// bounds them. The byte budget does, and evicts the keys seen longest ago.
#[test]
fn the_byte_budget_holds_however_many_values_keys_have() {
    let config = all_five(json!({
        "max_state_mib": 1,
        "value_outlier": {"field": "[event][duration]", "warmup_values": 10_000},
        "new_value": {"field": "[source][address]"},
    }));
    let events: Vec<Value> = (0..60_000)
        .map(|i| rich(&format!("svc-{}", i % 50), T0 + i * 20, i as u64))
        .collect();
    native_counters::take();
    let mut anomaly = filter(config);
    for chunk in events.chunks(5000) {
        run(&mut anomaly, chunk);
        assert!(anomaly.filter().state_bytes() <= 1 << 20);
        // The snapshot is charged four times over (`charge.rs`).
        let snapshot = anomaly.snapshot().len();
        assert!(snapshot <= (1 << 20) / 4, "{snapshot} bytes");
    }
    let counters = native_counters::take();
    assert!(counters["evicted_keys"] > 0, "{counters:?}");
}

/// Evicting by bytes depends on the state alone, so an instance restored
/// from a checkpoint evicts exactly what the one that took it would have
/// (the host's replay after a failure relies on it).
#[test]
fn eviction_by_bytes_is_the_same_after_a_restore() {
    let config = all_five(json!({"max_state_mib": 1}));
    let events: Vec<Value> = (0..12_000)
        .map(|i| {
            let key = format!("/k{}/{}", i % 300, "x".repeat(((i % 7) * 60) as usize));
            rich(&key, T0 + i * 250, (i % 911) as u64)
        })
        .collect();
    let expected = run(&mut filter(config.clone()), &events);
    for cut in [1000, 5000, 9000] {
        let mut first = filter(config.clone());
        let mut got = run(&mut first, &events[..cut]);
        let mut second = filter(config.clone());
        second.restore(&first.snapshot()).unwrap();
        assert_eq!(
            second.filter().state_bytes(),
            first.filter().state_bytes(),
            "cut at {cut}"
        );
        got.extend(run(&mut second, &events[cut..]));
        assert_eq!(got, expected, "cut at {cut}");
    }
}

/// A smaller budget on restore evicts at once.
#[test]
fn a_smaller_budget_on_restore_evicts() {
    let events: Vec<Value> = (0..20_000)
        .map(|i| rich(&format!("k{}", i % 2000), T0 + i * 100, i as u64))
        .collect();
    let mut big = filter(all_five(json!({})));
    run(&mut big, &events);
    assert!(big.filter().state_bytes() > 1 << 20);
    let mut small = filter(all_five(json!({"max_state_mib": 1})));
    small.restore(&big.snapshot()).unwrap();
    assert!(small.filter().state_bytes() <= 1 << 20);
}

/// A smaller `max_pending_findings` on restore drops the oldest findings
/// queued, as a full queue does.
#[test]
fn a_smaller_pending_queue_on_restore_keeps_the_newest() {
    let mut before = filter(all_five(json!({})));
    let mut state = crate::snapshot::decode(&before.snapshot()).unwrap();
    state.pending = (0..50)
        .map(|i| crate::finding::Finding {
            detector: crate::finding::Detector::Rate,
            key_field: "[service][name]".into(),
            key: format!("k{i}"),
            score: 0.5,
            observed: crate::finding::Measure::Number(0.0),
            expected: crate::finding::Measure::Number(1.0),
            reason: "silent".into(),
        })
        .collect();
    before
        .restore(&crate::snapshot::encode_whole(&state))
        .unwrap();
    assert_eq!(before.filter().pending.len(), 50);
    let mut after = filter(all_five(json!({"max_pending_findings": 10})));
    after
        .restore(&crate::snapshot::encode_whole(&state))
        .unwrap();
    let keys: Vec<&str> = after
        .filter()
        .pending
        .iter()
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(keys, (40..50).map(|i| format!("k{i}")).collect::<Vec<_>>());
}

/// The snapshot is written part by part into one buffer, and is byte for
/// byte the encoding of the whole state, which restores read.
#[test]
fn the_snapshot_written_in_place_is_the_encoded_state() {
    let events: Vec<Value> = (0..3000)
        .map(|i| rich(&format!("k{}", i % 40), T0 + i * 1000, (i % 13) as u64))
        .collect();
    let mut anomaly = filter(all_five(json!({})));
    run(&mut anomaly, &events);
    let bytes = anomaly.snapshot();
    let state = crate::snapshot::decode(&bytes).unwrap();
    assert_eq!(state.parts.len(), 4);
    assert_eq!(crate::snapshot::encode_whole(&state), bytes);
}

#[test]
fn max_state_mib_is_checked() {
    for bad in [0, 4097] {
        let config = json!({"rate": {}, "max_state_mib": bad});
        let err = NativeFilter::<Anomaly>::new(config.to_string().as_bytes())
            .err()
            .unwrap();
        assert!(
            err.contains("max_state_mib must be between 1 and 4096"),
            "{err}"
        );
    }
    let config = json!({"rate": {}, "max_state_mib": 4096});
    assert!(NativeFilter::<Anomaly>::new(config.to_string().as_bytes()).is_ok());
}
