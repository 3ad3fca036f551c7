//! Embeds the pattern library: every file in `patterns/legacy` and
//! `patterns/ecs-v1` becomes a `(family, text)` entry, so adding a family is
//! adding a file, with no code change. A sandboxed filter cannot read files
//! at run time, hence the embedding.

use std::env;
use std::fmt::Write;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("patterns");
    let mut code = String::new();
    // Paths relative to this package, both what cargo watches and what the
    // generated code includes, so that a target directory shared between
    // checkouts never hands one checkout another's (stale) patterns.
    for (constant, dir) in [("LEGACY", "legacy"), ("ECS_V1", "ecs-v1")] {
        println!("cargo:rerun-if-changed=patterns/{dir}");
        writeln!(code, "pub const {constant}: &[(&str, &str)] = &[").unwrap();
        for family in family_files(&root.join(dir)) {
            println!("cargo:rerun-if-changed=patterns/{dir}/{family}");
            writeln!(
                code,
                "    ({family:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {:?}))),",
                format!("/patterns/{dir}/{family}")
            )
            .unwrap();
        }
        writeln!(code, "];").unwrap();
    }
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("pattern_files.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

/// The family file names of one directory, sorted (Logstash loads them in
/// glob order; a later definition of a name replaces an earlier one).
fn family_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            (!name.starts_with('.') && !name.ends_with(".md")).then_some(name)
        })
        .collect();
    files.sort();
    files
}
