//! Helpers for a filter's own tests: real lines broken in reproducible ways.
//!
//! A filter must tag what it cannot parse and never panic, whatever the line.
//! Mangling real log lines (characters deleted, repeated, replaced by syntax
//! characters, lines cut off) finds the edge cases hand-written tests miss,
//! and a seeded generator makes every failure reproduce exactly.

/// A small xorshift generator: deterministic, no dependencies.
pub struct XorShift(pub u64);

impl XorShift {
    /// A number in `0..n` (`n` must be at least 1).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
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
