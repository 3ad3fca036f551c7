//! This thread's CPU time, exact to the nanosecond.
//!
//! Shared by the bench's sections and the `templates` binary. Linux's
//! `/proc/thread-self/schedstat` would also give it, but only as of the
//! scheduler's last tick, milliseconds stale: too coarse for passes of
//! ten milliseconds. `CLOCK_THREAD_CPUTIME_ID` brings the count up to date
//! when asked.

use std::time::Duration;

pub fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
