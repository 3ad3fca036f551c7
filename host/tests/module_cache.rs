//! Compiled modules are cached on disk, keyed by module and engine config.

mod support;

use std::time::Duration;

use support::*;
use wasmstash::engine::{Engine, EngineSettings, FilterModule};

fn engine(cache: &std::path::Path, deadline: bool) -> Engine {
    Engine::new(EngineSettings {
        call_timeout: deadline.then(|| Duration::from_millis(500)),
        memory_limit_bytes: 16 << 20,
        cache_dir: Some(cache.to_path_buf()),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn a_restart_loads_the_cached_artifact_and_config_changes_miss() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = built_module("hello");
    let first = FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}").unwrap();
    assert!(!first.from_cache());
    let second = FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}").unwrap();
    assert!(
        second.from_cache(),
        "the second engine should reuse the compiled module"
    );
    assert_eq!(first.sha256(), second.sha256());
    // Turning deadlines off changes the generated code, so it is a new entry.
    let other = FilterModule::load(&engine(dir.path(), false), "hello", &wasm, b"{}").unwrap();
    assert!(!other.from_cache());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn a_corrupt_cache_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = built_module("hello");
    FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}").unwrap();
    let entry = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&entry, b"not a compiled module").unwrap();
    let module = FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}").unwrap();
    assert!(!module.from_cache());
    let mut pipeline = pipeline(module);
    let out = as_json(pipeline.process(message_events(&["hi"])));
    assert_eq!(out[0]["greeting"], "hello");
    // And the entry was rewritten with a good artifact.
    assert!(
        FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}")
            .unwrap()
            .from_cache()
    );
}
