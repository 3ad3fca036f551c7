//! The miner's state as bytes and back, so a restarted filter keeps its
//! templates, their ids and the tree that routes lines to them.
//!
//! The format is JSON with a version and the settings that shape the tree
//! (depth, max_children, max_tokens, masks, collapse_wildcards). A snapshot
//! taken under other tree settings is refused rather than silently routing
//! lines differently; the similarity threshold and the template bound may
//! change (a smaller bound evicts on restore). Template texts and ids are
//! recomputed from the tokens, so they cannot disagree with them.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::{Config, Masks, Miner, Node, Template};

const VERSION: u32 = 1;

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct TreeSettings {
    depth: usize,
    max_children: usize,
    max_tokens: usize,
    masks: Masks,
    collapse_wildcards: bool,
}

impl TreeSettings {
    fn of(config: &Config) -> TreeSettings {
        TreeSettings {
            depth: config.depth,
            max_children: config.max_children,
            max_tokens: config.max_tokens,
            masks: config.masks,
            collapse_wildcards: config.collapse_wildcards,
        }
    }
}

#[derive(Serialize)]
struct StateRef<'a> {
    version: u32,
    settings: TreeSettings,
    clock: u64,
    lengths: &'a FxHashMap<u32, Node>,
    templates: &'a [Option<Template>],
}

#[derive(Deserialize)]
struct State {
    version: u32,
    settings: TreeSettings,
    clock: u64,
    lengths: FxHashMap<u32, Node>,
    templates: Vec<Option<Template>>,
}

impl Miner {
    /// The whole state; empty when nothing has been mined yet.
    pub fn snapshot(&self) -> Vec<u8> {
        if self.live == 0 {
            return Vec::new();
        }
        serde_json::to_vec(&StateRef {
            version: VERSION,
            settings: TreeSettings::of(&self.config),
            clock: self.clock,
            lengths: &self.lengths,
            templates: &self.templates,
        })
        .expect("the state serialises")
    }

    /// Replaces the state with a snapshot. On error the miner is unchanged.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        if bytes.is_empty() {
            *self = Miner::new(self.config.clone())?;
            return Ok(());
        }
        let state: State = serde_json::from_slice(bytes)
            .map_err(|e| format!("template state does not decode: {e}"))?;
        if state.version != VERSION {
            return Err(format!(
                "template state has version {}, this build reads version {VERSION}",
                state.version
            ));
        }
        let ours = TreeSettings::of(&self.config);
        if state.settings != ours {
            return Err(format!(
                "template state was mined with other tree settings ({:?}) than the config's ({ours:?}); \
                 restore the old settings or delete the state to start afresh",
                state.settings
            ));
        }
        let mut templates = state.templates;
        check_tree(&state.lengths, &templates)?;
        let mut free_slots = Vec::new();
        let mut live = 0;
        for (slot, template) in templates.iter_mut().enumerate() {
            match template {
                Some(t) => {
                    t.refresh();
                    live += 1;
                }
                None => free_slots.push(slot as u32),
            }
        }
        free_slots.reverse();
        self.lengths = state.lengths;
        self.templates = templates;
        self.free_slots = free_slots;
        self.live = live;
        self.clock = state.clock;
        while self.live > self.config.max_templates {
            self.evict_least_recent();
        }
        Ok(())
    }
}

/// Every live template is filed exactly once, at the leaf its path names,
/// under the node for its token count, so no later lookup can go astray.
fn check_tree(
    lengths: &FxHashMap<u32, Node>,
    templates: &[Option<Template>],
) -> Result<(), String> {
    let corrupt = |what: String| Err(format!("template state is inconsistent: {what}"));
    let mut filed = vec![false; templates.len()];
    for (length, root) in lengths {
        let mut stack = vec![(root, 0usize)];
        while let Some((node, depth)) = stack.pop() {
            for &slot in &node.templates {
                let Some(Some(template)) = templates.get(slot as usize) else {
                    return corrupt(format!("leaf refers to missing template {slot}"));
                };
                if template.tokens.len() != *length as usize || template.path.len() != depth {
                    return corrupt(format!("template {slot} is filed under the wrong node"));
                }
                if std::mem::replace(&mut filed[slot as usize], true) {
                    return corrupt(format!("template {slot} is filed twice"));
                }
            }
            stack.extend(node.children.values().map(|child| (child, depth + 1)));
        }
    }
    for (slot, template) in templates.iter().enumerate() {
        if let Some(template) = template {
            let mut node = lengths.get(&(template.tokens.len() as u32));
            for key in &template.path {
                node = node.and_then(|n| n.children.get(key));
            }
            if !node.is_some_and(|n| n.templates.contains(&(slot as u32))) {
                return corrupt(format!("template {slot} is not at its path"));
            }
        }
    }
    Ok(())
}
