//! The filter written in WebAssembly text at the end of `filters/sdk/ABI.md`,
//! taken from that file, loaded and run over the real access log: the ABI's
//! own example must keep working as the ABI document says it does.

mod support;

use support::*;

fn example_from_abi_md() -> String {
    let path = wasmstash_sdk::crate_dir!().join("../filters/sdk/ABI.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (_, section) = text
        .split_once("## A filter in WebAssembly text")
        .expect("ABI.md has its example section");
    let (_, code) = section.split_once("```wat\n").expect("a ```wat block");
    let (code, _) = code.split_once("```").expect("the block ends");
    code.to_owned()
}

#[test]
fn the_abi_documents_example_filter_runs_as_described() {
    let wat = example_from_abi_md();
    let inspection = wasmstash::engine::inspect(&strict_engine(), wat.as_bytes()).unwrap();
    assert!(inspection.problems.is_empty(), "{:?}", inspection.problems);
    assert!(!inspection.stateful);

    let mut pipeline = pipeline(load(&strict_engine(), "seen_by", wat.as_bytes(), "{}"));
    let lines = apache_lines();
    let events: Vec<&str> = lines.iter().map(String::as_str).collect();
    // Batches of several sizes, so the result buffer grows and is reused.
    for size in [1, 125, 3000, 7] {
        for chunk in events.chunks(size).take(3) {
            let results = as_json(pipeline.process(message_events(chunk)));
            assert_eq!(results.len(), chunk.len());
            for (event, line) in results.iter().zip(chunk) {
                assert_eq!(event["message"], *line);
                assert_eq!(event["seen_by"], "wat");
                assert!(event.get("tags").is_none(), "{event}");
            }
        }
    }
}
