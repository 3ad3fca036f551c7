//! Text a module chose, made safe to print: its log lines, the messages it
//! returns, and the names of its imports and exports, which reach the
//! host's log, `check` and `inspect`. Printed as they are, a newline in
//! them starts a log line the host did not write, an escape sequence
//! steers the operator's terminal, and a bidirectional override makes what
//! follows read backwards.
//!
//! Escaping makes text longer (one control byte becomes up to six bytes,
//! `\u{1b}`), so a length cap holds only if it is applied after escaping.

/// `text` with control characters escaped (`\n`, `\u{1b}`), and also the
/// format characters that reorder or hide text: bidirectional controls,
/// zero-width characters, and the line and paragraph separators.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    text.chars().for_each(|c| push_printable(&mut out, c));
    out
}

fn push_printable(out: &mut String, c: char) {
    if c.is_control() || hides_or_reorders(c) {
        out.extend(c.escape_default());
    } else {
        out.push(c);
    }
}

/// What marks text cut short.
const CUT: &str = " …(cut)";

/// [`printable`], cut (with [`CUT`] at its end) to at most `max` bytes,
/// after a whole character or a whole escape, never inside one.
pub(crate) fn printable_within(text: &str, max: usize) -> String {
    let out = printable(text);
    if out.len() <= max {
        return out;
    }
    let room = max.saturating_sub(CUT.len());
    let mut cut = String::with_capacity(max);
    let mut one = String::new();
    for c in text.chars() {
        one.clear();
        push_printable(&mut one, c);
        if cut.len() + one.len() > room {
            break;
        }
        cut.push_str(&one);
    }
    cut.push_str(CUT);
    cut
}

/// A name the module chose (an import's, an export's), printable and at
/// most 200 bytes.
pub(crate) fn name(text: &str) -> String {
    printable_within(text, 200)
}

fn hides_or_reorders(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}' // zero-width space and joiners, LRM, RLM
        | '\u{2028}' | '\u{2029}' // line and paragraph separators
        | '\u{202a}'..='\u{202e}' // bidirectional embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // bidirectional isolates
        | '\u{feff}' // zero-width no-break space
        | '\u{00ad}' | '\u{061c}' | '\u{180e}' // soft hyphen, Arabic letter mark, Mongolian vowel separator
        | '\u{206a}'..='\u{206f}' // deprecated format characters
        | '\u{fff9}'..='\u{fffb}' // interlinear annotation
        | '\u{e0000}'..='\u{e007f}' // tag characters
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_text_turners_are_escaped_and_the_rest_kept() {
        assert_eq!(printable("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(printable("x\u{202e}y\u{2028}z"), "x\\u{202e}y\\u{2028}z");
        assert_eq!(printable("café ü 😀 \u{a0}"), "café ü 😀 \u{a0}");
    }

    #[test]
    fn a_cap_holds_after_escaping() {
        let escapes = "\u{1b}".repeat(4096);
        let cut = printable_within(&escapes, 4096);
        assert!(cut.len() <= 4096, "{}", cut.len());
        assert!(cut.ends_with(CUT));
        // Nor an escape: every one before the mark is whole.
        let kept = cut.strip_suffix(CUT).unwrap();
        assert_eq!(kept, "\\u{1b}".repeat(kept.len() / 6), "{kept}");
        assert_eq!(printable_within("short", 4096), "short");
        // A cut never splits a character.
        let wide = printable_within(&"é".repeat(100), 51);
        assert!(
            wide.starts_with(&"é".repeat(21)) && wide.ends_with(CUT),
            "{wide}"
        );
    }
}
