//! What one instance may hold, counted over all its memories and tables.
//!
//! wasmtime asks a limiter about each memory and table on its own. A module
//! may declare many of them (multi-memory is on: the tripwire adds one), so
//! a cap per memory would let a module hold the cap many times over; here
//! every grow is judged against the instance's total.

use wasmtime::ResourceLimiter;

/// Table entries one instance may hold in all: far more than any compiled
/// filter's function table.
const MAX_TABLE_ELEMENTS: usize = 100_000;

pub(crate) struct InstanceLimits {
    memory_limit: usize,
    memory_in_use: usize,
    table_elements: usize,
    /// Why a grow was refused, once one was, for the failure's reason.
    pub(crate) memory_exceeded: Option<String>,
}

impl InstanceLimits {
    pub(crate) fn new(memory_limit: usize) -> InstanceLimits {
        InstanceLimits {
            memory_limit,
            memory_in_use: 0,
            table_elements: 0,
            memory_exceeded: None,
        }
    }
}

// wasmtime asks about every memory and table as it is created (from zero)
// and as it grows, so the totals hold what the instance has. A grow is
// counted only when it will happen: one past the memory's own maximum is
// refused here, and sums are checked (a `memory.grow` by -1 asks for
// nearly 2^64 bytes).
impl ResourceLimiter for InstanceLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Past the memory's own maximum wasmtime refuses the grow after
        // asking; refused here, it is never counted.
        if maximum.is_some_and(|maximum| desired > maximum) {
            return Ok(false);
        }
        let total = (self.memory_in_use.saturating_sub(current)).checked_add(desired);
        let Some(total) = total.filter(|&total| total <= self.memory_limit) else {
            let total = total.unwrap_or(usize::MAX);
            let message = format!(
                "filter tried to grow its memory to {} MiB, past its limit of {} MiB",
                total.div_ceil(1 << 20),
                self.memory_limit >> 20
            );
            self.memory_exceeded = Some(message.clone());
            wasmtime::bail!(message);
        };
        self.memory_in_use = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|maximum| desired > maximum) {
            return Ok(false);
        }
        let total = (self.table_elements.saturating_sub(current)).checked_add(desired);
        match total.filter(|&total| total <= MAX_TABLE_ELEMENTS) {
            Some(total) => {
                self.table_elements = total;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
