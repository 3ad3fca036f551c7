//! Compiles the filter crates to WebAssembly so the binary can embed them.
//!
//! A fresh clone must run with no separate build step, so this script makes
//! sure the `wasm32-unknown-unknown` target is installed (through rustup), runs
//! a nested `cargo build` for the filters into a target directory of their
//! own (sharing the host's would deadlock on cargo's build lock), and copies
//! the modules into `OUT_DIR`, where `src/builtins.rs` includes them.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Crates compiled to WebAssembly: (package, module file stem).
/// `hello` and `chaos` are not built-ins; tests and examples load them by path.
const FILTERS: &[(&str, &str)] = &[
    ("wasmstash-filter-json", "json"),
    ("wasmstash-filter-mutate", "mutate"),
    ("wasmstash-filter-dissect", "dissect"),
    ("wasmstash-filter-kv", "kv"),
    ("wasmstash-filter-syslog", "syslog"),
    ("wasmstash-filter-date", "date"),
    ("wasmstash-filter-templates", "templates"),
    ("wasmstash-filter-anomaly", "anomaly"),
    ("wasmstash-filter-grok", "grok"),
    ("wasmstash-filter-hello", "hello"),
    ("wasmstash-filter-chaos", "chaos"),
];

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    // Relative to this package, so cargo resolves them against wherever the
    // checkout is now. Absolute paths would tie a shared target directory to
    // the checkout that last ran this script: a clone elsewhere would then
    // get that checkout's filters, stale, with no rebuild.
    for watched in ["filters", "Cargo.toml", "Cargo.lock", ".cargo/config.toml"] {
        println!("cargo:rerun-if-changed=../{watched}");
    }

    println!(
        "cargo:rustc-env=WASMSTASH_REWRITE_CRATES={}",
        rewrite_crate_versions(workspace)
    );

    ensure_wasm_target();
    let wasm_target_dir = shared_target_dir(&out_dir).join("wasm-filters");
    build_filters(workspace, &wasm_target_dir);

    let built = wasm_target_dir.join(TARGET).join("wasm-filter");
    for (package, stem) in FILTERS {
        let file = format!("{}.wasm", package.replace('-', "_"));
        let from = built.join(&file);
        let to = out_dir.join(format!("{stem}.wasm"));
        std::fs::copy(&from, &to)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
    }
    // Tests and examples find the non-built-in modules here.
    println!(
        "cargo:rustc-env=WASMSTASH_FILTER_WASM_DIR={}",
        out_dir.display()
    );
}

/// The versions of the crates the deadline's rewrite is made with, as
/// Cargo.lock pins them: part of the module cache's key for rewritten
/// modules (`src/engine/cache.rs`), since another version may write other
/// bytes for the same module.
fn rewrite_crate_versions(workspace: &Path) -> String {
    let lock = std::fs::read_to_string(workspace.join("Cargo.lock")).unwrap_or_default();
    let mut versions = Vec::new();
    let mut package = None;
    for line in lock.lines() {
        if let Some(name) = line.strip_prefix("name = ") {
            package = Some(name.trim_matches('"'));
        } else if let Some(version) = line.strip_prefix("version = ")
            && let Some(name) = package.take()
            && matches!(name, "wasm-encoder" | "wasmparser")
        {
            versions.push(format!("{name} {}", version.trim_matches('"')));
        }
    }
    versions.join(", ")
}

/// Installs the WebAssembly target if the active toolchain lacks it, so the
/// README's commands work on a machine that has only rustup and a toolchain.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = &sysroot
        && sysroot.join("lib/rustlib").join(TARGET).exists()
    {
        return;
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Ok(toolchain) = env::var("RUSTUP_TOOLCHAIN") {
        rustup.args(["--toolchain", &toolchain]);
    }
    let status = rustup.status();
    if !matches!(status, Ok(s) if s.success()) {
        panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed ({status:?}); \
             install it by hand and build again"
        );
    }
}

/// `target/` of the outer build, found from OUT_DIR
/// (`target/[triple/]profile/build/wasmstash-*/out`).
fn shared_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(|build| build.parent()?.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.to_path_buf())
}

fn build_filters(workspace: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--target",
            TARGET,
            "--profile",
            "wasm-filter",
            "--target-dir",
        ])
        .arg(target_dir);
    for (package, _) in FILTERS {
        command.args(["-p", package]);
    }
    // The outer build's settings are for the host, not for the guests: a
    // clippy or coverage wrapper, host RUSTFLAGS or a forced target would all
    // leak into the nested build.
    for var in [
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .expect("running cargo to build the WebAssembly filters");
    assert!(
        status.success(),
        "building the WebAssembly filters failed; see the errors above"
    );
}
