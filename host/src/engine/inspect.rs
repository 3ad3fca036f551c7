//! `wasmstash inspect`: what a module is and whether it meets ABI v1, without
//! needing its config. Uses the same import rules as loading, checks export
//! signatures from the module's types, and instantiates it once (no `init`)
//! only to ask its ABI version.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use wasmtime::ExternType;

use super::cache::sha256_hex;
use super::module::{
    LoadError, Stopped, ask_version, check_imports, export_problems, is_stateful, version_mismatch,
};
use super::printable;
use super::tripwire;
use super::{Engine, EngineSettings};

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
    /// Whether what stopped it was the host, which could not reserve an
    /// instance at all: then no setting of the check's would help.
    #[serde(skip)]
    stopped_by_host: bool,
}

impl Inspection {
    /// Whether the module meets ABI v1, as far as this check could tell.
    pub fn meets_abi(&self) -> bool {
        self.problems.is_empty() && self.stopped_by_limit.is_none()
    }

    /// The report as `wasmstash inspect` prints it, a line per property
    /// and the verdict last.
    pub fn write_text(&self, out: &mut dyn Write, module: &Path) -> std::io::Result<()> {
        writeln!(out, "module      {}", crate::files::shown(module))?;
        writeln!(out, "sha256      {}", self.sha256)?;
        writeln!(out, "size        {} bytes", self.size_bytes)?;
        let version = self.abi_version.map_or("unknown".into(), |v| v.to_string());
        writeln!(out, "abi         {version}")?;
        if let Some((min, max)) = self.memory_pages {
            let max = max.map_or("no maximum".into(), |m| format!("max {} KiB", m * 64));
            writeln!(out, "memory      {} KiB at start, {max}", min * 64)?;
        }
        let stateful = if self.stateful {
            "yes (exports snapshot/restore)"
        } else {
            "no"
        };
        writeln!(out, "stateful    {stateful}")?;
        let imports = if self.imports.is_empty() {
            "none".into()
        } else {
            self.imports.join("\n            ")
        };
        writeln!(out, "imports     {imports}")?;
        writeln!(out, "exports     {}", self.exports.join("\n            "))?;
        // Set only when nothing else was wrong (`engine::inspect`).
        if let Some(why) = (self.stopped_by_limit.as_ref()).filter(|_| self.stopped_by_host) {
            writeln!(out, "verdict     cannot tell: it could not start: {why}")?;
        } else if let Some(why) = &self.stopped_by_limit {
            writeln!(
                out,
                "verdict     cannot tell: it could not start under this check's limits: {why}; \
                 try inspect's --memory-limit-mib or --call-timeout-ms (a pipeline's config \
                 needs the same in engine.memory_limit_mib and engine.call_timeout_ms)"
            )?;
        } else if self.problems.is_empty() {
            writeln!(out, "verdict     meets wasmstash ABI v1")?;
        } else {
            writeln!(out, "verdict     does NOT meet wasmstash ABI v1:")?;
            for problem in &self.problems {
                writeln!(out, "            - {problem}")?;
            }
        }
        Ok(())
    }
}

/// Inspects the module file at `path` under `settings`, without the
/// compiled-module cache: a check should not write one.
pub fn inspect_file(
    path: &Path,
    settings: EngineSettings,
) -> Result<Inspection, Box<dyn std::error::Error>> {
    let settings = EngineSettings {
        cache_dir: None,
        ..settings
    };
    let bytes =
        crate::files::read_capped(path, settings.max_module_bytes, "module").map_err(|e| {
            match super::binary::crate_directory_hint(path) {
                Some(hint) => format!("{e}; {hint}").into(),
                None => Box::<dyn std::error::Error>::from(e),
            }
        })?;
    let engine = Engine::new(settings)?;
    Ok(inspect(&engine, &bytes)?)
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
    let (mut stopped_by_limit, mut stopped_by_host) = (None, false);
    let abi_version = match ask_version(engine, "inspected", &module) {
        Ok(version) => Some(version),
        Err(why) if problems.is_empty() && why.stopped.is_some() => {
            stopped_by_host = why.stopped == Some(Stopped::ByHost);
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
        stopped_by_host,
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
