//! Compiling in a child process, so that a module's compilation is bounded
//! in CPU and memory, not only in how long a load waits for it.
//!
//! wasmtime cannot stop a compilation, and a module built to be costly can
//! keep Cranelift busy for an hour or grow its memory until the kernel kills
//! the sidecar; a crash inside the compiler would take the sidecar with it.
//! So on Linux the `wasmstash` binary compiles each module in a child of
//! itself (`wasmstash compile-module`, not listed in `--help`, see `child`):
//! the child caps its own address space at `engine.compile_memory_mib`,
//! reads the module from stdin, and writes wasmtime's compiled artifact to
//! stdout. The parent kills it at `engine.compile_timeout_ms`, and loads the
//! artifact it returns.
//!
//! A module in the text format is made a binary the same way, in a child
//! of its own under the same two bounds ([`text_to_binary`]): the parser
//! takes some fifty times the text's size in memory (800 MiB for 16 MiB
//! of `(param i32 ...)`), which the sidecar's own process must not pay.
//!
//! Only the binary turns this on ([`compile_in_child_processes`]), and only
//! where `/proc/self/exe` names it: a program that embeds the library (the
//! tests, the benchmarks) has no `compile-module` command, and compiles on
//! a thread of its own as before.

mod child;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::{Builder, Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

pub use child::run as run_child;

/// The program run as the compiler: this binary, once it said so.
static COMPILER: OnceLock<PathBuf> = OnceLock::new();

/// The subcommand the child runs.
pub const SUBCOMMAND: &str = "compile-module";

/// Most of a failed compiler's stderr kept for its message.
const MAX_COMPLAINT_BYTES: u64 = 16 << 10;

/// Threads a compilation may use at most. Each reserves address space
/// under the cap, so the cap means the same on a 2-core and a 64-core host.
const MAX_THREADS: usize = 4;

/// From now on, every engine of this process compiles in a child running
/// `program`, which must be a `wasmstash` binary of this very build (it
/// answers with the tripwire's version, and wasmtime checks its own). The
/// first call decides.
pub fn compile_in_child_processes(program: PathBuf) {
    let _ = COMPILER.set(program);
}

/// This running binary, as a path that still names it if the file is
/// replaced on disk (an upgrade while the sidecar runs): `/proc/self/exe`.
/// Elsewhere there is no such name, and compilations stay in-process.
pub fn this_program() -> std::io::Result<PathBuf> {
    let proc_self = Path::new("/proc/self/exe");
    std::fs::metadata(proc_self)?;
    Ok(proc_self.to_path_buf())
}

pub(super) fn compiler() -> Option<&'static Path> {
    COMPILER.get().map(PathBuf::as_path)
}

/// What a compiler process is asked to do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Compile a binary module, with the deadline's tripwire if asked.
    Compile { tripwire: bool },
    /// Make a module in the text format a binary.
    Text,
}

/// `text`, a module in the text format, made a binary: in a child process
/// bounded by `memory_bytes` of address space and killed at `timeout`
/// when this is the `wasmstash` binary, else here. An error is the whole
/// message for the operator.
pub(super) fn text_to_binary(
    text: &str,
    memory_bytes: u64,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let Some(program) = compiler() else {
        return super::binary::from_text(text);
    };
    let deadline = Instant::now() + timeout;
    // One thread: the parser uses no more.
    let (ended, _) = compile_on(
        1,
        program,
        Job::Text,
        text.as_bytes(),
        memory_bytes,
        deadline,
        None,
    );
    match ended {
        Ok(binary) => Ok(binary),
        Err(ChildFailure::CannotStart(why)) => {
            tracing::warn!(
                "{why}; reading the module's text format in this process instead, unbounded"
            );
            super::binary::from_text(text)
        }
        Err(
            ChildFailure::Refused(message)
            | ChildFailure::OutOfMemory(message)
            | ChildFailure::OutOfCpu(message)
            | ChildFailure::Broke(message),
        ) => Err(message),
        Err(ChildFailure::Killed) => Err(format!(
            "reading the module's text format took longer than {} ms \
             (engine.compile_timeout_ms), so it was given up",
            timeout.as_millis()
        )),
    }
}

/// Why a compilation in a child gave no artifact.
pub(super) enum ChildFailure {
    /// The child could not be started (exec refused, say); the reason.
    CannotStart(String),
    /// The module itself was refused; the whole message, from the child.
    Refused(String),
    /// The child ran past the deadline and was killed.
    Killed,
    /// It needed more address space than its cap; the whole message.
    OutOfMemory(String),
    /// It ran out of the CPU time it was given (or inherited); the whole
    /// message.
    OutOfCpu(String),
    /// Anything else (it crashed, answered wrongly); the whole message.
    Broke(String),
}

/// Runs the compiler on `wasm`, killing it at `deadline`; returns the
/// artifact it wrote.
///
/// Threads compiling side by side reach a peak that depends on how they
/// happen to be scheduled, so near the cap the same module would pass on
/// one try and be refused on the next. A module refused for memory on
/// several threads is tried once more on one, whose peak is the module's
/// own: that try decides, if it ends within the CPU time the first spent
/// and a second more (rounded up to whole seconds, as the kernel counts
/// it). A module that is slow as well as large is not given the whole
/// `compile_timeout_ms` again: past that, the first refusal stands. Both
/// are CPU time, not wall time, so that the verdict on a module does not
/// depend on what else the host is doing: on a busy host (a sidecar
/// serving while it reloads) a retry bounded by the first try's wall
/// time was cut short where a quiet host let it finish, and a first try
/// slowed by other work allowed the retry more than it had used.
pub(super) fn compile(
    program: &Path,
    wasm: &[u8],
    tripwire: bool,
    memory_bytes: u64,
    deadline: Instant,
) -> Result<Vec<u8>, ChildFailure> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS));
    let job = Job::Compile { tripwire };
    let on = |threads, cpu| compile_on(threads, program, job, wasm, memory_bytes, deadline, cpu);
    match on(threads, None) {
        (Err(ChildFailure::OutOfMemory(refusal)), spent) if threads > 1 => {
            match on(1, Some(spent + Duration::from_secs(1))).0 {
                Err(ChildFailure::OutOfCpu(_)) => Err(ChildFailure::OutOfMemory(refusal)),
                ended => ended,
            }
        }
        (ended, _) => ended,
    }
}

/// [`compile`] on `threads` threads, within `cpu` of CPU time if given;
/// and the CPU time the child used, if it ended by itself.
fn compile_on(
    threads: usize,
    program: &Path,
    job: Job,
    wasm: &[u8],
    memory_bytes: u64,
    deadline: Instant,
    cpu: Option<Duration>,
) -> (Result<Vec<u8>, ChildFailure>, Duration) {
    let mut command = compiler_command(program, threads, job, memory_bytes, deadline, cpu);
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let why = format!(
                "cannot start the compiler process ({}): {e}",
                program.display()
            );
            return (Err(ChildFailure::CannotStart(why)), Duration::ZERO);
        }
    };
    let mut child = Reaped::new(child);
    let ended = talk_to(&mut child, job, wasm, memory_bytes, deadline);
    (ended, child.cpu_used)
}

/// Writes `wasm` to the compiler `child`, waits for it until `deadline`,
/// and reads what its end means.
fn talk_to(
    child: &mut Reaped,
    job: Job,
    wasm: &[u8],
    memory_bytes: u64,
    deadline: Instant,
) -> Result<Vec<u8>, ChildFailure> {
    let (stdin, stdout, stderr) = child.pipes();
    let ended = std::thread::scope(|scope| {
        let writer = spawn(scope, move || {
            // A child that died early closes the pipe; its status says why.
            let _ = stdin.map(|mut pipe| pipe.write_all(wasm));
            Vec::new()
        });
        // The child held all of it within its cap, so no more is read.
        let artifact = spawn(scope, move || read_all(stdout, memory_bytes));
        let complaint = spawn(scope, move || read_all(stderr, MAX_COMPLAINT_BYTES));
        let (Ok(_), Ok(artifact), Ok(complaint)) = (writer, artifact, complaint) else {
            // The threads that did start end as the pipes close.
            child.stop();
            return Err(ChildFailure::Broke(
                "cannot start a thread to talk to the compiler process".into(),
            ));
        };
        let status = child.wait_until(deadline);
        let joined = |reader: ScopedJoinHandle<'_, Vec<u8>>| reader.join().unwrap_or_default();
        Ok((status, joined(artifact), joined(complaint)))
    });
    let (status, artifact, complaint) = ended?;
    let complaint = String::from_utf8_lossy(&complaint).trim().to_owned();
    match status {
        Err(e) => Err(ChildFailure::Broke(format!(
            "lost track of the compiler process: {e}"
        ))),
        Ok(None) => Err(ChildFailure::Killed),
        Ok(Some(status)) if status.success() => child::checked_artifact(artifact)
            .map_err(|why| ChildFailure::Broke(format!("the compiler process {why}"))),
        // Before a refusal: a compilation that failed for want of memory
        // may also return it as an error, which the child reports as one.
        Ok(Some(_)) if child::ran_out_of_memory(&complaint) => Err(ChildFailure::OutOfMemory(
            child::out_of_memory(job, memory_bytes),
        )),
        Ok(Some(status)) if status.code() == Some(child::REFUSED) => {
            Err(ChildFailure::Refused(complaint))
        }
        Ok(Some(status)) if child::ran_out_of_cpu(status) => {
            Err(ChildFailure::OutOfCpu(child::failure(status, &complaint)))
        }
        Ok(Some(status)) => Err(ChildFailure::Broke(child::failure(status, &complaint))),
    }
}

/// The command that runs the compiler on a module on `threads` threads,
/// within the limits that its `memory_bytes`, the wait until `deadline`
/// and `cpu` (if given) set.
fn compiler_command(
    program: &Path,
    threads: usize,
    job: Job,
    memory_bytes: u64,
    deadline: Instant,
    cpu: Option<Duration>,
) -> Command {
    // A backstop should this process die without killing it: the CPU time
    // the wait would allow on every thread, and a little more.
    let wait = deadline.saturating_duration_since(Instant::now());
    let backstop = (wait.as_secs() + 2) * threads as u64;
    // The kernel counts CPU time against the limit in whole seconds.
    let cpu_seconds = cpu.map_or(backstop, |cpu| {
        backstop.min(cpu.as_secs() + u64::from(cpu.subsec_nanos() > 0))
    });
    let mut command = Command::new(program);
    command
        .arg(SUBCOMMAND)
        .args(["--memory-mib", &(memory_bytes >> 20).to_string()])
        .args(["--cpu-seconds", &cpu_seconds.to_string()])
        .args(["--parent", &std::process::id().to_string()])
        .args(match job {
            Job::Compile { tripwire: true } => Some("--tripwire"),
            Job::Compile { tripwire: false } => None,
            Job::Text => Some("--text"),
        })
        // Nothing of the operator's environment changes what the cap means.
        .env_clear()
        .env("RUST_LOG", "off")
        .env("RUST_BACKTRACE", "0")
        .env("RAYON_NUM_THREADS", threads.to_string())
        // Under an address-space cap, reservations count as if used: glibc's
        // malloc (which C code in the process uses) reserves 128 MiB for each
        // thread's arena, and jemalloc keeps address space it has freed.
        // Without these a cap allows a module at one value and refuses it at
        // a higher one.
        .env("MALLOC_ARENA_MAX", "1")
        .env("_RJEM_MALLOC_CONF", "retain:false")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Signals meant for the sidecar's group (a terminal's Ctrl-C or
        // hangup, `systemctl kill`) are the sidecar's to handle; the child
        // ends with it anyway (PR_SET_PDEATHSIG). And `ps` shows it as
        // wasmstash, not as `exe`.
        command.process_group(0).arg0("wasmstash");
    }
    // What the engine's configuration reads from the environment
    // (`wasmtime_config`, and wasmtime's `Config::new`): the child's must
    // be the same, or the parent cannot load what it compiled.
    for name in ["WASMSTASH_PERF_MAP", "WASMTIME_BACKTRACE_DETAILS"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

fn spawn<'scope>(
    scope: &'scope Scope<'scope, '_>,
    work: impl FnOnce() -> Vec<u8> + Send + 'scope,
) -> std::io::Result<ScopedJoinHandle<'scope, Vec<u8>>> {
    Builder::new().spawn_scoped(scope, work)
}

fn read_all(pipe: Option<impl Read>, cap: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        let _ = pipe.take(cap).read_to_end(&mut bytes);
    }
    bytes
}

/// A child that is killed and reaped however its handling ends, so that
/// no path leaves it running or a zombie behind.
struct Reaped {
    child: Child,
    done: bool,
    /// The CPU time it used, all threads, once reaped after it ended by
    /// itself (zero if it was killed, or off Unix).
    cpu_used: Duration,
}

impl Reaped {
    fn new(child: Child) -> Reaped {
        Reaped {
            child,
            done: false,
            cpu_used: Duration::ZERO,
        }
    }

    /// The child's status if it has ended, reaping it; on Unix also what
    /// CPU time it used (`Child::try_wait` does not say).
    #[cfg(unix)]
    fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        let mut status = 0;
        // SAFETY: rusage is plain integers, for which zero is a value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 writes only the status and usage it is given, and
        // the pid is this process's own child, not yet reaped (`done`).
        let pid = unsafe {
            libc::wait4(
                self.child.id() as libc::pid_t,
                &mut status,
                libc::WNOHANG,
                &mut usage,
            )
        };
        match pid {
            0 => Ok(None),
            -1 => Err(std::io::Error::last_os_error()),
            _ => {
                let time = |t: libc::timeval| {
                    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
                };
                self.cpu_used = time(usage.ru_utime) + time(usage.ru_stime);
                Ok(Some(std::os::unix::process::ExitStatusExt::from_raw(
                    status,
                )))
            }
        }
    }

    #[cfg(not(unix))]
    fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    fn pipes(
        &mut self,
    ) -> (
        Option<std::process::ChildStdin>,
        Option<std::process::ChildStdout>,
        Option<std::process::ChildStderr>,
    ) {
        let child = &mut self.child;
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    }

    /// Waits until `deadline`; past it (or if waiting fails), kills the
    /// child, and answers `None`.
    fn wait_until(&mut self, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
        let mut pause = Duration::from_millis(1);
        loop {
            match self.try_wait() {
                Ok(Some(status)) => {
                    self.done = true;
                    return Ok(Some(status));
                }
                Ok(None) => {}
                Err(e) => {
                    self.stop();
                    return Err(e);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.stop();
                return Ok(None);
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.done = true;
        }
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        self.stop();
    }
}
