//! What the Elasticsearch and Kibana steps share: the credentials, the CA
//! certificate and the wait for a service that is still starting (in compose,
//! setup starts while Kibana is still migrating its saved objects).

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{SetupArgs, SetupError};
use crate::error_chain;

/// How setup authenticates; the same credentials go to both services.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Basic {
        username: String,
        password: String,
    },
    /// base64 of `id:key`, sent as `Authorization: ApiKey ...`.
    ApiKey(String),
}

impl Auth {
    pub fn from_args(args: &SetupArgs) -> Result<Auth, SetupError> {
        match (&args.api_key, &args.username, &args.password) {
            (Some(key), None, None) if !key.trim().is_empty() => Ok(Auth::ApiKey(key.trim().into())),
            (Some(_), _, _) => Err(SetupError(
                "--api-key (ELASTICSEARCH_API_KEY) is empty, or given together with \
                 --username/--password (ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD); use one of the two"
                    .into(),
            )),
            (None, Some(username), Some(password)) => Ok(Auth::Basic {
                username: username.clone(),
                password: password.clone(),
            }),
            (None, Some(_), None) => Err(SetupError(
                "--username needs a password: set ELASTICSEARCH_PASSWORD (or --password)".into(),
            )),
            (None, None, Some(_)) => Err(SetupError(
                "a password was given without --username (ELASTICSEARCH_USERNAME), e.g. `elastic`".into(),
            )),
            (None, None, None) => Ok(Auth::None),
        }
    }
}

/// Largest `--ca-cert` read: a whole system bundle is about 200 KiB.
const MAX_CA_FILE_BYTES: u64 = 4 << 20;

/// Reads and sanity-checks the CA file, so a wrong path or a key file given
/// by mistake fails with its own message rather than as a TLS error later.
pub fn read_ca(path: Option<&Path>) -> Result<Option<Vec<u8>>, SetupError> {
    let Some(path) = path else { return Ok(None) };
    let pem = crate::files::read_capped(path, MAX_CA_FILE_BYTES, "CA file")
        .map_err(|e| SetupError(format!("--ca-cert {}: {e}", crate::files::shown(path))))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(SetupError(format!(
            "--ca-cert {}: no PEM certificate in the file (expected -----BEGIN CERTIFICATE-----)",
            crate::files::shown(path)
        )));
    }
    Ok(Some(pem))
}

/// The most of an answer setup reads: Elasticsearch's and Kibana's
/// answers to its requests are a few kilobytes. Past it, the URL is not the
/// service's (an answer that never ends would otherwise fill memory within
/// `--request-timeout`).
pub const MAX_ANSWER_BYTES: u64 = 16 << 20;

/// `url` parsed, if it is http or https: another scheme could never work,
/// and would otherwise be waited on for all of `--wait-timeout`.
pub fn web_url(option: &str, url: &str) -> Result<reqwest::Url, SetupError> {
    parse_web_url(url).map_err(|e| SetupError(format!("{option} {}: {e}", shown(url))))
}

/// `url` as setup prints it: what a `user:password@` may hold is masked.
/// Everything between the scheme and the last `@` goes, since a password
/// written with an unencoded `/`, `?` or `#` would end the host part
/// anywhere (a path with an `@` in it is masked too; it is only shown).
pub fn shown(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return url.to_owned();
    };
    match url[scheme_end..].rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end], &url[scheme_end + at..]),
        None => url.to_owned(),
    }
}

/// A URL argument checked as clap reads it, so that a malformed one is a
/// usage error (exit 2), as the README says, before anything is tried.
pub fn url_argument(url: &str) -> Result<String, String> {
    parse_web_url(url).map(|_| url.to_owned())
}

fn parse_web_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(format!("the scheme is `{other}`; use http:// or https://")),
    }
}

/// A reqwest answer's body, read up to [`MAX_ANSWER_BYTES`].
pub async fn capped_body(mut response: reqwest::Response) -> Result<Vec<u8>, Unread> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES)
    {
        return Err(Unread::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = (response.chunk().await).map_err(|e| Unread::Broken(error_chain(&e)))? {
        if (body.len() + chunk.len()) as u64 > MAX_ANSWER_BYTES {
            return Err(Unread::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why an answer's body was not read.
#[derive(Debug, thiserror::Error)]
pub enum Unread {
    /// Over [`MAX_ANSWER_BYTES`]: the URL is some other server's.
    #[error(
        "an answer over {MAX_ANSWER_BYTES} bytes, more than the service sends; is the URL right?"
    )]
    TooLarge,
    /// Cut short, timed out: a service restarting, a proxy.
    #[error("{0}")]
    Broken(String),
}

/// A readiness answer to `what` whose body could not be read: too large is
/// final, anything else may pass, and is waited out.
pub fn unread<T>(what: &str, why: Unread) -> Probe<T> {
    match why {
        Unread::TooLarge => Probe::Refused(format!("{what}: {why}")),
        Unread::Broken(_) => Probe::NotYet(format!("{what}: {why}")),
    }
}

/// The result of one readiness probe.
pub enum Probe<T> {
    Ready(T),
    /// Not up yet (connection refused, 503, still starting): try again.
    NotYet(String),
    /// Up but refusing us (bad credentials, no privilege): waiting won't help.
    Refused(String),
}

/// Probes `service` until it is ready, refuses, or `timeout` passes. Always
/// probes at least once.
pub async fn wait_for<T, F, Fut>(
    service: &str,
    url: &str,
    timeout: Duration,
    mut probe: F,
) -> Result<T, SetupError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Probe<T>>,
{
    let started = Instant::now();
    let mut announced = false;
    loop {
        // One probe gets the time left (at least a second), not all of
        // --request-timeout past the wait's end.
        let left = timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1));
        let probed = tokio::time::timeout(left, probe())
            .await
            .unwrap_or_else(|_| Probe::NotYet(format!("no answer within {} s", left.as_secs())));
        match probed {
            Probe::Ready(value) => return Ok(value),
            Probe::Refused(why) => {
                return Err(SetupError(format!(
                    "{service} at {url} refused setup: {why}"
                )));
            }
            Probe::NotYet(why) => {
                if started.elapsed() >= timeout {
                    return Err(SetupError(format!(
                        "{service} at {url} was not ready within {} s (last answer: {why}); \
                         check that it is running and the URL is right, or raise --wait-timeout",
                        timeout.as_secs()
                    )));
                }
                if !announced {
                    crate::say!("waiting for {service} at {url} ({why})");
                    announced = true;
                }
                tokio::time::sleep(Duration::from_secs(2).min(timeout)).await;
            }
        }
    }
}

/// A probe that failed before any answer: connection refused or a name not
/// found yet are waited out, as a service still starting gives them; a TLS
/// handshake that failed (a certificate from a CA `--ca-cert` does not
/// hold, a host name it does not name, https to a plain port) fails the
/// same way every time, so setup stops at once.
pub fn unanswered<T>(error: &(dyn std::error::Error + 'static)) -> Probe<T> {
    let why = error_chain(error);
    if handshake_failed(error) {
        Probe::Refused(format!(
            "{why}; the TLS handshake failed: check --ca-cert, and that the URL's host is one \
             the certificate names"
        ))
    } else {
        Probe::NotYet(why)
    }
}

/// Whether a TLS handshake failed among `error`'s causes: rustls's errors
/// reach the client as an `io::Error` of kind `InvalidData` (wrapped in
/// another `io::Error` on the way, whose `source` skips it), which nothing
/// else on the way to an answer's head gives.
fn handshake_failed(error: &(dyn std::error::Error + 'static)) -> bool {
    fn invalid_data(error: &std::io::Error) -> bool {
        error.kind() == std::io::ErrorKind::InvalidData
            || (error.get_ref())
                .and_then(|inner| inner.downcast_ref::<std::io::Error>())
                .is_some_and(invalid_data)
    }
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(invalid_data)
        {
            return true;
        }
        cause = error.source();
    }
    false
}

/// Whether an answer's `status` to a readiness probe says the URL is not
/// the service's: a client error, which a service still starting does not
/// give (it refuses the connection or answers 503), other than 401 and 403
/// (answered on their own) and those that ask for the request again: a
/// timeout (408), a proxy's misdirected request (421), too early (425) and
/// a rate limit (429).
pub fn wrong_service(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 401 | 403 | 408 | 421 | 425 | 429)
}

/// The advice for a 401/403, shared by both services.
pub fn refused_advice(status: u16) -> &'static str {
    if status == 401 {
        "check ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD or ELASTICSEARCH_API_KEY"
    } else {
        "the user or API key lacks a privilege setup needs (manage_ilm, manage_index_templates, \
         and Kibana's saved objects management)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SetupArgs,
    }

    fn auth(flags: &[&str]) -> Result<Auth, String> {
        let mut argv = vec!["setup"];
        argv.extend_from_slice(flags);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        Auth::from_args(&cli.args).map_err(|e| e.0)
    }

    #[test]
    fn credentials_come_in_pairs_or_as_a_key() {
        assert!(matches!(
            auth(&["--username", "u", "--password", "p"]),
            Ok(Auth::Basic { .. })
        ));
        assert!(matches!(auth(&["--api-key", "aWQ6a2V5"]), Ok(Auth::ApiKey(k)) if k == "aWQ6a2V5"));
        assert!(
            auth(&["--username", "u"])
                .unwrap_err()
                .contains("needs a password")
        );
        assert!(
            auth(&["--password", "p"])
                .unwrap_err()
                .contains("without --username")
        );
        assert!(auth(&["--api-key", " "]).unwrap_err().contains("empty"));
        // Said by setup, naming the variables too: either may have come
        // from the environment rather than the command line.
        let both = auth(&["--api-key", "k", "--username", "u"]).unwrap_err();
        assert!(
            both.contains("ELASTICSEARCH_USERNAME") && both.contains("use one of the two"),
            "{both}"
        );
    }

    #[test]
    fn what_a_url_holds_before_its_host_is_masked() {
        for (url, seen) in [
            ("http://127.0.0.1:9200", "http://127.0.0.1:9200"),
            ("https://u:pw@es:9200/x", "https://***@es:9200/x"),
            ("http://u:p/w@es:9200", "http://***@es:9200"),
            ("http://u@es", "http://***@es"),
            ("bogus", "bogus"),
        ] {
            assert_eq!(shown(url), seen);
        }
    }

    #[test]
    fn a_client_error_names_the_wrong_service_unless_it_asks_to_wait() {
        for status in [400, 404, 405, 410] {
            assert!(wrong_service(status), "{status}");
        }
        // Answered on their own (credentials), or a request to send again.
        for status in [401, 403, 408, 421, 425, 429, 200, 302, 500, 503] {
            assert!(!wrong_service(status), "{status}");
        }
    }

    #[test]
    fn a_ca_file_must_hold_a_pem_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n...\n").unwrap();
        let error = read_ca(Some(&key)).unwrap_err().0;
        assert!(error.contains("no PEM certificate"), "{error}");
        let missing = read_ca(Some(&dir.path().join("nope.crt"))).unwrap_err().0;
        assert!(missing.starts_with("--ca-cert "), "{missing}");
        assert!(read_ca(None).unwrap().is_none());
        // A FIFO is refused unread, not waited on.
        let fifo = dir.path().join("fifo.pem");
        crate::files::mkfifo(&fifo);
        let error = read_ca(Some(&fifo)).unwrap_err().0;
        assert!(error.contains("not a regular file"), "{error}");
    }
}
