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
//! the dissection itself.

use std::borrow::Cow;

use memchr::memmem::Finder;
use wasmstash_sdk::json_text::write_str;
use wasmstash_sdk::{Event, Value, field_ref};

use crate::convert::Datatype;
use crate::pattern::{Field, Kind, Pattern};

pub struct Dissector {
    prefix: Vec<u8>,
    steps: Vec<Step>,
    joins: Vec<Join>,
    /// The joins by top-level field, when their keys form a tree (no key is
    /// both a value and an object); `None` means write them one by one.
    groups: Option<Vec<Group>>,
    indirects: Vec<Indirect>,
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
    convert: Option<Conversion>,
}

/// `convert_datatype` for a join's key.
struct Conversion {
    /// Its index among the filter's conversions.
    index: usize,
    datatype: Datatype,
}

/// `%{&name}`: the key is what the field `key_field` captured (or the
/// event's `name` when no field of the pattern captures it).
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
    /// appended parts when set; `conversions` are done while writing.
    pub fn new(
        pattern: &Pattern,
        append_separator: Option<&str>,
        conversions: &[(String, Datatype)],
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
        let joins = joins(&pattern.fields, append_separator, conversions);
        Dissector {
            prefix: pattern.prefix.as_bytes().to_vec(),
            steps,
            groups: groups(&joins),
            joins,
            indirects: indirects(&pattern.fields),
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

    /// Dissects `text` into `event`. Returns false, leaving the event
    /// untouched, when the text does not fit the pattern.
    pub fn apply(&self, text: &str, event: &mut Event, scratch: &mut Scratch) -> bool {
        if self
            .find_spans(text.as_bytes(), &mut scratch.spans)
            .is_none()
        {
            return false;
        }
        match &self.groups {
            Some(groups) => {
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
            None => {
                for index in 0..self.joins.len() {
                    self.set_join(index, text, event, scratch);
                }
            }
        }
        for indirect in &self.indirects {
            let key = match indirect.key_field {
                Some(field) => Some(span(text, &scratch.spans, field).to_owned()),
                None => event.get_str(&indirect.key_name).map(str::to_owned),
            };
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                event.set(&key, span(text, &scratch.spans, indirect.value));
            }
        }
        true
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
fn joins(
    fields: &[Field],
    append_separator: Option<&str>,
    conversions: &[(String, Datatype)],
) -> Vec<Join> {
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
            let mut appends: Vec<(u32, usize)> = fields
                .iter()
                .enumerate()
                .filter_map(|(i, f)| match f.kind {
                    Kind::Append { ordinal } if f.name == key => Some((ordinal.unwrap_or(0), i)),
                    _ => None,
                })
                .collect();
            appends.sort();
            let separator = |index: usize| match append_separator {
                Some(separator) => separator.to_owned(),
                None if fields[index].previous.is_empty() => " ".to_owned(),
                None => fields[index].previous.clone(),
            };
            let segments: Vec<&str> = field_ref::segments(key).collect();
            let convert = conversions
                .iter()
                .position(|(field, _)| field_ref::segments(field).eq(segments.iter().copied()))
                .map(|index| Conversion {
                    index,
                    datatype: conversions[index].1,
                });
            Join {
                key: key.to_owned(),
                parts: normal
                    .into_iter()
                    .chain(appends.into_iter().map(|(_, i)| i))
                    .map(|i| (i, separator(i)))
                    .collect(),
                from_event: normal.is_none(),
                convert,
            }
        })
        .collect()
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
            key_field: fields
                .iter()
                .rposition(|f| f.name == field.name && matches!(f.kind, Kind::Normal | Kind::Skip)),
            key_name: field.name.clone(),
            value: index,
        })
        .collect()
}
