//! A real `wasmstash serve` on a loopback port, and a raw HTTP/1.1 client
//! (so tests control every byte, including malformed requests).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `wasmstash` binary: cargo names it for integration tests; the
/// benchmarks find it next to themselves in the target directory.
pub fn binary() -> std::path::PathBuf {
    let path = option_env!("CARGO_BIN_EXE_wasmstash")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::current_exe().unwrap().with_file_name("wasmstash"));
    assert!(
        path.exists(),
        "{} not found; build it first (cargo build --release)",
        path.display()
    );
    path
}

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts the binary with `config` and waits until /readyz says ready.
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_with_stderr(config, env, Stdio::inherit())
    }

    /// As [`Server::start`], with the server's stderr (its log) going to
    /// `stderr`, such as a file a test reads afterwards.
    pub fn start_with_stderr(config: &Path, env: &[(&str, &str)], stderr: Stdio) -> Server {
        Server::start_tuned(config, env, stderr, |_| {})
    }

    /// As [`Server::start_with_stderr`], with `tune` given the command
    /// last, to set what the arguments cannot (its process limits, say).
    pub fn start_tuned(
        config: &Path,
        env: &[(&str, &str)],
        stderr: Stdio,
        tune: impl FnOnce(&mut Command),
    ) -> Server {
        let mut command = Command::new(binary());
        command
            .args([
                "serve",
                "--config",
                config.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .env(
                "WASMSTASH_CACHE_DIR",
                std::env::temp_dir().join("wasmstash-test-cache"),
            )
            .env_remove("WASMSTASH_ADMIN_TOKEN")
            // Filters in these tests fail on purpose; only the server's own
            // errors are worth seeing next to the test output.
            .env("RUST_LOG", "wasmstash=error")
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (key, value) in env {
            command.env(key, value);
        }
        tune(&mut command);
        let mut child = command.spawn().expect("starting wasmstash serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("wasmstash: listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        let server = Server { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.get("/readyz").status != 200 {
            assert!(Instant::now() < deadline, "server never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    /// The value of one series in `/metrics` (`name` and its labels as
    /// rendered, e.g. `wasmstash_reloads_total{result="ok"}`), 0 if absent.
    pub fn metric(&self, series: &str) -> f64 {
        let metrics = self.get("/metrics").text();
        (metrics.lines())
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |value| value.parse().unwrap())
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Response {
        self.request("POST", path, &[("Content-Type", "application/json")], body)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body);
        send_raw(self.addr, &bytes)
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(self) {
        let status = self.stop_with_status();
        assert!(status.success(), "serve exited with {status}");
    }

    /// Sends SIGTERM and waits for the process to exit, however it does.
    pub fn stop_with_status(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        super::wait_exit(
            &mut self.child,
            Duration::from_secs(30),
            "serve did not stop after SIGTERM",
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// Writes `request` as is and reads the whole response (the server closes).
pub fn send_raw(addr: SocketAddr, request: &[u8]) -> Response {
    send_raw_or_cut(addr, request).expect("a complete HTTP response")
}

/// [`send_raw`], or `None` when the connection ends (or is reset) before
/// a whole answer's head: a server that exits with the request unanswered.
pub fn send_raw_or_cut(addr: SocketAddr, request: &[u8]) -> Option<Response> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    raw.windows(4)
        .any(|w| w == b"\r\n\r\n")
        .then(|| parse_response(&raw))
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response's head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v == "chunked");
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
}

/// A config file in `dir` with `body` appended to a [server] table that
/// turns off file watching unless the test wants it.
pub fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("wasmstash.toml");
    std::fs::write(&path, body).unwrap();
    path
}

/// The test filter that drops, panics and loops on request (filters/chaos).
pub fn chaos_path() -> String {
    format!("{}/chaos.wasm", wasmstash::builtins::build_module_dir())
}

/// Two pipelines: `access` (mutate) and `chaos` (drops, panics and loops on
/// request, counts events as state).
pub fn access_and_chaos_config(server: &str) -> String {
    format!(
        r#"
[engine]
call_timeout_ms = 1500
memory_limit_mib = 32

[server]
{server}

[[pipelines.access.filters]]
filter = "mutate"
config = {{ add_field = {{ "[event][dataset]" = "apache.access" }}, add_tag = ["access"] }}

[[pipelines.chaos.filters]]
module = "{chaos}"
config = {{ drop_on = "DROP", panic_on = "BAD", loop_on = "LOOP" }}
"#,
        chaos = chaos_path(),
        server = if server.contains("watch") {
            server.to_owned()
        } else {
            format!("watch = false\n{server}")
        }
    )
}

/// A sidecar with [`access_and_chaos_config`]. Only for test builds:
/// `bench/` includes this module too, with `tempfile` only among its
/// dev-dependencies.
#[cfg(test)]
pub fn start_access_and_chaos(server: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &access_and_chaos_config(server));
    (Server::start(&config, &[]), dir)
}
