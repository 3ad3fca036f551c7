//! The snapshot's format: a version byte, the postcard-encoded [`State`],
//! and (from version 2) a 64-bit FNV-1a checksum of everything before it,
//! so a state file damaged on disk is refused rather than restored into
//! wrong baselines or a clock years ahead (the host keeps a refused state
//! aside). FNV-1a detects every change confined to one byte, each bit flip
//! among them: each step maps its state one-to-one for a fixed byte and
//! differently for different bytes.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::charge::Weigh;
use crate::finding::Finding;
use crate::guard::Held;
use crate::interval::Clock;
use crate::keyed::Keyed;
use wasmstash_sdk::stable_hash::{SEAL_BYTES, seal, unseal};

/// Bumped on any incompatible change. 1: no checksum, no settings per part,
/// no held events; still read.
pub const VERSION: u8 = 2;

/// Everything learned, as the snapshot holds it. Each detector's part is
/// stored under an id naming its kind and fields, so a reload with a changed
/// config keeps the parts that still apply.
#[derive(Serialize, Deserialize)]
pub struct State {
    pub clock: Clock,
    pub pending: Vec<Finding>,
    pub parts: Vec<Part>,
    pub held: Vec<Held>,
}

/// One detector's state, with the settings its meaning depends on (the
/// interval length for `rate` and `error_ratio`): a part restored under
/// other settings would be misread, so it is dropped instead.
#[derive(Serialize, Deserialize)]
pub struct Part {
    pub id: String,
    /// Empty when unknown (a version 1 snapshot): the part is taken as is.
    pub settings: String,
    pub bytes: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
pub struct StateV1 {
    pub clock: Clock,
    pub pending: Vec<Finding>,
    pub parts: Vec<(String, Vec<u8>)>,
}

/// The settings an interval tracker's part depends on.
pub fn interval_settings(interval_ms: i64) -> String {
    format!("interval_ms={interval_ms}")
}

/// The warning for a part dropped because it was learned under other
/// settings. The settings are stored as the snapshot has always had them
/// (changing them would drop every saved part); the warning names the
/// options as the config writes them.
pub fn dropped_for_settings(id: &str, theirs: &str, ours: &str) -> String {
    format!(
        "state for `{id}` was learned with {}, the config now has {}; dropped, so its keys \
         warm up again",
        as_options(theirs),
        as_options(ours)
    )
}

fn as_options(settings: &str) -> String {
    if let Some(ms) = settings
        .strip_prefix("interval_ms=")
        .and_then(|ms| ms.parse::<i64>().ok())
    {
        return if ms % 1000 == 0 {
            format!("interval_secs = {}", ms / 1000)
        } else {
            format!("interval_secs = {}", ms as f64 / 1000.0)
        };
    }
    match settings {
        "scale=Log" => "scale = \"log\"".into(),
        "scale=Linear" => "scale = \"linear\"".into(),
        other => other.into(),
    }
}

/// A detector's state as [`encode`] takes it: written straight into the
/// snapshot, where [`Part::bytes`] is read back.
pub trait Body {
    /// Bytes [`Body::write`] appends.
    fn len(&self) -> usize;
    fn write(&self, out: &mut Vec<u8>);
}

impl<S: Serialize + serde::de::DeserializeOwned + Weigh> Body for Keyed<S> {
    fn len(&self) -> usize {
        self.saved_len()
    }
    fn write(&self, out: &mut Vec<u8>) {
        self.save_into(out);
    }
}

/// A [`Part`] to encode, its bytes not yet written.
pub struct PartRef<'a> {
    pub id: String,
    pub settings: String,
    pub body: &'a dyn Body,
}

/// The snapshot of a [`State`] made of these pieces, byte for byte what
/// encoding the `State` gives, written once into a buffer of its exact
/// size. Encoding a `State` would hold each part's bytes, the encoding
/// growing by doubling, and its copy behind the version byte at once:
/// about three copies of every key, which is what once took a snapshot of
/// 10,000 long keys past the instance's memory limit.
pub fn encode(
    clock: &Clock,
    pending: &VecDeque<Finding>,
    parts: &[PartRef],
    held: &[Held],
) -> Vec<u8> {
    let bodies: Vec<usize> = parts.iter().map(|part| part.body.len()).collect();
    let framed: usize = parts
        .iter()
        .zip(&bodies)
        .map(|(part, &len)| size(&part.id) + size(&part.settings) + varint_len(len) + len)
        .sum();
    let total = 1
        + size(clock)
        + size(pending)
        + varint_len(parts.len())
        + framed
        + size(held)
        + SEAL_BYTES;
    let mut bytes = Vec::with_capacity(total);
    bytes.push(VERSION);
    bytes = append(clock, bytes);
    bytes = append(pending, bytes);
    push_varint(&mut bytes, parts.len());
    for (part, &len) in parts.iter().zip(&bodies) {
        bytes = append(&part.id, bytes);
        bytes = append(&part.settings, bytes);
        push_varint(&mut bytes, len);
        part.body.write(&mut bytes);
    }
    bytes = append(held, bytes);
    seal(&mut bytes);
    debug_assert_eq!(bytes.len(), total);
    bytes
}

fn size<T: Serialize + ?Sized>(value: &T) -> usize {
    postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default()).unwrap_or(0)
}

fn append<T: Serialize + ?Sized>(value: &T, out: Vec<u8>) -> Vec<u8> {
    postcard::to_extend(value, out).expect("a Vec takes any length")
}

/// A length as postcard writes it: LEB128, seven bits a byte, low first.
fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    (bits as usize).div_ceil(7).max(1)
}

pub fn decode(bytes: &[u8]) -> Result<State, String> {
    let Some((&version, body)) = bytes.split_first() else {
        return Err("anomaly state is empty".into());
    };
    match version {
        VERSION => {
            if bytes.len() <= 1 + SEAL_BYTES {
                return Err("anomaly state is cut short: it fails its checksum".into());
            }
            let Some(covered) = unseal(bytes) else {
                return Err("anomaly state fails its checksum: it is corrupted or cut short; starting afresh".into());
            };
            postcard::from_bytes(&covered[1..])
                .map_err(|e| format!("anomaly state does not decode: {e}"))
        }
        1 => {
            // With no checksum to go by, a version 1 state must at least
            // be one whole: every byte read, and a clock with an interval
            // (a config takes none under a second). Eight bytes of another
            // filter's state passed as an empty one.
            let (old, rest): (StateV1, _) = postcard::take_from_bytes(body)
                .map_err(|e| format!("anomaly state (version 1) does not decode: {e}"))?;
            if !rest.is_empty() || old.clock.interval_ms < 1000 {
                return Err(
                    "anomaly state (version 1) does not decode: it is no anomaly state; starting afresh"
                        .into(),
                );
            }
            // Version 1 kept the interval length in the clock only.
            let parts = old
                .parts
                .into_iter()
                .map(|(id, bytes)| Part {
                    settings: if id.starts_with("intervals:") {
                        interval_settings(old.clock.interval_ms)
                    } else {
                        String::new()
                    },
                    id,
                    bytes,
                })
                .collect();
            Ok(State {
                clock: old.clock,
                pending: old.pending,
                parts,
                held: Vec::new(),
            })
        }
        _ => Err(format!(
            "anomaly state version {version} is not {VERSION} (or 1); starting afresh"
        )),
    }
}

/// A [`State`] encoded whole, as [`encode`] did before it wrote the parts
/// in place: the format both must write.
#[cfg(test)]
pub fn encode_whole(state: &State) -> Vec<u8> {
    let mut bytes = vec![VERSION];
    bytes.extend(postcard::to_allocvec(state).unwrap());
    seal(&mut bytes);
    bytes
}

#[cfg(test)]
pub fn encode_v1(state: State) -> Vec<u8> {
    let old = StateV1 {
        clock: state.clock,
        pending: state.pending,
        parts: state.parts.into_iter().map(|p| (p.id, p.bytes)).collect(),
    };
    let mut bytes = vec![1];
    bytes.extend(postcard::to_allocvec(&old).unwrap());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eight bytes of the chaos test filter's state (a count) begin with
    /// the byte of version 1, which has no checksum; they decoded as an
    /// empty state. Now a version 1 state must be whole and have a clock.
    #[test]
    fn another_filters_state_is_no_version_1_state() {
        for foreign in [
            &1u64.to_le_bytes()[..],
            &[1, 0],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7],
        ] {
            let error = decode(foreign).err().expect("refused");
            assert!(error.contains("version 1"), "{error}");
        }
    }

    /// The stored settings read `interval_ms=60000`; the config has no such
    /// option, so the warning must not send anyone looking for it.
    #[test]
    fn a_dropped_part_is_named_with_the_options_the_config_has() {
        let message = dropped_for_settings(
            "intervals:[service][name]",
            &interval_settings(60_000),
            &interval_settings(30_000),
        );
        assert!(
            message.contains(
                "learned with interval_secs = 60, the config now has interval_secs = 30;"
            ),
            "{message}"
        );
        let message = dropped_for_settings("value_outlier:[host]:v", "scale=Log", "scale=Linear");
        assert!(
            message.contains("scale = \"log\", the config now has scale = \"linear\""),
            "{message}"
        );
    }
}
