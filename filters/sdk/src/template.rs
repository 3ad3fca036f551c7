//! Logstash `%{field}` templates as a filter's config holds them: tags,
//! field names and values that [`Event::sprintf`] fills in per event.
//!
//! Most such texts hold no reference at all. A [`Template`] finds that out
//! once, when the config is read, so those are used as written with no
//! search per event; the search itself lives here, beside `sprintf`'s use
//! of it, so that every filter agrees on what a reference is.

use std::borrow::Cow;

use crate::Event;

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
        let event = Event::parse(br#"{"host":"web","n":{"v":2}}"#).unwrap();
        for (text, fixed, rendered) in [
            ("access", true, "access"),
            ("100% {sure}", true, "100% {sure}"),
            ("%{never closed", true, "%{never closed"),
            ("h-%{host}", false, "h-web"),
            ("%{[n][v]}/%{missing}", false, "2/%{missing}"),
        ] {
            let template = Template::new(text);
            assert_eq!(template.is_fixed(), fixed, "{text}");
            assert_eq!(template.render(&event), rendered, "{text}");
            assert_eq!(template.render(&event), event.sprintf(text), "{text}");
            assert_eq!(template.as_str(), text);
        }
    }
}
