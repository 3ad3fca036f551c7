//! Backslashes in values as Logstash's regexes read them. Quoted and
//! bracketed values whose closing quote follows a backslash, read with
//! `"((?:\\.|[^"])+)?"` followed by a field separator or the end of a line:
//! a `\` may stand for itself, so that the quote after it closes the value
//! when the quote inside would not. And a backslash before a line break.

use super::*;

#[test]
fn a_quoted_windows_directory_keeps_its_final_backslash() {
    assert_eq!(
        pairs(json!({}), r#"path="C:\Program Files\" user=bob"#),
        json!({"path": r"C:\Program Files\", "user": "bob"})
    );
    assert_eq!(
        pairs(json!({}), r#"dir="C:\temp\" op=del"#),
        json!({"dir": r"C:\temp\", "op": "del"})
    );
    // The other quotes and the brackets are read the same way.
    assert_eq!(
        pairs(json!({}), r"a='C:\x\' b=(y\) c=[z\] d=<w\>"),
        json!({"a": r"C:\x\", "b": r"y\", "c": r"z\", "d": r"w\"})
    );
}

#[test]
fn an_escaped_quote_stays_inside_when_a_later_quote_closes() {
    // Ruby tries the escape first, so a later quote that works wins.
    assert_eq!(
        pairs(json!({}), r#"a="say \"hi\"" b=1"#),
        json!({"a": r#"say \"hi\""#, "b": "1"})
    );
    assert_eq!(
        pairs(json!({}), r#"a="x\" y" b=1"#),
        json!({"a": r#"x\" y"#, "b": "1"})
    );
}

#[test]
fn when_no_later_quote_closes_the_last_escaped_one_that_can_does() {
    // The final `"w` is no close (no separator after it), so the value ends
    // at the last backslash-quote that a separator follows.
    assert_eq!(
        pairs(json!({}), r#"a="x\" y\" z"w"#),
        json!({"a": r#"x\" y\"#})
    );
    // The end of a line closes too, before a line break as at the end (the
    // break then starts the next key, as in Logstash).
    assert_eq!(
        pairs(json!({}), "a=\"x\\\"\nb=1"),
        json!({"a": "x\\", "\nb": "1"})
    );
    // So a value may run over separators and other pairs to a close at the
    // end of the line.
    assert_eq!(
        pairs(json!({}), r"k=(\)x j=(\)x last=(\)"),
        json!({"k": r"\)x j=(\)x last=(\"})
    );
    // A backslash-quote with no separator after it closes nothing.
    assert_eq!(
        pairs(json!({}), r#"a="x\"y b=1"#),
        json!({"a": r#""x\"y"#, "b": "1"})
    );
}

#[test]
fn a_quote_after_two_backslashes_may_still_be_escaped() {
    // `\\"` first reads as an escaped backslash and a close; where that
    // close has no separator after it, `\` then `\"` is tried instead.
    assert_eq!(
        pairs(json!({}), r#"a="x\\" b=1"#),
        json!({"a": r"x\\", "b": "1"})
    );
    assert_eq!(
        pairs(json!({}), r#"a="x\\"y z" b=1"#),
        json!({"a": r#"x\\"y z"#, "b": "1"})
    );
}

#[test]
fn the_same_holds_with_split_patterns_and_without_brackets() {
    assert_eq!(
        pairs(
            json!({"field_split_pattern": ", "}),
            r#"path="C:\a b\", n=1"#
        ),
        json!({"path": r"C:\a b\", "n": "1"})
    );
    assert_eq!(
        pairs(json!({"include_brackets": false}), r"a=(x\) b=1"),
        json!({"a": r"(x\)", "b": "1"})
    );
}

#[test]
fn many_unclosable_brackets_are_scanned_in_linear_time() {
    // Every `)` follows a backslash and no separator follows it, so each of
    // the pairs' bracket searches fails only at the end of the line. Looking
    // from each `(` to the end again would take minutes here; the test just
    // has to end.
    let mut line = r"k=(\)x ".repeat(300_000);
    line.push_str("last=1");
    assert_eq!(
        pairs(json!({"include_keys": ["last"]}), &line),
        json!({"last": "1"})
    );
    // The same with the other bracket and quote kinds searched in between.
    let mut line = r#"k=(\)x j=[\]x i=<\>x h="\"x g='\'x "#.repeat(60_000);
    line.push_str("last=1");
    assert_eq!(
        pairs(json!({"include_keys": ["last"]}), &line),
        json!({"last": "1"})
    );
}

#[test]
fn with_a_field_split_pattern_a_backslash_does_not_carry_over_a_line_break() {
    // Logstash reads pattern-split keys and values with `(?:\\.|(?!...).)+`,
    // where neither `.` matches a line break, so both end before one.
    let split = json!({"field_split_pattern": ", "});
    assert_eq!(
        pairs(split.clone(), "a=x\\\ny, b=1"),
        json!({"a": "x\\", " b": "1"})
    );
    assert_eq!(
        pairs(split.clone(), "a=x\\\\\ny, b=1"),
        json!({"a": "x\\\\", " b": "1"})
    );
    assert_eq!(pairs(split, "k\\\nj=1, b=2"), json!({"j": "1", "b": "2"}));
    // A character-set field split takes the line break into the value.
    assert_eq!(
        pairs(json!({"value_split_pattern": "::"}), "a::x\\\ny b::2"),
        json!({"a": "x\\\ny", "b": "2"})
    );
    assert_eq!(
        pairs(json!({}), "a=x\\\ny b=1"),
        json!({"a": "x\\\ny", "b": "1"})
    );
}

#[test]
fn a_backslash_before_a_separating_line_break_is_a_character() {
    // Ruby's `\\.` cannot take a line break, so a Windows path that ends a
    // line keeps its backslash and the next line's pair is read.
    assert_eq!(
        pairs(json!({"field_split": "\\n"}), "dir=C:\\temp\\\nuser=bob"),
        json!({"dir": "C:\\temp\\", "user": "bob"})
    );
    // In a key too: `k\` ends at the break, with no value, and is skipped.
    assert_eq!(
        pairs(json!({"field_split": "\\s"}), "a=1 k\\\nb=2"),
        json!({"a": "1", "b": "2"})
    );
    // A carriage return separator it still escapes (`.` takes one).
    assert_eq!(
        pairs(json!({"field_split": "\\r\\n"}), "a=x\\\ry\nb=2"),
        json!({"a": "x\\\ry", "b": "2"})
    );
}
