//! `wasmstash new` as a user runs it: the workspace manifest it edits and
//! the directions it prints.

#[path = "support/binary.rs"]
mod binary;

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
    let out = wasmstash_in(dir.path(), &["new", "--in-workspace", "my-f"], b"");
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
    let out = wasmstash_in(dir.path(), &["new", "solo"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .contains("module = \"solo/target/wasm32-unknown-unknown/release/solo.wasm\"")
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
