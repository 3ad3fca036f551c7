//! Logstash field references: `message`, `[message]`, `[http][response][status_code]`.
//!
//! Operators copy these from their logstash.conf, so the syntax is Logstash's
//! (its `FieldReference` and the strict tokenizer there): a name without
//! brackets is one top-level field, and a run of `[segment]`s walks into
//! nested objects (or arrays, for a numeric segment). A bracketed segment
//! may itself be bracketed again, `[[host]][[name]]` being `[host][name]`;
//! Logstash reads such a reference by its texts between brackets, in order.
//!
//! Written with brackets, a reference must start with `[` and be made of
//! brackets and texts, each text right between a `[` and a `]`, with no
//! empty `[]`, and brackets that balance without ever closing more than
//! were opened. So `[a]]`, `[[a]`, `a[b]`, `[]`, `[a][]`, `[a]x[b]` and
//! `[a[b]]` are no references: Logstash's event raises on them.

/// Splits a field reference into its path segments.
///
/// A reference that is not a well-formed run of `[segment]`s (say `[a][b`) is
/// taken as one literal top-level name, so that no lookup ever panics;
/// [`check`] and [`validate`] tell the code that must refuse it, as
/// Logstash would, that it is none.
pub fn segments(reference: &str) -> Segments<'_> {
    if is_bracketed(reference) {
        Segments::Bracketed(reference)
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

/// Most segments a reference may have: as many as an event may nest
/// objects and arrays, so that every field a reference names can be set
/// (a deeper one could never be, nor be there to read). Setting a field
/// recurses once per segment, and a reference thousands deep would
/// overflow a filter's stack on every event; Elasticsearch maps no deeper
/// than 20 by default anyway.
pub const MAX_SEGMENTS: usize = crate::json_text::MAX_NESTING;

/// [`validate`] for a reference given in a filter's option, its error
/// naming the option (`source: empty field reference`).
pub fn validate_option(option: &str, reference: &str) -> Result<(), String> {
    validate(reference).map_err(|e| format!("{option}: {e}"))
}

/// Checks a field reference from a config: [`check`], and that it is not
/// empty. Logstash takes `""` as a top-level field named by the empty
/// string, which no config means to read or write.
pub fn validate(reference: &str) -> Result<(), String> {
    if reference.is_empty() {
        return Err("empty field reference".into());
    }
    check(reference).map_err(|e| e.to_string())
}

/// Why a text is no field reference this SDK can use; it reads as the
/// reason.
#[derive(Debug, PartialEq)]
pub enum Unusable {
    /// No reference as Logstash's `FieldReference` reads one: it raises
    /// "Invalid FieldReference" on it.
    Malformed(String),
    /// Deeper than [`MAX_SEGMENTS`]: Logstash takes it, this SDK cannot,
    /// and no event here holds a field that deep.
    TooDeep(String),
}

impl Unusable {
    /// The failure of `option` whose name, filled in for an event, is this:
    /// one that is no field reference, where Logstash's `FieldReference`
    /// raises "Invalid FieldReference", or one past this SDK's depth limit,
    /// which Logstash would set.
    pub fn in_option(self, option: &str) -> String {
        match self {
            Unusable::Malformed(why) => {
                format!("{option}: Logstash's event cannot use the field name: {why}")
            }
            Unusable::TooDeep(why) => {
                format!("{option}: the field name is too deep to set here: {why}")
            }
        }
    }
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Malformed(why) | Unusable::TooDeep(why) => f.write_str(why),
        }
    }
}

/// Checks a field reference as Logstash's event reads it, refusing what it
/// raises on (see the module's notes), and that it is at most
/// [`MAX_SEGMENTS`] deep. `""` passes: Logstash's event sets and reads a
/// top-level field of that name, as [`crate::Event`] does.
pub fn check(reference: &str) -> Result<(), Unusable> {
    if !reference.contains(['[', ']']) {
        return Ok(());
    }
    if !is_bracketed(reference) {
        return Err(Unusable::Malformed(format!(
            "malformed field reference `{reference}`: expected a name like `host` or a path like `[host][name]`"
        )));
    }
    let depth = Segments::Bracketed(reference).count();
    if depth > MAX_SEGMENTS {
        let start: String = reference.chars().take(40).collect();
        return Err(Unusable::TooDeep(format!(
            "field reference `{start}...` is {depth} segments deep; at most {MAX_SEGMENTS} are allowed"
        )));
    }
    Ok(())
}

/// Whether `reference` starts with `[` and is well formed, as the module's
/// notes say. Byte-level on purpose: this runs on every field access.
fn is_bracketed(reference: &str) -> bool {
    let bytes = reference.as_bytes();
    if bytes.first() != Some(&b'[') {
        return false;
    }
    // What came before `pos`, which decides what may come at it.
    #[derive(PartialEq)]
    enum Last {
        Open,
        Close,
        Text,
    }
    // The start takes what may follow a `]`: a `[`, and no text.
    let mut last = Last::Close;
    let mut depth = 0usize;
    let mut pos = 0;
    while pos < bytes.len() {
        match bytes[pos] {
            b'[' if last == Last::Text => return false,
            b'[' => {
                depth += 1;
                last = Last::Open;
                pos += 1;
            }
            b']' if depth == 0 || last == Last::Open => return false,
            b']' => {
                depth -= 1;
                last = Last::Close;
                pos += 1;
            }
            _ if last != Last::Open => return false,
            _ => {
                pos = next_bracket(bytes, pos);
                last = Last::Text;
            }
        }
    }
    depth == 0
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
    /// The rest of a well-formed bracketed reference.
    #[doc(hidden)]
    Bracketed(&'a str),
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            Segments::Single(name) => name.take(),
            Segments::Bracketed(rest) => {
                // Well formed, the reference's segments are its texts
                // between brackets, none of them empty.
                let bytes = rest.as_bytes();
                let start = bytes.iter().position(|&b| b != b'[' && b != b']')?;
                let end = next_bracket(bytes, start);
                let segment = &rest[start..end];
                *rest = &rest[end..];
                Some(segment)
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

    /// Each shape Logstash's strict tokenizer meets, with what it makes of
    /// it (its path, key last) or `None` where it raises. Checked against
    /// FieldReference.java's tokenizer itself, run on these texts.
    const SHAPES: &[(&str, Option<&[&str]>)] = &[
        ("a", Some(&["a"])),
        ("", Some(&[""])),
        ("a b.c", Some(&["a b.c"])),
        ("[a]", Some(&["a"])),
        ("[a][b]", Some(&["a", "b"])),
        ("[[c]]", Some(&["c"])),
        ("[[[c]]]", Some(&["c"])),
        ("[[host]][[name]]", Some(&["host", "name"])),
        ("[[a][b]]", Some(&["a", "b"])),
        ("[a][[b]]", Some(&["a", "b"])),
        ("[[a]][b]", Some(&["a", "b"])),
        ("[a b][0]", Some(&["a b", "0"])),
        ("[a]]", None),
        ("[[a]", None),
        ("[[a]]]", None),
        ("a[b]", None),
        ("a]", None),
        ("a[", None),
        ("]a", None),
        ("[", None),
        ("]", None),
        ("[]", None),
        ("[[]]", None),
        ("[a][]", None),
        ("[][a]", None),
        ("[a][b", None),
        ("[a]x[b]", None),
        ("[a]x", None),
        ("[a[b]]", None),
        ("[[a]b]", None),
        ("[a][b]]", None),
        ("[a]][b]", None),
    ];

    #[test]
    fn references_split_and_fail_as_logstash_tokenizes_them() {
        for &(reference, path) in SHAPES {
            match path {
                Some(path) => {
                    assert_eq!(split(reference), path, "{reference}");
                    assert_eq!(check(reference), Ok(()), "{reference}");
                    assert_eq!(validate(reference).is_ok(), !reference.is_empty());
                }
                None => {
                    // Looked up as the one literal name, never panicking.
                    assert_eq!(split(reference), [reference]);
                    let err = check(reference).unwrap_err();
                    assert!(matches!(err, Unusable::Malformed(_)), "{err}");
                    assert!(
                        err.to_string().starts_with("malformed field reference"),
                        "{err}"
                    );
                    assert!(validate(reference).is_err(), "{reference}");
                }
            }
        }
        assert_eq!(validate("").unwrap_err(), "empty field reference");
    }

    #[test]
    fn references_are_at_most_max_segments_deep() {
        assert!(validate(&"[a]".repeat(MAX_SEGMENTS)).is_ok());
        // Segments, not brackets, are counted.
        let doubled = "[[a]]".repeat(MAX_SEGMENTS);
        assert_eq!(split(&doubled).len(), MAX_SEGMENTS);
        assert!(validate(&doubled).is_ok());
        let err = validate(&"[a]".repeat(MAX_SEGMENTS + 1)).unwrap_err();
        assert!(
            err.ends_with("is 128 segments deep; at most 127 are allowed"),
            "{err}"
        );
    }

    #[test]
    fn a_field_ref_has_the_segments_of_its_text() {
        for &(reference, _) in SHAPES {
            let parsed = FieldRef::new(reference);
            assert_eq!(
                parsed.segments().collect::<Vec<_>>(),
                split(reference),
                "{reference}"
            );
        }
    }
}
