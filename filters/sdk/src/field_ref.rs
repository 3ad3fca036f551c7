//! Logstash field references: `message`, `[message]`, `[http][response][status_code]`.
//!
//! Operators copy these from their logstash.conf, so the syntax is Logstash's:
//! a bare name is one top-level field, and a run of `[segment]`s walks into
//! nested objects (or arrays, for a numeric segment).

/// Splits a field reference into its path segments.
///
/// A reference that is not a well-formed run of `[segment]`s (say `[a][b`) is
/// taken as one literal top-level name, so that no lookup ever panics;
/// [`validate`] tells config code to reject such references up front.
pub fn segments(reference: &str) -> Segments<'_> {
    if is_bracketed(reference) {
        Segments::Bracketed(&reference[1..reference.len() - 1])
    } else {
        Segments::Single(Some(reference))
    }
}

/// A field reference as the [`Event`](crate::Event) methods take it: as
/// text (`"message"`, `"[http][request][method]"`), split into segments at
/// each use, or as a [`FieldRef`], split once.
pub trait FieldPath {
    /// The path's segments, outermost first.
    type Segments<'s>: Iterator<Item = &'s str> + Clone
    where
        Self: 's;

    fn segments(&self) -> Self::Segments<'_>;
}

/// Any text (`str`, `String`, `Cow<str>`), split at each use.
impl<T: AsRef<str> + ?Sized> FieldPath for T {
    type Segments<'s>
        = Segments<'s>
    where
        Self: 's;

    fn segments(&self) -> Segments<'_> {
        segments(self.as_ref())
    }
}

/// A field reference split into its segments once, for a filter that names
/// the same field on every event (a field from its config): a lookup then
/// starts at the segments instead of finding the brackets again, which in
/// WebAssembly is a loop per reference per event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRef {
    text: String,
    segments: Vec<String>,
}

impl FieldRef {
    /// Splits `reference` as [`segments`] does, so a malformed one names one
    /// top-level field: check a reference from a config with [`validate`].
    pub fn new(reference: &str) -> FieldRef {
        FieldRef {
            text: reference.to_owned(),
            segments: segments(reference).map(str::to_owned).collect(),
        }
    }

    /// The reference as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<&str> for FieldRef {
    fn from(reference: &str) -> FieldRef {
        FieldRef::new(reference)
    }
}

/// Shows the reference as it was written.
impl std::fmt::Display for FieldRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl FieldPath for FieldRef {
    type Segments<'s> = std::iter::Map<std::slice::Iter<'s, String>, fn(&String) -> &str>;

    fn segments(&self) -> Self::Segments<'_> {
        self.segments.iter().map(String::as_str)
    }
}

/// Most segments a reference may have. Setting a field recurses once per
/// segment, and a reference thousands deep would overflow a filter's stack
/// on every event; Elasticsearch maps no deeper than 20 by default anyway.
pub const MAX_SEGMENTS: usize = 128;

/// [`validate`] for a reference given in a filter's option, its error
/// naming the option (`source: empty field reference`).
pub fn validate_option(option: &str, reference: &str) -> Result<(), String> {
    validate(reference).map_err(|e| format!("{option}: {e}"))
}

/// Checks a field reference as Logstash's config loader would, and that it
/// is at most [`MAX_SEGMENTS`] deep.
pub fn validate(reference: &str) -> Result<(), String> {
    if reference.is_empty() {
        return Err("empty field reference".into());
    }
    let depth = reference.bytes().filter(|&b| b == b'[').count();
    if depth > MAX_SEGMENTS {
        let start: String = reference.chars().take(40).collect();
        return Err(format!(
            "field reference `{start}...` is {depth} segments deep; at most {MAX_SEGMENTS} are allowed"
        ));
    }
    if reference.contains(['[', ']']) && !is_bracketed(reference) {
        return Err(format!(
            "malformed field reference `{reference}`: expected a name like `host` or a path like `[host][name]`"
        ));
    }
    Ok(())
}

/// Whether `reference` is a run of `[segment]`s, each segment non-empty and
/// free of brackets. Byte-level on purpose: this runs on every field access.
fn is_bracketed(reference: &str) -> bool {
    let bytes = reference.as_bytes();
    if bytes.first() != Some(&b'[') {
        return false;
    }
    let mut pos = 1;
    loop {
        let start = pos;
        pos = next_bracket(bytes, pos);
        if pos == start || bytes.get(pos) != Some(&b']') {
            return false;
        }
        pos += 1;
        match bytes.get(pos) {
            None => return true,
            Some(b'[') => pos += 1,
            Some(_) => return false,
        }
    }
}

/// The index of the first `[` or `]` at or after `from`, or `bytes.len()`.
fn next_bracket(bytes: &[u8], from: usize) -> usize {
    // In WebAssembly every turn of a loop also pays the deadline check, so a
    // SIMD search wins even over a short segment; natively it costs more
    // than it saves on segments of a few bytes.
    if cfg!(target_arch = "wasm32") {
        from + memchr::memchr2(b'[', b']', &bytes[from..]).unwrap_or(bytes.len() - from)
    } else {
        from + bytes[from..]
            .iter()
            .position(|&b| b == b'[' || b == b']')
            .unwrap_or(bytes.len() - from)
    }
}

/// Iterator over the segments of a field reference; see [`segments`].
#[derive(Clone)]
pub enum Segments<'a> {
    #[doc(hidden)]
    Single(Option<&'a str>),
    #[doc(hidden)]
    Bracketed(&'a str),
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            Segments::Single(name) => name.take(),
            Segments::Bracketed("") => None,
            Segments::Bracketed(rest) => {
                // Segments hold no brackets, so the first `]` ends this one.
                let (head, tail) = match memchr::memchr(b']', rest.as_bytes()) {
                    Some(end) => (&rest[..end], &rest[end + 2..]),
                    None => (*rest, ""),
                };
                *rest = tail;
                Some(head)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(reference: &str) -> Vec<&str> {
        segments(reference).collect()
    }

    #[test]
    fn bare_and_bracketed_names() {
        assert_eq!(split("message"), ["message"]);
        assert_eq!(split("[message]"), ["message"]);
        assert_eq!(
            split("[http][response][status_code]"),
            ["http", "response", "status_code"]
        );
        assert_eq!(split("@metadata"), ["@metadata"]);
        assert_eq!(split("[a b][0]"), ["a b", "0"]);
    }

    #[test]
    fn malformed_references_are_literal_and_rejected_by_validate() {
        assert_eq!(split("[a][b"), ["[a][b"]);
        assert_eq!(split("[]"), ["[]"]);
        for malformed in [
            "[", "[a", "[a][]", "[a][[b]]", "[a]x[b]", "[a][b]]", "[a[b]]",
        ] {
            assert_eq!(split(malformed), [malformed]);
            assert!(validate(malformed).is_err(), "{malformed}");
        }
        assert!(validate("[a][b").is_err());
        assert!(validate("[a]]").is_err());
        assert!(validate("").is_err());
        assert!(validate("[a][b]").is_ok());
        assert!(validate("host.name").is_ok());
        assert!(validate(&"[a]".repeat(MAX_SEGMENTS)).is_ok());
        let err = validate(&"[a]".repeat(MAX_SEGMENTS + 1)).unwrap_err();
        assert!(
            err.ends_with("is 129 segments deep; at most 128 are allowed"),
            "{err}"
        );
    }

    #[test]
    fn a_field_ref_has_the_segments_of_its_text() {
        for reference in ["message", "[a]", "[a b][0]", "[a][b", "[]", "[a]x[b]", ""] {
            let parsed = FieldRef::new(reference);
            assert_eq!(
                parsed.segments().collect::<Vec<_>>(),
                split(reference),
                "{reference}"
            );
        }
    }
}
