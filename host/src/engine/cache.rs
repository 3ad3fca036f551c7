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
//!
//! The directory is opened once and checked, and every entry is created,
//! read, renamed and removed through that open directory
//! (`files::private::Dir`): a link on `cache_dir`'s path re-pointed later
//! does not move the writes into a directory that was never checked. An
//! entry is never opened through a link at its name, and a temporary is
//! only ever created new, so a link planted at its name is not written
//! through.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::{LazyLock, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::Module;

use crate::files::private::{self, Dir};

pub(crate) struct ModuleCache {
    dir: Option<PathBuf>,
    max_bytes: u64,
    /// `dir` opened, if it may be used: decided at the first use (when it
    /// may be created) and kept, so the warning is given once and every
    /// entry goes into the directory that was checked.
    opened: OnceLock<Option<Dir>>,
}

/// A compiled module, and whether it came from the disk cache.
#[derive(Clone)]
pub(crate) struct Compiled {
    pub module: Module,
    pub from_cache: bool,
}

/// Hex SHA-256 of `bytes`. Of a module's WebAssembly binary, it is its cache
/// key, its identity in the admin listing, and what a config may pin; setup
/// stamps its assets with it too.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl ModuleCache {
    pub fn new(dir: Option<PathBuf>, max_bytes: u64) -> Self {
        ModuleCache {
            dir,
            max_bytes,
            opened: OnceLock::new(),
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
        let Some((dir, name)) = self.entry(engine, sha256, tripwire) else {
            let module = build()?;
            return Ok(Compiled {
                module,
                from_cache: false,
            });
        };
        let path = || self.dir.as_deref().unwrap_or(".".as_ref()).join(&name);
        match load(engine, dir, &name, self.max_bytes) {
            Ok(Some(module)) => {
                return Ok(Compiled {
                    module,
                    from_cache: true,
                });
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(path = ?path(), "ignoring unusable cached module: {e}")
            }
        }
        let module = build()?;
        if std::time::Instant::now() > deadline {
            return Ok(Compiled {
                module,
                from_cache: false,
            });
        }
        match store(dir, &name, &module, self.max_bytes) {
            Ok(()) => prune(dir, &name, self.max_bytes),
            Err(e) => {
                tracing::warn!(path = ?path(), "could not cache compiled module: {e}")
            }
        }
        Ok(Compiled {
            module,
            from_cache: false,
        })
    }

    /// The opened directory and the name of the module's entry in it, if
    /// the cache is used.
    fn entry(
        &self,
        engine: &wasmtime::Engine,
        sha256: &str,
        tripwire: bool,
    ) -> Option<(&Dir, String)> {
        let path = self.dir.as_ref()?;
        let dir = self.opened.get_or_init(|| open_dir(path)).as_ref()?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let tripwire = if tripwire { TRIPWIRE_TAG.as_str() } else { "" };
        let name = format!(
            "{sha256}-{:016x}{tripwire}-{ENTRY_FORMAT}.cwasm",
            hasher.finish()
        );
        Some((dir, name))
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

/// The digest an entry named `name` opens with: of that name, which holds
/// the module's SHA-256 and the engine's settings, and of `artifact`.
fn entry_digest(name: &str, artifact: &[u8]) -> Vec<u8> {
    Sha256::new()
        .chain_update((name.len() as u64).to_le_bytes())
        .chain_update(name)
        .chain_update(artifact)
        .finalize()
        .to_vec()
}

/// Loads the entry `name` of `dir`, if there is one (`None` if not), when
/// it is a regular file and not a link, this user's and writable by nobody
/// else, no larger than the whole cache may be (`max_bytes`, which no entry
/// stored here exceeds), and its digest matches its name and the artifact
/// after it. What is checked is what was opened: a FIFO or device is
/// refused at once, not waited on or read whole. A hit is marked used.
fn load(
    engine: &wasmtime::Engine,
    dir: &Dir,
    name: &str,
    max_bytes: u64,
) -> anyhow::Result<Option<Module>> {
    let file = match dir.open_read(name) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if let Some(why) = crate::files::others_may_write(&file.metadata()?) {
        anyhow::bail!("{why}");
    }
    let marker = file.try_clone()?;
    let entry =
        crate::files::read_open_capped(file, max_bytes, "entry").map_err(|e| match e.kind() {
            std::io::ErrorKind::FileTooLarge => anyhow::anyhow!("{e} (engine.cache_max_mib)"),
            _ => e.into(),
        })?;
    let Some((digest, artifact)) = entry.split_at_checked(DIGEST_BYTES) else {
        anyhow::bail!("too short to be an entry");
    };
    if entry_digest(name, artifact) != digest {
        anyhow::bail!(
            "its digest does not match its name and contents (damaged, or another entry \
             copied to its name)"
        );
    }
    // SAFETY: the artifact is as `Module::serialize` wrote it for this
    // entry's name (the digest says so), that is for this module and an
    // engine with the same compatibility hash, in a directory only this
    // user can write (`open_dir`). wasmtime still checks the header and
    // refuses artifacts from another configuration.
    let module =
        unsafe { Module::deserialize(engine, artifact) }.map_err(|e| anyhow::anyhow!("{e}"))?;
    mark_used(&marker, name);
    Ok(Some(module))
}

fn store(dir: &Dir, name: &str, module: &Module, max_bytes: u64) -> anyhow::Result<()> {
    let artifact = module.serialize()?;
    if (DIGEST_BYTES + artifact.len()) as u64 > max_bytes {
        anyhow::bail!(
            "it takes {} bytes, more than the whole cache may (engine.cache_max_mib)",
            DIGEST_BYTES + artifact.len()
        );
    }
    let mut entry = Vec::with_capacity(DIGEST_BYTES + artifact.len());
    entry.extend_from_slice(&entry_digest(name, &artifact));
    entry.extend_from_slice(&artifact);
    // Write to a temporary name and rename, so a concurrent reader never sees
    // half an artifact.
    let stem = name.strip_suffix(".cwasm").unwrap_or(name);
    let temporary = format!("{stem}.tmp{}", std::process::id());
    // Two engines of one process (the old and the new set, over a reload)
    // may store the same module at once, and would share the temporary: one
    // store at a time (each is one write of about a megabyte).
    static STORING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = crate::locked(&STORING);
    let created = dir.create_new(&temporary).or_else(|e| {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(e);
        }
        // Left by a process of the same id that died mid-write, or a link:
        // the name is removed (a link itself, not what it points to) and
        // created afresh.
        dir.remove(&temporary)?;
        dir.create_new(&temporary)
    });
    let written = created
        .and_then(|mut file| std::io::Write::write_all(&mut file, &entry))
        .and_then(|()| dir.rename(&temporary, name));
    if written.is_err() {
        // Not left behind: on a full disk it would keep the space, outside
        // what pruning counts.
        let _ = dir.remove(&temporary);
    }
    Ok(written?)
}

/// `path` created (0700) if missing and opened, if it is this user's own
/// and writable by no one else; if not, says why, once.
fn open_dir(path: &std::path::Path) -> Option<Dir> {
    let refusal = match private::make_dir(path).and_then(|()| Dir::open(path)) {
        Ok(dir) => match dir
            .metadata()
            .map(|meta| crate::files::others_may_write(&meta))
        {
            Ok(None) => return Some(dir),
            Ok(Some(why)) => format!(
                "{why}; cached code is run as is, so the directory must be writable by this \
                 user alone (chmod go-w, or set engine.cache_dir)"
            ),
            Err(e) => e.to_string(),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => e.to_string(),
        Err(e) => format!("cannot create or open the directory: {e}"),
    };
    tracing::warn!(dir = ?path, "not caching compiled modules: {refusal}");
    None
}

/// Sets an entry's modification time to now: the cache's notion of "used".
/// Through the file that was read, which this user owns (`load` checked),
/// so no second open by name is needed.
fn mark_used(file: &std::fs::File, name: &str) {
    if let Err(e) = file.set_modified(std::time::SystemTime::now()) {
        tracing::debug!(entry = ?name, "could not mark cached module as used: {e}");
    }
}

/// Deletes the entries used longest ago until the directory's entries fit in
/// `max_bytes`, never `kept` (the one just stored). Another process may
/// delete or add entries meanwhile; what cannot be read or removed is left.
fn prune(dir: &Dir, kept: &str, max_bytes: u64) {
    let Ok(names) = dir.names() else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, u64, String)> = names
        .into_iter()
        .filter(|name| name.ends_with(".cwasm"))
        .filter_map(|name| {
            let meta = dir.open_read(&name).and_then(|file| file.metadata()).ok()?;
            Some((meta.modified().ok()?, meta.len(), name))
        })
        .collect();
    let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
    entries.sort();
    for (_, len, name) in entries {
        if total <= max_bytes {
            break;
        }
        if name == kept {
            continue;
        }
        match dir.remove(&name) {
            Ok(()) => {
                total -= len;
                tracing::debug!(entry = ?name, "evicted a cached module");
            }
            Err(e) => tracing::debug!(entry = ?name, "could not evict: {e}"),
        }
    }
}
