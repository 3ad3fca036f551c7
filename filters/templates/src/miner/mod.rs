//! The online template miner, a Drain-class parse tree over masked tokens.
//!
//! This module is plain Rust with no host or SDK in sight, so it runs
//! natively in tests and benchmarks exactly as it runs inside the filter.
//!
//! A line is split at whitespace and masked (`mask.rs`). The tree's first
//! level is the token count, the next `depth - 2` levels the leading tokens
//! (a masked token goes under `<*>`, and so does any token once a node has
//! `max_children` children). A leaf holds templates of that shape; the line
//! joins the most similar one (share of equal constant tokens, at least
//! `similarity_threshold`), which generalises where they differ, or else
//! starts a new template. Templates are bounded by `max_templates` and their
//! bytes by `max_state_mib`; when the table is over either bound the least
//! recently matched templates are evicted, a tenth at once (`budget.rs`).

mod budget;
mod leaf;
pub mod mask;
mod snapshot;
pub mod template;
mod tokens;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use budget::{mib_bytes, node_charge, template_charge, worst_template};
use leaf::{Node, line_print};
use mask::has_wildcard;
pub use mask::{Masks, WILDCARD};
use template::{TokenMatch, compare, generalise, glob_split, render, template_id};
use tokens::{Limits, Tokens};

/// Lines a template must have matched before its constant words count
/// double when a line differs in them.
const SETTLED_AFTER: u64 = 10;

/// The miner's settings. [`Config::default`] is the one setting meant for any
/// system log; see the crate README for why each value is what it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub similarity_threshold: f64,
    pub depth: usize,
    pub max_children: usize,
    pub max_templates: usize,
    pub max_tokens: usize,
    /// A token longer than this once masked is taken as a variable.
    pub max_token_bytes: usize,
    /// The bound on the templates' bytes, held and snapshotted together.
    pub max_state_mib: usize,
    pub masks: Masks,
    pub collapse_wildcards: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            similarity_threshold: 0.7,
            depth: 4,
            max_children: 100,
            max_templates: 10_000,
            max_tokens: 128,
            max_token_bytes: 256,
            max_state_mib: 16,
            masks: Masks::ALL,
            collapse_wildcards: true,
        }
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), String> {
        within("similarity_threshold", self.similarity_threshold, 0.0..=1.0)?;
        within("depth", self.depth, 3..=16)?;
        within("max_children", self.max_children, 2..=100_000)?;
        within("max_templates", self.max_templates, 1..=10_000_000)?;
        within("max_tokens", self.max_tokens, 2..=4096)?;
        within("max_token_bytes", self.max_token_bytes, 16..=65_536)?;
        within("max_state_mib", self.max_state_mib, 1..=4096)?;
        // Eviction frees a tenth of the budget at a time; one template must
        // not be able to take a large share of it alone.
        let worst = worst_template(self.max_tokens, self.max_token_bytes, self.depth);
        if worst > mib_bytes(self.max_state_mib) / 4 {
            return Err(format!(
                "one template of max_tokens = {} tokens of max_token_bytes = {} bytes could take \
                 {} KiB, over a quarter of max_state_mib = {}; lower those or raise max_state_mib",
                self.max_tokens,
                self.max_token_bytes,
                worst >> 10,
                self.max_state_mib
            ));
        }
        Ok(())
    }
}

/// `value` within `range`, or an error naming `option`, the range and the value.
fn within<T: PartialOrd + std::fmt::Display>(
    option: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<(), String> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{option} must be between {} and {}, not {value}",
            range.start(),
            range.end()
        ))
    }
}

#[derive(Serialize, Deserialize)]
struct Template {
    tokens: Vec<Box<str>>,
    /// The child keys from the length node down to the leaf that holds it.
    path: Vec<Box<str>>,
    last_used: u64,
    matched: u64,
    #[serde(skip)]
    text: String,
    #[serde(skip)]
    id: u64,
    /// Its share of the byte budget (`budget.rs`).
    #[serde(skip)]
    charge: u64,
}

impl Template {
    fn refresh(&mut self, collapse_wildcards: bool) {
        self.text = render(&self.tokens, collapse_wildcards);
        self.id = template_id(&self.text);
    }
}

/// The miner: tree, templates, and scratch space reused between lines.
pub struct Miner {
    config: Config,
    lengths: FxHashMap<u32, Node>,
    templates: Vec<Option<Template>>,
    free_slots: Vec<u32>,
    live: usize,
    /// The charges of all templates and tree nodes.
    bytes: u64,
    clock: u64,
    tokens: Tokens,
    /// Fingerprints of the current line's tokens (`leaf.rs`).
    prints: Vec<u16>,
    /// Full line-to-template comparisons made, for the tests.
    #[cfg(test)]
    compared: std::cell::Cell<u64>,
    /// Compare with every template of the leaf, for the tests.
    #[cfg(test)]
    exhaustive: bool,
}

/// The template a line joined, borrowed from the miner until its next line.
pub struct Match<'m, 'l> {
    template: &'m Template,
    slot: u32,
    tokens: &'m Tokens,
    line: &'l str,
    /// Whether a run of `<*>` is one in the text, so one parameter.
    collapse_wildcards: bool,
    /// True when this line created the template text: a new template, or an
    /// existing one that generalised (and so has a new text and id).
    pub new: bool,
}

impl<'m, 'l> Match<'m, 'l> {
    pub fn id(&self) -> u64 {
        self.template.id
    }

    /// The id as written to events: 16 lowercase hex digits.
    pub fn id_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let id = self.template.id;
        let mut hex = String::with_capacity(16);
        for shift in (0..16).rev() {
            hex.push(HEX[((id >> (4 * shift)) & 0xf) as usize] as char);
        }
        hex
    }

    pub fn text(&self) -> &'m str {
        &self.template.text
    }

    /// Where the template sits in the miner's table: the same for every line
    /// of the template, also after it generalises, until it is evicted. See
    /// [`Miner::template_text`].
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// The line's text under each `<*>` of [`Match::text`], in order.
    pub fn params(&self, out: &mut Vec<&'l str>) {
        out.clear();
        let mut run_start: Option<usize> = None;
        let mut run_end = 0;
        for (i, token) in self.template.tokens.iter().enumerate() {
            let (start, end) = self.tokens.span(i);
            if &**token == WILDCARD {
                if !self.collapse_wildcards
                    && let Some(run) = run_start.take()
                {
                    out.push(&self.line[run..run_end]);
                }
                run_start.get_or_insert(start);
                run_end = end;
                continue;
            }
            if let Some(run) = run_start.take() {
                out.push(&self.line[run..run_end]);
            }
            if has_wildcard(token) {
                let original = &self.line[start..end];
                let before = out.len();
                if !glob_split(token, original, &mut |p| out.push(p)) {
                    // The token matched in masked form only; give it whole.
                    out.truncate(before);
                    out.push(original);
                }
            }
        }
        if let Some(run) = run_start {
            out.push(&self.line[run..run_end]);
        }
    }
}

impl Miner {
    pub fn new(config: Config) -> Result<Miner, String> {
        config.validate()?;
        Ok(Miner {
            config,
            lengths: FxHashMap::default(),
            templates: Vec::new(),
            free_slots: Vec::new(),
            live: 0,
            bytes: 0,
            clock: 0,
            tokens: Tokens::default(),
            prints: Vec::new(),
            #[cfg(test)]
            compared: std::cell::Cell::new(0),
            #[cfg(test)]
            exhaustive: false,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of templates held.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Every template's id and text, in no particular order.
    pub fn templates(&self) -> impl Iterator<Item = (u64, &str)> {
        self.templates
            .iter()
            .flatten()
            .map(|t| (t.id, t.text.as_str()))
    }

    /// The current text of the template at `slot` (see [`Match::slot`]).
    pub fn template_text(&self, slot: u32) -> Option<&str> {
        self.templates
            .get(slot as usize)?
            .as_ref()
            .map(|t| t.text.as_str())
    }

    /// Mines one line (the message content, without its header).
    pub fn add<'m, 'l>(&'m mut self, line: &'l str) -> Match<'m, 'l> {
        let config = &self.config;
        let limits = Limits {
            max_tokens: config.max_tokens,
            max_bytes: config.max_token_bytes,
        };
        self.tokens
            .fill(line, limits, &config.masks, config.collapse_wildcards);
        self.prints.clear();
        self.prints.extend(self.tokens.iter().map(line_print));
        self.clock += 1;
        let (slot, new) = match self.best_match() {
            Some((slot, exact)) => (slot, !exact && self.absorb(slot)),
            None => (self.create(), true),
        };
        if self.bytes > self.byte_budget() {
            self.evict_to_budget(Some(slot));
        }
        let template = self.templates[slot as usize]
            .as_mut()
            .expect("a matched slot holds a template");
        template.last_used = self.clock;
        template.matched += 1;
        Match {
            template,
            slot,
            tokens: &self.tokens,
            line,
            collapse_wildcards: self.config.collapse_wildcards,
            new,
        }
    }

    fn levels(&self) -> usize {
        (self.config.depth - 2).min(self.tokens.len())
    }

    /// The leaf's best template for the current line, and whether the line
    /// fits it without generalising (then there is nothing to absorb).
    fn best_match(&self) -> Option<(u32, bool)> {
        let mut node = self.lengths.get(&(self.tokens.len() as u32))?;
        for level in 0..self.levels() {
            let token = self.tokens.get(level);
            node = if has_wildcard(token) {
                node.children.get(WILDCARD)?
            } else {
                node.children
                    .get(token)
                    .or_else(|| node.children.get(WILDCARD))?
            };
        }
        let mut best: Option<(u32, f64, usize, usize)> = None;
        // With a threshold of 0 a template scoring 0 can still be chosen, so
        // only then is every template compared.
        #[cfg(test)]
        let prune = !self.exhaustive;
        #[cfg(not(test))]
        let prune = true;
        let candidates: Box<dyn Iterator<Item = u32>> =
            if prune && self.config.similarity_threshold > 0.0 {
                node.candidates(&self.prints)
            } else {
                Box::new(node.templates.iter().copied())
            };
        for slot in candidates {
            let template = self.templates[slot as usize].as_ref()?;
            let (similarity, covered, differs) = self.similarity(template);
            let better = match best {
                None => true,
                Some((_, s, c, _)) => similarity > s || (similarity == s && covered > c),
            };
            if better {
                best = Some((slot, similarity, covered, differs));
            }
        }
        best.filter(|&(_, s, _, _)| s >= self.config.similarity_threshold)
            .map(|(slot, _, _, differs)| (slot, differs == 0))
    }

    /// Share of the template's constant positions that the line repeats, how
    /// many positions the template's variables cover (the tie-breaker, as in
    /// Drain), and how many differ. Unlike Drain, positions the template already has as `<*>`
    /// do not count against a line: masking has made most of them variables
    /// by shape, and counting them would make short masked lines unmatchable.
    ///
    /// A template with no constant position at all has given no evidence
    /// that any word of a line may vary under it: with a positive threshold
    /// generalising never removes a template's last constant word, so such a
    /// template was mined from a line that masking turned entirely into
    /// values (`42`, `10.0.0.1 5`). A line with a word where it has a bare
    /// `<*>` is then another statement, and scores 0 against it.
    fn similarity(&self, template: &Template) -> (f64, usize, usize) {
        #[cfg(test)]
        self.compared.set(self.compared.get() + 1);
        let n = self.tokens.len();
        if n == 0 {
            return (1.0, 0, 0);
        }
        let (mut same, mut covered, mut differs) = (0, 0, 0);
        let mut words_under_wildcards = 0;
        for (i, token) in template.tokens.iter().enumerate() {
            let line_token = self.tokens.get(i);
            match compare(token, line_token) {
                TokenMatch::Same => same += 1,
                TokenMatch::Covered => {
                    covered += 1;
                    if &**token == WILDCARD && line_token != WILDCARD {
                        words_under_wildcards += 1;
                    }
                }
                TokenMatch::Differs => differs += 1,
            }
        }
        if same + differs == 0 && words_under_wildcards > 0 {
            return (0.0, covered, words_under_wildcards);
        }
        // A word still literal after many lines has been the same in all of
        // them: a line that differs there is more likely another template.
        let weight = if template.matched >= SETTLED_AFTER {
            2
        } else {
            1
        };
        let denominator = same + differs * weight;
        if denominator == 0 {
            return (1.0, covered, differs);
        }
        (same as f64 / denominator as f64, covered, differs)
    }

    /// Generalises the template to cover the current line; true if it changed.
    fn absorb(&mut self, slot: u32) -> bool {
        let collapse = self.config.collapse_wildcards;
        let template = self.templates[slot as usize]
            .as_mut()
            .expect("a matched slot holds a template");
        let mut changed = false;
        for (i, token) in template.tokens.iter_mut().enumerate() {
            let line_token = self.tokens.get(i);
            if compare(token, line_token) == TokenMatch::Differs {
                *token = generalise(token, line_token).into_boxed_str();
                changed = true;
            }
        }
        if changed {
            template.refresh(collapse);
            let charge = template_charge(template);
            self.bytes = self.bytes + charge - template.charge;
            template.charge = charge;
            let mut node = self.lengths.get_mut(&(template.tokens.len() as u32));
            for key in &template.path {
                node = node.and_then(|n| n.children.get_mut(key));
            }
            if let Some(leaf) = node {
                leaf.update(slot, &template.tokens);
            }
        }
        changed
    }

    /// Starts a template from the current line and files it in the tree.
    fn create(&mut self) -> u32 {
        if self.live >= self.config.max_templates {
            self.evict_least_recent();
        }
        let levels = self.levels();
        let max_children = self.config.max_children;
        let length = self.tokens.len() as u32;
        if !self.lengths.contains_key(&length) {
            self.bytes += node_charge("");
        }
        let node = self.lengths.entry(length).or_default();
        let mut path = Vec::with_capacity(levels);
        let mut node = node;
        for level in 0..levels {
            let token = self.tokens.get(level);
            let key: &str = if has_wildcard(token) || node.children.contains_key(token) {
                if has_wildcard(token) { WILDCARD } else { token }
            } else {
                let limit = if node.children.contains_key(WILDCARD) {
                    max_children
                } else {
                    max_children - 1
                };
                if node.children.len() < limit {
                    token
                } else {
                    WILDCARD
                }
            };
            path.push(Box::<str>::from(key));
            if !node.children.contains_key(key) {
                self.bytes += node_charge(key);
            }
            node = node.children.entry(key.into()).or_default();
        }
        let mut template = Template {
            tokens: self.tokens.iter().map(Box::from).collect(),
            path,
            last_used: self.clock,
            matched: 0,
            text: String::new(),
            id: 0,
            charge: 0,
        };
        template.refresh(self.config.collapse_wildcards);
        template.charge = template_charge(&template);
        self.bytes += template.charge;
        let slot = self.free_slots.pop().unwrap_or(self.templates.len() as u32);
        node.push(slot, &template.tokens);
        if slot as usize == self.templates.len() {
            self.templates.push(Some(template));
        } else {
            self.templates[slot as usize] = Some(template);
        }
        self.live += 1;
        slot
    }

    /// Drops the template at `slot` and the tree nodes it leaves empty, one
    /// template at a time: the reference the tests hold the batch
    /// evictions to.
    #[cfg(test)]
    fn evict(&mut self, slot: u32) {
        let template = self.take_template(slot);
        let n = template.tokens.len();
        self.prune_leaf(n as u32, &template.path, |leaf| leaf.remove(slot, n));
    }

    /// [`Miner::evict`] of every slot in `slots`, each leaf visited once.
    fn evict_all(&mut self, slots: &[u32]) {
        let doomed: FxHashSet<u32> = slots.iter().copied().collect();
        let mut leaves: FxHashSet<(u32, Vec<Box<str>>)> = FxHashSet::default();
        for &slot in slots {
            let template = self.take_template(slot);
            leaves.insert((template.tokens.len() as u32, template.path));
        }
        for (length, path) in leaves {
            self.prune_leaf(length, &path, |leaf| {
                leaf.remove_all(&doomed, length as usize)
            });
        }
    }

    /// Takes the template out of `slot`, freeing the slot and its charge.
    fn take_template(&mut self, slot: u32) -> Template {
        let template = self.templates[slot as usize]
            .take()
            .expect("listed slots hold templates");
        self.bytes -= template.charge;
        self.free_slots.push(slot);
        self.live -= 1;
        template
    }

    /// Runs `remove` on the leaf at `path` under the templates of `length`
    /// tokens, then prunes the nodes it left empty, freeing their charges.
    fn prune_leaf(&mut self, length: u32, path: &[Box<str>], remove: impl FnOnce(&mut Node)) {
        let mut freed = 0;
        if let Some(node) = self.lengths.get_mut(&length)
            && remove_from(node, path, remove, &mut freed)
        {
            self.lengths.remove(&length);
            freed += node_charge("");
        }
        self.bytes -= freed;
    }
}

/// Runs `remove` on the leaf at `path`, pruning nodes left empty and
/// adding their charges to `freed`; true if `node` itself is now empty.
fn remove_from(
    node: &mut Node,
    path: &[Box<str>],
    remove: impl FnOnce(&mut Node),
    freed: &mut u64,
) -> bool {
    match path.split_first() {
        None => remove(node),
        Some((key, rest)) => {
            if let Some(child) = node.children.get_mut(key)
                && remove_from(child, rest, remove, freed)
            {
                node.children.remove(key);
                *freed += node_charge(key);
            }
        }
    }
    node.children.is_empty() && node.templates.is_empty()
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bounds;
