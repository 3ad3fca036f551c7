//! `wasmstash inspect`: what a module is and whether it meets ABI v1, without
//! needing its config. Uses the same import rules as loading, checks export
//! signatures from the module's types, and instantiates it once (no `init`)
//! only to ask its ABI version.

use serde::Serialize;
use wasmtime::ExternType;

use super::Engine;
use super::cache::sha256_hex;
use super::module::{
    LoadError, ask_version, check_imports, export_problems, is_stateful, version_mismatch,
};
use super::printable;
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
    /// Why its ABI version could not be asked, when what stopped it was the
    /// memory limit or the deadline this check ran under: then whether it
    /// meets ABI v1 is not known, and looser limits may tell.
    pub stopped_by_limit: Option<String>,
}

pub fn inspect(engine: &Engine, wasm_or_wat: &[u8]) -> Result<Inspection, LoadError> {
    let wasm = super::binary::core_module(wasm_or_wat, engine.settings())?;
    let sha256 = sha256_hex(&wasm);
    super::shape::check(&wasm).map_err(LoadError::module)?;
    let module = engine.compile(&wasm, &sha256)?.module;
    let mut problems = Vec::new();
    if let Err(e) = check_imports(&module) {
        problems.push(e.to_string());
    }
    let mut memory_pages = None;
    problems.extend(export_problems(&module));
    match module.get_export("memory") {
        Some(ExternType::Memory(memory)) => {
            memory_pages = Some((memory.minimum(), memory.maximum()))
        }
        Some(_) => problems.push("export `memory` is not a memory".into()),
        None => problems.push("does not export its memory as `memory`".into()),
    }
    // Asked whatever else is wrong: another version explains the rest.
    let mut stopped_by_limit = None;
    let abi_version = match ask_version(engine, &module) {
        Ok(version) => Some(version),
        Err(why) if problems.is_empty() && why.limit => {
            stopped_by_limit = Some(why.message);
            None
        }
        Err(why) if problems.is_empty() => {
            problems.push(why.message);
            None
        }
        Err(_) => None,
    };
    if let Some(mismatch) = abi_version.and_then(version_mismatch) {
        problems.insert(0, mismatch);
    }
    Ok(Inspection {
        sha256,
        size_bytes: wasm.len(),
        abi_version,
        exports: module
            .exports()
            .filter(|e| !tripwire::is_host_export(e.name()))
            .map(|e| format!("{}: {}", printable::name(e.name()), describe(&e.ty())))
            .collect(),
        imports: module
            .imports()
            .map(|i| {
                let (module, name) = (printable::name(i.module()), printable::name(i.name()));
                format!("{module}::{name}: {}", describe(&i.ty()))
            })
            .collect(),
        memory_pages,
        stateful: is_stateful(&module),
        problems,
        stopped_by_limit,
    })
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
