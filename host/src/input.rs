//! Turning raw input lines into events, the same way for every entry point.
//!
//! A plain log line becomes `{"message": line}`. An NDJSON line is taken as
//! the event itself once [`check_event`] accepts it; one that is not a valid
//! JSON object is not lost but becomes a `message` event tagged
//! `_jsonparsefailure` with the reason recorded, as Logstash's `json_lines`
//! codec does.

use std::borrow::Cow;
use std::io::{self, BufRead};

use serde_json::json;

use crate::event_check::CheckedEvent;
use crate::logstash_event;
use crate::pipeline::tag_and_record;

/// How input lines are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// NDJSON if the first non-blank line looks like a JSON object (`{...}`),
    /// else plain lines.
    Auto,
    /// Each line is a log message.
    Lines,
    /// Each line is a JSON event.
    Ndjson,
}

/// Decides `Auto` by looking at the first non-blank line: NDJSON if it is
/// shaped like a JSON object, opening with `{` and closing with `}`. Its
/// shape, not its validity: an NDJSON file whose first line is a broken or
/// refused object (a repeated key, say) is still NDJSON, that one line
/// tagged `_jsonparsefailure`, rather than the whole file read as text. A
/// line cut for its length is judged by its first character alone.
pub fn detect(first_line: &[u8], cut: bool) -> InputFormat {
    let line = first_line.trim_ascii();
    let ndjson = line.first() == Some(&b'{') && (cut || line.last() == Some(&b'}'));
    if ndjson {
        InputFormat::Ndjson
    } else {
        InputFormat::Lines
    }
}

/// The event a line stands for in `format` (`Auto` reads it as a plain
/// line), or `None` for a blank NDJSON line, which is no event. An NDJSON
/// event is made as Logstash makes one from data (`logstash_event`): a
/// `tags` it cannot hold moves to `_tags`, an `@timestamp` is read as a
/// time.
/// `clock` is the current time where it is fixed (`wasmstash test --now`),
/// for an `@timestamp` Logstash could not read.
pub fn event(format: InputFormat, line: &[u8], clock: Option<i64>) -> Option<CheckedEvent> {
    event_noted(format, line, clock, &mut InputNotes::default())
}

/// What reading lines found that their events do not show by themselves,
/// for `run`'s summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct InputNotes {
    /// Text lines that were not UTF-8 (their bad bytes are U+FFFD now).
    pub not_utf8: u64,
    /// NDJSON lines the event check refused: no JSON object, or one it
    /// does not take, such as a repeated key (tagged `_jsonparsefailure`).
    pub not_json: u64,
}

impl InputNotes {
    pub fn add(&mut self, other: InputNotes) {
        self.not_utf8 += other.not_utf8;
        self.not_json += other.not_json;
    }
}

/// [`event`], counting in `notes` what the line's event hides.
pub fn event_noted(
    format: InputFormat,
    line: &[u8],
    clock: Option<i64>,
    notes: &mut InputNotes,
) -> Option<CheckedEvent> {
    is_event(format, line).then(|| event_of_line(format, line, clock, notes))
}

/// The event of a line that was cut at `--max-line-bytes` from `length`
/// bytes to `kept`, tagged `_wasmstash_truncated`. Always one, even in
/// NDJSON where what was kept is blank: the line as a whole was not (or
/// not known to be), and a line dropped for what its cut left would be an
/// event lost without a word.
pub fn cut_line_event(
    format: InputFormat,
    kept: &[u8],
    length: CutLength,
    notes: &mut InputNotes,
) -> CheckedEvent {
    let kept = without_cut_character(kept);
    truncated(
        &event_of_line(format, kept, None, notes),
        length,
        kept.len(),
    )
}

/// The event `line` makes in `format`, blank or not.
fn event_of_line(
    format: InputFormat,
    line: &[u8],
    clock: Option<i64>,
    notes: &mut InputNotes,
) -> CheckedEvent {
    match format {
        InputFormat::Ndjson => match CheckedEvent::copied(line) {
            Ok(event) => logstash_event::as_logstash_makes_it(event, clock),
            Err(reason) => {
                notes.not_json += 1;
                not_json_event(line, reason)
            }
        },
        InputFormat::Lines | InputFormat::Auto => {
            let (event, utf8) = line_event_utf8(line);
            notes.not_utf8 += u64::from(!utf8);
            event
        }
    }
}

/// Whether `line` stands for an event in `format`: every line does but a
/// blank NDJSON one.
pub fn is_event(format: InputFormat, line: &[u8]) -> bool {
    format != InputFormat::Ndjson || !is_blank(line)
}

/// Whether `line` holds nothing but JSON's whitespace (space, tab, CR, LF).
/// Not Rust's ASCII whitespace: a form feed is no JSON whitespace, so a line
/// of one is a broken NDJSON event, to be tagged, not a blank line skipped.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter()
        .all(|&b| wasmstash_sdk::json_text::is_whitespace(b))
}

/// How far [`read_line`] got into a line it has not finished.
#[derive(Default)]
pub struct PartialLine {
    started: bool,
    /// Bytes of the line so far, kept or not.
    length: usize,
    /// The last byte of them.
    last: Option<u8>,
}

impl PartialLine {
    /// Whether a line has been begun and not finished.
    pub fn in_progress(&self) -> bool {
        self.started
    }
}

/// How long a line cut at the limit was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutLength {
    /// The length of its whole text.
    Whole(usize),
    /// What had been read of it when a stop was asked: the rest was left
    /// unread (a line of gigabytes need not be read through to stop).
    AtLeast(usize),
}

/// Reads one line, with its `\n` if it has one, into `line` (cleared
/// first), keeping at most `max` bytes before the `\n`: the rest of a longer
/// line is read and dropped, so memory stays bounded whatever the input,
/// unless `stop` says to stop while it is. Returns the bytes read (0 at the
/// end of input) and, for a line that was cut, its length. A reader that
/// fails part-way through a line (a live input that has gone quiet) leaves
/// the bytes read so far in `line` and `partial`, and the next call with
/// them goes on with the same line.
pub fn read_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    max: usize,
    partial: &mut PartialLine,
    stop: impl Fn() -> bool,
) -> io::Result<(usize, Option<CutLength>)> {
    if !partial.started {
        line.clear();
        *partial = PartialLine {
            started: true,
            ..PartialLine::default()
        };
    }
    let mut ended = false;
    while !ended {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        let newline = memchr::memchr(b'\n', available);
        let body = &available[..newline.unwrap_or(available.len())];
        // `line` never holds more than `max` bytes.
        line.extend_from_slice(&body[..body.len().min(max - line.len())]);
        let taken = body.len();
        partial.length += taken;
        partial.last = body.last().copied().or(partial.last);
        ended = newline.is_some();
        reader.consume(taken + usize::from(ended));
        if !ended && partial.length > max && stop() {
            let length = std::mem::take(partial).length;
            return Ok((length, Some(CutLength::AtLeast(length))));
        }
    }
    if ended {
        line.push(b'\n');
    }
    let PartialLine { length, last, .. } = std::mem::take(partial);
    let read = length + usize::from(ended);
    // A `\r` ending a line is its terminator, not its text, as for
    // `trim_newline` (the last line too, with no `\n` after it): a CRLF line
    // of exactly `max` bytes is whole, and a cut line's length leaves it out.
    let text_length = length - usize::from(last == Some(b'\r'));
    Ok((
        read,
        (text_length > max).then_some(CutLength::Whole(text_length)),
    ))
}

/// `event` (from a line of `length` cut to its first `kept` bytes) tagged
/// `_wasmstash_truncated`, with what was cut recorded.
fn truncated(event: &CheckedEvent, length: CutLength, kept: usize) -> CheckedEvent {
    let length = match length {
        CutLength::Whole(length) => format!("{length} bytes"),
        CutLength::AtLeast(length) => {
            format!("at least {length} bytes (the run was stopped while reading it)")
        }
    };
    let reason =
        format!("the line was {length}; only its first {kept} were kept (--max-line-bytes)");
    let record = json!({"kind": "truncated_input", "reason": reason});
    tag_and_record(event.text(), "_wasmstash_truncated", record)
}

/// `text`, cut to a byte limit, without the start of a UTF-8 character the
/// cut fell inside: a lead byte at most three bytes from the end whose
/// character would need more bytes than follow it. Bytes that were never
/// UTF-8 are left to become U+FFFD as anywhere else.
fn without_cut_character(text: &[u8]) -> &[u8] {
    let tail = text.len().saturating_sub(3);
    let Some(lead) = (tail..text.len()).rev().find(|&i| text[i] & 0xC0 != 0x80) else {
        return text;
    };
    let needs = match text[lead] {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return text,
    };
    if text.len() - lead < needs {
        &text[..lead]
    } else {
        text
    }
}

/// A file's first line without the UTF-8 byte-order mark some Windows
/// tools write: it is not part of the text, and left in it would make an
/// NDJSON file's first event a plain line.
pub fn without_byte_order_mark(first_line: &[u8]) -> &[u8] {
    first_line
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(first_line)
}

/// Strips the line terminator (`\n` or `\r\n`).
pub fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// At least the bytes of `line`'s event as JSON, in any format, so that
/// what a filter is handed can be bounded by it rather than by the line's
/// length: written into a JSON string, a control character takes six bytes
/// (`\u0001`), a quote or a backslash two, and a byte that is not UTF-8
/// three (U+FFFD). An NDJSON line is counted as if it were text, since one
/// that is not a JSON object becomes a `message` holding it.
pub fn event_bytes_bound(line: &[u8]) -> usize {
    /// `{"message":""}`, and room for a failure's tag and reason.
    const ENVELOPE: usize = 256;
    // Summed as u16 over 4 KiB pieces (at most 5 × 4096 each), which the
    // compiler turns into SIMD: summed as usize byte by byte it took 260 ns
    // an access-log line, 4.6 times as long, about 5% of `run`'s time.
    let weight = |&b: &u8| match b {
        0..=0x1f => 5u16,
        b'"' | b'\\' => 1,
        _ => 0,
    };
    let escapes: usize = (line.chunks(4096))
        .map(|piece| piece.iter().map(weight).sum::<u16>() as usize)
        .sum();
    let replaced = if line.is_ascii() || std::str::from_utf8(line).is_ok() {
        0
    } else {
        2 * line.iter().filter(|b| !b.is_ascii()).count()
    };
    line.len() + escapes + replaced + ENVELOPE
}

/// `{"message": line}`; bytes that are not UTF-8 become U+FFFD, which is
/// not what Logstash's line and plain codecs make of them (README, `run`).
pub fn line_event(line: &[u8]) -> CheckedEvent {
    line_event_utf8(line).0
}

/// [`line_event`], and whether the line was UTF-8.
fn line_event_utf8(line: &[u8]) -> (CheckedEvent, bool) {
    // Almost every line is valid UTF-8: check it in one pass and go lossy
    // only when it is not.
    let (text, utf8) = match std::str::from_utf8(line) {
        Ok(text) => (Cow::Borrowed(text), true),
        Err(_) => (String::from_utf8_lossy(line), false),
    };
    (CheckedEvent::message(&text), utf8)
}

/// The `message` event, tagged `_jsonparsefailure` with the reason, that an
/// NDJSON line which is no valid JSON object stands for.
fn not_json_event(line: &[u8], reason: String) -> CheckedEvent {
    let record = json!({"kind": "invalid_input", "reason": reason});
    tag_and_record(line_event(line).text(), "_jsonparsefailure", record)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound holds for a line's event and for the failed NDJSON event
    /// it would make, over every byte alone, runs of each, and lines that
    /// mix controls, quotes, non-ASCII and bytes that are not UTF-8.
    #[test]
    fn the_event_bytes_bound_is_never_below_the_event() {
        let mut lines: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b; 1000]).collect();
        lines.push(b"caf\xc3\xa9 \"q\" \\ \x01\xff\xc3 \xed\xa0\x80 \t\x7f".repeat(50));
        lines.push(b"{\"message\":\"\x01\x02\"}".repeat(100));
        lines.push(Vec::new());
        for line in &lines {
            let bound = event_bytes_bound(line);
            assert!(line_event(line).text().len() <= bound, "{line:?}");
            for format in [InputFormat::Lines, InputFormat::Ndjson] {
                if let Some(event) = event(format, line, Some(0)) {
                    assert!(event.text().len() <= bound, "{format:?}: {line:?}");
                }
            }
        }
        // Not far above it either, for text that needs no escape.
        assert_eq!(event_bytes_bound(&[b'x'; 1000]), 1256);
    }

    #[test]
    fn lines_become_message_events() {
        assert_eq!(
            line_event(b"GET \"/\" 200").text(),
            br#"{"message":"GET \"/\" 200"}"#
        );
        assert_eq!(
            line_event(b"bad \xff byte").text(),
            "{\"message\":\"bad \u{fffd} byte\"}".as_bytes()
        );
        assert_eq!(trim_newline(b"x\r\n"), b"x");
        // The same text serde_json would write, escapes and all.
        let mut tricky: String = (0u8..0x20).map(char::from).collect();
        tricky.push_str("\\ \" / é 😀 \u{7f} and a tail long enough for the wide steps");
        assert_eq!(
            line_event(tricky.as_bytes()).into_text(),
            serde_json::to_vec(&json!({"message": tricky})).unwrap()
        );
    }

    #[test]
    fn bad_ndjson_is_kept_and_tagged() {
        assert_eq!(
            event(InputFormat::Ndjson, br#"{"a":1}"#, None)
                .unwrap()
                .text(),
            br#"{"a":1}"#
        );
        let refused = event(InputFormat::Ndjson, br#"{"a":1,"a":2}"#, None).unwrap();
        let text = String::from_utf8(refused.into_text()).unwrap();
        assert!(text.contains("duplicate key `a`"), "{text}");
        assert!(text.contains(r#""tags":["_jsonparsefailure"]"#), "{text}");
        assert!(text.contains(r#""message":"{\"a\":1,\"a\":2}""#), "{text}");
    }

    #[test]
    fn a_blank_line_is_an_event_only_as_a_plain_line() {
        assert_eq!(event(InputFormat::Ndjson, b"  ", None), None);
        assert_eq!(
            event(InputFormat::Lines, b"", None).map(CheckedEvent::into_text),
            Some(br#"{"message":""}"#.to_vec())
        );
        assert_eq!(
            event(InputFormat::Ndjson, br#"{"a":1}"#, None).map(CheckedEvent::into_text),
            Some(br#"{"a":1}"#.to_vec())
        );
    }

    /// The next line, as `run` reads it from a file, never asked to stop.
    fn read_next(
        reader: &mut impl BufRead,
        line: &mut Vec<u8>,
        max: usize,
    ) -> (usize, Option<CutLength>) {
        read_line(reader, line, max, &mut PartialLine::default(), || false).unwrap()
    }

    /// A stop asked while a line is read past its cut ends the line where
    /// the read got to, and leaves the rest of it unread.
    #[test]
    fn a_stop_ends_an_overlong_line_where_the_read_got_to() {
        let mut reader = io::BufReader::with_capacity(4, &b"abcdefghij\nnext\n"[..]);
        let mut line = Vec::new();
        let stopped = read_line(
            &mut reader,
            &mut line,
            3,
            &mut PartialLine::default(),
            || true,
        );
        assert_eq!(stopped.unwrap(), (4, Some(CutLength::AtLeast(4))));
        assert_eq!(line, b"abc");
        // Within the limit, a stop changes nothing.
        let mut reader = io::BufReader::with_capacity(4, &b"ab\n"[..]);
        let whole = read_line(
            &mut reader,
            &mut line,
            3,
            &mut PartialLine::default(),
            || true,
        );
        assert_eq!(whole.unwrap(), (3, None));
    }

    /// Lines of every length around the limit, read through a buffer
    /// smaller than they are: each comes out whole or cut to the limit,
    /// with its true length, and nothing of the next line is lost.
    #[test]
    fn long_lines_are_cut_and_the_rest_still_read() {
        let max = 10;
        let lines: Vec<String> = (0..25).map(|n| "ab".repeat(n)[..n].to_owned()).collect();
        let mut text = lines.join("\r\n");
        text.push_str("\r\n");
        text.push_str("no newline at the end, and long");
        let mut reader = io::BufReader::with_capacity(4, text.as_bytes());
        let mut line = Vec::new();
        let expected = lines
            .iter()
            .map(|l| format!("{l}\r"))
            .chain(["no newline at the end, and long".to_owned()]);
        for whole in expected {
            let (read, cut) = read_next(&mut reader, &mut line, max);
            let ends_line = usize::from(line.last() == Some(&b'\n'));
            assert_eq!(read, whole.len() + ends_line, "{whole:?}");
            assert_eq!(
                &line[..line.len() - ends_line],
                &whole.as_bytes()[..whole.len().min(max)]
            );
            // A `\r` ending the line is no part of its text.
            let text = whole.strip_suffix('\r').unwrap_or(&whole);
            assert_eq!(
                cut,
                (text.len() > max).then_some(CutLength::Whole(text.len())),
                "{whole:?}"
            );
        }
        assert_eq!(read_next(&mut reader, &mut line, max), (0, None));
    }

    /// A reader that stops part-way through a line, as a quiet live input
    /// does: the line goes on where it stopped.
    #[test]
    fn a_line_read_in_pieces_comes_out_whole() {
        struct Pieces(Vec<&'static [u8]>);
        impl io::Read for Pieces {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match self.0.first_mut() {
                    None => Ok(0),
                    Some(&mut []) => {
                        self.0.remove(0);
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    Some(piece) => {
                        let n = piece.len().min(buf.len());
                        buf[..n].copy_from_slice(&piece[..n]);
                        *piece = &piece[n..];
                        Ok(n)
                    }
                }
            }
        }
        let pieces = Pieces(vec![b"one\ntw", b"", b"o\r", b"", b"\nthree"]);
        let mut reader = io::BufReader::new(pieces);
        let (mut line, mut partial) = (Vec::new(), PartialLine::default());
        let mut lines = Vec::new();
        loop {
            match read_line(&mut reader, &mut line, 100, &mut partial, || false) {
                Ok((0, _)) => break,
                Ok((read, cut)) => lines.push((trim_newline(&line).to_vec(), read, cut)),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                    assert!(partial.in_progress());
                }
            }
        }
        let expected: Vec<(Vec<u8>, usize, Option<CutLength>)> = vec![
            (b"one".to_vec(), 4, None),
            (b"two".to_vec(), 5, None),
            (b"three".to_vec(), 5, None),
        ];
        assert_eq!(lines, expected);
    }

    #[test]
    fn a_cut_character_is_left_out_and_nothing_else() {
        let euro = "€".as_bytes();
        assert_eq!(without_cut_character(&euro[..2]), b"");
        assert_eq!(without_cut_character(b"ab\xff\xe2\x82"), b"ab\xff");
        assert_eq!(without_cut_character("a€".as_bytes()), "a€".as_bytes());
        assert_eq!(without_cut_character(b"ab\xff"), b"ab\xff");
        assert_eq!(without_cut_character(b"\xf0\x9f\x98"), b"");
        assert_eq!(without_cut_character(b""), b"");
    }

    #[test]
    fn a_crlf_line_of_exactly_the_limit_is_whole() {
        let mut reader = io::BufReader::new(&b"{\"a\":1}\r\n12345678\r\nabcdefg\r"[..]);
        let mut line = Vec::new();
        assert_eq!(read_next(&mut reader, &mut line, 7), (9, None));
        assert_eq!(trim_newline(&line), br#"{"a":1}"#);
        assert_eq!(
            read_next(&mut reader, &mut line, 7),
            (10, Some(CutLength::Whole(8)))
        );
        // The last line's `\r` ends it too, with no `\n` after it.
        assert_eq!(read_next(&mut reader, &mut line, 7), (8, None));
        assert_eq!(trim_newline(&line), b"abcdefg");
    }

    #[test]
    fn detects_ndjson_from_the_first_line() {
        assert_eq!(detect(br#"{"message":"x"}"#, false), InputFormat::Ndjson);
        assert_eq!(detect(b"127.0.0.1 - - [x]", false), InputFormat::Lines);
        // Shaped like an object but refused: still NDJSON, so the lines
        // after it are read as events.
        assert_eq!(detect(br#" {"a":1,"a":2} "#, false), InputFormat::Ndjson);
        assert_eq!(detect(br#"{"deep":[[[[1]]]]"#, false), InputFormat::Lines);
        assert_eq!(detect(b"{INFO} started", false), InputFormat::Lines);
        // Cut for its length: what remains is no valid object, but began one.
        assert_eq!(detect(br#" {"message":"xxx"#, true), InputFormat::Ndjson);
        assert_eq!(detect(b"xxxx", true), InputFormat::Lines);
    }
}
