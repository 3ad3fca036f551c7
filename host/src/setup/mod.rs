//! `wasmstash setup`: prepares an Elasticsearch cluster and Kibana for the
//! events wasmstash writes, so an operator's first `docker compose up` (or a
//! one-off run against an existing cluster) ends with mapped data streams and
//! ready dashboards.
//!
//! - `elasticsearch`: the ILM policy, component templates and the composable
//!   index template, installed only when they differ from what is there.
//! - `kibana`: the saved objects in `kibana/*.ndjson`, imported with
//!   `overwrite=true` so their fixed ids are replaced, never duplicated.
//! - `connection`: credentials, the CA certificate, and waiting for a service.
//!
//! Every step prints one line saying what it did; a service that is down, or
//! refuses the credentials, ends the run with a message naming the URL and
//! the way out.

mod connection;
mod elasticsearch;
mod kibana;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

pub use connection::Auth;

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  ELASTICSEARCH_PASSWORD=changeme wasmstash setup --username elastic \\
      --es-url https://localhost:9200 --kibana-url http://localhost:5601 --ca-cert ca.crt
  ELASTICSEARCH_API_KEY=base64idandkey wasmstash setup --skip-kibana

Credentials are sent to both Elasticsearch and Kibana. Prefer the environment
variables for secrets: a command line is visible to other users.")]
pub struct SetupArgs {
    /// Elasticsearch URL.
    #[arg(
        long,
        env = "ELASTICSEARCH_URL",
        default_value = "http://localhost:9200",
        value_parser = connection::url_argument
    )]
    pub es_url: String,
    /// Kibana URL.
    #[arg(long, env = "KIBANA_URL", default_value = "http://localhost:5601")]
    pub kibana_url: String,
    /// User for basic authentication (with the password).
    #[arg(long, env = "ELASTICSEARCH_USERNAME")]
    pub username: Option<String>,
    /// Password for basic authentication.
    #[arg(long, env = "ELASTICSEARCH_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// API key, base64 of `id:key` (the `encoded` value Elasticsearch returns).
    #[arg(long, env = "ELASTICSEARCH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// PEM file with the CA certificate(s) that signed the services' TLS certificates.
    #[arg(long, env = "ELASTICSEARCH_CA_CERT", value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// Directory whose *.ndjson files are imported into Kibana.
    #[arg(long, default_value = "kibana", value_name = "DIR")]
    pub kibana_objects: PathBuf,
    /// Install the Elasticsearch side only.
    #[arg(long)]
    pub skip_kibana: bool,
    /// Seconds to wait for each service to come up, 0 (one try) to 86400.
    #[arg(long, default_value_t = 180, value_name = "SECS",
          value_parser = crate::cli_number::in_range::<0, 86_400>)]
    pub wait_timeout: u64,
    /// Seconds allowed for one HTTP request, 1 to 3600.
    #[arg(long, default_value_t = 30, value_name = "SECS",
          value_parser = crate::cli_number::in_range::<1, 3600>)]
    pub request_timeout: u64,
}

/// Why setup stopped. The message is complete: it names the service, its URL
/// and what to check.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// What one step did, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
        })
    }
}

/// A usage error the arguments hold that clap cannot see: a Kibana URL
/// that is no http(s) URL, unless `--skip-kibana` leaves it unused.
pub fn usage_problem(args: &SetupArgs) -> Option<String> {
    if args.skip_kibana {
        return None;
    }
    let problem = connection::url_argument(&args.kibana_url).err()?;
    Some(format!(
        "invalid value '{}' for '--kibana-url' (or KIBANA_URL): {problem}",
        connection::shown(&args.kibana_url)
    ))
}

/// Runs setup; each finished step is printed to stdout as it happens.
pub fn run(args: &SetupArgs) -> Result<(), SetupError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SetupError(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(run_async(args, &mut std::io::stdout()))
}

/// The whole setup, writing its progress lines to `out` (tests capture them).
pub async fn run_async(args: &SetupArgs, out: &mut dyn std::io::Write) -> Result<(), SetupError> {
    let auth = Auth::from_args(args)?;
    let ca = connection::read_ca(args.ca_cert.as_deref())?;
    let request_timeout = Duration::from_secs(args.request_timeout);
    let wait = Duration::from_secs(args.wait_timeout);
    // Reading the saved objects first means a typo in the path fails before
    // anything is changed on the cluster.
    let objects = if args.skip_kibana {
        None
    } else {
        Some(kibana::SavedObjects::read_dir(&args.kibana_objects)?)
    };

    let es = elasticsearch::Installer::new(&args.es_url, &auth, ca.as_ref(), request_timeout)?;
    let health = es.wait_ready(wait).await?;
    say(
        out,
        format!(
            "elasticsearch {}: up, cluster health {health}",
            connection::shown(&args.es_url)
        ),
    );
    es.install(|what, outcome| say(out, format!("  {what}: {outcome}")))
        .await?;

    if let Some(objects) = objects {
        let kibana = kibana::Importer::new(&args.kibana_url, &auth, ca.as_ref(), request_timeout)?;
        kibana.wait_ready(wait).await?;
        say(
            out,
            format!("kibana {}: up", connection::shown(&args.kibana_url)),
        );
        let imported = kibana.import(&objects).await?;
        say(
            out,
            format!(
                "  saved objects: {} imported with overwrite from {}",
                imported.len(),
                objects.sources()
            ),
        );
        for line in imported {
            say(out, format!("    {line}"));
        }
    }
    say(out, "setup done".into());
    Ok(())
}

fn say(out: &mut dyn std::io::Write, line: String) {
    // Progress output is best effort: a closed stdout must not undo the work.
    let _ = writeln!(out, "{line}");
}
