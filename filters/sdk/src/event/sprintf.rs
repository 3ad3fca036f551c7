//! `Event::sprintf`: Logstash's `%{...}` references filled in from an
//! event, the field ones and the ones that print `@timestamp`. Apart from
//! the event's storage, as it reads the event only through `get`.

use std::borrow::Cow;

use serde_json::Value;

use super::Event;
use crate::logstash::date_format::DateFormat;
use crate::template::{Found, Reference, next_reference};
use crate::timestamp::{Timestamp, push_digits};

impl Event<'_> {
    /// Expands Logstash `%{field}` / `%{[a][b]}` references in `template`.
    /// A reference to a missing field is left as written. A value prints
    /// as Logstash prints the Java value it holds: a number with a fraction
    /// or an exponent as Java's `Double.toString` (`1e7` as `1.0E7`, `1E2`
    /// as `100.0`), an integer as its digits, a list as its members joined
    /// by commas; an object is compact JSON (see [`crate::template`] for
    /// where objects print otherwise in Logstash).
    /// A template without references (most tags and field names) comes back
    /// borrowed, with nothing allocated.
    ///
    /// As in Logstash, `%{+FORMAT}` is `@timestamp` printed with a Joda-Time
    /// pattern (`%{+YYYY.MM.dd}`), `%{{FORMAT}}` with a java.time one,
    /// `%{+%s}` in seconds since 1970, all in UTC, and `%{{TIME_NOW}}` is
    /// the current time; see [`crate::template`] for the details. A
    /// [`Template`](crate::template::Template) compiles its patterns once;
    /// here they are compiled on each call.
    pub fn sprintf<'t>(&self, template: &'t str) -> Cow<'t, str> {
        self.expand(template, None)
    }

    /// [`Event::sprintf`], with the template's date patterns compiled in
    /// advance (in their order in the text) when `formats` is given.
    pub(crate) fn expand<'t>(
        &self,
        template: &'t str,
        formats: Option<&[Result<DateFormat, String>]>,
    ) -> Cow<'t, str> {
        let Some(first) = next_reference(template) else {
            return Cow::Borrowed(template);
        };
        let mut out = String::with_capacity(template.len());
        let mut formats = formats.map(<[_]>::iter);
        // `@timestamp`, read at the first reference that needs it.
        let mut timestamp: Option<Option<Timestamp>> = None;
        let mut rest = template;
        let mut next = Some(first);
        while let Some(Found {
            start,
            end,
            reference,
        }) = next
        {
            out.push_str(&rest[..start]);
            let written = &rest[start..end];
            match reference {
                Reference::Field(field) => match self.get(field) {
                    Some(Value::Null) => out.push_str(written),
                    Some(value) => crate::template::push_value_text(value, &mut out),
                    // No `@timestamp` at all: the event stands for a new
                    // Logstash one, whose `@timestamp` is the time it was
                    // made (see `timestamp`).
                    None if names_timestamp(field) => {
                        match *timestamp.get_or_insert_with(|| self.timestamp()) {
                            Some(time) => time.write(&mut out),
                            None => out.push_str(written),
                        }
                    }
                    None => out.push_str(written),
                },
                Reference::Now => {
                    Timestamp::from_unix_nanos(crate::host::now_unix_nanos()).write(&mut out)
                }
                Reference::EpochSeconds => {
                    if let Some(time) = *timestamp.get_or_insert_with(|| self.timestamp()) {
                        push_integer(&mut out, time.seconds());
                    }
                }
                Reference::Joda(_) | Reference::Java(_) => {
                    // Taken even without a timestamp, to stay in step with
                    // the text.
                    let precompiled = formats.as_mut().and_then(Iterator::next);
                    if let Some(time) = *timestamp.get_or_insert_with(|| self.timestamp()) {
                        let compiled;
                        let format = match precompiled {
                            Some(format) => format.as_ref().ok(),
                            None => {
                                compiled = reference.compile();
                                compiled.as_ref().and_then(|format| format.as_ref().ok())
                            }
                        };
                        match format {
                            Some(format) => format.write(&time, &mut out),
                            None => out.push_str(written),
                        }
                    }
                }
            }
            rest = &rest[end..];
            next = next_reference(rest);
        }
        out.push_str(rest);
        Cow::Owned(out)
    }

    /// `@timestamp`, if it is one as Logstash writes it. Not inlined: most
    /// `sprintf` calls never need it.
    #[inline(never)]
    fn timestamp(&self) -> Option<Timestamp> {
        // Every Logstash event is given one when it is made; an event here
        // that has none (a line `wasmstash run` read) stands for a new one.
        if !self.contains("@timestamp") {
            return Some(Timestamp::from_unix_nanos(crate::host::now_unix_nanos()));
        }
        // Read from the input's text: no `Value` is built for it.
        Timestamp::parse(self.get_str("@timestamp")?)
    }
}

/// Whether a field reference is `@timestamp` (`[@timestamp]` too).
fn names_timestamp(field: &str) -> bool {
    let mut segments = crate::field_ref::segments(field);
    segments.next() == Some("@timestamp") && segments.next().is_none()
}

/// Appends `value` in decimal.
fn push_integer(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    push_digits(out, value.unsigned_abs(), 1);
}
