//! Compiled modules on disk, so a restart (or a second process) does not pay
//! for Cranelift again.
//!
//! Entries are keyed by the SHA-256 of the module's bytes, by wasmtime's
//! own compatibility hash of the engine's settings and by whether the
//! deadline's tripwire was compiled in (and by which version of it), so a
//! changed module, a different wasmtime, a different engine config
//! (deadlines on or off) or a changed rewrite each get their own entry.
//!
//! Loading a compiled artifact runs native code that wasmtime produced,
//! with no check of that code, so two guards come first. The directory and
//! each entry must be the sidecar user's own and writable by nobody else:
//! the directory is created 0700 and entries written 0600, and a directory
//! or entry others may write is not used (the directory with a warning,
//! the entry recompiled). And each entry begins with the SHA-256 of its
//! own name and the artifact after it, checked before loading, so a file
//! damaged on disk or cut short is recompiled instead of run (a flipped
//! byte in the code section used to crash the process with a trap), and so
//! is a sound entry of another module copied or renamed to this one's name
//! (which used to run the other module's code under this one's name and
//! pinned SHA-256).
//!
//! Every new module version or engine setting adds an entry of about a
//! megabyte, so the directory is bounded (`engine.cache_max_mib`): after each
//! store, the entries used longest ago go until the rest fit. A hit refreshes
//! its entry's time, so what is in use stays.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::Module;

pub(crate) struct ModuleCache {
    dir: Option<PathBuf>,
    max_bytes: u64,
    /// Whether `dir` may be used, decided at the first use (when it may be
    /// created) and kept, so the warning is given once.
    usable: OnceLock<bool>,
}

/// A compiled module, and whether it came from the disk cache.
#[derive(Clone)]
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
    pub fn new(dir: Option<PathBuf>, max_bytes: u64) -> Self {
        ModuleCache {
            dir,
            max_bytes,
            usable: OnceLock::new(),
        }
    }

    /// Loads the artifact cached for the module whose [`sha256_hex`] is
    /// `sha256` (compiled with the deadline's tripwire if `tripwire`), or
    /// compiles it with `build` and caches the result. A compilation that
    /// ends after `deadline` was given up by the load that asked for it
    /// (`compile`), and is not cached: the module stays refused rather than
    /// loading from the cache next time.
    pub fn compile<E>(
        &self,
        engine: &wasmtime::Engine,
        sha256: &str,
        tripwire: bool,
        deadline: std::time::Instant,
        build: impl FnOnce() -> Result<Module, E>,
    ) -> Result<Compiled, E> {
        let Some(path) = self.entry_path(engine, sha256, tripwire) else {
            let module = build()?;
            return Ok(Compiled {
                module,
                from_cache: false,
            });
        };
        if path.exists() {
            match load(engine, &path, self.max_bytes) {
                Ok(module) => {
                    mark_used(&path);
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
        let module = build()?;
        if std::time::Instant::now() > deadline {
            return Ok(Compiled {
                module,
                from_cache: false,
            });
        }
        match store(&path, &module, self.max_bytes) {
            Ok(()) => prune(&path, self.max_bytes),
            Err(e) => {
                tracing::warn!(path = %path.display(), "could not cache compiled module: {e}")
            }
        }
        Ok(Compiled {
            module,
            from_cache: false,
        })
    }

    fn entry_path(
        &self,
        engine: &wasmtime::Engine,
        sha256: &str,
        tripwire: bool,
    ) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        if !*self.usable.get_or_init(|| usable_dir(dir)) {
            return None;
        }
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let tripwire = if tripwire { TRIPWIRE_TAG.as_str() } else { "" };
        Some(dir.join(format!(
            "{sha256}-{:016x}{tripwire}-{ENTRY_FORMAT}.cwasm",
            hasher.finish()
        )))
    }
}

/// Marks entries compiled with the tripwire, by a digest of the rewrite's
/// source, of the host's side of it (the names it exports) and of the
/// versions of the crates that read and write the module: a changed
/// rewrite never loads an artifact of the old one, and there is no version
/// to remember to bump. A change to either file's comments costs one
/// recompile per module.
pub(super) static TRIPWIRE_TAG: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::new()
        .chain_update(include_bytes!("tripwire/rewrite.rs"))
        .chain_update(include_bytes!("tripwire.rs"))
        .chain_update(env!("WASMSTASH_REWRITE_CRATES"))
        .finalize();
    let short: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("-tripwire-{short}")
});

/// Bytes of the digest that opens each entry.
const DIGEST_BYTES: usize = 32;

/// In each entry's name: an entry that opens with the digest of its name
/// and artifact. A binary from before (no digest, or `d1`: of the artifact
/// alone), sharing the directory, looks for other names, so the two do not
/// keep overwriting each other's entries.
const ENTRY_FORMAT: &str = "d2";

/// The digest an entry at `path` opens with: of its file name, which holds
/// the module's SHA-256 and the engine's settings, and of `artifact`.
fn entry_digest(path: &Path, artifact: &[u8]) -> Vec<u8> {
    let name = path.file_name().unwrap_or_default().as_encoded_bytes();
    Sha256::new()
        .chain_update((name.len() as u64).to_le_bytes())
        .chain_update(name)
        .chain_update(artifact)
        .finalize()
        .to_vec()
}

/// Loads the entry at `path` if it is this user's, writable by nobody else,
/// a regular file no larger than the whole cache may be (`max_bytes`, which
/// no entry stored here exceeds), and its digest matches its name and the
/// artifact after it. Looked at before it is opened: opening a FIFO would
/// wait for a writer, and a device or a huge file would be read whole.
fn load(engine: &wasmtime::Engine, path: &Path, max_bytes: u64) -> anyhow::Result<Module> {
    if let Some(why) = crate::files::others_may_write(&std::fs::metadata(path)?) {
        anyhow::bail!("{why}");
    }
    let entry =
        crate::files::read_capped(path, max_bytes, "entry").map_err(|e| match e.kind() {
            std::io::ErrorKind::FileTooLarge => anyhow::anyhow!("{e} (engine.cache_max_mib)"),
            _ => e.into(),
        })?;
    let Some((digest, artifact)) = entry.split_at_checked(DIGEST_BYTES) else {
        anyhow::bail!("too short to be an entry");
    };
    if entry_digest(path, artifact) != digest {
        anyhow::bail!(
            "its digest does not match its name and contents (damaged, or another entry \
             copied to its name)"
        );
    }
    // SAFETY: the artifact is as `Module::serialize` wrote it for this
    // entry's name (the digest says so), that is for this module and an
    // engine with the same compatibility hash, in a directory only this
    // user can write
    // (`usable_dir`). wasmtime still checks the header and refuses
    // artifacts from another configuration.
    unsafe { Module::deserialize(engine, artifact) }.map_err(|e| anyhow::anyhow!("{e}"))
}

fn store(path: &Path, module: &Module, max_bytes: u64) -> anyhow::Result<()> {
    let dir = path.parent().expect("cache entries live in a directory");
    create_private_dir(dir)?;
    let artifact = module.serialize()?;
    if (DIGEST_BYTES + artifact.len()) as u64 > max_bytes {
        anyhow::bail!(
            "it takes {} bytes, more than the whole cache may (engine.cache_max_mib)",
            DIGEST_BYTES + artifact.len()
        );
    }
    let mut entry = Vec::with_capacity(DIGEST_BYTES + artifact.len());
    entry.extend_from_slice(&entry_digest(path, &artifact));
    entry.extend_from_slice(&artifact);
    // Write to a temporary name and rename, so a concurrent reader never sees
    // half an artifact.
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::File::options();
    options.write(true).create(true).truncate(true);
    // Readable and writable by this user alone, whatever the umask.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&temporary)
        .and_then(|mut file| std::io::Write::write_all(&mut file, &entry))
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        // Not left behind: on a full disk it would keep the space, outside
        // what pruning counts.
        let _ = std::fs::remove_file(&temporary);
    }
    Ok(written?)
}

/// Whether `dir` (created here if missing) is this user's own and
/// writable by no one else; if not, says why, once.
fn usable_dir(dir: &Path) -> bool {
    if let Err(e) = create_private_dir(dir) {
        tracing::warn!(dir = %dir.display(), "not caching compiled modules: cannot create the directory: {e}");
        return false;
    }
    match others_may_write(dir) {
        Ok(None) => true,
        Ok(Some(why)) => {
            tracing::warn!(
                dir = %dir.display(),
                "not caching compiled modules: {why}; cached code is run as is, so the directory \
                 must be writable by this user alone (chmod go-w, or set engine.cache_dir)"
            );
            false
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), "not caching compiled modules: {e}");
            false
        }
    }
}

/// Why someone other than this user could change `dir`'s entries, if so.
fn others_may_write(dir: &Path) -> std::io::Result<Option<String>> {
    Ok(crate::files::others_may_write(&std::fs::metadata(dir)?))
}

/// Sets an entry's modification time to now: the cache's notion of "used".
fn mark_used(path: &Path) {
    let touched = std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(std::time::SystemTime::now()));
    if let Err(e) = touched {
        tracing::debug!(path = %path.display(), "could not mark cached module as used: {e}");
    }
}

/// Deletes the entries used longest ago until the directory's entries fit in
/// `max_bytes`, never `kept` (the one just stored). Another process may
/// delete or add entries meanwhile; what cannot be read or removed is left.
fn prune(kept: &Path, max_bytes: u64) {
    let Some(dir) = kept.parent() else { return };
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = listing
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "cwasm"))
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            Some((meta.modified().ok()?, meta.len(), entry.path()))
        })
        .collect();
    let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
    entries.sort();
    for (_, len, path) in entries {
        if total <= max_bytes {
            break;
        }
        if path == kept {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                total -= len;
                tracing::debug!(path = %path.display(), "evicted a cached module");
            }
            Err(e) => tracing::debug!(path = %path.display(), "could not evict: {e}"),
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
