//! The byte layout of batches and results that cross the host/guest boundary.
//!
//! Both sides use this one module: the guest SDK to read a batch and write its
//! results, the host to write the batch and to read (and distrust) the results.
//! The layout is specified for other languages in `filters/sdk/ABI.md`; change
//! the two together.
//!
//! A batch is `count: u32le`, then `count` times `len: u32le, bytes[len]`, each
//! `bytes` one event as a JSON object. A keyed batch (for modules that export
//! `wasmstash_process_keyed`) follows each event with where its top-level keys
//! are: `keys: u32le`, then `keys` times `start: u32le, end: u32le`. Results
//! are `count: u32le`, then `count` times `kind: u8, len: u32le, bytes[len]`.

/// The ABI version this crate speaks; exported by every filter as
/// `wasmstash_abi_version`.
pub const ABI_VERSION: u32 = 1;

/// What a filter did with one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ResultKind {
    /// The event is kept exactly as it came in; no payload.
    Unchanged = 0,
    /// The event is kept and replaced by the payload (a JSON object).
    Replaced = 1,
    /// The filter dropped the event on purpose; no payload.
    Dropped = 2,
    /// The filter failed on this event; the payload is a UTF-8 reason. The host
    /// passes the original event through with a failure tag.
    Failed = 3,
    /// The event is kept with new top-level members added at its end; the
    /// payload is those members as JSON text (`"a":1,"b":"x"`, no braces).
    /// Filters that only add fields (most parsers) use it so that neither side
    /// copies or re-checks the fields they left alone.
    Extended = 4,
}

impl ResultKind {
    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0 => Self::Unchanged,
            1 => Self::Replaced,
            2 => Self::Dropped,
            3 => Self::Failed,
            4 => Self::Extended,
            _ => return None,
        })
    }
}

/// Why a buffer is not a well-formed batch or result list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

/// Appends a batch holding `events` to `out` (which is cleared first).
pub fn encode_batch<'a>(events: impl ExactSizeIterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    out.clear();
    put_u32(out, events.len());
    for event in events {
        put_u32(out, event.len());
        out.extend_from_slice(event);
    }
}

/// Appends a keyed batch to `out` (which is cleared first): each event with
/// the spans of its top-level keys, in the order they are written. A span
/// runs from a key's opening quote to just past its closing quote.
pub fn encode_keyed_batch<'a, K>(
    events: impl ExactSizeIterator<Item = (&'a [u8], K)>,
    out: &mut Vec<u8>,
) where
    K: ExactSizeIterator<Item = (u32, u32)>,
{
    out.clear();
    put_u32(out, events.len());
    for (event, keys) in events {
        put_u32(out, event.len());
        out.extend_from_slice(event);
        put_u32(out, keys.len());
        for (start, end) in keys {
            out.extend_from_slice(&start.to_le_bytes());
            out.extend_from_slice(&end.to_le_bytes());
        }
    }
}

/// How many events a batch, keyed or not, says it holds (zero if it is too
/// short to say).
pub fn batch_len(buf: &[u8]) -> usize {
    Reader { buf, pos: 0 }.u32("event count").unwrap_or(0)
}

/// Where an event's top-level keys are, as a keyed batch gives them.
#[derive(Clone, Copy, Debug)]
pub struct KeySpans<'a>(&'a [u8]);

impl KeySpans<'_> {
    pub fn len(&self) -> usize {
        self.0.len() / 8
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each key's span, `(start, end)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.0.chunks_exact(8).map(|span| {
            let word = |at: usize| u32::from_le_bytes(span[at..at + 4].try_into().unwrap());
            (word(0) as usize, word(4) as usize)
        })
    }
}

/// Writes to `out` (cleared first) the event `input` with `members` (the
/// payload of an [`ResultKind::Extended`] result) added at its end. `input`
/// must be a JSON object; nothing else is checked here (the host checks the
/// result).
pub fn extend_event(input: &[u8], members: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let body_end = input
        .iter()
        .rposition(|&b| b == b'}')
        .unwrap_or(input.len());
    let body = &input[..body_end];
    out.reserve(body.len() + members.len() + 2);
    out.extend_from_slice(body);
    let empty = crate::json_text::trim_whitespace_end(body).last() == Some(&b'{');
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(members);
    out.push(b'}');
}

/// Splits a batch into its events, checking every length against the buffer.
pub fn decode_batch(buf: &[u8]) -> Result<Vec<&[u8]>, WireError> {
    // Each event needs at least its 4-byte length.
    decode_events(buf, "batch", 4, |reader, index| {
        let len = reader.u32("event length")?;
        reader.bytes(len, index)
    })
}

/// Splits a keyed batch into its events and their key spans, checking every
/// length against the buffer (what the spans say is for the reader to check).
pub fn decode_keyed_batch(buf: &[u8]) -> Result<Vec<(&[u8], KeySpans<'_>)>, WireError> {
    // Each event needs at least its two 4-byte counts.
    decode_events(buf, "keyed batch", 8, |reader, index| {
        let len = reader.u32("event length")?;
        let event = reader.bytes(len, index)?;
        let keys = reader.u32("key count")?;
        let spans = (keys.checked_mul(8))
            .ok_or_else(|| WireError(format!("event {index} claims {keys} keys")))?;
        Ok((event, KeySpans(reader.bytes(spans, index)?)))
    })
}

/// The events of a batch, each read by `event`. `min_event_bytes`, the
/// fewest bytes one can take, bounds a hostile count before anything is
/// allocated for it.
fn decode_events<'a, T>(
    buf: &'a [u8],
    what: &str,
    min_event_bytes: usize,
    mut event: impl FnMut(&mut Reader<'a>, usize) -> Result<T, WireError>,
) -> Result<Vec<T>, WireError> {
    let mut reader = Reader { buf, pos: 0 };
    let count = reader.u32("event count")?;
    if count > buf.len() / min_event_bytes {
        return Err(WireError(format!(
            "{what} claims {count} events but is only {} bytes",
            buf.len()
        )));
    }
    let mut events = Vec::with_capacity(count);
    for index in 0..count {
        events.push(event(&mut reader, index)?);
    }
    reader.finish()?;
    Ok(events)
}

/// Writes results one by one; the count is patched in by [`ResultWriter::finish`].
pub struct ResultWriter<'a> {
    out: &'a mut Vec<u8>,
    count: usize,
    /// Where the payload of the result being written starts.
    payload_start: usize,
}

impl<'a> ResultWriter<'a> {
    /// Starts a result list in `out`, which is cleared first.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.clear();
        out.extend_from_slice(&[0; 4]);
        ResultWriter {
            out,
            count: 0,
            payload_start: 4,
        }
    }

    /// Appends one result.
    pub fn push(&mut self, kind: ResultKind, payload: &[u8]) {
        self.begin(kind);
        self.out.extend_from_slice(payload);
        self.end();
    }

    /// Appends one result whose payload `write` produces straight into the
    /// buffer, which saves a copy for the common "replaced" case.
    pub fn push_with(&mut self, kind: ResultKind, write: impl FnOnce(&mut Vec<u8>)) {
        self.begin(kind);
        write(self.out);
        self.end();
    }

    fn begin(&mut self, kind: ResultKind) {
        self.out.push(kind as u8);
        self.out.extend_from_slice(&[0; 4]);
        self.payload_start = self.out.len();
    }

    fn end(&mut self) {
        // begin() left a 4-byte hole just before the payload; fill in its length.
        let start = self.payload_start;
        let len = to_u32(self.out.len() - start);
        self.out[start - 4..start].copy_from_slice(&len.to_le_bytes());
        self.count += 1;
    }

    /// Writes the final count and returns the whole buffer.
    pub fn finish(self) -> &'a [u8] {
        self.out[..4].copy_from_slice(&to_u32(self.count).to_le_bytes());
        self.out
    }
}

/// Splits a result list, checking it holds exactly `expected` well-formed results.
pub fn decode_results(buf: &[u8], expected: usize) -> Result<Vec<(ResultKind, &[u8])>, WireError> {
    let mut reader = Reader { buf, pos: 0 };
    let count = reader.u32("result count")?;
    if count != expected {
        return Err(WireError(format!(
            "filter returned {count} results for {expected} {}",
            if expected == 1 { "event" } else { "events" }
        )));
    }
    let mut results = Vec::with_capacity(count);
    for index in 0..count {
        let kind_byte = reader.bytes(1, index)?[0];
        let kind = ResultKind::from_byte(kind_byte)
            .ok_or_else(|| WireError(format!("result {index} has unknown kind {kind_byte}")))?;
        let len = reader.u32("result length")?;
        results.push((kind, reader.bytes(len, index)?));
    }
    reader.finish()?;
    Ok(results)
}

fn put_u32(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&to_u32(value).to_le_bytes());
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).expect("wasmstash frames are limited to 4 GiB")
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// What a count of `n` adds to its noun: `1 byte`, `2 bytes`.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl<'a> Reader<'a> {
    fn u32(&mut self, what: &str) -> Result<usize, WireError> {
        let bytes = self.buf.get(self.pos..self.pos + 4).ok_or_else(|| {
            WireError(format!(
                "truncated frame: no room for the {what} at byte {}",
                self.pos
            ))
        })?;
        self.pos += 4;
        Ok(u32::from_le_bytes(bytes.try_into().unwrap()) as usize)
    }

    fn bytes(&mut self, len: usize, index: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.buf.len());
        let end = end.ok_or_else(|| {
            WireError(format!(
                "truncated frame: item {index} needs {len} byte{} at byte {} of {}",
                plural(len),
                self.pos,
                self.buf.len()
            ))
        })?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn finish(&self) -> Result<(), WireError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            let stray = self.buf.len() - self.pos;
            Err(WireError(format!(
                "{stray} stray byte{} after the last item",
                plural(stray)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_round_trips() {
        let events: Vec<&[u8]> = vec![b"{}", br#"{"a":1}"#, b""];
        let mut buf = Vec::new();
        encode_batch(events.iter().copied(), &mut buf);
        assert_eq!(decode_batch(&buf).unwrap(), events);
    }

    #[test]
    fn keyed_batch_round_trips() {
        let texts: [&[u8]; 2] = [b"{}", br#"{"a":1, "bc":2}"#];
        let spans = [vec![], vec![(1, 4), (8, 12)]];
        let mut buf = Vec::new();
        let events = texts.iter().zip(&spans);
        encode_keyed_batch(events.map(|(t, k)| (*t, k.iter().copied())), &mut buf);
        assert_eq!(batch_len(&buf), 2);
        let decoded = decode_keyed_batch(&buf).unwrap();
        for ((text, keys), (want_text, want_keys)) in decoded.iter().zip(texts.iter().zip(&spans)) {
            assert_eq!(text, want_text);
            let got: Vec<(u32, u32)> = keys.iter().map(|(a, b)| (a as u32, b as u32)).collect();
            assert_eq!(&got, want_keys);
        }
        // A plain batch is not a keyed one, and the reverse.
        assert!(decode_keyed_batch(&[1, 0, 0, 0, 2, 0, 0, 0, b'{', b'}']).is_err());
        assert!(decode_batch(&buf).is_err());
    }

    #[test]
    fn results_round_trip_and_count_is_checked() {
        let mut buf = Vec::new();
        let mut writer = ResultWriter::new(&mut buf);
        writer.push(ResultKind::Unchanged, b"");
        writer.push_with(ResultKind::Replaced, |out| {
            out.extend_from_slice(b"{\"x\":2}")
        });
        writer.push(ResultKind::Failed, b"boom");
        let buf = writer.finish().to_vec();
        let results = decode_results(&buf, 3).unwrap();
        assert_eq!(results[1], (ResultKind::Replaced, &b"{\"x\":2}"[..]));
        assert_eq!(results[2], (ResultKind::Failed, &b"boom"[..]));
        assert!(
            decode_results(&buf, 2)
                .unwrap_err()
                .0
                .contains("3 results for 2")
        );
    }

    #[test]
    fn extending_an_event_appends_members_before_its_closing_brace() {
        let extend = |input: &str, members: &str| {
            let mut out = b"stale".to_vec();
            extend_event(input.as_bytes(), members.as_bytes(), &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(extend(r#"{"a":1}"#, r#""b":2"#), r#"{"a":1,"b":2}"#);
        assert_eq!(extend("{}", r#""b":2"#), r#"{"b":2}"#);
        assert_eq!(extend(" { \n } \n", r#""b":2"#), " { \n \"b\":2}");
        assert_eq!(
            extend("{\"a\":{\"x\":{}} }\n", r#""b":2"#),
            r#"{"a":{"x":{}} ,"b":2}"#
        );
    }

    #[test]
    fn hostile_frames_are_rejected_not_trusted() {
        assert!(decode_batch(&[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode_batch(&[1, 0, 0, 0, 9, 0, 0, 0, b'{']).is_err());
        assert!(
            decode_batch(&[0, 0, 0, 0, 1])
                .unwrap_err()
                .0
                .contains("stray")
        );
        assert!(
            decode_results(&[1, 0, 0, 0, 7, 0, 0, 0, 0], 1)
                .unwrap_err()
                .0
                .contains("kind 7")
        );
        assert!(decode_results(&[], 0).is_err());
        assert!(decode_keyed_batch(&[0xff, 0xff, 0xff, 0xff]).is_err());
        // An event claiming more keys than the buffer holds.
        let mut claims = vec![1, 0, 0, 0, 2, 0, 0, 0, b'{', b'}'];
        claims.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_keyed_batch(&claims).is_err());
        assert_eq!(batch_len(&[1, 0]), 0);
    }
}
