//! Logstash `%{field}` templates as a filter's config holds them: tags,
//! field names and values that [`Event::sprintf`] fills in per event.
//!
//! Most such texts hold no reference at all. A [`Template`] finds that out
//! once, when the config is read, so those are used as written with no
//! search per event; the search itself lives here, beside `sprintf`'s use
//! of it, so that every filter agrees on what a reference is.
//!
//! A reference is `%{` up to the next `}`. As in Logstash's
//! `StringInterpolation`, what is inside decides what it stands for:
//!
//! - `+%s` (or a start of it: `+%`, `+`, nothing): `@timestamp` in whole
//!   seconds since 1970;
//! - `{FORMAT}` followed by a second `}` (`%{{yyyy-MM-dd}}`): `@timestamp`
//!   printed with a java.time pattern, in UTC; `%{{TIME_NOW}}` is the
//!   current time, written as Logstash writes timestamps;
//! - `+FORMAT` (`%{+YYYY.MM.dd}`): `@timestamp` printed with a Joda-Time
//!   pattern, in UTC;
//! - anything else: a field reference.
//!
//! A field reference prints the field's value as Logstash prints the Java
//! value its event holds for it: a string as itself; a number written with
//! a fraction or an exponent, which Logstash's JSON reader makes a
//! `Double`, as Java's `Double.toString` ([`crate::logstash::java_number`]: `1e7` as
//! `1.0E7`, `12345678.5` as `1.23456785E7`, `1E2` as `100.0`), an integer
//! as its digits; `true` or `false`; a list as its members joined by commas
//! (`KeyNode.join`: nested lists flattened, a null member empty, each other
//! member printed as on its own); an object as compact JSON with its numbers
//! as Java's (`{"f":1.0E20}`), as Logstash's JSON writer prints it. Objects
//! differ from Logstash's: here the JSON has the keys in the event's order,
//! where Logstash's has its hash map's order (no order the event shows);
//! and in a list Logstash prints an object as Java's `Map.toString`
//! (`{k=v}`), where here it is the same JSON.
//!
//! The date references print nothing when the event's `@timestamp` is null
//! or not a timestamp as Logstash writes it, as Logstash's print nothing
//! for an event without one. An event with no `@timestamp` member at all (a
//! line `wasmstash run` read) stands for a new Logstash event, which is
//! dated when it is made: for it these, and `%{@timestamp}` itself, print
//! the current time. A pattern
//! that Joda or java.time refuses is an exception in Logstash, which stops
//! the pipeline at the first event with a timestamp; [`Template::check`]
//! finds it when the config is read, and a refused pattern that gets to
//! `sprintf` anyway is left as written. So does a field reference that is
//! not well formed (`%{message[0]}`), on which Logstash's strict parser
//! raises "Invalid FieldReference" for every event: `check` refuses it too
//! (stricter than Logstash, which loads such a config), and `sprintf`
//! leaves one written as it is.

use std::borrow::Cow;

use crate::Event;
use crate::field_ref::{self, FieldPath, FieldRef, Unusable};
use crate::logstash::date_format::DateFormat;
use crate::logstash::java_number;

/// A text from a filter's config that may hold `%{field}` references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    text: String,
    fixed: bool,
    /// The text's date patterns (`%{+...}`, `%{{...}}`) in order, compiled
    /// once; empty (no allocation) for the many templates without any.
    formats: Vec<Result<DateFormat, String>>,
}

impl Template {
    pub fn new(text: impl Into<String>) -> Template {
        let text = text.into();
        let fixed = !has_references(&text);
        let mut formats = Vec::new();
        if !fixed {
            let mut rest = text.as_str();
            while let Some(found) = next_reference(rest) {
                if let Some(format) = found.reference.compile() {
                    let written = &rest[found.start..found.end];
                    formats.push(format.map_err(|e| format!("`{written}`: {e}")));
                }
                rest = &rest[found.end..];
            }
        }
        Template {
            text,
            fixed,
            formats,
        }
    }

    /// A template for `option` of a filter's config, [checked](Template::check):
    /// the error names the option and the reference.
    pub fn checked(option: &str, text: impl Into<String>) -> Result<Template, String> {
        let template = Template::new(text);
        template.check().map_err(|e| format!("{option}: {e}"))?;
        Ok(template)
    }

    /// Whether every reference in the template can be filled in: each date
    /// pattern compiles and each field reference is well formed
    /// ([`field_ref::validate`]); the error names the first that is not.
    /// Logstash meets either only when it fills in an event: a refused
    /// date pattern stops its pipeline there, and a malformed field
    /// reference (`%{message[0]}`) raises "Invalid FieldReference" on every
    /// event. A config's template is the same on every event, so a filter
    /// should refuse it instead.
    pub fn check(&self) -> Result<(), String> {
        let mut formats = self.formats.iter();
        let mut rest = self.text.as_str();
        while let Some(found) = next_reference(rest) {
            let written = &rest[found.start..found.end];
            match found.reference {
                Reference::Field(field) => {
                    field_ref::validate(field).map_err(|e| format!("`{written}`: {e}"))?
                }
                Reference::Joda(_) | Reference::Java(_) => {
                    if let Some(Err(error)) = formats.next() {
                        return Err(error.clone());
                    }
                }
                Reference::EpochSeconds | Reference::Now => {}
            }
            rest = &rest[found.end..];
        }
        Ok(())
    }

    /// The template as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the text holds no reference, and so is the same on every
    /// event.
    pub fn is_fixed(&self) -> bool {
        self.fixed
    }

    /// The text for `event`: as written when fixed, else
    /// [`Event::sprintf`]'s expansion.
    pub fn render<'t>(&'t self, event: &Event) -> Cow<'t, str> {
        if self.fixed {
            Cow::Borrowed(&self.text)
        } else {
            event.expand(&self.text, Some(&self.formats))
        }
    }
}

/// A field name from a filter's config: split into its path once, unless
/// it holds `%{field}` references and so may name another field on each
/// event (`add_field`'s names, `rename`'s).
pub enum FieldName {
    Fixed(FieldRef),
    Sprintf(Template),
}

impl FieldName {
    /// Reads `name` for `option`; a fixed name is checked as a field
    /// reference now, one with references only once it is filled in.
    pub fn new(option: &str, name: String) -> Result<FieldName, String> {
        let template = Template::checked(option, name)?;
        if !template.is_fixed() {
            return Ok(FieldName::Sprintf(template));
        }
        field_ref::validate_option(option, template.as_str())?;
        Ok(FieldName::Fixed(FieldRef::new(template.as_str())))
    }

    /// The field this name gives for `event`. A template's text is checked
    /// once filled in: the event's own text can make it `[a`, or a path past
    /// the depth limit, which would overflow a filter's stack. It may give
    /// `""`, a top-level field of that name, as Logstash's event reads it.
    pub fn resolve(&self, event: &Event) -> Result<ResolvedField<'_>, Unusable> {
        match self {
            FieldName::Fixed(field) => Ok(ResolvedField::Fixed(field)),
            FieldName::Sprintf(template) => {
                let filled = template.render(event);
                field_ref::check(&filled)?;
                Ok(ResolvedField::Rendered(filled))
            }
        }
    }
}

/// A [`FieldName`] for one event; it borrows the config, not the event, so
/// the event can be changed at that field.
pub enum ResolvedField<'a> {
    Fixed(&'a FieldRef),
    Rendered(Cow<'a, str>),
}

impl ResolvedField<'_> {
    /// The name as a reason shows it.
    pub fn as_str(&self) -> &str {
        match self {
            ResolvedField::Fixed(field) => field.as_str(),
            ResolvedField::Rendered(name) => name,
        }
    }
}

impl FieldPath for ResolvedField<'_> {
    type Segments<'s>
        = ResolvedSegments<'s>
    where
        Self: 's;

    fn segments(&self) -> ResolvedSegments<'_> {
        match self {
            ResolvedField::Fixed(field) => ResolvedSegments::Fixed(field.segments()),
            ResolvedField::Rendered(text) => ResolvedSegments::Rendered(field_ref::segments(text)),
        }
    }
}

/// The segments of a [`ResolvedField`].
#[derive(Clone)]
pub enum ResolvedSegments<'s> {
    Fixed(<FieldRef as FieldPath>::Segments<'s>),
    Rendered(field_ref::Segments<'s>),
}

impl<'s> Iterator for ResolvedSegments<'s> {
    type Item = &'s str;

    fn next(&mut self) -> Option<&'s str> {
        match self {
            ResolvedSegments::Fixed(segments) => segments.next(),
            ResolvedSegments::Rendered(segments) => segments.next(),
        }
    }
}

/// Appends `value` as a field reference prints it (see the module's
/// documentation).
pub(crate) fn push_value_text(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::String(text) => out.push_str(text),
        Value::Null => {}
        Value::Number(number) => java_number::push_number_text(number, out),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_value_text(item, out);
            }
        }
        Value::Bool(_) | Value::Object(_) => push_json(value, out),
    }
}

/// `value` as JSON, its numbers as Java's `toString` writes them.
fn push_json(value: &serde_json::Value, out: &mut String) {
    let mut json = Vec::new();
    crate::json_text::write_value_with(&mut json, value, &|json: &mut Vec<u8>, number| {
        let mut text = String::new();
        java_number::push_number_text(number, &mut text);
        json.extend_from_slice(text.as_bytes());
    });
    out.push_str(std::str::from_utf8(&json).expect("JSON text is UTF-8"));
}

/// Whether `text` holds a `%{` that starts a reference: one that is
/// closed, as `sprintf` keeps a `%{` never closed as written. Every closed
/// one is a reference of some kind (a field, or `@timestamp` formatted).
pub fn has_references(text: &str) -> bool {
    find_reference(text).is_some_and(|at| text[at + 2..].contains('}'))
}

/// What one `%{...}` stands for (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reference<'t> {
    Field(&'t str),
    EpochSeconds,
    Joda(&'t str),
    Java(&'t str),
    Now,
}

impl Reference<'_> {
    /// The reference's date pattern, compiled; `None` when it has none.
    /// Not inlined: `Template::new` and `sprintf` share one copy (in
    /// WebAssembly a second one cost 3 KB).
    #[inline(never)]
    pub(crate) fn compile(&self) -> Option<Result<DateFormat, String>> {
        match self {
            Reference::Joda(pattern) => Some(DateFormat::joda(pattern)),
            Reference::Java(pattern) => Some(DateFormat::java(pattern)),
            _ => None,
        }
    }
}

/// A reference in a text, and where it is (`end` exclusive).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Found<'t> {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) reference: Reference<'t>,
}

/// The first reference in `text`: `%{` up to the next `}` (a second `}`
/// too for `%{{...}}`), told apart in Logstash's order.
pub(crate) fn next_reference(text: &str) -> Option<Found<'_>> {
    let start = find_reference(text)?;
    let after = &text[start + 2..];
    let close = after.find('}')?;
    let inside = &after[..close];
    let mut end = start + 2 + close + 1;
    // Logstash compares the inside with `+%s` for as many characters as it
    // has (`regionMatches`), so `%{}`, `%{+}` and `%{+%}` are seconds too.
    let reference = if "+%s".starts_with(inside) {
        Reference::EpochSeconds
    } else if let Some(pattern) = inside.strip_prefix('{')
        && after[close + 1..].starts_with('}')
    {
        end += 1;
        match pattern {
            "TIME_NOW" => Reference::Now,
            pattern => Reference::Java(pattern),
        }
    } else if let Some(pattern) = inside.strip_prefix('+') {
        Reference::Joda(pattern)
    } else {
        Reference::Field(inside)
    };
    Some(Found {
        start,
        end,
        reference,
    })
}

/// Where the first `%{` in `text` starts; `str::find` sets up a general
/// substring searcher on every call, which showed up in profiles.
pub(crate) fn find_reference(text: &str) -> Option<usize> {
    memchr::memchr_iter(b'%', text.as_bytes()).find(|&i| text.as_bytes().get(i + 1) == Some(&b'{'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_texts_come_back_as_written_and_others_expanded() {
        let event = Event::parse(
            br#"{"host":"web","n":{"v":2},"tags":["a","b"],"l":[1,2.5,null,["x","y"],{"k":true}],
                "c":1e7,"d":12345678.5,"e":0.0001,"h":1E2,"m":1.7976931348623157e308,
                "f":[-0.0,1e-3,9999999.0,1e21,-1.5,5e-324,7,-0,[1E-4]],"o":{"x":1e7,"y":[1.5]},
                "p":{"f":1e20,"g":1.50,"h":[1E2],"s":"q\"\n","b":false,"z":null}}"#,
        )
        .unwrap();
        for (text, fixed, rendered) in [
            ("access", true, "access"),
            ("100% {sure}", true, "100% {sure}"),
            ("%{never closed", true, "%{never closed"),
            ("h-%{host}", false, "h-web"),
            ("%{[n][v]}/%{missing}", false, "2/%{missing}"),
            // Lists joined by commas, as Logstash's sprintf joins them.
            ("%{tags}", false, "a,b"),
            ("[%{l}]", false, "[1,2.5,,x,y,{\"k\":true}]"),
            // Numbers as Java's `toString` of what Logstash reads them as.
            (
                "%{c}|%{d}|%{e}|%{h}",
                false,
                "1.0E7|1.23456785E7|1.0E-4|100.0",
            ),
            (
                "%{f}",
                false,
                "-0.0,0.001,9999999.0,1.0E21,-1.5,4.9E-324,7,0,1.0E-4",
            ),
            ("%{m}", false, "1.7976931348623157E308"),
            // An object is JSON, its numbers as Java writes them, as
            // Logstash's JSON writer (Jackson) prints them.
            (
                "%{n}|%{o}|%{p}",
                false,
                "{\"v\":2}|{\"x\":1.0E7,\"y\":[1.5]}|{\"f\":1.0E20,\"g\":1.5,\"h\":[100.0],\"s\":\"q\\\"\\n\",\"b\":false,\"z\":null}",
            ),
        ] {
            let template = Template::new(text);
            assert_eq!(template.is_fixed(), fixed, "{text}");
            assert_eq!(template.render(&event), rendered, "{text}");
            assert_eq!(template.render(&event), event.sprintf(text), "{text}");
            assert_eq!(template.as_str(), text);
        }
    }

    /// Each (template, what Logstash's `StringInterpolation` makes of it for
    /// an event at 2015-10-01T00:00:00Z, the instant of its own tests).
    #[test]
    fn timestamp_references_as_logstash_tells_them_apart() {
        let event =
            Event::parse(br#"{"@timestamp":"2015-10-01T00:00:00.000Z","bar":"foo","{x":"brace"}"#)
                .unwrap();
        for (text, rendered) in [
            // Logstash's StringInterpolationTest.
            ("/full/%{+YYYY}", "/full/2015"),
            ("/full/%{+YYYY}/weeee/%{bar}", "/full/2015/weeee/foo"),
            (
                "/full/%{{YYYY-DDD}}/weeee/%{bar}",
                "/full/2015-274/weeee/foo",
            ),
            ("/full/%{+YYY/web", "/full/%{+YYY/web"),
            ("%{{YYYY-'W'ww}}", "2015-W40"),
            ("%{+%s}", "1443657600"),
            ("%{+%ss}", "%00"),
            // The inside is compared with `+%s` only as far as it goes.
            ("%{}|%{+}|%{+%}", "1443657600|1443657600|1443657600"),
            ("app-%{+YYYY.MM.dd}-%{bar}", "app-2015.10.01-foo"),
            // The first `}` ends a reference; a java.time one needs a
            // second right after it, or it is a field reference (`{x`)...
            ("%{{x}|", "brace|"),
            ("%{{yyyy}x}", "%{{yyyy}x}"),
            // ... also at the end of the text, where Logstash itself
            // fails reading past it.
            ("%{{x}", "brace"),
            ("%{{yyyy}}}", "2015}"),
            ("%{{}}", ""),
            // A pattern may hold `%{`; java.time refuses `{`.
            ("%{+yyyy%{+MM}", "2015%{+10"),
            ("%{{{yyyy}}", "%{{{yyyy}}"),
            // Refused patterns are left as written, in step with the rest.
            (
                "%{+q}/%{{yyyy}}/%{+MM}/%{{aa}}/%{+dd}",
                "%{+q}/2015/10/%{{aa}}/01",
            ),
        ] {
            let template = Template::new(text);
            assert_eq!(template.render(&event), rendered, "{text}");
            assert_eq!(event.sprintf(text), rendered, "{text}");
            // Only the reference never closed leaves the text fixed.
            assert_eq!(template.is_fixed(), text == "/full/%{+YYY/web", "{text}");
        }
    }

    #[test]
    fn without_a_timestamp_date_references_print_nothing() {
        for json in [
            r#"{"bar":"foo","@timestamp":null}"#,
            r#"{"bar":"foo","@timestamp":1443657600}"#,
            r#"{"bar":"foo","@timestamp":"2015-10-01"}"#,
            r#"{"bar":"foo","@timestamp":{"$date":"2015-10-01T00:00:00.000Z"}}"#,
        ] {
            let event = Event::parse(json.as_bytes()).unwrap();
            // A refused pattern too: Logstash compiles it only for a
            // timestamp.
            let text = "a%{+YYYY}b%{{yyyy}}c%{+%s}d%{+q}e%{bar}";
            assert_eq!(event.sprintf(text), "abcdefoo", "{json}");
            assert_eq!(Template::new(text).render(&event), "abcdefoo", "{json}");
        }
    }

    /// An event with no `@timestamp` at all (a line `wasmstash run` read)
    /// stands for a new Logstash event, which is given the current time.
    #[test]
    fn an_event_without_a_timestamp_is_dated_now() {
        let event = Event::parse(br#"{"bar":"foo"}"#).unwrap();
        crate::host::freeze_native_clock(Some(1_443_657_600_000_000_000));
        let text = "app-%{+YYYY.MM.dd}-%{{yyyy}}-%{+%s}";
        assert_eq!(event.sprintf(text), "app-2015.10.01-2015-1443657600");
        // The field itself too, as Logstash's `received_at => "%{@timestamp}"`.
        let text = "%{@timestamp} %{[@timestamp]} %{[@timestamp][x]}";
        let dated = "2015-10-01T00:00:00.000Z 2015-10-01T00:00:00.000Z %{[@timestamp][x]}";
        assert_eq!(event.sprintf(text), dated);
        assert_eq!(Template::new(text).render(&event), dated);
        crate::host::freeze_native_clock(None);
        // One that is there but null prints as a null field does: as written.
        let event = Event::parse(br#"{"@timestamp":null}"#).unwrap();
        assert_eq!(event.sprintf("%{@timestamp}"), "%{@timestamp}");
    }

    #[test]
    fn time_now_is_the_hosts_clock_as_logstash_writes_timestamps() {
        let event = Event::parse(br#"{"bar":"foo"}"#).unwrap();
        for (nanos, written) in [
            (1_737_046_632_488_955_000, "2025-01-16T16:57:12.488955Z"),
            (1_737_046_632_000_000_000, "2025-01-16T16:57:12.000Z"),
        ] {
            crate::host::freeze_native_clock(Some(nanos));
            assert_eq!(event.sprintf("%{{TIME_NOW}}"), written);
            assert_eq!(Template::new("%{{TIME_NOW}}").render(&event), written);
        }
        crate::host::freeze_native_clock(None);
        // Only the exact word: anything else is a java.time pattern.
        let event = Event::parse(br#"{"@timestamp":"2015-10-01T00:00:00.000Z"}"#).unwrap();
        assert_eq!(event.sprintf("%{{TIME_NOW }}"), "%{{TIME_NOW }}");
        assert_eq!(event.sprintf("%{{'TIME_NOW'}}"), "TIME_NOW");
    }

    #[test]
    fn check_names_the_first_refused_pattern() {
        for text in [
            "plain",
            "%{bar}",
            "%{+YYYY}%{{yyyy}}%{+%s}%{{TIME_NOW}}",
            "%{+q",
        ] {
            assert_eq!(Template::new(text).check(), Ok(()), "{text}");
        }
        let error = Template::new("%{+YYYY}-%{+yyyy-MM-ddTHH}-%{{q}}")
            .check()
            .unwrap_err();
        assert!(
            error.starts_with("`%{+yyyy-MM-ddTHH}`: `T` is not a Joda-Time pattern letter"),
            "{error}"
        );
        let error = FieldName::new("rename", "%{{BAD_TIME_NOW}}".into())
            .err()
            .unwrap();
        assert!(error.starts_with("rename: `%{{BAD_TIME_NOW}}`"), "{error}");
    }

    /// Logstash's strict field-reference parser raises on these when it
    /// fills them in, on every event; `check` refuses them up front, the
    /// first problem in the text named, date or field.
    #[test]
    fn check_refuses_a_malformed_field_reference() {
        for (text, first) in [
            (
                "%{message[0]}",
                "`%{message[0]}`: malformed field reference `message[0]`",
            ),
            ("a %{[a]b} %{+q}", "`%{[a]b}`: malformed"),
            ("%{+q} %{[a]b}", "`%{+q}`: `q`"),
            ("%{[a][]}", "`%{[a][]}`: malformed"),
            ("%{a]}", "`%{a]}`: malformed"),
            ("%{[a}x}", "`%{[a}`: malformed"),
        ] {
            let error = Template::new(text).check().unwrap_err();
            assert!(error.starts_with(first), "{text}: {error}");
        }
        let deep = format!("%{{{}}}", "[a]".repeat(crate::field_ref::MAX_SEGMENTS + 1));
        assert!(
            Template::new(deep)
                .check()
                .unwrap_err()
                .contains("segments deep")
        );
        for fine in [
            "%{[a][b]}",
            "%{a}",
            "%{ a b }",
            "%{ü}",
            "%{[@metadata][x]}",
            "%{[a][-1]}",
        ] {
            assert_eq!(Template::new(fine).check(), Ok(()), "{fine}");
        }
        let error = Template::checked("add_tag", "x-%{a[1]}").unwrap_err();
        assert!(
            error.starts_with("add_tag: `%{a[1]}`: malformed"),
            "{error}"
        );
    }
}
