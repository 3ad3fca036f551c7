//! Every seed and every input that once crashed a fuzz target, run through
//! the target's checks as an ordinary test, so CI holds them without
//! libFuzzer: `seeds/TARGET/*` and `regressions/TARGET/*`.

use std::path::Path;

use wasmstash_fuzz::targets;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let input = std::fs::read(&path).expect("a readable input");
            let outcome = std::panic::catch_unwind(|| run(&input));
            assert!(outcome.is_ok(), "{} fails its target", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for {target}");
}

#[test]
fn config_inputs() {
    replay("config", targets::config::run);
}

#[test]
fn event_check_inputs() {
    replay("event_check", targets::event_check::run);
}

#[test]
fn wire_inputs() {
    replay("wire", targets::wire::run);
}

#[test]
fn regex_inputs() {
    replay("regex", targets::regex::run);
}

#[test]
fn filters_inputs() {
    replay("filters", targets::filters::run);
}

#[test]
fn wasm_native_inputs() {
    replay("wasm_native", targets::wasm_native::run);
}
