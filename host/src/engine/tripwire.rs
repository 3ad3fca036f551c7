//! The per-call deadline, kept by a tripwire: a page of its own that the
//! module reads at every function entry and loop header (and after each
//! bulk memory or table operation), and that the host
//! makes unreadable when a call runs past its deadline.
//!
//! Why not wasmtime's epoch interruption: it puts a compare and a branch to
//! a cold call at those same places, and the call is what costs. Every
//! value live across a loop header must then sit in a callee-saved register
//! or on the stack, and the filters' hot loops ran 15–25% slower with the
//! deadline on (BENCHMARKS.md, issue 2). A read of a readable page is one
//! instruction that clobbers nothing.
//!
//! How it stops a call:
//! - Before compiling, [`rewrite::instrument`] adds the page, as a memory
//!   the module's own code cannot name, and the reads.
//! - A run that never ends passes a read again and again, as WebAssembly's
//!   only backward jumps go to loop headers, and endless recursion enters
//!   functions.
//! - When a call's deadline passes, the engine's [`Watchdog`] thread makes
//!   the page unreadable (`mprotect`). The next read faults in compiled
//!   guest code, at an address wasmtime knows as the instance's memory, and
//!   wasmtime unwinds it as a trap.
//! - The host, seeing the tripwire sprung, reports a timeout and makes the
//!   page readable again.
//!
//! Imports cannot read it, so those that copy from the module (`log`,
//! `metric_add`) ask the tripwire's state instead
//! ([`Tripwire::stop_if_sprung`]). No host code reads the page, wasmtime's
//! own copies and the imports included (they reach the module's memories through indexes the module's
//! code names, and it cannot name this one), so a fault there can only
//! come from a read added here. A start function is moved out of
//! instantiation into an export that [`instantiate`] calls under the
//! deadline, so it is bounded as well.
//!
//! A stage bounds the isolation of a failure too, however many calls it
//! takes (instances restarted, state restored, calls tried again): once
//! [`end_work_by`] has set an end inside [`work_scope`], no call starts past
//! it, and one running then is stopped there.

mod rewrite;

use std::cell::Cell;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use wasmtime::{Instance, Linker, Module, Store, Trap};

pub(crate) use rewrite::instrument;

/// The export through which the host finds an instance's tripwire page.
pub(crate) const PAGE_EXPORT: &str = "wasmstash:tripwire";
/// The export the module's start function is moved to.
pub(crate) const START_EXPORT: &str = "wasmstash:start";

/// Whether an export is one the rewrite added for the host.
pub(crate) fn is_host_export(name: &str) -> bool {
    name == PAGE_EXPORT || name == START_EXPORT
}

/// How often the watchdog looks for calls past their deadline: a deadline
/// is kept to within this.
const TICK: Duration = Duration::from_millis(5);

/// One instance's tripwire page and the state of the call it guards.
pub(crate) struct Tripwire {
    /// Address of the page in the host's address space; it lives as long as
    /// the instance's store, and is touched only while a call is armed.
    page: usize,
    page_len: usize,
    timeout: Duration,
    state: Mutex<Call>,
}

#[derive(Clone, Copy, PartialEq)]
enum Call {
    Idle,
    Armed {
        deadline: Instant,
    },
    /// The deadline passed and the page is unreadable.
    Sprung,
}

impl Tripwire {
    /// How long a call may run.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Stops an import called after the deadline passed. The page's reads
    /// sit in the module's own code, so straight-line calls to imports
    /// would pass none of them: each import asks here first, and an
    /// interrupted import ends the call as a timeout.
    pub(crate) fn stop_if_sprung(&self) -> wasmtime::Result<()> {
        match *self.lock() {
            Call::Sprung => Err(Trap::Interrupt.into()),
            _ => Ok(()),
        }
    }

    /// Runs `call` (one call into the guest) under the deadline. A call the
    /// watchdog stopped fails with [`Trap::Interrupt`]; one that finished
    /// just as the deadline passed keeps its result.
    pub(crate) fn guard<R>(
        &self,
        call: impl FnOnce() -> wasmtime::Result<R>,
    ) -> wasmtime::Result<R> {
        self.guard_for(self.timeout, call)
    }

    /// [`Tripwire::guard`] with a deadline `timeout` from now, not the
    /// calls' own: a state's save or restore takes its own.
    pub(crate) fn guard_for<R>(
        &self,
        timeout: Duration,
        call: impl FnOnce() -> wasmtime::Result<R>,
    ) -> wasmtime::Result<R> {
        let now = Instant::now();
        let mut deadline = now + timeout;
        if let (_, Some(ends)) = WORK_ENDS.get() {
            if now >= ends {
                return Err(Trap::Interrupt.into());
            }
            deadline = deadline.min(ends);
        }
        *self.lock() = Call::Armed { deadline };
        let disarm = Disarm(self);
        let result = call();
        let sprung = disarm.now();
        match result {
            Err(_) if sprung => Err(Trap::Interrupt.into()),
            other => other,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Call> {
        // The state is a plain value, valid whatever a panicking holder did.
        crate::locked(&self.state)
    }

    /// Back to idle with the page readable; whether it had been sprung.
    ///
    /// Should the page stay unreadable (the kernel refused, say for want
    /// of memory mappings), the instance's next call faults at its first
    /// read and fails as a trap: the stage then replays its events on
    /// fresh instances, and nothing is lost.
    fn disarm(&self) -> bool {
        let mut state = self.lock();
        let sprung = *state == Call::Sprung;
        if sprung {
            protect(self.page, self.page_len, true);
        }
        *state = Call::Idle;
        sprung
    }

    /// Makes the page unreadable if the armed call is past its deadline.
    /// If the kernel refuses, the call stays armed and the next tick tries
    /// again.
    fn spring_if_due(&self, now: Instant) {
        let mut state = self.lock();
        if matches!(*state, Call::Armed { deadline } if now >= deadline)
            && protect(self.page, self.page_len, false)
        {
            *state = Call::Sprung;
        }
    }
}

/// Ends a guarded call, on return or unwind: the page is readable and the
/// state idle again, whatever happened.
struct Disarm<'a>(&'a Tripwire);

impl Disarm<'_> {
    /// Disarms now; whether the tripwire had been sprung.
    fn now(self) -> bool {
        let sprung = self.0.disarm();
        std::mem::forget(self);
        sprung
    }
}

impl Drop for Disarm<'_> {
    fn drop(&mut self) {
        self.0.disarm();
    }
}

/// Makes a tripwire page readable or not; whether the kernel did.
#[cfg(unix)]
fn protect(page: usize, len: usize, readable: bool) -> bool {
    let access = if readable {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_NONE
    };
    // SAFETY: `page..page + len` is the whole of a one-page linear memory
    // that wasmtime mapped for a live instance: a `Tripwire` is only ever
    // armed during a call into that instance, which holds its store. Only
    // the access changes; nothing is mapped or unmapped.
    let done = unsafe { libc::mprotect(page as *mut libc::c_void, len, access) } == 0;
    if !done {
        let error = std::io::Error::last_os_error();
        tracing::error!(
            readable,
            "could not change a deadline tripwire page's access: {error}"
        );
    }
    done
}

#[cfg(not(unix))]
compile_error!("the call deadline's tripwire needs mprotect; wasmstash builds for Unix only");

/// The engine's thread that springs the tripwires of calls past their
/// deadline. It ends when the engine is dropped.
pub(crate) struct Watchdog {
    tripwires: Arc<Mutex<Vec<Weak<Tripwire>>>>,
    timeout: Duration,
}

impl Watchdog {
    pub(crate) fn start(timeout: Duration) -> Watchdog {
        let tripwires = Arc::new(Mutex::new(Vec::<Weak<Tripwire>>::new()));
        let watched = Arc::downgrade(&tripwires);
        std::thread::Builder::new()
            .name("wasmstash-watchdog".into())
            .spawn(move || {
                while let Some(tripwires) = watched.upgrade() {
                    let now = Instant::now();
                    let mut tripwires = tripwires.lock().unwrap_or_else(|p| p.into_inner());
                    tripwires.retain(|tripwire| match tripwire.upgrade() {
                        Some(tripwire) => {
                            tripwire.spring_if_due(now);
                            true
                        }
                        None => false,
                    });
                    drop(tripwires);
                    std::thread::sleep(TICK);
                }
            })
            .expect("spawning the watchdog thread");
        Watchdog { tripwires, timeout }
    }

    /// The tripwire of a fresh instance of a module the rewrite instrumented.
    fn watch<T>(&self, instance: &Instance, store: &mut Store<T>) -> Option<Arc<Tripwire>> {
        let memory = instance.get_memory(&mut *store, PAGE_EXPORT)?;
        let tripwire = Arc::new(Tripwire {
            page: memory.data_ptr(&*store) as usize,
            page_len: memory.data_size(&*store),
            timeout: self.timeout,
            state: Mutex::new(Call::Idle),
        });
        let mut tripwires = self.tripwires.lock().unwrap_or_else(|p| p.into_inner());
        tripwires.push(Arc::downgrade(&tripwire));
        Some(tripwire)
    }
}

thread_local! {
    /// The end [`end_work_by`] set for the work this thread is doing, and
    /// whether it is inside a [`work_scope`] at all.
    static WORK_ENDS: Cell<(bool, Option<Instant>)> = const { Cell::new((false, None)) };
}

/// Runs `work`, a stage's piece of work, with the end [`end_work_by`] sets
/// inside it kept to it: what was set outside, if anything, is back
/// afterwards, on return or unwind.
pub(crate) fn work_scope<R>(work: impl FnOnce() -> R) -> R {
    struct Restore((bool, Option<Instant>));
    impl Drop for Restore {
        fn drop(&mut self) {
            WORK_ENDS.set(self.0);
        }
    }
    let outside = WORK_ENDS.get();
    let _restore = Restore(outside);
    WORK_ENDS.set((true, outside.1));
    work()
}

/// From now until its [`work_scope`] ends, every guarded call this thread
/// makes ends by `ends`, its own deadline notwithstanding: one asked for
/// later fails at once as a timeout, and one running then is stopped. An
/// earlier end already set holds. Outside a scope it does nothing, so that
/// no end outlives the work it was set for.
pub(crate) fn end_work_by(ends: Instant) {
    let (scoped, set) = WORK_ENDS.get();
    if scoped {
        WORK_ENDS.set((true, Some(set.map_or(ends, |set| set.min(ends)))));
    }
}

/// Whether the end [`end_work_by`] set has passed: a call that failed as a
/// timeout then was stopped by it, or never started, rather than running
/// past its own deadline.
pub(crate) fn work_ended() -> bool {
    WORK_ENDS.get().1.is_some_and(|ends| Instant::now() >= ends)
}

/// Runs `call` under `tripwire`'s deadline, or as it is when deadlines are
/// off.
pub(crate) fn guarded<R>(
    tripwire: Option<&Tripwire>,
    call: impl FnOnce() -> wasmtime::Result<R>,
) -> wasmtime::Result<R> {
    guarded_for(tripwire, None, call)
}

/// [`guarded`], with `timeout` in place of the calls' own deadline if given.
pub(crate) fn guarded_for<R>(
    tripwire: Option<&Tripwire>,
    timeout: Option<Duration>,
    call: impl FnOnce() -> wasmtime::Result<R>,
) -> wasmtime::Result<R> {
    match (tripwire, timeout) {
        (Some(tripwire), Some(timeout)) => tripwire.guard_for(timeout, call),
        (Some(tripwire), None) => tripwire.guard(call),
        (None, _) => call(),
    }
}

/// Instantiates `module` and, when deadlines are on, finds its tripwire,
/// hands it to the store's data (`keep`: the imports look at it) and runs
/// the module's start function (moved to [`START_EXPORT`]) under the
/// deadline.
pub(crate) fn instantiate<T>(
    watchdog: Option<&Watchdog>,
    linker: &Linker<T>,
    store: &mut Store<T>,
    module: &Module,
    keep: impl FnOnce(&mut T, Arc<Tripwire>),
) -> wasmtime::Result<(Instance, Option<Arc<Tripwire>>)> {
    let instance = linker.instantiate(&mut *store, module)?;
    let Some(tripwire) = watchdog.and_then(|watchdog| watchdog.watch(&instance, store)) else {
        return Ok((instance, None));
    };
    keep(store.data_mut(), tripwire.clone());
    if let Some(start) = instance.get_func(&mut *store, START_EXPORT) {
        let start = start.typed::<(), ()>(&*store)?;
        tripwire
            .guard(|| start.call(&mut *store, ()))
            .map_err(|e| e.context("running the module's start function"))?;
    }
    Ok((instance, Some(tripwire)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tripwire over a page of its own, watched by a running watchdog.
    fn watched_page(timeout: Duration) -> (Watchdog, Arc<Tripwire>, *mut u8) {
        const LEN: usize = 1 << 16;
        // SAFETY: a fresh anonymous mapping, unmapped by nobody until the
        // test process ends.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(page, libc::MAP_FAILED);
        let watchdog = Watchdog::start(timeout);
        let tripwire = Arc::new(Tripwire {
            page: page as usize,
            page_len: LEN,
            timeout,
            state: Mutex::new(Call::Idle),
        });
        watchdog
            .tripwires
            .lock()
            .unwrap()
            .push(Arc::downgrade(&tripwire));
        (watchdog, tripwire, page.cast())
    }

    /// The page's access as the kernel has it, read without touching it.
    fn readable(page: *mut u8) -> bool {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let address = page as usize;
        let holds_page = |line: &&str| {
            let range = line.split_whitespace().next().unwrap();
            let (start, end) = range.split_once('-').unwrap();
            let bound = |hex| usize::from_str_radix(hex, 16).unwrap();
            (bound(start)..bound(end)).contains(&address)
        };
        let line = maps.lines().find(holds_page).expect("the page is mapped");
        line.split_whitespace().nth(1).unwrap().starts_with('r')
    }

    #[test]
    fn a_call_past_its_deadline_springs_the_tripwire_and_is_interrupted() {
        let (_watchdog, tripwire, page) = watched_page(Duration::from_millis(10));
        let result: wasmtime::Result<()> = tripwire.guard(|| {
            while readable(page) {
                std::thread::sleep(Duration::from_millis(1));
            }
            wasmtime::bail!("the guest faulted on the page")
        });
        let error = result.unwrap_err();
        assert_eq!(error.downcast_ref::<Trap>(), Some(&Trap::Interrupt));
        assert!(readable(page), "the page must be readable after the call");
        assert!(*tripwire.lock() == Call::Idle);
    }

    /// Inside a work scope, an end set stops a call before its own
    /// deadline, and one asked for after the end does not run; outside any
    /// scope, and after it, an end does nothing.
    #[test]
    fn an_end_of_work_stops_calls_only_within_its_scope() {
        let (_watchdog, tripwire, page) = watched_page(Duration::from_secs(60));
        let spin = || {
            tripwire.guard(|| {
                while readable(page) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                wasmtime::bail!("the guest faulted on the page")
            })
        };
        let interrupted = |result: wasmtime::Result<()>| {
            result.unwrap_err().downcast_ref::<Trap>() == Some(&Trap::Interrupt)
        };
        end_work_by(Instant::now());
        assert_eq!(tripwire.guard(|| Ok(1)).unwrap(), 1, "no scope, no end");
        work_scope(|| {
            assert_eq!(tripwire.guard(|| Ok(2)).unwrap(), 2, "no end set yet");
            let started = Instant::now();
            end_work_by(started + Duration::from_millis(50));
            end_work_by(started + Duration::from_secs(3600)); // the earlier holds
            assert!(interrupted(spin()));
            assert!(started.elapsed() < Duration::from_secs(30));
            let mut ran = false;
            let refused = tripwire.guard(|| {
                ran = true;
                Ok(())
            });
            assert!(interrupted(refused) && !ran, "past the end, nothing starts");
        });
        assert_eq!(
            tripwire.guard(|| Ok(3)).unwrap(),
            3,
            "the scope's end is gone"
        );
    }

    #[test]
    fn a_call_that_finishes_as_the_tripwire_springs_keeps_its_result() {
        let (_watchdog, tripwire, page) = watched_page(Duration::from_millis(10));
        let result = tripwire.guard(|| {
            while readable(page) {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(42)
        });
        assert_eq!(result.unwrap(), 42);
        assert!(readable(page));
    }

    #[test]
    fn a_call_within_its_deadline_leaves_the_page_alone() {
        let (_watchdog, tripwire, page) = watched_page(Duration::from_secs(60));
        let result = tripwire.guard(|| {
            std::thread::sleep(Duration::from_millis(30));
            Ok(readable(page))
        });
        assert!(
            result.unwrap(),
            "the page was made unreadable within the deadline"
        );
    }
}
