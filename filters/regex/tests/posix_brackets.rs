//! Every POSIX bracket (`[[:alnum:]]`, ...) and its negation on non-ASCII
//! characters, and the `\p{...}` properties of the same names on ASCII and
//! non-ASCII ones, here and in Ruby's `Regexp` (Onigmo; run with
//! `WASMSTASH_TEST_RUBY=jruby` for Joni, which Logstash runs). grok's
//! `UNIXPATH` uses `[[:alnum:]]`, so a wrong member changes where a path
//! ends (`/data/area_m²/file.txt` is `/data/area_m` in Logstash).
//!
//! The characters come from every general category, six spread over each
//! one's members below U+3400, plus the cases that once went wrong and a few
//! outside the BMP. All were assigned, with the same properties, in Unicode
//! 13 (Ruby 3.1's) and in the newer tables of Rust and `regex-syntax`, so a
//! difference is one of definition, never of Unicode version; the
//! noncharacters stand for Cn, being unassigned in every version.

use wasmstash_regex::{Budget, Matcher, Regex};
use wasmstash_sdk::testing::RubyOracle;

const CLASSES: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

const CODE_POINTS: &[u32] = &[
    // Lu, Ll, Lt, Lm, Lo
    0xC0, 0x245, 0x500, 0x1C92, 0x1F38, 0x2CF2, 0x1D400, //
    0xB5, 0x26E, 0x4C4, 0x1D83, 0x1F82, 0x2D2D, //
    0x1C5, 0x1F8A, 0x1F98, 0x1F9E, 0x1FAC, 0x1FFC, //
    0x2B0, 0x37A, 0x1D3B, 0x1D62, 0x1DB7, 0x30FE, //
    0xAA, 0xBB8, 0x1223, 0x15CC, 0x1A21, 0x31FF, 0x4E2D, //
    // Mn, Mc, Me: marks are word characters but not alphabetic
    0x300, 0x301, 0x651, 0x957, 0xF9D, 0x1B6C, 0x309A, //
    0x903, 0xBBE, 0xD4B, 0x1088, 0x1A64, 0x302F, //
    0x488, 0x489, 0x20DD, 0x20DF, 0x20E2, 0x20E4, //
    // Nd, Nl, No: only Nd is digit; Nl is alphabetic; No is neither
    0x660, 0xA6B, 0xD67, 0x1047, 0x1A83, 0x1C59, 0x1D7CE, //
    0x16EE, 0x2167, 0x216B, 0x2172, 0x217D, 0x3021, 0x303A, 0x12400, //
    0xB2, 0xB3, 0xB9, 0xBD, 0x136D, 0x215F, 0x2498, 0x3194, 0x32BF, 0x10107, //
    // Pc, Pd, Ps, Pe, Pi, Pf, Po
    0x203F, 0x2040, 0x2054, //
    0x58A, 0x1806, 0x2012, 0x2E17, 0x2E3B, 0x30A0, //
    0xF3A, 0x2329, 0x27E8, 0x2991, 0x2E28, 0x301D, //
    0xF3B, 0x276B, 0x27ED, 0x2994, 0x3009, 0x301F, //
    0xAB, 0x201B, 0x201F, 0x2E02, 0x2E09, 0x2E20, //
    0xBB, 0x2019, 0x203A, 0x2E05, 0x2E0D, 0x2E21, //
    0xA1, 0x83B, 0x16EC, 0x1CC4, 0x2D70, 0x30FB, //
    // Sm, Sc, Sk, So
    0xAC, 0x2284, 0x27D0, 0x29A6, 0x2A63, 0x2B4C, //
    0xA2, 0x9F3, 0x20A3, 0x20AC, 0x20B5, 0x20BF, //
    0xA8, 0x2D7, 0x2E9, 0x2F8, 0x1FC0, 0x309C, //
    0xA6, 0x24A2, 0x26C6, 0x2B50, 0x2FF5, 0x33FF, 0x1F600, //
    // Zs, Zl, Zp
    0xA0, 0x1680, 0x2001, 0x2004, 0x2007, 0x200A, 0x3000, 0x2028, 0x2029, //
    // Cc, Cf (the joiners are in Perl's word set, not Onigmo's), Co, Cn
    0x80, 0x85, 0x86, 0x8C, 0x92, 0x98, 0x9F, //
    0xAD, 0x61C, 0x200C, 0x200D, 0x202E, 0x2067, 0x206F, 0xE0001, //
    0xE000, 0xF8FF, 0x10FFFD, //
    0xFDD0, 0xFFFE, 0xFFFF, 0x1FFFF,
];

/// Reads the patterns (space-separated) on the first line, then a code
/// point in hex per line; answers one `0`/`1` per pattern.
const ORACLE: &str = r##"
STDOUT.sync = true
patterns = STDIN.gets.split.map { |source| Regexp.new(source) }
puts "ready"
STDIN.each_line do |line|
  s = [line.to_i(16)].pack("U")
  puts patterns.map { |r| r.match?(s) ? "1" : "0" }.join
end
"##;

/// Each of `sources` on each of `code_points`, here and in Ruby: the
/// differences, one line per character.
fn compare(sources: &[String], code_points: impl Iterator<Item = u32>) -> Vec<String> {
    let mut ruby = RubyOracle::start(ORACLE);
    assert_eq!(ruby.ask(&sources.join(" ")), "ready");
    let regexes: Vec<Regex> = (sources.iter())
        .map(|source| Regex::for_replace(source).unwrap())
        .collect();
    let mut matcher = Matcher::default();
    let mut differences = Vec::new();
    for code_point in code_points {
        let text = char::from_u32(code_point).unwrap().to_string();
        let theirs = ruby.ask(&format!("{code_point:x}"));
        let mine: String = (regexes.iter())
            .map(|re| {
                let mut budget = Budget::new(1_000, None, || 0);
                match re.search_from(&mut matcher, &text, 0, &mut budget) {
                    Ok(true) => '1',
                    Ok(false) => '0',
                    Err(e) => panic!("{e:?}"),
                }
            })
            .collect();
        let differing: Vec<&str> = (sources.iter().enumerate())
            .filter(|&(i, _)| mine.as_bytes()[i] != theirs.as_bytes()[i])
            .map(|(_, source)| source.as_str())
            .collect();
        if !differing.is_empty() {
            differences.push(format!(
                "U+{code_point:04X} {text:?}: ours differs on {differing:?}"
            ));
        }
    }
    differences
}

#[test]
fn posix_brackets_hold_the_characters_ruby_puts_in_them() {
    let sources: Vec<String> = ["", "^"]
        .iter()
        .flat_map(|negation| CLASSES.map(|c| format!("\\A[[:{negation}{c}:]]\\z")))
        .collect();
    let differences = compare(&sources, CODE_POINTS.iter().copied());
    assert!(
        differences.is_empty(),
        "{} of {} characters differ:\n{}",
        differences.len(),
        CODE_POINTS.len(),
        differences.join("\n")
    );
}

/// `\p{Punct}` leaves out the nine ASCII symbols `[[:punct:]]` has
/// (`$+<=>^\`|~`); the other properties equal their brackets.
#[test]
fn properties_hold_the_characters_ruby_puts_in_them() {
    let sources: Vec<String> = ["", "^"]
        .iter()
        .flat_map(|negation| CLASSES.map(|c| format!("\\A\\p{{{negation}{c}}}\\z")))
        .collect();
    let differences = compare(&sources, (0..128).chain(CODE_POINTS.iter().copied()));
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
