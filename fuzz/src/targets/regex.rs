//! The regex engine on patterns and inputs no one wrote: compiling any text
//! answers a pattern or an error, and a search ends within its step budget
//! with groups that lie in the input, on character boundaries. (The
//! engine's matches are held to Ruby's by filters/regex/tests/ruby_oracle.rs;
//! this target is about what the oracle's well-formed patterns never try.)
//!
//! Input: UTF-8 text, the pattern before a NUL and the subject after it. A
//! pattern that starts with `\u{1}` is compiled as mutate's `gsub` reads
//! its patterns (Ruby's `Regexp.new`), the rest as grok reads them.

use wasmstash_regex::{Budget, Matcher, NoReferences, Regex, UNSET};

/// Far more than any real line needs, few enough that a slow input is seen
/// as one by libFuzzer's timeout rather than by its own budget.
const STEPS: u64 = 1 << 20;

/// One input, as the fuzz target of this name gets it.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, subject) = text.split_once('\0').unwrap_or((text, ""));
    let replace = pattern.starts_with('\u{1}');
    let compiled = match pattern.strip_prefix('\u{1}') {
        Some(ruby) => Regex::for_replace(ruby),
        None => Regex::new(pattern, &mut NoReferences),
    };
    let regex = match compiled {
        Ok(regex) => regex,
        Err(error) => {
            assert!(!error.is_empty(), "an empty error for {pattern:?}");
            return;
        }
    };
    let mut matcher = Matcher::default();
    let mut budget = Budget::new(STEPS, None, || 0);
    if regex.search(&mut matcher, subject, &mut budget) != Ok(true) {
        return;
    }
    // The groups a user can read: by name, and for a replace by number
    // (group 0 the whole match). The slots past them are the matcher's own.
    let slots = matcher.slots();
    let named = regex.names().iter().flat_map(|(_, groups)| groups);
    let mut spans: Vec<Option<(usize, usize)>> = named
        .map(|&group| match [slots[2 * group], slots[2 * group + 1]] {
            [UNSET, UNSET] => None,
            [start, end] => {
                assert!(start != UNSET && end != UNSET, "half of group {group} set");
                Some((start as usize, end as usize))
            }
        })
        .collect();
    if replace {
        assert!(
            regex.group(&matcher, 0).is_some(),
            "a match without group 0"
        );
        spans.extend((0..=slots.len() / 2).map(|number| regex.group(&matcher, number)));
    }
    for (start, end) in spans.into_iter().flatten() {
        assert!(start <= end && end <= subject.len(), "group {start}..{end}");
        assert!(subject.is_char_boundary(start) && subject.is_char_boundary(end));
    }
    // A replace steps on from the end of each match; starting there (or
    // anywhere on a boundary) must be as safe.
    for from in (0..=subject.len())
        .filter(|&i| subject.is_char_boundary(i))
        .step_by(7)
    {
        let _ = regex.search_from(
            &mut matcher,
            subject,
            from,
            &mut Budget::new(STEPS, None, || 0),
        );
    }
}
