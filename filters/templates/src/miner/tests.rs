//! Unit tests of the miner on small, hand-made streams.

use super::*;

fn mine(miner: &mut Miner, line: &str) -> (String, bool, Vec<String>) {
    let m = miner.add(line);
    let mut params = Vec::new();
    m.params(&mut params);
    (
        m.text().to_owned(),
        m.new,
        params.into_iter().map(str::to_owned).collect(),
    )
}

#[test]
fn groups_lines_and_extracts_params() {
    let mut miner = Miner::new(Config::default()).unwrap();
    let (text, new, params) = mine(
        &mut miner,
        "Accepted password for root from 10.0.0.1 port 22 ssh2",
    );
    assert_eq!(text, "Accepted password for root from <*> port <*> ssh2");
    assert!(new);
    assert_eq!(params, ["10.0.0.1", "22"]);
    let (text, new, params) = mine(
        &mut miner,
        "Accepted password for admin from 10.0.0.2 port 2222 ssh2",
    );
    assert_eq!(text, "Accepted password for <*> from <*> port <*> ssh2");
    assert!(new, "a generalised template has a new text");
    assert_eq!(params, ["admin", "10.0.0.2", "2222"]);
    let (_, new, _) = mine(
        &mut miner,
        "Accepted password for bob from 10.0.0.3 port 1 ssh2",
    );
    assert!(!new);
    assert_eq!(miner.len(), 1);
}

#[test]
fn sub_token_params_and_collapsed_runs() {
    let mut miner = Miner::new(Config::default()).unwrap();
    let (text, _, params) = mine(&mut miner, "session opened by (uid=0) for 3 4 5 users");
    assert_eq!(text, "session opened by (uid=<*>) for <*> users");
    assert_eq!(params, ["0", "3 4 5"]);
}

/// A value beside `<` or `>` is masked to `<*>>` or `<<*>>`; the brackets
/// of the wildcard itself must not stand in for them when another line's
/// value comes (the template kept a `>` the line did not have).
#[test]
fn a_value_beside_an_angle_bracket_generalises_whole() {
    for (first, second, text, params) in [
        (
            "disk full at 22>",
            "disk full at /var/log",
            "disk full at <*>",
            vec!["/var/log"],
        ),
        (
            "reply from <17>",
            "reply from 10.0.0.1",
            "reply from <*>",
            vec!["10.0.0.1"],
        ),
        (
            "disk full at <22",
            "disk full at /var/log",
            "disk full at <*>",
            vec!["/var/log"],
        ),
        (
            "set list<17> ok now",
            "set 12 ok now",
            "set <*> ok now",
            vec!["12"],
        ),
    ] {
        let mut miner = Miner::new(Config::default()).unwrap();
        mine(&mut miner, first);
        let (got, _, got_params) = mine(&mut miner, second);
        assert_eq!(
            (got.as_str(), got_params),
            (text, params.iter().map(|p| p.to_string()).collect()),
            "{first} then {second}"
        );
    }
}

#[test]
fn different_shapes_stay_apart() {
    let mut miner = Miner::new(Config::default()).unwrap();
    let a = miner.add("Connection closed by 1.2.3.4").id();
    let b = miner.add("Received disconnect from 1.2.3.4").id();
    assert_ne!(a, b);
    assert_eq!(miner.len(), 2);
}

#[test]
fn a_word_does_not_join_a_template_of_values_only() {
    let mut miner = Miner::new(Config::default()).unwrap();
    let starting = mine(&mut miner, "Starting");
    let (number, new, params) = mine(&mut miner, "42");
    assert_eq!((number.as_str(), new), ("<*>", true));
    assert_eq!(params, ["42"]);
    assert_eq!(mine(&mut miner, "Starting"), (starting.0, false, vec![]));
    for word in ["Done", "Shutdown", "OutOfMemoryError"] {
        assert_eq!(
            mine(&mut miner, word),
            (word.to_owned(), true, vec![]),
            "{word} is the constant text of its own statement"
        );
        assert!(!mine(&mut miner, word).1, "{word} seen again");
    }
    // Constant text around a value is a word too.
    assert_eq!(mine(&mut miner, "uid=7").0, "uid=<*>");
    // Values still share the template of values.
    assert_eq!(
        mine(&mut miner, "1.5ms"),
        ("<*>".to_owned(), false, vec!["1.5ms".to_owned()])
    );
    assert_eq!(miner.len(), 6);
}

#[test]
fn words_do_not_join_uncollapsed_values() {
    let config = Config {
        collapse_wildcards: false,
        ..Config::default()
    };
    let mut miner = Miner::new(config).unwrap();
    // Two tokens, each written (runs are rendered once only when
    // collapsed, or two templates could share one text and id).
    assert_eq!(mine(&mut miner, "10.0.0.1 5").0, "<*> <*>");
    assert_eq!(mine(&mut miner, "Server started").0, "Server started");
    assert_eq!(mine(&mut miner, "Cache flushed").0, "Cache flushed");
    assert_eq!(mine(&mut miner, "10.0.0.2 Cache").0, "<*> Cache");
    let (text, new, params) = mine(&mut miner, "10.0.0.3 7");
    assert_eq!((text.as_str(), new), ("<*> <*>", false));
    assert_eq!(params, ["10.0.0.3", "7"]);
    // "took 1 ms" and "took 1 2 ms" are two templates, two texts.
    assert_eq!(mine(&mut miner, "took 1 ms").0, "took <*> ms");
    assert_eq!(
        mine(&mut miner, "took 1 2 ms"),
        (
            "took <*> <*> ms".to_owned(),
            true,
            vec!["1".to_owned(), "2".to_owned()]
        )
    );
    assert_eq!(miner.len(), 6);
}

#[test]
fn a_new_month_does_not_change_a_template() {
    let mut miner = Miner::new(Config::default()).unwrap();
    let first = mine(&mut miner, "17/May/2015:10:05:03 +0000 disk full");
    assert_eq!(first.0, "<*> +<*> disk full");
    assert_eq!(first.2, ["17/May/2015:10:05:03", "0000"]);
    for line in [
        "18/May/2015:11:05:03 +0000 disk full",
        "01/Jun/2015:10:05:03 +0000 disk full",
    ] {
        assert_eq!(mine(&mut miner, line).0, first.0);
        assert!(!mine(&mut miner, line).1, "{line}");
    }
    let (text, new, params) = mine(&mut miner, "at 2026-11-24T04:47:08.813Z disk full");
    assert_eq!((text.as_str(), new), ("at <*> disk full", true));
    assert_eq!(params, ["2026-11-24T04:47:08.813Z"]);
    let (text, new, _) = mine(&mut miner, "at 2026-12-01T00:00:00+01:00 disk full");
    assert_eq!((text.as_str(), new), ("at <*> disk full", false));
}

#[test]
fn ids_are_a_function_of_the_text() {
    let mut one = Miner::new(Config::default()).unwrap();
    let mut two = Miner::new(Config::default()).unwrap();
    two.add("something else entirely");
    let a = one.add("disk sda1 is 91% full");
    let (id, text) = (a.id(), a.text().to_owned());
    assert_eq!(two.add("disk sda1 is 91% full").id(), id);
    assert_eq!(id, template::template_id(&text));
    assert_eq!(a_hex(id).len(), 16);
}

fn a_hex(id: u64) -> String {
    format!("{id:016x}")
}

/// Evicting many templates at once (one pass per leaf) leaves the miner as
/// evicting each of them in turn leaves it: the same templates in the same
/// leaf order, the same charges, the same free slots, and the same answers
/// to the lines that follow (which read the leaves' fingerprint index,
/// which no snapshot holds). The evicted are taken at random, from leaves
/// that keep others and leaves they empty, in lines of several lengths,
/// so that nodes are pruned up to whole lengths.
#[test]
fn evicting_many_at_once_leaves_what_evicting_each_leaves() {
    let word = |mut n: usize| {
        let mut word = String::new();
        loop {
            word.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
            if n == 0 {
                return word;
            }
        }
    };
    // Few first tokens, so that leaves hold many templates; one to five
    // tokens, so that there are several length nodes, some small.
    let line = |i: usize| {
        let tokens = 1 + i % 5;
        let words = [
            word(i % 3),
            word(i % 5),
            word(i * 7),
            word(i * 13),
            word(i * 31),
        ];
        words[..tokens].join(" ")
    };
    let config = || Config {
        max_templates: 100_000,
        max_state_mib: 64,
        ..Config::default()
    };
    let mut rng = wasmstash_sdk::testing::XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..20 {
        let (mut each, mut all) = (Miner::new(config()).unwrap(), Miner::new(config()).unwrap());
        let count = 200 + round * 97;
        for i in 0..count {
            each.add(&line(i));
            all.add(&line(i));
        }
        let slots: Vec<u32> = (each.by_age().into_iter())
            .filter(|_| rng.below(3) == 0)
            .map(|(_, slot)| slot)
            .collect();
        for &slot in &slots {
            each.evict(slot);
        }
        all.evict_all(&slots);
        assert_eq!(each.snapshot(), all.snapshot(), "round {round}");
        // The fingerprint index too, which snapshots leave out.
        assert!(
            each.lengths == all.lengths,
            "round {round}: the trees differ"
        );
        assert_eq!((each.bytes, each.live), (all.bytes, all.live));
        assert_eq!(each.free_slots, all.free_slots);
        let charged = all.bytes;
        all.recount_bytes();
        assert_eq!(charged, all.bytes, "charges kept as a recount makes them");
        for i in (0..count + 300).step_by(3) {
            assert_eq!(
                mine(&mut each, &line(i)),
                mine(&mut all, &line(i)),
                "line {i}"
            );
        }
    }
}

/// The byte budget's eviction works out which templates go before any
/// leaves, by what each would free; it must stop where evicting them one
/// by one stops, and leave the same miner.
#[test]
fn evicting_to_the_byte_budget_stops_where_evicting_each_stops() {
    // Half the lines share their leading words, so leaves keep others;
    // half lead with a word of their own, so evicting one prunes its leaf
    // and the nodes above it, whose charges count where eviction stops.
    // A word of its own for each number: its digits as letters.
    let letters = |n: usize| -> String {
        n.to_string()
            .bytes()
            .map(|d| (b'a' + d - b'0') as char)
            .collect()
    };
    let line = |i: usize| {
        let words = ["ab", "cd", "ef"];
        let lead = match i % 2 {
            0 => words[i % 3].to_owned(),
            _ => format!("u{}", letters(i)),
        };
        let mut line = vec![lead, words[i % 2].to_owned()];
        line.extend(
            (0..4).map(|k| format!("{}{}", words[(i + k) % 3], "xyz".repeat((i * (k + 1)) % 7))),
        );
        line[..1 + i % 4].join(" ") + &" q".repeat(i % 3)
    };
    for keep_newest in [false, true] {
        let config = || Config {
            max_templates: 100_000,
            max_state_mib: 64,
            ..Config::default()
        };
        let (mut each, mut all) = (Miner::new(config()).unwrap(), Miner::new(config()).unwrap());
        for i in 0..4000 {
            each.add(&line(i));
            all.add(&line(i));
        }
        // Now the budget is far smaller than the table.
        each.config.max_state_mib = 1;
        all.config.max_state_mib = 1;
        let keep = keep_newest.then(|| each.by_age().into_iter().min().unwrap().1);
        let target = each.byte_budget() - each.byte_budget() / 10;
        let mut by_age = each.by_age();
        by_age.sort_unstable();
        for (_, slot) in by_age {
            if each.bytes <= target {
                break;
            }
            if Some(slot) != keep {
                each.evict(slot);
            }
        }
        all.evict_to_budget(keep);
        assert!(each.live < 4000 && each.live > 0, "{}", each.live);
        assert_eq!(each.snapshot(), all.snapshot());
        assert!(each.lengths == all.lengths, "the trees differ");
        assert_eq!((each.bytes, each.live), (all.bytes, all.live));
        assert_eq!(each.free_slots, all.free_slots);
    }
}

#[test]
fn the_table_is_bounded_and_evicts_least_recent() {
    let config = Config {
        max_templates: 20,
        ..Config::default()
    };
    let mut miner = Miner::new(config).unwrap();
    let keep = miner.add("keep this one alive").id();
    for i in 0..200 {
        let word: String = (0..4)
            .map(|k| (b'a' + ((i >> (k * 2)) & 3) as u8 + k as u8 * 4) as char)
            .collect();
        miner.add(&format!("{word} event {word} happened"));
        miner.add("keep this one alive");
        assert!(miner.len() <= 20);
    }
    assert!(miner.templates().any(|(id, _)| id == keep));
}

#[test]
fn snapshot_restores_the_same_behaviour() {
    let lines: Vec<String> = (0..300)
        .map(|i| match i % 3 {
            0 => format!("user u{} logged in from 10.0.0.{}", i % 7, i % 250),
            1 => format!("job {i} finished in {}ms", i * 3),
            _ => format!("cache {} evicted entry k{}", ["alpha", "beta"][i % 2], i),
        })
        .collect();
    let run = |miner: &mut Miner, lines: &[String]| -> Vec<(u64, bool)> {
        lines
            .iter()
            .map(|l| {
                let m = miner.add(l);
                (m.id(), m.new)
            })
            .collect()
    };
    let mut whole = Miner::new(Config::default()).unwrap();
    let expected = run(&mut whole, &lines);

    let mut first = Miner::new(Config::default()).unwrap();
    let mut got = run(&mut first, &lines[..150]);
    let state = first.snapshot();
    let mut second = Miner::new(Config::default()).unwrap();
    second.restore(&state).unwrap();
    got.extend(run(&mut second, &lines[150..]));
    assert_eq!(got, expected);
    assert_eq!(second.snapshot().len(), whole.snapshot().len());
}

#[test]
fn restore_refuses_bad_or_foreign_state() {
    let mut miner = Miner::new(Config::default()).unwrap();
    miner.add("a b c");
    let state = miner.snapshot();
    let deeper = Config {
        depth: 5,
        ..Config::default()
    };
    let err = Miner::new(deeper).unwrap().restore(&state).unwrap_err();
    assert_eq!(
        err,
        "template state was mined under other settings than the config's: \
         depth = 4 (the config has 5); the state fits those settings only"
    );
    let mut masks = Config::default().masks;
    masks.ip = false;
    let unmasked = Config {
        masks,
        ..Config::default()
    };
    let err = Miner::new(unmasked).unwrap().restore(&state).unwrap_err();
    assert!(
        err.contains("masks.ip = true (the config has false)"),
        "{err}"
    );
    let err = miner.restore(b"{not json").unwrap_err();
    assert!(err.contains("fails its checksum"), "{err}");
    // The JSON before the checksum, and that JSON sealed with its own.
    let json = String::from_utf8(state[..state.len() - 8].to_vec()).unwrap();
    let sealed = |json: &str| {
        let mut bytes = json.as_bytes().to_vec();
        wasmstash_sdk::stable_hash::seal(&mut bytes);
        bytes
    };
    assert_eq!(sealed(&json), state);
    let forged = json.replace("\"templates\":[0]", "\"templates\":[7]");
    assert_ne!(forged, json);
    let err = miner.restore(&sealed(&forged)).unwrap_err();
    assert!(err.contains("inconsistent"), "{err}");
    // A token changed by a damaged byte was taken for another state.
    let damaged = state
        .iter()
        .map(|&b| if b == b'c' { b'x' } else { b })
        .collect::<Vec<u8>>();
    let err = miner.restore(&damaged).unwrap_err();
    assert!(err.contains("fails its checksum"), "{err}");
    // Version 1 had no checksum, and is still read; version 2 must have one.
    let unchecked = json.replace("\"version\":2", "\"version\":1");
    assert_ne!(unchecked, json);
    Miner::new(Config::default())
        .unwrap()
        .restore(unchecked.as_bytes())
        .unwrap();
    let err = miner.restore(json.as_bytes()).unwrap_err();
    assert!(err.contains("fails its checksum"), "{err}");
    let err = miner.restore(
        unchecked
            .replace("\"version\":1", "\"version\":9")
            .as_bytes(),
    );
    assert!(err.unwrap_err().contains("has version 9"));
    let err = miner.restore(&sealed(&unchecked)).unwrap_err();
    assert!(
        err.contains("says version 1 but ends in a checksum"),
        "{err}"
    );
    assert_eq!(
        miner.len(),
        1,
        "a refused restore leaves the miner as it was"
    );
}

#[test]
fn config_is_checked() {
    for bad in [
        Config {
            similarity_threshold: 1.5,
            ..Config::default()
        },
        Config {
            depth: 2,
            ..Config::default()
        },
        Config {
            max_children: 1,
            ..Config::default()
        },
        Config {
            max_templates: 0,
            ..Config::default()
        },
        Config {
            max_token_bytes: 8,
            ..Config::default()
        },
        Config {
            max_state_mib: 0,
            ..Config::default()
        },
        Config {
            max_tokens: 4096,
            max_token_bytes: 4096,
            ..Config::default()
        },
    ] {
        assert!(Miner::new(bad).is_err());
    }
}

/// `max_state_mib << 20` overflowed a 32-bit usize (WebAssembly's) at 4096:
/// the quarter-of-the-budget check then refused the largest budget with "one
/// template ... could take 279 KiB, over a quarter of max_state_mib = 4096".
/// The budget and the charges are u64 now, whatever the platform.
#[test]
fn the_largest_budget_is_accepted_and_counted_in_u64() {
    assert_eq!(super::budget::mib_bytes(4096), 1u64 << 32);
    assert_eq!(super::budget::mib_bytes(4096) / 4, 1u64 << 30);
    let miner = Miner::new(Config {
        max_state_mib: 4096,
        ..Config::default()
    })
    .unwrap();
    assert_eq!(miner.byte_budget(), 1u64 << 32);
    // The refusal still names figures that add up.
    let err = Miner::new(Config {
        max_tokens: 4096,
        max_token_bytes: 65_536,
        max_state_mib: 4096,
        ..Config::default()
    })
    .err()
    .unwrap();
    assert!(
        err.contains("over a quarter of max_state_mib = 4096"),
        "{err}"
    );
    let kib: u64 = err
        .split(" KiB")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(kib > 1 << 20, "{err}");
}

#[test]
fn the_readme_example_holds() {
    let mut miner = Miner::new(Config::default()).unwrap();
    let found = miner.add("disk /dev/sda1 is 91% full");
    assert_eq!(found.text(), "disk <*> is <*> full");
    let mut params = Vec::new();
    found.params(&mut params);
    assert_eq!(params, ["/dev/sda1", "91%"]);
}

#[test]
fn odd_lines_do_not_break_it() {
    let mut miner = Miner::new(Config {
        max_tokens: 4,
        ..Config::default()
    })
    .unwrap();
    let long = "x".repeat(100_000);
    let lines = [
        "",
        "   ",
        "<*> <*> literal wildcards",
        "***",
        "ünïcödé wörds — ≥ 3 ≤ 4 ; 12µs",
        "a=b=c=d (((( )))) [[1]] '2' \"3\"",
        long.as_str(),
        "one two three four five six seven",
        "0x 0X1 /// :: 1.2.3.4.5 ::1 @ @@ a@b. -1e 1e5",
        "\u{feff}bom\ttab\r\n",
    ];
    for line in lines {
        let m = miner.add(line);
        let mut params = Vec::new();
        m.params(&mut params);
        assert_eq!(m.id(), template::template_id(m.text()));
        assert!(params.iter().all(|p| line.contains(p)));
    }
    let state = miner.snapshot();
    Miner::new(miner.config().clone())
        .unwrap()
        .restore(&state)
        .unwrap();
}
