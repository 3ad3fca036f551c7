//! Helpers for a filter's own tests: real lines broken in reproducible ways,
//! Ruby's answers read back where Logstash's behaviour is the reference
//! (`RubyOracle`), the crate's directory (`crate_dir!`), and what the
//! host would refuse in a filter's output (`host_refusal`).
//!
//! A filter must tag what it cannot parse and never panic, whatever the line.
//! Mangling real log lines (characters deleted, repeated, replaced by syntax
//! characters, lines cut off) finds the edge cases hand-written tests miss,
//! and a seeded generator makes every failure reproduce exactly.

mod host_check;
pub use host_check::refusal as host_refusal;

/// The directory of the crate whose tests or benches are running: the one
/// cargo names when it runs them, else the one the binary was built from.
/// The path `env!` compiles in is not enough on its own: cargo reuses a test
/// binary built in one checkout for another that shares its target directory
/// (a worktree, a CI clone), whose tests would then read the first
/// checkout's files. The fallback serves a bench binary run by hand.
#[macro_export]
macro_rules! crate_dir {
    () => {
        $crate::testing::running_crate_dir_or(env!("CARGO_MANIFEST_DIR"))
    };
}

#[doc(hidden)]
pub fn running_crate_dir_or(built_from: &str) -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| built_from.into(), Into::into)
}

/// A small xorshift generator: deterministic, no dependencies.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` must be at least 1).
    pub fn below(&mut self, n: usize) -> usize {
        (self.bits() % n as u64) as usize
    }

    /// Fewer than `fewer_than` of `pieces`, each picked at random, joined:
    /// a random text made of what matters to a test.
    pub fn joined(&mut self, pieces: &[&str], fewer_than: usize) -> String {
        (0..self.below(fewer_than))
            .map(|_| pieces[self.below(pieces.len())])
            .collect()
    }
}

/// `line` with one to six random edits: a character deleted, a character
/// repeated, one of `specials` inserted, or the rest cut off.
pub fn mangle(rng: &mut XorShift, line: &str, specials: &[char]) -> String {
    let mut chars: Vec<char> = line.chars().collect();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(chars.len().max(1));
        match rng.below(4) {
            0 if !chars.is_empty() => {
                chars.remove(at);
            }
            1 if !chars.is_empty() => chars.insert(at, chars[at]),
            2 if !specials.is_empty() => {
                chars.insert(at.min(chars.len()), specials[rng.below(specials.len())])
            }
            _ => chars.truncate(at),
        }
    }
    chars.into_iter().collect()
}

/// The body of a JSON string literal (no quotes) of up to 24 pieces, with
/// an escape every few bytes: text that holds JSON, in every alignment to
/// the sixteen-byte blocks that fast scanners take whole. About one piece in
/// ten is one no JSON reader accepts (a bad escape, a lone surrogate, a raw
/// control byte, a byte that is not UTF-8), so both verdicts occur.
pub fn escape_dense_string_body(rng: &mut XorShift) -> Vec<u8> {
    const VALID: [&[u8]; 12] = [
        b"a",
        b"text ",
        b"0123456789abcdefghij",
        br#"\""#,
        br"\\",
        br"\n",
        br"\/",
        br"\t",
        br"\u00e9",
        br"\ud83d\ude00",
        "\u{fc}".as_bytes(),
        b"\x7f",
    ];
    const REFUSED: [&[u8]; 5] = [br"\x", br"\U0041", br"\udc00", b"\x01", b"\xff"];
    let mut body = Vec::new();
    for _ in 0..rng.below(25) {
        let pieces: &[&[u8]] = if rng.below(10) == 0 { &REFUSED } else { &VALID };
        body.extend_from_slice(pieces[rng.below(pieces.len())]);
    }
    body
}

/// Ruby running `program`, as the reference for what a Logstash plugin's
/// Ruby code gives: one line in, one line out. `WASMSTASH_TEST_RUBY` names
/// another Ruby (`jruby`, which Logstash runs); the default is `ruby`, which
/// scripts/test installs.
pub struct RubyOracle {
    child: std::process::Child,
    to_ruby: Option<std::process::ChildStdin>,
    from_ruby: std::io::BufReader<std::process::ChildStdout>,
}

impl RubyOracle {
    pub fn start(program: &str) -> RubyOracle {
        use std::process::{Command, Stdio};
        let ruby = std::env::var("WASMSTASH_TEST_RUBY").unwrap_or_else(|_| "ruby".into());
        let mut child = Command::new(&ruby)
            .args(["-W0", "-e", program])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{ruby} runs (scripts/test installs ruby): {e}"));
        RubyOracle {
            to_ruby: child.stdin.take(),
            from_ruby: std::io::BufReader::new(child.stdout.take().expect("piped")),
            child,
        }
    }

    /// Ruby's answer line to `line`, without its line break.
    pub fn ask(&mut self, line: &str) -> String {
        use std::io::{BufRead, Write};
        let to_ruby = self.to_ruby.as_mut().expect("open until dropped");
        writeln!(to_ruby, "{line}")
            .and_then(|()| to_ruby.flush())
            .expect("Ruby reads");
        let mut answer = String::new();
        self.from_ruby.read_line(&mut answer).expect("Ruby answers");
        assert!(!answer.is_empty(), "Ruby stopped answering at {line:?}");
        answer.truncate(answer.trim_end_matches(['\n', '\r']).len());
        answer
    }
}

impl Drop for RubyOracle {
    fn drop(&mut self) {
        // Closing Ruby's input ends its loop.
        self.to_ruby = None;
        let _ = self.child.wait();
    }
}

/// `text` as hexadecimal, which passes any bytes to Ruby on one line
/// (`[hex].pack("H*")` reads it back).
pub fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The text Ruby wrote as hexadecimal (`unpack1("H*")`), for answers that
/// may hold a line break.
pub fn unhex(answer: &str) -> String {
    let bytes = (0..answer.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&answer[i..i + 2], 16).expect("hexadecimal"))
        .collect();
    String::from_utf8(bytes).expect("UTF-8")
}

/// Fails the test if an oracle comparison found `differences`, showing how
/// many and the first thirty.
pub fn assert_agrees(oracle: &str, differences: &[String]) {
    assert!(
        differences.is_empty(),
        "{} differences from {oracle}:\n{}",
        differences.len(),
        differences[..differences.len().min(30)].join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_mangles_the_same_way() {
        let line = "127.0.0.1 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 7";
        let run = |seed| {
            let mut rng = XorShift(seed);
            (0..50)
                .map(|_| mangle(&mut rng, line, &['"', '[']))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().any(|m| m != line));
    }
}
