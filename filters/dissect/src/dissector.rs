//! Applies one parsed pattern to a text: finds each field's span by searching
//! for the literal that ends it, then writes the fields to the event.
//!
//! Matching only records byte ranges; nothing is written until every
//! delimiter has been found, so a line that does not fit leaves the event
//! exactly as it was. Which key each field writes, and how appended parts are
//! joined, is worked out once at `init`. The fields are then written as JSON
//! text, one top-level field at a time (`[http][request][method]` and
//! `[http][version]` become one `http` object), because building
//! `serde_json::Value` trees only to serialise them again cost more than
//! the dissection itself. Where Logstash's event could refuse one of the
//! sets, they are made one by one in Logstash's order instead, so that a
//! refusal leaves the event as Logstash leaves it.

use std::borrow::Cow;

use memchr::memmem::Finder;
use wasmstash_sdk::json_text::write_str;
use wasmstash_sdk::{Event, Value, field_ref};

use crate::convert::{Conversion, Datatype};
use crate::java_event;
use crate::pattern::{Field, Kind, Pattern};

mod in_order;

use in_order::{Set, clear_way, sets};

pub struct Dissector {
    prefix: Vec<u8>,
    steps: Vec<Step>,
    joins: Vec<Join>,
    /// The joins by top-level field, when their keys form a tree (no key is
    /// both a value and an object); `None` means write them one by one.
    groups: Option<Vec<Group>>,
    /// Logstash's sets, in its order, for when its event could refuse one.
    sets: Vec<Set>,
    /// A key of the pattern is one Logstash's event refuses whatever the
    /// event holds (under `tags` or `@timestamp`, `@metadata` itself).
    always_refused: bool,
    indirects: Vec<Indirect>,
}

/// What [`Dissector::apply`] did.
pub enum Outcome {
    /// The text does not fit the pattern; the event is untouched.
    Mismatch,
    Written,
    /// Logstash's event refuses a set, and why: the sets before it were
    /// made, as in Logstash, and none after it.
    Refused(String),
}

/// Per-event working memory, kept between events.
pub struct Scratch {
    spans: Vec<(usize, usize)>,
    joined: String,
    converted: Vec<bool>,
}

impl Scratch {
    pub fn new(conversions: usize) -> Scratch {
        Scratch {
            spans: Vec::new(),
            joined: String::new(),
            converted: vec![false; conversions],
        }
    }

    pub fn reset(&mut self) {
        self.converted.fill(false);
    }

    /// Whether conversion `index` was done while writing. One that failed
    /// is left to the filter's pass after all mappings, which tags it in
    /// the configured order.
    pub fn converted(&self, index: usize) -> bool {
        self.converted[index]
    }
}

/// How to find the end of one field.
struct Step {
    /// `None` for a last field without trailing literal: it takes the rest.
    delimiter: Option<Finder<'static>>,
    padded: bool,
}

/// One key written from a normal field and/or appended parts: the parts are
/// joined, each after its separator. With `from_event`, the key's current
/// string value in the event comes first (Logstash lets `%{+key}` extend a
/// field that existed before dissection).
struct Join {
    key: String,
    parts: Vec<(usize, String)>,
    from_event: bool,
    convert: Option<Convert>,
}

/// `convert_datatype` for a join's key, done as it is written.
struct Convert {
    /// Its index among the filter's conversions.
    index: usize,
    datatype: Datatype,
}

/// `%{&name}`: the key is the event's `name`, or what the field
/// `key_field` captured when the event has no `name`.
struct Indirect {
    key_field: Option<usize>,
    key_name: String,
    value: usize,
}

struct Group {
    top: String,
    node: Node,
}

enum Node {
    Leaf(usize),
    Branch(Vec<(String, Node)>),
}

impl Dissector {
    /// `append_separator` replaces the pattern's own delimiters between
    /// appended parts when set. `conversions` may be done as the fields are
    /// written, which the caller allows only where nothing between the
    /// writing and Logstash's conversion pass could tell the difference;
    /// they are also left to that pass where this pattern alone could
    /// (an indirect field that reads or overwrites a converted key, keys
    /// that overwrite each other, a number Logstash's `tags` refuses).
    pub fn new(
        pattern: &Pattern,
        append_separator: Option<&str>,
        conversions: &[Conversion],
    ) -> Dissector {
        let steps = pattern
            .fields
            .iter()
            .map(|field| Step {
                delimiter: (!field.next.is_empty())
                    .then(|| Finder::new(field.next.as_bytes()).into_owned()),
                padded: field.padded,
            })
            .collect();
        let mut joins = joins(&pattern.fields, append_separator);
        let groups = groups(&joins);
        let indirects = indirects(&pattern.fields);
        if groups.is_some() && indirects.is_empty() {
            attach(&mut joins, conversions);
        }
        let nothing = Event::new();
        let text = Value::String(String::new());
        Dissector {
            prefix: pattern.prefix.as_bytes().to_vec(),
            steps,
            groups,
            sets: sets(&pattern.fields, append_separator),
            always_refused: joins
                .iter()
                .any(|join| java_event::refusal(&nothing, &join.key, &text).is_some()),
            joins,
            indirects,
        }
    }

    /// The byte range of every field, or `None` when a delimiter is missing.
    fn find_spans(&self, text: &[u8], spans: &mut Vec<(usize, usize)>) -> Option<()> {
        spans.clear();
        let prefix = self.prefix.as_slice();
        let mut pos = 0;
        if !prefix.is_empty() {
            // The opening text must open the value, once: dissect 1.2
            // consumes one copy and leaves a repeat to the first field.
            if !text.starts_with(prefix) {
                return None;
            }
            pos = prefix.len();
        }
        for step in &self.steps {
            match &step.delimiter {
                None => {
                    spans.push((pos, text.len()));
                    pos = text.len();
                }
                Some(finder) => {
                    let at = pos + finder.find(&text[pos..])?;
                    spans.push((pos, at));
                    // Logstash's dissect moves past a delimiter only when it
                    // is found beyond the value's first byte. One that opens
                    // the value leaves this field empty and the next one
                    // starting at 0 again: `%{a},%{b},%{c}` on `,x,y` gives
                    // `a` and `b` empty and `c` the whole line, as Logstash
                    // does (logstash-filter-dissect issues 68 and 72).
                    if at > 0 {
                        pos = at + finder.needle().len();
                    }
                    if step.padded {
                        pos = skip_repeats(text, pos, finder.needle());
                    }
                }
            }
        }
        Some(())
    }

    /// Dissects `text` into `event`.
    pub fn apply(&self, text: &str, event: &mut Event, scratch: &mut Scratch) -> Outcome {
        if self
            .find_spans(text.as_bytes(), &mut scratch.spans)
            .is_none()
        {
            return Outcome::Mismatch;
        }
        match &self.groups {
            Some(groups) if !self.always_refused && clear_way(groups, &self.joins, event) => {
                for group in groups {
                    if event.keys().any(|k| k == group.top) {
                        // Merging into an existing object needs the slow path.
                        self.set_leaves(&group.node, text, event, scratch);
                    } else {
                        event.insert_json_with(&group.top, |json| {
                            self.write_node(&group.node, text, json, scratch)
                        });
                    }
                }
            }
            _ => {
                if let Err(reason) = self.set_in_order(text, event, scratch) {
                    return Outcome::Refused(reason);
                }
            }
        }
        match self.set_indirects(text, event, scratch) {
            Ok(()) => Outcome::Written,
            Err(reason) => Outcome::Refused(reason),
        }
    }

    fn write_node(&self, node: &Node, text: &str, out: &mut Vec<u8>, scratch: &mut Scratch) {
        match node {
            Node::Leaf(index) => match self.converted(*index, text, scratch) {
                Ok(number) => out.extend_from_slice(number.to_string().as_bytes()),
                Err(value) => write_str(out, &value),
            },
            Node::Branch(children) => {
                out.push(b'{');
                for (i, (key, child)) in children.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, key);
                    out.push(b':');
                    self.write_node(child, text, out, scratch);
                }
                out.push(b'}');
            }
        }
    }

    fn set_leaves(&self, node: &Node, text: &str, event: &mut Event, scratch: &mut Scratch) {
        match node {
            Node::Leaf(index) => self.set_join(*index, text, event, scratch),
            Node::Branch(children) => {
                for (_, child) in children {
                    self.set_leaves(child, text, event, scratch);
                }
            }
        }
    }

    fn set_join(&self, index: usize, text: &str, event: &mut Event, scratch: &mut Scratch) {
        let join = &self.joins[index];
        let value = if join.from_event
            && let Some(Value::String(existing)) = event.get(&join.key)
        {
            let mut value = existing.clone();
            for (part, separator) in &join.parts {
                value.push_str(separator);
                value.push_str(span(text, &scratch.spans, *part));
            }
            Value::String(value)
        } else {
            match self.converted(index, text, scratch) {
                Ok(number) => Value::Number(number),
                Err(value) => Value::String(value.into_owned()),
            }
        };
        event.set(&join.key, value);
    }

    /// The value of join `index`: a number if it is to be converted and
    /// converts, else the text.
    fn converted<'s>(
        &self,
        index: usize,
        text: &'s str,
        scratch: &'s mut Scratch,
    ) -> Result<serde_json::Number, Cow<'s, str>> {
        let join = &self.joins[index];
        let value = match join.parts.as_slice() {
            [(only, _)] => Cow::Borrowed(span(text, &scratch.spans, *only)),
            parts => {
                scratch.joined.clear();
                for (i, (part, separator)) in parts.iter().enumerate() {
                    if i > 0 {
                        scratch.joined.push_str(separator);
                    }
                    scratch.joined.push_str(span(text, &scratch.spans, *part));
                }
                Cow::Borrowed(scratch.joined.as_str())
            }
        };
        let Some(conversion) = &join.convert else {
            return Err(value);
        };
        match conversion.datatype.convert(&value) {
            Some(number) => {
                scratch.converted[conversion.index] = true;
                Ok(number)
            }
            None => Err(value),
        }
    }
}

fn span<'t>(text: &'t str, spans: &[(usize, usize)], index: usize) -> &'t str {
    // Spans start and end at UTF-8 boundaries: they are bounded by the
    // start, the end, or a match of a UTF-8 needle.
    let (start, end) = spans[index];
    &text[start..end]
}

fn skip_repeats(text: &[u8], mut pos: usize, delimiter: &[u8]) -> usize {
    while text[pos..].starts_with(delimiter) {
        pos += delimiter.len();
    }
    pos
}

/// One join per key written by normal or append fields: a normal field (the
/// last one, if several) opens the value and appends follow in their order.
fn joins(fields: &[Field], append_separator: Option<&str>) -> Vec<Join> {
    let mut keys: Vec<&str> = Vec::new();
    for field in fields {
        let joins = matches!(field.kind, Kind::Normal | Kind::Append { .. });
        if joins && !keys.contains(&field.name.as_str()) {
            keys.push(&field.name);
        }
    }
    keys.into_iter()
        .map(|key| {
            let normal = fields
                .iter()
                .rposition(|f| f.kind == Kind::Normal && f.name == key);
            let appends = appends(fields).filter(|&i| fields[i].name == key);
            Join {
                key: key.to_owned(),
                parts: normal
                    .into_iter()
                    .chain(appends)
                    .map(|i| (i, separator(fields, i, append_separator)))
                    .collect(),
                from_event: normal.is_none(),
                convert: None,
            }
        })
        .collect()
}

/// The append fields' indexes in the order their parts are joined: by
/// their `/N`, an append without one counting as 0, then as written (the
/// order of Logstash's stable sort).
fn appends(fields: &[Field]) -> impl Iterator<Item = usize> {
    let mut appends: Vec<(u32, usize)> = fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f.kind {
            Kind::Append { ordinal } => Some((ordinal.unwrap_or(0), i)),
            _ => None,
        })
        .collect();
    appends.sort();
    appends.into_iter().map(|(_, i)| i)
}

fn separator(fields: &[Field], index: usize, append_separator: Option<&str>) -> String {
    match append_separator {
        Some(separator) => separator.to_owned(),
        None if fields[index].previous.is_empty() => " ".to_owned(),
        None => fields[index].previous.clone(),
    }
}

/// Gives each join the conversion of its key, if any, except in `tags`,
/// whose number Logstash's event refuses in the conversion pass.
fn attach(joins: &mut [Join], conversions: &[Conversion]) {
    for join in joins {
        let segments: Vec<&str> = field_ref::segments(&join.key).collect();
        if segments.first() == Some(&"tags") {
            continue;
        }
        join.convert = conversions
            .iter()
            .position(|c| field_ref::segments(&c.field).eq(segments.iter().copied()))
            .map(|index| Convert {
                index,
                datatype: conversions[index].datatype,
            });
    }
}

/// Arranges the joins' keys as trees under their top-level fields, or
/// `None` if one key is both a value and the parent of another.
fn groups(joins: &[Join]) -> Option<Vec<Group>> {
    let mut groups: Vec<Group> = Vec::new();
    for (index, join) in joins.iter().enumerate() {
        let mut segments = field_ref::segments(&join.key);
        let top = segments.next()?;
        let rest: Vec<&str> = segments.collect();
        let group = match groups.iter().position(|g| g.top == top) {
            Some(at) => &mut groups[at],
            None => {
                groups.push(Group {
                    top: top.to_owned(),
                    node: Node::Branch(Vec::new()),
                });
                if rest.is_empty() {
                    groups.last_mut()?.node = Node::Leaf(index);
                    continue;
                }
                groups.last_mut()?
            }
        };
        let mut node = &mut group.node;
        for (depth, segment) in rest.iter().enumerate() {
            let Node::Branch(children) = node else {
                return None;
            };
            let last = depth + 1 == rest.len();
            let at = match children.iter().position(|(k, _)| k == segment) {
                Some(_) if last => return None,
                Some(at) => at,
                None => {
                    let child = if last {
                        Node::Leaf(index)
                    } else {
                        Node::Branch(Vec::new())
                    };
                    children.push((segment.to_string(), child));
                    children.len() - 1
                }
            };
            node = &mut children[at].1;
        }
        if rest.is_empty() {
            return None;
        }
    }
    Some(groups)
}

fn indirects(fields: &[Field]) -> Vec<Indirect> {
    fields
        .iter()
        .enumerate()
        .filter(|(_, field)| field.kind == Kind::Indirect)
        .map(|(index, field)| Indirect {
            // Logstash's ValueResolver takes the first other field of that
            // name, whatever its kind; a normal or appended one is in the
            // event by then, so only skips and other indirects count here.
            key_field: fields
                .iter()
                .enumerate()
                .position(|(other, f)| other != index && f.name == field.name),
            key_name: field.name.clone(),
            value: index,
        })
        .collect()
}
