//! `wasmstash import` as a command: its arguments, what it refuses before
//! converting (a URL that cannot be the sidecar's, an `--logstash-out` that
//! would overwrite something it must not), reading the logstash.conf, loading
//! what the conversion made, and writing the logstash.conf once the
//! pipelines are out. The conversion itself is the parent module's.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{Imported, Target, convert};

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The Logstash pipeline config to read (`-` for stdin).
    #[arg(value_name = "LOGSTASH_CONF")]
    pub logstash_conf: PathBuf,
    /// The name of the wasmstash pipeline to write; with several runs of
    /// filters to move, NAME-1, NAME-2 and so on.
    #[arg(long, value_name = "NAME", default_value = "main")]
    pub pipeline: String,
    /// Also write the logstash.conf to run beside the sidecar: the input
    /// with each run of moved filters replaced by a `wasm` call. Needed
    /// when anything stays in Logstash (a conditional, another plugin).
    #[arg(long, value_name = "FILE")]
    pub logstash_out: Option<PathBuf>,
    /// The sidecar's URL in those `wasm` calls.
    #[arg(long, default_value = "http://127.0.0.1:9700")]
    pub url: String,
    /// The Logstash pipeline's `pipeline.ecs_compatibility` (logstash.yml or
    /// pipelines.yml), which the config file does not hold: given to each grok that does
    /// not set its own. Without it such a grok runs as `v8`, Logstash 8's
    /// default; Logstash 7's was `disabled`.
    #[arg(long, value_name = "MODE", value_parser = ["disabled", "v1", "v8"])]
    pub ecs_compatibility: Option<String>,
}

/// Why `import` stopped, with the exit code the other commands give the
/// same kind of problem.
#[derive(Debug)]
pub enum ImportError {
    /// The logstash.conf or an argument is refused: exit 2, as for a config
    /// `check` refuses.
    Refused(String),
    /// A file could not be read or written: exit 1.
    Io(String),
}

impl ImportError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ImportError::Refused(_) => 2,
            ImportError::Io(_) => 1,
        }
    }

    /// What went wrong, a line each.
    pub fn message(&self) -> &str {
        match self {
            ImportError::Refused(message) | ImportError::Io(message) => message,
        }
    }
}

/// Reads `args.logstash_conf` and converts it; `--logstash-out` is written
/// by [`Imported::write_logstash`] once the pipelines are out. Every reason
/// it cannot is in the error, a line each.
pub fn import(args: &ImportArgs) -> Result<Imported, ImportError> {
    let url = &args.url;
    let plain =
        !url.contains(|c: char| c == '"' || c == '\\' || c.is_whitespace() || c.is_control());
    if !(plain && (url.starts_with("http://") || url.starts_with("https://")) && url.len() > 8) {
        return Err(ImportError::Refused(format!(
            "--url {url:?}: the sidecar's URL, http:// or https:// and a host, without spaces, \
             quotes or backslashes"
        )));
    }
    if let Some(out) = &args.logstash_out {
        check_logstash_out(out, &args.logstash_conf).map_err(ImportError::Refused)?;
    }
    let shown = crate::files::shown(&args.logstash_conf);
    let text = read(&args.logstash_conf).map_err(|e| {
        let message = format!("{shown}: {e}");
        // What the file is, not whether it could be read: as `check` refuses it.
        match e.kind() {
            ErrorKind::InvalidInput | ErrorKind::InvalidData | ErrorKind::FileTooLarge => {
                ImportError::Refused(message)
            }
            _ => ImportError::Io(message),
        }
    })?;
    let target = Target {
        pipeline: &args.pipeline,
        url,
        ecs_compatibility: args.ecs_compatibility.as_deref(),
        working_dir: &std::env::current_dir()
            .map_err(|e| ImportError::Io(format!("cannot tell the current directory: {e}")))?,
    };
    let mut imported = convert(&text, &shown, &target).map_err(ImportError::Refused)?;
    loads(&imported, &shown).map_err(ImportError::Refused)?;
    imported.logstash_out = args.logstash_out.clone();
    match &args.logstash_out {
        Some(out) => {
            let out = crate::files::shown(out);
            imported
                .summary
                .push_str(&format!("; the logstash.conf that calls them: {out}"));
        }
        None if !imported.stays.is_empty() => {
            let mut lines = vec![format!(
                "{shown}: some of it stays in Logstash, so the pipelines only work with the \
                 logstash.conf that calls them in place of the moved filters: add \
                 --logstash-out FILE to write it. What stays:"
            )];
            lines.extend(imported.stays.iter().map(|s| format!("  {shown}:{s}")));
            return Err(ImportError::Refused(lines.join("\n")));
        }
        None => {}
    }
    Ok(imported)
}

/// Loads every imported filter as `check` does, so that an option a
/// filter refuses is found now, not when the sidecar starts; each refusal
/// names the filter's line in `source`, the logstash.conf.
fn loads(imported: &Imported, source: &str) -> Result<(), String> {
    let config = &imported.config;
    let engine = crate::engine::Engine::new(config.engine.clone()).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    for (pipeline, lines) in &imported.lines {
        let specs = config
            .pipelines
            .get(pipeline)
            .map_or(&[][..], Vec::as_slice);
        if let Err(errors) = crate::config::load_filters(&engine, specs) {
            for error in errors {
                let line = lines.get(error.index).map_or(0, |line| *line);
                problems.push(format!(
                    "  {source}:{line}: `{}` (pipeline `{pipeline}`): {}",
                    crate::config::shown_name(&error.name),
                    error.error
                ));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.insert(
        0,
        "the imported filters do not load (an option's value is read as Logstash reads it, \
         so most of these Logstash refuses too): edit these in the logstash.conf and import \
         again"
            .to_string(),
    );
    Err(problems.join("\n"))
}

fn read(path: &Path) -> std::io::Result<String> {
    let limit = crate::config::MAX_CONFIG_BYTES;
    if path != Path::new("-") {
        return crate::files::read_capped_text(path, limit, "Logstash config");
    }
    let what = "Logstash config";
    let bytes =
        crate::files::read_stream_capped(std::io::stdin().lock(), 0, limit, what).map_err(|e| {
            match e.kind() {
                // Refused as `import DIR` is, not reported as a failed read.
                ErrorKind::IsADirectory => std::io::Error::new(
                    ErrorKind::InvalidInput,
                    "standard input is a directory, not a Logstash config",
                ),
                _ => e,
            }
        })?;
    crate::files::into_text(bytes, what)
}

/// Refuses, before anything is written, an `--logstash-out` that would not
/// be a file of its own, or could not be written: the input itself; the
/// file stdout writes to, which takes the pipelines (`-` too); a directory,
/// or a path in a directory that does not exist (links followed). And one
/// written while stdout is `/dev/null`, as a closed stdout is made: it
/// would call pipelines that went nowhere.
fn check_logstash_out(out: &Path, input: &Path) -> Result<(), String> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    let shown = crate::files::shown(out);
    let refused = |why: &str| format!("--logstash-out {shown}: {why}");
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    let stdout_takes_it = || refused("stdout takes the pipelines' TOML; name a file of its own");
    if out == Path::new("-") {
        return Err(stdout_takes_it());
    }
    let target = crate::files::link_target(out).map_err(|e| refused(&e.to_string()))?;
    if target.is_dir() || out.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(refused("a directory; name a file"));
    }
    let directory = crate::files::directory_of(&target);
    if !directory.is_dir() {
        let missing = crate::files::shown(directory);
        return Err(refused(&format!("no directory {missing} to write it in")));
    }
    // A device takes any number of writers: `--logstash-out /dev/null
    // > /dev/null` is a dry run. Anything else open as the input or stdout
    // (`/dev/stdout` on a pipe too) is one file written twice.
    if std::fs::metadata(out).is_ok_and(|m| m.file_type().is_char_device()) {
        return Ok(());
    }
    let written = crate::files::id_of(out);
    let input = match input == Path::new("-") {
        true => crate::files::fd_id(stdin.as_fd()),
        false => crate::files::id_of(input),
    };
    if written.is_some() && written == input {
        return Err(format!(
            "{shown}: --logstash-out names the file being imported; write beside it"
        ));
    }
    if written.is_some() && written == crate::files::fd_id(stdout.as_fd()) {
        return Err(stdout_takes_it());
    }
    if crate::files::discards(stdout.as_fd()) {
        return Err(refused(
            "stdout is /dev/null (or closed), so the pipelines it calls would go nowhere; \
             send stdout to a file",
        ));
    }
    Ok(())
}

impl Imported {
    /// Whether `--logstash-out` was given.
    pub fn writes_logstash(&self) -> bool {
        self.logstash_out.is_some()
    }

    /// Writes the rewritten logstash.conf to `--logstash-out`, if given:
    /// called once the pipelines it calls are out, so that a failure to
    /// write them leaves no logstash.conf calling pipelines that are not.
    pub fn write_logstash(&self) -> Result<(), ImportError> {
        let Some(out) = &self.logstash_out else {
            return Ok(());
        };
        // Replaced whole, as gen's files are: an import cut short leaves
        // the operator's earlier logstash.conf, not half of the new one.
        let write = || {
            let mut file = crate::files::output::OutputFile::create(out)?;
            file.start()?;
            file.write_all(self.logstash.as_bytes())?;
            file.commit()
        };
        write().map_err(|e| ImportError::Io(format!("cannot write the logstash.conf: {e}")))
    }
}
