//! How the reader cuts a file into batches: by bytes as the events will be
//! in JSON, not as the lines are.

use clap::{Args, FromArgMatches};

use super::super::{RunArgs, flow_for};
use super::*;

/// How the reader of `wasmstash run FILE`, set up as `run` sets it up,
/// cuts a file of five `line`s into batches.
fn lines_per_batch(line: &[u8]) -> Vec<usize> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for _ in 0..5 {
        file.write_all(line).unwrap();
        file.write_all(b"\n").unwrap();
    }
    file.flush().unwrap();
    let path = file.path().to_str().unwrap();
    let command = RunArgs::augment_args(clap::Command::new("run"));
    let args = RunArgs::from_arg_matches(&command.get_matches_from(["run", path])).unwrap();
    let flow = flow_for(&args, 1, ProgressBar::hidden());
    let (to_workers, batches) = mpsc::sync_channel(1);
    let (written_to_reader, written) = mpsc::channel();
    let reader = spawn("test-reader".into(), move || {
        read_batches(&flow, to_workers, written)
    });
    // Taken and written one at a time, as the writer would.
    let mut lines_per_batch = Vec::new();
    for batch in batches {
        let whole = |l: &Line| l.end - l.start == line.len() && l.cut.is_none();
        assert!(batch.lines.iter().all(whole), "a line was cut or merged");
        lines_per_batch.push(batch.lines.len());
        let _ = written_to_reader.send(());
    }
    reader.join().unwrap().unwrap();
    lines_per_batch
}

/// 4 MiB lines: the second line brings a batch to the cap, 8 MiB, which
/// ends it though it is far from the 1000 lines of `--batch-size` (1000
/// such lines would be 4 GiB).
#[test]
fn a_batch_ends_once_its_bytes_reach_the_cap() {
    assert_eq!(lines_per_batch(&vec![b'x'; 4 << 20]), [2, 2, 1]);
}

/// A control character is six bytes in the event (`\u0001`), so lines
/// of 1.5 MiB of them make events of 9 MiB, and each is a batch alone;
/// by the lines' own length, all five would have made one batch of
/// 45 MiB for a filter to hold.
#[test]
fn the_cap_counts_the_events_as_json_not_the_lines() {
    assert_eq!(lines_per_batch(&vec![1; 3 << 19]), [1, 1, 1, 1, 1]);
}

/// A writer with room for `room` bytes, then full, as a disk fills.
struct FullAfter {
    room: usize,
}

impl Write for FullAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        let taken = buf.len().min(self.room);
        self.room -= taken;
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A failed write says how many lines got out whole, and whether part of
/// the next one did too (which leaves the output's last line unreadable).
#[test]
fn a_write_that_fails_says_how_far_it_got() {
    let output = b"{\"a\":1}\n{\"b\":2}\n";
    for (room, lines, cut_line) in [(0, 0, false), (3, 0, true), (8, 1, false), (10, 1, true)] {
        let failed = write_lines(&mut FullAfter { room }, output).err().unwrap();
        assert_eq!(failed.error.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(
            (failed.lines, failed.cut_line),
            (lines, cut_line),
            "room {room}"
        );
    }
    assert!(write_lines(&mut FullAfter { room: 16 }, output).is_ok());
}
