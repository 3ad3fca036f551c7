//! The byte-level code under the SDK's event, shared with the host: the
//! wire format of batches and results, the scan that splits an event into
//! its members, and short appends without a call into the runtime; and
//! the wording of config type errors, so that both sides say them alike.
//!
//! Public only because the host (and its benchmarks and fuzz targets) is
//! built from the same source, so that both sides of ABI v1 read the bytes
//! one way. Filter authors do not need it, and it is left out of the docs.

pub mod bytes;
pub mod config_words;
pub mod scan;
pub mod wire;
