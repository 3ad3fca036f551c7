//! `wasmstash test --crate`: building the author's crate and finding the
//! filter module it made.
//!
//! Cargo reports every artifact it builds, and a crate can build more than
//! its filter: a binary target is a `.wasm` too on this target, and a
//! workspace root builds each member's. The filter is the `cdylib` of the
//! crate given; a workspace of several filters is refused with their
//! names rather than one of them tested at random.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::files::shown;

/// The crate's `Cargo.toml`, or why `dir` is no crate. Said before anything
/// else: run from the wrong directory, the cases' or cargo's own errors
/// would hide the cause.
pub(super) fn crate_manifest(dir: &Path) -> Result<PathBuf, String> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!(
            "{} is not a crate: it has no Cargo.toml (give the filter crate's directory with --crate, or run this from it)",
            shown(dir)
        ));
    }
    Ok(manifest)
}

/// Builds the crate in `dir` for `wasm32-unknown-unknown` (release) and
/// returns the filter module it made. Cargo's own messages go to stderr.
pub(super) fn filter_module(dir: &Path) -> Result<PathBuf, String> {
    let manifest = crate_manifest(dir)?;
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--message-format=json-render-diagnostics",
        ])
        // From the crate's directory, so that its `.cargo/config.toml` (the
        // build flags `wasmstash new` writes) applies.
        .current_dir(dir)
        .args(["--manifest-path", "Cargo.toml"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("building {} failed (see above)", shown(&manifest)));
    }
    let own_manifest = manifest.canonicalize().unwrap_or(manifest.clone());
    let within = dir.canonicalize().unwrap_or(dir.to_path_buf());
    chosen_module(&output.stdout, &own_manifest, &within)
        .map_err(|why| format!("{}: {why}", shown(&manifest)))
}

/// The filter module among the artifacts cargo reported (`messages`, its
/// JSON lines): the `cdylib` of the package at `manifest` if it built one,
/// else the only `cdylib` of a package under `dir` (a workspace's member).
fn chosen_module(messages: &[u8], manifest: &Path, dir: &Path) -> Result<PathBuf, String> {
    let mut modules: Vec<(PathBuf, PathBuf)> = String::from_utf8_lossy(messages)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| {
            message["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "cdylib"))
        })
        .filter_map(|message| {
            let package = PathBuf::from(message["manifest_path"].as_str()?);
            let module = message["filenames"]
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .map(PathBuf::from)
                .find(|file| file.extension().is_some_and(|e| e == "wasm"))?;
            Some((package, module))
        })
        .filter(|(package, _)| package.starts_with(dir))
        .collect();
    if let Some(at) = modules.iter().position(|(package, _)| package == manifest) {
        return Ok(modules.swap_remove(at).1);
    }
    match modules.len() {
        0 => Err("built no filter module (is its crate-type \"cdylib\"?)".to_owned()),
        1 => Ok(modules.remove(0).1),
        _ => {
            let names: Vec<String> = modules
                .iter()
                .map(|(_, module)| shown(Path::new(module.file_name().unwrap_or_default())))
                .collect();
            Err(format!(
                "built {} filter modules ({}): give `--crate` one filter's directory, or test a module with `--module`",
                names.len(),
                names.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `compiler-artifact` line as cargo writes one, trimmed to the keys
    /// read here.
    fn artifact(package: &str, kinds: &[&str], file: &str) -> String {
        serde_json::json!({
            "reason": "compiler-artifact",
            "manifest_path": format!("/w/{package}/Cargo.toml"),
            "target": {"kind": kinds, "name": package},
            "filenames": [format!("/t/release/{file}")],
        })
        .to_string()
    }

    fn chosen(lines: &[String], manifest: &str) -> Result<PathBuf, String> {
        let messages = lines.join("\n");
        chosen_module(messages.as_bytes(), Path::new(manifest), Path::new("/w"))
    }

    #[test]
    fn the_crates_own_cdylib_is_its_filter_whatever_else_it_builds() {
        let lines = [
            artifact("sdk", &["lib"], "libsdk.rlib"),
            artifact("f", &["cdylib"], "f.wasm"),
            // A binary target is a .wasm on this target too, reported last.
            artifact("f", &["bin"], "f-bin.wasm"),
            "{\"reason\":\"build-finished\",\"success\":true}".to_owned(),
        ];
        assert_eq!(
            chosen(&lines, "/w/f/Cargo.toml"),
            Ok("/t/release/f.wasm".into())
        );
        // A dependency outside the crate that is a cdylib as well.
        let outside = serde_json::json!({
            "reason": "compiler-artifact",
            "manifest_path": "/elsewhere/dep/Cargo.toml",
            "target": {"kind": ["cdylib", "rlib"]},
            "filenames": ["/t/release/dep.wasm"],
        });
        let lines = [outside.to_string(), artifact("f", &["cdylib"], "f.wasm")];
        assert_eq!(
            chosen(&lines, "/w/f/Cargo.toml"),
            Ok("/t/release/f.wasm".into())
        );
    }

    #[test]
    fn a_workspace_of_one_filter_gives_it_and_of_several_names_them() {
        let one = [artifact("a", &["cdylib"], "a.wasm")];
        assert_eq!(
            chosen(&one, "/w/Cargo.toml"),
            Ok("/t/release/a.wasm".into())
        );
        let two = [
            artifact("a", &["cdylib"], "a.wasm"),
            artifact("b", &["cdylib"], "b.wasm"),
        ];
        let error = chosen(&two, "/w/Cargo.toml").unwrap_err();
        assert!(
            error.contains("built 2 filter modules (a.wasm, b.wasm)"),
            "{error}"
        );
        let none = [artifact("a", &["bin"], "a.wasm")];
        let error = chosen(&none, "/w/a/Cargo.toml").unwrap_err();
        assert!(error.contains("built no filter module"), "{error}");
    }
}
