//! `wasmstash new` as a user runs it: the workspace manifest it edits, the
//! SDK it accepts and the directions it prints.

#[path = "support/binary.rs"]
mod binary;

use std::path::Path;
use std::process::{Command, Output};

use binary::*;

fn members(manifest: &str, key: &str) -> Vec<String> {
    let parsed: toml::Table = manifest.parse().unwrap();
    parsed["workspace"][key]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

/// Only `[workspace]`'s own `members` list changes, whatever brackets or
/// words come before it; everything else is kept byte for byte.
#[test]
fn new_in_workspace_edits_only_the_members_list() {
    let manifests = [
        // A bracket in a comment before the table.
        "# see [docs] before editing\n[workspace]\nmembers = [\"a\"]\n",
        // `default-members` before `members`.
        "[workspace]\ndefault-members = [\"a\"]\nmembers = [\"a\", \"b\"]\n",
        // The word `members` in a comment and in another table first.
        "# members are listed below\n[package]\nname = \"members\"\nkeywords = [\"x\"]\n\n[workspace]\n# members: [one per line]\nmembers = [\n  \"a\", # first\n]\nresolver = \"3\"\n",
        // An inline table.
        "workspace = { default-members = [], members = [\"a\"] }\n",
    ];
    for original in manifests {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, original).unwrap();
        let out = wasmstash_in(dir.path(), &["new", "--in-workspace", "f1"], b"");
        assert!(out.status.success(), "{original}: {}", text(&out.stderr));
        let updated = std::fs::read_to_string(&manifest).unwrap();
        let before = members(original, "members");
        let mut after = before.clone();
        after.insert(0, "f1".into());
        assert_eq!(members(&updated, "members"), after, "{updated}");
        if original.contains("default-members") {
            assert_eq!(
                members(&updated, "default-members"),
                members(original, "default-members"),
                "{updated}"
            );
        }
        // Nothing but the new member was added.
        let without = updated.replacen("\n    \"f1\",", "", 1);
        assert_eq!(without, original, "{updated}");
    }
}

#[test]
fn new_in_workspace_names_the_workspace_build_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    let out = new_with_target_dir(dir.path(), &["--in-workspace", "my-f"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let steps = text(&out.stdout);
    assert!(
        steps.contains("module = \"target/wasm32-unknown-unknown/release/my_f.wasm\""),
        "{steps}"
    );
    assert!(!steps.contains("my-f/target"), "{steps}");
    let readme = std::fs::read_to_string(dir.path().join("my-f/README.md")).unwrap();
    assert!(!readme.contains("my-f/target"), "{readme}");
    assert!(readme.contains("workspace"), "{readme}");

    // A crate of its own builds into its own target/.
    let out = new_with_target_dir(dir.path(), &["solo"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .contains("module = \"solo/target/wasm32-unknown-unknown/release/solo.wasm\""),
        "{}",
        text(&out.stdout)
    );
}

/// A workspace that declares the SDK (as a clone of this repository does)
/// gives it to the new member: a path of the member's own to the SDK this
/// binary was built from named a second SDK, and cargo refused the whole
/// workspace. One that does not is told when the relative path leaves it.
#[test]
fn new_in_workspace_takes_the_workspace_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = "[workspace]\nmembers = []\n\n[workspace.dependencies]\nwasmstash-sdk = { path = \"vendor/sdk\" }\n";
    std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
    let out = wasmstash_in(dir.path(), &["new", "--in-workspace", "f1"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cargo = std::fs::read_to_string(dir.path().join("f1/Cargo.toml")).unwrap();
    assert!(
        cargo.contains("wasmstash-sdk = { workspace = true }"),
        "{cargo}"
    );
    assert!(
        !text(&out.stdout).contains("note:"),
        "{}",
        text(&out.stdout)
    );

    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join("Cargo.toml"),
        "[workspace]\nmembers = []\n",
    )
    .unwrap();
    let out = wasmstash_in(other.path(), &["new", "--in-workspace", "f2"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cargo = std::fs::read_to_string(other.path().join("f2/Cargo.toml")).unwrap();
    assert!(cargo.contains("wasmstash-sdk = { path = \"../"), "{cargo}");
    assert!(
        text(&out.stdout).contains("is outside this workspace"),
        "{}",
        text(&out.stdout)
    );
}

/// `wasmstash new ARGS` in `dir`, with `CARGO_TARGET_DIR` set to
/// `target_dir` or unset (the shared helpers always set it).
fn new_with_target_dir(dir: &Path, args: &[&str], target_dir: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmstash"));
    command.arg("new").args(args).current_dir(dir);
    match target_dir {
        Some(target_dir) => command.env("CARGO_TARGET_DIR", target_dir),
        None => command.env_remove("CARGO_TARGET_DIR"),
    };
    command.output().unwrap()
}

/// With `CARGO_TARGET_DIR` set, cargo builds there, so that is the module
/// path printed; a relative one is taken from the crate's directory, where
/// `wasmstash test --crate` runs cargo.
#[test]
fn new_names_the_module_under_cargo_target_dir() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    let out = new_with_target_dir(dir.path(), &["abs"], Some(elsewhere.to_str().unwrap()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let steps = text(&out.stdout);
    let module = format!(
        "module = \"{}/wasm32-unknown-unknown/release/abs.wasm\"",
        elsewhere.display()
    );
    assert!(steps.contains(&module), "{steps}");
    assert!(!steps.contains("abs/target"), "{steps}");

    let out = new_with_target_dir(dir.path(), &["rel-f"], Some("out"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let steps = text(&out.stdout);
    assert!(
        steps.contains("module = \"rel-f/out/wasm32-unknown-unknown/release/rel_f.wasm\""),
        "{steps}"
    );
    // The README outlives the shell it was made in: it gives the rule.
    let readme = std::fs::read_to_string(dir.path().join("rel-f/README.md")).unwrap();
    assert!(readme.contains("CARGO_TARGET_DIR"), "{readme}");
    assert!(!readme.contains("rel-f/out"), "{readme}");
}

#[test]
fn new_refuses_an_sdk_dir_that_is_not_the_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let grok = wasmstash_sdk::crate_dir!().join("../filters/grok");
    let out = wasmstash_in(
        dir.path(),
        &["new", "--sdk", grok.to_str().unwrap(), "f1"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "is not the wasmstash SDK: its Cargo.toml names package `wasmstash-filter-grok`"
        ),
        "{err}"
    );
    assert!(!dir.path().join("f1").exists());

    let empty = tempfile::tempdir().unwrap();
    let out = wasmstash_in(
        dir.path(),
        &["new", "--sdk", empty.path().to_str().unwrap(), "f1"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("is not the wasmstash SDK: it has no Cargo.toml"),
        "{err}"
    );
    assert!(!dir.path().join("f1").exists());

    // The SDK itself is taken, by any path to it.
    let sdk = wasmstash_sdk::crate_dir!().join("../filters/sdk");
    let out = wasmstash_in(
        dir.path(),
        &["new", "--sdk", sdk.to_str().unwrap(), "f1"],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifest = std::fs::read_to_string(dir.path().join("f1/Cargo.toml")).unwrap();
    let absolute = sdk.canonicalize().unwrap();
    assert!(manifest.contains(absolute.to_str().unwrap()), "{manifest}");

    // A copy given by a relative path (vendored) is named relatively, so
    // that the crate and its copy can be committed and cloned together.
    let vendored = dir.path().join("vendor/wasmstash-sdk");
    std::fs::create_dir_all(&vendored).unwrap();
    std::fs::write(
        vendored.join("Cargo.toml"),
        "[package]\nname = \"wasmstash-sdk\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    let out = wasmstash_in(
        dir.path(),
        &["new", "--sdk", "vendor/wasmstash-sdk", "f2"],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifest = std::fs::read_to_string(dir.path().join("f2/Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"path = "../vendor/wasmstash-sdk""#),
        "{manifest}"
    );
}

#[test]
fn new_refuses_the_name_of_the_sdk_it_depends_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = wasmstash_in(dir.path(), &["new", "wasmstash-sdk"], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("the new crate depends on `wasmstash-sdk`"),
        "{err}"
    );
    assert!(!dir.path().join("wasmstash-sdk").exists());
}
