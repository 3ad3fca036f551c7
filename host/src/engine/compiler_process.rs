//! Compiling in a child process, so that a module's compilation is bounded
//! in CPU and memory, not only in how long a load waits for it.
//!
//! wasmtime cannot stop a compilation, and a module built to be costly can
//! keep Cranelift busy for an hour or grow its memory until the kernel kills
//! the sidecar; a crash inside the compiler would take the sidecar with it.
//! So the `wasmstash` binary compiles each module in a child of itself
//! (`wasmstash compile-module`, not listed in `--help`): the child caps its
//! own address space at `engine.compile_memory_mib`, reads the module from
//! stdin, and writes wasmtime's compiled artifact to stdout. The parent kills
//! it at `engine.compile_timeout_ms`, and loads the artifact it returns.
//!
//! Only the binary turns this on ([`compile_in_child_processes`]): a
//! program that embeds the library (the tests, the benchmarks) has no
//! `compile-module` command, and compiles on a thread of its own as before.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The program run as the compiler: this binary, once it said so.
static COMPILER: OnceLock<PathBuf> = OnceLock::new();

/// The subcommand the child runs.
pub const SUBCOMMAND: &str = "compile-module";

/// Most of a failed compiler's stderr kept for its message.
const MAX_COMPLAINT_BYTES: u64 = 16 << 10;

/// From now on, every engine of this process compiles in a child running
/// `program`, which must be a `wasmstash` binary of this very build (the
/// artifact it writes is loaded as is). The first call decides.
pub fn compile_in_child_processes(program: PathBuf) {
    let _ = COMPILER.set(program);
}

/// This running binary, as a path that still names it if the file is
/// replaced on disk (an upgrade while the sidecar runs).
pub fn this_program() -> std::io::Result<PathBuf> {
    let proc_self = Path::new("/proc/self/exe");
    if proc_self.exists() {
        return Ok(proc_self.to_path_buf());
    }
    std::env::current_exe()
}

pub(super) fn compiler() -> Option<&'static Path> {
    COMPILER.get().map(PathBuf::as_path)
}

/// Why a compilation in a child gave no artifact, worded for the operator.
pub(super) enum ChildFailure {
    /// The module itself was refused; the whole message, from the child.
    Refused(String),
    /// The child ran past the deadline and was killed.
    Killed,
    /// Anything else: it ran out of memory, crashed, or could not start.
    Broke(String),
}

/// Runs the compiler on `wasm`, killing it at `deadline`; returns the
/// artifact it wrote.
pub(super) fn compile(
    program: &Path,
    wasm: &[u8],
    tripwire: bool,
    memory_bytes: u64,
    deadline: Instant,
) -> Result<Vec<u8>, ChildFailure> {
    let mut child = Command::new(program)
        .arg(SUBCOMMAND)
        .arg("--memory-mib")
        .arg((memory_bytes >> 20).to_string())
        .args(tripwire.then_some("--tripwire"))
        // Its stderr is read only for a failure's reason.
        .env("RUST_LOG", "off")
        .env("RUST_BACKTRACE", "0")
        // Under an address-space cap, reservations count as if used: glibc's
        // malloc (which C code in the process uses) reserves 128 MiB for each
        // thread's arena, and jemalloc keeps address space it has freed.
        // Without these a cap allows a module at one value and refuses it at
        // a higher one.
        .env("MALLOC_ARENA_MAX", "1")
        .env("_RJEM_MALLOC_CONF", "retain:false")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            ChildFailure::Broke(format!(
                "cannot start the compiler process ({}): {e}",
                program.display()
            ))
        })?;
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let (status, artifact, complaint) = std::thread::scope(|scope| {
        scope.spawn(move || {
            // A child that died early closes the pipe; its status says why.
            let _ = stdin.map(|mut pipe| pipe.write_all(wasm));
        });
        let artifact = scope.spawn(move || read_all(stdout, u64::MAX));
        let complaint = scope.spawn(move || read_all(stderr, MAX_COMPLAINT_BYTES));
        let status = wait_until(&mut child, deadline);
        let joined =
            |reader: std::thread::ScopedJoinHandle<'_, Vec<u8>>| reader.join().unwrap_or_default();
        (status, joined(artifact), joined(complaint))
    });
    let complaint = String::from_utf8_lossy(&complaint).trim().to_owned();
    match status {
        Err(e) => Err(ChildFailure::Broke(format!(
            "lost track of the compiler process: {e}"
        ))),
        Ok(None) => Err(ChildFailure::Killed),
        Ok(Some(status)) if status.success() => Ok(artifact),
        Ok(Some(status)) if status.code() == Some(REFUSED) => Err(ChildFailure::Refused(complaint)),
        Ok(Some(status)) => Err(ChildFailure::Broke(broke(status, &complaint, memory_bytes))),
    }
}

/// The message for a compiler that ended neither with an artifact nor
/// with a refusal of the module.
fn broke(status: ExitStatus, complaint: &str, memory_bytes: u64) -> String {
    // Rust's allocation failure handler prints this, then aborts.
    if complaint.contains("memory allocation of") {
        return format!(
            "compiling the module needed more than the {} MiB of address space that \
             engine.compile_memory_mib allows, so it was refused",
            memory_bytes >> 20
        );
    }
    let last_line = complaint.lines().last().unwrap_or("no message");
    format!("the compiler process failed ({status}): {last_line}")
}

fn read_all(pipe: Option<impl Read>, cap: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        let _ = pipe.take(cap).read_to_end(&mut bytes);
    }
    bytes
}

/// Waits for `child` until `deadline`; past it, kills and reaps it, and
/// answers `None`.
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// The child's exit code when the module itself is refused (its reason on
/// stderr); any other failure exits otherwise.
const REFUSED: i32 = 3;

/// The child's side: `wasmstash compile-module --memory-mib N [--tripwire]`.
pub fn run_child(memory_mib: u64, tripwire: bool) -> ExitCode {
    if let Err(e) = confine(memory_mib << 20) {
        eprintln!("cannot set the compiler's limits: {e}");
        return ExitCode::from(1);
    }
    let mut wasm = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut wasm) {
        eprintln!("cannot read the module: {e}");
        return ExitCode::from(1);
    }
    let engine = match wasmtime::Engine::new(&super::wasmtime_config()) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("cannot start the engine: {e:#}");
            return ExitCode::from(1);
        }
    };
    let artifact = super::compile::prepare(&engine, &wasm, tripwire)
        .and_then(|wasm| (engine.precompile_module(&wasm)).map_err(super::compile::invalid));
    match artifact {
        Ok(artifact) => match std::io::stdout().lock().write_all(&artifact) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cannot write the compiled module: {e}");
                ExitCode::from(1)
            }
        },
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(REFUSED as u8)
        }
    }
}

/// Caps this process's address space at `memory_bytes`, leaves no core
/// dump behind when it runs out, and ends it with the process that started
/// it.
#[cfg(unix)]
fn confine(memory_bytes: u64) -> std::io::Result<()> {
    let limit = |resource, value: u64| {
        let bound = libc::rlimit {
            rlim_cur: value as libc::rlim_t,
            rlim_max: value as libc::rlim_t,
        };
        // SAFETY: setrlimit reads the struct it is given, nothing else.
        match unsafe { libc::setrlimit(resource, &bound) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    };
    limit(libc::RLIMIT_CORE, 0)?;
    limit(libc::RLIMIT_AS, memory_bytes)?;
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_PDEATHSIG takes a signal number and touches no memory.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn confine(_memory_bytes: u64) -> std::io::Result<()> {
    Ok(())
}
