//! The `wasmstash` command line. Everything it does lives in the library; this
//! file only parses arguments, sets up logging and maps errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasmstash::config::Config;
use wasmstash::engine::Engine;
use wasmstash::generator::GenError;
use wasmstash::golden::{self, TestArgs, TestError};
use wasmstash::probe::{self, ProbeArgs};
use wasmstash::run::RunArgs;
use wasmstash::scaffold::{self, NewArgs};
use wasmstash::serve::{self, ServeArgs, ServeError};
use wasmstash::setup::{self, SetupArgs};
use wasmstash::{builtins, run};

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
    /// Check a config file: parse it and load every filter of every pipeline.
    Check {
        /// The pipeline config file (TOML).
        config: PathBuf,
    },
    /// Describe a module: ABI version, exports, imports, memory, state, and
    /// why it does not meet ABI v1 if it does not (exit 2).
    Inspect {
        /// A .wasm (or .wat) file.
        module: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_log_level().into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => match run::run(&args) {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("wasmstash: {error}");
                ExitCode::from(error.exit_status())
            }
        },
        Command::Serve(args) => match serve::serve(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("wasmstash: {error}");
                match error {
                    ServeError::Config(_) => ExitCode::from(2),
                    ServeError::StateNotSaved(_) => ExitCode::from(1),
                }
            }
        },
        Command::Test(args) => match golden::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error @ TestError::Failed(_)) => {
                eprintln!("wasmstash test: {error}");
                ExitCode::from(1)
            }
            Err(error) => {
                eprintln!("wasmstash test: {error}");
                ExitCode::from(2)
            }
        },
        Command::New(args) => match scaffold::run(&args) {
            Ok(next_steps) => {
                println!("created {}/\n\n{next_steps}", args.name);
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("wasmstash new: {error}");
                ExitCode::from(2)
            }
        },
        Command::Check { config } => match check(&config) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("wasmstash: {error}");
                ExitCode::from(2)
            }
        },
        Command::Inspect { module, json } => match inspect(&module, json) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(2),
            Err(error) => {
                eprintln!("wasmstash: {}: {error}", module.display());
                ExitCode::from(2)
            }
        },
        Command::Gen(args) => match wasmstash::generator::run(&args) {
            Ok(()) | Err(GenError::ReaderGone) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("wasmstash gen: {error}");
                match error {
                    GenError::Io(_) => ExitCode::from(1),
                    _ => ExitCode::from(2),
                }
            }
        },
        Command::Setup(args) => match setup::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("wasmstash setup: {error}");
                ExitCode::from(1)
            }
        },
        Command::Probe(args) => match probe::probe(&args) {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("wasmstash probe: {error}");
                ExitCode::from(1)
            }
        },
        Command::Filters => {
            let width = (builtins::BUILTINS.iter().map(|b| b.name.len()))
                .max()
                .unwrap_or(0);
            for builtin in builtins::BUILTINS {
                println!("{:<width$} {}", builtin.name, builtin.summary);
            }
            ExitCode::SUCCESS
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

/// Prints what `module` is; returns whether it meets ABI v1.
fn inspect(module: &std::path::Path, json: bool) -> Result<bool, Box<dyn std::error::Error>> {
    let settings = wasmstash::engine::EngineSettings {
        cache_dir: None,
        ..Default::default()
    };
    let bytes = wasmstash::files::read_capped(module, settings.max_module_bytes, "module")?;
    let engine = Engine::new(settings)?;
    let report = wasmstash::engine::inspect(&engine, &bytes)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("module      {}", module.display());
        println!("sha256      {}", report.sha256);
        println!("size        {} bytes", report.size_bytes);
        let version = report
            .abi_version
            .map_or("unknown".into(), |v| v.to_string());
        println!("abi         {version}");
        if let Some((min, max)) = report.memory_pages {
            let max = max.map_or("no maximum".into(), |m| format!("max {} KiB", m * 64));
            println!("memory      {} KiB at start, {max}", min * 64);
        }
        println!(
            "stateful    {}",
            if report.stateful {
                "yes (exports snapshot/restore)"
            } else {
                "no"
            }
        );
        println!(
            "imports     {}",
            if report.imports.is_empty() {
                "none".into()
            } else {
                report.imports.join("\n            ")
            }
        );
        println!("exports     {}", report.exports.join("\n            "));
        if report.problems.is_empty() {
            println!("verdict     meets wasmstash ABI v1");
        } else {
            println!("verdict     does NOT meet wasmstash ABI v1:");
            for problem in &report.problems {
                println!("            - {problem}");
            }
        }
    }
    Ok(report.problems.is_empty())
}

fn check(path: &std::path::Path) -> Result<String, Box<dyn std::error::Error>> {
    let config = Config::load(path)?;
    let engine = Engine::new(config.engine.clone())?;
    let mut lines = Vec::new();
    for name in config.pipelines.keys() {
        let modules = config.load_pipeline(&engine, name)?;
        let filters: Vec<String> = modules
            .iter()
            .map(|m| format!("{} ({})", m.name(), &m.sha256()[..12]))
            .collect();
        lines.push(format!("pipeline `{name}`: {}", filters.join(" -> ")));
    }
    lines.push(format!(
        "{}: OK, {} pipeline(s)",
        path.display(),
        config.pipelines.len()
    ));
    Ok(lines.join("\n"))
}
