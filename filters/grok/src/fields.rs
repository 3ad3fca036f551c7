//! Writes one match's captures into the event.
//!
//! The straightforward way, `event.get` then `event.set` per capture, builds
//! a `serde_json::Value` tree per event and walks it per field; profiles put
//! it near a third of grok's time. Captures of a match are known in advance,
//! though: each expression gets a *shape*, the tree of its target fields by
//! top-level key. Per match, values collect in the shape's leaves, and each
//! top-level key the event does not have yet is written once, straight as
//! JSON text. A top-level key the event already has (a capture into
//! `message`, say) goes through the event API, one capture at a time, so
//! Logstash's append-and-promote rules see the existing value.

use std::collections::HashMap;

use serde_json::Value;
use wasmstash_sdk::Event;
use wasmstash_sdk::field_ref;
use wasmstash_sdk::json_text::{write_f64, write_i64, write_str, write_value};
use wasmstash_sdk::logstash::{event_rules, ruby_number};

use crate::expression::Captured;

/// Where the captures of one expression go.
pub struct Shape {
    tops: Vec<Node>,
    /// Where each child is among its parent's (`None`: the top level), by
    /// key, while the shape is built: a search of the siblings per capture
    /// made an expression of 40,000 fields take seconds to load.
    places: HashMap<(Option<usize>, String), usize>,
    /// Capture plan index -> (top index, leaf index).
    plans: Vec<Target>,
    count: Count,
    /// False when one target lies inside another (`a` and `[a][b]`); such
    /// expressions always take the event-API path.
    direct: bool,
}

struct Target {
    field: String,
    overwrite: bool,
    top: usize,
    leaf: usize,
    /// The nodes from the top-level key down to the leaf, marked as holding
    /// a value when the leaf gets one.
    path: Vec<usize>,
}

struct Node {
    /// Index into [`Scratch::filled`], in order of creation.
    id: usize,
    key: String,
    /// `"key":` as JSON text, written once here rather than escaped per event.
    quoted_key: Vec<u8>,
    kind: Kind,
    /// `@timestamp`, `tags` or `@metadata`, which Logstash's event takes
    /// only some values at (`@timestamp` a timestamp, which it always has,
    /// `tags` strings, `@metadata` an object, which it always has): their
    /// captures go through `store`, which asks the event's rules.
    constrained: bool,
}

impl Node {
    fn new(id: usize, key: &str, kind: Kind) -> Node {
        let mut quoted_key = Vec::with_capacity(key.len() + 3);
        write_str(&mut quoted_key, key);
        quoted_key.push(b':');
        Node {
            id,
            key: key.to_string(),
            quoted_key,
            kind,
            constrained: matches!(key, "@timestamp" | "tags" | "@metadata"),
        }
    }
}

enum Kind {
    Leaf(usize),
    Object(Vec<Node>),
}

/// How many nodes and leaves a shape has; each new one is numbered with
/// the count before it.
#[derive(Default)]
struct Count {
    nodes: usize,
    leaves: usize,
}

/// The index of the node `key` among `nodes`, the children of `parent`
/// (a node id, `None` for the top level), added if missing: a leaf if it
/// ends the path, else an object.
fn child_of(
    nodes: &mut Vec<Node>,
    places: &mut HashMap<(Option<usize>, String), usize>,
    parent: Option<usize>,
    key: &str,
    ends_path: bool,
    count: &mut Count,
) -> usize {
    let place = places
        .entry((parent, key.to_owned()))
        .or_insert(nodes.len());
    if *place < nodes.len() {
        return *place;
    }
    let kind = if ends_path {
        count.leaves += 1;
        Kind::Leaf(count.leaves - 1)
    } else {
        Kind::Object(Vec::new())
    };
    count.nodes += 1;
    nodes.push(Node::new(count.nodes - 1, key, kind));
    nodes.len() - 1
}

/// A captured value with its text as a span of the input, so the leaves can
/// live across events without borrowing.
#[derive(Clone, Copy)]
enum Stored {
    Nil,
    Str(u32, u32),
    Int(i64),
    /// An `:int` past 64 bits: the capture's span, read again when written.
    BigInt(u32, u32),
    Float(f64),
}

#[derive(Clone, Default)]
enum Leaf {
    #[default]
    Empty,
    One(Stored),
    Many(Vec<Stored>),
}

/// Per-event scratch space, kept between events.
#[derive(Default)]
pub struct Scratch {
    leaves: Vec<Leaf>,
    /// Per node: whether a leaf at or under it holds a value, so writing
    /// skips empty branches without searching them at every level.
    filled: Vec<bool>,
    /// Per top-level key: whether the event already has it.
    present: Vec<bool>,
    /// Why a capture could not be set where Logstash's event raises (see
    /// [`Shape::capture`]); the match's later captures are not set.
    raised: Option<String>,
}

impl Shape {
    /// `targets`: per capture plan, its field reference (with any `target`
    /// prefix) and whether `overwrite` names it.
    pub fn new(targets: Vec<(String, bool)>) -> Shape {
        let mut shape = Shape {
            tops: Vec::new(),
            places: HashMap::new(),
            plans: Vec::new(),
            count: Count::default(),
            direct: true,
        };
        for (field, overwrite) in targets {
            let segments: Vec<&str> = field_ref::segments(&field).collect();
            let mut path = Vec::new();
            let (top, leaf) = shape.place(&segments, &mut path);
            shape.plans.push(Target {
                field,
                overwrite,
                top,
                leaf,
                path,
            });
        }
        // Only building looks children up by key.
        shape.places = HashMap::new();
        shape
    }

    /// Finds or adds the leaf for a path, listing the nodes on the way in
    /// `path`; marks the shape indirect on a leaf/object clash.
    fn place(&mut self, segments: &[&str], path: &mut Vec<usize>) -> (usize, usize) {
        let Shape {
            tops,
            places,
            count,
            direct,
            ..
        } = self;
        let top = child_of(tops, places, None, segments[0], segments.len() == 1, count);
        let mut node = &mut tops[top];
        path.push(node.id);
        for (depth, segment) in segments.iter().enumerate().skip(1) {
            let parent = Some(node.id);
            let Kind::Object(children) = &mut node.kind else {
                *direct = false;
                return (top, usize::MAX);
            };
            let ends_path = depth + 1 == segments.len();
            let index = child_of(children, places, parent, segment, ends_path, count);
            node = &mut children[index];
            path.push(node.id);
        }
        match node.kind {
            Kind::Leaf(leaf) => (top, leaf),
            Kind::Object(_) => {
                *direct = false;
                (top, usize::MAX)
            }
        }
    }

    pub fn begin(&self, event: &Event, scratch: &mut Scratch) {
        scratch.leaves.clear();
        scratch.leaves.resize(self.count.leaves, Leaf::Empty);
        scratch.filled.clear();
        scratch.filled.resize(self.count.nodes, false);
        scratch.present.clear();
        scratch.present.extend(
            (self.tops.iter())
                .map(|top| !self.direct || top.constrained || event.keys().any(|k| k == top.key)),
        );
        scratch.raised = None;
    }

    /// Records one capture (already filtered for emptiness by the caller).
    /// Where Logstash's event would raise on setting it, which ends that
    /// field's match as failed, [`Shape::raised`] says so afterwards, and
    /// the later captures of the match are ignored: a path through a string
    /// or number (`[host][name]` on a string `host`), `@timestamp` or
    /// `@metadata` overwritten, anything under `tags` or a number in it.
    pub fn capture(
        &self,
        event: &mut Event,
        scratch: &mut Scratch,
        input: &str,
        plan: usize,
        value: Captured,
    ) {
        let target = &self.plans[plan];
        if scratch.present[target.top] {
            if scratch.raised.is_none() {
                let stored = store(event, &target.field, target.overwrite, value);
                scratch.raised = stored.err().map(|Raised(why)| why);
            }
            return;
        }
        if scratch.raised.is_some() {
            return;
        }
        let stored = match value {
            Captured::Nil => Stored::Nil,
            Captured::Str(text) => {
                let (start, end) = span_in(input, text);
                Stored::Str(start, end)
            }
            Captured::BigInt(text) => {
                let (start, end) = span_in(input, text);
                Stored::BigInt(start, end)
            }
            Captured::Int(n) => Stored::Int(n),
            Captured::Float(f) => Stored::Float(f),
        };
        for &node in &target.path {
            scratch.filled[node] = true;
        }
        let leaf = &mut scratch.leaves[target.leaf];
        if !target.overwrite
            && matches!(leaf, Leaf::One(Stored::Str(..)))
            && let Some(why) = event_rules::nesting_refusal(target.field.as_str(), 1)
        {
            // A second capture would make the field a list, a level deeper
            // than the event may nest there: the field's match fails, as it
            // does where Logstash's event raises.
            scratch.raised = Some(event_rules::refused_set(&target.field, why));
            return;
        }
        *leaf = match std::mem::take(leaf) {
            _ if target.overwrite => Leaf::One(stored),
            Leaf::Empty | Leaf::One(Stored::Nil) => Leaf::One(stored),
            Leaf::One(old @ Stored::Str(..)) => Leaf::Many(vec![old, stored]),
            Leaf::Many(mut items) => {
                items.push(stored);
                Leaf::Many(items)
            }
            kept @ Leaf::One(_) => kept,
        };
    }

    /// Why a capture of the match could not be set, if one could not (see
    /// `capture`).
    pub fn raised<'s>(&self, scratch: &'s Scratch) -> Option<&'s str> {
        scratch.raised.as_deref()
    }

    /// Writes the collected top-level fields into the event.
    pub fn finish(&self, event: &mut Event, scratch: &mut Scratch, input: &str) {
        for (i, top) in self.tops.iter().enumerate() {
            if scratch.present[i] || !scratch.filled[top.id] {
                continue;
            }
            event.insert_json_with(&top.key, |json| write_node(&top.kind, scratch, input, json));
        }
    }
}

fn write_node(kind: &Kind, scratch: &Scratch, input: &str, out: &mut Vec<u8>) {
    let leaves = &scratch.leaves;
    match kind {
        Kind::Leaf(i) => match &leaves[*i] {
            Leaf::Empty => out.extend_from_slice(b"null"),
            Leaf::One(value) => write_stored(*value, input, out),
            Leaf::Many(items) => {
                out.push(b'[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    write_stored(*item, input, out);
                }
                out.push(b']');
            }
        },
        Kind::Object(children) => {
            out.push(b'{');
            let mut first = true;
            for child in children.iter().filter(|c| scratch.filled[c.id]) {
                if !first {
                    out.push(b',');
                }
                first = false;
                wasmstash_sdk::plumbing::bytes::append(out, &child.quoted_key);
                write_node(&child.kind, scratch, input, out);
            }
            out.push(b'}');
        }
    }
}

fn write_stored(value: Stored, input: &str, out: &mut Vec<u8>) {
    match value {
        Stored::Nil => out.extend_from_slice(b"null"),
        Stored::Str(start, end) => write_str(out, &input[start as usize..end as usize]),
        Stored::Int(n) => write_i64(out, n),
        Stored::BigInt(start, end) => write_value(
            out,
            &ruby_number::to_i(&input[start as usize..end as usize]).into_value(),
        ),
        Stored::Float(f) => write_f64(out, f),
    }
}

/// Where `text`, a slice of `input`, lies in it.
fn span_in(input: &str, text: &str) -> (u32, u32) {
    let start = text.as_ptr() as usize - input.as_ptr() as usize;
    (start as u32, (start + text.len()) as u32)
}

/// Logstash's event raised on a capture, and why; see [`Shape::capture`].
pub struct Raised(String);

/// Logstash grok's `handle` through the event API: a new field is set; an
/// existing string becomes `[old, new]`, an existing array is appended to,
/// anything else is kept; `overwrite` replaces. A set Logstash's event
/// refuses raises (`event_rules::refusal`): through a string, under `tags`
/// or a `tags` that would hold a number, `@metadata` replaced by a text.
// Kept out of `capture`, whose direct path runs for nearly every capture.
#[inline(never)]
fn store(event: &mut Event, field: &str, overwrite: bool, value: Captured) -> Result<(), Raised> {
    let mut segments = field_ref::segments(field);
    let (first, nested) = (segments.next(), segments.next().is_some());
    match first {
        // A Logstash event always has both, as a timestamp object and a
        // map: `handle` finds them neither nil, an array nor a string, and
        // keeps them. With `overwrite` the set is refused below.
        Some("@timestamp" | "@metadata") if !overwrite && !nested => return Ok(()),
        // Logstash's event holds only strings in `tags`: it moves any other
        // value to `_tags` as it makes the event, leaving
        // `["_tagsparsefailure"]`, which `handle` then adds to. So do the
        // SDK's tags; only what grok adds decides whether the set raises.
        Some("tags")
            if !overwrite && !nested && event.get("tags").is_some_and(|t| !t.is_null()) =>
        {
            let Captured::Str(tag) = value else {
                let why = "`tags` takes only strings, and this capture is a number";
                return Err(Raised(event_rules::refused_set("tags", why)));
            };
            event.append_tags([tag.to_string()]);
            return Ok(());
        }
        _ => {}
    }
    let value = match value {
        Captured::Nil => Value::Null,
        Captured::Str(s) => Value::String(s.to_string()),
        Captured::Int(n) => Value::from(n),
        Captured::BigInt(text) => ruby_number::to_i(text).into_value(),
        Captured::Float(f) => Value::from(f),
    };
    let value = match event.get(field) {
        _ if overwrite => value,
        None | Some(Value::Null) => value,
        Some(Value::Array(items)) => {
            let mut items = items.clone();
            items.push(value);
            Value::Array(items)
        }
        Some(Value::String(old)) => Value::Array(vec![Value::String(old.clone()), value]),
        Some(_) => return Ok(()),
    };
    if let Some(why) = event_rules::refusal(event, field, &value) {
        return Err(Raised(event_rules::refused_set(field, why)));
    }
    event.set(field, value);
    Ok(())
}
