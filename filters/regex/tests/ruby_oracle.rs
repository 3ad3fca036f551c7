//! The engine against Ruby itself: random patterns over random short inputs,
//! each run here and through Ruby's `Regexp` (Onigmo, whose dialect and
//! matching order grok patterns are written for), must give the same match
//! and the same groups. The hand-written cases in `src/tests.rs` pin what we
//! thought of; this finds what we did not (it found `^` matching after a
//! final newline, and repeated anchors refused).
//!
//! Needs `ruby` (scripts/test installs it). Patterns never repeat something
//! that can match empty with `*`, `+` or a count: there Onigmo's empty-loop
//! check gives results that depend on how it compiled the pattern (see
//! filters/grok/COMPAT.md), which this engine does not copy. Nor do they
//! hold `(?m:...)` groups: across one, Onigmo's optimizer can rule out a
//! match that exists (Ruby finds none for
//! `(?m:\z(?<n>.*1{,2}1*?)(?<![ab])??)(?m: ++){,2}` in `"cA__c1b "`, and
//! the match at the end without the two `(?m:` wrappers).

use wasmstash_regex::{Budget, Matcher, Regex};
use wasmstash_sdk::testing::{RubyOracle, XorShift, hex};

const CASES: usize = 20_000;

/// Reads `pattern-hex text-hex` lines; answers `error`, `none`, or each
/// group's `start,end` (`-` where it did not take part), from group 0.
const ORACLE: &str = r##"
STDOUT.sync = true
STDIN.each_line do |line|
  pattern, text = line.split(" ", -1).map { |hex| [hex.strip].pack("H*").force_encoding("UTF-8") }
  begin
    m = Regexp.new(pattern).match(text)
    puts(m ? (0...m.size).map { |i| m.begin(i) ? "#{m.begin(i)},#{m.end(i)}" : "-" }.join(" ") : "none")
  rescue RegexpError => e
    puts "error #{e.message}"
  end
end
"##;

struct Patterns(XorShift);

impl Patterns {
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.0.below(from.len())]
    }

    /// Appends an item; true when it can match empty.
    fn atom(&mut self, depth: u32, out: &mut String) -> bool {
        let kinds = if depth > 1 { 10 } else { 14 };
        match self.0.below(kinds) {
            0..=2 | 7 | 8 => out.push_str(self.pick(&["a", "b", "c", " ", "1"])),
            3 => out.push_str(self.pick(&[
                "[ab]",
                "[^a]",
                "[a-c1]",
                "[^\\n]",
                "[\\d_]",
                "[[:alpha:]]",
            ])),
            4 => out.push_str(self.pick(&["\\d", "\\w", "\\s", "\\W", "\\S", "\\h", "\\D"])),
            5 => out.push('.'),
            6 => {
                out.push_str(self.pick(&["^", "$", "\\A", "\\z", "\\Z", "\\b", "\\B"]));
                return true;
            }
            9 => out.push_str("\\n"),
            _ => {
                let open = self.pick(&[
                    "(", "(?:", "(?<n>", "(?<m>", "(?=", "(?!", "(?>", "(?<=", "(?<!", "(?i:",
                ]);
                out.push_str(open);
                let look = open.starts_with("(?=") || open.starts_with("(?!");
                let nullable = if open.starts_with("(?<=") || open.starts_with("(?<!") {
                    out.push_str(self.pick(&["a", "ab", "a|bc", "\\d", "[ab]"]));
                    true
                } else {
                    self.alternation(depth + 1, out) || look
                };
                out.push(')');
                return nullable || look;
            }
        }
        false
    }

    fn quantified(&mut self, depth: u32, out: &mut String) -> bool {
        let nullable = self.atom(depth, out);
        let repeats: &[(&str, bool)] = &[
            ("", false),
            ("", false),
            ("", false),
            ("?", true),
            ("??", true),
            ("*", true),
            ("+", false),
            ("*?", true),
            ("+?", false),
            ("++", false),
            ("*+", true),
            ("{2}", false),
            ("{1,2}", false),
            ("{,2}", true),
            ("{2,3}?", false),
        ];
        // `?` only, on what can match empty (see the module's comment).
        let allowed = if nullable { &repeats[..5] } else { repeats };
        let (suffix, makes_nullable) = allowed[self.0.below(allowed.len())];
        out.push_str(suffix);
        nullable || makes_nullable
    }

    fn alternation(&mut self, depth: u32, out: &mut String) -> bool {
        let mut nullable = self.sequence(depth, out);
        while self.0.below(4) == 0 {
            out.push('|');
            nullable |= self.sequence(depth, out);
        }
        nullable
    }

    fn sequence(&mut self, depth: u32, out: &mut String) -> bool {
        (0..1 + self.0.below(3)).fold(true, |all, _| self.quantified(depth, out) && all)
    }

    fn text(&mut self) -> String {
        (0..self.0.below(10))
            .map(|_| self.pick(&["a", "b", "c", " ", "1", "\n", "_", "A"]))
            .collect()
    }
}

fn ours(pattern: &str, text: &str) -> String {
    let regex = match Regex::for_replace(pattern) {
        Ok(regex) => regex,
        Err(e) => return format!("error {e}"),
    };
    let mut matcher = Matcher::default();
    let mut budget = Budget::new(10_000_000, None, || 0);
    if !regex
        .search_from(&mut matcher, text, 0, &mut budget)
        .expect("within budget")
    {
        return "none".into();
    }
    let groups = pattern.matches('(').count() + 1;
    let spans: Vec<String> = (0..groups)
        .map(|n| {
            regex
                .group(&matcher, n)
                .map_or("-".into(), |(s, e)| format!("{s},{e}"))
        })
        .collect();
    spans.join(" ")
}

#[test]
fn random_patterns_match_as_ruby_matches_them() {
    let mut ruby = RubyOracle::start(ORACLE);
    let mut patterns = Patterns(XorShift(0x5eed_0f0a_1b2c));
    let mut differences = Vec::new();
    for _ in 0..CASES {
        let mut pattern = String::new();
        patterns.alternation(0, &mut pattern);
        let text = patterns.text();
        let theirs = ruby.ask(&format!("{} {}", hex(&pattern), hex(&text)));
        let mine = ours(&pattern, &text);
        // Ruby lists every group; ours lists one per `(`, lookarounds and
        // non-capturing groups too, so compare Ruby's groups and an unset tail.
        let agree = match (mine.strip_prefix("error"), theirs.strip_prefix("error")) {
            (Some(_), Some(_)) => true,
            (None, None) => {
                let (mine, theirs): (Vec<&str>, Vec<&str>) =
                    (mine.split(' ').collect(), theirs.split(' ').collect());
                mine.len() >= theirs.len()
                    && mine[..theirs.len()] == theirs[..]
                    && mine[theirs.len()..].iter().all(|g| *g == "-")
            }
            _ => false,
        };
        if !agree {
            differences.push(format!(
                "{pattern:?} on {text:?}: ours {mine}, Ruby {theirs}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {CASES} cases differ from Ruby:\n{}",
        differences.len(),
        differences[..differences.len().min(20)].join("\n")
    );
}
