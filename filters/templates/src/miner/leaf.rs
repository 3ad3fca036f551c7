//! The parse tree's nodes, and the per-leaf index that lets a line skip the
//! templates it cannot join without comparing them token by token.
//!
//! A line can only reach a positive similarity with a template if at some
//! position the template has a token other than `<*>` equal to the line's
//! (a "same" position), or if every template token holds a `<*>` (then the
//! template may cover the whole line). Any other template scores exactly 0,
//! and with a positive `similarity_threshold` a template scoring 0 is never
//! chosen. So a leaf keeps a 15-bit fingerprint of every template token, in
//! one flat array, and a line is compared in full only with the templates
//! that share a fingerprint at some position or are all variables. Equal
//! fingerprints can be a coincidence; the full comparison decides. The
//! outcome is exactly that of comparing with every template, in leaf order:
//! what is skipped scores 0 and so can never be the best match.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::mask::{WILDCARD, has_wildcard};
use super::template::template_id;

/// A template's `<*>` token: never "same" as anything.
const TEMPLATE_WILDCARD: u16 = 0xffff;
/// A line's `<*>` token: a template `<*>` covers it, never equals it.
const LINE_WILDCARD: u16 = 0xfffe;

/// 15 bits of the token's hash, never one of the markers above.
fn fingerprint(token: &str) -> u16 {
    let h = template_id(token);
    ((h ^ (h >> 15) ^ (h >> 30) ^ (h >> 45)) & 0x7fff) as u16
}

pub fn template_print(token: &str) -> u16 {
    if token == WILDCARD {
        TEMPLATE_WILDCARD
    } else {
        fingerprint(token)
    }
}

pub fn line_print(token: &str) -> u16 {
    if token == WILDCARD {
        LINE_WILDCARD
    } else {
        fingerprint(token)
    }
}

#[derive(Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(PartialEq))]
pub struct Node {
    #[serde(default, skip_serializing_if = "FxHashMap::is_empty")]
    pub children: FxHashMap<Box<str>, Node>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<u32>,
    /// The fingerprints of the tokens of `templates[k]` are at
    /// `prints[k * n..(k + 1) * n]`, `n` being the token count every template
    /// under one length node shares. Derived, so rebuilt on restore.
    #[serde(skip)]
    prints: Vec<u16>,
    /// Whether every token of `templates[k]` holds a `<*>`.
    #[serde(skip)]
    loose: Vec<bool>,
}

impl Node {
    pub fn push(&mut self, slot: u32, tokens: &[Box<str>]) {
        self.templates.push(slot);
        self.prints.extend(tokens.iter().map(|t| template_print(t)));
        self.loose.push(tokens.iter().all(|t| has_wildcard(t)));
    }

    /// Refreshes the index entry of `slot` after its tokens changed.
    pub fn update(&mut self, slot: u32, tokens: &[Box<str>]) {
        let Some(k) = self.templates.iter().position(|&s| s == slot) else {
            return;
        };
        let n = tokens.len();
        for (print, token) in self.prints[k * n..(k + 1) * n].iter_mut().zip(tokens) {
            *print = template_print(token);
        }
        self.loose[k] = tokens.iter().all(|t| has_wildcard(t));
    }

    /// Removes `slot`, keeping the order of the others (ties go to the
    /// earlier template, so the order is part of the result). The tests'
    /// reference for [`Node::remove_all`].
    #[cfg(test)]
    pub fn remove(&mut self, slot: u32, n: usize) {
        if let Some(k) = self.templates.iter().position(|&s| s == slot) {
            self.templates.remove(k);
            self.prints.drain(k * n..(k + 1) * n);
            self.loose.remove(k);
        }
    }

    /// Removes every template of `doomed` here in one pass, keeping the
    /// order of the others: one by one, a leaf of L templates costs L
    /// steps a removal, and an eviction of 10,000 from large leaves took
    /// longer than a call may.
    pub fn remove_all(&mut self, doomed: &FxHashSet<u32>, n: usize) {
        let mut kept = 0;
        for k in 0..self.templates.len() {
            if doomed.contains(&self.templates[k]) {
                continue;
            }
            self.templates[kept] = self.templates[k];
            self.loose[kept] = self.loose[k];
            self.prints.copy_within(k * n..(k + 1) * n, kept * n);
            kept += 1;
        }
        self.templates.truncate(kept);
        self.loose.truncate(kept);
        self.prints.truncate(kept * n);
    }

    /// The templates worth comparing with a line whose fingerprints are
    /// `line`, in leaf order (see the module comment).
    pub fn candidates<'a>(&'a self, line: &'a [u16]) -> Box<dyn Iterator<Item = u32> + 'a> {
        if line.is_empty() {
            // Templates of no tokens cover an empty line.
            return Box::new(self.templates.iter().copied());
        }
        Box::new(
            self.prints
                .chunks_exact(line.len())
                .zip(&self.loose)
                .zip(&self.templates)
                .filter(move |((prints, loose), _)| {
                    **loose || prints.iter().zip(line).any(|(a, b)| a == b)
                })
                .map(|(_, &slot)| slot),
        )
    }

    /// Rebuilds the index of this node and those below it from the
    /// templates' tokens (after a restore).
    pub fn reindex<'t>(&mut self, tokens_of: &impl Fn(u32) -> Option<&'t [Box<str>]>) {
        self.prints.clear();
        self.loose.clear();
        for k in 0..self.templates.len() {
            let tokens = tokens_of(self.templates[k]).unwrap_or_default();
            self.prints.extend(tokens.iter().map(|t| template_print(t)));
            self.loose.push(tokens.iter().all(|t| has_wildcard(t)));
        }
        for child in self.children.values_mut() {
            child.reindex(tokens_of);
        }
    }
}
