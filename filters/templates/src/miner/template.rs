//! Template tokens: how a line token matches a template token, how a
//! template token generalises, and how parameters are cut back out.

use super::mask::{WILDCARD, has_wildcard, is_delimiter};
use wasmstash_sdk::stable_hash::fnv1a;

/// How a line token relates to the template token at the same position.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TokenMatch {
    /// Equal constant text: counts towards similarity.
    Same,
    /// The template has a variable here that covers the line's token.
    Covered,
    /// Different text: the template must generalise to take this line.
    Differs,
}

/// Stands for each `<*>` of a masked line token while it is compared: a
/// space, which no token holds (lines are split at
/// whitespace). The line's `<*>` is a value, not the characters `<`, `*`
/// and `>`: read as text, a template's literal `>` would match the end of
/// it (`22>` gives `<*>>`, which then covered a masked `/var/log`).
const LINE_VALUE: &str = " ";

fn with_values_atomic(line: &str) -> std::borrow::Cow<'_, str> {
    if has_wildcard(line) {
        line.replace(WILDCARD, LINE_VALUE).into()
    } else {
        line.into()
    }
}

pub fn compare(template: &str, line: &str) -> TokenMatch {
    if template == WILDCARD {
        TokenMatch::Covered
    } else if template == line {
        TokenMatch::Same
    } else if template.len() > WILDCARD.len()
        && has_wildcard(template)
        && glob_split(template, &with_values_atomic(line), &mut |_| {})
    {
        TokenMatch::Covered
    } else {
        TokenMatch::Differs
    }
}

/// The most specific template token that covers both: the common prefix up
/// to a delimiter and the common suffix from a delimiter stay, the middle
/// becomes `<*>` (`user=alice` and `user=bob` give `user=<*>`).
pub fn generalise(template: &str, line: &str) -> String {
    let (a, b) = (template.as_bytes(), line.as_bytes());
    // What the two share may not end inside one of the line's own values:
    // a literal `<` or `>` of the template is not the edge of a line's
    // `<*>` (`user=<<*>>` and `user=<*>` share `user=`, not `user=<`).
    // Sharing a whole `<*>` is another matter, and gives `<*>` below.
    let values = line.match_indices(WILDCARD).map(|(at, _)| at);
    let (first_value, last_value) = (values.clone().next(), values.last());
    let inside = |at: usize, value: Option<usize>| {
        value.filter(|&start| start < at && at < start + WILDCARD.len())
    };
    let shared = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let common_prefix = inside(shared, first_value).unwrap_or(shared);
    let prefix = a[..common_prefix]
        .iter()
        .rposition(|c| is_delimiter(*c))
        .map_or(0, |i| i + 1);
    let room = a.len().min(b.len()) - prefix;
    let shared = (a.iter().rev().zip(b.iter().rev()))
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    let common_suffix = inside(b.len() - shared, last_value)
        .map_or(shared, |start| b.len() - start - WILDCARD.len());
    let suffix = a[a.len() - common_suffix..]
        .iter()
        .position(|c| is_delimiter(*c))
        .map_or(0, |i| common_suffix - i);
    let head = &template[..prefix];
    let tail = &template[template.len() - suffix..];
    // Never keep part of an existing wildcard as literal text.
    if head.contains('*') || tail.contains('*') || (head.is_empty() && tail.is_empty()) {
        return WILDCARD.to_owned();
    }
    format!("{head}{WILDCARD}{tail}")
}

/// Matches `text` against a template token with `<*>` in it, calling
/// `capture` with the text under each `<*>` in order. Literal pieces match
/// leftmost, the last one at the end.
pub fn glob_split<'t>(template: &str, text: &'t str, capture: &mut impl FnMut(&'t str)) -> bool {
    let mut pieces = template.split(WILDCARD);
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let Some(mut piece) = pieces.next() else {
        return rest.is_empty();
    };
    loop {
        match pieces.next() {
            Some(next) => {
                let Some(at) = rest.find(piece) else {
                    return false;
                };
                capture(&rest[..at]);
                rest = &rest[at + piece.len()..];
                piece = next;
            }
            None => {
                let Some(head) = rest.strip_suffix(piece) else {
                    return false;
                };
                capture(head);
                return true;
            }
        }
    }
}

/// Joins template tokens with single spaces, a run of `<*>` tokens written
/// once (as Loghub's scorer and readers expect) when `collapse_wildcards`
/// is on, as the tree then takes such a run for one token.
pub fn render(tokens: &[Box<str>], collapse_wildcards: bool) -> String {
    // Sized once: the text is held as long as the template, and a doubled
    // buffer would cost up to twice what the byte budget charges for it.
    let mut text = String::with_capacity(tokens.iter().map(|t| t.len() + 1).sum());
    let mut previous_wildcard = false;
    for token in tokens {
        let wildcard = &**token == WILDCARD;
        if wildcard && previous_wildcard && collapse_wildcards {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(token);
        previous_wildcard = wildcard;
    }
    text
}

/// The template's id: FNV-1a over its text, so that it is the same across
/// builds, platforms and replicas, and anyone can recompute it.
pub fn template_id(text: &str) -> u64 {
    fnv1a(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalises_at_delimiters() {
        assert_eq!(generalise("user=alice", "user=bob"), "user=<*>");
        assert_eq!(generalise("[alice]", "[bob]"), "[<*>]");
        assert_eq!(generalise("alice", "bob"), "<*>");
        assert_eq!(generalise("(<*>)", "<x>"), "<*>");
        assert_eq!(generalise("a=b", "a=bc"), "a=<*>");
        // A line's own `<*>` is one value: no literal of the template
        // matches a part of it.
        assert_eq!(generalise("<*>>", "<*>"), "<*>");
        assert_eq!(generalise("<<*>>", "<*>"), "<*>");
        assert_eq!(generalise("list<<*>>", "<*>"), "<*>");
        assert_eq!(generalise("user=<<*>>", "user=<*>"), "user=<*>");
        assert_eq!(generalise("(<<*>>)", "(<*>)"), "(<*>)");
    }

    #[test]
    fn compares_tokens() {
        assert_eq!(compare("<*>", "x"), TokenMatch::Covered);
        assert_eq!(compare("user=<*>", "user=bob"), TokenMatch::Covered);
        assert_eq!(compare("user=<*>", "uid=bob"), TokenMatch::Differs);
        assert_eq!(compare("<*>>", "<*>"), TokenMatch::Differs);
        assert_eq!(compare("<<*>>", "<*>"), TokenMatch::Differs);
        assert_eq!(compare("<*>>", "<*>>"), TokenMatch::Same);
        assert_eq!(compare("<*>>", "x<*>>"), TokenMatch::Covered);
        assert_eq!(compare("a", "a"), TokenMatch::Same);
    }

    #[test]
    fn splits_params() {
        let mut got = Vec::new();
        assert!(glob_split("<*>@<*>/<*>", "01@2016/9", &mut |p| got.push(p)));
        assert_eq!(got, ["01", "2016", "9"]);
        assert!(!glob_split("a<*>b", "ab-", &mut |_| {}));
    }

    #[test]
    fn renders_and_hashes() {
        let tokens: Vec<Box<str>> = ["a", "<*>", "<*>", "b"]
            .into_iter()
            .map(Into::into)
            .collect();
        assert_eq!(render(&tokens, true), "a <*> b");
        // Not collapsed, runs are kept apart in the text as in the tree, so
        // that two templates never share one text and id.
        assert_eq!(render(&tokens, false), "a <*> <*> b");
        assert_eq!(template_id(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(template_id("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
