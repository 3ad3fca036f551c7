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

/// The one entry in a cache directory.
fn only_entry(dir: &std::path::Path) -> std::path::PathBuf {
    let mut entries = std::fs::read_dir(dir).unwrap();
    let entry = entries.next().unwrap().unwrap().path();
    assert!(entries.next().is_none(), "one entry in {}", dir.display());
    entry
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
    let entry = only_entry(dir.path());
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

/// The cache is bounded: storing a module that does not fit evicts the entry
/// used longest ago, and a hit counts as a use.
#[test]
fn the_cache_evicts_the_entry_used_longest_ago() {
    let dir = tempfile::tempdir().unwrap();
    let engine_with_room = |max_bytes: u64| {
        Engine::new(EngineSettings {
            memory_limit_bytes: 16 << 20,
            cache_dir: Some(dir.path().to_path_buf()),
            cache_max_bytes: max_bytes,
            ..Default::default()
        })
        .unwrap()
    };
    let modules = [
        ("hello", built_module("hello"), "{}"),
        ("json", built_module("json"), r#"{"source":"message"}"#),
        ("mutate", built_module("mutate"), "{}"),
    ];
    // Whether loading module `i` hit the cache.
    let hit = |engine: &Engine, i: usize| {
        let (name, wasm, config) = &modules[i];
        // Entries' times have a coarse grain on some file systems.
        std::thread::sleep(Duration::from_millis(20));
        FilterModule::load(engine, name, wasm, config.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .from_cache()
    };
    let sizes = || -> Vec<u64> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .collect()
    };
    let (hello, json, mutate) = (0, 1, 2);

    let roomy = engine_with_room(1 << 30);
    assert!(!hit(&roomy, mutate));
    let mutate_size = sizes()[0];
    // Emptied, not removed: the engine keeps the directory it opened.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    assert!(!hit(&roomy, hello));
    assert!(!hit(&roomy, json));
    // A hit on `hello` makes `json` the entry used longest ago.
    assert!(hit(&roomy, hello));
    let two: u64 = sizes().iter().sum();

    // One byte short of room for all three: storing `mutate` evicts `json`.
    let tight = engine_with_room(two + mutate_size - 1);
    assert!(!hit(&tight, mutate));
    assert_eq!(sizes().len(), 2, "one entry evicted");
    assert!(hit(&tight, hello), "the entry used recently stays");
    assert!(hit(&tight, mutate), "the entry just stored stays");
    assert!(!hit(&tight, json), "the entry used longest ago went");
}

/// A damaged byte anywhere in a cached artifact, the code included, means a
/// recompile: nothing unchecked is run (a flipped byte in the code section
/// used to crash the process with a trap).
#[test]
fn a_damaged_artifact_is_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = built_module("hello");
    FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}").unwrap();
    let entry = only_entry(dir.path());
    let mut bytes = std::fs::read(&entry).unwrap();
    // Every byte from a third of the way in to two thirds, where wasmtime's
    // text section lies, becomes a breakpoint instruction.
    let (from, to) = (bytes.len() / 3, 2 * bytes.len() / 3);
    bytes[from..to].fill(0xCC);
    std::fs::write(&entry, &bytes).unwrap();
    let module = FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}").unwrap();
    assert!(!module.from_cache());
    let out = as_json(pipeline(module).process(message_events(&["hi"])));
    assert_eq!(out[0]["greeting"], "hello");
}

/// Cached code is run as it is, so a directory others may write is not
/// used at all.
#[cfg(unix)]
#[test]
fn a_cache_directory_others_may_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let wasm = built_module("hello");
    for _ in 0..2 {
        let module = FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}").unwrap();
        assert!(!module.from_cache());
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // Made private again, it is used.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}").unwrap();
    assert!(
        FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}")
            .unwrap()
            .from_cache()
    );
}

/// An entry others may write is not loaded, even in a private directory,
/// and entries are written readable by their owner alone.
#[cfg(unix)]
#[test]
fn an_entry_others_may_write_is_not_loaded() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let wasm = built_module("hello");
    FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}").unwrap();
    let entry = only_entry(dir.path());
    let mode = std::fs::metadata(&entry).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    let module = FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}").unwrap();
    assert!(!module.from_cache());
    // Rewritten private, it is used again.
    assert!(
        FilterModule::load(&engine(dir.path(), true), "hello", &wasm, b"{}")
            .unwrap()
            .from_cache()
    );
}

/// Something other than an entry where one belongs, owned by this user and
/// private as entries are, is passed over unread and the module compiled:
/// a FIFO used to block the load until the compile timeout refused the
/// module, and a huge file was read whole before its digest was checked.
#[cfg(unix)]
#[test]
fn a_fifo_or_an_entry_larger_than_the_cache_is_passed_over_unread() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let wasm = built_module("hello");
    let engine = || {
        Engine::new(EngineSettings {
            memory_limit_bytes: 16 << 20,
            cache_dir: Some(dir.path().to_path_buf()),
            cache_max_bytes: 16 << 20,
            compile_timeout: Duration::from_secs(10),
            ..Default::default()
        })
        .unwrap()
    };
    FilterModule::load(&engine(), "hello", &wasm, b"{}").unwrap();
    let entry = only_entry(dir.path());

    std::fs::remove_file(&entry).unwrap();
    support::mkfifo(&entry);
    let started = std::time::Instant::now();
    let module = FilterModule::load(&engine(), "hello", &wasm, b"{}").unwrap();
    assert!(!module.from_cache());
    assert!(started.elapsed() < Duration::from_secs(5));
    // Stored again in its place, as a file.
    assert!(std::fs::metadata(&entry).unwrap().is_file());

    // Sparse: 1 GiB on paper, past the cache's 16 MiB.
    let file = std::fs::File::create(&entry).unwrap();
    file.set_len(1 << 30).unwrap();
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .unwrap();
    let module = FilterModule::load(&engine(), "hello", &wasm, b"{}").unwrap();
    assert!(!module.from_cache());
    assert!(
        FilterModule::load(&engine(), "hello", &wasm, b"{}")
            .unwrap()
            .from_cache()
    );
}

/// A link planted at a temporary's name is not written through, and one at
/// an entry's name is not loaded through: the first let whoever placed it
/// have the sidecar truncate and overwrite any file it may write, the
/// second have it run an artifact kept where it never checked.
#[cfg(unix)]
#[test]
fn links_at_a_temporarys_or_an_entrys_name_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let wasm = built_module("hello");
    FilterModule::load(&engine(&cache, true), "hello", &wasm, b"{}").unwrap();
    let entry = only_entry(&cache);
    let elsewhere = dir.path().join("elsewhere.cwasm");
    std::fs::rename(&entry, &elsewhere).unwrap();

    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let temporary = entry.with_extension(format!("tmp{}", std::process::id()));
    std::os::unix::fs::symlink(&victim, &temporary).unwrap();
    let module = FilterModule::load(&engine(&cache, true), "hello", &wasm, b"{}").unwrap();
    assert!(!module.from_cache());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(&entry).unwrap().is_file());
    assert!(std::fs::symlink_metadata(&temporary).is_err());

    // A sound entry, moved away and linked to from its name.
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
    let module = FilterModule::load(&engine(&cache, true), "hello", &wasm, b"{}").unwrap();
    assert!(!module.from_cache(), "an entry was loaded through a link");
    assert!(std::fs::symlink_metadata(&entry).unwrap().is_file());
}

/// The directory is opened and checked once, at its first use, and entries
/// go into that one: a link on `cache_dir`'s path re-pointed afterwards
/// (to a directory others may write, here) does not move them.
#[cfg(unix)]
#[test]
fn entries_stay_in_the_directory_that_was_checked() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let dir = tempfile::tempdir().unwrap();
    let (checked, shared) = (dir.path().join("checked"), dir.path().join("shared"));
    std::fs::create_dir(&checked).unwrap();
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let link = dir.path().join("link");
    symlink(&checked, &link).unwrap();
    let engine = engine(&link, true);
    FilterModule::load(&engine, "hello", &built_module("hello"), b"{}").unwrap();

    let repointed = dir.path().join("link.new");
    symlink(&shared, &repointed).unwrap();
    std::fs::rename(&repointed, &link).unwrap();
    let other = wat_filter("(i64.const 0)");
    FilterModule::load(&engine, "other", other.as_bytes(), b"{}").unwrap();
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(&checked).unwrap().count(), 2);
}

/// A file where the directory should be was reported as "cannot create the
/// directory: File exists", as if something were in the way of creating it.
#[test]
fn a_cache_dir_that_is_a_file_is_said_to_be_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let config = dir.path().join("conf.toml");
    std::fs::write(
        &config,
        format!(
            "[engine]\ncache_dir = {:?}\n[[pipelines.p.filters]]\nfilter = \"mutate\"\n",
            file.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["check", config.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .env_remove("WASMSTASH_CACHE_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("not caching compiled modules: it exists and is not a directory"),
        "{stderr}"
    );
}

/// Filters of one module in one engine share its compiled code while one
/// of them holds it: with no disk cache, the second load compiles nothing,
/// and each filter keeps its own name and config. Once none holds it, the
/// next load compiles again; another engine never shares.
#[test]
fn filters_of_one_module_share_its_compiled_code_while_held() {
    let no_disk = || {
        Engine::new(EngineSettings {
            memory_limit_bytes: 16 << 20,
            cache_dir: None,
            ..Default::default()
        })
        .unwrap()
    };
    let engine = no_disk();
    let wasm = built_module("hello");
    let first = FilterModule::load(&engine, "a", &wasm, b"{}").unwrap();
    assert!(!first.from_cache());
    let second = FilterModule::load(&engine, "b", &wasm, b"{}").unwrap();
    assert!(second.from_cache(), "held by `a`, so shared");
    assert_eq!((first.name(), second.name()), ("a", "b"));
    let out = as_json(pipeline(second.clone()).process(message_events(&["hi"])));
    assert_eq!(out[0]["greeting"], "hello");
    assert!(
        !FilterModule::load(&no_disk(), "c", &wasm, b"{}")
            .unwrap()
            .from_cache()
    );
    drop((first, second));
    let again = FilterModule::load(&engine, "d", &wasm, b"{}").unwrap();
    assert!(
        !again.from_cache(),
        "no filter held it, so it was compiled again"
    );
}
