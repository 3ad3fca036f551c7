//! Applies one parsed pattern to a text: finds each field's span by searching
//! for the literal that ends it, then writes the fields to the event.
//!
//! Matching only records byte ranges; nothing is written until every
//! delimiter has been found, so a line that does not fit leaves the event
//! exactly as it was. Which key each field writes, and how appended parts are
//! joined, is worked out once here at `init` rather than per event.

use memchr::memmem::Finder;
use wasmstash_sdk::{Event, Value};

use crate::pattern::{Field, Kind, Pattern};

pub struct Dissector {
    prefix: Vec<u8>,
    steps: Vec<Step>,
    outputs: Vec<Output>,
}

/// How to find the end of one field.
struct Step {
    /// `None` for a last field without trailing literal: it takes the rest.
    delimiter: Option<Finder<'static>>,
    padded: bool,
}

/// One write to the event, in terms of field indices into the match.
enum Output {
    /// A normal field, possibly with appended parts: the parts are joined,
    /// each after its separator. With `from_event`, the key's current string
    /// value in the event comes first (Logstash lets `%{+key}` extend a field
    /// that existed before dissection).
    Join {
        key: String,
        parts: Vec<(usize, String)>,
        from_event: bool,
    },
    /// `%{&name}`: the key is what the field `key_field` captured (or the
    /// event's `name` when no field of the pattern captures it).
    Indirect {
        key_field: Option<usize>,
        key_name: String,
        value: usize,
    },
}

impl Dissector {
    /// `append_separator` replaces the pattern's own delimiters between
    /// appended parts when set.
    pub fn new(pattern: &Pattern, append_separator: Option<&str>) -> Dissector {
        let steps = pattern
            .fields
            .iter()
            .map(|field| Step {
                delimiter: (!field.next.is_empty())
                    .then(|| Finder::new(field.next.as_bytes()).into_owned()),
                padded: field.padded,
            })
            .collect();
        Dissector {
            prefix: pattern.prefix.as_bytes().to_vec(),
            steps,
            outputs: outputs(&pattern.fields, append_separator),
        }
    }

    /// The byte range of every field, or `None` when a delimiter is missing.
    /// `spans` is reused between events.
    fn find_spans(&self, text: &[u8], spans: &mut Vec<(usize, usize)>) -> Option<()> {
        spans.clear();
        let prefix = self.prefix.as_slice();
        let mut pos = 0;
        if !prefix.is_empty() {
            if !text.starts_with(prefix) {
                return None;
            }
            pos = skip_repeats(text, prefix.len(), prefix);
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
                    pos = at + finder.needle().len();
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
    pub fn apply(&self, text: &str, event: &mut Event, spans: &mut Vec<(usize, usize)>) -> bool {
        if self.find_spans(text.as_bytes(), spans).is_none() {
            return false;
        }
        // Spans start and end at UTF-8 boundaries: they are bounded by the
        // start, the end, or a match of a UTF-8 needle.
        let value = |index: usize| {
            let (start, end) = spans[index];
            &text[start..end]
        };
        for output in &self.outputs {
            match output {
                Output::Join {
                    key,
                    parts,
                    from_event,
                } => {
                    let mut joined = match (from_event, event.get(key)) {
                        (true, Some(Value::String(existing))) => Some(existing.clone()),
                        _ => None,
                    };
                    for (index, separator) in parts {
                        match &mut joined {
                            None => joined = Some(value(*index).to_owned()),
                            Some(text) => {
                                text.push_str(separator);
                                text.push_str(value(*index));
                            }
                        }
                    }
                    event.set(key, joined.unwrap_or_default());
                }
                Output::Indirect {
                    key_field,
                    key_name,
                    value: index,
                } => {
                    let key = match key_field {
                        Some(field) => Some(value(*field).to_owned()),
                        None => event.get_str(key_name).map(str::to_owned),
                    };
                    if let Some(key) = key.filter(|k| !k.is_empty()) {
                        event.set(&key, value(*index));
                    }
                }
            }
        }
        true
    }
}

fn skip_repeats(text: &[u8], mut pos: usize, delimiter: &[u8]) -> usize {
    while text[pos..].starts_with(delimiter) {
        pos += delimiter.len();
    }
    pos
}

/// Groups the fields by key: a normal field (the last one, if several) opens
/// its key's value and appends follow in their order; indirect fields come
/// after, as their keys may be captured by any field of the pattern.
fn outputs(fields: &[Field], append_separator: Option<&str>) -> Vec<Output> {
    let mut outputs = Vec::new();
    let mut keys: Vec<&str> = Vec::new();
    for field in fields {
        let joins = matches!(field.kind, Kind::Normal | Kind::Append { .. });
        if joins && !keys.contains(&field.name.as_str()) {
            keys.push(&field.name);
        }
    }
    for key in keys {
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
        let parts = normal
            .into_iter()
            .chain(appends.into_iter().map(|(_, i)| i))
            .map(|i| (i, separator(i)))
            .collect();
        outputs.push(Output::Join {
            key: key.to_owned(),
            parts,
            from_event: normal.is_none(),
        });
    }
    for (index, field) in fields.iter().enumerate() {
        if field.kind == Kind::Indirect {
            let key_field = fields
                .iter()
                .rposition(|f| f.name == field.name && matches!(f.kind, Kind::Normal | Kind::Skip));
            outputs.push(Output::Indirect {
                key_field,
                key_name: field.name.clone(),
                value: index,
            });
        }
    }
    outputs
}
