//! Finds `key<value_split>value` pairs in a text, left to right, the way
//! Logstash's kv scan regex does, without a regex engine.
//!
//! Logstash's regex is, in effect: a key (a run of characters that are not
//! separators, or backslash-escaped characters), the value separator (with
//! optional spaces around it in `lenient` mode), then a value that is quoted
//! (`"…"`, `'…'`, and with `include_brackets` `(…)`, `[…]`, `<…>`) and followed
//! by a field separator or the end of a line, or else a run of characters up
//! to the next field separator. A failed attempt moves on by one character.
//! The scan here makes the same decisions in one pass per pair, except that
//! the search for a closing quote may look further ahead; those searches are
//! shared between the pairs of a text (`CloseMemo`), so with separators
//! given as characters the time is linear in the text.
//!
//! Not so with a separator given as a pattern: it is tried at each position
//! of keys and values, and reads on for as long as a partial match stays
//! alive, so `\s*;` over a run of n spaces reads about n² / 2 characters (a
//! regex does the same). Such a scan counts what it reads ([`Steps`]) and
//! gives up past its allowance, which the filter then tags as Logstash's
//! kv tags a timeout.

use std::cell::Cell;

use crate::charset::CharClass;
use crate::pattern::SplitPattern;

/// A field or value separator: a class of single characters, or a pattern.
pub enum Splitter {
    Chars(CharClass),
    Pattern(SplitPattern),
}

impl Splitter {
    /// The separator's length at `pos`, if one is there. A pattern counts
    /// what it reads in `steps`, and once they are spent it finds nothing,
    /// so that the rest of the scan takes one step a character.
    fn match_len(&self, text: &str, pos: usize, steps: &Steps) -> Option<usize> {
        match self {
            Splitter::Chars(class) => class.match_at(text, pos),
            Splitter::Pattern(_) if steps.spent() => None,
            Splitter::Pattern(pattern) => {
                let (found, read) = pattern.longest_match(text, pos);
                steps.take(read);
                found
            }
        }
    }

    fn is_pattern(&self) -> bool {
        matches!(self, Splitter::Pattern(_))
    }
}

/// What an event's scans may read for their separator patterns: the larger
/// of a base (`timeout_steps`) and 64 characters per byte of its text, so
/// that a long line of ordinary pairs (two or three a character) never runs
/// out.
struct Steps {
    taken: Cell<u64>,
    allowed: Cell<u64>,
}

impl Steps {
    fn take(&self, read: u64) {
        self.taken.set(self.taken.get().saturating_add(read));
    }

    fn spent(&self) -> bool {
        self.taken.get() > self.allowed.get()
    }
}

/// The last run of spaces `value_split_end` searched in the text being
/// scanned: from where, to where, and the last start in it at which the
/// value separator matched, with where the value then begins.
#[derive(Clone, Copy)]
struct SpaceRun {
    from: usize,
    to: usize,
    found: Option<(usize, usize)>,
}

/// A scan that read past its allowance of steps (see [`Steps`]); the pairs
/// it gave are not to be used.
pub struct OutOfSteps;

pub struct Scanner {
    field_split: Splitter,
    value_split: Splitter,
    lenient: bool,
    include_brackets: bool,
    /// For character-set separators: which ASCII bytes end a key, and which
    /// end an unquoted value. One lookup per byte instead of a call per
    /// separator per byte, which in WebAssembly was most of kv's time.
    ascii_stops: Option<([bool; 128], [bool; 128])>,
    /// The base allowance of steps per event (`timeout_steps`); `None` for
    /// no limit.
    step_base: Option<u64>,
    steps: Steps,
    space_run: Cell<Option<SpaceRun>>,
}

impl Scanner {
    pub fn new(
        field_split: Splitter,
        value_split: Splitter,
        lenient: bool,
        include_brackets: bool,
        step_base: Option<u64>,
    ) -> Scanner {
        let ascii_stops = match (&field_split, &value_split) {
            (Splitter::Chars(fields), Splitter::Chars(values)) => {
                let mut key = [false; 128];
                let mut value = [false; 128];
                for byte in 0..128u8 {
                    let c = byte as char;
                    value[byte as usize] = fields.contains(c);
                    key[byte as usize] = fields.contains(c) || values.contains(c);
                }
                Some((key, value))
            }
            _ => None,
        };
        Scanner {
            field_split,
            value_split,
            lenient,
            include_brackets,
            ascii_stops,
            step_base,
            steps: Steps {
                taken: Cell::new(0),
                allowed: Cell::new(u64::MAX),
            },
            space_run: Cell::new(None),
        }
    }

    /// Calls `pair(key, value)` for every pair, in order. Values may be
    /// empty (Logstash matches `key=` but then ignores it). Stops early when
    /// `pair` returns false. Fails if its separator patterns have read past
    /// the event's allowance (see [`Scanner::allow_steps_for`]); `pair` may
    /// have been called before. A `pair` may scan another text (a value,
    /// with `recursive`), within the same allowance.
    pub fn scan<'t>(
        &self,
        text: &'t str,
        pair: impl FnMut(&'t str, &'t str) -> bool,
    ) -> Result<(), OutOfSteps> {
        // The memo is of this text's runs; a value scanned inside it has
        // its own, and this one's is still good after.
        let outer_run = self.space_run.replace(None);
        self.scan_pairs(text, pair);
        self.space_run.set(outer_run);
        if self.steps.spent() {
            Err(OutOfSteps)
        } else {
            Ok(())
        }
    }

    /// Starts an event's allowance of steps, for `bytes` of text in all:
    /// the larger of `timeout_steps` and 64 a byte, shared by every scan of
    /// the event (each string of a list, each level of `recursive`).
    pub fn allow_steps_for(&self, bytes: usize) {
        let allowed = (self.step_base).map_or(u64::MAX, |base| base.max(64 * bytes as u64));
        self.steps.taken.set(0);
        self.steps.allowed.set(allowed);
    }

    fn scan_pairs<'t>(&self, text: &'t str, mut pair: impl FnMut(&'t str, &'t str) -> bool) {
        let mut memo = CloseMemo::default();
        let mut pos = 0;
        while pos < text.len() {
            let key_end = self.key_end(text, pos);
            if key_end > pos
                && let Some(value_start) = self.value_split_end(text, key_end)
            {
                let (value, next) = self.value(text, value_start, &mut memo);
                if !pair(&text[pos..key_end], value) {
                    return;
                }
                pos = next;
                continue;
            }
            // Starting anywhere inside the key would end at the same place and
            // fail the same way, so the next possible start is past it.
            pos = if key_end > pos {
                key_end
            } else {
                next_char(text, pos)
            };
        }
    }

    /// Where a key starting at `pos` ends.
    fn key_end(&self, text: &str, mut pos: usize) -> usize {
        let bytes = text.as_bytes();
        // With patterns a separator wins over a backslash escape (so that a
        // separator such as `\\r\\n` works); with character sets `\x`
        // escapes a separator character (`a\ b`). Logstash's spec has both.
        let patterns = self.value_split.is_pattern() || self.field_split.is_pattern();
        while pos < text.len() {
            if let Some((key_stops, _)) = &self.ascii_stops
                && bytes[pos] != b'\\'
                && bytes[pos].is_ascii()
            {
                if key_stops[bytes[pos] as usize] {
                    break;
                }
                pos += 1;
                continue;
            }
            if patterns
                && (self.value_split_end(text, pos).is_some()
                    || self.field_split.match_len(text, pos, &self.steps).is_some()
                    || bytes[pos] == b'\n')
            {
                break;
            }
            // Logstash's escape is `\\.`, and Ruby's `.` never matches a line
            // break: a backslash before one is a character of its own, and
            // the break then ends the key if it separates (with a pattern,
            // whose `(?!...).` cannot take it either, always).
            if bytes[pos] == b'\\' && bytes.get(pos + 1).is_some_and(|&next| next != b'\n') {
                pos = next_char(text, pos + 1);
                continue;
            }
            if !patterns
                && (self.value_split.match_len(text, pos, &self.steps).is_some()
                    || self.field_split.match_len(text, pos, &self.steps).is_some())
            {
                break;
            }
            pos = next_char(text, pos);
        }
        pos
    }

    /// Where the value starts, if a value separator follows at `pos`.
    fn value_split_end(&self, text: &str, pos: usize) -> Option<usize> {
        if !self.lenient {
            return Some(pos + self.value_split.match_len(text, pos, &self.steps)?);
        }
        // ` *` then the separator: the spaces are greedy but give back what
        // a separator that itself matches a space needs, as a regex would.
        // With patterns this is tried at each space of a run, and every
        // space of it gives the same answer, unless its best start lies
        // behind: the run is searched once.
        if let Some(run) = self.space_run.get()
            && (run.from..=run.to).contains(&pos)
        {
            return run
                .found
                .filter(|&(start, _)| start >= pos)
                .map(|(_, end)| end);
        }
        if self.steps.spent() {
            return None;
        }
        let spaces_end = skip_spaces(text, pos);
        self.steps.take((spaces_end - pos) as u64);
        let found = (pos..=spaces_end).rev().find_map(|start| {
            let end = start + self.value_split.match_len(text, start, &self.steps)?;
            Some((start, skip_spaces(text, end)))
        });
        self.space_run.set(Some(SpaceRun {
            from: pos,
            to: spaces_end,
            found,
        }));
        found.map(|(_, end)| end)
    }

    /// The value at `start` and where scanning resumes after it.
    fn value<'t>(&self, text: &'t str, start: usize, memo: &mut CloseMemo) -> (&'t str, usize) {
        if let Some(found) = self.quoted(text, start, memo) {
            return found;
        }
        let bytes = text.as_bytes();
        let pattern = self.field_split.is_pattern();
        let mut end = start;
        while end < text.len() {
            if let Some((_, value_stops)) = &self.ascii_stops
                && bytes[end] != b'\\'
                && bytes[end].is_ascii()
            {
                if value_stops[bytes[end] as usize] {
                    break;
                }
                end += 1;
                continue;
            }
            if pattern
                && (self.field_split.match_len(text, end, &self.steps).is_some()
                    || bytes[end] == b'\n')
            {
                break;
            }
            // As for keys: no escape takes a line break.
            if bytes[end] == b'\\' && bytes.get(end + 1).is_some_and(|&next| next != b'\n') {
                end = next_char(text, end + 1);
                continue;
            }
            if !pattern && self.field_split.match_len(text, end, &self.steps).is_some() {
                break;
            }
            end = next_char(text, end);
        }
        (&text[start..end], self.after_separator(text, end))
    }

    /// A quoted or bracketed value, if one starts at `start` and is followed
    /// by a field separator or the end of a line.
    fn quoted<'t>(
        &self,
        text: &'t str,
        start: usize,
        memo: &mut CloseMemo,
    ) -> Option<(&'t str, usize)> {
        let (kind, close) = match text.as_bytes().get(start)? {
            b'"' => (0, b'"'),
            b'\'' => (1, b'\''),
            b'(' if self.include_brackets => (2, b')'),
            b'[' if self.include_brackets => (3, b']'),
            b'<' if self.include_brackets => (4, b'>'),
            _ => return None,
        };
        let from = start + 1;
        let search = match &memo.0[kind] {
            Some(known) if (known.from..=known.stop).contains(&from) => known,
            _ => memo.0[kind].insert(self.close_search(text, from, close)),
        };
        let end = search.close_for(from)?;
        Some((&text[from..end], self.after_separator(text, end + 1)))
    }

    /// Where Logstash's `"((?:\\.|[^"])+)?"` (for the given closing
    /// character) ends when started at `from` and followed by a field
    /// separator or a line end.
    ///
    /// The regex tries, at each character, `\\.` first, then `[^"]` (a lone
    /// backslash too), then the close; the first way through wins. Only a
    /// close after a run of backslashes leaves a choice: the run can take
    /// the close as escaped or end right before it. An even run (none
    /// included) first tries the close; an odd run first tries going on, and
    /// comes back to the close only if nothing later works. So the search
    /// ends at a close that works after an even run, or fails at a close
    /// after no backslash (nothing can go past it) or at the end of the text;
    /// failing, the last close that works after an odd run is the answer.
    fn close_search(&self, text: &str, from: usize, close: u8) -> CloseSearch {
        let bytes = text.as_bytes();
        let mut pos = from;
        let mut fallback = None;
        while let Some(skip) = bytes[pos..].iter().position(|&b| b == b'\\' || b == close) {
            pos += skip;
            let run_start = pos;
            while bytes.get(pos) == Some(&b'\\') {
                pos += 1;
            }
            // After the run comes the end, or a character that is no close
            // (a line break included): either way every reading of the run
            // goes on from the same place.
            if bytes.get(pos) != Some(&close) {
                continue;
            }
            let closes = self.closes_at(text, pos + 1);
            let odd = (pos - run_start) % 2 == 1;
            if closes && !odd {
                return CloseSearch {
                    from,
                    stop: pos,
                    found: Some(pos),
                    fallback,
                };
            }
            if pos == run_start {
                return CloseSearch {
                    from,
                    stop: pos,
                    found: None,
                    fallback,
                };
            }
            if closes {
                fallback = Some(pos);
            }
            pos += 1;
        }
        CloseSearch {
            from,
            stop: bytes.len(),
            found: None,
            fallback,
        }
    }

    /// Whether a field separator or the end of a line is at `pos`.
    fn closes_at(&self, text: &str, pos: usize) -> bool {
        pos == text.len()
            || text.as_bytes()[pos] == b'\n'
            || self.field_split.match_len(text, pos, &self.steps).is_some()
    }

    fn after_separator(&self, text: &str, pos: usize) -> usize {
        if pos >= text.len() {
            return pos;
        }
        pos + self
            .field_split
            .match_len(text, pos, &self.steps)
            .unwrap_or(0)
    }
}

/// The last close search per kind of quote (`"`, `'`, `)`, `]`, `>`) in one
/// text.
///
/// Whether a close can be reached from a position does not depend on where
/// the quote opened, so a later value of the same kind that starts inside a
/// searched stretch is answered from it. Values start further right each
/// time, so each search starts past where the last one of its kind stopped:
/// every byte is searched at most once per kind, and a text with many
/// quotes and backslashes is still scanned in linear time.
#[derive(Default)]
struct CloseMemo([Option<CloseSearch>; 5]);

struct CloseSearch {
    from: usize,
    /// Where the search stopped: the close it found, the close after no
    /// backslash that failed it, or the end of the text.
    stop: usize,
    found: Option<usize>,
    /// The last close after an odd run of backslashes that a separator or
    /// line end follows.
    fallback: Option<usize>,
}

impl CloseSearch {
    /// The close for a value starting at `from`, within this search.
    fn close_for(&self, from: usize) -> Option<usize> {
        // A value opens after a quote, never inside a run of backslashes,
        // so a close at or after `from` is reached the same way from there.
        self.found.or(self.fallback.filter(|&close| close >= from))
    }
}

fn skip_spaces(text: &str, mut pos: usize) -> usize {
    while text.as_bytes().get(pos) == Some(&b' ') {
        pos += 1;
    }
    pos
}

fn next_char(text: &str, pos: usize) -> usize {
    match text.as_bytes().get(pos) {
        Some(byte) if byte.is_ascii() => pos + 1,
        _ => pos + text[pos..].chars().next().map_or(1, char::len_utf8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The regex `O((?:\\.|[^C])+)?C` followed by a space or a line end,
    /// tried as a backtracking engine tries it: `\\.` first, then `[^C]`,
    /// then the close, the first way through winning. Exponential, so only
    /// for short texts; ASCII only.
    fn backtracking_close(text: &[u8], pos: usize, close: u8) -> Option<usize> {
        let at = |i: usize| text.get(i).copied();
        if at(pos) == Some(b'\\')
            && at(pos + 1).is_some_and(|next| next != b'\n')
            && let Some(end) = backtracking_close(text, pos + 2, close)
        {
            return Some(end);
        }
        if at(pos).is_some_and(|c| c != close)
            && let Some(end) = backtracking_close(text, pos + 1, close)
        {
            return Some(end);
        }
        let closes = matches!(at(pos + 1), None | Some(b' ' | b'\n'));
        (at(pos) == Some(close) && closes).then_some(pos)
    }

    /// Every text of up to six characters from an alphabet of quotes,
    /// brackets, backslashes, separators and line breaks: the close found
    /// from each opening, in order and sharing one memo as a scan does,
    /// is the one the regex finds.
    #[test]
    fn closes_are_found_where_the_regex_finds_them() {
        let scanner = Scanner::new(
            Splitter::Chars(CharClass::parse(" ").unwrap()),
            Splitter::Chars(CharClass::parse("=").unwrap()),
            true,
            true,
            None,
        );
        let alphabet = *b"\\\"()x \n";
        let mut checked = 0;
        for len in 1..=6u32 {
            for mut n in 0..alphabet.len().pow(len) {
                let text: String = (0..len)
                    .map(|_| {
                        let c = alphabet[n % alphabet.len()];
                        n /= alphabet.len();
                        c as char
                    })
                    .collect();
                let mut memo = CloseMemo::default();
                for (start, open) in text.bytes().enumerate() {
                    let close = match open {
                        b'"' => b'"',
                        b'(' => b')',
                        _ => continue,
                    };
                    let expected = backtracking_close(text.as_bytes(), start + 1, close)
                        .map(|end| &text[start + 1..end]);
                    let found = scanner.quoted(&text, start, &mut memo).map(|(v, _)| v);
                    assert_eq!(found, expected, "text {text:?} from {start}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 100_000, "only {checked} openings checked");
    }
}
