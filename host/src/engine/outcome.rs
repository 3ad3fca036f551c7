//! What a stage says about each event it was given: kept as it was,
//! replaced, extended, dropped, or failed and why.
//!
//! These are the stage's whole answer to the rest of the host, so they live
//! apart from the recovery logic in `stage.rs` that produces them; the
//! conversion from a decoded ABI result is here too, because it is where a
//! module's output stops being untrusted bytes.

use wasmstash_sdk::plumbing::wire::ResultKind;

use crate::event_check::{AddedMembers, CheckedEvent};

/// What went wrong for one event, as recorded on the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    /// The filter trapped (a panic, an out-of-bounds access, a stack overflow).
    Trap,
    /// The call ran past `engine.call_timeout_ms`.
    Timeout,
    /// The instance hit `engine.memory_limit_mib`.
    OutOfMemory,
    /// The filter's output was not a result list, or not a JSON object.
    InvalidOutput,
    /// The filter itself reported an error for this event.
    FilterError,
    /// The event was never run: isolating a failure in its batch, one
    /// event per call, ran past `engine.replay_budget_ms` first.
    NotRun,
    /// The filter could not be run on the event: a new instance of it,
    /// needed after an earlier one failed, could not be started (the host
    /// could not reserve its memory, or its `init` failed this time).
    NoInstance,
}

impl FailureKind {
    /// The Logstash-style tag an affected event carries.
    pub fn tag(self) -> &'static str {
        match self {
            // A budget of time ran out for it, as for a deadline.
            FailureKind::Timeout | FailureKind::NotRun => "_wasmfilter_timeout",
            _ => "_wasmfilter_failure",
        }
    }

    /// The name recorded under `[wasmstash][failures][n][kind]`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Trap => "trap",
            FailureKind::Timeout => "timeout",
            FailureKind::OutOfMemory => "out_of_memory",
            FailureKind::InvalidOutput => "invalid_output",
            FailureKind::FilterError => "filter_error",
            FailureKind::NotRun => "not_run",
            FailureKind::NoInstance => "no_instance",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub reason: String,
}

impl Failure {
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Self {
        Failure {
            kind,
            reason: reason.into(),
        }
    }

    /// The same failure, said to have happened in the export `name` (one
    /// the host calls around the filter's own work, such as its allocator).
    pub(crate) fn in_export(self, name: &str) -> Self {
        Failure {
            reason: format!("{}{}", export_step(name), self.reason),
            ..self
        }
    }

    /// Whether [`Failure::in_export`] said it happened in the export `name`.
    pub(crate) fn is_in_export(&self, name: &str) -> bool {
        self.reason.starts_with(&export_step(name))
    }
}

/// How a failure's reason opens when it happened in an export the host
/// calls around the filter's own work.
fn export_step(name: &str) -> String {
    format!("in {name}: ")
}

/// What one stage did with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    Unchanged,
    Replaced(CheckedEvent),
    /// Members to add at the end of the event (see [`CheckedEvent::add`]).
    Extended(AddedMembers),
    Dropped,
    Failed(Failure),
}

impl StageOutcome {
    /// The bytes of event text the outcome holds until it is written.
    pub(super) fn held_bytes(&self) -> usize {
        match self {
            StageOutcome::Replaced(event) => event.text().len(),
            StageOutcome::Extended(added) => added.byte_len(),
            _ => 0,
        }
    }

    /// The outcome a decoded ABI result stands for, for the event `input`.
    /// A changed event must still be one JSON object without repeated keys;
    /// if it is not, only this event fails, as invalid output.
    pub fn from_wire(
        kind: ResultKind,
        payload: &[u8],
        input: &CheckedEvent,
        max_event_bytes: usize,
    ) -> StageOutcome {
        let invalid = |e: String| {
            StageOutcome::Failed(Failure::new(
                FailureKind::InvalidOutput,
                format!("filter returned an invalid event: {e}"),
            ))
        };
        // Checked before anything is copied out of the module's memory.
        let size = match kind {
            ResultKind::Replaced => payload.len(),
            ResultKind::Extended => input.text().len() + payload.len(),
            _ => 0,
        };
        if size > max_event_bytes {
            return invalid(format!(
                "it would be {size} bytes, over engine.max_event_mib ({} MiB)",
                max_event_bytes >> 20
            ));
        }
        match kind {
            ResultKind::Unchanged => StageOutcome::Unchanged,
            ResultKind::Replaced => match input.check_replacement(payload.to_vec()) {
                Ok(event) => StageOutcome::Replaced(event),
                Err(e) => invalid(e),
            },
            ResultKind::Extended => match input.check_added(payload) {
                Ok(added) => StageOutcome::Extended(added),
                Err(e) => invalid(e),
            },
            ResultKind::Dropped => StageOutcome::Dropped,
            ResultKind::Failed => StageOutcome::Failed(Failure::new(
                FailureKind::FilterError,
                String::from_utf8_lossy(payload).into_owned(),
            )),
        }
    }
}
