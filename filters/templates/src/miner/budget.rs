//! What the template table costs in bytes, and eviction when it is over its
//! bounds (`max_templates` templates, `max_state_mib` bytes).
//!
//! The charge of a template or tree node is an upper bound on what it costs
//! twice over: in memory while it is held, and in the JSON snapshot, which
//! exists beside the state while the host takes it. Keeping the sum of the
//! charges under `max_state_mib` therefore keeps state plus snapshot under
//! it, whatever the tokens hold (a control character costs 6 bytes in JSON).

use super::{Miner, Template};

/// A template's own cost besides its tokens: the struct and its slot, the
/// allocations of its token list, path and text, its leaf entries, and its
/// JSON skeleton (`{"tokens":[...],"path":[...],"last_used":..,"matched":..}`).
const TEMPLATE: usize = 384;
/// A boxed token or key besides its bytes: pointer and length, the
/// allocator's header and rounding, and its index entries.
const BOXED: usize = 48;
/// A tree node besides its key: the node, its hash-table bucket with the
/// table's spare capacity, and `{"children":{},"templates":[]}`.
const NODE: usize = 320;

/// Bytes `text` takes as a JSON string, quotes and a separator included.
fn json_len(text: &str) -> usize {
    let escaped: usize = text
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
pub fn template_charge(template: &Template) -> usize {
    let tokens: usize = template
        .tokens
        .iter()
        .map(|t| 2 * t.len() + BOXED + json_len(t))
        .sum();
    let path: usize = template
        .path
        .iter()
        .map(|k| k.len() + BOXED + json_len(k))
        .sum();
    TEMPLATE + tokens + path
}

/// Charge of a tree node filed under `key` (a length node has key `""`).
pub fn node_charge(key: &str) -> usize {
    NODE + key.len() + BOXED + json_len(key)
}

/// The largest charge one template and its path of new nodes can have, so
/// the configuration can be refused if one line alone could exceed a
/// useful share of the budget.
pub fn worst_template(max_tokens: usize, max_token_bytes: usize, depth: usize) -> usize {
    let token = 2 * max_token_bytes + BOXED + 6 * max_token_bytes + 3;
    let level = node_charge("") + 7 * max_token_bytes + token;
    TEMPLATE + max_tokens * token + depth * level
}

impl Miner {
    pub(super) fn byte_budget(&self) -> usize {
        self.config.max_state_mib << 20
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
        for &(_, slot) in &by_age[..count] {
            self.evict(slot);
        }
    }

    /// Over the byte budget: drops the least recently matched templates,
    /// never `keep` (the one the current line matched), until a tenth of the
    /// budget is free again, for the same reason as above.
    pub(super) fn evict_to_budget(&mut self, keep: Option<u32>) {
        let budget = self.byte_budget();
        let target = budget - budget / 10;
        let mut by_age = self.by_age();
        by_age.sort_unstable();
        for (_, slot) in by_age {
            if self.bytes <= target {
                break;
            }
            if Some(slot) != keep {
                self.evict(slot);
            }
        }
    }

    fn by_age(&self) -> Vec<(u64, u32)> {
        self.templates
            .iter()
            .enumerate()
            .filter_map(|(slot, t)| t.as_ref().map(|t| (t.last_used, slot as u32)))
            .collect()
    }

    /// The total charge of the templates and the tree, from scratch.
    pub(super) fn recount_bytes(&mut self) {
        fn nodes(node: &super::Node) -> usize {
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
