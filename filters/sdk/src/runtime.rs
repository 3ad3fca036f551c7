//! Runs a [`Filter`] over ABI batches, plain or keyed: the one loop behind
//! both the WebAssembly exports and native execution, so the two cannot
//! drift apart. (Only how an event is split into members differs between
//! the two kinds of batch; the host's tests run modules on keyed batches
//! against the native build on plain ones, so that differs under test.)

use crate::event::{Spare, Storage};
use crate::plumbing::wire::{self, KeySpans, ResultKind, ResultWriter};
use crate::{Event, Filter, Verdict};

/// What became of one event in [`NativeFilter::process_events`].
#[derive(Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The event goes on: these are its bytes (changed or not).
    Kept(Vec<u8>),
    Dropped,
    /// The filter's reason; the host would pass the input on, tagged.
    Failed(String),
}

/// A kept event shows as its JSON text, so that a failed `assert_eq!` on
/// outcomes reads as events, not as lists of byte values.
impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Kept(event) => f
                .debug_tuple("Kept")
                .field(&String::from_utf8_lossy(event))
                .finish(),
            Outcome::Dropped => f.write_str("Dropped"),
            Outcome::Failed(reason) => f.debug_tuple("Failed").field(reason).finish(),
        }
    }
}

impl Outcome {
    /// The kept event, parsed; panics on any other outcome (for tests).
    pub fn into_value(self) -> serde_json::Value {
        match self {
            Outcome::Kept(event) => serde_json::from_slice(&event).expect("a JSON event"),
            other => panic!("expected a kept event, got {other:?}"),
        }
    }
}

/// A filter driven natively over the same batches the host sends to a module.
pub struct NativeFilter<F: Filter> {
    filter: F,
    out: Vec<u8>,
    /// Buffers of fields added in the last batch, for the next one.
    spare: Spare,
}

/// Names the filter type only, so that a test can `unwrap_err()` the
/// result of [`NativeFilter::new`].
impl<F: Filter> std::fmt::Debug for NativeFilter<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NativeFilter<{}>", std::any::type_name::<F>())
    }
}

impl<F: Filter> NativeFilter<F> {
    /// Builds the filter from its JSON config, as `wasmstash_init` does. The
    /// error is what is wrong with the config; the host says it is the
    /// config's.
    pub fn new(config_json: &[u8]) -> Result<Self, String> {
        let config = crate::logstash::common::read_config(config_json)?;
        Ok(NativeFilter {
            filter: F::new(config)?,
            out: Vec::new(),
            spare: Spare::default(),
        })
    }

    /// Processes an encoded batch and returns the encoded results, as
    /// `wasmstash_process` does. A batch that does not decode yields an empty
    /// result list, which the host reports as a count mismatch.
    pub fn process_batch(&mut self, batch: &[u8]) -> &[u8] {
        let events = wire::decode_batch(batch).unwrap_or_default();
        self.process_split(events.into_iter().map(|text| (text, None)))
    }

    /// As [`NativeFilter::process_batch`], for a keyed batch (events with
    /// their key spans), as `wasmstash_process_keyed` does.
    pub fn process_keyed_batch(&mut self, batch: &[u8]) -> &[u8] {
        let events = wire::decode_keyed_batch(batch).unwrap_or_default();
        self.process_split(events.into_iter().map(|(text, keys)| (text, Some(keys))))
    }

    fn process_split<'b>(
        &mut self,
        events: impl Iterator<Item = (&'b [u8], Option<KeySpans<'b>>)>,
    ) -> &[u8] {
        let mut results = ResultWriter::new(&mut self.out);
        let mut storage = Storage::with_spare(std::mem::take(&mut self.spare));
        for (raw, keys) in events {
            let mut event = match Event::parse_into(raw, keys, std::mem::take(&mut storage)) {
                Ok(event) => event,
                Err(reason) => {
                    results.push(ResultKind::Failed, reason.as_bytes());
                    continue;
                }
            };
            let mut verdict = process_catching_panics(&mut self.filter, &mut event);
            if let Some(reason) = event.take_refused_write() {
                verdict = Verdict::Error(reason);
            }
            match verdict {
                Verdict::Keep if event.only_added_members() => {
                    results.push_with(ResultKind::Extended, |out| event.write_added_members(out))
                }
                Verdict::Keep if event.is_changed() => {
                    results.push_with(ResultKind::Replaced, |out| event.write_json(out))
                }
                Verdict::Keep => results.push(ResultKind::Unchanged, b""),
                Verdict::Drop => results.push(ResultKind::Dropped, b""),
                Verdict::Error(reason) => results.push(ResultKind::Failed, reason.as_bytes()),
            }
            storage = event.into_storage();
        }
        self.spare = storage.spare;
        results.finish()
    }

    /// Runs `events` through the filter as one batch and applies the results
    /// the way the host does: one [`Outcome`] per event, in order. A changed
    /// event the host would refuse (a duplicate key or text that is no JSON
    /// written with `insert_json`, nesting too deep) fails as it would
    /// there, `invalid output: ...`. For tests of the native build.
    pub fn process_events(&mut self, events: &[&[u8]]) -> Vec<Outcome> {
        let mut batch = Vec::new();
        wire::encode_batch(events.iter().copied(), &mut batch);
        let results = wire::decode_results(self.process_batch(&batch), events.len())
            .expect("the SDK's own results decode");
        results
            .into_iter()
            .zip(events)
            .map(|((kind, payload), input)| match kind {
                ResultKind::Unchanged => Outcome::Kept(input.to_vec()),
                ResultKind::Replaced => checked(payload.to_vec()),
                ResultKind::Extended => {
                    let mut event = Vec::new();
                    wire::extend_event(input, payload, &mut event);
                    checked(event)
                }
                ResultKind::Dropped => Outcome::Dropped,
                ResultKind::Failed => {
                    Outcome::Failed(String::from_utf8_lossy(payload).into_owned())
                }
            })
            .collect()
    }

    /// The filter itself, for tests that inspect it.
    pub fn filter(&self) -> &F {
        &self.filter
    }
}

/// A changed event as the host takes it: kept, or failed as it fails there.
fn checked(event: Vec<u8>) -> Outcome {
    match crate::testing::host_refusal(&event) {
        None => Outcome::Kept(event),
        Some(why) => Outcome::Failed(format!("invalid output: {why}")),
    }
}

/// Where panics unwind (native builds), a panic becomes this event's error.
/// `wasm32-unknown-unknown` aborts on panic instead; there the host sees a trap
/// and isolates the event by replaying the batch one event at a time.
#[cfg(panic = "unwind")]
fn process_catching_panics<F: Filter>(filter: &mut F, event: &mut Event) -> Verdict {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    catch_unwind(AssertUnwindSafe(|| filter.process(event))).unwrap_or_else(|payload| {
        let message = panic_message(payload.as_ref()).unwrap_or("unknown panic");
        Verdict::Error(format!("filter panicked: {message}"))
    })
}

/// The text a panic was raised with (`panic!("...")` gives a `&str` or a
/// `String`), if its payload is text.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    (payload.downcast_ref::<&str>().copied())
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

#[cfg(not(panic = "unwind"))]
fn process_catching_panics<F: Filter>(filter: &mut F, event: &mut Event) -> Verdict {
    filter.process(event)
}

impl<F: crate::Stateful> NativeFilter<F> {
    /// The filter's state, as `wasmstash_snapshot` returns it.
    pub fn snapshot(&self) -> Vec<u8> {
        self.filter.snapshot()
    }

    /// Restores state, as `wasmstash_restore` does.
    pub fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.filter.restore(state)
    }
}

/// The guest side of the ABI, used by the code that `export_filter!` expands to.
#[cfg(target_arch = "wasm32")]
pub mod guest {
    use std::cell::UnsafeCell;

    use super::NativeFilter;
    use crate::Filter;
    use crate::host::{self, Level};

    /// Holds the one filter of this instance and the buffer for messages.
    pub struct Guest<F: Filter> {
        cell: UnsafeCell<(Option<NativeFilter<F>>, Vec<u8>)>,
    }

    // SAFETY: wasm32-unknown-unknown modules run on a single thread, and the
    // host never calls into an instance re-entrantly.
    unsafe impl<F: Filter> Sync for Guest<F> {}

    fn pack(bytes: &[u8]) -> u64 {
        ((bytes.as_ptr() as u64) << 32) | bytes.len() as u64
    }

    impl<F: Filter> Guest<F> {
        // Only `export_filter!` builds one, as a static, which needs a const
        // constructor; a `Default` would never be used.
        #[allow(clippy::new_without_default)]
        pub const fn new() -> Self {
            Guest {
                cell: UnsafeCell::new((None, Vec::new())),
            }
        }

        #[allow(clippy::mut_from_ref)]
        unsafe fn state(&self) -> &mut (Option<NativeFilter<F>>, Vec<u8>) {
            unsafe { &mut *self.cell.get() }
        }

        fn message(&self, text: &str) -> u64 {
            let (_, message) = unsafe { self.state() };
            message.clear();
            message.extend_from_slice(text.as_bytes());
            pack(message)
        }

        /// # Safety
        /// `ptr..ptr+len` must be memory the host wrote.
        pub unsafe fn init(&self, ptr: *const u8, len: u32) -> u64 {
            std::panic::set_hook(Box::new(|info| {
                host::log(Level::Error, &format!("panic: {info}"))
            }));
            let config = unsafe { std::slice::from_raw_parts(ptr, len as usize) };
            match NativeFilter::<F>::new(config) {
                Ok(filter) => {
                    unsafe { self.state() }.0 = Some(filter);
                    0
                }
                Err(reason) => self.message(&reason),
            }
        }

        /// A batch, keyed or not (see [`crate::plumbing::wire`]).
        ///
        /// # Safety
        /// As for [`Guest::init`].
        pub unsafe fn process(&self, ptr: *const u8, len: u32, keyed: bool) -> u64 {
            let batch = unsafe { std::slice::from_raw_parts(ptr, len as usize) };
            match (unsafe { self.state() }, keyed) {
                ((Some(filter), _), false) => pack(filter.process_batch(batch)),
                ((Some(filter), _), true) => pack(filter.process_keyed_batch(batch)),
                ((None, _), _) => {
                    panic!("wasmstash_process called before a successful wasmstash_init")
                }
            }
        }
    }

    impl<F: crate::Stateful> Guest<F> {
        /// # Safety
        /// Only called by the host, between other calls.
        pub unsafe fn snapshot(&self) -> u64 {
            let (filter, message) = unsafe { self.state() };
            *message = filter
                .as_ref()
                .map(NativeFilter::snapshot)
                .unwrap_or_default();
            pack(message)
        }

        /// # Safety
        /// As for [`Guest::init`].
        pub unsafe fn restore(&self, ptr: *const u8, len: u32) -> u64 {
            let state = unsafe { std::slice::from_raw_parts(ptr, len as usize) };
            let result = match unsafe { self.state() } {
                (Some(filter), _) => filter.restore(state),
                (None, _) => Err("restore called before init".into()),
            };
            match result {
                Ok(()) => 0,
                Err(reason) => self.message(&reason),
            }
        }
    }

    pub fn alloc(len: u32) -> *mut u8 {
        let mut buffer = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(len as usize));
        buffer.as_mut_ptr()
    }

    /// # Safety
    /// `ptr` and `len` must come from one earlier [`alloc`].
    pub unsafe fn free(ptr: *mut u8, len: u32) {
        drop(unsafe { Vec::from_raw_parts(ptr, 0, len as usize) });
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn outcomes_debug_print_as_text() {
        let kept = Outcome::Kept(br#"{"a":1}"#.to_vec());
        assert_eq!(format!("{kept:?}"), r#"Kept("{\"a\":1}")"#);
        assert_eq!(format!("{:?}", Outcome::Dropped), "Dropped");
        assert_eq!(
            format!("{:?}", Outcome::Failed("no".into())),
            r#"Failed("no")"#
        );
    }
}
