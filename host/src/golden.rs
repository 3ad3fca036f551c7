//! `wasmstash test`: runs a filter module over input files and compares the
//! output with expected NDJSON ("golden") files, for plugin authors.
//!
//! A case is an input file, `NAME.log` (raw lines) or `NAME.ndjson` (events),
//! with its expected output in `NAME.expected.ndjson` beside it: one line per
//! input event, the event as it should come out, or
//! `{"wasmstash":{"dropped":true}}` for an event the filter drops (the same
//! marker the sidecar's event endpoint answers with). A mismatch prints a
//! field-level diff (`compare`); `--bless` rewrites the expected files
//! instead. Which files are cases is `cases`'s to say; which filters run
//! before the one under test, `before`'s.

mod before;
mod build;
mod cases;
mod compare;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::Value;

use crate::config::{
    ConfigError, FilterLoadError, FilterSpec, MAX_CONFIG_BYTES, check_config_object,
    distinct_names, load_filters,
};
use crate::engine::{Engine, EngineSettings, LoadErrorKind};
use crate::event_check::CheckedEvent;
use crate::files::{read_capped, read_capped_text, shown};
use crate::input::{self, InputFormat};
use crate::pipeline::{EventResult, Pipeline};

/// The name of the pipeline the tested filters run in.
const TEST_PIPELINE: &str = "test";

/// The line that stands for a dropped event in expected files.
pub const DROPPED: &str = r#"{"wasmstash":{"dropped":true}}"#;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  wasmstash test --crate my-filter
  (builds my-filter, runs my-filter/tests/*.log and *.ndjson, each against
  its NAME.expected.ndjson; --bless writes them)
  wasmstash test --module target/wasm32-unknown-unknown/release/my_filter.wasm \\
      --config '{\"field\":\"message\"}' tests/basic.log
  (compares with tests/basic.expected.ndjson)
  wasmstash test --module my_filter.wasm \\
      --before 'grok={\"match\":{\"message\":\"%{COMBINEDAPACHELOG}\"}}' tests/access.log
  (grok runs first, then my_filter; tests/access.expected.ndjson holds what
  the two make of each line)")]
pub struct TestArgs {
    /// The filter: a .wasm/.wat file, or a built-in name.
    #[arg(long, value_name = "MODULE", conflicts_with = "crate_dir")]
    pub module: Option<String>,
    /// Build this filter crate to WebAssembly first and test the result.
    /// DIR/before.json, if there, lists filters to run before it, like
    /// [{"filter": "grok", "config": {"match": {"message": "%{COMBINEDAPACHELOG}"}}}]
    /// (module paths are taken from DIR).
    #[arg(long = "crate", value_name = "DIR")]
    pub crate_dir: Option<PathBuf>,
    /// The filter's JSON config (default: the crate's `config.json` with
    /// --crate, when it has one; else `{}`).
    #[arg(long)]
    pub config: Option<String>,
    /// A filter to run before the one under test, as `run --filter` takes
    /// it: a built-in or a .wasm/.wat file, then `=` and its JSON config
    /// (default `{}`). Repeat for several; they run in the order given. The
    /// expected files hold what the whole chain outputs. When given, the
    /// crate's before.json is not read.
    #[arg(long, value_name = "FILTER[=JSON]")]
    pub before: Vec<String>,
    /// Rewrite the expected files with the actual output.
    #[arg(long)]
    pub bless: bool,
    /// What the filters' clock reads, fixed for the whole run, in UTC as
    /// Logstash writes `@timestamp` (e.g. 2026-06-10T12:00:00Z, a fraction
    /// of a second allowed): for filters whose
    /// output depends on "now" (a year guessed for syslog dates, a time
    /// stamped on events), so that their expected files hold.
    #[arg(long, value_name = "TIME", value_parser = fixed_time)]
    pub now: Option<i64>,
    /// Largest case or expected file read, in MiB (1 to 4096); only regular
    /// files are read.
    #[arg(long, default_value_t = 16, value_name = "MIB",
          value_parser = crate::cli_number::in_range::<1, 4096>)]
    pub max_case_mib: u64,
    /// Input files: NAME.log (lines) or NAME.ndjson (events), each compared
    /// with NAME.expected.ndjson beside it; expected files named here are
    /// skipped. With --crate and none named: the crate's tests/*.log and
    /// tests/*.ndjson.
    #[arg(value_name = "CASE")]
    pub cases: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("{0}")]
    Setup(String),
    #[error("{0} case(s) failed")]
    Failed(usize),
    /// Printing the results failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<ConfigError> for TestError {
    fn from(e: ConfigError) -> Self {
        TestError::Setup(e.0)
    }
}

/// Runs every case, printing each one's result to `out`.
pub fn run(args: &TestArgs, out: &mut dyn Write) -> Result<(), TestError> {
    if args.module.is_none() && args.crate_dir.is_none() {
        return Err(TestError::Setup("give --module FILE or --crate DIR".into()));
    }
    if let Some(dir) = &args.crate_dir {
        build::crate_manifest(dir).map_err(TestError::Setup)?;
    }
    // Cases, config and before-filters are checked before a crate is
    // built, so that a mistake in them is named without waiting for cargo.
    let cases = cases::select(&args.cases, args.crate_dir.as_deref()).map_err(TestError::Setup)?;
    for skipped in &cases.skipped {
        writeln!(
            out,
            "skip {} (an expected file, not a case)",
            shown(skipped)
        )?;
    }
    let (config, config_file) = match (&args.config, &args.crate_dir) {
        (Some(config), _) => (checked_config(config, "--config")?, None),
        (None, Some(dir)) => crate_config(dir)?,
        (None, None) => ("{}".to_owned(), None),
    };
    let before =
        before::select(&args.before, args.crate_dir.as_deref()).map_err(TestError::Setup)?;
    let target = match (&args.module, &args.crate_dir) {
        (Some(module), _) => module.clone(),
        (None, Some(dir)) => build::filter_module(dir)
            .map_err(TestError::Setup)?
            .display()
            .to_string(),
        (None, None) => unreachable!("refused above"),
    };
    let option = if args.module.is_some() {
        "--module"
    } else {
        "--crate"
    };
    let mut chain = before.specs.clone();
    let mut spec = FilterSpec::from_target(&target, &config, option)?;
    if let Some(file) = &config_file {
        // Paths in a crate's config.json are the crate's, wherever the test runs.
        spec.config_dir = file.parent().unwrap_or(Path::new(".")).to_owned();
    }
    chain.push(spec);
    // Names show in failure records; `--before mutate --module mutate`
    // makes the second `mutate#2`, as a pipeline would.
    distinct_names(&mut chain).map_err(TestError::Setup)?;
    let settings = EngineSettings {
        fixed_clock: args.now,
        ..EngineSettings::default()
    };
    let engine = Engine::new(settings).map_err(|e| TestError::Setup(e.to_string()))?;
    let loaded = {
        let _span = crate::pipeline::logging_in(TEST_PIPELINE);
        load_filters(&engine, &chain)
    };
    let modules = loaded.map_err(|errors| {
        let lines: Vec<String> = (errors.into_iter())
            .map(|e| load_failure(e, &before, config_file.as_deref()))
            .collect();
        TestError::Setup(lines.join("\n"))
    })?;
    let limit = args.max_case_mib << 20;
    let mut failed = 0;
    for case in &cases.run {
        let mut pipeline = Pipeline::new(TEST_PIPELINE, modules.clone());
        if !run_case(&mut pipeline, case, args, limit, out)? {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(TestError::Failed(failed));
    }
    Ok(())
}

/// Why the chain did not load, saying where the filter that failed was
/// named: a before-filter by its origin, the one under test (when it is not
/// alone) as such, and, when its init refused its config, which file that
/// config is, as that file is what to fix.
fn load_failure(e: FilterLoadError, before: &before::Before, config_file: Option<&Path>) -> String {
    if e.index < before.specs.len() {
        let FilterLoadError { index, name, error } = e;
        return format!(
            "filter #{} (`{name}`), {}: {error}",
            index + 1,
            before.origin
        );
    }
    let config_file = match (e.error.kind(), config_file) {
        (LoadErrorKind::Init, Some(file)) => format!(" (the config is {})", shown(file)),
        _ => String::new(),
    };
    if before.specs.is_empty() {
        return format!("{e}{config_file}");
    }
    let FilterLoadError { index, name, error } = e;
    format!(
        "filter #{} (`{name}`), the one under test: {error}{config_file}",
        index + 1
    )
}

/// `path` read as `what`, under `limit` bytes; errors say how to raise it.
fn read_case_file(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, TestError> {
    read_capped(path, limit, what).map_err(|e| {
        let raise = match e.kind() {
            std::io::ErrorKind::FileTooLarge => " (raise the cap with --max-case-mib)",
            _ => "",
        };
        TestError::Setup(format!("{}: {e}{raise}", shown(path)))
    })
}

/// `--now`'s UTC time, in nanoseconds since the Unix epoch.
fn fixed_time(text: &str) -> Result<i64, String> {
    let time = wasmstash_sdk::timestamp::Timestamp::parse(text)
        .ok_or_else(|| format!("`{text}` is not a UTC time like 2026-06-10T12:00:00Z"))?;
    // The clock import counts nanoseconds in an i64: 1677 to 2262.
    (time.seconds().checked_mul(1_000_000_000))
        .and_then(|nanos| nanos.checked_add(i64::from(time.nanos())))
        .ok_or_else(|| format!("`{text}` is past what the clock can hold (years 1678 to 2261)"))
}

/// Runs one case; prints its result; returns whether it passed.
fn run_case(
    pipeline: &mut Pipeline,
    case: &Path,
    args: &TestArgs,
    limit: u64,
    out: &mut dyn Write,
) -> Result<bool, TestError> {
    let (bless, clock) = (args.bless, args.now);
    let read = read_case_file(case, limit, "case file")?;
    // As `run` reads a file: a byte-order mark is not part of the text.
    let text = input::without_byte_order_mark(&read);
    let format = if case.extension().is_some_and(|e| e == "ndjson") {
        InputFormat::Ndjson
    } else {
        InputFormat::Lines
    };
    // A trailing newline ends the last line; it does not start an empty
    // one. An empty file has no line at all, as for `wasmstash run`.
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let events: Vec<CheckedEvent> = body
        .split(|&b| b == b'\n')
        .take(if text.is_empty() { 0 } else { usize::MAX })
        .filter_map(|line| input::event(format, input::trim_newline(line), clock))
        .collect();
    let count = events.len();
    let started = Instant::now();
    // In `run`'s batches, so that a case meets the filters, and their
    // memory, as the same lines would in production.
    let mut events = events.into_iter().peekable();
    let mut results = Vec::with_capacity(count);
    while events.peek().is_some() {
        let batch = events
            .by_ref()
            .take(crate::run::DEFAULT_BATCH_EVENTS)
            .collect();
        results.extend(pipeline.process(batch));
    }
    let elapsed = started.elapsed();
    let peak_memory = (pipeline.stages_mut().iter_mut())
        .map(|s| s.with(|stage| stage.peak_memory_bytes()))
        .max()
        .unwrap_or(0);
    let actual: Vec<String> = results
        .into_iter()
        .map(|r| match r {
            EventResult::Event(bytes) => String::from_utf8(bytes).expect("events are UTF-8"),
            EventResult::Dropped => DROPPED.to_owned(),
        })
        .collect();
    let expected_file = cases::expected_path(case);
    let cost = cost_line(count, elapsed, peak_memory);
    if bless {
        // Asked first: writing to a FIFO would wait for a reader.
        if std::fs::metadata(&expected_file).is_ok_and(|m| !m.is_file()) {
            return Err(TestError::Setup(format!(
                "{}: the expected file is not a regular file",
                shown(&expected_file)
            )));
        }
        let mut body = actual.join("\n");
        body.push('\n');
        std::fs::write(&expected_file, body)
            .map_err(|e| TestError::Setup(format!("{}: {e}", shown(&expected_file))))?;
        writeln!(
            out,
            "blessed {} ({}){cost}",
            shown(&expected_file),
            event_count(count)
        )?;
        return Ok(true);
    }
    if !expected_file.exists() {
        // One case's missing file fails that case, not the run: an author
        // who adds several cases sees each one that needs a bless.
        writeln!(
            out,
            "FAIL {} ({}){cost}\n       no expected file {} (run with --bless to create it)",
            shown(case),
            event_count(count),
            shown(&expected_file)
        )?;
        return Ok(false);
    }
    let expected_bytes = read_case_file(&expected_file, limit, "expected file")?;
    let expected = compare::expected_events(&expected_file, &expected_bytes)?;
    let actual: Vec<Value> = (actual.iter())
        .map(|got| serde_json::from_str(got).expect("the host validated every event"))
        .collect();
    let problems = compare::problems(&expected, &actual);
    if problems.is_empty() {
        writeln!(out, "ok   {} ({}){cost}", shown(case), event_count(count))?;
        Ok(true)
    } else {
        writeln!(out, "FAIL {} ({}){cost}", shown(case), event_count(count))?;
        for problem in &problems {
            writeln!(out, "       {problem}")?;
        }
        Ok(false)
    }
}

fn cost_line(events: usize, elapsed: Duration, peak_memory: usize) -> String {
    let rate = events as f64 / elapsed.as_secs_f64().max(1e-9);
    format!(
        "  {rate:.0} events/s, peak instance memory {} KiB",
        peak_memory / 1024
    )
}

/// "1 event", "3 events".
fn event_count(count: usize) -> String {
    match count {
        1 => "1 event".to_owned(),
        n => format!("{n} events"),
    }
}

/// The config `wasmstash new` writes beside a crate (`config.json`), with
/// its path; or `{}` when there is none.
fn crate_config(dir: &Path) -> Result<(String, Option<PathBuf>), TestError> {
    let path = dir.join("config.json");
    match read_capped_text(&path, MAX_CONFIG_BYTES, "config") {
        Ok(text) => {
            let config = checked_config(text.trim(), &format!("{}: config", shown(&path)))?;
            Ok((config, Some(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(("{}".to_owned(), None)),
        Err(e) => Err(TestError::Setup(format!("{}: {e}", shown(&path)))),
    }
}

/// `config` if it is a JSON object; else an error naming `subject`, where
/// it came from. Loading checks it again, but would name the module.
fn checked_config(config: &str, subject: &str) -> Result<String, TestError> {
    check_config_object(config, subject).map_err(TestError::Setup)?;
    Ok(config.to_owned())
}

#[cfg(test)]
mod tests {
    use super::fixed_time;

    #[test]
    fn now_is_a_utc_time_as_logstash_writes_one() {
        assert_eq!(fixed_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(fixed_time("1970-01-01T00:00:01.5Z"), Ok(1_500_000_000));
        assert_eq!(
            fixed_time("2026-06-10T12:00:00Z"),
            Ok(1_781_092_800_000_000_000)
        );
        let error = fixed_time("2300-06-10T12:00:00Z").unwrap_err();
        assert!(error.contains("years 1678 to 2261"), "{error}");
        for refused in [
            "2026-06-10T12:00:00",
            "2026-06-10 12:00:00Z",
            "2026-02-29T12:00:00Z",
            "2026-13-01T12:00:00Z",
            "2026-06-10T24:00:00Z",
            "2026-06-10T12:00:00+01:00",
            "+026-06-10T12:00:00Z",
        ] {
            let error = fixed_time(refused).unwrap_err();
            assert!(
                error.contains("is not a UTC time like"),
                "{refused}: {error}"
            );
        }
    }
}
