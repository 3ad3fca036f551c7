//! What the host offers a filter: logging, the clock and metric counters.
//!
//! In WebAssembly these are the `wasmstash` imports of ABI v1; natively (unit
//! tests, benchmarks) they fall back to stderr, the system clock and a
//! thread-local counter table, so filter code is the same in both.

/// Severity of a log line; the host writes it to its own log under the
/// filter's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

#[cfg(target_arch = "wasm32")]
mod imports {
    #[link(wasm_import_module = "wasmstash")]
    unsafe extern "C" {
        pub fn log(level: u32, ptr: *const u8, len: u32);
        pub fn now_unix_nanos() -> i64;
        pub fn metric_add(name_ptr: *const u8, name_len: u32, delta: i64);
    }
}

/// Writes `message` to the host's log.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        imports::log(level as u32, message.as_ptr(), message.len() as u32)
    };
    #[cfg(not(target_arch = "wasm32"))]
    {
        eprintln!("[{level:?}] {message}");
        native_log::record(level, message);
    }
}

/// `text` for a log line: whole up to `chars` characters, else its first
/// `chars` and how long it was, so that a line says what was wrong
/// without carrying a whole event.
pub fn shortened(text: &str, chars: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()).into(),
        None => text.into(),
    }
}

/// Wall-clock time as nanoseconds since the Unix epoch, from the host.
pub fn now_unix_nanos() -> i64 {
    #[cfg(target_arch = "wasm32")]
    return unsafe { imports::now_unix_nanos() };
    #[cfg(not(target_arch = "wasm32"))]
    return FROZEN_CLOCK.get().unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0)
    });
}

#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    static FROZEN_CLOCK: std::cell::Cell<Option<i64>> = const { std::cell::Cell::new(None) };
}

/// Native builds only: makes [`now_unix_nanos`] answer `nanos` on this
/// thread (`None` lets the system clock through again). Tests that compare
/// two runs of a filter that reads the clock freeze it, so that the runs
/// cannot fall on either side of a millisecond.
#[cfg(not(target_arch = "wasm32"))]
pub fn freeze_native_clock(nanos: Option<i64>) {
    FROZEN_CLOCK.set(nanos);
}

/// Adds `delta` to the counter `name`, which the host exports (per filter) in
/// its metrics. The sidecar's counters only rise (they are Prometheus
/// counters): a batch whose deltas for a name sum below zero adds nothing
/// there, where `wasmstash run`'s summary adds every delta. A filter has at
/// most 256 names; a new one past that is not counted, and the host logs
/// it once. Counts of a call that fails are dropped (see ABI.md).
pub fn count(name: &str, delta: i64) {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        imports::metric_add(name.as_ptr(), name.len() as u32, delta)
    };
    #[cfg(not(target_arch = "wasm32"))]
    native_counters::add(name, delta);
}

/// Natively, counters go to a thread-local table that tests can read.
#[cfg(not(target_arch = "wasm32"))]
pub mod native_counters {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    thread_local! {
        static COUNTERS: RefCell<BTreeMap<String, i64>> = const { RefCell::new(BTreeMap::new()) };
    }

    pub(super) fn add(name: &str, delta: i64) {
        COUNTERS.with(|c| *c.borrow_mut().entry(name.to_owned()).or_default() += delta);
    }

    /// Returns and clears this thread's counters.
    pub fn take() -> BTreeMap<String, i64> {
        COUNTERS.with(|c| std::mem::take(&mut *c.borrow_mut()))
    }
}

/// Natively, log lines are also kept in a thread-local list that tests can
/// read, so a test can hold a filter to the reason it logs. Only the last
/// [`native_log::KEPT`] are kept: a native benchmark may log on and on.
#[cfg(not(target_arch = "wasm32"))]
pub mod native_log {
    use super::Level;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    pub const KEPT: usize = 1000;

    thread_local! {
        static LINES: RefCell<VecDeque<(Level, String)>> = const { RefCell::new(VecDeque::new()) };
    }

    pub(super) fn record(level: Level, message: &str) {
        LINES.with(|lines| {
            let mut lines = lines.borrow_mut();
            if lines.len() == KEPT {
                lines.pop_front();
            }
            lines.push_back((level, message.to_owned()));
        });
    }

    /// Returns and clears this thread's kept lines, oldest first.
    pub fn take() -> Vec<(Level, String)> {
        LINES.with(|lines| lines.take().into())
    }

    /// What `run` returns, and the lines it logged on this thread.
    pub fn during<R>(run: impl FnOnce() -> R) -> (R, Vec<(Level, String)>) {
        take();
        let result = run();
        (result, take())
    }
}
