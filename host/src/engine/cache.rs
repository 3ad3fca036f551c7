//! Compiled modules on disk, so a restart (or a second process) does not pay
//! for Cranelift again.
//!
//! Entries are keyed by the SHA-256 of the module's bytes and by wasmtime's
//! own compatibility hash of the engine's settings, so a changed module, a
//! different wasmtime or a different engine config (deadlines on or off) each
//! get their own entry. Loading a compiled artifact runs native code that
//! wasmtime produced, so the directory must be writable by the sidecar's user
//! alone; it is created with mode 0700.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Module;

pub(crate) struct ModuleCache {
    dir: Option<PathBuf>,
}

/// A compiled module, and whether it came from the disk cache.
pub(crate) struct Compiled {
    pub module: Module,
    pub from_cache: bool,
}

/// Hex SHA-256 of a module's WebAssembly binary: its cache key, its identity
/// in the admin listing, and what a config may pin.
pub(crate) fn sha256_hex(wasm: &[u8]) -> String {
    Sha256::digest(wasm)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl ModuleCache {
    pub fn new(dir: Option<PathBuf>) -> Self {
        ModuleCache { dir }
    }

    /// Compiles `wasm` (binary, whose [`sha256_hex`] is `sha256`), or loads
    /// the artifact cached for it.
    pub fn compile(
        &self,
        engine: &wasmtime::Engine,
        wasm: &[u8],
        sha256: &str,
    ) -> wasmtime::Result<Compiled> {
        let Some(path) = self.entry_path(engine, sha256) else {
            let module = Module::new(engine, wasm)?;
            return Ok(Compiled {
                module,
                from_cache: false,
            });
        };
        if path.exists() {
            // SAFETY: the file was written by `Module::serialize` of an engine
            // with the same compatibility hash (it is in the name), into a
            // directory only this user can write. wasmtime still checks the
            // header and refuses artifacts from another configuration.
            match unsafe { Module::deserialize_file(engine, &path) } {
                Ok(module) => {
                    return Ok(Compiled {
                        module,
                        from_cache: true,
                    });
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable cached module: {e}")
                }
            }
        }
        let module = Module::new(engine, wasm)?;
        if let Err(e) = store(&path, &module) {
            tracing::warn!(path = %path.display(), "could not cache compiled module: {e}");
        }
        Ok(Compiled {
            module,
            from_cache: false,
        })
    }

    fn entry_path(&self, engine: &wasmtime::Engine, sha256: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Some(dir.join(format!("{sha256}-{:016x}.cwasm", hasher.finish())))
    }
}

fn store(path: &Path, module: &Module) -> anyhow::Result<()> {
    let dir = path.parent().expect("cache entries live in a directory");
    create_private_dir(dir)?;
    // Write to a temporary name and rename, so a concurrent reader never sees
    // half an artifact.
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, module.serialize()?)?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
