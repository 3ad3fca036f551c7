//! The miner's state as bytes and back, so a restarted filter keeps its
//! templates, their ids and the tree that routes lines to them.
//!
//! The format is JSON with a version and the settings that shape the tree
//! (depth, max_children, max_tokens, max_token_bytes, masks,
//! collapse_wildcards), then (from version 2) the 64-bit FNV-1a checksum of
//! that JSON, little-endian: JSON alone would take many a damaged byte (a
//! letter of a token, a digit of an id) for a different state, and route
//! lines to templates they do not fit. Version 1, without the checksum, is
//! still read. A snapshot taken under other tree settings is refused
//! rather than silently routing lines differently; the similarity threshold
//! and the bounds on templates and bytes may change (smaller bounds evict on
//! restore). Template texts and ids are
//! recomputed from the tokens, so they cannot disagree with them.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use wasmstash_sdk::stable_hash::{SEAL_BYTES, seal, unseal};

use super::{Config, Masks, Miner, Node, Template};

const VERSION: u32 = 2;
/// The last version without a checksum.
const UNCHECKED: u32 = 1;

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct TreeSettings {
    depth: usize,
    max_children: usize,
    max_tokens: usize,
    /// Absent from snapshots written before the option existed, which were
    /// taken under no bound: they are read as if under the default one (a
    /// longer token they hold is kept, and charged to the byte budget).
    #[serde(default = "default_max_token_bytes")]
    max_token_bytes: usize,
    masks: Masks,
    collapse_wildcards: bool,
}

fn default_max_token_bytes() -> usize {
    Config::default().max_token_bytes
}

impl TreeSettings {
    /// How `self` (the state's) differs from `ours` (the config's), one
    /// setting each: `depth = 4 (the config has 5)`, `masks.ip = true
    /// (the config has false)`.
    fn differences(&self, ours: &TreeSettings) -> Vec<String> {
        fn flat(prefix: &str, value: serde_json::Value, out: &mut Vec<(String, String)>) {
            match value {
                serde_json::Value::Object(members) => {
                    for (key, value) in members {
                        flat(&format!("{prefix}{key}."), value, out);
                    }
                }
                other => out.push((prefix.trim_end_matches('.').to_owned(), other.to_string())),
            }
        }
        let mut theirs = Vec::new();
        let mut mine = Vec::new();
        flat(
            "",
            serde_json::to_value(self).unwrap_or_default(),
            &mut theirs,
        );
        flat(
            "",
            serde_json::to_value(ours).unwrap_or_default(),
            &mut mine,
        );
        theirs
            .into_iter()
            .zip(mine)
            .filter(|((_, state), (_, config))| state != config)
            .map(|((name, state), (_, config))| {
                format!("{name} = {state} (the config has {config})")
            })
            .collect()
    }

    fn of(config: &Config) -> TreeSettings {
        TreeSettings {
            depth: config.depth,
            max_children: config.max_children,
            max_tokens: config.max_tokens,
            max_token_bytes: config.max_token_bytes,
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
        let state = StateRef {
            version: VERSION,
            settings: TreeSettings::of(&self.config),
            clock: self.clock,
            lengths: &self.lengths,
            templates: &self.templates,
        };
        // Measured first, then written once into a buffer of that size: a
        // growing buffer would briefly hold its old and new copies, up to
        // three times the snapshot, in memory the byte budget does not cover.
        let mut size = Counter(0);
        serde_json::to_writer(&mut size, &state).expect("the state serialises");
        let mut bytes = Vec::with_capacity(size.0 + SEAL_BYTES);
        serde_json::to_writer(&mut bytes, &state).expect("the state serialises");
        seal(&mut bytes);
        bytes
    }

    /// Replaces the state with a snapshot. On error the miner is unchanged.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        if bytes.is_empty() {
            *self = Miner::new(self.config.clone())?;
            return Ok(());
        }
        let state = checked(bytes)?;
        let ours = TreeSettings::of(&self.config);
        if state.settings != ours {
            return Err(format!(
                "template state was mined under other settings than the config's: {}; \
                 the state fits those settings only",
                state.settings.differences(&ours).join(", ")
            ));
        }
        let mut templates = state.templates;
        check_tree(&state.lengths, &templates)?;
        let mut free_slots = Vec::new();
        let mut live = 0;
        for (slot, template) in templates.iter_mut().enumerate() {
            match template {
                Some(t) => {
                    t.refresh(self.config.collapse_wildcards);
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
        let templates = &self.templates;
        let tokens_of = |slot: u32| {
            templates
                .get(slot as usize)?
                .as_ref()
                .map(|t| t.tokens.as_slice())
        };
        for root in self.lengths.values_mut() {
            root.reindex(&tokens_of);
        }
        self.recount_bytes();
        while self.live > self.config.max_templates {
            self.evict_least_recent();
        }
        if self.bytes > self.byte_budget() {
            self.evict_to_budget(None);
        }
        Ok(())
    }
}

/// The state in `bytes`: a version 2 state whose checksum holds, or a
/// version 1 state, which has none.
fn checked(bytes: &[u8]) -> Result<State, String> {
    let decode = |json: &[u8]| {
        serde_json::from_slice::<State>(json)
            .map_err(|e| format!("template state does not decode: {e}"))
    };
    let unknown = |version: u32| {
        format!(
            "template state has version {version}, this build reads versions {UNCHECKED} and {VERSION}"
        )
    };
    match unseal(bytes) {
        Some(json) => {
            let state = decode(json)?;
            match state.version {
                VERSION => Ok(state),
                UNCHECKED => Err(
                    "template state says version 1 but ends in a checksum, which only version 2 \
                     has: it is corrupted"
                        .into(),
                ),
                other => Err(unknown(other)),
            }
        }
        // No checksum: only version 1 may lack one.
        None => match decode(bytes) {
            Ok(state) if state.version == UNCHECKED => Ok(state),
            Ok(state) if state.version != VERSION => Err(unknown(state.version)),
            _ => Err(
                "template state fails its checksum (nor is it a version 1 state, which \
                 has none): it is corrupted or cut short"
                    .into(),
            ),
        },
    }
}

/// Counts the bytes written to it.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
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
