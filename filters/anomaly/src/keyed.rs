//! Per-key state with hard bounds, so memory stays bounded however many
//! distinct keys, however long, and however many values the logs carry:
//! - at most `cap` keys: when a new key arrives at the cap, the tenth of
//!   keys seen longest ago (in event time) is evicted in one go, so the cost
//!   of finding them is paid once per many insertions;
//! - keys of at most [`MAX_KEY_BYTES`]: a longer one is kept as its start
//!   and a hash of the whole ([`stored_key`]);
//! - bytes: each entry is charged what it takes in memory and in the
//!   snapshot (`charge.rs`), and the filter sheds the keys seen longest ago
//!   while the detectors' sum is over `max_state_mib` (`lib.rs`).

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Serialize};
use wasmstash_sdk::stable_hash::{Fnv1aMap, fnv1a};

use crate::charge::{self, Weigh};

/// Longest key kept as it is. A URL path or a user agent can run to
/// kilobytes, and every detector keeps its own copy of each key in memory
/// and in the snapshot: at 10,000 keys of 5,000 bytes that alone passed the
/// instance's memory limit.
pub const MAX_KEY_BYTES: usize = 128;

/// Digits of the hash a shortened key ends with.
const HASH_DIGITS: usize = 16;
/// What marks a shortened key, between its start and its hash.
const ELLIPSIS: &str = "…";

/// The hash of `text`: how seen values and template ids are stored. It must
/// be stable across processes, since snapshots keep it.
pub fn hash_text(text: &str) -> u64 {
    fnv1a(text.as_bytes())
}

/// `key` as it is stored and reported (`wasmstash.anomaly.key`): itself up
/// to [`MAX_KEY_BYTES`], else its first bytes (cut at a character
/// boundary), `…` and the 64-bit FNV-1a hash of the whole key in hex, at
/// most [`MAX_KEY_BYTES`] in all. Keys that share their start stay apart by
/// their hash; the same key always gives the same text, on every instance.
pub fn stored_key(key: &str) -> Cow<'_, str> {
    if key.len() <= MAX_KEY_BYTES {
        return Cow::Borrowed(key);
    }
    let mut end = MAX_KEY_BYTES - ELLIPSIS.len() - HASH_DIGITS;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{ELLIPSIS}{:016x}", &key[..end], hash_text(key)))
}

#[derive(Serialize, Deserialize, Clone)]
struct Entry<S> {
    last_seen: i64,
    state: S,
    /// The state's [`Weigh::weight`] when last counted.
    #[serde(skip)]
    weight: usize,
}

/// Keys to their state, at most `cap` of them.
#[derive(Serialize, Deserialize, Clone)]
pub struct Keyed<S> {
    map: Fnv1aMap<String, Entry<S>>,
    cap: usize,
    evicted: u64,
    /// The sum of the entries' charges (u64: past 4 GiB is possible in
    /// WebAssembly's 32-bit usize with `max_state_mib` up to 4096).
    #[serde(skip)]
    bytes: u64,
}

impl<S: Serialize + serde::de::DeserializeOwned + Weigh> Keyed<S> {
    /// The keys and their state as snapshot bytes, written into a buffer
    /// of their exact size (a growing one would hold two copies at once).
    #[cfg(test)]
    pub fn save(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.saved_len());
        self.save_into(&mut bytes);
        bytes
    }

    /// Bytes [`Keyed::save`] writes.
    pub fn saved_len(&self) -> usize {
        postcard::serialize_with_flavor(self, postcard::ser_flavors::Size::default()).unwrap_or(0)
    }

    /// Appends [`Keyed::save`]'s bytes to `out`.
    pub fn save_into(&self, out: &mut Vec<u8>) {
        let taken = std::mem::take(out);
        *out = postcard::to_extend(self, taken).unwrap_or_default();
    }

    /// Keys restored from [`Keyed::save`]'s bytes; the configured cap wins
    /// over the snapshot's. Keys saved before keys were shortened are
    /// shortened here, as they would be now.
    pub fn load(bytes: &[u8], cap: usize) -> Result<Self, String> {
        let mut keyed: Keyed<S> = postcard::from_bytes(bytes).map_err(|e| e.to_string())?;
        if keyed.map.keys().any(|key| key.len() > MAX_KEY_BYTES) {
            keyed.map = std::mem::take(&mut keyed.map)
                .into_iter()
                .map(|(key, entry)| (stored_key(&key).into_owned(), entry))
                .collect();
        }
        keyed.bytes = 0;
        for (key, entry) in &mut keyed.map {
            entry.weight = entry.state.weight();
            keyed.bytes += (charge::entry::<S>(key) + entry.weight) as u64;
        }
        keyed.set_cap(cap);
        Ok(keyed)
    }
}

/// Whether [`Keyed::save`]'s `bytes` hold any key, without reading them:
/// postcard writes the map's length first, a varint, one byte 0 for none.
pub fn holds_keys(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(|&length| length != 0)
}

/// What the filter's memory budget asks of a detector's keys, whatever
/// state each detector keeps per key: one view of the three kinds, so the
/// budget walks every detector alike (`lib.rs`).
pub trait KeyTable {
    /// Keys held.
    fn len(&self) -> usize;
    /// What the keys and their state are charged, in bytes.
    fn bytes(&self) -> u64;
    /// Evicts the tenth of the keys seen longest ago (at least one), to
    /// bring the filter back under its byte budget.
    fn shed(&mut self);
}

impl<S: Weigh> KeyTable for Keyed<S> {
    fn len(&self) -> usize {
        self.map.len()
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }

    fn shed(&mut self) {
        self.evict((self.map.len() / 10).max(1));
    }
}

impl<S: Weigh> Keyed<S> {
    pub fn new(cap: usize) -> Self {
        Keyed {
            map: Fnv1aMap::default(),
            cap: cap.max(1),
            evicted: 0,
            bytes: 0,
        }
    }

    /// After a restore the configured cap wins over the snapshot's.
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap.max(1);
        if self.map.len() > self.cap {
            self.evict(self.map.len() - self.cap);
        }
    }

    /// The state of `key` (as [`stored_key`] gives it), created with `new`
    /// (evicting if at the cap), and marked seen at `now` (the latest event
    /// time wins). Its charge is counted again when the result is dropped.
    pub fn touch(&mut self, key: &str, now: i64, new: impl FnOnce() -> S) -> Touched<'_, S> {
        // Callers pass keys shortened already; held events restored from a
        // snapshot of an earlier build may not be.
        let key = &*stored_key(key);
        if !self.map.contains_key(key) {
            if self.map.len() >= self.cap {
                self.evict((self.cap / 10).max(1));
            }
            let state = new();
            let weight = state.weight();
            self.bytes += (charge::entry::<S>(key) + weight) as u64;
            self.map.insert(
                key.to_owned(),
                Entry {
                    last_seen: now,
                    state,
                    weight,
                },
            );
        }
        let entry = self.map.get_mut(key).expect("inserted above");
        entry.last_seen = entry.last_seen.max(now);
        Touched {
            entry,
            bytes: &mut self.bytes,
        }
    }

    /// Every key's state. Callers only shrink what they change here (close
    /// intervals), so charges are not counted again.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut S)> {
        self.map.iter_mut().map(|(k, e)| (k.as_str(), &mut e.state))
    }

    /// Removes the `count` keys seen longest ago (ties broken by key, so every
    /// instance evicts the same keys).
    fn evict(&mut self, count: usize) {
        let mut ages: Vec<(i64, &String)> =
            self.map.iter().map(|(k, e)| (e.last_seen, k)).collect();
        let count = count.min(ages.len());
        if count == 0 {
            return;
        }
        ages.select_nth_unstable(count - 1);
        let doomed: Vec<String> = ages[..count].iter().map(|(_, k)| (*k).clone()).collect();
        for key in doomed {
            if let Some(entry) = self.map.remove(&key) {
                self.bytes -= (charge::entry::<S>(&key) + entry.weight) as u64;
            }
        }
        self.evicted += count as u64;
        wasmstash_sdk::host::count("evicted_keys", count as i64);
    }
}

/// A key's state, borrowed from [`Keyed::touch`]; dropping it counts the
/// state's charge again, after whatever the caller added to it.
pub struct Touched<'a, S: Weigh> {
    entry: &'a mut Entry<S>,
    bytes: &'a mut u64,
}

impl<S: Weigh> Deref for Touched<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.entry.state
    }
}

impl<S: Weigh> DerefMut for Touched<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.entry.state
    }
}

impl<S: Weigh> Drop for Touched<'_, S> {
    fn drop(&mut self) {
        let weight = self.entry.state.weight();
        *self.bytes = *self.bytes - self.entry.weight as u64 + weight as u64;
        self.entry.weight = weight;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weigh for u32 {
        const FIXED: usize = 4;
        fn weight(&self) -> usize {
            *self as usize
        }
    }

    #[test]
    fn evicts_the_keys_seen_longest_ago_at_the_cap() {
        let mut keys: Keyed<u32> = Keyed::new(20);
        for i in 0..20 {
            *keys.touch(&format!("k{i}"), i, || 0) += 1;
        }
        // Refresh k0 and k1 so they are the newest.
        keys.touch("k0", 100, || 0);
        keys.touch("k1", 100, || 0);
        keys.touch("new", 101, || 0);
        assert_eq!(keys.len(), 19);
        assert_eq!(keys.evicted, 2);
        let names: Vec<&str> = keys.map.keys().map(String::as_str).collect();
        assert!(names.contains(&"k0") && names.contains(&"k1") && names.contains(&"new"));
        assert!(!names.contains(&"k2") && !names.contains(&"k3"));
    }

    #[test]
    fn hash_is_stable() {
        assert_eq!(hash_text(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash_text("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn long_keys_are_kept_as_their_start_and_a_hash() {
        let short = "a".repeat(MAX_KEY_BYTES);
        assert_eq!(stored_key(&short), short.as_str());
        let long = format!("/api/{}", "é".repeat(3000));
        let stored = stored_key(&long);
        assert!(stored.len() <= MAX_KEY_BYTES, "{stored}");
        assert!(stored.starts_with("/api/éé"), "{stored}");
        assert!(stored.ends_with(&format!("…{:016x}", hash_text(&long))));
        // Keys alike in their first bytes stay apart.
        assert_ne!(stored_key(&format!("{long}x")), stored);
        assert_eq!(stored_key(&long), stored);
    }

    #[test]
    fn charges_follow_what_the_state_holds_and_survive_a_reload() {
        let mut keys: Keyed<u32> = Keyed::new(100);
        *keys.touch("a", 0, || 10) += 90;
        keys.touch("b", 1, || 5);
        let fixed = charge::entry::<u32>("a") + charge::entry::<u32>("b");
        assert_eq!(keys.bytes(), (fixed + 105) as u64);
        let reloaded: Keyed<u32> = Keyed::load(&keys.save(), 100).unwrap();
        assert_eq!(reloaded.bytes(), keys.bytes());
        assert_eq!(keys.saved_len(), keys.save().len());
        keys.shed();
        assert_eq!(keys.len(), 1, "the key seen longest ago goes");
        assert_eq!(keys.bytes(), (charge::entry::<u32>("b") + 5) as u64);
    }
}
