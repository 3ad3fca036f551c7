//! What one instance may hold, counted over all its memories and tables,
//! and what the host says when it cannot reserve room for one at all.
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
    /// Why a grow was refused for the limit, once one was in this call,
    /// for the failure's reason should the call fail.
    pub(crate) memory_exceeded: Option<String>,
    /// Why a table's grow was refused for the instance's total, once one
    /// was: wasmtime's own message ("exceeds table limits") names no limit.
    /// A `table.grow` refused at run time only returns -1 to the guest, so
    /// this is read at instantiation alone.
    pub(crate) table_exceeded: Option<String>,
}

impl InstanceLimits {
    pub(crate) fn new(memory_limit: usize) -> InstanceLimits {
        InstanceLimits {
            memory_limit,
            memory_in_use: 0,
            table_elements: 0,
            memory_exceeded: None,
            table_exceeded: None,
        }
    }
}

/// Counts a grow of one memory or table from `current` to `desired` (units
/// of its kind) into the instance's total `in_use`, and says whether it may
/// happen: `Ok(false)` past the memory's or table's own `maximum` (where
/// wasmtime refuses it after asking), `Err(total)` past `limit`. Only an
/// allowed grow changes `in_use`. Either refusal makes `memory.grow`
/// return -1.
///
/// wasmtime asks about every memory and table as it is created (from zero)
/// and as it grows, so the totals hold what the instance has; a refused
/// grow is never counted, and sums are checked (a `memory.grow` by -1 asks
/// for nearly 2^64 bytes).
fn grow(
    in_use: &mut usize,
    current: usize,
    desired: usize,
    maximum: Option<usize>,
    limit: usize,
) -> Result<bool, usize> {
    if maximum.is_some_and(|maximum| desired > maximum) {
        return Ok(false);
    }
    match in_use.saturating_sub(current).checked_add(desired) {
        Some(total) if total <= limit => {
            *in_use = total;
            Ok(true)
        }
        total => Err(total.unwrap_or(usize::MAX)),
    }
}

impl ResourceLimiter for InstanceLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let limit = self.memory_limit;
        grow(&mut self.memory_in_use, current, desired, maximum, limit).or_else(|total| {
            let (mib, limit_mib) = (total.div_ceil(1 << 20), limit >> 20);
            // Wasmtime asks from nothing for the memory a module declares,
            // as it does for a memory of no pages that grows: either way,
            // the total is what passed the limit.
            let message = match current {
                0 => format!(
                    "filter's memory would hold {mib} MiB in all, past its limit of {limit_mib} MiB"
                ),
                _ => format!(
                    "filter tried to grow its memory to {mib} MiB, past its limit of {limit_mib} MiB"
                ),
            };
            // `memory.grow` answers -1, as WebAssembly says a refused grow
            // does, so a module may free something and go on; one that
            // traps instead (a Rust allocator aborts) fails with this
            // reason rather than that of its trap.
            self.memory_exceeded = Some(message);
            Ok(false)
        })
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grown = grow(
            &mut self.table_elements,
            current,
            desired,
            maximum,
            MAX_TABLE_ELEMENTS,
        );
        Ok(grown.unwrap_or_else(|total| {
            self.table_exceeded = Some(format!(
                "its tables would hold {total} elements in all, past the limit of \
                 {MAX_TABLE_ELEMENTS} per instance"
            ));
            false
        }))
    }
}

/// What to say of an instantiation the host itself could not make room
/// for, if `e` is one: wasmtime reserves each of an instance's linear
/// memories and its guard pages (about 4.1 GiB of address space) up front,
/// the tripwire's among them while deadlines are on, whatever
/// `engine.memory_limit_mib` is; a process limit such as `ulimit -v`
/// refuses that. It is the host's limit, not the module's fault. A trap is
/// never one: its backtrace quotes names the module chose.
pub(crate) fn host_cannot_reserve(
    e: &wasmtime::Error,
    module: &wasmtime::Module,
) -> Option<String> {
    if e.chain()
        .any(|cause| cause.downcast_ref::<wasmtime::Trap>().is_some())
    {
        return None;
    }
    let refused = e.chain().any(|cause| {
        let os_error = cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error);
        os_error == Some(libc::ENOMEM) || cause.to_string().contains("mmap failed to reserve")
    });
    let memories = module.resources_required().num_memories;
    refused.then(|| {
        format!(
            "this process could not reserve the address space an instance needs (about {:.1} GiB \
             for this one, 4.1 GiB for each of its memories ({memories}, the deadline's tripwire \
             among them while deadlines are on), whatever engine.memory_limit_mib is; each filter \
             of each worker is an instance of its own): is a limit such as `ulimit -v` set? ({})",
            4.1 * f64::from(memories),
            e.root_cause()
        )
    })
}
