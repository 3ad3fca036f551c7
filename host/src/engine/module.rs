//! Loading a filter module: compile (or fetch from the cache), check that it
//! imports nothing beyond ABI v1, and prove it works by instantiating it once
//! with its config, so that every problem surfaces at load time with a clear
//! message rather than on the first event.

use std::sync::Arc;

use wasmstash_sdk::wire;
use wasmtime::{ExternType, Linker};

use super::Engine;
use super::cache::sha256_hex;
use super::instance::{FilterInstance, StoreState, linker};
use crate::event_check::CheckedEvent;

/// Why a module could not be loaded; the message is meant for an operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

/// The optional export that takes keyed batches (see `filters/sdk/ABI.md`).
pub(crate) const KEYED_PROCESS: &str = "wasmstash_process_keyed";

/// The imports ABI v1 offers; anything else (WASI above all) is refused.
const ALLOWED_IMPORTS: &[&str] = &["log", "now_unix_nanos", "metric_add"];

/// A compiled, validated filter module with its config, ready to instantiate.
#[derive(Clone)]
pub struct FilterModule {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    name: String,
    engine: Engine,
    linker: Linker<StoreState>,
    module: wasmtime::Module,
    config_json: Vec<u8>,
    sha256: String,
    from_cache: bool,
    stateful: bool,
    /// Exports `wasmstash_process_keyed`, so takes batches that say where
    /// each event's top-level keys are.
    keyed: bool,
}

impl FilterModule {
    /// Loads a module from WebAssembly binary or text. `name` labels the filter
    /// in logs, metrics and failure records.
    pub fn load(
        engine: &Engine,
        name: &str,
        wasm_or_wat: &[u8],
        config_json: &[u8],
    ) -> Result<FilterModule, LoadError> {
        FilterModule::load_pinned(engine, name, wasm_or_wat, config_json, None)
    }

    /// As [`FilterModule::load`], but refuses the module, before compiling or
    /// running any of it, unless its SHA-256 is `pinned_sha256`.
    pub fn load_pinned(
        engine: &Engine,
        name: &str,
        wasm_or_wat: &[u8],
        config_json: &[u8],
        pinned_sha256: Option<&str>,
    ) -> Result<FilterModule, LoadError> {
        let wasm = wat::parse_bytes(wasm_or_wat)
            .map_err(|e| LoadError(format!("not a WebAssembly module (binary or text): {e}")))?;
        let sha256 = sha256_hex(&wasm);
        if let Some(pinned) = pinned_sha256
            && !pinned.eq_ignore_ascii_case(&sha256)
        {
            return Err(LoadError(format!(
                "the module's SHA-256 is {sha256}, but the config pins {pinned}; refusing a module that changed"
            )));
        }
        let compiled = engine
            .compile(&wasm, &sha256)
            .map_err(|e| LoadError(format!("not a valid WebAssembly module: {e:#}")))?;
        check_imports(&compiled.module)?;
        let stateful = compiled.module.get_export("wasmstash_snapshot").is_some();
        let keyed = compiled.module.get_export(KEYED_PROCESS).is_some();
        let module = FilterModule {
            inner: Arc::new(ModuleInner {
                name: name.to_owned(),
                engine: engine.clone(),
                linker: linker(engine.wasmtime()),
                module: compiled.module,
                config_json: config_json.to_vec(),
                sha256,
                from_cache: compiled.from_cache,
                stateful,
                keyed,
            }),
        };
        // One throw-away instance proves the exports, the ABI version and the
        // config are all right before any event depends on them.
        module.instantiate()?;
        Ok(module)
    }

    /// A fresh instance, initialised with the module's config.
    pub fn instantiate(&self) -> Result<FilterInstance, LoadError> {
        FilterInstance::new(self)
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Hex SHA-256 of the module's WebAssembly binary.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// Whether the module keeps state (exports `wasmstash_snapshot`): the
    /// host then shares one instance among a pipeline's workers and
    /// checkpoints it before every batch.
    pub fn is_stateful(&self) -> bool {
        self.inner.stateful
    }

    /// Writes `events` into `out` as the batch the module takes: keyed, with
    /// each event's top-level key spans (which the check found as it
    /// accepted the event), when it exports [`KEYED_PROCESS`], else plain.
    pub(crate) fn encode_batch(&self, events: &[&CheckedEvent], out: &mut Vec<u8>) {
        if self.inner.keyed {
            let keyed = events.iter().map(|event| (event.text(), event.key_spans()));
            wire::encode_keyed_batch(keyed, out);
        } else {
            wire::encode_batch(events.iter().map(|event| event.text()), out);
        }
    }

    /// The export that takes the batches [`Self::encode_batch`] writes.
    pub(crate) fn process_export(&self) -> &'static str {
        if self.inner.keyed {
            KEYED_PROCESS
        } else {
            "wasmstash_process"
        }
    }

    /// Whether the compiled code came from the on-disk cache.
    pub fn from_cache(&self) -> bool {
        self.inner.from_cache
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn linker(&self) -> &Linker<StoreState> {
        &self.inner.linker
    }

    pub(crate) fn wasmtime_module(&self) -> &wasmtime::Module {
        &self.inner.module
    }

    pub(crate) fn config_json(&self) -> &[u8] {
        &self.inner.config_json
    }
}

pub(super) fn check_imports(module: &wasmtime::Module) -> Result<(), LoadError> {
    for import in module.imports() {
        let allowed = import.module() == "wasmstash"
            && ALLOWED_IMPORTS.contains(&import.name())
            && matches!(import.ty(), ExternType::Func(_));
        if !allowed {
            return Err(LoadError(format!(
                "module imports `{}::{}`, which wasmstash does not provide: filters get no WASI, \
                 filesystem, network or environment access, only the `wasmstash` imports of ABI v1 ({})",
                import.module(),
                import.name(),
                ALLOWED_IMPORTS.join(", ")
            )));
        }
    }
    Ok(())
}
