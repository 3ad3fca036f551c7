//! What `(?i)` folds together beyond ASCII: a table and Unicode's case
//! mappings, kept apart from the parser that asks it.

/// The other characters `(?i)` lets a literal `c` match, as Unicode's
/// simple case folding groups them: those case mappings reach from `c`,
/// back and forth (`é` and `É`), and the variants no mapping leads to,
/// from a table (`ς` with `σ` and `Σ`; the Kelvin sign with `k` and `K`).
/// The Turkish dotted and dotless i fold only to themselves, as there. A
/// fold to several letters (`ß` and `ss`), which Oniguruma makes, is not.
pub(super) fn case_variants(c: char) -> Vec<char> {
    /// (variant, the letter it folds to, how many in a run), for variants
    /// that are no other letter's upper or lower case, and title-case
    /// letters, which neither case of their letter maps to: from Unicode's
    /// CaseFolding.txt (simple folds), checked against Ruby's `(?i)`.
    const FOLDS_INTO: [(char, char, u32); 40] = [
        ('\u{b5}', '\u{3bc}', 1),    // micro sign, mu
        ('\u{17f}', 's', 1),         // long s
        ('\u{1c5}', '\u{1c6}', 1),   // title-case dz with caron
        ('\u{1c8}', '\u{1c9}', 1),   // title-case lj
        ('\u{1cb}', '\u{1cc}', 1),   // title-case nj
        ('\u{1f2}', '\u{1f3}', 1),   // title-case dz
        ('\u{345}', '\u{3b9}', 1),   // combining ypogegrammeni, iota
        ('\u{3c2}', '\u{3c3}', 1),   // final sigma
        ('\u{3d0}', '\u{3b2}', 1),   // beta symbol
        ('\u{3d1}', '\u{3b8}', 1),   // theta symbol
        ('\u{3d5}', '\u{3c6}', 1),   // phi symbol
        ('\u{3d6}', '\u{3c0}', 1),   // pi symbol
        ('\u{3f0}', '\u{3ba}', 1),   // kappa symbol
        ('\u{3f1}', '\u{3c1}', 1),   // rho symbol
        ('\u{3f4}', '\u{3b8}', 1),   // capital theta symbol
        ('\u{3f5}', '\u{3b5}', 1),   // lunate epsilon
        ('\u{1c80}', '\u{432}', 1),  // old Cyrillic forms: ve
        ('\u{1c81}', '\u{434}', 1),  // de
        ('\u{1c82}', '\u{43e}', 1),  // o
        ('\u{1c83}', '\u{441}', 1),  // es
        ('\u{1c84}', '\u{442}', 1),  // te
        ('\u{1c85}', '\u{442}', 1),  // te, three-legged
        ('\u{1c86}', '\u{44a}', 1),  // hard sign
        ('\u{1c87}', '\u{463}', 1),  // yat
        ('\u{1c88}', '\u{a64b}', 1), // monograph uk
        ('\u{1e9b}', '\u{1e61}', 1), // long s with dot above
        ('\u{1e9e}', '\u{df}', 1),   // capital sharp s
        ('\u{1f88}', '\u{1f80}', 8), // Greek capitals with prosgegrammeni
        ('\u{1f98}', '\u{1f90}', 8),
        ('\u{1fa8}', '\u{1fa0}', 8),
        ('\u{1fbc}', '\u{1fb3}', 1),
        ('\u{1fbe}', '\u{3b9}', 1), // prosgegrammeni, iota
        ('\u{1fcc}', '\u{1fc3}', 1),
        ('\u{1fd3}', '\u{390}', 1), // iota with dialytika and tonos, twice encoded
        ('\u{1fe3}', '\u{3b0}', 1), // upsilon with dialytika and tonos, likewise
        ('\u{1ffc}', '\u{1ff3}', 1),
        ('\u{2126}', '\u{3c9}', 1),  // ohm sign, omega
        ('\u{212a}', 'k', 1),        // Kelvin sign
        ('\u{212b}', '\u{e5}', 1),   // angstrom sign
        ('\u{fb05}', '\u{fb06}', 1), // ligatures long s t and s t
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
        // Both ways: a variant that is itself a lowercase letter (`ΐ`
        // twice encoded) maps to nothing that leads back.
        for &(variant, letter, run) in &FOLDS_INTO {
            for (from, to) in [(letter, variant), (variant, letter)] {
                let offset = u32::from(next).wrapping_sub(u32::from(from));
                let other = (offset < run)
                    .then(|| char::from_u32(u32::from(to) + offset))
                    .flatten();
                if let Some(other) = other
                    && !orbit.contains(&other)
                {
                    orbit.push(other);
                }
            }
        }
        at += 1;
    }
    orbit.retain(|&other| other != c);
    orbit
}
