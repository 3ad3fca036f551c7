//! Loading a filter module: compile (or fetch from the cache), check that it
//! imports nothing beyond ABI v1, and prove it works by instantiating it once
//! with its config, so that every problem surfaces at load time with a clear
//! message rather than on the first event.

use std::sync::Arc;

use wasmstash_sdk::plumbing::wire;
use wasmtime::{ExternType, Linker, Store, ValType};

use super::Engine;
use super::cache::sha256_hex;
use super::imports::{StoreState, linker};
use super::instance::FilterInstance;
use super::limits::InstanceLimits;
use super::log_gate::{self, LogGate};
use super::printable;
use super::tripwire;
use crate::event_check::CheckedEvent;

/// Why a module could not be loaded; the message is meant for an operator.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct LoadError {
    message: String,
    kind: LoadErrorKind,
}

/// Where loading stopped, for a caller that points the operator at a
/// different file for each: the module, or the config it was given
/// (`wasmstash test` names the crate's `config.json` only for `Init`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// The module could not be read, compiled, checked against ABI v1 or
    /// instantiated.
    Module,
    /// The module loaded, but its `wasmstash_init` refused the config
    /// ("invalid config: ...") or failed running it ("init failed: ...").
    Init,
}

impl LoadError {
    /// A problem with the module itself. The message is made printable
    /// here, once for all: it may quote what the module chose (a name in a
    /// compiler's error, a function name in a trap's backtrace).
    pub(crate) fn module(message: impl Into<String>) -> LoadError {
        LoadError {
            message: printable::printable(&message.into()),
            kind: LoadErrorKind::Module,
        }
    }

    /// The filter's init refused its config or failed.
    pub(crate) fn init(message: String) -> LoadError {
        LoadError {
            message: printable::printable(&message),
            kind: LoadErrorKind::Init,
        }
    }

    pub fn kind(&self) -> LoadErrorKind {
        self.kind
    }
}

/// The optional export that takes keyed batches (see `filters/sdk/ABI.md`).
pub(crate) const KEYED_PROCESS: &str = "wasmstash_process_keyed";

/// The imports ABI v1 offers; anything else (WASI above all) is refused.
const ALLOWED_IMPORTS: &[&str] = &["log", "now_unix_nanos", "metric_add"];

/// The signature of each import in [`ALLOWED_IMPORTS`] (ABI v1).
fn import_signature(name: &str) -> (Vec<ValType>, Vec<ValType>) {
    use ValType::{I32, I64};
    match name {
        "log" => (vec![I32, I32, I32], vec![]),
        "now_unix_nanos" => (vec![], vec![I64]),
        _ => (vec![I32, I32, I64], vec![]),
    }
}

/// Whether `found`, a module's import of the ABI's function `name`, has
/// the type the host gives that function.
fn has_abi_signature(name: &str, found: &wasmtime::FuncType) -> bool {
    let (params, results) = import_signature(name);
    let same = |a: &[ValType], b: Vec<ValType>| {
        a.len() == b.len() && a.iter().zip(&b).all(|(a, b)| ValType::eq(a, b))
    };
    same(&params, found.params().collect()) && same(&results, found.results().collect())
}

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
    /// Keeps `module` shared with the engine's other filters of it.
    _holder: Arc<super::shared_modules::Holder>,
    stateful: bool,
    /// Exports `wasmstash_process_keyed`, so takes batches that say where
    /// each event's top-level keys are.
    keyed: bool,
    /// Shared by every instance of this filter, in every worker.
    log_gate: Arc<LogGate>,
    /// The host's warnings about this filter's failed calls, shared by
    /// every worker's stage.
    failure_warnings: LogGate,
    /// Its own ration for the errors that say state was lost.
    lost_state_errors: LogGate,
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
        let wasm = super::binary::core_module(wasm_or_wat, engine.settings())?;
        let sha256 = sha256_hex(&wasm);
        if let Some(pinned) = pinned_sha256
            && !pinned.eq_ignore_ascii_case(&sha256)
        {
            return Err(LoadError::module(format!(
                "the module's SHA-256 is {sha256}, but the config pins {pinned}; refusing a module that changed"
            )));
        }
        super::shape::check(&wasm).map_err(LoadError::module)?;
        let compiled = engine.compile(&wasm, &sha256)?;
        let imports = check_imports(&compiled.module).err().map(|e| e.message);
        if let Some(problem) =
            imports.or_else(|| export_problems(&compiled.module).into_iter().next())
        {
            // A module for another ABI version is told so, not what else
            // it lacks.
            let mismatch = ask_version(engine, name, &compiled.module)
                .ok()
                .and_then(version_mismatch);
            return Err(LoadError::module(mismatch.unwrap_or(problem)));
        }
        let stateful = is_stateful(&compiled.module);
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
                _holder: compiled.holder,
                stateful,
                keyed,
                log_gate: Arc::new(LogGate::new(name, log_gate::FILTER_LINES)),
                failure_warnings: LogGate::new(name, log_gate::FAILURE_WARNINGS),
                lost_state_errors: LogGate::new(name, log_gate::LOST_STATE_ERRORS),
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

    /// Whether the module keeps state (exports snapshot and restore): the
    /// host then shares one instance among a pipeline's workers and
    /// checkpoints it every `engine.checkpoint_interval_ms`.
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

    pub(crate) fn log_gate(&self) -> Arc<LogGate> {
        Arc::clone(&self.inner.log_gate)
    }

    /// Whether the host may warn of one more of this filter's failed calls
    /// now (each is in its events' failure records either way).
    pub(crate) fn may_warn_of_failure(&self) -> bool {
        self.inner.failure_warnings.admit()
    }

    /// Whether the host may report one more loss of this filter's state
    /// (a restore refused, a re-run cut short) now.
    pub(crate) fn may_report_lost_state(&self) -> bool {
        self.inner.lost_state_errors.admit()
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
        let provided = import.module() == "wasmstash" && ALLOWED_IMPORTS.contains(&import.name());
        if provided && !matches!(import.ty(), ExternType::Func(_)) {
            let (params, results) = import_signature(import.name());
            return Err(LoadError::module(format!(
                "module imports `wasmstash::{}` as a {}, but wasmstash provides it as a function, {}",
                import.name(),
                extern_kind(&import.ty()),
                signature(params, results)
            )));
        }
        if !provided {
            return Err(LoadError::module(format!(
                "module imports `{}::{}`, which wasmstash does not provide: filters get no WASI, \
                 filesystem, network or environment access, only the `wasmstash` imports of ABI v1 ({})",
                printable::name(import.module()),
                printable::name(import.name()),
                ALLOWED_IMPORTS.join(", ")
            )));
        }
        if let ExternType::Func(found) = import.ty()
            && !has_abi_signature(import.name(), &found)
        {
            let (params, results) = import_signature(import.name());
            return Err(LoadError::module(format!(
                "import `wasmstash::{}` has the wrong signature for ABI v1: expected {}, found {}",
                import.name(),
                signature(params, results),
                signature(found.params().collect(), found.results().collect())
            )));
        }
    }
    Ok(())
}

fn extern_kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "function",
        ExternType::Global(_) => "global",
        ExternType::Table(_) => "table",
        ExternType::Memory(_) => "memory",
        ExternType::Tag(_) => "tag",
    }
}

/// Exports of ABI v1: name, parameter count (all i32), result, required.
const EXPORTS: &[(&str, usize, Option<ValType>, bool)] = &[
    ("wasmstash_abi_version", 0, Some(ValType::I32), true),
    ("wasmstash_alloc", 1, Some(ValType::I32), true),
    ("wasmstash_free", 2, None, true),
    ("wasmstash_init", 2, Some(ValType::I64), true),
    ("wasmstash_process", 2, Some(ValType::I64), true),
    ("wasmstash_process_keyed", 2, Some(ValType::I64), false),
    (SNAPSHOT, 0, Some(ValType::I64), false),
    (RESTORE, 2, Some(ValType::I64), false),
];

const SNAPSHOT: &str = "wasmstash_snapshot";
const RESTORE: &str = "wasmstash_restore";

/// What keeps `module`'s function exports from meeting ABI v1, each with
/// the signature expected and the one found; empty when they meet it.
/// Loading refuses on the first; `inspect` lists them all.
pub(super) fn export_problems(module: &wasmtime::Module) -> Vec<String> {
    let mut problems = Vec::new();
    let required = EXPORTS.iter().filter(|export| export.3);
    let exports_none = required
        .clone()
        .all(|export| module.get_export(export.0).is_none());
    if exports_none {
        // Not one of them: the author's likeliest mistake is a crate built
        // without the SDK's export macro, which writes them all.
        let names: Vec<&str> = required.map(|export| export.0).collect();
        problems.push(format!(
            "module exports none of the functions ABI v1 requires ({}); a filter written \
             with the Rust SDK exports them with `wasmstash_sdk::export_filter!(YourFilter);` \
             (filters/README.md)",
            names.join(", ")
        ));
    }
    for &(name, params, ref result, required) in EXPORTS {
        match module.get_export(name) {
            Some(ExternType::Func(found)) => {
                let params_ok = found.params().len() == params
                    && found.params().all(|p| matches!(p, ValType::I32));
                let results: Vec<ValType> = found.results().collect();
                let results_ok = match result {
                    None => results.is_empty(),
                    Some(want) => results.len() == 1 && ValType::eq(&results[0], want),
                };
                if !(params_ok && results_ok) {
                    let expected = signature(
                        vec![ValType::I32; params],
                        result.clone().into_iter().collect(),
                    );
                    let found = signature(found.params().collect(), results);
                    problems.push(format!(
                        "export `{name}` has the wrong signature for ABI v1: expected {expected}, found {found}"
                    ));
                }
            }
            Some(_) => problems.push(format!("export `{name}` is not a function")),
            None if required && !exports_none => problems.push(format!(
                "module does not export the function `{name}` that ABI v1 requires"
            )),
            None => {}
        }
    }
    if let Some(ExternType::Memory(memory)) = module.get_export("memory")
        && let Some(most) = memory.maximum()
        && most < MIN_MEMORY_PAGES
    {
        problems.push(format!(
            "its memory may grow to {most} page(s) of 64 KiB at most, but the host's input \
             buffer alone takes 64 KiB (filters/sdk/ABI.md, \"Buffers and ownership\"): \
             give it a maximum of at least {MIN_MEMORY_PAGES} pages, or none"
        ));
    }
    let has = |name| module.get_export(name).is_some();
    if has(SNAPSHOT) != has(RESTORE) {
        let (present, absent) = if has(SNAPSHOT) {
            (SNAPSHOT, RESTORE)
        } else {
            (RESTORE, SNAPSHOT)
        };
        problems.push(format!(
            "exports `{present}` but not `{absent}`: a stateful module exports both (ABI v1), \
             or its state could be saved but never restored"
        ));
    }
    problems
}

/// The fewest pages a module's memory must be able to reach: the host's
/// input buffer is at least 64 KiB (`FilterInstance`'s input), besides
/// whatever the module keeps there itself.
const MIN_MEMORY_PAGES: u64 = 2;

/// A function type as the text format writes it, e.g.
/// `(func (param i32) (result i64))`.
fn signature(params: Vec<ValType>, results: Vec<ValType>) -> String {
    let params: String = params.iter().map(|p| format!(" (param {p})")).collect();
    let results: String = results.iter().map(|r| format!(" (result {r})")).collect();
    format!("(func{params}{results})")
}

/// Whether `module` keeps state: it exports snapshot and restore (loading
/// refuses one without the other).
pub(super) fn is_stateful(module: &wasmtime::Module) -> bool {
    exports_state(|name| module.get_export(name).is_some())
}

/// [`is_stateful`]'s rule for a module not yet compiled (WebAssembly or its
/// text format), read from its export section: for `serve` to claim the
/// state's lock before it compiles anything. The compiled module has the
/// last word; bytes that cannot be parsed say no here, and their load says
/// why. Text is made a binary within `settings`' bounds on compiling.
pub(crate) fn declares_state(wasm_or_wat: &[u8], settings: &super::EngineSettings) -> bool {
    let Ok(wasm) = super::binary::core_module(wasm_or_wat, settings) else {
        return false;
    };
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        match payload {
            Ok(wasmparser::Payload::ExportSection(exports)) => {
                let names: Vec<&str> = exports.into_iter().flatten().map(|e| e.name).collect();
                return exports_state(|name| names.contains(&name));
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// The one rule for a stateful module, over what `has` says it exports.
fn exports_state(has: impl Fn(&str) -> bool) -> bool {
    has(SNAPSHOT) && has(RESTORE)
}

/// Why a module that answers `found` to `wasmstash_abi_version` cannot run
/// here, if it cannot.
pub(super) fn version_mismatch(found: u32) -> Option<String> {
    (found != wire::ABI_VERSION).then(|| {
        format!(
            "module speaks wasmstash ABI version {found}, but this host speaks version {}",
            wire::ABI_VERSION
        )
    })
}

/// Why a module's ABI version could not be asked.
pub(super) struct VersionError {
    pub message: String,
    /// What stopped it, when it was no fault of the module's own.
    pub stopped: Option<Stopped>,
}

/// What stopped a module that did nothing wrong, as far as anyone can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stopped {
    /// The memory limit or the deadline, which looser settings might let
    /// it pass.
    ByLimit,
    /// The host could not reserve an instance's address space at all.
    ByHost,
}

/// Instantiates without `init` and calls `wasmstash_abi_version`; `name`
/// is the filter's, for what the module logs while it starts.
pub(super) fn ask_version(
    engine: &Engine,
    name: &str,
    module: &wasmtime::Module,
) -> Result<u32, VersionError> {
    // The store, limits, deadline and host functions of a real instance, so
    // that a start function runs here as it would in `run` (it may log or
    // read the clock, as the ABI lets it, and is held to the same checks).
    let mut store = Store::new(
        engine.wasmtime(),
        StoreState::standalone(name, engine.settings()),
    );
    store.limiter(|state| &mut state.limits as &mut dyn wasmtime::ResourceLimiter);
    let mut linker = linker(engine.wasmtime());
    // Function imports the ABI has not, or has with another type (as a
    // later version might), are refused elsewhere (`check_imports`); here
    // they stand in as traps of the module's own type, so that the version
    // can still be asked of such a module.
    let cannot_link = |e: wasmtime::Error| VersionError {
        message: format!("cannot link: {e}"),
        stopped: None,
    };
    linker.allow_shadowing(true);
    for import in module.imports() {
        if let ExternType::Func(found) = import.ty()
            && import.module() == "wasmstash"
            && ALLOWED_IMPORTS.contains(&import.name())
            && !has_abi_signature(import.name(), &found)
        {
            let name = import.name().to_owned();
            let trap = move |_: wasmtime::Caller<'_, StoreState>, _: &[_], _: &mut [_]| {
                Err(wasmtime::Error::msg(format!(
                    "`wasmstash::{name}` has another type"
                )))
            };
            (linker.func_new(import.module(), import.name(), found, trap)).map_err(cannot_link)?;
        }
    }
    (linker.define_unknown_imports_as_traps(module)).map_err(cannot_link)?;
    let (instance, tripwire) = tripwire::instantiate(
        engine.watchdog(),
        &linker,
        &mut store,
        module,
        |state, tripwire| state.tripwire = Some(tripwire),
    )
    .map_err(|e| {
        version_error(
            engine,
            module,
            "cannot instantiate",
            e,
            &mut store.data_mut().limits,
        )
    })?;
    let failed = |store: &mut Store<StoreState>, e| {
        version_error(
            engine,
            module,
            "asking the ABI version failed",
            e,
            &mut store.data_mut().limits,
        )
    };
    let version = (instance.get_typed_func::<(), u32>(&mut store, "wasmstash_abi_version"))
        .map_err(|e| failed(&mut store, e))?;
    tripwire::guarded(tripwire.as_deref(), || version.call(&mut store, ()))
        .map_err(|e| failed(&mut store, e))
}

/// What stopped a module's start or its version export, in a line, and
/// whether it was a limit or the host.
fn version_error(
    engine: &Engine,
    module: &wasmtime::Module,
    step: &str,
    e: wasmtime::Error,
    limits: &mut InstanceLimits,
) -> VersionError {
    let (message, stopped) = match e.downcast_ref::<wasmtime::Trap>() {
        // The host's own limit: `inspect` cannot tell, rather than blame
        // the module.
        _ if let Some(why) = super::limits::host_cannot_reserve(&e, module) => {
            (format!("{step}: {why}"), Some(Stopped::ByHost))
        }
        _ if limits.memory_exceeded.is_some() => {
            let why = limits.memory_exceeded.take().unwrap_or_default();
            (format!("{step}: {why}"), Some(Stopped::ByLimit))
        }
        // Its start function, or the version export, never returned.
        Some(wasmtime::Trap::Interrupt) => {
            let limit = (engine.settings().call_timeout)
                .map(|t| format!(" of {} ms", t.as_millis()))
                .unwrap_or_default();
            let message = format!(
                "the module ran past the deadline{limit} while starting or asked its ABI version, and was stopped"
            );
            (message, Some(Stopped::ByLimit))
        }
        // The steps it happened in (the start function), then the trap in
        // a word, as a call's failure names it; not wasmtime's backtrace,
        // a context of several lines.
        Some(trap) => {
            let mut steps: Vec<String> = (e.chain())
                .map(ToString::to_string)
                .filter(|text| !text.contains('\n'))
                .collect();
            steps.pop(); // the trap itself
            steps.insert(0, step.to_owned());
            steps.push(super::instance::trap_text(trap));
            (steps.join(": "), None)
        }
        // wasmtime's words for a refused table name no limit; ours do.
        None => match limits.table_exceeded.take() {
            Some(why) => (format!("{step}: {e:#}: {why}"), None),
            None => (format!("{step}: {}", e.root_cause()), None),
        },
    };
    VersionError { message, stopped }
}
