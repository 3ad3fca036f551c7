//! The event a filter sees: a JSON object that is parsed lazily, field by field.
//!
//! Decoding and re-encoding whole events would cost more than most filters'
//! own work, so an [`Event`] keeps each top-level member as the raw bytes it
//! arrived as and parses one only when the filter reads or changes it. On the
//! way out, untouched members are copied byte for byte, which also guarantees
//! an exact round trip of everything the filter did not touch.

use std::borrow::Cow;
use std::cell::OnceCell;

use serde_json::Value;

use crate::field_ref::FieldPath;
use crate::json_text::{self, write_value};
use crate::plumbing::scan;
use crate::plumbing::wire::KeySpans;

mod key_index;
mod path;
pub(crate) use path::MAX_LIST_PADDING;
mod sprintf;
mod tags;

use key_index::KeyIndex;

/// One log event. Field arguments are Logstash field references:
/// `"message"`, `"[http][response][status_code]"`.
///
/// Changing a nested field (with [`Event::set`], [`Event::get_mut`] or
/// [`Event::remove`]) writes its whole top-level field anew. Its other
/// values stay as they were: numbers keep their text (`1.50`, an integer
/// beyond 64 bits; serde_json is built with `arbitrary_precision`), though
/// an exponent is written in one form (`1.5E3` as `1.5e+3`), insignificant
/// whitespace goes, and a string's escapes may be written another way
/// (`\u00e9` as `é`). Top-level fields left alone are copied byte for byte.
///
/// Because numbers keep their text, two [`Value`]s compare by it: `1.50`
/// is not `==` to `json!(1.5)`. Compare numbers by `as_f64()` or
/// `as_i64()` instead.
pub struct Event<'a> {
    fields: Vec<Field<'a>>,
    /// Where the members of a large event are (see `key_index.rs`).
    index: KeyIndex,
    changed: bool,
    /// How many members the event arrived with.
    arrived: usize,
    /// Why a write could not be made (see [`Event::set`]); the event then
    /// fails with this reason, whatever the filter's verdict.
    refused_write: Option<String>,
    spare: Spare,
}

/// A field list kept between events of one batch, with the spare buffers,
/// which the batch loop also keeps from one batch to the next.
#[derive(Default)]
pub(crate) struct Storage<'a> {
    fields: Vec<Field<'a>>,
    pub(crate) spare: Spare,
}

/// Buffers that earlier events' added keys and JSON values were written
/// into, handed to the next event. A filter that adds the same fields to
/// every event then allocates nothing per event; in WebAssembly an allocation
/// and its free cost more than writing a typical field.
#[derive(Default)]
pub(crate) struct Spare {
    keys: Vec<String>,
    json: Vec<Vec<u8>>,
}

impl Storage<'_> {
    pub(crate) fn with_spare(spare: Spare) -> Self {
        Storage {
            fields: Vec::new(),
            spare,
        }
    }
}

impl Spare {
    /// Enough for any filter's fields per event; past it, buffers are freed.
    const MAX_KEPT: usize = 64;
    /// A buffer grown past this (one huge field) is freed, not kept.
    const MAX_KEPT_CAPACITY: usize = 64 << 10;

    fn key(&mut self, key: &str) -> String {
        let mut owned = self.keys.pop().unwrap_or_default();
        owned.push_str(key);
        owned
    }

    fn json(&mut self) -> Vec<u8> {
        self.json.pop().unwrap_or_default()
    }

    fn keep(&mut self, field: Field<'_>) {
        if let Cow::Owned(mut key) = field.key
            && self.keys.len() < Self::MAX_KEPT
            && key.capacity() <= Self::MAX_KEPT_CAPACITY
        {
            key.clear();
            self.keys.push(key);
        }
        if let Slot::Raw {
            bytes: Cow::Owned(mut json),
            ..
        } = field.value
            && self.json.len() < Self::MAX_KEPT
            && json.capacity() <= Self::MAX_KEPT_CAPACITY
        {
            json.clear();
            self.json.push(json);
        }
    }
}

struct Field<'a> {
    key: Cow<'a, str>,
    /// The key as it was written, quotes included; reused verbatim on output.
    raw_key: Option<&'a [u8]>,
    value: Slot<'a>,
}

enum Slot<'a> {
    /// JSON text: borrowed from the input, or written by the filter through
    /// [`Event::insert_json`].
    Raw {
        bytes: Cow<'a, [u8]>,
        parsed: OnceCell<Value>,
    },
    Owned(Value),
}

impl Slot<'_> {
    fn value(&self) -> &Value {
        match self {
            Slot::Raw { bytes, parsed } => parsed.get_or_init(|| parse_value(bytes)),
            Slot::Owned(value) => value,
        }
    }

    fn value_mut(&mut self) -> &mut Value {
        if let Slot::Raw { bytes, parsed } = self {
            let value = parsed.take().unwrap_or_else(|| parse_value(bytes));
            *self = Slot::Owned(value);
        }
        match self {
            Slot::Owned(value) => value,
            Slot::Raw { .. } => unreachable!("converted to owned above"),
        }
    }
}

/// The host only hands over validated JSON, so a member that does not parse
/// can only come from a native caller that skipped validation.
///
/// Strings, most of what filters read, skip `serde_json`: its string scan
/// goes a machine word at a time, four bytes in WebAssembly, where the SDK's
/// goes sixteen.
fn parse_value(bytes: &[u8]) -> Value {
    if bytes.first() == Some(&b'"') {
        let mut text = String::new();
        if json_text::unescape_str_into(bytes, &mut text) {
            return Value::String(text);
        }
    }
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

impl<'a> Event<'a> {
    /// An event with no fields.
    pub fn new() -> Event<'static> {
        Event {
            fields: Vec::new(),
            index: KeyIndex::default(),
            changed: false,
            arrived: 0,
            refused_write: None,
            spare: Spare::default(),
        }
    }

    /// Reads an event from a JSON object without parsing its values.
    ///
    /// The host guarantees valid JSON without duplicate keys; this checks only
    /// the object's outline and the keys' UTF-8.
    pub fn parse(json: &'a [u8]) -> Result<Event<'a>, String> {
        Event::parse_into(json, None, Storage::default())
    }

    /// As [`Event::parse`], reusing the field list of an earlier event, so a
    /// batch loop allocates it once rather than once per event; with `keys`
    /// when the batch says where the event's keys are.
    pub(crate) fn parse_into(
        json: &'a [u8],
        keys: Option<KeySpans<'_>>,
        storage: Storage<'a>,
    ) -> Result<Event<'a>, String> {
        let Storage { mut fields, spare } = storage;
        fields.clear();
        let add_field = |raw_key: &'a [u8], raw_value: &'a [u8]| {
            let inner = &raw_key[1..raw_key.len() - 1];
            let key = if memchr::memchr(b'\\', inner).is_some() {
                Cow::Owned(
                    serde_json::from_slice::<String>(raw_key)
                        .map_err(|e| format!("bad field name: {e}"))?,
                )
            } else {
                Cow::Borrowed(
                    ascii_or_utf8(inner).map_err(|e| format!("field name is not UTF-8: {e}"))?,
                )
            };
            fields.push(Field {
                key,
                raw_key: Some(raw_key),
                value: Slot::Raw {
                    bytes: Cow::Borrowed(raw_value),
                    parsed: OnceCell::new(),
                },
            });
            Ok(())
        };
        match keys {
            Some(keys) => scan::for_each_keyed_member(json, keys, add_field)?,
            None => scan::for_each_member(json, add_field)?,
        }
        let arrived = fields.len();
        Ok(Event {
            fields,
            index: KeyIndex::default(),
            changed: false,
            arrived,
            refused_write: None,
            spare,
        })
    }

    /// Gives the field list, and the buffers of the fields it added, back
    /// for the next [`Event::parse_into`].
    pub(crate) fn into_storage(mut self) -> Storage<'a> {
        for field in self.fields.drain(..) {
            self.spare.keep(field);
        }
        Storage {
            fields: self.fields,
            spare: self.spare,
        }
    }

    /// Whether any setter or remover touched this event.
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// The top-level field names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.key.as_ref())
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.index.position(&self.fields, key)
    }

    fn push_field(&mut self, field: Field<'a>) {
        self.fields.push(field);
        self.index.pushed(&self.fields);
    }

    /// The value at `field`, if present.
    pub fn get(&self, field: &(impl FieldPath + ?Sized)) -> Option<&Value> {
        let mut segments = field.segments();
        let top = &self.fields[self.position(segments.next()?)?];
        segments.try_fold(top.value.value(), path::child)
    }

    /// The string at `field`, if present and a string. A top-level string with
    /// no escapes is returned straight from the input bytes, without parsing.
    pub fn get_str(&self, field: &(impl FieldPath + ?Sized)) -> Option<&str> {
        let mut segments = field.segments();
        let top = &self.fields[self.position(segments.next()?)?];
        let nested = segments.clone().next().is_some();
        if let (false, Slot::Raw { bytes, parsed }) = (nested, &top.value)
            && parsed.get().is_none()
            && let Some(inner) = bytes
                .as_ref()
                .strip_prefix(b"\"")
                .and_then(|b| b.strip_suffix(b"\""))
            && memchr::memchr(b'\\', inner).is_none()
        {
            return ascii_or_utf8(inner).ok();
        }
        segments.try_fold(top.value.value(), path::child)?.as_str()
    }

    /// Copies the string at `field` into `out` (replacing its contents) and
    /// returns true, or returns false if it is absent or not a string. A
    /// top-level string is decoded straight from the input bytes, without
    /// building a `Value`: for filters that read one text field per event.
    pub fn read_str_into(&self, field: &(impl FieldPath + ?Sized), out: &mut String) -> bool {
        let mut segments = field.segments();
        let nested = segments.clone().nth(1).is_some();
        if !nested
            && let Some(index) = segments.next().and_then(|top| self.position(top))
            && let Slot::Raw { bytes, parsed } = &self.fields[index].value
            && parsed.get().is_none()
            && bytes.first() == Some(&b'"')
        {
            return json_text::unescape_str_into(bytes, out);
        }
        match self.get_str(field) {
            Some(text) => {
                out.clear();
                out.push_str(text);
                true
            }
            None => false,
        }
    }

    /// Whether `field` is present, as Logstash's `event.include?` says: a
    /// member of an object is, even if its value is `null`; a member of a
    /// list is only when not `null` (Logstash looks a list's member up by
    /// value there, and a `null` reads as absent).
    pub fn contains(&self, field: &(impl FieldPath + ?Sized)) -> bool {
        let mut segments = field.segments();
        let Some(index) = segments.next().and_then(|top| self.position(top)) else {
            return false;
        };
        let mut value = self.fields[index].value.value();
        for segment in segments {
            match path::child(value, segment) {
                Some(Value::Null) if value.is_array() => return false,
                Some(child) => value = child,
                None => return false,
            }
        }
        true
    }

    /// A mutable reference to the value at `field`, if present. The event
    /// counts as changed from here on.
    pub fn get_mut(&mut self, field: &(impl FieldPath + ?Sized)) -> Option<&mut Value> {
        let mut segments = field.segments();
        let index = self.position(segments.next()?)?;
        self.changed = true;
        segments.try_fold(self.fields[index].value.value_mut(), path::child_mut)
    }

    /// Sets `field` to `value`, creating objects along a nested path. A
    /// segment steps into a list's member by index, as [`Event::get`] reads
    /// it and as Logstash writes it: from the end when negative, and past
    /// the end the list is padded with nulls. A segment that names no member
    /// of a list changes nothing: a key, as in Logstash, and a negative
    /// index before the list's start, where Logstash's event raises. Any
    /// other value in the way that is not an object is replaced by one, as
    /// the path says it must be an object. Where Logstash's event raises
    /// instead, a filter that follows it asks [`crate::logstash::event_rules`]
    /// first.
    ///
    /// Padding past 65,536 nulls in one write (`[list][2000000000]`, which
    /// exhausts Logstash's heap) is not made: the event fails instead, with
    /// the reason, whatever the filter's verdict. So is a reference of more
    /// than [`crate::field_ref::MAX_SEGMENTS`] segments (one built from
    /// event data, say), whose objects no event may nest and whose
    /// writing out and freeing would exhaust the filter's stack.
    ///
    /// A float that is not finite (`f64::NAN`, `f64::INFINITY`) becomes
    /// `null`, as [`Value`]'s conversion makes it: JSON has no such number.
    pub fn set(&mut self, field: &(impl FieldPath + ?Sized), value: impl Into<Value>) {
        let mut segments = field.segments();
        let Some(top) = segments.next() else { return };
        let mut slot = self.top_level_mut(top);
        for (depth, segment) in (2..).zip(segments) {
            if depth > crate::field_ref::MAX_SEGMENTS {
                let shown = path::path_of(&field.segments().take(4).collect::<Vec<_>>());
                let reason = format!(
                    "cannot set {shown}...: the reference has more than {} segments, deeper \
                     than an event may nest",
                    crate::field_ref::MAX_SEGMENTS
                );
                self.refused_write.get_or_insert(reason);
                return;
            }
            match path::child_for_write(slot, segment) {
                Ok(Some(child)) => slot = child,
                Ok(None) => return,
                Err(reason) => {
                    let path = path::path_of(&field.segments().collect::<Vec<_>>());
                    let reason = format!("cannot set {path}: {reason}");
                    self.refused_write.get_or_insert(reason);
                    return;
                }
            }
        }
        *slot = value.into();
    }

    /// Why a write this event's filter asked for was not made, if one was
    /// not; the batch loop fails the event with it.
    pub(crate) fn take_refused_write(&mut self) -> Option<String> {
        self.refused_write.take()
    }

    /// Sets the top-level field named exactly `key` (no field-reference
    /// parsing, so the name may contain brackets).
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        *self.top_level_mut(key) = value.into();
    }

    /// Sets the top-level field named exactly `key` to a value given as JSON
    /// text, which is written out as is. This spares a filter that produces
    /// many fields the cost of building [`Value`]s only to serialise them.
    /// The text must be one valid JSON value; the host checks every event a
    /// filter changes and fails the event (never loses it) if it is not.
    pub fn insert_json(&mut self, key: &str, json: Vec<u8>) {
        self.changed = true;
        let value = Slot::Raw {
            bytes: Cow::Owned(json),
            parsed: OnceCell::new(),
        };
        match self.position(key) {
            Some(index) => self.fields[index].value = value,
            None => {
                let key = Cow::Owned(self.spare.key(key));
                self.push_field(Field {
                    key,
                    raw_key: None,
                    value,
                });
            }
        }
    }

    /// As [`Event::insert_json`], with `write` appending the JSON text to a
    /// buffer the SDK reuses from event to event, so that adding fields
    /// allocates nothing in the steady state.
    pub fn insert_json_with(&mut self, key: &str, write: impl FnOnce(&mut Vec<u8>)) {
        let mut json = self.spare.json();
        write(&mut json);
        self.insert_json(key, json);
    }

    fn top_level_mut(&mut self, key: &str) -> &mut Value {
        self.changed = true;
        let index = self.position(key).unwrap_or_else(|| {
            let key = Cow::Owned(self.spare.key(key));
            self.push_field(Field {
                key,
                raw_key: None,
                value: Slot::Owned(Value::Null),
            });
            self.fields.len() - 1
        });
        self.fields[index].value.value_mut()
    }

    /// Removes `field` and returns its value, if it was present.
    pub fn remove(&mut self, field: &(impl FieldPath + ?Sized)) -> Option<Value> {
        let segments: Vec<&str> = field.segments().collect();
        let (last, parents) = segments.split_last()?;
        if parents.is_empty() {
            let index = self.position(last)?;
            self.changed = true;
            let removed = self.fields.remove(index);
            self.index.forget();
            return Some(match removed.value {
                Slot::Raw { bytes, parsed } => {
                    parsed.into_inner().unwrap_or_else(|| parse_value(&bytes))
                }
                Slot::Owned(value) => value,
            });
        }
        // Look before touching, so a miss leaves the event unchanged.
        self.get(field)?;
        let parent = self.get_mut(&path::path_of(parents))?;
        path::remove_child(parent, last)
    }

    /// Appends the event as a compact JSON object to `out`. Members the filter
    /// never touched are written exactly as they came in.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        self.write_members(&self.fields, out);
        out.push(b'}');
    }

    /// Whether the only change is new top-level members after the ones the
    /// event arrived with, so that [`Event::write_added_members`] says it all.
    ///
    /// Only parsing makes a member with its key as written and a value
    /// borrowed from the input, and new members never have either; so when
    /// the first `arrived` members all still do, none was removed, replaced or
    /// changed in place.
    pub(crate) fn only_added_members(&self) -> bool {
        self.fields.len() > self.arrived
            && self.fields[..self.arrived].iter().all(|field| {
                field.raw_key.is_some()
                    && matches!(
                        field.value,
                        Slot::Raw {
                            bytes: Cow::Borrowed(_),
                            ..
                        }
                    )
            })
    }

    /// Appends the members added after the ones the event arrived with, as
    /// JSON object members without braces (`"a":1,"b":2`).
    pub(crate) fn write_added_members(&self, out: &mut Vec<u8>) {
        self.write_members(&self.fields[self.arrived..], out);
    }

    fn write_members(&self, fields: &[Field<'a>], out: &mut Vec<u8>) {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match field.raw_key {
                Some(raw) => out.extend_from_slice(raw),
                None => json_text::write_str(out, &field.key),
            }
            out.push(b':');
            match &field.value {
                Slot::Raw { bytes, .. } => out.extend_from_slice(bytes.as_ref()),
                Slot::Owned(value) => write_value(out, value),
            }
        }
    }

    /// The event as a compact JSON string.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out);
        String::from_utf8(out).expect("events are built from UTF-8 JSON")
    }
}

impl Default for Event<'static> {
    fn default() -> Self {
        Event::new()
    }
}

/// The text of a key or string body. Events are nearly all ASCII, which a
/// test a word at a time confirms inline: `from_utf8`, a call per key, was a
/// tenth of the date filter's time in WebAssembly.
fn ascii_or_utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if bytes.is_ascii() {
        // SAFETY: ASCII text is UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes)
    }
}

#[cfg(test)]
mod tests;
