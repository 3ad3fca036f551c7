//! The compiler's side: `wasmstash compile-module`, run by the sidecar as a
//! child of itself (see the parent module), and what its end means.
//!
//! Before it reads the module it caps its own address space and CPU time,
//! turns off core dumps, offers itself to the kernel's out-of-memory killer
//! ahead of the sidecar, and arranges to die with the thread that started
//! it. A refusal of the module exits [`REFUSED`] with the whole message on
//! stderr; a panic prints one line that starts with [`PANICKED`].

use std::io::{Read, Write};
use std::process::{ExitCode, ExitStatus};

use super::super::cache::TRIPWIRE_TAG;
use super::super::compile::{invalid, prepare};
use super::Job;

/// The exit code when the module itself is refused.
pub(super) const REFUSED: i32 = 3;

/// How a panic's line on stderr begins.
const PANICKED: &str = "compiler panicked: ";

/// What opens the child's answer: this build's version and tripwire, so
/// that a parent never loads an artifact made by another build (wasmtime's
/// own check covers its version and settings, not the rewrite's).
fn mark() -> String {
    format!(
        "wasmstash {}{}\n",
        env!("CARGO_PKG_VERSION"),
        TRIPWIRE_TAG.as_str()
    )
}

/// `wasmstash compile-module`: reads a module on stdin, writes the mark and
/// the compiled artifact (or for [`Job::Text`], the binary) to stdout.
pub fn run(memory_mib: u64, cpu_seconds: u64, parent: u32, job: Job) -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let text = info.payload_as_str().unwrap_or("(no message)");
        eprintln!("{PANICKED}{}", text.replace('\n', " "));
    }));
    if let Err(e) = confine(memory_mib << 20, cpu_seconds, parent) {
        eprintln!("cannot set the compiler's limits: {e}");
        return ExitCode::from(1);
    }
    let mut wasm = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut wasm) {
        eprintln!("cannot read the module: {e}");
        return ExitCode::from(1);
    }
    let artifact = match job {
        Job::Compile { tripwire } => {
            let engine = match wasmtime::Engine::new(&super::super::wasmtime_config()) {
                Ok(engine) => engine,
                Err(e) => {
                    eprintln!("cannot start the engine: {e:#}");
                    return ExitCode::from(1);
                }
            };
            prepare(&engine, &wasm, tripwire)
                .and_then(|wasm| engine.precompile_module(&wasm).map_err(invalid))
        }
        Job::Text => match std::str::from_utf8(&wasm) {
            Ok(text) => super::super::binary::from_text(text),
            Err(_) => Err("the text format is not UTF-8".into()),
        },
    };
    let artifact = match artifact {
        Ok(artifact) => artifact,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(REFUSED as u8);
        }
    };
    let mut stdout = std::io::stdout().lock();
    let written = (stdout.write_all(mark().as_bytes()))
        .and_then(|()| stdout.write_all(&artifact))
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot write the compiled module: {e}");
            ExitCode::from(1)
        }
    }
}

/// The artifact in a successful child's answer, once its mark is checked.
pub(super) fn checked_artifact(mut answer: Vec<u8>) -> Result<Vec<u8>, String> {
    let mark = mark();
    if !answer.starts_with(mark.as_bytes()) {
        return Err(format!(
            "did not answer as this build of wasmstash would ({})",
            mark.trim()
        ));
    }
    answer.drain(..mark.len());
    Ok(answer)
}

/// Whether a child's stderr says it ran into its address-space cap.
pub(super) fn ran_out_of_memory(complaint: &str) -> bool {
    // Rust's allocation failure handler prints the first, then aborts; an
    // mmap refused under the cap reads as the second; wasmtime's own
    // fallible allocations fail with the third, which it turns into a
    // panic where it does not handle it ("unhandled out-of-memory error")
    // or into an error returned from compiling.
    complaint.contains("memory allocation of")
        || complaint.contains("Cannot allocate memory")
        || complaint.contains("out of memory (failed to allocate")
}

/// Whether a child ended at its CPU-time limit (the soft one's signal).
pub(super) fn ran_out_of_cpu(status: ExitStatus) -> bool {
    #[cfg(unix)]
    {
        std::os::unix::process::ExitStatusExt::signal(&status) == Some(libc::SIGXCPU)
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        false
    }
}

/// The message for a module refused for the memory `job` needed.
pub(super) fn out_of_memory(job: Job, memory_bytes: u64) -> String {
    let doing = match job {
        Job::Compile { .. } => "compiling the module",
        Job::Text => "reading the module's text format",
    };
    format!(
        "{doing} needed more than the {} MiB of address space that \
         engine.compile_memory_mib allows, so it was refused",
        memory_bytes >> 20
    )
}

/// The message for a child that ended neither with an artifact, nor with a
/// refusal of the module, nor out of memory.
pub(super) fn failure(status: ExitStatus, complaint: &str) -> String {
    if let Some(panic) = complaint.lines().find_map(|l| l.strip_prefix(PANICKED)) {
        return format!("the compiler panicked: {panic}");
    }
    let last_line = complaint.lines().last().unwrap_or("no message");
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return match signal {
            libc::SIGXCPU => "the compiler process ran out of CPU time".into(),
            libc::SIGKILL => "the compiler process was killed (SIGKILL), not by wasmstash: \
                              the system's out-of-memory killer does so when memory runs short"
                .into(),
            other => format!("the compiler process was killed by signal {other}: {last_line}"),
        };
    }
    format!("the compiler process failed ({status}): {last_line}")
}

/// Caps this process's address space and CPU time (or keeps the lower
/// caps it was started with), leaves no core dump behind when it runs out,
/// puts it first in line for the out-of-memory killer, and ends it with
/// the thread that started it (`parent`'s).
#[cfg(unix)]
fn confine(memory_bytes: u64, cpu_seconds: u64, parent: u32) -> std::io::Result<()> {
    let limit = |resource, soft: u64, hard: u64| {
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct it is given, nothing else.
        if unsafe { libc::getrlimit(resource, &mut current) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // An unprivileged process can only lower its hard limit; below it,
        // the soft one keeps its distance from the hard one.
        let ceiling = current.rlim_max;
        let gap = (hard - soft) as libc::rlim_t;
        let bound = libc::rlimit {
            rlim_cur: (soft as libc::rlim_t).min(ceiling.saturating_sub(gap)),
            rlim_max: (hard as libc::rlim_t).min(ceiling),
        };
        // SAFETY: setrlimit reads the struct it is given, nothing else.
        match unsafe { libc::setrlimit(resource, &bound) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    };
    limit(libc::RLIMIT_CORE, 0, 0)?;
    limit(libc::RLIMIT_AS, memory_bytes, memory_bytes)?;
    // SIGXCPU at the soft limit, SIGKILL a second later: kept a second
    // apart under a lower inherited limit too, so that running out of CPU
    // time is not taken for the out-of-memory killer's SIGKILL.
    limit(libc::RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)?;
    #[cfg(target_os = "linux")]
    {
        // Raising one's own score needs no privilege; a failure only
        // leaves the kernel's choice as it was.
        let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
        // SAFETY: these prctl options take integers and touch no memory.
        // Not dumpable: no core, even through a core_pattern pipe.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) } != 0
            || unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    // A parent that died before the line above leaves this one orphaned.
    // SAFETY: getppid has no preconditions and cannot fail.
    if unsafe { libc::getppid() } as u32 != parent {
        return Err(std::io::Error::other(
            "the process that started it has ended",
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn confine(_memory_bytes: u64, _cpu_seconds: u64, _parent: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a child printed when it ran into its cap at the default 1 GiB
    /// on a module of 700,000 distinct types: wasmtime's allocation failed
    /// where it panics rather than returning the error. It is the cap, and
    /// is said to be, as the other two ways of running into it are.
    #[test]
    fn each_way_of_running_into_the_cap_reads_as_out_of_memory() {
        for complaint in [
            "memory allocation of 1048576 bytes failed",
            "failed to reserve memory: Cannot allocate memory (os error 12)",
            "compiler panicked: unhandled out-of-memory error: out of memory (failed to allocate \
             320 bytes)",
            "not a valid WebAssembly module: out of memory (failed to allocate 4096 bytes)",
        ] {
            assert!(ran_out_of_memory(complaint), "{complaint}");
        }
        assert!(!ran_out_of_memory("compiler panicked: index out of bounds"));
    }
}
