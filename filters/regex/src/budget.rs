//! What one search may spend: deterministic steps (a start position, a
//! backtrack, 16 instructions run, or a long run's scanning, 64 bytes to a
//! step) and optionally wall-clock time, read from the host every few
//! thousand steps. Steps make the limit the same on every machine; the
//! clock bounds what steps cannot foresee.

/// Why a match attempt stopped before reaching an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The step budget ran out.
    Steps,
    /// The wall-clock deadline passed.
    Deadline,
}

/// A budget for one event: deterministic steps, and an optional time limit
/// checked every few thousand steps. The clock is first read at the first
/// check, so an ordinary event never pays for reading it (in WebAssembly a
/// host call); the first few thousand steps are therefore not timed.
pub struct Budget {
    pub steps_left: u64,
    pub time_limit_nanos: Option<i64>,
    pub clock: fn() -> i64,
    deadline: Option<i64>,
}

impl Budget {
    pub fn new(steps: u64, time_limit_nanos: Option<i64>, clock: fn() -> i64) -> Budget {
        Budget {
            steps_left: steps,
            time_limit_nanos,
            clock,
            deadline: None,
        }
    }

    pub(super) fn check_clock(&mut self) -> Result<(), Stop> {
        let Some(limit) = self.time_limit_nanos else {
            return Ok(());
        };
        let now = (self.clock)();
        match self.deadline {
            None => self.deadline = Some(now.saturating_add(limit)),
            Some(deadline) if now > deadline => return Err(Stop::Deadline),
            Some(_) => {}
        }
        Ok(())
    }
}

/// Steps between two readings of the clock.
const CLOCK_EVERY: u64 = 1 << 12;

/// One step: a start position tried, or a backtrack.
#[inline(always)]
pub(super) fn charge(budget: &mut Budget) -> Result<(), Stop> {
    if budget.steps_left == 0 {
        return Err(Stop::Steps);
    }
    budget.steps_left -= 1;
    if budget.steps_left.is_multiple_of(CLOCK_EVERY) {
        return budget.check_clock();
    }
    Ok(())
}

/// Bytes a run may scan (or give back) for one step. Most runs are
/// shorter and cost nothing here; a long one is charged for its length, so
/// that a run retried from every start position (`\w+@` over a long word)
/// cannot take time quadratic in the line while the steps stay few.
const BYTES_PER_STEP: usize = 64;

#[inline(always)]
pub(super) fn charge_scan(budget: &mut Budget, bytes: usize) -> Result<(), Stop> {
    if bytes < BYTES_PER_STEP {
        return Ok(());
    }
    charge_many(budget, (bytes / BYTES_PER_STEP) as u64)
}

/// Instructions the matcher runs for one step. Starts and backtracks alone
/// do not bound the work: an expanded repeat (`(?:a{10}){10000}`) runs
/// tens of thousands of instructions from each start without one
/// backtrack, and a loop can pass through thousands of pruned choices for
/// each character with no start or backtrack at all.
pub(super) const INSTS_PER_STEP: u32 = 16;

/// Charges the instructions counted in `ran` since the last charge, in
/// whole steps, and keeps the rest for the next. The matcher only counts
/// in its loop and charges where it backtracks, jumps back or stops (see
/// `Matcher::run`), so a forward stretch goes uncharged only until then.
#[inline(always)]
pub(super) fn charge_ran(budget: &mut Budget, ran: &mut u32) -> Result<(), Stop> {
    if *ran < INSTS_PER_STEP {
        return Ok(());
    }
    let steps = *ran / INSTS_PER_STEP;
    *ran %= INSTS_PER_STEP;
    take_steps(budget, u64::from(steps))
}

#[cold]
#[inline(never)]
fn charge_many(budget: &mut Budget, steps: u64) -> Result<(), Stop> {
    take_steps(budget, steps)
}

#[inline(always)]
fn take_steps(budget: &mut Budget, steps: u64) -> Result<(), Stop> {
    if budget.steps_left < steps {
        budget.steps_left = 0;
        return Err(Stop::Steps);
    }
    let before = budget.steps_left;
    budget.steps_left -= steps;
    // A clock check for every CLOCK_EVERY steps crossed, as `charge` does.
    if before / CLOCK_EVERY != budget.steps_left / CLOCK_EVERY {
        return budget.check_clock();
    }
    Ok(())
}
