//! `wasmstash probe`: an HTTP GET that exits 0 on a 2xx answer, for container
//! health checks. The sidecar's image has no curl or wget (fewer tools, fewer
//! CVEs), so the binary checks itself: `HEALTHCHECK CMD ["wasmstash", "probe"]`.
//!
//! Plain HTTP/1.0 over a std `TcpStream`, with a deadline on every step: a
//! health check must never hang, and it only ever talks to the sidecar on the
//! same host.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use clap::Args;

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// What to GET (http only).
    #[arg(default_value = "http://127.0.0.1:9700/readyz")]
    pub url: String,
    /// Seconds for each step: looking up the host, connecting, sending, and
    /// reading the answer (1 to 3600).
    #[arg(long, default_value_t = 3, value_parser = crate::cli_number::in_range::<1, 3600>)]
    pub timeout: u64,
}

/// Returns the status line on a 2xx answer, an error otherwise. Every
/// error exits 1, a URL that cannot be probed too: Docker reserves exit
/// code 2 in health checks.
pub fn probe(args: &ProbeArgs) -> Result<String, String> {
    // Before anything that would echo the URL: the part before an `@` may
    // be a password, and one holding an unencoded `/`, `?` or `#` would be
    // cut anywhere, so any `@` is refused (a health check's path has none).
    if args.url.contains('@') {
        return Err("the URL holds an `@`: probe sends no credentials \
                    (user@ or user:password@), so give the host alone"
            .to_string());
    }
    let rest = args
        .url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{}: only http:// URLs can be probed", args.url))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let timeout = Duration::from_secs(args.timeout);
    let address = resolve(authority, timeout)?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| failed(address, "connecting", e, timeout))?;
    stream.set_read_timeout(Some(timeout)).ok();
    stream.set_write_timeout(Some(timeout)).ok();
    // One write: `write!` on the stream would send each formatted piece in a
    // segment of its own.
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| failed(address, "sending the request", e, timeout))?;
    // The status line is all we need; 256 bytes hold it. The deadline is
    // for the whole of it: a server that drips a byte at a time must not
    // stretch the step to 256 timeouts.
    let mut head = [0u8; 256];
    let mut filled = 0;
    let deadline = Instant::now() + timeout;
    while filled < head.len() && !head[..filled].contains(&b'\n') {
        let left = deadline.saturating_duration_since(Instant::now());
        let read = match left.is_zero() {
            true => Err(std::io::ErrorKind::TimedOut.into()),
            false => (stream.set_read_timeout(Some(left)))
                .and_then(|()| stream.read(&mut head[filled..])),
        };
        match read {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => return Err(failed(address, "waiting for the answer", e, timeout)),
        }
    }
    let text = String::from_utf8_lossy(&head[..filled]);
    let status_line = text.lines().next().unwrap_or("").trim().to_owned();
    let code = status_line.split_whitespace().nth(1).unwrap_or("");
    if code.len() == 3 && code.starts_with('2') {
        Ok(status_line)
    } else if status_line.is_empty() {
        Err(format!("{}: no answer", args.url))
    } else {
        Err(format!("{}: {status_line}", args.url))
    }
}

/// The first address of `authority`, looked up within `timeout`: the
/// system's resolver has no deadline of its own, so it asks from a thread
/// that is left behind if it takes too long.
fn resolve(authority: &str, timeout: Duration) -> Result<SocketAddr, String> {
    let with_port = with_default_port(authority);
    let (sender, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(with_port.to_socket_addrs().map(|mut all| all.next()));
    });
    match answer.recv_timeout(timeout) {
        Ok(Ok(Some(address))) => Ok(address),
        Ok(Ok(None)) => Err(format!("{authority}: no address")),
        Ok(Err(e)) => Err(format!("{authority}: {e}")),
        Err(_) => Err(format!(
            "{authority}: looking up the address: timed out after {} s (--timeout)",
            timeout.as_secs()
        )),
    }
}

/// What went wrong in `step`. A socket's deadline shows as "would block"
/// (EAGAIN) on a read or write, which would not tell the operator the
/// answer was late: said as the timeout it is.
fn failed(address: SocketAddr, step: &str, error: std::io::Error, timeout: Duration) -> String {
    match error.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => format!(
            "{address}: {step}: timed out after {} s (--timeout)",
            timeout.as_secs()
        ),
        _ => format!("{address}: {step}: {error}"),
    }
}

/// `authority` with port 80 if it names none, as a browser reads a URL.
fn with_default_port(authority: &str) -> String {
    let port_given = !authority.ends_with(']')
        && (authority.rsplit_once(':'))
            .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    if port_given {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_a_port_means_port_80() {
        for (given, meant) in [
            ("127.0.0.1", "127.0.0.1:80"),
            ("127.0.0.1:9700", "127.0.0.1:9700"),
            ("[::1]", "[::1]:80"),
            ("[::1]:9700", "[::1]:9700"),
            ("localhost", "localhost:80"),
        ] {
            assert_eq!(with_default_port(given), meant);
        }
    }
    use std::net::TcpListener;

    /// A one-request server answering `status_line`; returns the probe args
    /// for it and the request it received.
    fn answer_once(status_line: &'static str) -> (ProbeArgs, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/readyz", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // The whole request, as a server reads it, before answering.
            let mut request = Vec::new();
            let mut chunk = [0u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                match stream.read(&mut chunk).unwrap() {
                    0 => break,
                    n => request.extend_from_slice(&chunk[..n]),
                }
            }
            write!(stream, "{status_line}\r\ncontent-length: 2\r\n\r\nok").unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (ProbeArgs { url, timeout: 5 }, server)
    }

    #[test]
    fn a_2xx_answer_passes_and_anything_else_fails() {
        let (args, server) = answer_once("HTTP/1.1 200 OK");
        assert_eq!(probe(&args).unwrap(), "HTTP/1.1 200 OK");
        assert!(
            server
                .join()
                .unwrap()
                .starts_with("GET /readyz HTTP/1.0\r\n")
        );

        let (args, server) = answer_once("HTTP/1.1 503 Service Unavailable");
        let error = probe(&args).unwrap_err();
        assert!(
            error.ends_with("/readyz: HTTP/1.1 503 Service Unavailable"),
            "{error}"
        );
        server.join().unwrap();
    }

    #[test]
    fn only_http_urls_are_probed() {
        let args = ProbeArgs {
            url: "https://127.0.0.1:9700/readyz".into(),
            timeout: 1,
        };
        assert!(probe(&args).unwrap_err().contains("only http://"));
    }

    /// A server that takes the connection and never answers: the probe
    /// says it timed out, and after how long, not "Resource temporarily
    /// unavailable" (the read's EAGAIN).
    #[test]
    fn a_silent_server_is_said_to_have_timed_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/readyz", listener.local_addr().unwrap());
        let error = probe(&ProbeArgs { url, timeout: 1 }).unwrap_err();
        assert!(
            error.ends_with("waiting for the answer: timed out after 1 s (--timeout)"),
            "{error}"
        );
        drop(listener);
    }

    /// A server that sends its status line a byte every half second: the
    /// answer is late as a whole, though no single read is.
    #[test]
    fn a_dripping_answer_is_bounded_as_a_whole() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/readyz", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            for byte in b"HTTP/1.1 200 OK\r\n" {
                if stream.write_all(&[*byte]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        let error = probe(&ProbeArgs { url, timeout: 1 }).unwrap_err();
        assert!(
            error.ends_with("timed out after 1 s (--timeout)"),
            "{error}"
        );
        server.join().unwrap();
    }

    #[test]
    fn credentials_in_the_url_are_refused_unsaid() {
        for url in [
            "http://user:secret@127.0.0.1:1/",
            "https://user:secret@127.0.0.1:1/",
            "http://user:se/cret@127.0.0.1:1/readyz",
            "http://user:p?ss@127.0.0.1:1/",
        ] {
            let error = probe(&ProbeArgs {
                url: url.into(),
                timeout: 1,
            })
            .unwrap_err();
            assert!(
                error.contains("credentials") && !error.contains("secret"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_timeout_of_zero_is_refused() {
        let command = ProbeArgs::augment_args(clap::Command::new("probe"));
        let error = command
            .try_get_matches_from(["probe", "--timeout", "0"])
            .unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
    }
}
