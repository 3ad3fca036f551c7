//! Tests of the miner's bounds: pathological lines end, the state stays
//! within its byte budget, and a leaf full of unrelated templates is not
//! compared with the line one template at a time.

use super::*;

/// A small deterministic generator, so the streams are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn word(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| (b'a' + (self.next() % 26) as u8) as char)
            .collect()
    }
}

#[test]
fn a_long_line_ending_in_unicode_whitespace_ends_in_one_wildcard() {
    let words: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
    let line = format!("{}\u{a0}", words.join(" "));
    let mut miner = Miner::new(Config::default()).unwrap();
    let found = miner.add(&line);
    assert!(found.text().ends_with(" <*>"), "{}", found.text());
    let mut params = Vec::new();
    found.params(&mut params);
    assert!(params.last().unwrap().ends_with("w199\u{a0}"), "{params:?}");
}

/// The reviewer's `uniq_long` stream: three random words and one random
/// 3,000-letter word per line. Under the default settings the snapshot must
/// stay far below the engine's default 64 MiB.
#[test]
fn long_unique_tokens_do_not_grow_the_state() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut miner = Miner::new(Config::default()).unwrap();
    for _ in 0..20_000 {
        let line = format!(
            "{} {} {} {}",
            rng.word(6),
            rng.word(7),
            rng.word(5),
            rng.word(3000)
        );
        miner.add(&line);
    }
    let snapshot = miner.snapshot();
    assert!(
        snapshot.len() < 4 << 20,
        "snapshot of {} bytes",
        snapshot.len()
    );
}

/// Lines of `max_tokens` unique tokens, each within the token length bound:
/// only the byte budget can keep this table small, whatever `max_templates`.
#[test]
fn the_state_stays_within_its_byte_budget() {
    let config = Config {
        max_templates: 1_000_000,
        ..Config::default()
    };
    let mut rng = Rng(7);
    let mut miner = Miner::new(config).unwrap();
    let mut largest = 0;
    for i in 0..1500 {
        let words: Vec<String> = (0..128).map(|_| rng.word(150)).collect();
        miner.add(&words.join(" "));
        if i % 100 == 99 {
            largest = largest.max(miner.snapshot().len());
        }
    }
    assert!(largest <= 16 << 20, "snapshot of {largest} bytes");
}

#[test]
fn unique_lines_are_not_compared_with_every_template() {
    let mut rng = Rng(42);
    let mut miner = Miner::new(Config::default()).unwrap();
    let lines = 5000;
    for _ in 0..lines {
        let line: Vec<String> = (0..4).map(|_| rng.word(8)).collect();
        miner.add(&line.join(" "));
    }
    let compared = miner.compared.get();
    assert!(
        compared < 2 * lines,
        "{compared} full comparisons for {lines} lines"
    );
}

/// Skipping templates by fingerprint changes nothing: the same stream mined
/// with every template compared gives the same templates, ids and flags.
#[test]
fn skipping_templates_changes_no_result() {
    let mut rng = Rng(3);
    let verbs = ["opened", "closed", "failed", "took", "sent"];
    let lines: Vec<String> = (0..4000)
        .map(|i| match rng.next() % 4 {
            0 => format!("session {} for user {} {}", verbs[i % 5], rng.word(3), i),
            1 => format!(
                "{} {} {} {}",
                rng.word(5),
                rng.word(2),
                rng.word(1),
                rng.word(5)
            ),
            2 => format!("job=<*> {} in {} ms", verbs[(i / 3) % 5], i),
            _ => format!("{} user={}", rng.word(1), rng.word(1)),
        })
        .collect();
    for threshold in [0.7, 0.4, 1.0] {
        let config = Config {
            similarity_threshold: threshold,
            // Most lines under `<*>` nodes: leaves of unrelated templates.
            max_children: 2,
            max_templates: 300,
            ..Config::default()
        };
        let mut fast = Miner::new(config.clone()).unwrap();
        let mut full = Miner::new(config).unwrap();
        full.exhaustive = true;
        for line in &lines {
            let a = fast.add(line);
            let a = (a.slot(), a.id(), a.new);
            let b = full.add(line);
            assert_eq!(a, (b.slot(), b.id(), b.new), "{line}");
        }
        let (fast, full) = (fast.compared.get(), full.compared.get());
        assert!(fast < full, "{fast} comparisons, {full} without skipping");
    }
}

/// The auditor's stream: lines of 120 words of 200 control characters,
/// each six bytes in the JSON snapshot. The charge covered the snapshot
/// once, but up to three are held at once (the one being written, the one
/// the SDK keeps from before, the holes of earlier ones): the instance went
/// to 66 to 75 MiB and its checkpoints failed.
#[test]
fn control_characters_are_charged_for_every_snapshot_held() {
    let mut rng = Rng(13);
    let mut miner = Miner::new(Config::default()).unwrap();
    for i in 0..300 {
        let words: Vec<String> = (0..120)
            .map(|_| {
                (0..200)
                    .map(|_| char::from(1 + (rng.next() % 8) as u8))
                    .collect()
            })
            .collect();
        miner.add(&words.join(" "));
        if i % 50 == 49 {
            let snapshot = miner.snapshot().len() as u64;
            assert!(3 * snapshot < miner.bytes, "line {i}");
            assert!(miner.bytes <= miner.byte_budget(), "line {i}");
        }
    }
}

/// The running charge equals a recount from scratch after creations,
/// generalisations and evictions, and bounds the snapshot, also for tokens
/// that JSON escapes at six times their size.
#[test]
fn the_charge_is_kept_exactly_and_covers_the_snapshot() {
    let config = Config {
        max_state_mib: 1,
        max_tokens: 16,
        ..Config::default()
    };
    let mut rng = Rng(11);
    let mut miner = Miner::new(config).unwrap();
    for i in 0..3000 {
        let escapes = "\u{1}\"\\".repeat(i % 60);
        let words: Vec<String> = (0..(2 + i % 12))
            .map(|k| match k % 3 {
                0 => format!("{}{escapes}", rng.word(4)),
                1 => format!("k{}", k),
                _ => rng.word(1 + i % 40),
            })
            .collect();
        miner.add(&words.join(" "));
        if i % 250 == 0 {
            let running = miner.bytes;
            miner.recount_bytes();
            assert_eq!(running, miner.bytes, "line {i}");
            assert!((miner.snapshot().len() as u64) < miner.bytes);
            assert!(miner.bytes <= 1 << 20, "{} bytes charged", miner.bytes);
        }
    }
    let state = miner.snapshot();
    let mut restored = Miner::new(miner.config().clone()).unwrap();
    restored.restore(&state).unwrap();
    assert_eq!(restored.bytes, miner.bytes);
}
