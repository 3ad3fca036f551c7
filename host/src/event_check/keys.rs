//! The keys of one object, kept while it is checked to find a repeat, and in
//! the order written so that an event's top-level keys can be carried on
//! with it (see [`super::CheckedEvent`]).

use std::borrow::Cow;
use std::collections::HashSet;

use smallvec::SmallVec;

/// How many keys of one object are compared as written, on the stack,
/// before they move to a set.
const FEW_KEYS: usize = 16;

/// The keys of one object. Small objects without escapes compare keys as
/// written, in a list kept inline (most event objects have a handful of
/// keys, and an event has many objects: a list that had to be zeroed for
/// each one cost a sixth of checking grok's output), each behind a tag of
/// its length and a few bytes so that keys that differ there are never
/// compared whole; past `FEW_KEYS` keys, or once an escape makes two
/// spellings of one key possible, repeats are found in a set of decoded
/// forms, so a hostile event cannot make this quadratic. The list goes on
/// holding every key as written.
#[derive(Default)]
pub(super) struct Keys<'a> {
    written: SmallVec<[(u64, &'a [u8]); FEW_KEYS]>,
    many: Option<HashSet<Cow<'a, [u8]>>>,
}

impl<'a> Keys<'a> {
    /// Adds `quoted` (a key as written, with its quotes, and whether it holds
    /// an escape); false if it repeats one already in.
    #[inline(always)]
    pub(super) fn insert(&mut self, quoted: &'a [u8], escaped: bool) -> bool {
        let tag = tag_of(quoted);
        if self.many.is_none() && !escaped && self.written.len() < FEW_KEYS {
            if self.written.iter().any(|&(t, k)| t == tag && k == quoted) {
                return false;
            }
            self.written.push((tag, quoted));
            return true;
        }
        self.insert_decoded(tag, quoted)
    }

    /// Adds `quoted` to the set of decoded keys, made from the inline list
    /// the first time (whose keys have no escapes, so are their own decoded
    /// forms).
    #[inline(never)]
    fn insert_decoded(&mut self, tag: u64, quoted: &'a [u8]) -> bool {
        let written = &self.written;
        let many = self
            .many
            .get_or_insert_with(|| written.iter().map(|&(_, k)| Cow::Borrowed(k)).collect());
        let fresh = many.insert(decoded(quoted));
        if fresh {
            // Tags are compared only before there is a set, when no key
            // has escapes: from here on the tag can say which do.
            let escaped = memchr::memchr(b'\\', quoted).is_some();
            self.written
                .push((tag | u64::from(escaped) << ESCAPED_BIT, quoted));
        }
        fresh
    }

    /// Every key as written, and whether it holds an escape, in the order
    /// added.
    pub(super) fn written(&self) -> impl Iterator<Item = (&'a [u8], bool)> + '_ {
        (self.written.iter()).map(|&(tag, key)| (key, tag >> ESCAPED_BIT != 0))
    }
}

/// The bit of a tag (above those [`tag_of`] sets) that says a key in the
/// list holds an escape.
const ESCAPED_BIT: u32 = 63;

/// A key's length and three of its bytes, in one word: equal keys have
/// equal tags, and most unequal ones do not.
#[inline(always)]
fn tag_of(quoted: &[u8]) -> u64 {
    let len = quoted.len();
    // A key as written has at least its two quotes.
    let byte = |i: usize| u64::from(quoted[i]);
    len as u64 | byte(1) << 32 | byte(len / 2) << 40 | byte(len - 2) << 48
}

/// A key in a form where two spellings of the same key are equal: as written
/// when it has no escapes (such a key holds no quote or backslash), else
/// decoded and re-quoted.
fn decoded(quoted: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\\', quoted).is_none() {
        Cow::Borrowed(quoted)
    } else {
        let text: String = serde_json::from_slice(quoted).expect("checked before");
        Cow::Owned(format!("\"{text}\"").into_bytes())
    }
}
