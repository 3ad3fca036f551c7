//! A filter's log lines, and the host's warnings about its failures,
//! rationed over time.
//!
//! A filter that logs on every event fills the host's log with a line per
//! event: one that panicked on every access-log line wrote 9,136 lines in a
//! two-second run, each also in its event's failure record. A cap per call
//! could not stop that, since each failing event is replayed in a call of
//! its own, on a fresh instance. The host's own warnings have the same
//! shape: a filter that fails now and then is warned of once per failing
//! event it isolates. So a ration belongs to the filter, shared by its
//! workers and every instance it has: [`LINES_PER_WINDOW`] lines per
//! [`WINDOW`], and the lines past that counted and said as one warning, with
//! the next line shown or when the filter is unloaded. Nothing is lost by
//! it: every failure is also in its event's record.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one ration lasts.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Lines a filter may put in the host's log per [`WINDOW`]: enough to debug
/// a batch line by line, far from a line per event at load.
pub const LINES_PER_WINDOW: u32 = 200;

/// One filter's ration of one kind of line.
pub(crate) struct LogGate {
    filter: String,
    /// Where the filter was loaded (its pipeline's span), so that the
    /// count of lines held back, said when the filter is unloaded outside
    /// that span, names the pipeline as the lines did.
    loaded_in: tracing::Span,
    /// What the lines are, as the count of those held back names them.
    lines: &'static str,
    window: Mutex<Window>,
}

/// The lines a filter writes through the `log` import.
pub(crate) const FILTER_LINES: &str = "log lines of this filter";

/// The host's warnings about a filter's failed calls.
pub(crate) const FAILURE_WARNINGS: &str = "warnings about this filter's failed calls";

/// The host's errors about a stateful filter's lost state.
pub(crate) const LOST_STATE_ERRORS: &str = "errors about this filter's lost state";

struct Window {
    started: Instant,
    shown: u32,
    held_back: u64,
}

impl LogGate {
    pub fn new(filter: &str, lines: &'static str) -> LogGate {
        LogGate {
            filter: filter.to_owned(),
            loaded_in: tracing::Span::current(),
            lines,
            window: Mutex::new(Window {
                started: Instant::now(),
                shown: 0,
                held_back: 0,
            }),
        }
    }

    /// Whether one more line may be shown now. Opening a new window first
    /// says how many lines the last one held back.
    pub fn admit(&self) -> bool {
        let mut window = crate::locked(&self.window);
        let now = Instant::now();
        if now.duration_since(window.started) >= WINDOW {
            self.report(window.held_back);
            *window = Window {
                started: now,
                shown: 0,
                held_back: 0,
            };
        }
        if window.shown < LINES_PER_WINDOW {
            window.shown += 1;
            true
        } else {
            window.held_back += 1;
            false
        }
    }

    fn report(&self, held_back: u64) {
        if held_back > 0 {
            let _in_pipeline = self.loaded_in.enter();
            tracing::warn!(
                target: "filter", filter = self.filter.as_str(),
                "{held_back} more {} not shown: a filter may have {LINES_PER_WINDOW} \
                 such lines per {} s in the host's log",
                self.lines,
                WINDOW.as_secs()
            );
        }
    }
}

impl Drop for LogGate {
    fn drop(&mut self) {
        let held_back = crate::locked(&self.window).held_back;
        self.report(held_back);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_shows_its_ration_and_counts_the_rest() {
        let gate = LogGate::new("f", FILTER_LINES);
        let shown = (0..LINES_PER_WINDOW + 50).filter(|_| gate.admit()).count();
        assert_eq!(shown, LINES_PER_WINDOW as usize);
        assert_eq!(crate::locked(&gate.window).held_back, 50);
        // The next window starts afresh.
        crate::locked(&gate.window).started -= WINDOW;
        assert!(gate.admit());
        assert_eq!(crate::locked(&gate.window).held_back, 0);
    }
}
