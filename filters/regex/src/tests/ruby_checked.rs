//! Word boundaries, constructs Ruby gives a meaning this engine does not
//! implement, and the step budget's hold on forward work. Expected values
//! are what Ruby 3.1's Regexp (Onigmo) gives for the same pattern.

use super::*;

fn error(pattern: &str) -> String {
    match Regex::new(pattern, &mut NoReferences) {
        Ok(_) => panic!("{pattern} was accepted"),
        Err(e) => e,
    }
}

/// Ruby's `\w` is ASCII-only, but `\b` and `\B` test UTF-8 text with
/// Unicode's word characters: `é` is one, so `caféabc` is one word.
#[test]
fn word_boundaries_see_unicode_letters() {
    assert_eq!(whole("\\b\\w+\\b", "caféabc def").as_deref(), Some("def"));
    assert_eq!(whole("\\bJ", "éJ"), None);
    assert_eq!(whole("4\\b", "4é"), None);
    assert_eq!(whole("\\Bé", "4é").as_deref(), Some("é"));
    assert_eq!(whole("\\b", "é").as_deref(), Some(""));
    assert_eq!(whole("x\\b", "x中"), None);
    assert_eq!(whole("x\\B", "x中").as_deref(), Some("x"));
    assert_eq!(whole("\\bdef\\b", "中def"), None);
    assert_eq!(whole("\\bdef\\b", "-def-").as_deref(), Some("def"));
    assert_eq!(whole("é\\b", "é-").as_deref(), Some("é"));
    assert_eq!(whole("\\B\\w", "ü1").as_deref(), Some("1"));
    assert_eq!(whole("\\b\\w+\\b", "ǅx y").as_deref(), Some("y"));
    // Onigmo's Latin-1 table counts these digits and fractions as word
    // characters where Unicode does not.
    assert_eq!(whole("\\w+\\b", " ab² "), None);
    // A search from the middle of the text still sees what comes before.
    let regex = Regex::new("(?<m>\\bd)", &mut NoReferences).unwrap();
    let mut matcher = Matcher::default();
    let found = regex.search_from(&mut matcher, "éd d", 2, &mut budget());
    assert_eq!(found, Ok(true));
    assert_eq!(regex.named(&matcher, "m"), Some((4, 5)));
}

#[test]
fn escapes_ruby_reads_as_something_else_are_refused() {
    assert_eq!(
        error("a\\Kb"),
        "`\\K` (keep what matched so far out of the match) is not supported at position 1"
    );
    assert_eq!(
        error("\\R"),
        "`\\R` (any line break) is not supported at position 0"
    );
    assert_eq!(
        error("x\\X"),
        "`\\X` (an extended grapheme cluster) is not supported at position 1"
    );
    let control = "control and meta escapes (`\\cA`, `\\C-a`, `\\M-a`) are not supported";
    assert_eq!(error("\\cA"), format!("{control} at position 0"));
    assert_eq!(error("ab\\C-a"), format!("{control} at position 2"));
    assert_eq!(error("\\M-a"), format!("{control} at position 0"));
    assert_eq!(error("[x\\cA]"), format!("{control} at position 2"));
    assert!(error("(?<n>a)\\k<n>").contains("backreferences"));
    assert!(error("(?<n>a)\\g<n>").contains("subexpression calls"));
    // Letters Ruby leaves literal stay literal, and so do these in a class.
    assert_eq!(whole("\\y\\q\\N", "yqN").as_deref(), Some("yqN"));
    assert_eq!(
        whole("[\\K\\R\\X\\G\\k]+", "KRXGk").as_deref(),
        Some("KRXGk")
    );
    // `\h` is a hex digit, as in Ruby.
    assert_eq!(whole("\\h+\\H", "xfF0g").as_deref(), Some("fF0g"));
    assert_eq!(whole("[\\h-]+", "a-g").as_deref(), Some("a-"));
}

#[test]
fn class_escapes_mean_what_ruby_reads() {
    // `[\b]` is a backspace, `[\1]` an octal escape.
    assert_eq!(whole("[\\b]", "b\u{8}").as_deref(), Some("\u{8}"));
    assert_eq!(whole("[\\1]", "1\u{1}").as_deref(), Some("\u{1}"));
    assert_eq!(whole("[\\12]", "1\n").as_deref(), Some("\n"));
    assert_eq!(whole("[\\1234]+", "S4").as_deref(), Some("S4"));
    assert_eq!(whole("[\\8\\9]+", "89").as_deref(), Some("89"));
    assert!(error("[\\200]").contains("octal escape"));
}

#[test]
fn posix_brackets_as_ruby_reads_them() {
    let invalid = |pattern: &str, at: usize| {
        assert_eq!(
            error(pattern),
            format!("invalid POSIX bracket type at position {at}"),
            "{pattern}"
        );
    };
    invalid("[[:foo:]]", 1);
    invalid("[[:^foo:]]", 1);
    invalid("a[x[:Alpha:]]", 3);
    invalid("[[:alphax:]]", 1);
    invalid("[[::]]", 1);
    invalid("[[: alpha:]]", 1);
    invalid("[[:abcdefghijklmnopqrst:]]", 1);
    // Past twenty characters, or with a `:` or `]` before the `:]`, it is
    // no bracket: the `[` is a character, and the first `]` ends the class.
    assert_eq!(
        whole("[[:abcdefghijklmnopqrstu:]]", "u]").as_deref(),
        Some("u]")
    );
    assert_eq!(whole("[[:a:b:]]", "b"), None);
    assert_eq!(whole("[[:a:b:]]", "[]").as_deref(), Some("[]"));
    // Without a `:]` before the next `]`, `[:` opens a nested class.
    assert_eq!(whole("[[:alpha]]", "h").as_deref(), Some("h"));
    assert_eq!(whole("[[:a]b:]]", "b:]").as_deref(), Some(":]"));
    // The names Ruby has beyond the ones the engine started with.
    assert_eq!(whole("[[:xdigit:]]+", "xaF9g").as_deref(), Some("aF9"));
    assert_eq!(
        whole("[[:blank:]]+", "a \t\u{a0}\u{3000}\n").as_deref(),
        Some(" \t\u{a0}\u{3000}")
    );
    assert_eq!(whole("[[:^ascii:]]+", "aé中b").as_deref(), Some("é中"));
    assert_eq!(whole("\\p{XDigit}+", "xaF9g").as_deref(), Some("aF9"));
}

#[test]
fn ranges_as_ruby_reads_them() {
    let unmatched = "unmatched range specifier in char-class";
    assert_eq!(error("[\\d-z]"), format!("{unmatched} at position 3"));
    assert_eq!(error("[\\w-a-z]"), format!("{unmatched} at position 3"));
    assert_eq!(
        error("x[[:alpha:]-z]"),
        format!("{unmatched} at position 11")
    );
    assert_eq!(
        error("[\\p{Alpha}-z]"),
        format!("{unmatched} at position 10")
    );
    assert_eq!(error("[\\d[a]-z]"), format!("{unmatched} at position 6"));
    let at_end = "char-class value at end of range";
    assert_eq!(error("[a-\\d]"), format!("{at_end} at position 3"));
    assert_eq!(error("[a-[:alpha:]]"), format!("{at_end} at position 3"));
    assert_eq!(error("[a-[z]]"), format!("{at_end} at position 3"));
    // A `-` at the end, or after a range, is a character.
    assert_eq!(whole("[\\d-]+", "1-").as_deref(), Some("1-"));
    assert_eq!(whole("[\\w-]+", "a-").as_deref(), Some("a-"));
    assert_eq!(whole("[a-b-c]+", "a-c").as_deref(), Some("a-c"));
    assert_eq!(whole("[!--]+", "!-").as_deref(), Some("!-"));
    // A nested class leaves a character before it waiting for its range.
    assert_eq!(whole("[x[a]-z]+", "xyza-"), Some("xyza".into()));
    assert_eq!(whole("[[a]-z]+", "a-zy").as_deref(), Some("a-z"));
}

#[test]
fn group_names_as_ruby_accepts_them() {
    let invalid = |pattern: &str, name: &str| {
        assert_eq!(
            error(pattern),
            format!("invalid group name <{name}> at position 3"),
            "{pattern}"
        );
    };
    invalid("(?<1a>x)", "1a");
    invalid("(?'1'x)", "1");
    invalid("(?<-a>x)", "-a");
    invalid("(?<٣a>x)", "٣a");
    invalid("(?<a)b>x)", "a)b");
    assert_eq!(error("(?<>x)"), "group name is empty at position 3");
    for name in [
        "a1",
        "_a",
        "a-b",
        "a.b",
        "é",
        "a b",
        "@a",
        "[mail][to]",
        ")",
        "²a",
        "a٣",
    ] {
        let pattern = format!("(?<{name}>x)");
        let regex = Regex::new(&pattern, &mut NoReferences).unwrap();
        assert_eq!(regex.names()[0].0, name, "{pattern}");
    }
}

/// Steps bound the work of every attempt, not just how many there are:
/// without backtracking, an expanded repeat ran 20,000 starts of up to
/// 20,000 bytes each for one step apiece.
#[test]
fn expanded_repeats_are_charged_for_their_work() {
    let regex = Regex::new("(?:(?:(?:[ab]{10}){10}){10}){21}", &mut NoReferences).unwrap();
    let input = "a".repeat(20_000);
    let mut budget = Budget::new(100_000, None, || 0);
    assert_eq!(
        regex.search(&mut Matcher::default(), &input, &mut budget),
        Err(Stop::Steps)
    );
    // One start and no backtrack, but 10,000 choices passed for each `a`.
    let regex = Regex::new("\\A(?:a(?:x?){10000})*(?:b|c)", &mut NoReferences).unwrap();
    let input = "a".repeat(2_000);
    let mut budget = Budget::new(100_000, None, || 0);
    assert_eq!(
        regex.search(&mut Matcher::default(), &input, &mut budget),
        Err(Stop::Steps)
    );
    // What a pattern of that size does on a line that fits is still cheap.
    let mut budget = Budget::new(1_000, None, || 0);
    let regex = Regex::new("(?:(?:a{10}){10}){3}b", &mut NoReferences).unwrap();
    let input = format!("{}b", "a".repeat(300));
    let found = regex.search(&mut Matcher::default(), &input, &mut budget);
    assert_eq!(found, Ok(true));
}

/// And the clock is read as the work goes, not only every few thousand
/// start positions.
#[test]
fn the_time_limit_stops_one_long_attempt() {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NOW: AtomicI64 = AtomicI64::new(0);
    let clock = || NOW.fetch_add(1_000_000_000, Ordering::Relaxed);
    let regex = Regex::new("\\A(?:a(?:x?){10000})*(?:b|c)", &mut NoReferences).unwrap();
    let input = "a".repeat(2_000);
    let mut budget = Budget::new(u64::MAX, Some(1_500_000_000), clock);
    assert_eq!(
        regex.search(&mut Matcher::default(), &input, &mut budget),
        Err(Stop::Deadline)
    );
}

/// Comments are nothing (a repeat after one repeats the atom before it),
/// a count needs something to repeat, repeating nothing is allowed, and a
/// negative look-behind holds no capture: each as Ruby 3.1 reads it.
#[test]
fn comments_counts_and_captures_where_ruby_reads_them() {
    assert_eq!(whole("a(?#x)*", "aaab").as_deref(), Some("aaa"));
    assert_eq!(whole("x(?#c)(?#d){2}", "xxx").as_deref(), Some("xx"));
    assert_eq!(whole("(?x)a (?#c) *b", "aab").as_deref(), Some("aab"));
    assert_eq!(whole("(?#a\\)b)c", "c").as_deref(), Some("c"));
    assert!(error("(?#a\\)c").starts_with("end pattern in group"));
    assert_eq!(whole("(?:)*b", "b").as_deref(), Some("b"));
    assert_eq!(whole("x(?:){2}", "x").as_deref(), Some("x"));
    assert_eq!(whole("a{}", "a{}").as_deref(), Some("a{}"));
    assert_eq!(whole("{a}", "{a}").as_deref(), Some("{a}"));
    for pattern in ["{2}", "a|{2}", "({2})", "(?i){2}", "{,3}", "(?x) {1,}?"] {
        let refused = error(pattern);
        assert!(
            refused.starts_with("target of repeat operator is not specified"),
            "{pattern}: {refused}"
        );
    }
    for pattern in ["(?<!(a))b", "(?<!(?<n>a))b", "(?<!a(?=(b)))c"] {
        let refused = error(pattern);
        assert!(
            refused.contains("may not hold a capture"),
            "{pattern}: {refused}"
        );
    }
    // A plain group captures only in a pattern that names none.
    assert!(Regex::for_replace("(?<!(a))b").is_err());
    assert!(Regex::for_replace("(?<n>x)|(?<!(a))b").is_ok());
    assert!(Regex::new("(?<n>x)|(?<!(a))b", &mut NoReferences).is_ok());
    assert_eq!(whole("(?<!(?:a))b", "b").as_deref(), Some("b"));
    assert!(Regex::new("(?<=(a))b", &mut NoReferences).is_ok());
    // A property's name is read without spaces, `_` or `-`.
    assert_eq!(whole("\\p{Al_pha}+", "1ab2").as_deref(), Some("ab"));
    assert_eq!(whole("\\p{x digit}+", "xab2").as_deref(), Some("ab2"));
    assert_eq!(whole("\\p{^X_Digit}+", "ab2xy").as_deref(), Some("xy"));
    assert!(error("\\p{ ^Upper}").contains("unsupported character property"));
}
