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
        let text = rng.joined(CHARS, 9);
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

/// `merge` against mutate.rb's own steps run by Ruby: `dest` read once,
/// then for each field Ruby's `is_a?(Hash)` test, `update` or
/// `Array(...).concat(...)`, and the result set back. Each read is a deep
/// copy, as Logstash's `event.get` gives one. Values of every kind meet:
/// missing, null, text, numbers, lists and objects, `dest` itself among
/// the fields at times.
#[test]
fn merge_gives_what_mutate_rb_gives() {
    const PROGRAM: &str = r#"
require 'json'
STDOUT.sync = true
get = ->(ev, f) { Marshal.load(Marshal.dump(ev[f])) }
STDIN.each_line do |line|
  ev, dest, fields = JSON.parse(line)
  dest_value = get.(ev, dest)
  fields.each do |f|
    added = get.(ev, f)
    next if dest_value.is_a?(Hash) ^ added.is_a?(Hash)
    ev[dest] = dest_value.is_a?(Hash) ? get.({0 => dest_value.update(added)}, 0) : get.({0 => Array(dest_value).concat(Array(added))}, 0)
  end
  puts JSON.generate(ev)
end
"#;
    let values = [
        None,
        Some(json!(null)),
        Some(json!("s")),
        Some(json!(1)),
        Some(json!("")),
        Some(json!(["l", 2])),
        Some(json!([])),
        Some(json!({"k": 1})),
        Some(json!({"k": 2, "j": [3]})),
    ];
    let names = ["d", "b", "c", "e"];
    let mut ruby = RubyOracle::start(PROGRAM);
    let mut rng = XorShift(0x0a11_ce5e_ed00_0002);
    let mut differences = Vec::new();
    for _ in 0..2_000 {
        let mut event = Map::new();
        for name in names {
            if let Some(value) = &values[rng.below(values.len())] {
                event.insert(name.to_owned(), value.clone());
            }
        }
        let fields: Vec<&str> = (0..1 + rng.below(3))
            .map(|_| names[rng.below(names.len())])
            .collect();
        let event = Value::Object(event);
        let question = json!([event, "d", fields]).to_string();
        let theirs: Value =
            serde_json::from_str(&ruby.ask(&question)).expect("Ruby answers in JSON");
        let config = json!({"merge": {"d": fields}});
        let mut filter = Mutate::new(serde_json::from_value(config).unwrap()).unwrap();
        let text = event.to_string();
        let mut ours = Event::parse(text.as_bytes()).unwrap();
        filter.process(&mut ours);
        let ours: Value = serde_json::from_str(&ours.to_json()).unwrap();
        if ours != theirs {
            differences.push(format!(
                "merge {fields:?} into d of {event}: ours {ours}, Ruby {theirs}"
            ));
        }
    }
    assert_agrees("Ruby", &differences);
}
