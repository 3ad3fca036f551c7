//! What `(?i)` folds together beyond ASCII: a table and Unicode's case
//! mappings, kept apart from the parser that asks it.

/// The other characters `(?i)` lets a literal `c` match, as Unicode's
/// simple case folding groups them: those case mappings reach from `c`,
/// back and forth (`é` and `É`), and the variants no mapping leads to,
/// from a table (`ς` with `σ` and `Σ`; the Kelvin sign with `k` and `K`).
/// The Turkish dotted and dotless i fold only to themselves, as there. A
/// fold to several letters (`ß` and `ss`), which Oniguruma makes, is not.
pub(super) fn case_variants(c: char) -> Vec<char> {
    /// (variant, the letter it folds to), for variants that are no other
    /// letter's upper or lower case: from Unicode's CaseFolding.txt.
    const FOLDS_INTO: [(char, char); 16] = [
        ('\u{b5}', '\u{3bc}'),    // micro sign, mu
        ('\u{17f}', 's'),         // long s
        ('\u{3c2}', '\u{3c3}'),   // final sigma
        ('\u{3d0}', '\u{3b2}'),   // beta symbol
        ('\u{3d1}', '\u{3b8}'),   // theta symbol
        ('\u{3d5}', '\u{3c6}'),   // phi symbol
        ('\u{3d6}', '\u{3c0}'),   // pi symbol
        ('\u{3f0}', '\u{3ba}'),   // kappa symbol
        ('\u{3f1}', '\u{3c1}'),   // rho symbol
        ('\u{3f5}', '\u{3b5}'),   // lunate epsilon
        ('\u{1e9b}', '\u{1e61}'), // long s with dot above
        ('\u{1e9e}', '\u{df}'),   // capital sharp s
        ('\u{1fbe}', '\u{3b9}'),  // prosgegrammeni, iota
        ('\u{2126}', '\u{3c9}'),  // ohm sign, omega
        ('\u{212a}', 'k'),        // Kelvin sign
        ('\u{212b}', '\u{e5}'),   // angstrom sign
    ];
    fn single(mut chars: impl Iterator<Item = char>) -> Option<char> {
        let first = chars.next()?;
        chars.next().is_none().then_some(first)
    }
    if matches!(c, '\u{130}' | '\u{131}') {
        return Vec::new();
    }
    let mut orbit = vec![c];
    let mut at = 0;
    while let Some(&next) = orbit.get(at) {
        let mapped = [single(next.to_lowercase()), single(next.to_uppercase())];
        for other in mapped.into_iter().flatten() {
            if !orbit.contains(&other) && !matches!(other, '\u{130}' | '\u{131}') {
                orbit.push(other);
            }
        }
        for (variant, letter) in FOLDS_INTO {
            if next == letter && !orbit.contains(&variant) {
                orbit.push(variant);
            }
        }
        at += 1;
    }
    orbit.retain(|&other| other != c);
    orbit
}
