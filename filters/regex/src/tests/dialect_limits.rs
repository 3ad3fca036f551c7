//! Numbered and hex escapes, groups Onigmo has and this engine refuses,
//! and searches Onigmo keeps from backtracking. Expected values are what
//! Ruby 3.1's Regexp (Onigmo) and JRuby's (Joni) give for the same pattern.

use super::*;

fn error(pattern: &str) -> String {
    match Regex::new(pattern, &mut NoReferences) {
        Ok(_) => panic!("{pattern} was accepted"),
        Err(e) => e,
    }
}

/// Whether `pattern` finds a match in `input`, or the step limit stopped it.
fn search(pattern: &str, input: &str) -> Result<bool, Stop> {
    let regex = Regex::new(pattern, &mut NoReferences).unwrap();
    regex.search(&mut Matcher::default(), input, &mut budget())
}

const BACKREFERENCE: &str = "backreferences and subexpression calls are not supported";

/// `\N` is a backreference when N is at most 9 or at most the groups
/// opened before it (plain ones count, though they do not capture in
/// grok); otherwise `\8` and `\9` are digits and the rest is octal.
#[test]
fn numbered_escapes_are_octal_where_ruby_reads_them_so() {
    assert_eq!(whole("\\101", "xA").as_deref(), Some("A"));
    assert_eq!(whole("\\1011", "A1").as_deref(), Some("A1"));
    assert_eq!(whole("\\101{2}", "AAA").as_deref(), Some("AA"));
    assert_eq!(whole("\\10", "\u{8}").as_deref(), Some("\u{8}"));
    assert_eq!(whole("\\12", "\n").as_deref(), Some("\n"));
    assert_eq!(whole("\\18", "\u{1}8").as_deref(), Some("\u{1}8"));
    assert_eq!(whole("\\80", "80").as_deref(), Some("80"));
    assert_eq!(whole("\\177", "\u{7f}").as_deref(), Some("\u{7f}"));
    assert_eq!(whole("\\0", "\0").as_deref(), Some("\0"));
    assert_eq!(whole("\\012", "\n").as_deref(), Some("\n"));
    assert_eq!(whole("\\0123", "\n3").as_deref(), Some("\n3"));
    assert_eq!(whole("\\08", "\u{0}8").as_deref(), Some("\u{0}8"));
    assert_eq!(whole("[\\101\\0]+", "A\0").as_deref(), Some("A\0"));
    for pattern in ["\\1", "\\8", "\\9"] {
        assert_eq!(error(pattern), format!("{BACKREFERENCE} at position 1"));
    }
    assert!(error("(?<n>a)\\1").starts_with(BACKREFERENCE));
    // Ten groups opened before `\10`, then nine (with `whole`'s own
    // `(?<all>`).
    let ten = "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\\10";
    assert!(error(ten).starts_with(BACKREFERENCE), "{ten}");
    let nine = "(a)(b)(c)(d)(e)(f)(g)(h)\\10";
    assert_eq!(
        whole(nine, "abcdefgh\u{8}").as_deref(),
        Some("abcdefgh\u{8}")
    );
    // Past `\377` Ruby refuses it; from `\200` it is a byte of a UTF-8
    // sequence (`\303\251` is `é` there), refused here.
    assert_eq!(error("\\400"), "invalid escape code at position 1");
    assert!(error("\\303\\251").contains("multibyte"));
    assert!(error("[\\200]").contains("multibyte"));
}

/// Ruby refuses `\x{...}` (`invalid hex escape`) and writes `\u{...}`;
/// `\xHH` above `\x7F` is a byte of a UTF-8 sequence there.
#[test]
fn hex_and_unicode_escapes_as_ruby_reads_them() {
    assert!(error("\\x{263a}").contains("`\\x{...}` is not Ruby's"));
    assert!(error("[\\x{263a}]").contains("`\\x{...}` is not Ruby's"));
    assert_eq!(whole("\\u{263a}", "x\u{263a}").as_deref(), Some("\u{263a}"));
    assert_eq!(
        whole("[\\u{263a}]", "\u{263a}").as_deref(),
        Some("\u{263a}")
    );
    assert_eq!(
        whole("\\u{0041}\\u263a", "A\u{263a}").as_deref(),
        Some("A\u{263a}")
    );
    assert_eq!(
        whole("\\x8\\x7f", "\u{8}\u{7f}").as_deref(),
        Some("\u{8}\u{7f}")
    );
    assert!(error("\\u{d800}").contains("invalid Unicode escape"));
    assert!(error("\\u{110000}").contains("invalid Unicode escape"));
    assert!(error("\\u{}").contains("invalid Unicode escape"));
    assert!(error("\\u12").contains("invalid Unicode escape"));
    assert!(error("\\u{61 62}").contains("list of code points"));
    assert!(error("\\xg").contains("invalid hex escape"));
    assert!(error("\\xC3\\xA9").contains("multibyte"));
}

#[test]
fn conditionals_and_the_absence_operator_are_named_when_refused() {
    assert_eq!(
        error("(?<q>\")?(?<v>\\w+)(?(<q>)\")"),
        "conditional groups `(?(cond)yes|no)` are not supported at position 17"
    );
    assert_eq!(
        error("/\\*(?~\\*/)\\*/"),
        "the absence operator `(?~...)` is not supported at position 3"
    );
    assert!(error("(?Q)").contains("undefined group option"));
}

/// A greedy `?`, `*` or `+` of another is one repeat, as Onigmo reduces
/// it: the same matches, without trying every split of a run.
#[test]
fn nested_repeats_are_reduced() {
    let line = format!("{}c b", "a".repeat(40));
    assert_eq!(search("(?:a+)+b", &line), Ok(false));
    assert_eq!(search("(a*)+b", &line), Ok(true));
    assert_eq!(whole("(?:a+)+", "baaa").as_deref(), Some("aaa"));
    assert_eq!(whole("(?:a+)?b", "aab").as_deref(), Some("aab"));
    assert_eq!(whole("(?:a?)+", "aa").as_deref(), Some("aa"));
    assert_eq!(whole("(?:a?)?", "aa").as_deref(), Some("a"));
    assert_eq!(whole("(?:a+)*", "aa").as_deref(), Some("aa"));
    assert_eq!(whole("(?:a{1,})+x", "aax").as_deref(), Some("aax"));
    assert_eq!(whole("(?:a+)++a", "aaa"), None);
    // A capture inside is kept, so the repeat is not reduced.
    assert_eq!(group("(?<i>a+)+", "aaa", "i").as_deref(), Some("aaa"));
}

/// The text every match needs is looked for on short lines too, once a
/// search has spent a few thousand steps: without `b`, Onigmo fails
/// `(?:a+a+)+b` at once, where trying each split of the `a`s would run
/// out of steps. The look costs such a search no more than those steps.
#[test]
fn a_short_line_without_the_required_literal_fails_at_once() {
    let line = format!("{}c", "a".repeat(40));
    assert_eq!(search("(?:a+a+)+b", &line), Ok(false));
    assert_eq!(search("(?:a|aa)+b", &line), Ok(false));
    assert_eq!(search("(?:a+a+)+b", "aab"), Ok(true));
    let regex = Regex::new("(?:a+a+)+b", &mut NoReferences).unwrap();
    let mut budget = budget();
    let before = budget.steps_left;
    let found = regex.search(&mut Matcher::default(), &line, &mut budget);
    assert_eq!(found, Ok(false));
    assert!(
        before - budget.steps_left <= 4096,
        "{}",
        before - budget.steps_left
    );
}

/// A search that goes on past the look and finds the literal in the line
/// is run again with its whole budget, and finds what it would have.
#[test]
fn a_long_search_with_the_literal_in_its_line_still_matches() {
    let line = format!("{}x!", "a ".repeat(5000));
    assert_eq!(whole("\\w+!", &line).as_deref(), Some("x!"));
    // Both searches together stay within the budget: 5,000 starts do not
    // fit in 6,000 steps when the first 4,096 were spent before the look.
    let mut budget = Budget::new(6000, None, || 0);
    let regex = Regex::new("\\w+!", &mut NoReferences).unwrap();
    let found = regex.search(&mut Matcher::default(), &line, &mut budget);
    assert_eq!(found, Err(Stop::Steps));
}

/// Ruby reads a `?` after a count without a comma as a repeat of its own
/// (Onigmo's FIXED_INTERVAL_IS_GREEDY_ONLY): `\d{3}?` is an optional run
/// of three digits, not a lazy one. A count with a comma takes it as lazy.
#[test]
fn a_question_mark_after_a_fixed_count_makes_it_optional() {
    assert_eq!(whole("a{2}?", "a").as_deref(), Some(""));
    assert_eq!(whole("xa{2}?", "xaa").as_deref(), Some("xaa"));
    assert_eq!(
        group("(?<x>\\d{3}?)(?<y>\\w+)", "12ab", "y").as_deref(),
        Some("12ab")
    );
    assert_eq!(whole("a{2,2}?", "aaa").as_deref(), Some("aa"));
    assert_eq!(whole("a{1,}?", "aaa").as_deref(), Some("a"));
    assert_eq!(whole("a{2}??", "aa").as_deref(), Some(""));
}

/// Ruby's character-set options: `(?d)` is its default, which this engine
/// follows; `(?a)` and `(?u)`, which change what `\w` and the rest match,
/// are refused by name rather than as an unknown group.
#[test]
fn ruby_character_set_options_are_named() {
    assert_eq!(group("(?d)(?<a>\\w+)", "éa1", "a").as_deref(), Some("a1"));
    assert_eq!(group("(?d:(?<a>\\w+))", "a1", "a").as_deref(), Some("a1"));
    assert_eq!(group("(?di)(?<a>A)", "a", "a").as_deref(), Some("a"));
    for (pattern, option) in [
        ("(?u)\\w", "(?u)"),
        ("(?a:\\w)", "(?a)"),
        ("(?iu)x", "(?u)"),
    ] {
        let message = error(pattern);
        assert!(
            message.contains(&format!("Ruby's option `{option}`"))
                && message.contains("not supported"),
            "{pattern}: {message}"
        );
    }
    assert!(error("(?-d)x").contains("undefined group option"));
}

/// Simple folds no case mapping reaches, each way, as Ruby's `(?i)` makes
/// them (a comparison over 2,847 letters found these missing): title-case
/// digraphs, old Cyrillic forms, Greek capitals with prosgegrammeni, and
/// letters encoded twice.
#[test]
fn folds_that_no_case_mapping_reaches() {
    for (pattern, text) in [
        ("ǆ", "ǅ"),
        ("Ǆ", "ǅ"),
        ("ǅ", "ǆ"),
        ("θ", "ϴ"),
        ("Θ", "ϴ"),
        ("в", "ᲀ"),
        ("т", "ᲅ"),
        ("ᲄ", "ᲅ"),
        ("ᾀ", "ᾈ"),
        ("ᾧ", "ᾯ"),
        ("ι", "\u{345}"),
        ("\u{1fd3}", "\u{390}"),
        ("\u{390}", "\u{1fd3}"),
        ("ﬆ", "ﬅ"),
        ("ﬅ", "ﬆ"),
    ] {
        let folded = format!("(?i){pattern}");
        assert_eq!(
            whole(&folded, text).as_deref(),
            Some(text),
            "{pattern} ~ {text}"
        );
    }
    assert_eq!(whole("(?i)т", "у"), None);
}
