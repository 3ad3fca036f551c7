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
//! bounded: the reader waits while [`Flow::in_flight`] batches are read and
//! not yet written.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use indicatif::ProgressBar;

use super::{RunError, Summary, count_failure_tags, open};
use crate::event_check::CheckedEvent;
use crate::input::{self, InputFormat};
use crate::pipeline::{EventResult, Pipeline};

/// How the input is cut and how far the reader may run ahead.
pub(super) struct Flow<'a> {
    pub inputs: &'a [PathBuf],
    pub format: InputFormat,
    pub batch_size: usize,
    pub max_line_bytes: usize,
    /// Batches read and not yet written, at most.
    pub in_flight: usize,
    pub progress: &'a ProgressBar,
}

/// Runs `pipelines` (one per worker) over the input and writes each output
/// event to `out` as a line, counting into `summary`.
pub(super) fn run_batches(
    flow: &Flow,
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
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| read_batches(flow, to_workers, written));
        for mut pipeline in pipelines {
            let (batches, results) = (batches.clone(), results_to_writer.clone());
            scope.spawn(move || work(&mut pipeline, &batches, &results));
        }
        drop((batches, results_to_writer));
        // The writer's channels close when it returns, which stops the reader
        // and the workers if it returns early.
        let wrote = write_in_order(results, written_to_reader, out, summary);
        let read = reader.join().expect("the reader does not panic");
        wrote.and(read)
    })
}

/// Lines read for one call into the pipeline, all in one buffer.
struct LineBatch {
    seq: u64,
    format: InputFormat,
    text: Vec<u8>,
    lines: Vec<Line>,
}

struct Line {
    start: usize,
    end: usize,
    /// The whole length of a line cut to `max_line_bytes`.
    cut: Option<usize>,
}

/// What a worker made of one [`LineBatch`].
struct Processed {
    seq: u64,
    /// The output events, one per line.
    output: Vec<u8>,
    events_in: u64,
    events_out: u64,
    dropped: u64,
    failure_tags: BTreeMap<String, u64>,
}

/// Reads every input into batches for the workers. Returns early, and
/// quietly, when the writer has stopped (it reports why).
fn read_batches(
    flow: &Flow,
    to_workers: SyncSender<LineBatch>,
    written: Receiver<()>,
) -> Result<(), RunError> {
    let mut sender = BatchSender {
        to_workers,
        written,
        sent: 0,
        acknowledged: 0,
        in_flight: flow.in_flight,
    };
    for path in flow.inputs {
        let mut reader = BufReader::with_capacity(1 << 16, open(path)?);
        // Each file is detected, and its last batch sent, on its own.
        let mut format = flow.format;
        let mut batch = sender.empty(format, flow.batch_size);
        let mut line = Vec::new();
        loop {
            let (read, cut) = input::read_line(&mut reader, &mut line, flow.max_line_bytes)
                .map_err(|e| RunError::Io(format!("reading {}: {e}", path.display())))?;
            if read == 0 {
                break;
            }
            flow.progress.inc(read as u64);
            let body = input::trim_newline(&line);
            let blank = body.iter().all(u8::is_ascii_whitespace);
            if format == InputFormat::Auto {
                // Leading blank lines say nothing about the format and are no events.
                if blank {
                    continue;
                }
                format = input::detect(body);
                batch.format = format;
            }
            if blank && format == InputFormat::Ndjson {
                continue;
            }
            let start = batch.text.len();
            batch.text.extend_from_slice(body);
            let end = batch.text.len();
            batch.lines.push(Line { start, end, cut });
            if batch.lines.len() >= flow.batch_size {
                let full = std::mem::replace(&mut batch, sender.empty(format, flow.batch_size));
                if sender.send(full).is_err() {
                    return Ok(());
                }
            }
        }
        if !batch.lines.is_empty() && sender.send(batch).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The reader's end of the channels, counting batches out and written.
struct BatchSender {
    to_workers: SyncSender<LineBatch>,
    written: Receiver<()>,
    sent: u64,
    acknowledged: u64,
    in_flight: usize,
}

/// The writer or every worker has stopped.
struct Stopped;

impl BatchSender {
    fn empty(&self, format: InputFormat, batch_size: usize) -> LineBatch {
        LineBatch {
            seq: 0,
            format,
            text: Vec::new(),
            lines: Vec::with_capacity(batch_size),
        }
    }

    /// Numbers `batch` and sends it, once fewer than `in_flight` batches are
    /// out.
    fn send(&mut self, mut batch: LineBatch) -> Result<(), Stopped> {
        batch.seq = self.sent;
        while self.sent - self.acknowledged >= self.in_flight as u64 {
            self.written.recv().map_err(|_| Stopped)?;
            self.acknowledged += 1;
        }
        self.to_workers.send(batch).map_err(|_| Stopped)?;
        self.sent += 1;
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
                let why = (panic.downcast_ref::<&str>().copied())
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("no message");
                format!("internal error: a worker stopped on batch {seq}: {why}")
            });
        let stop = result.is_err();
        if results.send(result).is_err() || stop {
            return;
        }
    }
}

fn process(pipeline: &mut Pipeline, batch: LineBatch) -> Processed {
    let events: Vec<CheckedEvent> = (batch.lines.iter())
        .filter_map(|line| {
            let text = &batch.text[line.start..line.end];
            let event = input::event(batch.format, text)?;
            Some(match line.cut {
                Some(length) => input::truncated(&event, length, text.len()),
                None => event,
            })
        })
        .collect();
    let mut processed = Processed {
        seq: batch.seq,
        output: Vec::with_capacity(batch.text.len() * 2),
        events_in: events.len() as u64,
        events_out: 0,
        dropped: 0,
        failure_tags: BTreeMap::new(),
    };
    for result in pipeline.process(events) {
        let EventResult::Event(event) = result else {
            processed.dropped += 1;
            continue;
        };
        processed.events_out += 1;
        count_failure_tags(&event, &mut processed.failure_tags);
        processed.output.extend_from_slice(&event);
        processed.output.push(b'\n');
    }
    processed
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
            out.write_all(&processed.output)
                .map_err(|e| RunError::Io(format!("writing output: {e}")))?;
            summary.events_in += processed.events_in;
            summary.events_out += processed.events_out;
            summary.dropped += processed.dropped;
            for (tag, count) in processed.failure_tags {
                *summary.failure_tags.entry(tag).or_default() += count;
            }
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
