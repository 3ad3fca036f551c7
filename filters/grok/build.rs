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
    for (constant, dir) in [("LEGACY", "legacy"), ("ECS_V1", "ecs-v1")] {
        let dir = root.join(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        writeln!(code, "pub const {constant}: &[(&str, &str)] = &[").unwrap();
        for (family, path) in family_files(&dir) {
            println!("cargo:rerun-if-changed={}", path.display());
            writeln!(
                code,
                "    ({family:?}, include_str!({:?})),",
                path.display().to_string()
            )
            .unwrap();
        }
        writeln!(code, "];").unwrap();
    }
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("pattern_files.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

/// The family files of one directory, sorted by name (Logstash loads them in
/// glob order; a later definition of a name replaces an earlier one).
fn family_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            (!name.starts_with('.') && !name.ends_with(".md")).then_some((name, p))
        })
        .collect();
    files.sort();
    files
}
