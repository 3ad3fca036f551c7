//! What the template table costs in bytes, and eviction when it is over its
//! bounds (`max_templates` templates, `max_state_mib` bytes).
//!
//! The charge of a template or tree node is an upper bound on what it costs
//! in memory while it is held, plus its JSON in the snapshot
//! [`SNAPSHOTS`] times over: the snapshot being written, the previous one
//! (the SDK keeps it until the next replaces it), and the holes earlier,
//! smaller ones leave as the table grows. Keeping the sum of the charges
//! under `max_state_mib` therefore keeps the state and its snapshots under
//! it, whatever the tokens hold (a control character costs 6 bytes in
//! JSON). Charges are in u64: `max_state_mib` goes to 4096, and 4 GiB is
//! past a 32-bit usize, WebAssembly's.

use rustc_hash::FxHashMap;

use super::{Miner, Template};

/// How many times a snapshot's bytes are held at once, at most (above).
/// Measured: 3,000 lines of 120 words of 200 control characters took the
/// instance to 75 MiB when the snapshot was charged once.
const SNAPSHOTS: u64 = 3;
/// A template's own memory besides its tokens: the struct and its slot, the
/// allocations of its token list, path and text, and its leaf entries.
const TEMPLATE: u64 = 300;
/// A template's JSON skeleton:
/// `{"tokens":[...],"path":[...],"last_used":..,"matched":..}`.
const TEMPLATE_JSON: u64 = 84;
/// A boxed token or key besides its bytes: pointer and length, the
/// allocator's header and rounding, and its index entries.
const BOXED: u64 = 48;
/// A tree node besides its key: the node, its hash-table bucket with the
/// table's spare capacity.
const NODE: u64 = 290;
/// A node's JSON skeleton: `{"children":{},"templates":[]}`.
const NODE_JSON: u64 = 30;

/// Bytes `text` takes as a JSON string, quotes and a separator included.
fn json_len(text: &str) -> u64 {
    let escaped: u64 = text
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum();
    escaped + 3
}

/// Charge of a template: each token boxed, again in the rendered text, and
/// in JSON; each path key boxed and in JSON.
pub fn template_charge(template: &Template) -> u64 {
    let tokens: u64 = template
        .tokens
        .iter()
        .map(|t| 2 * t.len() as u64 + BOXED + SNAPSHOTS * json_len(t))
        .sum();
    let path: u64 = template
        .path
        .iter()
        .map(|k| k.len() as u64 + BOXED + SNAPSHOTS * json_len(k))
        .sum();
    TEMPLATE + SNAPSHOTS * TEMPLATE_JSON + tokens + path
}

/// Charge of a tree node filed under `key` (a length node has key `""`).
pub fn node_charge(key: &str) -> u64 {
    NODE + key.len() as u64 + BOXED + SNAPSHOTS * (NODE_JSON + json_len(key))
}

/// The largest charge one template and its path of new nodes can have, so
/// the configuration can be refused if one line alone could exceed a
/// useful share of the budget.
pub fn worst_template(max_tokens: usize, max_token_bytes: usize, depth: usize) -> u64 {
    let bytes = max_token_bytes as u64;
    let json = SNAPSHOTS * (6 * bytes + 3);
    let token = 2 * bytes + BOXED + json;
    let level = node_charge("") + bytes + BOXED + json + token;
    TEMPLATE + SNAPSHOTS * TEMPLATE_JSON + max_tokens as u64 * token + depth as u64 * level
}

/// `mib` mebibytes in bytes.
pub fn mib_bytes(mib: usize) -> u64 {
    (mib as u64) << 20
}

impl Miner {
    pub(super) fn byte_budget(&self) -> u64 {
        mib_bytes(self.config.max_state_mib)
    }

    /// Drops the least recently matched tenth of the templates (at least
    /// one), so a full table costs one sort per tenth of its size rather than
    /// a scan per new template.
    pub(super) fn evict_least_recent(&mut self) {
        let mut by_age = self.by_age();
        let count = (self.config.max_templates / 10).max(1).min(by_age.len());
        if count < by_age.len() {
            by_age.select_nth_unstable(count);
        }
        let slots: Vec<u32> = by_age[..count].iter().map(|&(_, slot)| slot).collect();
        self.evict_all(&slots);
    }

    /// Over the byte budget: drops the least recently matched templates,
    /// never `keep` (the one the current line matched), until a tenth of the
    /// budget is free again, for the same reason as above.
    ///
    /// Which templates go is worked out first, as evicting them one by one
    /// would free: each its charge, and the charge of every node it leaves
    /// with no template under it, which the tree prunes. They then leave
    /// in one pass per leaf ([`Miner::evict_all`]): one by one, a leaf of
    /// L templates costs L steps a removal, past a call's deadline on a
    /// large table.
    pub(super) fn evict_to_budget(&mut self, keep: Option<u32>) {
        let budget = self.byte_budget();
        let target = budget - budget / 10;
        let mut by_age = self.by_age();
        by_age.sort_unstable();
        // Templates under each node: a length's root (an empty path) and
        // each prefix of a template's path below it.
        let mut under: FxHashMap<(usize, &[Box<str>]), usize> = FxHashMap::default();
        for template in self.templates.iter().flatten() {
            for depth in 0..=template.path.len() {
                *under
                    .entry((template.tokens.len(), &template.path[..depth]))
                    .or_default() += 1;
            }
        }
        let mut bytes = self.bytes;
        let mut doomed = Vec::new();
        for (_, slot) in by_age {
            if bytes <= target {
                break;
            }
            if Some(slot) == keep {
                continue;
            }
            let template = self.templates[slot as usize]
                .as_ref()
                .expect("listed slots hold templates");
            bytes -= template.charge;
            for depth in 0..=template.path.len() {
                let count = under
                    .get_mut(&(template.tokens.len(), &template.path[..depth]))
                    .expect("counted above");
                *count -= 1;
                if *count == 0 {
                    bytes -= match depth {
                        0 => node_charge(""),
                        _ => node_charge(&template.path[depth - 1]),
                    };
                }
            }
            doomed.push(slot);
        }
        self.evict_all(&doomed);
    }

    pub(super) fn by_age(&self) -> Vec<(u64, u32)> {
        self.templates
            .iter()
            .enumerate()
            .filter_map(|(slot, t)| t.as_ref().map(|t| (t.last_used, slot as u32)))
            .collect()
    }

    /// The total charge of the templates and the tree, from scratch.
    pub(super) fn recount_bytes(&mut self) {
        fn nodes(node: &super::Node) -> u64 {
            node.children
                .iter()
                .map(|(key, child)| node_charge(key) + nodes(child))
                .sum()
        }
        let mut bytes = 0;
        for template in self.templates.iter_mut().flatten() {
            template.charge = template_charge(template);
            bytes += template.charge;
        }
        for root in self.lengths.values() {
            bytes += node_charge("") + nodes(root);
        }
        self.bytes = bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lengths_bound_the_escapes() {
        assert_eq!(json_len("ab"), 5);
        assert_eq!(json_len("\"\\"), 7);
        assert_eq!(json_len("\u{1}"), 9);
        assert_eq!(json_len("é"), 5);
    }
}
