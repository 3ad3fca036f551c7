//! The `wasmstash` command line. Everything it does lives in the library; this
//! file only parses arguments, sets up logging and maps errors to exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use wasmstash::check::{self, Checked};
use wasmstash::engine::Inspection;
use wasmstash::generator::GenError;
use wasmstash::golden::{self, TestArgs, TestError};
use wasmstash::import::{self, ImportArgs};
use wasmstash::probe::{self, ProbeArgs};
use wasmstash::run::RunArgs;
use wasmstash::scaffold::{self, NewArgs};
use wasmstash::serve::{self, ServeArgs, ServeError};
use wasmstash::setup::{self, SetupArgs};
use wasmstash::{builtins, run, say};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Looks at stdout before Rust's runtime does: the runtime opens
/// `/dev/null` on a closed standard descriptor, after which a closed stdout
/// cannot be told from one sent to `/dev/null` on purpose (and `run` would
/// count events written nowhere as out). An `.init_array` entry runs before
/// `main` and before that runtime setup.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_STDOUT_AT_START: extern "C" fn() = note_stdout_at_start;

#[cfg(target_os = "linux")]
extern "C" fn note_stdout_at_start() {
    // SAFETY: F_GETFD only asks whether descriptor 1 is open.
    let closed = unsafe { libc::fcntl(1, libc::F_GETFD) } == -1;
    wasmstash::files::note_stdout_closed_at_start(closed);
}

/// Sandboxed WebAssembly log filters for Logstash.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline over log files (or stdin) and write NDJSON events to stdout.
    Run(RunArgs),
    /// Serve pipelines over HTTP for Logstash (the sidecar).
    Serve(ServeArgs),
    /// Test a filter against expected output files (golden tests).
    Test(TestArgs),
    /// Create a new filter crate with a sample config, input and expected output.
    New(NewArgs),
    /// Check a config file: parse it, load every filter of every pipeline, and
    /// check the admin token and state_dir that `serve` would check at start.
    Check {
        /// The pipeline config file (TOML).
        #[arg(value_name = "CONFIG", required_unless_present = "config_option")]
        config: Option<PathBuf>,
        /// The same file, named as `run` and `serve` take it.
        #[arg(
            short = 'c',
            long = "config",
            value_name = "FILE",
            conflicts_with = "config"
        )]
        config_option: Option<PathBuf>,
    },
    /// Describe a module: ABI version, exports, imports, memory, state, and
    /// why it does not meet ABI v1 if it does not (exit 2).
    #[command(
        mut_arg("call_timeout_ms", |arg| arg.help(
            "Deadline in ms for the module's start, 1 to 600000 (a check that could hang is no check)"
        )),
        mut_arg("memory_limit_mib", |arg| arg.help(
            "Memory limit for the module's instance in MiB, 1 to 4096"
        ))
    )]
    Inspect {
        /// A .wasm (or .wat) file.
        module: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The limits its start runs under (the engine's defaults otherwise).
        #[command(flatten)]
        limits: wasmstash::run::LimitArgs,
    },
    /// List the filters built into this binary.
    Filters,
    /// Write realistic logs for several services, with labelled incidents
    /// and their ground truth, or live traffic with --follow.
    Gen(wasmstash::generator::GenArgs),
    /// Install the index template, lifecycle policy and Kibana dashboards.
    Setup(SetupArgs),
    /// GET a URL and exit 0 on a 2xx answer (container health checks; no curl needed).
    Probe(ProbeArgs),
    /// Write the filter blocks of a logstash.conf as wasmstash pipelines
    /// (TOML, to stdout): grok, dissect, kv, date, json and mutate.
    #[command(after_help = "Examples:\n  \
        wasmstash import logstash.conf --pipeline apache > wasmstash.toml\n  \
        wasmstash import logstash.conf --logstash-out logstash.new.conf > wasmstash.toml\n\n\
        Conditionals and plugins without a built-in stay in Logstash: each run of\n\
        filters between them becomes a pipeline, and --logstash-out writes the\n\
        logstash.conf that calls those pipelines in place of the moved filters.")]
    Import(ImportArgs),
    /// The engine's compiler: reads a module on stdin and writes it compiled
    /// (or, with --text, its text format made a binary) to stdout, within an
    /// address-space cap. Run by wasmstash itself.
    #[command(name = wasmstash::engine::COMPILER_SUBCOMMAND, hide = true)]
    CompileModule {
        #[arg(long)]
        memory_mib: u64,
        #[arg(long)]
        cpu_seconds: u64,
        /// The process that started it; it ends if that one has.
        #[arg(long)]
        parent: u32,
        #[arg(long)]
        tripwire: bool,
        #[arg(long, conflicts_with = "tripwire")]
        text: bool,
    },
}

fn main() -> ExitCode {
    // A write past the file-size limit (`ulimit -f`) then fails with EFBIG,
    // which every writer reports (a state save, the output), instead of
    // killing the process mid-save with SIGXFSZ.
    // SAFETY: setting a signal's disposition to ignored has no preconditions.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            // An empty RUST_LOG (a compose file's `RUST_LOG=${RUST_LOG}`
            // with nothing set) parses as "nothing at all", which would
            // hide the host's own errors: it counts as unset.
            log_filter(std::env::var("RUST_LOG").ok()),
        )
        .init();
    let matches = numbers_may_be_negative(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    // Compilations are bounded by running them in a child of this binary.
    if !matches!(cli.command, Command::CompileModule { .. }) {
        match wasmstash::engine::this_program() {
            Ok(program) => wasmstash::engine::compile_in_child_processes(program),
            Err(e) => tracing::warn!(
                "compiling modules in this process, where only the wait for them is bounded \
                 (/proc/self/exe: {e})"
            ),
        }
    }
    match cli.command {
        Command::Run(args) => match run::run(&args) {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => {
                say_each_line(&error);
                ExitCode::from(error.exit_status())
            }
        },
        Command::Serve(args) => match serve::serve(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                say_each_line(&error);
                match error {
                    ServeError::Config(_) => ExitCode::from(2),
                    ServeError::StateNotSaved(_) => ExitCode::from(1),
                }
            }
        },
        Command::Test(args) => printing(|out| match golden::run(&args, out) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(TestError::Output(error)) => Err(error),
            Err(error @ TestError::Failed(_)) => {
                say!("wasmstash test: {error}");
                Ok(ExitCode::from(1))
            }
            Err(error) => {
                say!("wasmstash test: {error}");
                Ok(ExitCode::from(2))
            }
        }),
        Command::New(args) => printing(|out| match scaffold::run(&args) {
            Ok(next_steps) => {
                writeln!(out, "created {}/\n\n{next_steps}", args.name)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => {
                say!("wasmstash new: {error}");
                Ok(ExitCode::from(2))
            }
        }),
        Command::Check {
            config,
            config_option,
        } => printing(|out| {
            let path = config.or(config_option).expect("required");
            let Checked { loaded, problems } = check::check(&path);
            for line in loaded {
                writeln!(out, "{line}")?;
            }
            for problem in &problems {
                say_each_line(problem);
            }
            Ok(match problems.len() {
                0 => {
                    writeln!(out, "{}: OK", wasmstash::files::shown(&path))?;
                    ExitCode::SUCCESS
                }
                n => {
                    say!(
                        "wasmstash: {}: {n} problem(s)",
                        wasmstash::files::shown(&path)
                    );
                    ExitCode::from(2)
                }
            })
        }),
        Command::Inspect {
            module,
            json,
            limits,
        } => printing(|out| match inspect(&module, limits) {
            Ok(report) => {
                if json {
                    serde_json::to_writer_pretty(&mut *out, &report)?;
                    writeln!(out)?;
                } else {
                    report.write_text(out, &module)?;
                }
                Ok(if report.meets_abi() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(2)
                })
            }
            Err(error) => {
                say!("wasmstash: {}: {error}", wasmstash::files::shown(&module));
                // A script reading the report gets one to read here too.
                if json {
                    let unread = serde_json::json!({"error": error.to_string()});
                    serde_json::to_writer_pretty(&mut *out, &unread)?;
                    writeln!(out)?;
                }
                Ok(ExitCode::from(2))
            }
        }),
        Command::Gen(args) => match wasmstash::generator::run(&args) {
            Ok(()) | Err(GenError::ReaderGone) => ExitCode::SUCCESS,
            Err(error) => {
                say!("wasmstash gen: {error}");
                match error {
                    GenError::Io(_) => ExitCode::from(1),
                    _ => ExitCode::from(2),
                }
            }
        },
        Command::Setup(args) => {
            let ran = match setup::usage_problem(&args) {
                Some(problem) => Err((problem, 2)),
                None => setup::run(&args).map_err(|error| (error.to_string(), 1)),
            };
            match ran {
                Ok(()) => ExitCode::SUCCESS,
                Err((error, status)) => {
                    say!("wasmstash setup: {error}");
                    ExitCode::from(status)
                }
            }
        }
        Command::Import(args) => match import::import(&args) {
            Ok(imported) => imported_out(&imported),
            Err(error) => {
                for line in error.message().lines() {
                    say!("wasmstash import: {line}");
                }
                ExitCode::from(error.exit_code())
            }
        },
        Command::Probe(args) => match probe::probe(&args) {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => {
                say!("wasmstash probe: {error}");
                ExitCode::from(1)
            }
        },
        Command::CompileModule {
            memory_mib,
            cpu_seconds,
            parent,
            tripwire,
            text,
        } => {
            use wasmstash::engine::CompilerJob;
            let job = match text {
                true => CompilerJob::Text,
                false => CompilerJob::Compile { tripwire },
            };
            wasmstash::engine::run_compiler(memory_mib, cpu_seconds, parent, job)
        }
        Command::Filters => printing(|out| {
            let width = (builtins::BUILTINS.iter().map(|b| b.name.len()))
                .max()
                .unwrap_or(0);
            for builtin in builtins::BUILTINS {
                writeln!(out, "{:<width$} {}", builtin.name, builtin.summary)?;
            }
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// Writes what `import` made: the pipelines to stdout, then the
/// logstash.conf that calls them, which is not written unless they are all
/// out (a reader that went away before the end got only part of them).
fn imported_out(imported: &import::Imported) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let printed = (stdout.write_all(imported.toml.as_bytes())).and_then(|()| stdout.flush());
    let written = match printed {
        Ok(()) => imported
            .write_logstash()
            .map_err(|e| e.message().to_owned()),
        // The reader's choice (`| head`), when nothing else was asked for.
        Err(error)
            if error.kind() == std::io::ErrorKind::BrokenPipe && !imported.writes_logstash() =>
        {
            return ExitCode::SUCCESS;
        }
        Err(error) if imported.writes_logstash() => Err(format!(
            "writing the pipelines: {error}; so the logstash.conf that calls them was not \
             written"
        )),
        Err(error) => Err(format!("writing the pipelines: {error}")),
    };
    match written {
        Ok(()) => {
            say!("wasmstash import: {}", imported.summary);
            for note in &imported.notes {
                say!("wasmstash import: {note}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            say!("wasmstash import: {error}");
            ExitCode::from(1)
        }
    }
}

/// Runs a command that prints to stdout, with the exit code it returns.
/// `println!` panics when stdout fails (exit 101); here a reader that went
/// away is no failure of the command's, as for `gen`, and any other failed
/// write is reported, and exits 1 where the command itself succeeded.
fn printing(command: impl FnOnce(&mut dyn Write) -> std::io::Result<ExitCode>) -> ExitCode {
    let mut out = KeepGoing {
        stdout: std::io::stdout().lock(),
        failed: None,
    };
    let verdict = command(&mut out).and_then(|code| out.flush().map(|()| code));
    let code = match verdict {
        Ok(code) => code,
        // Not a write of ours, which `KeepGoing` keeps from failing: the
        // commands take any writer (`golden::run` reports a failed write as
        // its own error), and may have other I/O to report.
        Err(error) => {
            say!("wasmstash: {error}");
            return ExitCode::from(1);
        }
    };
    match out.failed {
        None => code,
        // The reader's choice (`| head`), not a failure: the command's own
        // verdict stands, a problem `check` found included.
        Some(error) if error.kind() == std::io::ErrorKind::BrokenPipe => code,
        Some(error) => {
            say!("wasmstash: writing output: {error}");
            match code == ExitCode::SUCCESS {
                true => ExitCode::from(1),
                false => code,
            }
        }
    }
}

/// Stdout that lets a command go on to its verdict when writing fails: the
/// exit code of `check`, `test` and `inspect` is their answer, and a reader
/// that went away (`| grep -q OK`) or a full disk must not cut them short
/// before it, nor turn a problem into success. The first failure is kept;
/// what follows it goes nowhere.
struct KeepGoing<W> {
    stdout: W,
    failed: Option<std::io::Error>,
}

impl<W: Write> Write for KeepGoing<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.failed.is_none()
            && let Err(error) = self.stdout.write_all(bytes)
        {
            self.failed = Some(error);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.failed.is_none()
            && let Err(error) = self.stdout.flush()
        {
            self.failed = Some(error);
        }
        Ok(())
    }
}

/// Lets a value look like a negative number, so that `--batch-size -1` is
/// refused as a value out of range rather than as an unknown option, whose
/// hint (`-- -1`) would make it a file name.
fn numbers_may_be_negative(command: clap::Command) -> clap::Command {
    command.mut_subcommands(|sub| {
        sub.mut_args(|arg| match arg.get_action().takes_values() {
            true => arg.allow_negative_numbers(true),
            false => arg,
        })
    })
}

/// The log filter `RUST_LOG` gives, each directive trimmed (`info, filter=debug`
/// from a `.env` file); the default level when it is unset or holds no
/// directive, and, said once on stderr, when it is no filter: a setting
/// that hid every line would hide that too.
fn log_filter(rust_log: Option<String>) -> tracing_subscriber::EnvFilter {
    let directives: Vec<&str> = (rust_log.as_deref().unwrap_or("").split(','))
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .collect();
    if directives.is_empty() {
        return default_log_level().into();
    }
    let text = directives.join(",");
    tracing_subscriber::EnvFilter::try_new(&text).unwrap_or_else(|e| {
        let shown: String = text.chars().take(200).collect();
        let cut = if shown.len() < text.len() { "..." } else { "" };
        eprintln!(
            "wasmstash: RUST_LOG {shown:?}{cut} is not a log filter ({e}); logging at the default level"
        );
        default_log_level().into()
    })
}

/// `serve` logs its life cycle (ready, reloads) by default; `run` only problems.
fn default_log_level() -> &'static str {
    match std::env::args().nth(1).as_deref() {
        Some("serve") => "info",
        _ => "warn",
    }
}

/// What `module` is.
fn inspect(
    module: &std::path::Path,
    limits: wasmstash::run::LimitArgs,
) -> Result<Inspection, Box<dyn std::error::Error>> {
    if limits.call_timeout_ms == Some(0) {
        // `run` may take the risk; a check that can hang is no check.
        return Err(format!(
            "inspect needs a deadline (--call-timeout-ms 1 to {}): without one a \
             module whose start function never ends would hang it",
            wasmstash::config::MAX_CALL_TIMEOUT_MS
        )
        .into());
    }
    let mut settings = wasmstash::engine::EngineSettings::default();
    limits.apply(&mut settings);
    wasmstash::engine::inspect_file(module, settings)
}

/// An error of several lines (a config's problems, one a line) with the
/// program's name on each, as `check` writes them.
fn say_each_line(error: &dyn std::fmt::Display) {
    for line in error.to_string().lines() {
        say!("wasmstash: {line}");
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Users copy examples from `--help`, which clap wraps at 100 columns
    /// when it does not write to a terminal: a longer line would be copied
    /// cut in two, so long commands go on with a `\` instead.
    #[test]
    fn help_examples_are_not_wrapped() {
        for command in super::Cli::command().get_subcommands() {
            let Some(examples) = command.get_after_help() else {
                continue;
            };
            for line in examples.to_string().lines() {
                assert!(
                    line.chars().count() < 100,
                    "`wasmstash {} --help`: {line}",
                    command.get_name()
                );
            }
        }
    }
}
