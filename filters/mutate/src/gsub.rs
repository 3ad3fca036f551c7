//! `gsub`: Logstash's regex replace. Every match of a regex, in Ruby's
//! dialect (the engine grok uses), in a string field or in each string of a
//! list, is replaced by a text that may name the match's groups as Ruby's
//! `String#gsub` reads them (`\1`, `\k<name>`, `\0`), after its `%{field}`
//! references are filled in, as Logstash does. A regex with `%{field}`
//! references is filled in and compiled for each event, also as Logstash
//! does; one that does not compile then fails that event.
//!
//! A regex cannot run away with an event: each field's replace has a step
//! budget (a million, or 256 a byte of a longer text), and one that runs
//! out fails the event (`tag_on_failure`), where Logstash would keep the
//! worker busy for as long as the regex takes.

use std::borrow::Cow;

use wasmstash_regex::{Budget, Matcher, Regex, Stop};
use wasmstash_sdk::field_ref::FieldRef;
use wasmstash_sdk::logstash::event_rules::refusal;
use wasmstash_sdk::prelude::*;
use wasmstash_sdk::template::Template;

/// Steps one field's replace may take: grok's default `timeout_steps`,
/// far more than any sane regex needs on a log line, and more for a long
/// text, whose every character may start a match.
const STEPS: u64 = 1_000_000;
const STEPS_PER_BYTE: u64 = 256;

pub struct Gsub {
    field: FieldRef,
    needle: Needle,
    replacement: Template,
}

/// Why one field's replace failed the event.
enum GsubError {
    /// The regex ran out of steps.
    Stopped,
    /// The regex, filled in for this event, does not compile.
    Regex(String),
    /// The replacement names a group the regex does not have (Ruby raises
    /// IndexError then, on a match only).
    Replacement(String),
    /// Logstash's event refuses to set the field (any field under `tags`),
    /// which Logstash does even when nothing was replaced.
    Refused(&'static str),
}

impl GsubError {
    /// The failure in words, for the log line Logstash's rescue writes.
    fn reason(self, field: &FieldRef) -> String {
        match self {
            GsubError::Stopped => format!(
                "gsub `{field}`: the regex ran out of steps ({STEPS}, or {STEPS_PER_BYTE} a byte \
                 of a longer text)"
            ),
            GsubError::Regex(why) | GsubError::Replacement(why) => format!("gsub `{field}`: {why}"),
            GsubError::Refused(why) => crate::refused("gsub", field.as_str(), why),
        }
    }
}

enum Needle {
    Fixed(Regex),
    /// A regex with `%{field}` references. The last one compiled is kept:
    /// most events fill it in the same way, and compiling is far dearer
    /// than comparing the text.
    PerEvent {
        template: Template,
        last: Option<(String, Regex)>,
    },
}

impl Needle {
    fn for_event(&mut self, event: &Event) -> Result<&Regex, GsubError> {
        let (template, last) = match self {
            Needle::Fixed(regex) => return Ok(regex),
            Needle::PerEvent { template, last } => (template, last),
        };
        let pattern = template.render(event);
        if last.as_ref().is_none_or(|(text, _)| *text != *pattern) {
            let regex = Regex::for_replace(&pattern)
                .map_err(|e| GsubError::Regex(format!("regex `{pattern}`: {e}")))?;
            *last = Some((pattern.into_owned(), regex));
        }
        Ok(&last.as_ref().expect("just compiled").1)
    }
}

impl Gsub {
    /// Logstash's form: a flat list of field, regex, replacement, repeated.
    pub fn parse(list: Vec<Value>) -> Result<Vec<Gsub>, String> {
        if !list.len().is_multiple_of(3) {
            return Err(format!(
                "gsub takes field, regex, replacement triples; got {} strings",
                list.len()
            ));
        }
        let texts: Vec<String> = list
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                other => Err(format!("gsub: every entry must be a string, not {other}")),
            })
            .collect::<Result<_, _>>()?;
        texts
            .chunks(3)
            .map(|triple| {
                let [field, pattern, replacement] = triple else {
                    unreachable!("chunks of three")
                };
                wasmstash_sdk::field_ref::validate_option("gsub", field)?;
                // A malformed `%{...}` in either raises in Logstash on
                // every event; here it is a config error.
                let option = format!("gsub `{field}`");
                let template = Template::checked(&option, pattern.clone())?;
                let needle = if template.is_fixed() {
                    Needle::Fixed(
                        Regex::for_replace(pattern)
                            .map_err(|e| format!("gsub `{field}`: regex `{pattern}`: {e}"))?,
                    )
                } else {
                    Needle::PerEvent {
                        template,
                        last: None,
                    }
                };
                Ok(Gsub {
                    field: FieldRef::new(field),
                    needle,
                    replacement: Template::checked(&option, replacement.clone())?,
                })
            })
            .collect()
    }

    /// Replaces in the field; an error when the regex filled in for this
    /// event does not compile, a value's replace ran out of steps, or
    /// Logstash's event refuses the field (the field is then left as it
    /// was).
    pub fn apply(&mut self, event: &mut Event, matcher: &mut Matcher) -> Result<(), String> {
        (self.replace(event, matcher)).map_err(|failure| failure.reason(&self.field))
    }

    fn replace(&mut self, event: &mut Event, matcher: &mut Matcher) -> Result<(), GsubError> {
        // Looked up once; the regex is filled in only for a field it can change.
        let current = match crate::text_at(event, &self.field) {
            Some(current @ (Value::String(_) | Value::Array(_))) => current,
            _ => return Ok(()),
        };
        // Strings replaced in strings: what is set is refused exactly when
        // what is there would be.
        if let Some(why) = refusal(event, &self.field, current) {
            return Err(GsubError::Refused(why));
        }
        // Logstash fills the regex in and compiles it at each string
        // member, after warning of the members before it that are none: a
        // list of no strings never meets a regex that does not compile.
        if let Value::Array(items) = current
            && !items.iter().any(Value::is_string)
        {
            warn_skipped_before_text(&self.field, current);
            return Ok(());
        }
        let regex = match self.needle.for_event(event) {
            Ok(regex) => regex,
            Err(failure) => {
                warn_skipped_before_text(&self.field, current);
                return Err(failure);
            }
        };
        let replacement = self.replacement.render(event);
        let mut replace_all = |text| replace_all(regex, text, &replacement, matcher);
        let changed = match current {
            Value::String(text) => match replace_all(text)? {
                Cow::Borrowed(_) => return Ok(()),
                Cow::Owned(new) => Value::String(new),
            },
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| match item {
                        Value::String(text) => {
                            replace_all(text).map(|new| Value::String(new.into_owned()))
                        }
                        other => {
                            warn_skipped(&self.field, other);
                            Ok(other.clone())
                        }
                    })
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Ok(()),
        };
        event.set(&self.field, changed);
        Ok(())
    }
}

/// Logstash's warning for a list member that is no string, which gsub
/// passes by.
fn warn_skipped(field: &FieldRef, member: &Value) {
    host::log(
        Level::Warn,
        &format!(
            "gsub `{field}`: only strings are replaced; the member {} is left as it is",
            crate::excerpt(member)
        ),
    );
}

/// [`warn_skipped`] for each member of a list before its first string.
fn warn_skipped_before_text(field: &FieldRef, current: &Value) {
    if let Value::Array(items) = current {
        let skipped = items.iter().take_while(|item| !item.is_string());
        skipped.for_each(|other| warn_skipped(field, other));
    }
}

impl From<Stop> for GsubError {
    fn from(_: Stop) -> GsubError {
        GsubError::Stopped
    }
}

/// Every match in `text` replaced, as Ruby's `gsub`: after an empty
/// match the search moves on by one character.
fn replace_all<'t>(
    regex: &Regex,
    text: &'t str,
    replacement: &str,
    matcher: &mut Matcher,
) -> Result<Cow<'t, str>, GsubError> {
    let steps = STEPS.max(STEPS_PER_BYTE.saturating_mul(text.len() as u64));
    let mut budget = Budget::new(steps, None, host::now_unix_nanos);
    let mut out = String::new();
    let (mut copied, mut from, mut matched) = (0, 0, false);
    while from <= text.len() && regex.search_from(matcher, text, from, &mut budget)? {
        matched = true;
        let (start, end) = regex.group(matcher, 0).expect("a match spans something");
        out.push_str(&text[copied..start]);
        expand(replacement, text, (start, end), regex, matcher, &mut out)?;
        copied = end;
        from = match text[end..].chars().next() {
            _ if end > start => end,
            Some(next) => end + next.len_utf8(),
            None => break,
        };
    }
    if !matched {
        return Ok(Cow::Borrowed(text));
    }
    out.push_str(&text[copied..]);
    Ok(Cow::Owned(out))
}

/// Appends `replacement` for one match, with Ruby's escapes: `\0` and `\&`
/// the match, `\1`..`\9` a group, `\k<name>` a named group, `\+` the last
/// group that took part, `` \` `` and `\'` the text before and after it,
/// `\\` a backslash. A group that did not take part is empty, and so is
/// `\1`..`\9` in a regex with named groups, whose plain groups do not
/// capture; a `\k<name>` with no such group is an error, as Ruby's
/// IndexError; any other backslash stays as written. The match spans
/// `start..end` of `text`.
fn expand(
    replacement: &str,
    text: &str,
    (start, end): (usize, usize),
    regex: &Regex,
    matcher: &Matcher,
    out: &mut String,
) -> Result<(), GsubError> {
    let text_of = |span: Option<(usize, usize)>| span.map_or("", |(start, end)| &text[start..end]);
    let mut rest = replacement;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let mut taken = 1;
        match after.as_bytes().first() {
            Some(b'0') => out.push_str(&text[start..end]),
            Some(b'1'..=b'9') if !regex.names().is_empty() => {}
            Some(digit @ b'1'..=b'9') => {
                out.push_str(text_of(regex.group(matcher, usize::from(digit - b'0'))))
            }
            Some(b'+') => out.push_str(text_of(regex.last_group(matcher))),
            Some(b'&') => out.push_str(&text[start..end]),
            Some(b'`') => out.push_str(&text[..start]),
            Some(b'\'') => out.push_str(&text[end..]),
            Some(b'\\') => out.push('\\'),
            Some(b'k') if after[1..].starts_with('<') && after.contains('>') => {
                let close = after.find('>').expect("checked");
                let name = &after[2..close];
                if !regex.names().iter().any(|(n, _)| n == name) {
                    return Err(GsubError::Replacement(format!(
                        "the replacement names the group `{name}`, which the regex does not have"
                    )));
                }
                out.push_str(text_of(regex.named(matcher, name)));
                taken = close + 1;
            }
            _ => {
                out.push('\\');
                taken = 0;
            }
        }
        rest = &after[taken..];
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gsub(pattern: &str, replacement: &str, text: &str) -> String {
        let regex = Regex::for_replace(pattern).unwrap();
        match replace_all(&regex, text, replacement, &mut Matcher::default()) {
            Ok(replaced) => replaced.into_owned(),
            Err(_) => panic!("{pattern} -> {replacement} on {text}: failed"),
        }
    }

    #[test]
    fn replaces_every_match_as_ruby_gsub_does() {
        assert_eq!(gsub("/", "_", "/var/log/app"), "_var_log_app");
        assert_eq!(gsub("[\\\\?#-]", ".", "a?b#c-d\\e"), "a.b.c.d.e");
        assert_eq!(gsub("x*", "-", "abc"), "-a-b-c-");
        assert_eq!(gsub("b*", "-", "abc"), "-a--c-");
        assert_eq!(gsub("é", "e", "café é"), "cafe e");
        assert_eq!(gsub("\\d+", "N", "no digits"), "no digits");
        assert_eq!(gsub("^\\s+|\\s+$", "", "  both  "), "both");
    }

    #[test]
    fn the_replacement_names_groups_as_ruby_does() {
        assert_eq!(gsub("(\\w+)@(\\w+)", "\\2 at \\1", "me@host"), "host at me");
        assert_eq!(gsub("(?<user>\\w+)@", "<\\k<user>>", "me@host"), "<me>host");
        assert_eq!(gsub("b", "[\\`|\\&|\\']", "abc"), "a[a|b|c]c");
        assert_eq!(gsub("(x)?b", "(\\1)", "ab"), "a()");
        assert_eq!(gsub("a", "\\\\ \\q", "a"), "\\ \\q");
        // With a named group about, plain groups do not capture, and
        // numbers name no group (Ruby 3.1 and JRuby 9.3 answer "[|]").
        assert_eq!(gsub("(?<n>a)(b)", "[\\1|\\2]", "ab"), "[|]");
        assert_eq!(gsub("(?<n>a)(b)", "[\\0]", "ab"), "[ab]");
        // `\+`: the last group that took part (Ruby: "a<1>b", "a<x>b", "<a>b", "<>b").
        assert_eq!(gsub("(\\d)(x)?", "<\\+>", "a1b"), "a<1>b");
        assert_eq!(gsub("(\\d)(x)?", "<\\+>", "a1xb"), "a<x>b");
        assert_eq!(gsub("(?<n>a)", "<\\+>", "ab"), "<a>b");
        assert_eq!(gsub("a", "<\\+>", "ab"), "<>b");
        // As Ruby's Regexp.new, `.` stops at a newline.
        assert_eq!(gsub(".", "x", "a\nb"), "x\nx");
    }

    #[test]
    fn a_runaway_regex_stops_at_its_budget() {
        let regex = Regex::for_replace("(a+)+$").unwrap();
        let text = format!("{}b", "a".repeat(40));
        assert!(replace_all(&regex, &text, "", &mut Matcher::default()).is_err());
    }

    /// Ruby raises IndexError for `\k<m>` with no group `m`, but only when
    /// a match calls for the replacement.
    #[test]
    fn a_replacement_naming_a_missing_group_fails_only_on_a_match() {
        let regex = Regex::for_replace("(?<n>\\d)").unwrap();
        for replacement in ["<\\k<m>>", "<\\k<1>>"] {
            let replaced = replace_all(&regex, "a1b", replacement, &mut Matcher::default());
            assert!(
                matches!(replaced, Err(GsubError::Replacement(_))),
                "{replacement}"
            );
            let untouched = replace_all(&regex, "xb", replacement, &mut Matcher::default());
            assert!(
                matches!(untouched, Ok(Cow::Borrowed("xb"))),
                "{replacement}"
            );
        }
    }

    #[test]
    fn bad_gsub_configs_are_explained() {
        let error = |list: Value| match Gsub::parse(serde_json::from_value(list).unwrap()) {
            Err(e) => e,
            Ok(_) => panic!("accepted"),
        };
        assert!(error(json!(["f", "x"])).contains("triples"));
        assert!(error(json!(["f", "(", ""])).contains("regex `(`"));
        assert!(error(json!(["f", 1, ""])).contains("must be a string"));
    }
}
