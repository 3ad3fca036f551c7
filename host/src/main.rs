//! The `wasmstash` command line. Everything it does lives in the library; this
//! file only parses arguments, sets up logging and maps errors to exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasmstash::config::{Config, shown_name};
use wasmstash::engine::{Engine, Inspection};
use wasmstash::generator::GenError;
use wasmstash::golden::{self, TestArgs, TestError};
use wasmstash::probe::{self, ProbeArgs};
use wasmstash::run::RunArgs;
use wasmstash::scaffold::{self, NewArgs};
use wasmstash::serve::{self, ServeArgs, ServeError};
use wasmstash::setup::{self, SetupArgs};
use wasmstash::{builtins, run, say};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_log_level().into()),
        )
        .init();
    let cli = Cli::parse();
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
            let (loaded, problems) = check(&path);
            for line in loaded {
                writeln!(out, "{line}")?;
            }
            for problem in &problems {
                say_each_line(problem);
            }
            Ok(match problems.len() {
                0 => {
                    writeln!(out, "{}: OK", path.display())?;
                    ExitCode::SUCCESS
                }
                n => {
                    say!("wasmstash: {}: {n} problem(s)", path.display());
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
                write_report(out, &module, &report, json)?;
                Ok(
                    if report.problems.is_empty() && report.stopped_by_limit.is_none() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(2)
                    },
                )
            }
            Err(error) => {
                say!("wasmstash: {}: {error}", module.display());
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
        Command::Setup(args) => match setup::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                say!("wasmstash setup: {error}");
                ExitCode::from(1)
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

/// Runs a command that prints to stdout, with the exit code it returns.
/// `println!` panics when stdout fails (exit 101); here a reader that went
/// away ends the command quietly, as `gen` does, and any other failed
/// write is reported and exits 1.
fn printing(command: impl FnOnce(&mut dyn Write) -> std::io::Result<ExitCode>) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match command(&mut stdout).and_then(|code| stdout.flush().map(|()| code)) {
        Ok(code) => code,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            say!("wasmstash: writing output: {error}");
            ExitCode::from(1)
        }
    }
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
    let mut settings = wasmstash::engine::EngineSettings {
        cache_dir: None,
        ..Default::default()
    };
    limits.apply(&mut settings);
    let bytes = wasmstash::files::read_capped(module, settings.max_module_bytes, "module")?;
    let engine = Engine::new(settings)?;
    Ok(wasmstash::engine::inspect(&engine, &bytes)?)
}

fn write_report(
    out: &mut dyn Write,
    module: &std::path::Path,
    report: &Inspection,
    json: bool,
) -> std::io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        return writeln!(out);
    }
    writeln!(out, "module      {}", module.display())?;
    writeln!(out, "sha256      {}", report.sha256)?;
    writeln!(out, "size        {} bytes", report.size_bytes)?;
    let version = report
        .abi_version
        .map_or("unknown".into(), |v| v.to_string());
    writeln!(out, "abi         {version}")?;
    if let Some((min, max)) = report.memory_pages {
        let max = max.map_or("no maximum".into(), |m| format!("max {} KiB", m * 64));
        writeln!(out, "memory      {} KiB at start, {max}", min * 64)?;
    }
    let stateful = if report.stateful {
        "yes (exports snapshot/restore)"
    } else {
        "no"
    };
    writeln!(out, "stateful    {stateful}")?;
    let imports = if report.imports.is_empty() {
        "none".into()
    } else {
        report.imports.join("\n            ")
    };
    writeln!(out, "imports     {imports}")?;
    writeln!(out, "exports     {}", report.exports.join("\n            "))?;
    // Set only when nothing else was wrong (`engine::inspect`).
    if let Some(why) = &report.stopped_by_limit {
        writeln!(
            out,
            "verdict     cannot tell: it could not start under this check's limits: {why}; \
             try --memory-limit-mib or --call-timeout-ms (engine.memory_limit_mib and \
             engine.call_timeout_ms in a config)"
        )?;
    } else if report.problems.is_empty() {
        writeln!(out, "verdict     meets wasmstash ABI v1")?;
    } else {
        writeln!(out, "verdict     does NOT meet wasmstash ABI v1:")?;
        for problem in &report.problems {
            writeln!(out, "            - {problem}")?;
        }
    }
    Ok(())
}

/// An error of several lines (a config's problems, one a line) with the
/// program's name on each, as `check` writes them.
fn say_each_line(error: &dyn std::fmt::Display) {
    for line in error.to_string().lines() {
        say!("wasmstash: {line}");
    }
}

/// `check`: a line per pipeline that loads, and every problem found, not
/// only the first, so that one run lists all a config's mistakes. A file
/// that does not parse stops there: nothing after it can be read.
fn check(path: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let read = Config::load_all(path);
    let mut problems: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
    if let Some(server) = &read.server {
        let settings = serve::check_settings(path, server);
        problems.extend(settings.iter().map(ToString::to_string));
    }
    let Some(config) = read.config else {
        return (Vec::new(), problems);
    };
    let engine = match Engine::new(config.engine.clone()) {
        Ok(engine) => engine,
        Err(error) => {
            problems.push(error.to_string());
            return (Vec::new(), problems);
        }
    };
    let mut loaded = Vec::new();
    for name in config.pipelines.keys() {
        match config.check_pipeline(&engine, name) {
            Ok(modules) => {
                let stateful = modules.iter().filter(|m| m.is_stateful()).map(|m| m.name());
                if let Some(warning) = wasmstash::state::told_apart_by_position(stateful) {
                    say!("wasmstash: warning: pipeline `{name}`: {warning}");
                }
                let filters: Vec<String> = modules
                    .iter()
                    .map(|m| format!("{} ({})", shown_name(m.name()), &m.sha256()[..12]))
                    .collect();
                loaded.push(format!("pipeline `{name}`: {}", filters.join(" -> ")));
            }
            Err(errors) => problems.extend(errors.iter().map(ToString::to_string)),
        }
    }
    // Pipelines left out for a filter the config cannot take: their other
    // filters' problems are found now, not after that one is fixed.
    for (name, filters) in &read.incomplete {
        let taken = filters.iter().map(|(index, spec)| (*index, spec));
        if let Err(errors) = config.check_filters(&engine, name, taken) {
            problems.extend(errors.iter().map(ToString::to_string));
        }
    }
    (loaded, problems)
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
