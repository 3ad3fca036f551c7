//! The threads of `wasmstash run`: one reads lines into batches, workers run
//! the batches through pipelines of their own, and the calling thread writes
//! the results in the order the batches were read.
//!
//! Why threads: in one thread a run used one core however many the machine
//! had, and reading and writing waited on the filters. Why this shape: the
//! output must not depend on how many workers ran. Batches are cut exactly as
//! one thread cut them (by events, and at the end of each file), each worker
//! holds a sibling of the pipeline (its own instances of the same stateless
//! filters), and results are written in input order. A pipeline with a
//! stateful filter gets one worker (see `super::worker_count`). Memory stays
//! bounded: a batch ends at [`Flow::batch_size`] lines or
//! [`Flow::max_batch_bytes`] of events (as JSON), and the reader waits while
//! [`Flow::in_flight`] batches, or [`Flow::in_flight_bytes`] of events, are
//! out and not yet written.
//!
//! A live input (a pipe, a terminal) is not held back for a full batch:
//! once it has gone quiet for [`QUIET`], the lines read so far go on as a
//! batch, and each batch is flushed to the output when written. A stop
//! asked by a signal (see `interrupt`) ends the reading as the end of the
//! input would.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufReader, Read, Write};
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::ProgressBar;

use super::{FailureCounts, RunError, Summary, interrupt, open};
use crate::event_check::CheckedEvent;
use crate::files::shown;
use crate::input::{self, CutLength, InputFormat, InputNotes, PartialLine};
use crate::pipeline::{EventResult, Pipeline};

/// How the input is cut and how far the reader may run ahead.
pub(super) struct Flow {
    pub inputs: Vec<PathBuf>,
    pub format: InputFormat,
    pub batch_size: usize,
    /// Bytes of events, as JSON, at which a batch ends even if it has fewer
    /// lines (counted by [`input::event_bytes_bound`]).
    pub max_batch_bytes: usize,
    pub max_line_bytes: usize,
    /// Batches sent to the workers and not yet written, at most.
    pub in_flight: usize,
    /// Bytes of events in those batches, at most, unless one batch alone
    /// holds more (it is then the only one out).
    pub in_flight_bytes: usize,
    pub progress: ProgressBar,
}

/// Runs `pipelines` (one per worker) over the input and writes each output
/// event to `out` as a line, counting into `summary`.
///
/// The reader and the workers run on threads of their own, not joined when
/// the writer fails: the reader may be blocked reading a pipe that stays
/// open (`tail -f … | wasmstash run | head`), and the error must be reported
/// now, not when the next line arrives. The process ends them on exit.
pub(super) fn run_batches(
    flow: Flow,
    pipelines: Vec<Pipeline>,
    out: &mut impl Write,
    summary: &mut Summary,
) -> Result<(), RunError> {
    let (to_workers, batches) = mpsc::sync_channel(pipelines.len());
    // Shared by the workers only, so that once the last of them stops, the
    // reader's next send fails instead of waiting for room.
    let batches = Arc::new(Mutex::new(batches));
    let (results_to_writer, results) = mpsc::channel();
    let (written_to_reader, written) = mpsc::channel();
    let reader = spawn("wasmstash-reader".into(), move || {
        read_batches(&flow, to_workers, written)
    });
    for (number, mut pipeline) in pipelines.into_iter().enumerate() {
        let (batches, results) = (batches.clone(), results_to_writer.clone());
        spawn(format!("wasmstash-worker-{number}"), move || {
            work(&mut pipeline, &batches, &results)
        });
    }
    drop(results_to_writer);
    write_in_order(results, written_to_reader, out, summary)?;
    // Every worker has stopped, so the reader has sent its last batch: this
    // does not wait.
    reader.join().expect("the reader does not panic")
}

fn spawn<T: Send + 'static>(
    name: String,
    body: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .name(name)
        .spawn(body)
        .expect("spawning a thread of `wasmstash run`")
}

/// Lines read for one call into the pipeline, all in one buffer.
struct LineBatch {
    seq: u64,
    format: InputFormat,
    text: Vec<u8>,
    lines: Vec<Line>,
    /// What the lines' events take as JSON, at most
    /// ([`input::event_bytes_bound`]): a line of control characters is six
    /// times as long escaped, and a filter holds the batch that way.
    event_bytes: usize,
}

struct Line {
    start: usize,
    end: usize,
    /// The length of a line cut to `max_line_bytes`.
    cut: Option<CutLength>,
}

/// What a worker made of one [`LineBatch`].
struct Processed {
    seq: u64,
    /// The output events, one per line.
    output: Vec<u8>,
    events_in: u64,
    events_out: u64,
    dropped: u64,
    failures: FailureCounts,
    /// What the filters counted through `metric_add`: filter, name, delta.
    counters: Vec<(String, String, i64)>,
    input_notes: InputNotes,
}

/// Blank lines held at most while `--format auto` waits for a line that
/// says what the input is: 2 MiB of line bounds, whatever the batch size.
const AUTO_HOLD_LINES: usize = 1 << 16;

/// How long a live input may stay quiet before the lines read from it so
/// far go on as a batch; also how often a wait looks for a stop.
pub(super) const QUIET: Duration = Duration::from_millis(100);

/// Reads every input into batches for the workers. Returns early, and
/// quietly, when the writer has stopped (it reports why) or a stop was
/// asked (after sending what it read).
fn read_batches(
    flow: &Flow,
    to_workers: SyncSender<LineBatch>,
    written: Receiver<()>,
) -> Result<(), RunError> {
    let mut sender = BatchSender {
        to_workers,
        written,
        sent: 0,
        out: VecDeque::new(),
        out_bytes: 0,
        in_flight: flow.in_flight,
        in_flight_bytes: flow.in_flight_bytes,
    };
    for path in &flow.inputs {
        let Some(source) = open(path)? else {
            return Ok(());
        };
        let input: Box<dyn Read + Send> = match source.live {
            Some(fd) => Box::new(LiveInput {
                inner: source.reader,
                fd,
            }),
            None => source.reader,
        };
        let mut reader = BufReader::with_capacity(1 << 16, input);
        // Each file is detected, and its last batch sent, on its own.
        let mut batch = LineBatch::new(flow.format, flow.batch_size);
        let (mut line, mut partial) = (Vec::new(), PartialLine::default());
        let mut first_line = true;
        loop {
            // A line begun is finished first: a live input reads as ended
            // once a stop is asked, so the line's end is that.
            if interrupt::requested().is_some() && !partial.in_progress() {
                let _ = sender.send_in_batches(batch, flow.batch_size);
                return Ok(());
            }
            // A stop asked while an overlong line is being read past its
            // cut ends it there: the rest may be gigabytes.
            let stop = || interrupt::requested().is_some();
            let read = input::read_line(
                &mut reader,
                &mut line,
                flow.max_line_bytes,
                &mut partial,
                stop,
            );
            let (read, cut) = match read {
                Ok(read) => read,
                // A live input gone quiet: what is read goes on now, unless
                // it is blank lines whose meaning the next line decides.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if batch.format != InputFormat::Auto
                        && sender.send_on(&mut batch, flow.batch_size).is_err()
                    {
                        return Ok(());
                    }
                    continue;
                }
                // The lines read whole before the failure go out first: a
                // failed read ends the input, it does not take back what
                // came before. A line it cut short is reported, not run.
                Err(e) => {
                    let _ = sender.send_in_batches(batch, flow.batch_size);
                    let input = match path.as_os_str() == "-" {
                        true => "standard input".into(),
                        false => shown(path),
                    };
                    return Err(RunError::Io(format!("reading {input}: {e}")));
                }
            };
            if read == 0 {
                break;
            }
            flow.progress.inc(read as u64);
            let mut body = input::trim_newline(&line);
            if std::mem::take(&mut first_line) {
                body = input::without_byte_order_mark(body);
                // A mark alone is an empty text, with no line in it, as an
                // empty file has none (`wasmstash test` reads it so too).
                if body.is_empty() && !line.ends_with(b"\n") {
                    continue;
                }
            }
            // Blank lines before the first that says what the input is are
            // held: events if it is plain lines, and nothing if it is
            // NDJSON. However many `--batch-size` allows, so that it cannot
            // change what the input is read as; past [`AUTO_HOLD_LINES`] or
            // `max_batch_bytes` of them, the input is text.
            // A cut line is never blank: what its cut dropped is unknown.
            let blank = cut.is_none() && input::is_blank(body);
            if batch.format == InputFormat::Auto && !blank {
                batch.format = input::detect(body, cut.is_some());
                if batch.format == InputFormat::Ndjson {
                    batch.clear();
                } else if sender
                    .send_full_batches(&mut batch, flow.batch_size)
                    .is_err()
                {
                    return Ok(());
                }
            }
            if cut.is_none() && !input::is_event(batch.format, body) {
                continue;
            }
            batch.push(body, cut);
            let holding = batch.format == InputFormat::Auto;
            // Up to [`AUTO_HOLD_LINES`] blank lines are held, as the README
            // says: one more makes the input text.
            let most = if holding {
                AUTO_HOLD_LINES + 1
            } else {
                flow.batch_size
            };
            // Held blank lines are counted by their own bytes (README:
            // "under 8 MiB in all"); a batch, by its events' as JSON.
            let bytes = if holding {
                batch.text.len()
            } else {
                batch.event_bytes
            };
            if batch.lines.len() >= most || bytes >= flow.max_batch_bytes {
                let sent = if holding {
                    batch.format = InputFormat::Lines;
                    sender.send_full_batches(&mut batch, flow.batch_size)
                } else {
                    sender.send_on(&mut batch, flow.batch_size)
                };
                if sent.is_err() {
                    return Ok(());
                }
            }
        }
        if sender.send_in_batches(batch, flow.batch_size).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// A live input, read in polls of [`QUIET`]: a quiet spell is a
/// `WouldBlock` error, so the reader can send the lines it has on even
/// while a line is half written, and a stop asked by a signal reads as the
/// end of the input (a blocked read would wait for the writer however
/// often the user pressed Ctrl-C).
struct LiveInput {
    inner: Box<dyn Read + Send>,
    fd: RawFd,
}

impl Read for LiveInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if interrupt::requested().is_some() {
            return Ok(0);
        }
        if readable_within(self.fd, QUIET)? {
            self.inner.read(buf)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

/// Whether `fd` can be read (has input, or has reached its end) within
/// `timeout`.
fn readable_within(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, and its count.
    let ready = unsafe { libc::poll(&mut poll, 1, timeout.as_millis() as libc::c_int) };
    match ready {
        -1 => {
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::Interrupted => Ok(false),
                _ => Err(error),
            }
        }
        0 => Ok(false),
        // Readable, or closed or failed: either way a read will tell.
        _ => Ok(true),
    }
}

/// The reader's end of the channels, counting batches out and written.
struct BatchSender {
    to_workers: SyncSender<LineBatch>,
    /// One message per batch written, in the order sent.
    written: Receiver<()>,
    sent: u64,
    /// The input bytes of each batch sent and not yet written, oldest first.
    out: VecDeque<usize>,
    out_bytes: usize,
    in_flight: usize,
    in_flight_bytes: usize,
}

/// The writer or every worker has stopped.
struct Stopped;

impl LineBatch {
    fn new(format: InputFormat, batch_size: usize) -> LineBatch {
        LineBatch {
            seq: 0,
            format,
            text: Vec::new(),
            lines: Vec::with_capacity(batch_size),
            event_bytes: 0,
        }
    }

    fn push(&mut self, body: &[u8], cut: Option<CutLength>) {
        let start = self.text.len();
        self.text.extend_from_slice(body);
        let end = self.text.len();
        self.lines.push(Line { start, end, cut });
        self.event_bytes += input::event_bytes_bound(body);
    }

    fn clear(&mut self) {
        self.text.clear();
        self.lines.clear();
        self.event_bytes = 0;
    }
}

impl BatchSender {
    /// Sends `batch` and leaves an empty one of the same format in its
    /// place.
    fn send_on(&mut self, batch: &mut LineBatch, batch_size: usize) -> Result<(), Stopped> {
        let next = LineBatch::new(batch.format, batch_size);
        self.send(std::mem::replace(batch, next))
    }

    /// Sends `batch` in batches of `batch_size` lines, the last one short:
    /// the blank lines `--format auto` held can be more than one batch.
    fn send_in_batches(&mut self, mut batch: LineBatch, batch_size: usize) -> Result<(), Stopped> {
        self.send_full_batches(&mut batch, batch_size)?;
        self.send(batch)
    }

    /// Sends the lines of `batch` in batches of `batch_size`, as long as
    /// there are that many, and leaves the rest in it.
    fn send_full_batches(
        &mut self,
        batch: &mut LineBatch,
        batch_size: usize,
    ) -> Result<(), Stopped> {
        if batch.lines.len() < batch_size {
            return Ok(());
        }
        let held = std::mem::replace(batch, LineBatch::new(batch.format, batch_size));
        for line in &held.lines {
            batch.push(&held.text[line.start..line.end], line.cut);
            if batch.lines.len() == batch_size {
                self.send_on(batch, batch_size)?;
            }
        }
        Ok(())
    }

    /// Numbers `batch` and sends it, once there is room for it within
    /// `in_flight` batches and `in_flight_bytes`. An empty batch is not
    /// sent.
    fn send(&mut self, mut batch: LineBatch) -> Result<(), Stopped> {
        if batch.lines.is_empty() {
            return Ok(());
        }
        let bytes = batch.event_bytes;
        while !self.out.is_empty()
            && (self.out.len() >= self.in_flight || self.out_bytes + bytes > self.in_flight_bytes)
        {
            self.written.recv().map_err(|_| Stopped)?;
            self.out_bytes -= self.out.pop_front().expect("not empty");
        }
        batch.seq = self.sent;
        self.to_workers.send(batch).map_err(|_| Stopped)?;
        self.sent += 1;
        self.out.push_back(bytes);
        self.out_bytes += bytes;
        Ok(())
    }
}

/// One worker: batches in, results out, until either channel closes. A
/// panic (a bug in the host, never a filter's failure, which is a value) is
/// reported to the writer, which stops the run rather than lose the batch.
fn work(
    pipeline: &mut Pipeline,
    batches: &Mutex<Receiver<LineBatch>>,
    results: &Sender<Result<Processed, String>>,
) {
    loop {
        let next = batches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv();
        let Ok(batch) = next else { return };
        let seq = batch.seq;
        let result =
            panic::catch_unwind(AssertUnwindSafe(|| process(pipeline, batch))).map_err(|panic| {
                let why = wasmstash_sdk::panic_message(panic.as_ref()).unwrap_or("no message");
                format!("internal error: a worker stopped on batch {seq}: {why}")
            });
        let stop = result.is_err();
        if results.send(result).is_err() || stop {
            return;
        }
    }
}

fn process(pipeline: &mut Pipeline, batch: LineBatch) -> Processed {
    let mut input_notes = InputNotes::default();
    let events: Vec<CheckedEvent> = (batch.lines.iter())
        .filter_map(|line| {
            let text = &batch.text[line.start..line.end];
            match line.cut {
                Some(length) => Some(input::cut_line_event(
                    batch.format,
                    text,
                    length,
                    &mut input_notes,
                )),
                None => input::event_noted(batch.format, text, None, &mut input_notes),
            }
        })
        .collect();
    let mut processed = Processed {
        seq: batch.seq,
        output: Vec::with_capacity(batch.text.len() * 2),
        events_in: events.len() as u64,
        events_out: 0,
        dropped: 0,
        failures: FailureCounts::default(),
        counters: Vec::new(),
        input_notes,
    };
    for result in pipeline.process(events) {
        let EventResult::Event(event) = result else {
            processed.dropped += 1;
            continue;
        };
        processed.events_out += 1;
        processed.failures.count(&event);
        processed.output.extend_from_slice(&event);
        processed.output.push(b'\n');
    }
    for stage in pipeline.stages_mut() {
        stage.with(|stage| {
            let filter = stage.module().name().to_owned();
            for (name, delta) in stage.take_counters() {
                // One batch's, so bounded per call already (the summary
                // bounds them per filter over the run).
                processed.counters.push((filter.clone(), name, delta));
            }
        });
    }
    processed
}

/// A write of a batch that failed part-way.
struct Unwritten {
    error: io::Error,
    /// The batch's lines that got out whole.
    lines: u64,
    /// Whether part of the next line got out too, so that the output ends
    /// in a line cut short.
    cut_line: bool,
}

/// Writes `output`, whole NDJSON lines, and flushes it; on failure, says
/// how far `out` had taken it.
fn write_lines(out: &mut impl Write, output: &[u8]) -> Result<(), Unwritten> {
    let unwritten = |error: io::Error, taken: usize| Unwritten {
        error,
        lines: memchr::memchr_iter(b'\n', &output[..taken]).count() as u64,
        cut_line: taken > 0 && output[taken - 1] != b'\n',
    };
    let mut taken = 0;
    while taken < output.len() {
        match out.write(&output[taken..]) {
            Ok(0) => return Err(unwritten(io::ErrorKind::WriteZero.into(), taken)),
            Ok(n) => taken += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(unwritten(e, taken)),
        }
    }
    // Past every write, a failed flush cannot say which bytes got out:
    // none are counted (`Output`, which writes the descriptor itself, has
    // nothing to flush).
    out.flush().map_err(|e| unwritten(e, 0))
}

/// Writes results as their turn comes, holding back those that finish
/// early, and tells the reader of each batch written.
fn write_in_order(
    results: Receiver<Result<Processed, String>>,
    written: Sender<()>,
    out: &mut impl Write,
    summary: &mut Summary,
) -> Result<(), RunError> {
    let mut early = BTreeMap::new();
    let mut next = 0;
    for result in results {
        let processed = result.map_err(RunError::Io)?;
        early.insert(processed.seq, processed);
        while let Some(processed) = early.remove(&next) {
            // Flushed batch by batch, so a live feed's events come out as
            // they are filtered, not when a buffer fills.
            let outcome = write_lines(out, &processed.output);
            summary.events_in += processed.events_in;
            summary.dropped += processed.dropped;
            summary.input_notes.add(processed.input_notes);
            match &outcome {
                Ok(()) => {
                    summary.events_out += processed.events_out;
                    summary.failures.add(processed.failures);
                }
                // The summary says how far the output got: `| head -1`
                // leaves most of a batch filtered but never written, and its
                // failure counts are of the events written (recounted: this
                // is the last batch).
                Err(unwritten) => {
                    summary.events_out += unwritten.lines;
                    let lines = processed.output.split(|&b| b == b'\n');
                    for event in lines.take(unwritten.lines as usize) {
                        summary.failures.count(event);
                    }
                }
            }
            for (filter, name, delta) in processed.counters {
                summary.count(filter, name, delta);
            }
            outcome.map_err(|unwritten| RunError::writing(unwritten.error, unwritten.cut_line))?;
            next += 1;
            // The reader may have stopped on an error of its own; it says why.
            let _ = written.send(());
        }
    }
    match early.keys().next() {
        None => Ok(()),
        Some(seq) => Err(RunError::Io(format!(
            "internal error: batch {next} never came back (batch {seq} did)"
        ))),
    }
}

#[cfg(test)]
mod tests;
