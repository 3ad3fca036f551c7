//! Compiled modules shared by the filters of one engine.
//!
//! A config may name the same module many times: a built-in in every
//! pipeline, a filter twice in one. Each load would otherwise deserialize
//! a copy of the compiled code of its own (1 to 2.5 MB for a built-in), so
//! a config of a few thousand filters took gigabytes for code alone. A
//! module stays shared while some filter holds it; once the last is
//! dropped (a reload replaced them), the next load of it compiles or reads
//! the disk cache afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use wasmtime::Module;

use super::cache::Compiled;

/// The modules filters of this engine hold, by SHA-256.
#[derive(Default)]
pub(super) struct SharedModules {
    held: Mutex<HashMap<String, (Weak<Holder>, Module)>>,
}

/// What a filter keeps for as long as it uses its module.
pub(crate) struct Holder;

/// A compiled module as a filter holds it.
pub(crate) struct Held {
    pub module: Module,
    /// Whether no compilation was needed: it came from the disk cache, or
    /// another filter of this engine held it already.
    pub from_cache: bool,
    pub holder: Arc<Holder>,
}

impl SharedModules {
    /// The module of SHA-256 `sha256`, if a filter holds it now.
    pub(super) fn find(&self, sha256: &str) -> Option<Held> {
        let mut held = crate::locked(&self.held);
        // Those no filter holds any more go, so that a module a reload
        // dropped is not kept for ever.
        held.retain(|_, (holders, _)| holders.strong_count() > 0);
        let (holders, module) = held.get(sha256)?;
        Some(Held {
            module: module.clone(),
            from_cache: true,
            holder: holders.upgrade()?,
        })
    }

    /// `compiled`, now held, and found by later loads of the same module.
    pub(super) fn hold(&self, sha256: &str, compiled: Compiled) -> Held {
        let holder = Arc::new(Holder);
        let mut held = crate::locked(&self.held);
        // A load that raced this one keeps its own copy; the one found
        // first stays shared.
        if (held.get(sha256)).is_none_or(|(holders, _)| holders.strong_count() == 0) {
            let entry = (Arc::downgrade(&holder), compiled.module.clone());
            held.insert(sha256.to_owned(), entry);
        }
        Held {
            module: compiled.module,
            from_cache: compiled.from_cache,
            holder,
        }
    }
}
