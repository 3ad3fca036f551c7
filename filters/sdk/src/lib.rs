//! Write wasmstash log filters in Rust.
//!
//! A filter is a function of one event, or a type that implements [`Filter`]
//! when it takes options or keeps state, exported with [`export_filter!`] and
//! compiled to `wasm32-unknown-unknown`. The SDK speaks the guest side of ABI
//! v1 (see `ABI.md` next to this crate) so the author only sees events:
//!
//! ```
//! use wasmstash_sdk::prelude::*;
//!
//! fn hello(event: &mut Event) -> Verdict {
//!     event.set("greeting", "hello");
//!     Verdict::Keep
//! }
//!
//! export_filter!(fn hello);
//! ```
//!
//! In WebAssembly the SDK also installs the global allocator, a free list
//! per size class in front of the standard one (it made `mutate` 14% faster).
//! A filter that brings its own `#[global_allocator]` turns it off with
//! `default-features = false`.
//!
//! The same crate builds natively too: [`NativeFilter`] runs a filter on the
//! same batches without WebAssembly, for unit tests and for measuring what the
//! sandbox costs.
//!
//! Where things are: the event and the filter traits at the root, with
//! [`host`] (logging, the clock, counters), [`field_ref`] and [`template`]
//! (the field references and `%{field}` texts a config names),
//! [`timestamp`] and [`civil`] (times and dates), [`json_text`] (writing a
//! field as ready JSON text), [`stable_hash`] and [`size_classes`] (for
//! filters that keep state) and [`testing`]. [`logstash`] holds Logstash's
//! own behaviours, for a filter that means to give exactly the fields a
//! Logstash plugin would.

#[cfg(any(
    test,
    all(
        feature = "size-class-allocator",
        target_arch = "wasm32",
        not(target_feature = "atomics")
    )
))]
mod alloc;
pub mod civil;
mod event;
pub mod field_ref;
mod float_digits;
pub mod host;
pub mod json_text;
pub mod logstash;
#[doc(hidden)]
pub mod plumbing;
mod runtime;
pub mod size_classes;
pub mod stable_hash;
pub mod template;
pub mod testing;
pub mod timestamp;

/// Filters allocate small blocks per event; see `alloc.rs` for why this is
/// not the standard library's dlmalloc.
#[cfg(all(
    feature = "size-class-allocator",
    target_arch = "wasm32",
    not(target_feature = "atomics")
))]
#[global_allocator]
static ALLOCATOR: alloc::SizeClasses = alloc::SizeClasses::new();

pub use event::Event;
pub use runtime::{NativeFilter, Outcome, panic_message};
pub use serde_json::{Value, json};

use serde::de::DeserializeOwned;

/// What a filter decided for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keep the event, with whatever changes the filter made.
    Keep,
    /// Drop the event on purpose; it goes no further down the pipeline.
    Drop,
    /// This event could not be processed. The host passes the original event
    /// on, tagged `_wasmfilter_failure`, with this reason.
    Error(String),
}

/// A log filter. One value lives per instance and sees events one at a time,
/// so it may keep state between them (and across restarts: see
/// [`Stateful`]).
pub trait Filter: Sized + 'static {
    /// The filter's options, deserialised from the JSON config that the
    /// pipeline definition gives it. Use `#[serde(deny_unknown_fields)]` so a
    /// misspelt option is an error rather than silently ignored.
    type Config: DeserializeOwned;

    /// Builds the filter; an `Err` is shown to the operator as a config error.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// Processes one event in place.
    fn process(&mut self, event: &mut Event) -> Verdict;
}

/// A filter whose state the host keeps: saved across restarts and reloads,
/// and restored into an instance it re-creates after a failure. Export it
/// with `export_filter!(MyFilter, stateful)`:
///
/// ```
/// use wasmstash_sdk::prelude::*;
///
/// pub struct Counter(u64);
///
/// impl Filter for Counter {
///     type Config = NoConfig;
///     fn new(_: NoConfig) -> Result<Self, String> { Ok(Counter(0)) }
///     fn process(&mut self, event: &mut Event) -> Verdict {
///         self.0 += 1;
///         event.set("seen", self.0);
///         Verdict::Keep
///     }
/// }
///
/// impl Stateful for Counter {
///     fn snapshot(&self) -> Vec<u8> { self.0.to_le_bytes().to_vec() }
///     fn restore(&mut self, state: &[u8]) -> Result<(), String> {
///         if state.is_empty() { return Ok(()) }
///         let bytes = state.try_into().map_err(|_| "not a count".to_owned())?;
///         self.0 = u64::from_le_bytes(bytes);
///         Ok(())
///     }
/// }
///
/// export_filter!(Counter, stateful);
/// ```
///
/// The plain `export_filter!(Counter)` does not compile for such a type
/// ("expected `KeepsNoState`, found `UseExportFilterStateful`"), so state
/// cannot be dropped by forgetting the flag:
///
/// ```compile_fail
/// # use wasmstash_sdk::prelude::*;
/// # pub struct Counter(u64);
/// # impl Filter for Counter {
/// #     type Config = NoConfig;
/// #     fn new(_: NoConfig) -> Result<Self, String> { Ok(Counter(0)) }
/// #     fn process(&mut self, _: &mut Event) -> Verdict { Verdict::Keep }
/// # }
/// # impl Stateful for Counter {
/// #     fn snapshot(&self) -> Vec<u8> { Vec::new() }
/// #     fn restore(&mut self, _: &[u8]) -> Result<(), String> { Ok(()) }
/// # }
/// export_filter!(Counter);
/// ```
///
/// Nor does `export_filter!(Hello, stateful)` for a type that keeps no
/// state ("the trait bound `Hello: Stateful` is not satisfied"):
///
/// ```compile_fail
/// # use wasmstash_sdk::prelude::*;
/// # pub struct Hello;
/// # impl Filter for Hello {
/// #     type Config = NoConfig;
/// #     fn new(_: NoConfig) -> Result<Self, String> { Ok(Hello) }
/// #     fn process(&mut self, _: &mut Event) -> Verdict { Verdict::Keep }
/// # }
/// export_filter!(Hello, stateful);
/// ```
pub trait Stateful: Filter {
    /// The filter's state as bytes, for the host to persist.
    fn snapshot(&self) -> Vec<u8>;

    /// Restores state produced by [`Stateful::snapshot`] (possibly by an
    /// older build of the filter, so check versions). An empty `state` means
    /// none was saved.
    fn restore(&mut self, state: &[u8]) -> Result<(), String>;
}

/// The config of a filter that takes no options; only `{}` is accepted.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// Everything a filter author needs, in one `use`.
pub mod prelude {
    pub use crate::host::{self, Level};
    pub use crate::{Event, Filter, NoConfig, Stateful, Value, Verdict, export_filter, json};
}

/// Exports a [`Filter`] type as a wasmstash module (ABI v1). On targets other
/// than `wasm32` it exports nothing, so filter crates also build natively;
/// its check of the filter's statefulness runs on every target, so that a
/// native `cargo test` already catches a wrong form.
///
/// `export_filter!(fn my_filter)` exports a function
/// `fn(&mut Event) -> Verdict` as a filter that takes no options (its config
/// must be `{}`, as [`NoConfig`]'s) and keeps no state. The macro names the
/// filter type it makes for the function `FnFilter`, so native tests can run
/// it as `NativeFilter::<FnFilter>`:
///
/// ```
/// use wasmstash_sdk::prelude::*;
///
/// fn shout(event: &mut Event) -> Verdict {
///     let loud = event.get_str("message").map(str::to_uppercase);
///     match loud {
///         Some(text) => event.set("message", text),
///         None => return Verdict::Error("no message".into()),
///     }
///     Verdict::Keep
/// }
/// export_filter!(fn shout);
///
/// use wasmstash_sdk::{NativeFilter, Outcome};
/// let mut native = NativeFilter::<FnFilter>::new(b"{}").unwrap();
/// let [hi, none] = native.process_events(&[br#"{"message":"hi"}"#, b"{}"]).try_into().unwrap();
/// assert_eq!(hi.into_value(), json!({"message": "HI"}));
/// assert!(matches!(none, Outcome::Failed(reason) if reason == "no message"));
/// let refused = NativeFilter::<FnFilter>::new(br#"{"loud":true}"#).unwrap_err();
/// assert!(refused.contains("unknown field `loud`"), "{refused}");
/// ```
///
/// A crate exports one filter. A second `export_filter!` beside the first
/// does not compile, natively as in wasm32 ("the name
/// `ONLY_ONE_EXPORT_FILTER_PER_CRATE` is defined multiple times"); one in
/// another module is refused by the wasm32 build only, as a symbol defined
/// twice:
///
/// ```compile_fail
/// # use wasmstash_sdk::prelude::*;
/// # pub struct A;
/// # impl Filter for A {
/// #     type Config = NoConfig;
/// #     fn new(_: NoConfig) -> Result<Self, String> { Ok(A) }
/// #     fn process(&mut self, _: &mut Event) -> Verdict { Verdict::Keep }
/// # }
/// # pub struct B;
/// # impl Filter for B {
/// #     type Config = NoConfig;
/// #     fn new(_: NoConfig) -> Result<Self, String> { Ok(B) }
/// #     fn process(&mut self, _: &mut Event) -> Verdict { Verdict::Drop }
/// # }
/// export_filter!(A);
/// export_filter!(B);
/// # fn main() {}
/// ```
///
/// `export_filter!(MyFilter, stateful)`, for a [`Stateful`] filter (one that
/// learns: baselines, templates), also exports `wasmstash_snapshot` and
/// `wasmstash_restore`. The
/// host treats a module with those exports as stateful: every worker of a
/// pipeline shares its one instance, and its state is checkpointed, saved and
/// restored. A filter without state leaves them out, so its workers run in
/// parallel on instances of their own.
#[macro_export]
macro_rules! export_filter {
    // First: `fn name` would otherwise be read as the start of a `fn(...)`
    // pointer type by the arm below, and fail there.
    (fn $process:path) => {
        /// The filter `export_filter!(fn ...)` made of a function.
        pub struct FnFilter;

        impl $crate::Filter for FnFilter {
            type Config = $crate::NoConfig;
            fn new(_: $crate::NoConfig) -> ::core::result::Result<Self, ::std::string::String> {
                ::core::result::Result::Ok(FnFilter)
            }
            fn process(&mut self, event: &mut $crate::Event) -> $crate::Verdict {
                $process(event)
            }
        }

        $crate::export_filter!(FnFilter);
    };
    (fn $process:path, $($rest:tt)*) => {
        ::core::compile_error!(
            "export_filter!(fn name) takes nothing after the name: a function filter has no \
             options and no state. For either, implement Filter (and Stateful) on a type and \
             export it with export_filter!(Type) or export_filter!(Type, stateful)"
        );
    };
    (fn $($rest:tt)*) => {
        ::core::compile_error!(
            "export_filter!(fn name) takes the name of a function `fn(&mut Event) -> Verdict`"
        );
    };
    ($filter:ty) => {
        $crate::__export_filter_core!($filter);
        // A `Stateful` filter exported without `stateful` would have its
        // state silently dropped: this does not compile for one (the error
        // reads "expected `KeepsNoState`, found `UseExportFilterStateful`").
        const _: () = {
            #[allow(dead_code)]
            fn exported_without_state() {
                #[allow(unused_imports)]
                use $crate::__private::{ViaPlain as _, ViaStateful as _};
                let _: $crate::__private::KeepsNoState =
                    (&&$crate::__private::Probe::<$filter>::new()).kind();
            }
        };
    };
    ($filter:ty, stateful) => {
        $crate::__export_filter_core!($filter);
        // Only a `Stateful` filter has state to export.
        const _: () = {
            #[allow(dead_code)]
            fn exported_with_state() {
                fn stateful<T: $crate::Stateful>() {}
                stateful::<$filter>();
            }
        };
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[unsafe(no_mangle)]
            unsafe extern "C" fn wasmstash_snapshot() -> u64 {
                unsafe { __WASMSTASH_GUEST.snapshot() }
            }
            #[unsafe(no_mangle)]
            unsafe extern "C" fn wasmstash_restore(ptr: *const u8, len: u32) -> u64 {
                unsafe { __WASMSTASH_GUEST.restore(ptr, len) }
            }
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_filter_core {
    ($filter:ty) => {
        // A module exports one filter. Its exports exist only in wasm32, so
        // without this a second `export_filter!` beside the first would pass
        // a native `cargo test` and fail the wasm build on an internal name.
        // (Not a symbol: natively, filter crates link into one binary.)
        #[allow(dead_code)]
        const ONLY_ONE_EXPORT_FILTER_PER_CRATE: () = ();

        #[cfg(target_arch = "wasm32")]
        static __WASMSTASH_GUEST: $crate::__private::Guest<$filter> =
            $crate::__private::Guest::new();

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[unsafe(no_mangle)]
            extern "C" fn wasmstash_abi_version() -> u32 {
                $crate::plumbing::wire::ABI_VERSION
            }
            #[unsafe(no_mangle)]
            extern "C" fn wasmstash_alloc(len: u32) -> *mut u8 {
                $crate::__private::alloc(len)
            }
            #[unsafe(no_mangle)]
            unsafe extern "C" fn wasmstash_free(ptr: *mut u8, len: u32) {
                unsafe { $crate::__private::free(ptr, len) }
            }
            #[unsafe(no_mangle)]
            unsafe extern "C" fn wasmstash_init(ptr: *const u8, len: u32) -> u64 {
                unsafe { __WASMSTASH_GUEST.init(ptr, len) }
            }
            #[unsafe(no_mangle)]
            unsafe extern "C" fn wasmstash_process(ptr: *const u8, len: u32) -> u64 {
                unsafe { __WASMSTASH_GUEST.process(ptr, len, false) }
            }
            #[unsafe(no_mangle)]
            unsafe extern "C" fn wasmstash_process_keyed(ptr: *const u8, len: u32) -> u64 {
                unsafe { __WASMSTASH_GUEST.process(ptr, len, true) }
            }
        };
    };
}

#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::runtime::guest::{Guest, alloc, free};

    use std::marker::PhantomData;

    /// Tells, in `export_filter!`, whether a filter type is [`crate::Stateful`]
    /// (autoref specialization: the impl on `&Probe` is preferred when its
    /// bound holds).
    pub struct Probe<T>(PhantomData<T>);

    impl<T> Probe<T> {
        #[allow(clippy::new_without_default)]
        pub const fn new() -> Self {
            Probe(PhantomData)
        }
    }

    /// What a filter without state is.
    pub struct KeepsNoState;
    /// What a [`crate::Stateful`] filter is: it needs
    /// `export_filter!(Type, stateful)`.
    pub struct UseExportFilterStateful;

    pub trait ViaStateful {
        fn kind(&self) -> UseExportFilterStateful {
            UseExportFilterStateful
        }
    }
    impl<T: crate::Stateful> ViaStateful for &Probe<T> {}

    pub trait ViaPlain {
        fn kind(&self) -> KeepsNoState {
            KeepsNoState
        }
    }
    impl<T> ViaPlain for Probe<T> {}
}
