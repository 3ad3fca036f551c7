//! Per-key state with a hard cap. When a new key arrives at the cap, the
//! tenth of keys seen longest ago (in event time) is evicted in one go, so the
//! cost of finding them is paid once per many insertions, and memory stays
//! bounded however many distinct keys the logs carry.

use serde::{Deserialize, Serialize};
use wasmstash_sdk::stable_hash::{Fnv1aMap, fnv1a};

/// The hash of `text`: how seen values and template ids are stored. It must
/// be stable across processes, since snapshots keep it.
pub fn hash_text(text: &str) -> u64 {
    fnv1a(text.as_bytes())
}

#[derive(Serialize, Deserialize, Clone)]
struct Entry<S> {
    last_seen: i64,
    state: S,
}

/// Keys to their state, at most `cap` of them.
#[derive(Serialize, Deserialize, Clone)]
pub struct Keyed<S> {
    map: Fnv1aMap<String, Entry<S>>,
    cap: usize,
    evicted: u64,
}

impl<S: Serialize + serde::de::DeserializeOwned> Keyed<S> {
    /// The keys and their state as snapshot bytes.
    pub fn save(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Keys restored from [`Keyed::save`]'s bytes; the configured cap wins
    /// over the snapshot's.
    pub fn load(bytes: &[u8], cap: usize) -> Result<Self, String> {
        let mut keyed: Keyed<S> = postcard::from_bytes(bytes).map_err(|e| e.to_string())?;
        keyed.set_cap(cap);
        Ok(keyed)
    }
}

impl<S> Keyed<S> {
    pub fn new(cap: usize) -> Self {
        Keyed {
            map: Fnv1aMap::default(),
            cap: cap.max(1),
            evicted: 0,
        }
    }

    /// After a restore the configured cap wins over the snapshot's.
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap.max(1);
        if self.map.len() > self.cap {
            self.evict(self.map.len() - self.cap);
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The state of `key`, created with `new` (evicting if at the cap), and
    /// marked seen at `now` (the latest event time wins).
    pub fn touch(&mut self, key: &str, now: i64, new: impl FnOnce() -> S) -> &mut S {
        if !self.map.contains_key(key) {
            if self.map.len() >= self.cap {
                self.evict((self.cap / 10).max(1));
            }
            self.map.insert(
                key.to_owned(),
                Entry {
                    last_seen: now,
                    state: new(),
                },
            );
        }
        let entry = self.map.get_mut(key).expect("inserted above");
        entry.last_seen = entry.last_seen.max(now);
        &mut entry.state
    }

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
            self.map.remove(&key);
        }
        self.evicted += count as u64;
        wasmstash_sdk::host::count("evicted_keys", count as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
