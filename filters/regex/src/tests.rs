//! Matching-order and dialect tests, each checked against what Ruby's
//! Regexp (Onigmo) returns for the same pattern and input.

use super::*;

mod dialect_limits;
mod ruby_checked;

fn budget() -> Budget {
    Budget::new(1_000_000, None, || 0)
}

/// The whole match and each named group, as Ruby's MatchData shows them.
fn find(pattern: &str, input: &str) -> Option<Vec<(String, Option<String>)>> {
    let mut resolver = NoReferences;
    let regex = Regex::new(&format!("(?<all>{pattern})"), &mut resolver).unwrap();
    let mut matcher = Matcher::default();
    if !regex.search(&mut matcher, input, &mut budget()).unwrap() {
        return None;
    }
    let slots = matcher.slots();
    let mut out = Vec::new();
    for (name, groups) in regex.names() {
        for &g in groups {
            let (s, e) = (slots[2 * g], slots[2 * g + 1]);
            let value =
                (s != UNSET && e != UNSET).then(|| input[s as usize..e as usize].to_string());
            out.push((name.clone(), value));
        }
    }
    Some(out)
}

fn whole(pattern: &str, input: &str) -> Option<String> {
    find(pattern, input).map(|m| m[0].1.clone().unwrap())
}

fn group(pattern: &str, input: &str, name: &str) -> Option<String> {
    find(pattern, input)?
        .into_iter()
        .find(|(n, _)| n == name)?
        .1
}

#[test]
fn leftmost_then_priority_order() {
    assert_eq!(whole("a|ab", "xab").as_deref(), Some("a"));
    assert_eq!(whole("ab|a", "xab").as_deref(), Some("ab"));
    assert_eq!(whole("a+?b", "aaab").as_deref(), Some("aaab"));
    assert_eq!(whole("a*?", "aaa").as_deref(), Some(""));
    assert_eq!(whole("x*", "aaa").as_deref(), Some(""));
    assert_eq!(whole("(?:a|b)*c", "zababc").as_deref(), Some("ababc"));
    assert_eq!(whole("a{2,3}", "aaaa").as_deref(), Some("aaa"));
    assert_eq!(whole("a{2,3}?", "aaaa").as_deref(), Some("aa"));
    assert_eq!(whole("a{2}", "a"), None);
    assert_eq!(whole("a{,2}b", "aaab").as_deref(), Some("aab"));
    assert_eq!(whole("(?:ab){2,}", "abababx").as_deref(), Some("ababab"));
    assert_eq!(whole("a{1,2}+", "aaaa").as_deref(), Some("aaaa"));
}

#[test]
fn literal_braces_when_not_an_interval() {
    assert_eq!(whole("%{}", "a%{}").as_deref(), Some("%{}"));
    assert_eq!(whole("%{ x}", "%{ x}").as_deref(), Some("%{ x}"));
    assert_eq!(whole("a{,}", "a{,}").as_deref(), Some("a{,}"));
    assert_eq!(whole("{", "{").as_deref(), Some("{"));
}

#[test]
fn greedy_runs_give_back() {
    assert_eq!(group("(?<a>.*)b", "aabab", "a").as_deref(), Some("aaba"));
    assert_eq!(
        group("(?<a>[^ ]*) (?<b>.*)", "x y z", "b").as_deref(),
        Some("y z")
    );
    assert_eq!(
        group("(?<a>\\d+)(?<b>\\d)", "12345", "a").as_deref(),
        Some("1234")
    );
    assert_eq!(group("(?<a>.*?)-", "ab-cd-", "a").as_deref(), Some("ab"));
}

#[test]
fn atomic_and_possessive_do_not_give_back() {
    assert_eq!(whole("(?>a+)a", "aaa"), None);
    assert_eq!(whole("a++a", "aaa"), None);
    assert_eq!(whole("(?>ab|a)c", "ac").as_deref(), Some("ac"));
    assert_eq!(whole("(?>a|ab)c", "abc"), None);
    assert_eq!(whole("(?:a|b)*+b", "abab"), None);
}

#[test]
fn lookarounds() {
    assert_eq!(whole("(?<![0-9])\\d+", "a12").as_deref(), Some("12"));
    assert_eq!(whole("(?<![0-9.])\\d+", "1.23"), Some("1".into()));
    assert_eq!(whole("\\d+(?![0-9])", "123x").as_deref(), Some("123"));
    assert_eq!(whole("foo(?=bar)", "foobaz foobar").as_deref(), Some("foo"));
    assert_eq!(whole("(?<=ab|c)d", "abd").as_deref(), Some("d"));
    assert_eq!(whole("(?<=ab|c)d", "cd").as_deref(), Some("d"));
    assert_eq!(whole("(?<!ab|c)d", "cd xd").as_deref(), Some("d"));
    assert_eq!(find("(?<!ab|c)d", "cd abd"), None);
    // A capture inside a positive lookahead stays (SYSLOGPAMSESSION relies on it).
    assert_eq!(
        group("(?=(?<u>\\w+))\\w", "abc", "u").as_deref(),
        Some("abc")
    );
    // One inside a negative lookahead never does.
    assert_eq!(group("(?!(?<u>x))\\w", "abc", "u"), None);
    assert!(
        Regex::new("(?<=a+)b", &mut NoReferences)
            .err()
            .unwrap()
            .contains("fixed length")
    );
}

#[test]
fn anchors_are_line_anchors() {
    assert_eq!(whole("^b", "a\nb").as_deref(), Some("b"));
    assert_eq!(whole("a$", "a\nb").as_deref(), Some("a"));
    assert_eq!(whole("\\Ab", "a\nb"), None);
    assert_eq!(whole("a\\z", "a\nb"), None);
    assert_eq!(whole("b\\Z", "a\nb\n").as_deref(), Some("b"));
    assert_eq!(whole("\\bcat\\b", "concat cat").as_deref(), Some("cat"));
    assert_eq!(whole("\\Bcat", "concat cat").as_deref(), Some("cat"));
}

#[test]
fn dot_matches_newline_and_flags_scope_to_groups() {
    assert_eq!(whole("a.b", "a\nb").as_deref(), Some("a\nb"));
    assert_eq!(whole("(?-m:a.b)", "a\nb"), None);
    assert_eq!(whole("(?i)abc", "xABC").as_deref(), Some("ABC"));
    assert_eq!(whole("(?:(?i)a)b", "AB"), None);
    assert_eq!(whole("(?i:a)b", "Ab").as_deref(), Some("Ab"));
    assert_eq!(whole("(?x) a b # comment\n", "ab").as_deref(), Some("ab"));
    assert_eq!(
        whole("[[:alpha:]]+(?i)[a-c]+", "xyzABC").as_deref(),
        Some("xyzABC")
    );
    // A bare option takes in the alternatives after it, to the end of its
    // group (Ruby 3.1: `/a(?i)b|c/ =~ "c"` is nil; JRuby's Joni agrees).
    assert_eq!(whole("a(?i)b(?m)c|d", "abd").as_deref(), Some("abd"));
    assert_eq!(whole("a(?i)b(?m)c|d", "ad"), None);
    assert_eq!(whole("x|a(?i)b|c(?m)d|e", "aCE").as_deref(), Some("aCE"));
    assert_eq!(whole("x|a(?i)b|c(?m)d|e", "ce"), None);
    assert_eq!(whole("a(?i)|b", "ab").as_deref(), Some("a"));
    // Options alone nest nothing; each one's alternatives are a level.
    let many = "(?i)a".repeat(5000);
    assert_eq!(whole(&many, &"A".repeat(5000)).map(|m| m.len()), Some(5000));
    let nested = "(?i)a|".repeat(400);
    let refused = Regex::new(&nested, &mut NoReferences).err().unwrap();
    assert!(
        refused.starts_with("the pattern nests deeper than"),
        "{refused}"
    );
    assert_eq!(whole("a(?i)b|c", "c"), None);
    assert_eq!(whole("a(?i)b|c", "aC").as_deref(), Some("aC"));
    assert_eq!(whole("x|a(?i)b|c", "x").as_deref(), Some("x"));
    assert_eq!(whole("(?:a(?i)b|c)d", "cd"), None);
    assert_eq!(whole("(?:a(?i)b|c)d", "aCd").as_deref(), Some("aCd"));
    assert_eq!(whole("(?:a(?i)b|c)D", "acd"), None, "closed with its group");
    assert_eq!(
        whole("said (?i)yes|no", "Bob said no").as_deref(),
        Some("said no")
    );
}

/// Under `(?i)` a class is folded once, over all its members, and only then
/// negated; a nested class brings its own negation in unfolded, and a
/// property outside brackets is folded before its negation (each expected
/// value is Ruby 3.1's, and Joni's).
#[test]
fn classes_fold_before_they_are_negated() {
    for (pattern, text, expected) in [
        ("(?i)[[^b]]", "b", Some("b")),
        ("(?i)[a[^b]]", "b", Some("b")),
        ("(?i)[^a[^b]]", "B", None),
        ("(?i)[^a[^b]]", "A", None),
        ("(?i)[^[^b]]", "b", None),
        ("(?i)[^[^B]c]", "b", None),
        ("(?i)[^[b]]", "B", None),
        ("(?i)[[b]]", "B", Some("B")),
        ("(?i)[^b]", "B", None),
        ("[^[^b]]", "b", Some("b")),
        // A property outside brackets folds, and then is negated.
        ("(?i)\\p{Upper}", "a", Some("a")),
        ("(?i)\\p{Lower}", "A", Some("A")),
        ("(?i)\\P{Lower}", "a", None),
        ("(?i)\\p{^Upper}", "A", None),
        ("(?i)[\\P{Lower}]", "a", Some("a")),
    ] {
        assert_eq!(
            whole(pattern, text).as_deref(),
            expected,
            "{pattern} on {text}"
        );
    }
}

/// `(?i)` on literals beyond ASCII, each pinned against Ruby 3.1's Onigmo
/// (`ruby -e 'p(/(?i)échec/ =~ "Échec")'`): simple case mappings both
/// ways, and the two signs that fold to ASCII letters. Not made: folds to
/// several letters (`ß`, `ss`), which Onigmo makes.
#[test]
fn ignore_case_folds_letters_beyond_ascii() {
    let cases: [(&str, &str, Option<&str>); 10] = [
        ("(?i)échec", "Échec de connexion", Some("Échec")),
        ("(?i)ÉCHEC", "échec", Some("échec")),
        ("(?i)σ", "ς", Some("ς")),
        ("(?i)Σ+", "σςΣ", Some("σςΣ")),
        ("(?i)k", "\u{212a}", Some("\u{212a}")),
        ("(?i)s", "\u{17f}", Some("\u{17f}")),
        ("(?i)i", "\u{130}", None),
        ("(?i)\u{3bc}", "\u{b5}", Some("\u{b5}")),
        ("(?i)\u{212a}", "K", Some("K")),
        ("échec", "Échec", None),
    ];
    for (pattern, text, expected) in cases {
        assert_eq!(
            whole(pattern, text).as_deref(),
            expected,
            "{pattern} on {text}"
        );
    }
}

#[test]
fn classes_and_escapes() {
    assert_eq!(whole("\\h+", "zz0aF9g").as_deref(), Some("0aF9"));
    assert_eq!(whole("[^\\\\?*]+", "ab?c").as_deref(), Some("ab"));
    assert_eq!(whole("[+-]?\\d", "x-1").as_deref(), Some("-1"));
    assert_eq!(
        whole("[a-zA-Z0-9!#$%&'*+\\-/=?^_`{|}~]+", " a+b{c}").as_deref(),
        Some("a+b{c}")
    );
    assert_eq!(whole("[]a]+", "]a]").as_deref(), Some("]a]"));
    assert_eq!(whole("\\x41\\u0042", "AB").as_deref(), Some("AB"));
    assert_eq!(whole("[[:^digit:]]+", "ab1").as_deref(), Some("ab"));
    assert_eq!(whole("\\.\\[\\]", "x.[]").as_deref(), Some(".[]"));
}

/// `[:]` inside a class is a class holding `:`, not the start of a POSIX
/// bracket whose `:]` is its own colon (found by the `regex` fuzz target:
/// the parser sliced the name backwards and panicked).
#[test]
fn a_colon_class_is_no_posix_bracket() {
    assert_eq!(whole("[[:]x]+", "x::]").as_deref(), Some("x::"));
    assert_eq!(whole("a[[:]]", "a:").as_deref(), Some("a:"));
    let error = Regex::new("(?:[[:]&&[^&&[y\nzz", &mut NoReferences).err();
    assert!(error.is_some_and(|e| e.contains("position")));
}

#[test]
fn ascii_shorthands_and_unicode_posix_brackets() {
    // Ruby: \w is ASCII-only, [[:alnum:]] follows Unicode.
    assert_eq!(whole("\\w+", "Čierný").as_deref(), Some("iern"));
    assert_eq!(
        whole("[[:alnum:]]+", "Čierný中 x").as_deref(),
        Some("Čierný中")
    );
    assert_eq!(whole("[^ ]+", "中文 x").as_deref(), Some("中文"));
    assert_eq!(whole(".{2}", "中文x").as_deref(), Some("中文"));
    assert_eq!(group("(?<a>.+)文", "中文文", "a").as_deref(), Some("中文"));
    assert_eq!(whole("(?<=中)x", "中x").as_deref(), Some("x"));
}

#[test]
fn captures_follow_ruby() {
    // The last iteration's value, as Onigmo keeps it.
    assert_eq!(
        group("(?:(?<a>\\w),?)+", "x,y,z", "a").as_deref(),
        Some("z")
    );
    // Two groups of one name are both reported, in order.
    let m = find("(?<n>a)|(?<n>b)", "b").unwrap();
    assert_eq!(m[1], ("n".into(), None));
    assert_eq!(m[2], ("n".into(), Some("b".into())));
    // An empty iteration ends a loop instead of looping forever.
    assert_eq!(whole("(?:a?)*b", "aab").as_deref(), Some("aab"));
    assert_eq!(whole("(?:(?=a))*a", "a").as_deref(), Some("a"));
}

#[test]
fn errors_name_the_position() {
    let err = |p: &str| Regex::new(p, &mut NoReferences).err().unwrap();
    assert_eq!(
        err("ab(c"),
        "end pattern with unmatched parenthesis at position 2"
    );
    assert_eq!(err("ab)"), "unmatched `)` at position 2");
    assert_eq!(err("[a-"), "premature end of char-class at position 0");
    assert!(err("a{3,2}").contains("upper bound"));
    assert!(err("*a").contains("target of repeat"));
    assert!(err("(?<n>a)\\k<n>").contains("backreferences"));
    assert!(err("%{FOO}").contains("unknown pattern FOO"));
}

#[test]
fn patterns_nested_too_deep_are_refused_with_their_position() {
    // Unoptimised native frames are larger than the filter's in
    // WebAssembly, whose stack the limit is for: room to reach it here.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            let deep = |levels: usize| format!("{}a{}", "(".repeat(levels), ")".repeat(levels));
            assert_eq!(whole(&deep(250), "a").as_deref(), Some("a"));
            let err = Regex::new(&deep(400), &mut NoReferences).err().unwrap();
            let refusal = "the pattern nests deeper than 300 levels (groups, classes, repeats, references, and options such as `(?i)` followed by `|`)";
            assert_eq!(err, format!("{refusal} at position 300"));
            let classes = format!("{}a{}", "[".repeat(400), "]".repeat(400));
            let err = Regex::new(&classes, &mut NoReferences).err().unwrap();
            // The outermost class is an atom, not a level.
            assert_eq!(err, format!("{refusal} at position 301"));
            let repeats = format!("a{}", "{1}".repeat(400));
            let err = Regex::new(&repeats, &mut NoReferences).err().unwrap();
            // At the 301st repeat (its closing brace).
            assert_eq!(err, format!("{refusal} at position 903"));
            // Repeats of separate atoms do not add up.
            assert_eq!(whole(&"a?".repeat(400), "aa").as_deref(), Some("aa"));
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn the_step_budget_stops_catastrophic_backtracking() {
    // The `b` is there, so the search is not skipped for want of it
    // (`required.rs`), but what follows it never matches.
    let regex = Regex::new("(?:a|a)*b(?!x)", &mut NoReferences).unwrap();
    let mut matcher = Matcher::default();
    let input = format!("{}bx", "a".repeat(40));
    let mut budget = budget();
    assert_eq!(
        regex.search(&mut matcher, &input, &mut budget),
        Err(Stop::Steps)
    );
}

#[test]
fn long_runs_retried_at_every_start_cost_steps() {
    // 20,000 start positions, each scanning the rest of the line for the
    // run: 2e8 bytes, quadratic in the line, for a budget of 100,000 steps.
    // (An alternative, so that no literal is required: a required one the
    // line lacks fails the search before it starts, `required.rs`.)
    let regex = Regex::new("\\w+(?:@|!)", &mut NoReferences).unwrap();
    let input = "a".repeat(20_000);
    let mut budget = Budget::new(100_000, None, || 0);
    assert_eq!(
        regex.search(&mut Matcher::default(), &input, &mut budget),
        Err(Stop::Steps)
    );
    // Lazy runs too, whether or not what follows turns up.
    for lazy in ["\\w+?(?:@|!)", "[a-z]*?(?:@|!)"] {
        let regex = Regex::new(lazy, &mut NoReferences).unwrap();
        let mut budget = Budget::new(100_000, None, || 0);
        assert_eq!(
            regex.search(&mut Matcher::default(), &input, &mut budget),
            Err(Stop::Steps),
            "{lazy}"
        );
    }
    // A line of ordinary length is far within the default budget.
    let line = format!("{} user@example.org", "word ".repeat(40));
    assert_eq!(whole("\\w+@", &line).as_deref(), Some("user@"));
}

#[test]
fn the_time_limit_stops_a_long_search() {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NOW: AtomicI64 = AtomicI64::new(0);
    // A clock that advances one second per reading.
    let clock = || NOW.fetch_add(1_000_000_000, Ordering::Relaxed);
    let regex = Regex::new("(?:a|a)*b(?!x)", &mut NoReferences).unwrap();
    let mut budget = Budget::new(u64::MAX, Some(1_500_000_000), clock);
    let input = format!("{}bx", "a".repeat(40));
    assert_eq!(
        regex.search(&mut Matcher::default(), &input, &mut budget),
        Err(Stop::Deadline)
    );
}

#[test]
fn runs_scanned_with_memchr_keep_their_meaning() {
    assert_eq!(whole("\"[^\"]*\"", "a\"中\"b").as_deref(), Some("\"中\""));
    assert_eq!(
        group("(?<a>.*?)\"", "中文\"x", "a").as_deref(),
        Some("中文")
    );
    assert_eq!(whole("[^,]*?;", "a,b;").as_deref(), Some("b;"));
    assert_eq!(whole("[^ ]+", " x").as_deref(), Some("x"));
    assert_eq!(whole("x[^ ]+", "x "), None);
    assert_eq!(
        group("(?<a>[^\"]*)\"(?<b>.*)", "ab\"c\"d", "b").as_deref(),
        Some("c\"d")
    );
    assert_eq!(
        group("(?<a>.*?)(?:\"|$)", "abc", "a").as_deref(),
        Some("abc")
    );
}

/// Runs of literal bytes match as one step: near the end of the input
/// (where no whole word can be read), longer than one word, failing on any
/// byte, and with an alternation joining in the middle of a run.
#[test]
fn literal_runs() {
    assert_eq!(whole("HTTP/1", "GET / HTTP/1"), Some("HTTP/1".into()));
    assert_eq!(whole("HTTP/1", "GET / HTTP/"), None);
    assert_eq!(
        whole(
            "a literal longer than a word",
            "x a literal longer than a word"
        ),
        Some("a literal longer than a word".into())
    );
    for i in 0.."abcdefghij".len() {
        let mut text = b"abcdefghij".to_vec();
        text[i] = b'_';
        let text = String::from_utf8(text).unwrap();
        assert_eq!(whole("abcdefghij", &text), None, "{text}");
        assert_eq!(
            whole("abcdefghij", "__abcdefghij__"),
            Some("abcdefghij".into())
        );
    }
    // The second branch falls into "cd", which the first jumps to.
    assert_eq!(whole("x(?:ab|b)cd", "xbcd"), Some("xbcd".into()));
    assert_eq!(whole("x(?:ab|b)cd", "xabcd"), Some("xabcd".into()));
    assert_eq!(whole("x(?:ab|b)cd", "xacd"), None);
    // Backtracking into a run: `a*` gives back until "aab" can follow.
    assert_eq!(whole("a*aab", "aaaaab"), Some("aaaaab".into()));

    // And they are fused: "ab" and "cd" are one step each, but "bcd" is
    // not, since the first branch joins at "c".
    let regex = Regex::new("x(?:ab|b)cd", &mut NoReferences).unwrap();
    let literals: Vec<&[u8]> = regex
        .program
        .insts
        .iter()
        .filter_map(|inst| match inst {
            compile::Inst::Literal { bytes, len } => Some(&bytes[..*len as usize]),
            _ => None,
        })
        .collect();
    assert_eq!(literals, [&b"ab"[..], b"cd"]);
}

/// Lookarounds of one character are one step (`Peek`); they must keep their
/// meaning at both ends of the input, next to non-ASCII characters, and in
/// both directions and polarities.
#[test]
fn one_character_lookarounds() {
    assert_eq!(whole(r"(?<![0-9])\d+", "a12"), Some("12".into()));
    assert_eq!(whole(r"(?<![0-9])\d+", "12"), Some("12".into()));
    assert_eq!(whole(r"(?<=[0-9])x", "x1x"), Some("x".into()));
    assert_eq!(find(r"(?<=[0-9])x", "x"), None);
    assert_eq!(whole(r"\d+(?![0-9.])", "1.5 22"), Some("5".into()));
    assert_eq!(whole(r"\d+(?=x)", "12 34x"), Some("34".into()));
    assert_eq!(find(r"\d(?=x)", "1"), None);
    assert_eq!(whole(r"\d(?!x)", "1"), Some("1".into()));
    // Behind a two-byte character: the step looks at the whole character.
    assert_eq!(find("(?<!é)x", "éx"), None);
    assert_eq!(whole("(?<=é)x", "éx"), Some("x".into()));
    assert_eq!(whole("(?<![é])x", "ax"), Some("x".into()));
    assert_eq!(
        whole(r"(?<!\w)x", "éx"),
        Some("x".into()),
        "Ruby's \\w is ASCII"
    );

    let regex = Regex::new(r"(?<![0-9])\d(?!x)", &mut NoReferences).unwrap();
    let peeks = regex
        .program
        .insts
        .iter()
        .filter(|inst| matches!(inst, compile::Inst::Peek { .. }))
        .count();
    assert_eq!(peeks, 2);
}

/// A greedy run that nothing after it could start inside keeps no backtrack
/// frame (it runs as possessive), and fails at once when what follows
/// cannot begin where it stops. Matches are unchanged.
#[test]
fn runs_that_can_never_give_back() {
    let modes = |pattern: &str| -> Vec<compile::RunMode> {
        let regex = Regex::new(pattern, &mut NoReferences).unwrap();
        regex
            .program
            .insts
            .iter()
            .filter_map(|inst| match inst {
                compile::Inst::Run { mode, .. } => Some(*mode),
                _ => None,
            })
            .collect()
    };
    use compile::RunMode::{Greedy, Possessive};
    assert_eq!(modes(r"[a-z]+ "), [Possessive]);
    assert_eq!(modes(r"[a-z]+[a-c]"), [Greedy], "may give back a letter");
    assert_eq!(modes(r"[a-z]+"), [Possessive], "the match ends after it");
    assert_eq!(modes(r"(?>[0-9]+)x"), [Possessive]);
    assert_eq!(modes(r"(?:[0-9]+)?x"), [Possessive]);
    assert_eq!(modes(r"(?:[0-9]+|y)[0-9]"), [Greedy]);

    assert_eq!(whole(r"[a-z]+ \d", "ab cd 1"), Some("cd 1".into()));
    assert_eq!(whole(r"[a-z]+[a-c]", "abcab"), Some("abcab".into()));
    assert_eq!(whole(r"[a-z]+\d", "abc"), None);
    assert_eq!(whole(r"\d+\.\d+", "1 2.5"), Some("2.5".into()));
    assert_eq!(whole(r"é+x", "ééx"), Some("ééx".into()));
}

/// A jump that lands on a jump goes straight to the final target.
#[test]
fn jumps_are_threaded() {
    let regex = Regex::new("(?:a(?:b|c)|d)e", &mut NoReferences).unwrap();
    let insts = &regex.program.insts;
    for inst in insts.iter() {
        if let compile::Inst::Jmp(target) = inst {
            assert!(
                !matches!(insts[*target as usize], compile::Inst::Jmp(_)),
                "{insts:?}"
            );
        }
    }
    for (input, expected) in [("abe", true), ("ace", true), ("de", true), ("ae", false)] {
        assert_eq!(
            whole("(?:a(?:b|c)|d)e", input).is_some(),
            expected,
            "{input}"
        );
    }
}

/// Runs test sixteen ASCII bytes at a time: counted runs whose bounds fall
/// inside or across a block, a non-ASCII member anywhere in the run, and
/// runs that reach the end of the input, where fewer than sixteen bytes are
/// left, must count characters exactly as one at a time.
#[test]
fn runs_scanned_a_block_at_a_time() {
    for len in 0..40 {
        for wide_at in [None, Some(0), Some(7), Some(15), Some(16), Some(31)] {
            let chars: Vec<char> = (0..len)
                .map(|i| if Some(i) == wide_at { '中' } else { 'a' })
                .collect();
            let run: String = chars.iter().collect();
            for (min, max) in [(0, 3), (1, 16), (5, 17), (16, 33), (17, 40), (2, 100)] {
                let take = len.min(max);
                let expected = (take >= min).then(|| chars[..take].iter().collect::<String>());
                for tail in ["", "-x"] {
                    let input = format!("{run}{tail}");
                    let pattern = format!("\\A(?<a>[a-z中]{{{min},{max}}})");
                    assert_eq!(group(&pattern, &input, "a"), expected, "{pattern} {input}");
                }
                // A greedy run that must give back one character.
                let input = format!("{run}-");
                let pattern = format!("\\A(?<a>[a-z中]{{{min},{max}}})a-");
                let expected =
                    (len >= 1 && chars[len - 1] == 'a' && (min..=max).contains(&(len - 1)))
                        .then(|| chars[..len - 1].iter().collect::<String>());
                assert_eq!(group(&pattern, &input, "a"), expected, "{pattern} {input}");
            }
        }
    }
}

#[test]
fn line_start_and_repeated_anchors_as_in_ruby() {
    let first = |pattern: &str, input: &str| {
        let regex = Regex::for_replace(pattern).unwrap();
        let mut matcher = Matcher::default();
        regex
            .search_from(&mut matcher, input, 0, &mut budget())
            .unwrap()
            .then(|| regex.group(&matcher, 0).unwrap())
    };
    // `^` holds after a newline, but not after one that ends the text.
    assert_eq!(first("\\n^", "a\n"), None);
    assert_eq!(first("\\n^", "a\n\nb"), Some((1, 2)));
    assert_eq!(first("^", ""), Some((0, 0)));
    // Ruby repeats an anchor as it repeats anything else.
    assert_eq!(first("\\A*b", "ab"), Some((1, 2)));
    assert_eq!(first("\\A+b", "ab"), None);
    assert_eq!(first("\\A{0}b", "ab"), Some((1, 2)));
    assert_eq!(first("(?=a)*b", "ab"), Some((1, 2)));
}

/// A repeat compiles its body once per count; its classes are one table
/// each however often they are copied. A table per copy ran past 65,536
/// numbers, which wrapped round to other classes: this pattern then failed
/// to match its own text.
#[test]
fn classes_are_shared_and_past_sixteen_bits_refused() {
    let pattern = "(?:[ab][cd][ef]){30000}";
    let regex = Regex::new(pattern, &mut NoReferences).unwrap();
    assert_eq!(regex.program.classes.len(), 3);
    assert_eq!(
        whole(pattern, &"ace".repeat(30000)).map(|m| m.len()),
        Some(90000)
    );
    let distinct: String = (0x100..)
        .filter_map(char::from_u32)
        .take(65537)
        .map(|c| format!("[{c}]"))
        .collect();
    let err = Regex::new(&distinct, &mut NoReferences).err().unwrap();
    assert_eq!(
        err,
        "pattern has more than 65536 different character classes"
    );
}

/// Each choice point's byte set is a walk to what it can consume first,
/// the rest of the program when all of it is optional: walking from every
/// one of `(?:a?){100000}` took minutes, so a filter's init ran out of time
/// with no word of which pattern. The walks now share a budget.
#[test]
fn many_optional_items_compile_quickly() {
    let started = std::time::Instant::now();
    let regex = Regex::new("(?:a?){100000}b", &mut NoReferences).unwrap();
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    assert_ne!(regex.program.start_set, compile::NO_SET);
    assert_eq!(whole("(?:a?){100000}b", "xaab").as_deref(), Some("aab"));
}

/// The instructions a pattern may expand to are bounded well within a
/// filter's default memory, so that the error, not a trap, says why.
#[test]
fn programs_too_large_for_a_filter_are_refused() {
    let err = Regex::new("(?:(?:ab|cd){500}){500}", &mut NoReferences)
        .err()
        .unwrap();
    assert_eq!(
        err,
        "pattern is too large once its repetitions are expanded (more than 500000 steps)"
    );
}
