//! A batch's answer, written as hyper asks for it rather than built whole
//! first: built whole, the answer was a second copy of the results (its
//! text is theirs with a few bytes a line), held beside them while it was
//! made and, with them let go, for as long as the client took to read it.
//! Here each piece is made from the results as hyper has room for it, and
//! each result's memory goes (with its part of the request's share of the
//! budget) once its piece has been taken.
//!
//! Until then it is held, and counted against the budget, so a client that
//! takes its answer slowly holds it long: `write_timeout_ms` cuts off one
//! that takes nothing, and [`Pace`] one that takes a trickle, slower than
//! `server.min_answer_bytes_per_sec` on average once the answer has been
//! written for `write_timeout_ms`. Enough such clients would otherwise
//! keep every other request out.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body::{Frame, SizeHint};

use super::body::ANSWER_PIECE;
use super::budget::{Share, allocation};
use crate::pipeline::EventResult;

/// A line that is not a valid event: its place among the batch's lines
/// and its answer line, `{"error":...}` and the newline, written whole.
pub(crate) type ErrorLine = (usize, Vec<u8>);

const EVENT_OPEN: &[u8] = b"{\"event\":";
const EVENT_CLOSE: &[u8] = b"}\n";
const DROPPED: &[u8] = b"{\"dropped\":true}\n";

/// An event at least this long goes to hyper as it is, between the pieces
/// around it, rather than be copied into one.
const HANDED_WHOLE: usize = ANSWER_PIECE / 2;

pub(crate) struct BatchAnswer {
    results: std::vec::IntoIter<EventResult>,
    /// Each taken error line is left empty, its memory gone.
    errors: Vec<ErrorLine>,
    next_error: usize,
    /// The next line's place, and how many lines there are.
    line: usize,
    lines: usize,
    /// Pieces made and not yet handed to hyper.
    ready: VecDeque<Bytes>,
    /// Bytes of the answer not yet handed to hyper.
    left: u64,
    /// The memory of results made into the last pieces, given back once
    /// hyper asks for more: it has room again, so has written most of them.
    spent: usize,
    share: Share,
    pace: Pace,
    /// The whole answer's bytes: less `left`, what hyper has been handed.
    size: u64,
    /// When hyper first asked for a piece.
    started: Option<Instant>,
}

/// The slowest an answer may be taken: on average `min_bytes_per_sec`
/// from its first piece, once `grace` has passed (0: no minimum).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    pub grace: Duration,
    pub min_bytes_per_sec: u64,
}

/// Why an answer was cut off: its client took it too slowly, as measured
/// by the answer as it was made, or by the write that waited on it.
#[derive(Debug)]
pub(crate) struct SlowReader {
    bytes: u64,
    seconds: f64,
    min_bytes_per_sec: u64,
    while_waiting: bool,
}

impl SlowReader {
    /// A client that took `bytes` in `elapsed`, if that is less than
    /// `min_bytes_per_sec` on average: measured by the answer as it was
    /// handed to hyper, or (`while_waiting`) by the write that waited on
    /// the client, from when it fell behind.
    pub(crate) fn below_pace(
        bytes: u64,
        elapsed: Duration,
        min_bytes_per_sec: u64,
        while_waiting: bool,
    ) -> Option<SlowReader> {
        let seconds = elapsed.as_secs_f64();
        let owed = (min_bytes_per_sec as f64 * seconds) as u64;
        (bytes < owed).then_some(SlowReader {
            bytes,
            seconds,
            min_bytes_per_sec,
            while_waiting,
        })
    }
}

impl std::fmt::Display for SlowReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (seconds, bytes, min) = (self.seconds, self.bytes, self.min_bytes_per_sec);
        match self.while_waiting {
            false => write!(
                f,
                "in {seconds:.1} s the client was sent {bytes} bytes of its answer, what it read and what the buffers on the way hold, slower than server.min_answer_bytes_per_sec ({min})"
            ),
            true => write!(
                f,
                "in the {seconds:.1} s since the server first waited to write more of its answer, the client took {bytes} bytes, slower than server.min_answer_bytes_per_sec ({min})"
            ),
        }
    }
}

impl std::error::Error for SlowReader {}

impl BatchAnswer {
    /// The answer to a batch of `lines` lines: `results` for its valid
    /// lines, in order, `errors` for the others, in order of place, and the
    /// request's share of the budget, which stands for them.
    pub(crate) fn new(
        results: Vec<EventResult>,
        errors: Vec<ErrorLine>,
        lines: usize,
        share: Share,
        pace: Pace,
    ) -> BatchAnswer {
        let results_text: usize = (results.iter())
            .map(|result| match result {
                EventResult::Event(text) => EVENT_OPEN.len() + text.len() + EVENT_CLOSE.len(),
                EventResult::Dropped => DROPPED.len(),
            })
            .sum();
        let errors_text: usize = errors.iter().map(|(_, line)| line.len()).sum();
        let size = (results_text + errors_text) as u64;
        BatchAnswer {
            results: results.into_iter(),
            errors,
            next_error: 0,
            line: 0,
            lines,
            ready: VecDeque::new(),
            left: size,
            spent: 0,
            share,
            pace,
            size,
            started: None,
        }
    }

    /// The first lines of the answer, whole, up to `limit` bytes, made
    /// without taking anything from it: what the live view samples.
    pub(crate) fn first_lines(&self, limit: usize) -> Bytes {
        let mut out = Vec::new();
        let mut results = self.results.as_slice().iter();
        let mut errors = self.errors[self.next_error..].iter().peekable();
        for line in self.line..self.lines {
            let start = out.len();
            if errors.peek().is_some_and(|(at, _)| *at == line) {
                out.extend_from_slice(&errors.next().expect("peeked").1);
            } else {
                write_result(&mut out, results.next().expect("one result per valid line"));
            }
            if out.len() > limit {
                out.truncate(start);
                break;
            }
        }
        Bytes::from(out)
    }

    /// Whether the client has taken the answer too slowly. Hyper asks for
    /// a piece once it has room, so what it was handed is what the client
    /// took and what waits in hyper's and the kernel's buffers (up to a few
    /// MB): the measure errs toward not cutting, and a reader just under
    /// the minimum is cut only once those buffers' worth is owed too.
    fn too_slow(&mut self) -> Option<SlowReader> {
        let Pace {
            grace,
            min_bytes_per_sec,
        } = self.pace;
        if min_bytes_per_sec == 0 {
            return None;
        }
        let elapsed = self.started.get_or_insert_with(Instant::now).elapsed();
        let handed = self.size - self.left;
        (elapsed > grace)
            .then(|| SlowReader::below_pace(handed, elapsed, min_bytes_per_sec, false))
            .flatten()
    }

    /// Makes the next pieces: lines up to about [`ANSWER_PIECE`] bytes, and
    /// a long event on its own.
    fn make_pieces(&mut self) {
        let mut piece = Vec::with_capacity(ANSWER_PIECE + HANDED_WHOLE + 32);
        while piece.len() < ANSWER_PIECE && self.line < self.lines {
            let line = self.line;
            self.line += 1;
            if let Some((at, text)) = self.errors.get_mut(self.next_error)
                && *at == line
            {
                let text = std::mem::take(text);
                self.next_error += 1;
                piece.extend_from_slice(&text);
                self.spent += allocation(text.capacity());
                continue;
            }
            match self.results.next().expect("one result per valid line") {
                EventResult::Event(text) if text.len() >= HANDED_WHOLE => {
                    self.spent += allocation(text.capacity());
                    piece.extend_from_slice(EVENT_OPEN);
                    self.ready.push_back(Bytes::from(piece));
                    self.ready.push_back(Bytes::from(text));
                    piece = EVENT_CLOSE.to_vec();
                    break;
                }
                result => {
                    if let EventResult::Event(text) = &result {
                        self.spent += allocation(text.capacity());
                    }
                    write_result(&mut piece, &result);
                }
            }
        }
        if !piece.is_empty() {
            self.ready.push_back(Bytes::from(piece));
        }
    }
}

fn write_result(out: &mut Vec<u8>, result: &EventResult) {
    match result {
        EventResult::Event(text) => {
            out.extend_from_slice(EVENT_OPEN);
            out.extend_from_slice(text);
            out.extend_from_slice(EVENT_CLOSE);
        }
        EventResult::Dropped => out.extend_from_slice(DROPPED),
    }
}

impl http_body::Body for BatchAnswer {
    type Data = Bytes;
    type Error = SlowReader;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(slow) = this.too_slow() {
            return Poll::Ready(Some(Err(slow)));
        }
        if this.ready.is_empty() {
            let spent = std::mem::take(&mut this.spent);
            this.share.give_back(spent);
            this.make_pieces();
        }
        Poll::Ready(this.ready.pop_front().map(|piece| {
            this.left -= piece.len() as u64;
            Ok(Frame::data(piece))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::budget::Budget;
    use http_body::Body;

    const UNPACED: Pace = Pace {
        grace: Duration::ZERO,
        min_bytes_per_sec: 0,
    };

    fn answer_text(mut answer: BatchAnswer) -> Vec<u8> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = Vec::new();
        let declared = answer.size_hint().exact().unwrap();
        while let Poll::Ready(Some(frame)) = Pin::new(&mut answer).poll_frame(&mut cx) {
            out.extend_from_slice(&frame.unwrap().into_data().unwrap());
        }
        assert_eq!(out.len() as u64, declared);
        out
    }

    #[test]
    fn lines_come_in_order_with_their_errors_and_long_events_whole() {
        let long = format!("{{\"m\":\"{}\"}}", "x".repeat(HANDED_WHOLE));
        let results = vec![
            EventResult::Event(b"{\"a\":1}".to_vec()),
            EventResult::Dropped,
            EventResult::Event(long.clone().into_bytes()),
            EventResult::Event(b"{\"b\":2}".to_vec()),
        ];
        let errors = vec![
            (0, b"{\"error\":\"e0\"}\n".to_vec()),
            (3, b"{\"error\":\"e3\"}\n".to_vec()),
        ];
        let budget = Budget::new(1 << 20);
        let mut share = Share::new(&budget);
        share.grow(1000).unwrap();
        let answer = BatchAnswer::new(results, errors, 6, share, UNPACED);
        let sample = answer.first_lines(40);
        assert_eq!(&sample[..], b"{\"error\":\"e0\"}\n{\"event\":{\"a\":1}}\n");
        let expected = format!(
            "{{\"error\":\"e0\"}}\n{{\"event\":{{\"a\":1}}}}\n{{\"dropped\":true}}\n{{\"error\":\"e3\"}}\n{{\"event\":{long}}}\n{{\"event\":{{\"b\":2}}}}\n"
        );
        assert_eq!(String::from_utf8(answer_text(answer)).unwrap(), expected);
        assert_eq!(budget.held(), 0);
    }

    /// Past its grace, an answer taken slower than the minimum ends in an
    /// error, which makes hyper cut the connection; one taken fast enough,
    /// or with no minimum, does not.
    #[test]
    fn an_answer_taken_too_slowly_is_cut_off() {
        let answer = |pace| {
            let results = vec![EventResult::Event(vec![b'1'; 3 * ANSWER_PIECE])];
            let budget = Budget::new(1 << 20);
            BatchAnswer::new(results, Vec::new(), 1, Share::new(&budget), pace)
        };
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let slow = Pace {
            grace: Duration::from_millis(20),
            min_bytes_per_sec: 1 << 30,
        };
        let mut cut = answer(slow);
        let first = Pin::new(&mut cut).poll_frame(&mut cx);
        assert!(matches!(first, Poll::Ready(Some(Ok(_)))));
        std::thread::sleep(Duration::from_millis(40));
        match Pin::new(&mut cut).poll_frame(&mut cx) {
            Poll::Ready(Some(Err(slow))) => {
                assert!(
                    slow.to_string().contains("min_answer_bytes_per_sec"),
                    "{slow}"
                );
            }
            other => panic!("not cut off: {other:?}"),
        }
        // Within its grace, or with no minimum, it is written whole.
        let patient = Pace {
            grace: Duration::from_secs(3600),
            ..slow
        };
        assert_eq!(answer_text(answer(patient)).len(), 3 * ANSWER_PIECE + 11);
        assert_eq!(answer_text(answer(UNPACED)).len(), 3 * ANSWER_PIECE + 11);
    }
}
