//! Ctrl-C, SIGTERM and SIGHUP (the terminal closed) stop `wasmstash run`
//! as the end of its input would:
//! the reader stops, the events already read go through the pipeline and
//! out, the summary is printed and stateful filters' state is saved. A run
//! over a live feed (`tail -f … | wasmstash run`) ends only this way, and
//! ending it used to lose every event read since the last full batch, with
//! no summary and no state.
//!
//! The handler only records which signal came; the reader looks at it
//! between lines and while it waits for input. A second signal ends the
//! process at once, for a run that cannot drain (a filter stuck past its
//! deadline is stopped anyway, but the user decides).

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asked the run to stop, or 0.
static REQUESTED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    if REQUESTED.swap(signal, Ordering::SeqCst) != 0 {
        const EXITING: &[u8] = b"wasmstash run: exiting at once: events not yet written, \
            the summary and the filters' state (with --state-dir) are lost\n";
        // SAFETY: write and _exit are async-signal-safe; the buffer is
        // static, and _exit ends the process.
        unsafe {
            libc::write(2, EXITING.as_ptr().cast(), EXITING.len());
            libc::_exit(128 + signal)
        };
    }
    // Said at once: a filter running without a deadline may take its time,
    // and the user should know the second signal is theirs to send.
    const STOPPING: &[u8] = b"wasmstash run: stopping once the events read so far are out; \
        send the signal again to exit at once\n";
    // SAFETY: write is async-signal-safe; the buffer is static.
    unsafe { libc::write(2, STOPPING.as_ptr().cast(), STOPPING.len()) };
}

/// Routes SIGINT, SIGTERM and SIGHUP to the run from now on.
pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the action is fully initialised, its handler only touches
        // an atomic and may call _exit, both async-signal-safe; SA_RESTART
        // keeps other threads' reads and writes from failing with EINTR.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The signal that asked the run to stop, if one did.
pub fn requested() -> Option<i32> {
    match REQUESTED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// The signal's name, for the message that says why the run stopped.
pub fn name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}
