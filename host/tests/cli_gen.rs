//! `wasmstash gen` as a user runs it: where its output goes, and the
//! arguments it refuses before making any event.

#[path = "support/binary.rs"]
mod binary;
mod support;

use std::io::Read;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use binary::*;

/// A short scenario: no incidents, so ten minutes are enough.
const SHORT: &[&str] = &["gen", "--duration", "10m", "--incidents-per-kind", "0"];

/// Reads `fifo` to its end on a thread, as a consumer of `gen` would.
fn drain(fifo: &Path) -> std::thread::JoinHandle<Vec<u8>> {
    let fifo = fifo.to_owned();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::fs::File::open(fifo)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    })
}

fn assert_is_fifo(path: &Path) {
    let kind = std::fs::symlink_metadata(path).unwrap().file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&kind),
        "{} was replaced",
        path.display()
    );
}

/// `args` in `dir`, killed (and the test failed) if it outlives `limit`.
fn gen_within(dir: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = spawn_in(dir, args);
    drop(child.stdin.take());
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`wasmstash {}` still running after {limit:?}; stderr: {}",
                args.join(" "),
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn event_lines(bytes: &[u8]) -> usize {
    let lines = text(bytes);
    for line in lines.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    lines.lines().count()
}

#[test]
fn gen_out_writes_into_a_fifo_instead_of_replacing_it() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("events.pipe");
    support::mkfifo(&fifo);
    let reader = drain(&fifo);
    let mut args = SHORT.to_vec();
    args.extend(["--out", "events.pipe", "--truth", "truth.json"]);
    let out = gen_within(dir.path(), &args, Duration::from_secs(60));
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Asked before joining: a reader of a replaced FIFO waits for ever.
    assert_is_fifo(&fifo);
    let events = event_lines(&reader.join().unwrap());
    assert!(events > 100, "the reader got {events} events");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("truth.json")).unwrap()).unwrap();
    assert_eq!(truth["events"], events);
}

/// Without --truth, a FIFO gets no `NAME.truth.json` beside it: the ground
/// truth of a stream is not guessed into a file, and gen says so.
#[test]
fn a_fifo_out_without_truth_says_where_the_truth_went() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("events.pipe");
    support::mkfifo(&fifo);
    let reader = drain(&fifo);
    let mut args = SHORT.to_vec();
    args.extend(["--out", "events.pipe"]);
    let out = gen_within(dir.path(), &args, Duration::from_secs(60));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_is_fifo(&fifo);
    assert!(event_lines(&reader.join().unwrap()) > 100);
    assert!(
        text(&out.stderr).contains("no ground truth written (give --truth FILE)"),
        "{}",
        text(&out.stderr)
    );
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, ["events.pipe"]);
}

/// A symlink is followed: what it points to gets the events (a FIFO is
/// written, a file replaced whole), and the link stays a link.
#[test]
fn gen_out_writes_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("events.pipe");
    support::mkfifo(&fifo);
    std::os::unix::fs::symlink("events.pipe", dir.path().join("to-pipe")).unwrap();
    let reader = drain(&fifo);
    let mut args = SHORT.to_vec();
    args.extend(["--out", "to-pipe", "--truth", "truth.json"]);
    let out = gen_within(dir.path(), &args, Duration::from_secs(60));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let link = std::fs::symlink_metadata(dir.path().join("to-pipe")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    assert!(event_lines(&reader.join().unwrap()) > 100);

    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/events.ndjson"), "earlier\n").unwrap();
    std::os::unix::fs::symlink("data/events.ndjson", dir.path().join("to-file")).unwrap();
    let mut args = SHORT.to_vec();
    args.extend(["--out", "to-file"]);
    let out = gen_within(dir.path(), &args, Duration::from_secs(60));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let link = std::fs::symlink_metadata(dir.path().join("to-file")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    let written = std::fs::read(dir.path().join("data/events.ndjson")).unwrap();
    assert!(event_lines(&written) > 100);
    // The truth is named after the path given, as for any --out.
    assert!(dir.path().join("to-file.truth.json").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A link that points nowhere yet names the file to create: it is made
/// whole, as a missing file is, with its ground truth beside the link.
/// Nothing put at a temporary's name is written through or stands in the
/// way, and --out and --truth may not name one file in two spellings.
#[test]
fn gen_out_replaces_files_without_writing_through_what_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("later.ndjson", dir.path().join("dangling")).unwrap();
    let mut args = SHORT.to_vec();
    args.extend(["--out", "dangling"]);
    let out = gen_within(dir.path(), &args, Duration::from_secs(60));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(event_lines(&std::fs::read(dir.path().join("later.ndjson")).unwrap()) > 100);
    assert!(dir.path().join("dangling.truth.json").is_file());

    // A chain of links, dangling at its end: the file at the end is made.
    std::os::unix::fs::symlink("second", dir.path().join("first")).unwrap();
    std::os::unix::fs::symlink("chained.ndjson", dir.path().join("second")).unwrap();
    let mut args = SHORT.to_vec();
    args.extend(["--out", "first", "--truth", "first.json"]);
    let out = gen_within(dir.path(), &args, Duration::from_secs(60));
    assert!(out.status.success(), "{}", text(&out.stderr));
    for link in ["first", "second"] {
        let metadata = std::fs::symlink_metadata(dir.path().join(link)).unwrap();
        assert!(metadata.file_type().is_symlink(), "{link} was replaced");
    }
    assert!(event_lines(&std::fs::read(dir.path().join("chained.ndjson")).unwrap()) > 100);

    // `exec` keeps the shell's process id, which names the temporaries: a
    // link planted at the first name is passed over, not written through,
    // as is a file a killed run left at the next.
    std::fs::write(dir.path().join("victim"), "kept\n").unwrap();
    let planted = format!(
        "ln -s victim out.ndjson.tmp$$-0 && echo partial > out.ndjson.tmp$$-1 && exec {} {} --out out.ndjson",
        env!("CARGO_BIN_EXE_wasmstash"),
        SHORT.join(" ")
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &planted])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("victim")).unwrap(),
        "kept\n"
    );
    assert!(event_lines(&std::fs::read(dir.path().join("out.ndjson")).unwrap()) > 100);

    // Written directly, never replaced, a device may take both.
    let mut args = SHORT.to_vec();
    args.extend(["--out", "/dev/null", "--truth", "/dev/null"]);
    let out = gen_within(dir.path(), &args, Duration::from_secs(60));
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut args = SHORT.to_vec();
    args.extend(["--out", "c.ndjson", "--truth", "./c.ndjson"]);
    let out = gen_within(dir.path(), &args, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--truth names the same file as --out"));
}

/// Spans and the disorder are bounded, so no argument makes gen hold days
/// of events in memory or run for ever.
#[test]
fn gen_refuses_spans_and_disorder_out_of_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--disorder-secs", "10000000"], "--disorder-secs"),
        (&["--disorder-secs", "3601"], "--disorder-secs"),
        (&["--duration", "99999999999999d"], "at most 366 days"),
        (&["--duration", "367d"], "at most 366 days"),
        (&["--duration", "18446744073709551615s"], "at most 366 days"),
        (&["--warmup", "99999999999999d"], "at most 366 days"),
        (&["--scale", "1000", "--disorder-secs", "3600"], "in memory"),
        (&["--scale", "0"], "--scale 0: must be in (0, 1000]"),
        (
            &["--follow", "--rate", "0"],
            "--rate 0: must be in (0, 1000000]",
        ),
        (
            &["--start", "9999-12-31T23:59:00Z", "--duration", "1h"],
            "end of year 9999",
        ),
        // The live mode never ends, so a file it would replace once
        // complete would never appear.
        (&["--follow", "--out", "live.ndjson"], "cannot be used with"),
        (&["--follow", "--truth", "live.json"], "cannot be used with"),
        // Nor does it take the scenario's shape, which it would ignore.
        (&["--follow", "--duration", "1s"], "cannot be used with"),
        (&["--follow", "--scale", "2"], "cannot be used with"),
        (
            &["--follow", "--start", "2000-01-01T00:00:00Z"],
            "cannot be used with",
        ),
        (
            &["--follow", "--incidents-per-kind", "5"],
            "cannot be used with",
        ),
        (&["--follow", "--disorder-secs", "1"], "cannot be used with"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["gen"];
        args.extend_from_slice(extra);
        let out = gen_within(dir.path(), &args, Duration::from_secs(20));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{extra:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(message),
            "{extra:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{extra:?}: events were written");
    }
    assert!(!dir.path().join("live.ndjson").exists());
    let out = gen_within(dir.path(), &["gen", "--help"], Duration::from_secs(20));
    let help = text(&out.stdout);
    assert!(
        help.contains("at most 3600") && help.contains("at most 366 days"),
        "{help}"
    );
}

#[test]
fn gen_follow_refuses_a_peer_that_is_not_host_and_port() {
    let dir = tempfile::tempdir().unwrap();
    for peer in [
        "notanaddress",
        "host:",
        ":5000",
        "host:99999",
        "::1:5000",
        "a b:5000",
    ] {
        let out = gen_within(
            dir.path(),
            &["gen", "--follow", "--tcp", peer],
            Duration::from_secs(20),
        );
        assert_eq!(out.status.code(), Some(2), "{peer}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("expected HOST:PORT"),
            "{peer}: {}",
            text(&out.stderr)
        );
    }
}

/// Well-formed peers are taken, by address or by name.
#[test]
fn gen_follow_sends_to_a_peer_by_address_or_name() {
    let dir = tempfile::tempdir().unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = format!("{host}:{}", listener.local_addr().unwrap().port());
        let mut child = spawn_in(
            dir.path(),
            &["gen", "--follow", "--rate", "1000", "--tcp", &peer],
        );
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut line = [0u8; 1];
        stream.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"{", "{peer}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// The live mode's incidents, as it logs them: each has an id of its own
/// (incidents over are forgotten, their ids are not reused), and a service
/// is never shown one new error template twice, so each such incident
/// brings lines its detectors have not seen.
#[test]
fn gen_follow_gives_each_incident_its_own_id_and_new_template() {
    use std::collections::HashSet;
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    // An incident on every 100 ms tick, from the start.
    let mut child = spawn_in(
        dir.path(),
        &[
            "gen",
            "--follow",
            "--rate",
            "1",
            "--warmup",
            "0s",
            "--incident-every",
            "0s",
        ],
    );
    let mut stdout = child.stdout.take().unwrap();
    let events = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let mut ids = HashSet::new();
    let mut shown = HashSet::new();
    let mut new_templates = 0;
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let Some(incident) = line.strip_prefix("wasmstash gen: incident ") else {
            continue;
        };
        let incident: serde_json::Value = serde_json::from_str(incident).unwrap();
        assert!(ids.insert(incident["id"].as_u64().unwrap()), "{line}");
        if incident["type"] == "new_error_template" {
            new_templates += 1;
            let detail = incident["detail"].as_str().unwrap().to_owned();
            assert!(detail.contains(": "), "{line}");
            assert!(
                shown.insert((incident["service"].as_str().unwrap().to_owned(), detail)),
                "a template shown twice: {line}"
            );
        }
        // A sixth of incidents are new templates: 60 give about ten.
        if ids.len() >= 60 && new_templates >= 2 || ids.len() == 1000 {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = events.join();
    assert!(new_templates >= 2, "{new_templates} new template incidents");
}

/// In a directory no file can be made in, an earlier `--out` file is
/// written in place, so a truth file that cannot be made there fails the
/// run before any event, and leaves the earlier events as they were; with
/// the truth elsewhere, the file is cut to the new events.
#[test]
fn gen_out_in_a_closed_directory_is_kept_until_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let closed = dir.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    let earlier = "{\"earlier\":true}\n".repeat(20_000);
    std::fs::write(closed.join("events.ndjson"), &earlier).unwrap();
    let _closed = support::ClosedDir::close(&closed);
    let mut args = SHORT.to_vec();
    args.extend(["--out", "closed/events.ndjson"]);
    let refused = gen_within(dir.path(), &args, Duration::from_secs(60));
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    let said = text(&refused.stderr);
    assert!(
        said.contains("closed/events.truth.json: cannot make a file beside it"),
        "the file given is named, not a temporary: {said}"
    );
    assert_eq!(
        std::fs::read_to_string(closed.join("events.ndjson")).unwrap(),
        earlier
    );

    args.extend(["--truth", "truth.json"]);
    let written = gen_within(dir.path(), &args, Duration::from_secs(60));
    assert!(written.status.success(), "{}", text(&written.stderr));
    let events = std::fs::read(closed.join("events.ndjson")).unwrap();
    assert!(event_lines(&events) > 0);
    assert!(!text(&events).contains("earlier"));
}

/// The events are put in place only once their truth is written: a truth
/// that cannot be written (a full device here) leaves the earlier events.
/// And a run cut short in place (its file size limit, here) leaves a
/// prefix of its own events, never them over the earlier file's tail.
#[test]
fn gen_out_is_replaced_only_with_its_truth_and_never_spliced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.ndjson");
    let earlier = "{\"earlier\":true}\n".repeat(200_000);
    std::fs::write(&out, &earlier).unwrap();
    let mut args = SHORT.to_vec();
    args.extend(["--out", "events.ndjson", "--truth", "/dev/full"]);
    let refused = gen_within(dir.path(), &args, Duration::from_secs(60));
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    let kept = std::fs::read_to_string(&out).unwrap();
    assert!(
        kept == earlier,
        "{} bytes left of {}",
        kept.len(),
        earlier.len()
    );

    let closed = dir.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::write(closed.join("events.ndjson"), &earlier).unwrap();
    let _closed = support::ClosedDir::close(&closed);
    // 64 KiB: a few hundred events, far fewer than 6 h of them.
    let mut command = std::process::Command::new("sh");
    command.current_dir(dir.path()).args([
        "-c",
        "ulimit -f 64; exec \"$0\" gen --duration 6h --out closed/events.ndjson --truth t.json",
        env!("CARGO_BIN_EXE_wasmstash"),
    ]);
    let cut = command.output().unwrap();
    assert_ne!(cut.status.code(), Some(0), "{}", text(&cut.stderr));
    assert!(
        text(&cut.stderr).contains("writing events to closed/events.ndjson: "),
        "the file is named: {}",
        text(&cut.stderr)
    );
    let left = std::fs::read_to_string(closed.join("events.ndjson")).unwrap();
    assert!(
        !left.is_empty() && left.len() <= 64 << 10,
        "{} bytes",
        left.len()
    );
    assert!(!left.contains("earlier"), "the earlier file's tail is gone");
}
