//! Character-class options and split patterns read as Ruby reads them: the
//! expected values are what logstash-filter-kv's regexes give in Ruby 3.1
//! (checked with a port of its `parse`); what this filter cannot reproduce
//! is refused at load, naming the option and the construct.

use super::*;

#[test]
fn class_escapes_and_brackets_mean_what_they_mean_in_ruby() {
    for (config, line, expected) in [
        (json!({"trim_value": "\\W"}), "a=<<Wx>>", json!({"a": "Wx"})),
        (json!({"trim_value": "\\S"}), "a=xyz", json!({"a": ""})),
        (
            json!({"remove_char_value": "\\D"}),
            "a=x1y2 b=é3",
            json!({"a": "12", "b": "3"}),
        ),
        (
            json!({"field_split": "\\h"}),
            "x=y0z=w",
            json!({"x": "y", "z": "w"}),
        ),
        (
            json!({"remove_char_key": "\\H", "field_split": ","}),
            "a1 b=1,xyz2=2",
            json!({"a1b": "1", "2": "2"}),
        ),
        (
            json!({"remove_char_value": "[:^ascii:]"}),
            "a=héllo€",
            json!({"a": "hllo"}),
        ),
        (
            json!({"remove_char_value": "[:xdigit:]"}),
            "a=0xdeadbeefghi",
            json!({"a": "xghi"}),
        ),
        (
            json!({"field_split": "\\x2c"}),
            "a=1,b=2 c=3",
            json!({"a": "1", "b": "2 c=3"}),
        ),
        (
            json!({"trim_value": "\\x30-\\x39"}),
            "a=12ab34",
            json!({"a": "ab"}),
        ),
        (
            json!({"remove_char_value": "\\u00e9"}),
            "a=héé",
            json!({"a": "h"}),
        ),
        (
            json!({"remove_char_value": "\\0"}),
            "a=x\0y",
            json!({"a": "xy"}),
        ),
        (json!({"trim_value": "]"}), "a=]x]", json!({"a": "x"})),
        (
            json!({"trim_value": "\\W", "recursive": true}),
            "a=<b=<c>>",
            json!({"a": {"b": "c"}}),
        ),
    ] {
        assert_eq!(pairs(config.clone(), line), expected, "{config} {line}");
    }
}

#[test]
fn split_patterns_with_classes_mean_what_they_mean_in_ruby() {
    for (config, line, expected) in [
        (
            json!({"field_split_pattern": "\\W"}),
            "a=1;b=2",
            json!({"a": "1", "b": "2"}),
        ),
        (
            json!({"field_split_pattern": "\\s*\\W\\s*"}),
            "a=1 ; b=2",
            json!({"a": "1", "b": "2"}),
        ),
        (
            json!({"field_split_pattern": "[[:xdigit:]]+"}),
            "k=v0k2=v2",
            json!({"k": "v"}),
        ),
        (
            json!({"field_split_pattern": "\\h+"}),
            "k=vabk2=v2",
            json!({"k": "v"}),
        ),
    ] {
        assert_eq!(pairs(config.clone(), line), expected, "{config} {line}");
    }
}

#[test]
fn class_syntax_ruby_reads_otherwise_is_refused_naming_option_and_construct() {
    for (config, named) in [
        (
            json!({"remove_char_value": "[:punct:]"}),
            "remove_char_value: `[:punct:]`: `[:punct:]` also matches",
        ),
        (json!({"trim_value": "[:alpha:]"}), "write `a-zA-Z`"),
        (
            json!({"trim_key": "\\p{P}"}),
            "trim_key: `\\p{P}`: `\\p` is a Unicode",
        ),
        (json!({"field_split": "\\P{L}"}), "field_split: "),
        (
            json!({"value_split": "a[bc]"}),
            "value_split: `a[bc]`: a `[` inside",
        ),
        (
            json!({"trim_value": "a&&b"}),
            "trim_value: `a&&b`: class intersection",
        ),
        (json!({"trim_value": "a]b"}), "write `\\]`"),
        (
            json!({"field_split": "^"}),
            "field_split: `^`: names no characters",
        ),
        (
            json!({"field_split_pattern": "[[:punct:]]"}),
            "field_split_pattern: `[[:punct:]]`",
        ),
        (
            json!({"value_split_pattern": "\\p{P}"}),
            "value_split_pattern: ",
        ),
        (json!({"field_split_pattern": "\\bx"}), "is an anchor"),
        (json!({"field_split_pattern": "a\\1"}), "back-reference"),
        (
            json!({"field_split_pattern": "\\R"}),
            "`\\R` is not supported",
        ),
        (
            json!({"remove_char_key": "\\q"}),
            "write `q` without the backslash",
        ),
    ] {
        let error = init_error(config.clone());
        assert!(error.contains(named), "{config}: {error}");
    }
}

/// kv.rb also pastes `value_split` and `field_split` together into the
/// key's `[^...]`, and `field_split` into the value's: Ruby refuses what
/// does not compile there, and reads a `-` where they meet as a range.
#[test]
fn split_characters_are_checked_as_logstash_pastes_them_together() {
    for (config, named) in [
        (
            json!({"field_split": "-\\s"}),
            "value_split and field_split: `[^=-\\s]` in Logstash's regex: a class",
        ),
        (
            json!({"value_split": ":", "field_split": "-_"}),
            "value_split and field_split: `[^:-_]` in Logstash's regex names other characters",
        ),
        (
            json!({"field_split": "^,"}),
            "value_split and field_split: `[^=^,]` in Logstash's regex names other",
        ),
        (
            json!({"value_split_pattern": "=", "field_split": "^,"}),
            "field_split: `[^^,]` in Logstash's regex names other",
        ),
    ] {
        let error = init_error(config.clone());
        assert!(error.starts_with(named), "{config}: {error}");
    }
    // A `-` that stays a character there is fine.
    assert_eq!(
        pairs(json!({"field_split": "&-"}), "a=1-b=2&c=3"),
        json!({"a": "1", "b": "2", "c": "3"})
    );
}

/// kv.rb's key reads `\x` as an escape, and a backslash becomes the value
/// separator only where Ruby backtracks to it. Not followed here: the
/// character form is refused, and a pattern is the separator wherever it
/// matches, which agrees with Logstash on `DOMAIN\alice` and not on
/// `a\b\c` (Ruby: `a\b = c`), as the README says.
#[test]
fn a_backslash_value_separator_is_refused_but_as_a_pattern() {
    for config in [
        json!({"value_split": "\\\\", "field_split": ","}),
        json!({"value_split": "=\\\\"}),
    ] {
        let error = init_error(config.clone());
        assert!(
            error.starts_with("value_split: a backslash among the value separators is refused"),
            "{config}: {error}"
        );
    }
    assert_eq!(
        pairs(
            json!({"value_split_pattern": "\\\\", "field_split": ","}),
            "DOMAIN\\alice,HOST\\srv1"
        ),
        json!({"DOMAIN": "alice", "HOST": "srv1"})
    );
    assert_eq!(
        pairs(
            json!({"value_split": "\\\\", "field_split_pattern": ","}),
            "DOMAIN\\alice,HOST\\srv1"
        ),
        json!({"DOMAIN": "alice", "HOST": "srv1"})
    );
    assert_eq!(
        pairs(
            json!({"value_split_pattern": "\\\\", "field_split": ","}),
            "a\\b\\c"
        ),
        json!({"a": "b\\c"})
    );
}
