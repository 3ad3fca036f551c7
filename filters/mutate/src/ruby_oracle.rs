//! mutate's string operations against Ruby itself. Logstash's mutate is Ruby
//! that calls `upcase`, `downcase`, `capitalize`, `strip`, `split` and
//! `gsub` on each value, so Ruby's answers for random texts (rich in the
//! characters whose case rules are special) are the reference. Needs `ruby`
//! (scripts/test installs it): Ruby 3.1, the language of JRuby 9.4 in
//! Logstash 8. Debian's JRuby 9.3 (`WASMSTASH_TEST_RUBY=jruby`) differs in
//! three ways we do not follow: its `split(' ')` also splits at no-break and
//! ideographic spaces, its `strip` keeps a leading NUL, and its `upcase`
//! and `swapcase` return `""` for a text with two U+0390 or U+03B0 followed
//! by three or more characters (`"ΐΐΐa".upcase`), a fault of its own.

use wasmstash_sdk::testing::{RubyOracle, XorShift, assert_agrees, hex};

use super::*;

const TEXTS: usize = 3_000;

/// Each operation as a mutate config for field `f`, and as the Ruby
/// expression Logstash evaluates on the value `s`.
fn operations() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"uppercase": ["f"]}), "s.upcase"),
        (json!({"lowercase": ["f"]}), "s.downcase"),
        (json!({"capitalize": ["f"]}), "s.capitalize"),
        (json!({"strip": ["f"]}), "s.strip"),
        (json!({"split": {"f": ","}}), "s.split(',')"),
        (json!({"split": {"f": " "}}), "s.split(' ')"),
        (json!({"split": {"f": ""}}), "s.split('')"),
        (json!({"split": {"f": "ab"}}), "s.split('ab')"),
        (
            json!({"gsub": ["f", "a|ß", "<\\0>"]}),
            "s.gsub(/a|ß/, '<\\0>')",
        ),
        (
            json!({"gsub": ["f", "(?<w>\\w+)", "\\k<w>."]}),
            "s.gsub(/(?<w>\\w+)/, '\\k<w>.')",
        ),
        (
            json!({"gsub": ["f", "(\\s)(.)?", "[\\2\\1]"]}),
            "s.gsub(/(\\s)(.)?/, '[\\2\\1]')",
        ),
        (json!({"gsub": ["f", "b*", "-"]}), "s.gsub(/b*/, '-')"),
        (
            json!({"gsub": ["f", "[[:upper:]]", "\\`|\\'"]}),
            "s.gsub(/[[:upper:]]/, \"\\\\`|\\\\'\")",
        ),
        // ASCII letters only under `(?i)`: the engine folds no others
        // (filters/grok/COMPAT.md).
        (
            json!({"gsub": ["f", "(?i)a|z", "\\\\"]}),
            "s.gsub(/(?i)a|z/, '\\\\\\\\')",
        ),
    ]
}

/// Characters whose case mappings, whitespace or width are special,
/// among plain ones.
const CHARS: &[&str] = &[
    "a",
    "b",
    "A",
    "B",
    "z",
    "1",
    " ",
    ",",
    "\t",
    "\n",
    "\u{b}",
    "\u{c}",
    "\r",
    "\0",
    "ß",
    "ẞ",
    "ǆ",
    "Ǆ",
    "ǅ",
    "Σ",
    "σ",
    "ς",
    "İ",
    "ı",
    "i",
    "I",
    "ﬁ",
    "ŉ",
    "ǰ",
    "ΐ",
    "ᾳ",
    "ᾼ",
    "ᾀ",
    "ა",
    "Ꭰ",
    "ꭰ",
    "é",
    "É",
    "ÿ",
    "Ÿ",
    "µ",
    "ſ",
    "\u{212a}",
    "\u{345}",
    "\u{a0}",
    "\u{3000}",
    "€",
    "\u{1F600}",
    "ǈ",
    "Ω",
    "\u{2126}",
];

fn text(rng: &mut XorShift) -> String {
    (0..rng.below(9))
        .map(|_| CHARS[rng.below(CHARS.len())])
        .collect()
}

fn ours(config: &Value, text: &str) -> Value {
    let mut filter = Mutate::new(serde_json::from_value(config.clone()).unwrap()).unwrap();
    let input = json!({ "f": text }).to_string();
    let mut event = Event::parse(input.as_bytes()).unwrap();
    filter.process(&mut event);
    let event: Value = serde_json::from_str(&event.to_json()).unwrap();
    event["f"].clone()
}

#[test]
fn string_operations_give_what_ruby_gives() {
    let operations = operations();
    let program = format!(
        "require 'json'\nSTDOUT.sync = true\nOPS = [{}]\n\
         STDIN.each_line {{ |l| op, hex = l.split(' ', -1); \
         s = [hex.strip].pack('H*').force_encoding('UTF-8'); \
         puts JSON.generate([OPS[op.to_i].call(s)]) }}",
        operations
            .iter()
            .map(|(_, ruby)| format!("->(s) {{ {ruby} }}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut ruby = RubyOracle::start(&program);
    let mut rng = XorShift(0x0a11_ce5e_ed00_0001);
    let mut differences = Vec::new();
    for _ in 0..TEXTS {
        let text = text(&mut rng);
        let hex = hex(&text);
        for (index, (config, ruby_expression)) in operations.iter().enumerate() {
            let theirs: Value = serde_json::from_str(&ruby.ask(&format!("{index} {hex}")))
                .expect("Ruby answers in JSON");
            let mine = ours(config, &text);
            if mine != theirs[0] {
                differences.push(format!(
                    "{ruby_expression} of {text:?}: ours {mine}, Ruby {}",
                    theirs[0]
                ));
            }
        }
    }
    assert_agrees("Ruby", &differences);
}
