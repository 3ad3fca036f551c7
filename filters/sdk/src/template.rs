//! Logstash `%{field}` templates as a filter's config holds them: tags,
//! field names and values that [`Event::sprintf`] fills in per event.
//!
//! Most such texts hold no reference at all. A [`Template`] finds that out
//! once, when the config is read, so those are used as written with no
//! search per event; the search itself lives here, beside `sprintf`'s use
//! of it, so that every filter agrees on what a reference is.

use std::borrow::Cow;

use crate::Event;
use crate::field_ref::{self, FieldPath, FieldRef};

/// A text from a filter's config that may hold `%{field}` references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    text: String,
    fixed: bool,
}

impl Template {
    pub fn new(text: impl Into<String>) -> Template {
        let text = text.into();
        let fixed = !has_references(&text);
        Template { text, fixed }
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
            event.sprintf(&self.text)
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
        let template = Template::new(name);
        if !template.is_fixed() {
            return Ok(FieldName::Sprintf(template));
        }
        field_ref::validate(template.as_str()).map_err(|e| format!("{option}: {e}"))?;
        Ok(FieldName::Fixed(FieldRef::new(template.as_str())))
    }

    /// The field this name gives for `event`. A template's text is checked
    /// once filled in: the event's own text can make it `[a`, or a path past
    /// the depth limit, which would overflow a filter's stack.
    pub fn resolve(&self, event: &Event) -> Result<ResolvedField<'_>, String> {
        match self {
            FieldName::Fixed(field) => Ok(ResolvedField::Fixed(field)),
            FieldName::Sprintf(template) => {
                let filled = template.render(event);
                field_ref::validate(&filled)?;
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

/// A field's value as a reference to it reads: a string as itself, a list
/// as its members joined by commas (nested lists flattened, a null member
/// empty), as Logstash's `StringInterpolation` joins them, and anything
/// else as compact JSON.
pub(crate) fn push_value_text(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::String(text) => out.push_str(text),
        Value::Null => {}
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_value_text(item, out);
            }
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Whether `text` holds a `%{` that starts a reference: one that is
/// closed, as `sprintf` keeps a `%{` never closed as written.
pub fn has_references(text: &str) -> bool {
    find_reference(text).is_some_and(|at| text[at + 2..].contains('}'))
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
            br#"{"host":"web","n":{"v":2},"tags":["a","b"],"l":[1,2.5,null,["x","y"],{"k":true}]}"#,
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
        ] {
            let template = Template::new(text);
            assert_eq!(template.is_fixed(), fixed, "{text}");
            assert_eq!(template.render(&event), rendered, "{text}");
            assert_eq!(template.render(&event), event.sprintf(text), "{text}");
            assert_eq!(template.as_str(), text);
        }
    }
}
