//! `wasmstash inspect`: what a module is and whether it meets ABI v1, without
//! needing its config. Uses the same import rules as loading, checks export
//! signatures from the module's types, and instantiates it once (no `init`)
//! only to ask its ABI version.

use serde::Serialize;
use wasmstash_sdk::wire::ABI_VERSION;
use wasmtime::{ExternType, Store};

use super::Engine;
use super::cache::sha256_hex;
use super::module::{LoadError, check_imports, export_problems, is_stateful};
use super::tripwire;

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub sha256: String,
    pub size_bytes: usize,
    pub abi_version: Option<u32>,
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    /// Initial and maximum linear memory in 64 KiB pages, as the module asks.
    pub memory_pages: Option<(u64, Option<u64>)>,
    /// Exports snapshot and restore, so it may keep state.
    pub stateful: bool,
    /// Why the module does not meet ABI v1; empty when it does.
    pub problems: Vec<String>,
}

pub fn inspect(engine: &Engine, wasm_or_wat: &[u8]) -> Result<Inspection, LoadError> {
    let wasm = wat::parse_bytes(wasm_or_wat)
        .map_err(|e| LoadError(format!("not a WebAssembly module (binary or text): {e}")))?;
    let sha256 = sha256_hex(&wasm);
    let module = engine
        .compile(&wasm, &sha256)
        .map_err(|e| LoadError(format!("not a valid WebAssembly module: {e:#}")))?
        .module;
    let mut problems = Vec::new();
    if let Err(e) = check_imports(&module) {
        problems.push(e.0);
    }
    let mut memory_pages = None;
    problems.extend(export_problems(&module));
    match module.get_export("memory") {
        Some(ExternType::Memory(memory)) => {
            memory_pages = Some((memory.minimum(), memory.maximum()))
        }
        _ => problems.push("does not export its memory as `memory`".into()),
    }
    let abi_version = if problems.is_empty() {
        ask_version(engine, &module, &mut problems)
    } else {
        None
    };
    if let Some(version) = abi_version.filter(|&v| v != ABI_VERSION) {
        problems.push(format!(
            "speaks wasmstash ABI version {version}, but this host speaks version {ABI_VERSION}"
        ));
    }
    Ok(Inspection {
        sha256,
        size_bytes: wasm.len(),
        abi_version,
        exports: module
            .exports()
            .filter(|e| !tripwire::is_host_export(e.name()))
            .map(|e| format!("{}: {}", e.name(), describe(&e.ty())))
            .collect(),
        imports: module
            .imports()
            .map(|i| format!("{}::{}: {}", i.module(), i.name(), describe(&i.ty())))
            .collect(),
        memory_pages,
        stateful: is_stateful(&module),
        problems,
    })
}

/// Instantiates without `init` and calls `wasmstash_abi_version`.
fn ask_version(
    engine: &Engine,
    module: &wasmtime::Module,
    problems: &mut Vec<String>,
) -> Option<u32> {
    // The same memory cap as a real instance, and the same deadline, in case
    // the module has a start function.
    let limits = wasmtime::StoreLimitsBuilder::new()
        .memory_size(engine.settings().memory_limit_bytes)
        .build();
    let mut store = Store::new(engine.wasmtime(), limits);
    store.limiter(|limits| limits);
    let mut linker = wasmtime::Linker::new(engine.wasmtime());
    // Inspection never runs filter code beyond the version export, so the
    // imports are stubs that trap if called.
    if let Err(e) = linker.define_unknown_imports_as_traps(module) {
        problems.push(format!("cannot link: {e}"));
        return None;
    }
    let result = tripwire::instantiate(engine.watchdog(), &linker, &mut store, module).and_then(
        |(instance, tripwire)| {
            let version =
                instance.get_typed_func::<(), u32>(&mut store, "wasmstash_abi_version")?;
            tripwire::guarded(tripwire.as_deref(), || version.call(&mut store, ()))
        },
    );
    match result {
        Ok(version) => Some(version),
        Err(e) => {
            problems.push(format!("asking the ABI version failed: {}", e.root_cause()));
            None
        }
    }
}

fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(func) => format!("{func}"),
        ExternType::Memory(memory) => match memory.maximum() {
            Some(max) => format!("memory, {} to {max} pages", memory.minimum()),
            None => format!("memory, {} pages, no maximum", memory.minimum()),
        },
        ExternType::Global(_) => "global".into(),
        ExternType::Table(_) => "table".into(),
        ExternType::Tag(_) => "tag".into(),
    }
}
