//! `wasmstash run`: one pipeline over files or stdin, NDJSON to stdout, and a
//! summary on stderr. The quickest way to try a filter on real logs, and the
//! batch path that tests and benchmarks drive end to end. The threads that
//! read, filter and write are in `flow`.

mod flow;
mod interrupt;
mod output;
mod summary;

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{
    Config, ConfigError, DEFAULT_MAX_FILTER_INSTANCES, FilterSpec, MAX_CALL_TIMEOUT_MS,
    MAX_EVENT_MIB, MAX_MEMORY_LIMIT_MIB, Workers, check_instances, distinct_names, load_filters,
    shown_names,
};
use crate::engine::{Engine, EngineSettings};
use crate::files::{regular_file_id, shown};
use crate::input::InputFormat;
use crate::pipeline::Pipeline;
use crate::state;
use flow::Flow;
pub use summary::{FailureCounts, Summary};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  wasmstash run --config examples/wasmstash.toml --pipeline app --format lines examples/app.log
  wasmstash run --filter 'mutate={\"uppercase\":[\"message\"]}' access.log
  cat events.ndjson | wasmstash run --filter 'json={\"source\":\"message\"}'

Exit status: 0 when every event read went out (also when the output's reader
closed it, as `| head` does), 1 on an input or output error or when the
filters' state could not be saved, 2 on a config, filter or --state-dir
problem, 130, 143 or 129 when stopped by SIGINT, SIGTERM or SIGHUP (after writing the
events read). Events that failed are tagged, not errors.")]
pub struct RunArgs {
    /// Pipeline config file (TOML).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Pipeline to run; may be left out when the config has only one.
    #[arg(short, long, value_name = "NAME")]
    pub pipeline: Option<String>,
    /// A filter to run, instead of --config: a built-in name or a .wasm/.wat
    /// path, optionally with a JSON config after `=`. Repeat for a chain.
    #[arg(short, long = "filter", value_name = "NAME[=JSON]", conflicts_with_all = ["config", "pipeline"])]
    pub filters: Vec<String>,
    /// How to read input lines.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub format: InputFormat,
    /// Events per call into the filters (1 to 100000).
    #[arg(long, default_value_t = DEFAULT_BATCH_EVENTS as u32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Largest event a filter's result may make, in MiB (1..1024); overrides
    /// the config's `engine.max_event_mib` (default 16). A changed event
    /// over it fails (`_wasmfilter_failure`, kept as it came in).
    #[arg(long, value_name = "MIB", value_parser = crate::cli_number::in_range::<1, MAX_EVENT_MIB>)]
    pub max_event_mib: Option<u64>,
    /// Do not read or write the compiled-module cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Keep stateful filters' state (anomaly baselines, templates) in DIR:
    /// restored before the first event, saved after the last, the same files
    /// `serve` uses with `server.state_dir`. Checked before any input is
    /// read; a run on a pipeline's state that another run, or a `serve`, is
    /// using is refused.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Longest input line kept, in bytes (default 16 MiB, as the sidecar's
    /// `max_body_bytes`). A longer line is cut to this, and its event tagged
    /// `_wasmstash_truncated` with the line's length recorded. A filter
    /// holds a few copies of an event at once, so lines near 16 MiB need a
    /// memory limit near 128 MiB (`--memory-limit-mib`); at the default 64,
    /// lines up to about 10 MiB fit (about 5 MiB through a filter that also
    /// copies the line, as syslog does to `event.original`), and a longer
    /// one fails its event
    /// (`_wasmfilter_failure`, out of memory), which is kept. A filter that
    /// changes an event of a line this long also makes an event over the
    /// default `--max-event-mib` of 16: raise that too.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20, value_parser = crate::cli_number::in_range::<1, { 1 << 30 }>)]
    pub max_line_bytes: u64,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Threads running the pipeline (1 to 256), each with its own filter
    /// instances; default: one per core. Output is the same, in the same order, for any
    /// number. A pipeline with a stateful filter (one that exports
    /// `wasmstash_snapshot`, as `templates` and `anomaly` do) runs one.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: Option<u32>,
    /// Input files; `-` or none reads stdin.
    #[arg(value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Io(String),
    /// The output could not be written (a full disk, a file-size limit):
    /// events went through the filters that never got out.
    #[error("{0}")]
    Unwritten(String),
    /// The output's reader went away (`wasmstash run … | head`): not a
    /// failure of the run, which says how far it got in its summary.
    #[error("the output was closed by its reader")]
    OutputClosed,
    /// Stopped by SIGINT, SIGTERM or SIGHUP after writing what it had read; the
    /// signal's number.
    #[error("stopped by {}", interrupt::name(*.0))]
    Interrupted(i32),
}

impl RunError {
    /// The output failed; `cut_line` if part of an event got out before it
    /// did, which leaves the output's last line unreadable.
    fn writing(error: io::Error, cut_line: bool) -> RunError {
        let cut = match cut_line {
            true => "; the output ends in part of an event, after the whole ones counted as out",
            false => "",
        };
        match error.kind() {
            io::ErrorKind::BrokenPipe => RunError::OutputClosed,
            _ => RunError::Unwritten(format!("writing output: {error}{cut}")),
        }
    }

    /// The exit status that tells a shell how the run ended.
    pub fn exit_status(&self) -> u8 {
        match self {
            RunError::Config(_) => 2,
            RunError::Io(_) | RunError::Unwritten(_) => 1,
            RunError::OutputClosed => 0,
            RunError::Interrupted(signal) => (128 + signal) as u8,
        }
    }
}

pub fn run(args: &RunArgs) -> Result<Summary, RunError> {
    // The inputs first: a misspelt file name is told at once, not after
    // the filters' modules have compiled (seconds, with a cold cache).
    let total_bytes = check_inputs(&args.inputs)?;
    let (mut pipeline, most_instances) = build_pipeline(args)?;
    let shared = pipeline.shared_stages();
    let filters = pipeline.stages_mut().len();
    let workers = worker_count(
        args,
        pipeline.name(),
        !shared.is_empty(),
        filters,
        most_instances,
    );
    // Each worker makes its own instances of every filter: held to the
    // bound a config is held to for `serve`, before the other workers'
    // are made.
    let run_by = Workers {
        count: workers,
        set_by: "--workers",
    };
    check_instances(filters, 1, run_by, most_instances).map_err(|msg| {
        let unset = match args.config {
            None => " (a config's [engine] table sets it; give --config)",
            Some(_) => "",
        };
        ConfigError(format!("pipeline `{}`: {msg}{unset}", pipeline.name()))
    })?;
    // Held until the state is saved, and dropped with it. A pipeline with
    // no state has nothing to claim, and need not keep others waiting.
    let claimed = match &args.state_dir {
        Some(dir) => {
            let claimed = state::prepare_dir(dir)
                .and_then(|()| {
                    if shared.is_empty() {
                        return Ok(None);
                    }
                    let stateful = state::stateful_names(&shared);
                    let names = stateful.iter().map(|(_, name)| name.as_str());
                    if let Some(warning) = state::told_apart_by_position(names) {
                        tracing::warn!("pipeline `{}`: {warning}", pipeline.name());
                    }
                    state::claim_pipeline(dir, pipeline.name(), &stateful, "`wasmstash run`")
                        .map(Some)
                })
                // A setting's problem, as `serve` and `check` take it (exit 2).
                .map_err(|e| ConfigError(format!("--state-dir {}: {e}", shown(dir))))?;
            if let Some(lock) = &claimed {
                state::restore_saved(dir, pipeline.name(), &shared, lock);
            }
            claimed
        }
        None => None,
    };
    let mut pipelines: Vec<Pipeline> = (1..workers).map(|_| pipeline.sibling()).collect();
    pipelines.insert(0, pipeline);
    // Every worker's instances are made before any input is read: a run
    // that could not hold them all would otherwise fail every event the
    // ones it lacks should have run, and its output would depend on
    // `--workers`.
    for (worker, pipeline) in pipelines.iter_mut().enumerate() {
        pipeline.start_instances().map_err(|e| {
            ConfigError(format!(
                "pipeline `{}`: cannot start worker {} of {workers}: {e}",
                pipeline.name(),
                worker + 1
            ))
        })?;
    }
    let pipeline = &pipelines[0];
    let mut summary = Summary::new(pipeline.name(), args.format == InputFormat::Auto);
    let progress = progress_bar(args, total_bytes);
    let started = Instant::now();
    let flow = flow_for(args, workers, progress.clone());
    interrupt::install();
    // Each batch goes out in one write of whole lines, to the descriptor
    // itself (no buffer between), so that a write cut short says exactly
    // how many events got out; one that would block waits (output.rs).
    let mut out = io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(|fd| output::Output(File::from(fd)))
        .map_err(|e| RunError::Io(format!("standard output: {e}")))?;
    let ran = flow::run_batches(flow, pipelines, &mut out, &mut summary)
        .and_then(|()| out.flush().map_err(|e| RunError::writing(e, false)));
    progress.finish_and_clear();
    // What was read is through the pipeline by now, whatever stopped the
    // run: its state is saved and its summary printed either way, so a run
    // that ends early still says how far it got. But not where the output
    // failed: the state would hold events no output has, and a run again
    // over the same input would miss what they taught it (a template's
    // first sight, say); the state saved before stays.
    let unwritten = matches!(ran, Err(RunError::Unwritten(_)));
    let saved = match (&args.state_dir, &claimed) {
        (Some(dir), Some(_)) if unwritten => {
            crate::say!(
                "wasmstash run: state not saved to {}: the output failed, so the filters have seen events it lacks; what was saved there before this run is kept",
                shown(dir)
            );
            Ok(())
        }
        (Some(dir), Some(lock)) => save_state(dir, &summary.pipeline, &shared, lock),
        _ => Ok(()),
    };
    summary.elapsed = started.elapsed();
    let interrupted = interrupt::requested();
    // Only what cut the input short is "stopped early"; a failed save comes
    // after every event was written, and says so in its own error.
    let early = if ran.is_err() || interrupted.is_some() {
        "stopped early: "
    } else {
        ""
    };
    crate::say!("wasmstash run: {early}{summary}");
    ran.and(saved)?;
    match interrupted {
        Some(signal) => Err(RunError::Interrupted(signal)),
        None => Ok(summary),
    }
}

/// Saves the run's stateful filters to `dir`. A filter whose snapshot
/// failed fails the run: the state a later run would start from is older
/// than this one's events.
fn save_state(
    dir: &Path,
    pipeline: &str,
    shared: &state::SharedStages,
    lock: &state::StateLock,
) -> Result<(), RunError> {
    // The run's calls have all ended: nothing to bound the wait for.
    let why = match state::persist(dir, pipeline, shared, lock, None) {
        Ok(_) => return Ok(()),
        Err(state::NotSaved::InCall(_)) => "a filter was still in a call".to_owned(),
        Err(state::NotSaved::Io(e)) => e.to_string(),
        Err(state::NotSaved::Snapshots(failed)) => format!(
            "the snapshot of {} failed (see the error above), so this run's state is not saved: a file there holds what was saved before it, unless it was set aside",
            shown_names(&failed)
        ),
    };
    Err(RunError::Io(format!(
        "saving state to {}: {why}",
        shown(dir)
    )))
}

/// How a run with `args` and `workers` workers cuts its input into batches,
/// and how far its reader may run ahead of the writer.
fn flow_for(args: &RunArgs, workers: usize, progress: ProgressBar) -> Flow {
    Flow {
        inputs: if args.inputs.is_empty() {
            vec![PathBuf::from("-")]
        } else {
            args.inputs.clone()
        },
        format: args.format,
        batch_size: args.batch_size as usize,
        max_batch_bytes: MAX_BATCH_BYTES,
        max_line_bytes: args.max_line_bytes as usize,
        // Enough for every worker to have one batch running and one waiting,
        // and for the writer to wait on a slow batch meanwhile.
        in_flight: 2 * workers + 2,
        in_flight_bytes: IN_FLIGHT_BYTES,
        progress,
    }
}

/// Looks at every input before any is read, so that a missing or unusable
/// one fails the run at once, not after the files before it are done. A
/// regular file is opened and closed again to show it can be read; a named
/// pipe only looked up, as opening and closing it would leave its writer
/// without a reader. A stdout closed at start is refused here too. Returns
/// the inputs' bytes in all, for the progress bar.
fn check_inputs(inputs: &[PathBuf]) -> Result<u64, RunError> {
    if crate::files::stdout_closed_at_start() {
        return Err(RunError::Io(
            "stdout is closed, so the events would go nowhere; send it to a file, \
             or to /dev/null to keep only the summary"
                .into(),
        ));
    }
    let output = regular_file_id(io::stdout().as_fd());
    let is_output = |id: Option<(u64, u64)>| output.is_some() && id == output;
    if reads_stdin(inputs) && is_output(regular_file_id(io::stdin().as_fd())) {
        return Err(reads_its_output(Path::new("-")));
    }
    let mut total_bytes = 0;
    for path in inputs.iter().filter(|p| p.as_os_str() != "-") {
        let meta = std::fs::metadata(path).map_err(|e| cannot_open(path, e))?;
        if is_output(meta.is_file().then(|| crate::files::file_id(&meta))) {
            return Err(reads_its_output(path));
        }
        total_bytes += meta.len();
        if meta.is_dir() {
            return Err(RunError::Io(format!(
                "cannot read {}: it is a directory; give the files in it",
                shown(path)
            )));
        }
        if meta.is_file() {
            File::open(path).map_err(|e| cannot_open(path, e))?;
        }
    }
    Ok(total_bytes)
}

/// An input that is the file stdout writes to (`run app.log >> app.log`):
/// the run would read its own output, and grow the file, without end.
fn reads_its_output(path: &Path) -> RunError {
    RunError::Io(format!(
        "cannot read {}: it is the file the output goes to, so the run would read \
         its own output without end; write the output to another file",
        shown(path)
    ))
}

/// Events per call into the filters unless `--batch-size` says otherwise;
/// `wasmstash test` cuts its cases the same way.
pub(crate) const DEFAULT_BATCH_EVENTS: usize = 1000;

/// The name of the pipeline `--filter` makes.
const CLI_PIPELINE: &str = "cli";

/// Bytes of events (as JSON, which a filter is handed) at which a batch ends
/// though it has fewer than `--batch-size` lines: with lines of up to 16 MiB,
/// 1000 of them would otherwise make one batch of 16 GiB. Counted as the
/// events' JSON, not the lines' length, because a line of control
/// characters is six times as long escaped.
const MAX_BATCH_BYTES: usize = 8 << 20;

/// Bytes of events the reader may have sent on and not yet seen written (beyond
/// a single batch larger than this, which [`MAX_BATCH_BYTES`] and
/// `--max-line-bytes` bound). Each such byte is held about four times over,
/// as a line, an event, a result and output, so this bounds a run's memory
/// at a few hundred MiB, plus the filters' own, whatever the input.
const IN_FLIGHT_BYTES: usize = 64 << 20;

/// Workers to run: `--workers`, else one per core. A stateful filter (anomaly
/// baselines, templates) gets its events in input order only from one
/// worker, so that its state, and the output, do not depend on how batches
/// raced; such a pipeline runs one worker and says so if more were asked
/// for. One per core is also kept to what `most_instances` allows for
/// `filters` filters: the operator asked for no number, and a run that
/// works on a small machine should not be refused on a big one.
fn worker_count(
    args: &RunArgs,
    pipeline: &str,
    stateful: bool,
    filters: usize,
    most_instances: u64,
) -> usize {
    let wanted = match args.workers {
        Some(n) => n as usize,
        None => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let fit = most_instances / filters.max(1) as u64;
            cores.min(usize::try_from(fit).unwrap_or(usize::MAX)).max(1)
        }
    };
    if wanted > 1 && stateful {
        if args.workers.is_some() {
            crate::say!(
                "wasmstash run: pipeline `{pipeline}` has a stateful filter, which must see events in input order: running one worker"
            );
        }
        return 1;
    }
    wanted
}

/// The pipeline to run, and the most filter instances its config allows
/// (the default without one).
fn build_pipeline(args: &RunArgs) -> Result<(Pipeline, u64), RunError> {
    let pipeline = args.pipeline.as_deref();
    let config = (args.config.as_deref())
        .map(|path| Config::load_one(path, pipeline))
        .transpose()?;
    let mut settings = config
        .as_ref()
        .map(|c| c.engine.clone())
        .unwrap_or_default();
    override_settings(&mut settings, args);
    let engine =
        Engine::new(settings).map_err(|e| RunError::Io(format!("cannot start the engine: {e}")))?;
    let Some(config) = config else {
        if args.filters.is_empty() {
            return Err(ConfigError("give a pipeline with --config FILE or filters with --filter NAME[=JSON]; see --help".into()).into());
        }
        let mut specs = args
            .filters
            .iter()
            .map(|s| FilterSpec::from_cli(s))
            .collect::<Result<Vec<_>, _>>()?;
        distinct_names(&mut specs).map_err(|e| ConfigError(format!("--filter: {e}")))?;
        let loaded = {
            // What loading logs names the pipeline, as a config's does.
            let _span = crate::pipeline::logging_in(CLI_PIPELINE);
            load_filters(&engine, &specs)
        };
        let modules = loaded.map_err(|errors| {
            ConfigError::joined(errors.iter().map(|e| ConfigError(format!("--filter: {e}"))))
        })?;
        return Ok((
            Pipeline::new(CLI_PIPELINE, modules),
            DEFAULT_MAX_FILTER_INSTANCES,
        ));
    };
    let name = match &args.pipeline {
        Some(name) => name.clone(),
        None if config.pipelines.len() == 1 => config.pipelines.keys().next().unwrap().clone(),
        None => {
            return Err(ConfigError(format!(
                "{}: choose a pipeline with --pipeline (pipelines: {})",
                shown(&config.path),
                config.pipeline_names()
            ))
            .into());
        }
    };
    let modules = config.load_pipeline(&engine, &name)?;
    Ok((Pipeline::new(&name, modules), config.max_filter_instances))
}

/// The limits a filter instance runs under, as `run` and `inspect` take
/// them from the command line. Their help is `run`'s; `inspect` words it
/// for itself (main.rs).
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct LimitArgs {
    /// Per-call deadline in ms, at most 600000; 0 turns it off. Overrides
    /// the config's `engine.call_timeout_ms`.
    #[arg(long, value_name = "MS", value_parser = crate::cli_number::in_range::<0, MAX_CALL_TIMEOUT_MS>)]
    pub call_timeout_ms: Option<u64>,
    /// Memory limit per filter instance in MiB, 1 to 4096. Overrides the
    /// config's `engine.memory_limit_mib`.
    #[arg(long, value_name = "MIB", value_parser = crate::cli_number::in_range::<1, MAX_MEMORY_LIMIT_MIB>)]
    pub memory_limit_mib: Option<u64>,
}

impl LimitArgs {
    pub fn apply(&self, settings: &mut EngineSettings) {
        if let Some(ms) = self.call_timeout_ms {
            settings.call_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Some(mib) = self.memory_limit_mib {
            settings.memory_limit_bytes = (mib as usize) << 20;
        }
    }
}

fn override_settings(settings: &mut EngineSettings, args: &RunArgs) {
    args.limits.apply(settings);
    if let Some(mib) = args.max_event_mib {
        settings.max_event_bytes = (mib as usize) << 20;
    }
    if args.no_cache {
        settings.cache_dir = None;
    }
}

/// An input opened for reading, and its descriptor if it is live (a pipe,
/// a terminal, a socket: something that may keep the reader waiting).
struct Source {
    reader: Box<dyn Read + Send>,
    live: Option<RawFd>,
}

/// Opens an input; `None` if a stop was asked while it waited to open.
fn open(path: &PathBuf) -> Result<Option<Source>, RunError> {
    if path.as_os_str() == "-" {
        let stdin = io::stdin();
        let live = is_live(stdin.as_fd()).then_some(libc::STDIN_FILENO);
        return Ok(Some(Source {
            reader: Box::new(stdin),
            live,
        }));
    }
    let file = if std::fs::metadata(path).is_ok_and(|meta| meta.file_type().is_fifo()) {
        match open_fifo(path)? {
            Some(file) => file,
            None => return Ok(None),
        }
    } else {
        File::open(path).map_err(|e| cannot_open(path, e))?
    };
    let live = is_live(file.as_fd()).then(|| file.as_raw_fd());
    Ok(Some(Source {
        reader: Box::new(file),
        live,
    }))
}

/// Opens a named pipe, which waits for a writer to open it too, in a call
/// that signals do not cut short (the handler restarts it): without a
/// writer, Ctrl-C did nothing. The open waits on a thread of its own, and
/// this one gives up on it once a stop is asked; the process ends it.
fn open_fifo(path: &Path) -> Result<Option<File>, RunError> {
    let (opened_to, opened) = std::sync::mpsc::channel();
    let owned = path.to_owned();
    std::thread::Builder::new()
        .name("wasmstash-open".into())
        .spawn(move || {
            let _ = opened_to.send(File::open(&owned));
        })
        .map_err(|e| RunError::Io(format!("cannot open {}: {e}", shown(path))))?;
    loop {
        match opened.recv_timeout(flow::QUIET) {
            Ok(file) => return file.map(Some).map_err(|e| cannot_open(path, e)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if interrupt::requested().is_some() {
                    return Ok(None);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(RunError::Io(format!(
                    "cannot open {}: the thread opening it stopped",
                    shown(path)
                )));
            }
        }
    }
}

/// Whether reading `fd` may wait on a writer: anything but a regular file
/// (or a block device) may.
fn is_live(fd: BorrowedFd<'_>) -> bool {
    let Ok(owned) = fd.try_clone_to_owned() else {
        return false;
    };
    File::from(owned)
        .metadata()
        .is_ok_and(|meta| !meta.is_file() && !meta.file_type().is_block_device())
}

fn cannot_open(path: &Path, error: io::Error) -> RunError {
    RunError::Io(format!("cannot open {}: {error}", shown(path)))
}

fn progress_bar(args: &RunArgs, total_bytes: u64) -> ProgressBar {
    // Events written to the same terminal would land on the bar's line.
    let shared_terminal = io::stdout().is_terminal();
    if args.no_progress || !io::stderr().is_terminal() || shared_terminal || total_bytes < (8 << 20)
    {
        return ProgressBar::hidden();
    }
    progress_style(total_bytes, reads_stdin(&args.inputs))
}

/// Whether the run reads standard input, as `-` or by naming no file.
fn reads_stdin(inputs: &[PathBuf]) -> bool {
    inputs.is_empty() || inputs.iter().any(|path| path.as_os_str() == "-")
}

/// The bar for `total_bytes` of files. Every byte read moves it, stdin's
/// too, whose length is not known: with stdin among the inputs it shows
/// the bytes read and the rate, with no total to count them against.
fn progress_style(total_bytes: u64, reads_stdin: bool) -> ProgressBar {
    let (bar, template) = if reads_stdin {
        (ProgressBar::no_length(), "{bytes} read, {bytes_per_sec}")
    } else {
        let template = "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}";
        (ProgressBar::new(total_bytes), template)
    };
    bar.set_style(ProgressStyle::with_template(template).expect("the template is valid"));
    bar
}
