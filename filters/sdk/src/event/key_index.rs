//! Where each top-level member of a large event is, by its key.
//!
//! An event keeps its members in a list, in the order they are written out,
//! and most events have a handful: comparing a few keys costs less than
//! hashing one. But each lookup is then a pass over the list, so work that
//! looks up once per member (json spreading a document's keys over the
//! root, a filter setting a field per pair it parsed) made as many passes
//! as there are members: json took over 3 s on a document of 40,000 keys,
//! and a filter's deadline ends such an event. Past [`INDEXED_PAST`]
//! members, the first lookup builds a hash map from each key to its
//! member's position, and lookups after it take constant time. Members added later join the
//! map; a removal, which shifts every member after it anyway, drops it, and
//! the next lookup builds it again if the event is still large.

use std::cell::OnceCell;
use std::collections::HashMap;

use super::Field;

/// Up to this many members, a lookup scans the list: the events most
/// filters see (a Beats event after grok has fewer than twenty members)
/// never build the map.
pub(super) const INDEXED_PAST: usize = 32;

/// The map of a large event's keys, built on its first lookup. It owns
/// copies of the keys: borrowed from the event's input, the map (in a cell,
/// which Rust must treat as invariant) would tie the event to its input's
/// lifetime exactly, and an event made from nothing (`Event<'static>`)
/// could no longer stand in for one read from a buffer. Boxed, so that the
/// events without one (nearly all) grow by a word, not by a map.
#[derive(Default)]
pub(super) struct KeyIndex {
    positions: OnceCell<Box<Positions>>,
}

type Positions = HashMap<Box<str>, usize>;

impl KeyIndex {
    /// The position in `fields` of the first member named `key`. Only the
    /// scan is inlined: in WebAssembly every call also pays the deadline's
    /// check on entry, and lookups in small events, the common path, make
    /// no call. (Without this split, grok ran 1.5% slower.)
    #[inline(always)]
    pub(super) fn position(&self, fields: &[Field<'_>], key: &str) -> Option<usize> {
        if fields.len() <= INDEXED_PAST {
            let found = fields.iter().position(|f| f.key == key);
            count_visits(found.map_or(fields.len(), |at| at + 1));
            return found;
        }
        self.indexed_position(fields, key)
    }

    #[cold]
    #[inline(never)]
    fn indexed_position(&self, fields: &[Field<'_>], key: &str) -> Option<usize> {
        let positions = self.positions.get_or_init(|| {
            count_visits(fields.len());
            let mut positions = Positions::with_capacity(fields.len());
            for (at, field) in fields.iter().enumerate() {
                // A repeated key (only a native caller's unchecked input
                // has one) finds its first member, as the scan does.
                positions.entry(Box::from(&*field.key)).or_insert(at);
            }
            Box::new(positions)
        });
        count_visits(1);
        positions.get(key).copied()
    }

    /// Takes in the member just pushed at the end of `fields`.
    #[inline(always)]
    pub(super) fn pushed(&mut self, fields: &[Field<'_>]) {
        if let Some(positions) = self.positions.get_mut() {
            add_last(positions, fields);
        }
    }

    /// Forgets the positions, after a member was taken out from among them.
    #[inline]
    pub(super) fn forget(&mut self) {
        self.positions.take();
    }

    #[cfg(test)]
    pub(super) fn is_built(&self) -> bool {
        self.positions.get().is_some()
    }
}

#[cold]
#[inline(never)]
fn add_last(positions: &mut Positions, fields: &[Field<'_>]) {
    let at = fields.len() - 1;
    positions.entry(Box::from(&*fields[at].key)).or_insert(at);
}

#[cfg(test)]
thread_local! {
    /// How many members lookups have looked at on this thread: each one a
    /// scan compared, each one put in a map, and one per lookup in a map.
    /// What a test counts to tell linear work from quadratic, where a time
    /// would depend on the machine.
    pub(super) static MEMBERS_VISITED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
fn count_visits(members: usize) {
    MEMBERS_VISITED.with(|visited| visited.set(visited.get() + members));
}

#[cfg(not(test))]
#[inline(always)]
fn count_visits(_: usize) {}

#[cfg(test)]
mod tests;
