//! Times the Event operations whose cost per member must not grow with the
//! event: on an event of N top-level members, N lookups, N members added
//! (as json adds a document's keys to the root) and N members replaced.
//! Each should take about twice as long at 2N as at N; a lookup that scans
//! the members makes it four times. Prints the times; asserts nothing
//! (the unit tests in `src/event/key_index/tests.rs` count the work
//! instead).
//!
//!     cargo run --release -p wasmstash-sdk --example many_members [N ...]

use std::time::Instant;

use wasmstash_sdk::Event;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|n| n.parse().expect("a number of members"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 20_000, 40_000]
    } else {
        sizes
    };
    println!("| members | look up each | add each | replace each |");
    println!("|---|---|---|---|");
    for members in sizes {
        let keys: Vec<String> = (0..members).map(|i| format!("field_{i}")).collect();
        let mut text = b"{\"message\":\"x\"".to_vec();
        for key in &keys {
            text.extend_from_slice(format!(",\"{key}\":\"value\"").as_bytes());
        }
        text.push(b'}');
        let event = Event::parse(&text).expect("a JSON object");
        let look_up = time(|| {
            let found = keys
                .iter()
                .filter(|key| event.contains(key.as_str()))
                .count();
            assert_eq!(found, members);
        });
        let mut grown = Event::parse(br#"{"message":"x"}"#).expect("a JSON object");
        let add = time(|| {
            for key in &keys {
                grown.insert_json_with(key, |json| json.extend_from_slice(b"1"));
            }
        });
        let replace = time(|| {
            for key in &keys {
                grown.insert(key, 2);
            }
        });
        println!("| {members} | {look_up:.3} s | {add:.3} s | {replace:.3} s |");
    }
}

fn time(work: impl FnOnce()) -> f64 {
    let start = Instant::now();
    work();
    start.elapsed().as_secs_f64()
}
