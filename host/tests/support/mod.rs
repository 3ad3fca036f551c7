//! Helpers shared by the host's integration tests: real modules, real data.
#![allow(dead_code)]

pub mod identical;
pub mod server;

use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use wasmstash::engine::{Engine, EngineSettings, FilterModule};
use wasmstash::event_check::CheckedEvent;
use wasmstash::pipeline::{EventResult, Pipeline};

/// Makes a named pipe at `path`, readable and writable by this user only:
/// an input, a module or a state file that is not a regular file.
pub fn mkfifo(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `name` is a valid NUL-terminated path for the call's duration.
    let made = unsafe { libc::mkfifo(name.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo {}", path.display());
}

/// A directory no entry can be made in, renamed or removed from, even by
/// root (`chattr +i`), as a conf.d kept by root is to its users; the files
/// in it can still be written. Opened again when dropped, so that the test's
/// temporary directory can be removed.
pub struct ClosedDir(PathBuf);

impl ClosedDir {
    pub fn close(dir: &std::path::Path) -> ClosedDir {
        chattr("+i", dir);
        ClosedDir(dir.to_owned())
    }
}

impl Drop for ClosedDir {
    fn drop(&mut self) {
        chattr("-i", &self.0);
    }
}

fn chattr(flag: &str, dir: &std::path::Path) {
    let status = std::process::Command::new("chattr")
        .arg(flag)
        .arg(dir)
        .status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "chattr {flag} failed ({status:?}): these tests need root and e2fsprogs"
    );
}

/// Polls `check` every 20 ms until it holds. Something a server does in its
/// own time (a watcher's reload, a body read) is waited for, not slept
/// for; past 60 s, only against a hang, the test fails with `what`.
pub fn eventually(what: impl std::fmt::Display, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Makes `stream`'s receive buffer small, so that an answer left unread
/// stays in the server rather than in the kernel (loopback's buffers may
/// grow to tens of MiB).
pub fn small_receive_buffer(stream: &std::net::TcpStream) {
    let small: libc::c_int = 64 << 10;
    // SAFETY: setsockopt reads an int of the size given, nothing else.
    let set = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(stream),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw const small).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0, "{}", std::io::Error::last_os_error());
}

/// A sidecar with `[server]` settings `server` (watch off) and one
/// pipeline, `app`, whose mutate tags each event `seen`. Only for test
/// builds, as `bench/` includes this module without `tempfile`.
#[cfg(test)]
pub fn start_tagging(server: &str) -> (server::Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = server::write_config(
        dir.path(),
        &format!(
            "[server]\nwatch = false\n{server}\n\n[[pipelines.app.filters]]\nfilter = \"mutate\"\nconfig = {{ add_tag = [\"seen\"] }}\n"
        ),
    );
    (server::Server::start(&config, &[]), dir)
}

/// A connection to `addr` (IPv4) whose receive buffer is `bytes`, set
/// before it connects, so that its window stays that small: the client
/// acknowledges each read as it makes it, as a slow client on a real
/// network does, rather than in bursts of a large buffer's worth.
pub fn connect_with_receive_buffer(addr: std::net::SocketAddr, bytes: i32) -> std::net::TcpStream {
    use std::os::fd::FromRawFd;
    let std::net::SocketAddr::V4(v4) = addr else {
        panic!("{addr} is not IPv4");
    };
    // SAFETY: each call gets plain values or pointers to live locals of the
    // sizes given; the descriptor is owned by the stream made of it, or
    // closed here when connecting fails.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        let size: libc::c_int = bytes;
        let set = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw const size).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(set, 0, "{}", std::io::Error::last_os_error());
        let to = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let length = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::connect(fd, (&raw const to).cast(), length) != 0 {
            let error = std::io::Error::last_os_error();
            libc::close(fd);
            panic!("connecting to {addr}: {error}");
        }
        std::net::TcpStream::from_raw_fd(fd)
    }
}

/// Waits for `child` to exit, for `limit` at most; past it the child is
/// killed and the test fails with `what`.
pub fn wait_exit(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// As [`wait_exit`], for a child whose stderr is piped: its status and
/// everything it wrote there.
pub fn wait_exit_with_stderr(
    child: &mut Child,
    limit: Duration,
    what: &str,
) -> (ExitStatus, String) {
    let status = wait_exit(child, limit, what);
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
    }
    (status, stderr)
}

/// Runs `command` (the binary with its arguments and environment), which
/// must be refused at start: with the tests' module cache, no input, and
/// its stderr kept. Past 30 s it went on, and the test fails with `what`.
/// Its exit code and what it wrote to stderr.
pub fn refused_run(command: &mut std::process::Command, what: &str) -> (Option<i32>, String) {
    use std::process::Stdio;
    let mut child = (command.env(
        "WASMSTASH_CACHE_DIR",
        std::env::temp_dir().join("wasmstash-test-cache"),
    ))
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (status, stderr) = wait_exit_with_stderr(&mut child, Duration::from_secs(30), what);
    (status.code(), stderr)
}

/// `../shared/data` beside the checkout; tests must not pass without it.
pub fn shared_data() -> PathBuf {
    let dir = wasmstash_sdk::crate_dir!().join("../../shared/data");
    assert!(
        dir.is_dir(),
        "test data missing: expected the shared data folder at {} (see the README)",
        dir.display()
    );
    dir
}

/// The 10,000 real Apache access lines.
pub fn apache_lines() -> Vec<String> {
    let path = shared_data().join("access/apache_logs");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 10_000, "{} changed", path.display());
    lines
}

/// Access line `i` as Filebeat ships it: the line in `message` among the
/// agent's metadata, about a kilobyte more, much of it nested.
pub fn filebeat_event(i: usize, line: &str) -> serde_json::Value {
    serde_json::json!({
        "@timestamp": "2015-05-20T21:05:15.000Z",
        "message": line,
        "agent": {"type": "filebeat", "version": "8.15.0", "ephemeral_id": "6b1c-44f0-9a6e-0f3c2b7d",
                  "id": "d2f0c5a8-1b7e-4c3e-9f5d-2a6b8c4e1f7a", "name": "web-01"},
        "ecs": {"version": "8.11.0"},
        "host": {"name": "web-01", "hostname": "web-01", "architecture": "x86_64",
                 "os": {"family": "debian", "name": "Debian GNU/Linux", "kernel": "6.1.0-18-amd64",
                        "codename": "bookworm", "type": "linux", "platform": "debian", "version": "12 (bookworm)"},
                 "id": "8a1f3e9c2b7d4f6a", "containerized": false,
                 "ip": ["10.0.3.17", "fe80::4001:aff:fe00:311"], "mac": ["42-01-0A-00-03-11"]},
        "log": {"file": {"path": "/var/log/apache2/access.log", "device_id": "2049", "inode": "1835041"},
                "offset": i * 180},
        "input": {"type": "filestream"},
        "event": {"dataset": "apache.access", "module": "apache"},
        "fields": {"env": "production", "team": "web"},
    })
}

/// A module the build compiled (built-in or not), by file stem.
pub fn built_module(stem: &str) -> Vec<u8> {
    let path = PathBuf::from(wasmstash::builtins::build_module_dir()).join(format!("{stem}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// An engine with tight limits, so hostile tests finish quickly.
pub fn strict_engine() -> Engine {
    engine_with_deadline(Duration::from_millis(200))
}

/// An engine for tests over real data: [`strict_engine`]'s memory limit,
/// and a deadline that only catches a hang, since a loaded machine can hold
/// a legitimate call (a grok init, a batch) past 200 ms of wall time.
pub fn data_engine() -> Engine {
    engine_with_deadline(Duration::from_secs(30))
}

/// An engine with a 16 MiB memory limit and `deadline` on each call.
fn engine_with_deadline(deadline: Duration) -> Engine {
    Engine::new(EngineSettings {
        call_timeout: Some(deadline),
        memory_limit_bytes: 16 << 20,
        cache_dir: None,
        ..Default::default()
    })
    .unwrap()
}

pub fn load(engine: &Engine, name: &str, wasm_or_wat: &[u8], config: &str) -> FilterModule {
    FilterModule::load(engine, name, wasm_or_wat, config.as_bytes())
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// Why loading `wasm_or_wat` with `config` fails, on a [`strict_engine`];
/// panics if it loads.
pub fn load_error(wasm_or_wat: &[u8], config: &str) -> String {
    load_error_on(&strict_engine(), wasm_or_wat, config)
}

/// [`load_error`] on `engine`.
pub fn load_error_on(engine: &Engine, wasm_or_wat: &[u8], config: &str) -> String {
    match FilterModule::load(engine, "m", wasm_or_wat, config.as_bytes()) {
        Ok(_) => panic!("module was accepted"),
        Err(e) => e.to_string(),
    }
}

/// Loads `wat` with an empty config on a [`strict_engine`], panicking with
/// the reason if it fails.
pub fn assert_loads(wat: &str) {
    if let Err(e) = FilterModule::load(&strict_engine(), "m", wat.as_bytes(), b"{}") {
        panic!("module was refused: {e}");
    }
}

pub fn message_events(messages: &[&str]) -> Vec<CheckedEvent> {
    messages.iter().map(|m| CheckedEvent::message(m)).collect()
}

/// `events` checked, as a pipeline takes them.
pub fn checked(events: &[Vec<u8>]) -> Vec<CheckedEvent> {
    (events.iter())
        .map(|event| CheckedEvent::new(event.clone()).unwrap())
        .collect()
}

/// Results as JSON values (`null` for a drop), for assertions.
pub fn as_json(results: Vec<EventResult>) -> Vec<serde_json::Value> {
    results
        .into_iter()
        .map(|r| match r {
            EventResult::Event(bytes) => serde_json::from_slice(&bytes).unwrap(),
            EventResult::Dropped => serde_json::Value::Null,
        })
        .collect()
}

pub fn pipeline(module: FilterModule) -> Pipeline {
    Pipeline::new("test", vec![module])
}

/// A stateful [`wat_filter`] that passes every event unchanged and whose
/// snapshot always traps.
pub fn unsnapshottable_filter() -> String {
    let process = format!("{ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}");
    wat_filter(&process).replacen(
        r#"(func (export "wasmstash_free")"#,
        r#"(func (export "wasmstash_snapshot") (result i64) unreachable)
  (func (export "wasmstash_restore") (param i32 i32) (result i64) (i64.const 0))
  (func (export "wasmstash_free")"#,
        1,
    )
}

/// A hand-written ABI v1 module whose `wasmstash_process` body is `process`.
/// It has a bump allocator (the host reuses its input buffer, so nothing
/// needs freeing) and accepts any config.
pub fn wat_filter(process: &str) -> String {
    format!(
        r#"(module
  (memory (export "memory") 2)
  (global $next (mut i32) (i32.const 65536))
  (data (i32.const 1024) "\ff\ff\ff\ffgarbage")
  (func (export "wasmstash_abi_version") (result i32) (i32.const 1))
  (func (export "wasmstash_alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (block $enough
      (br_if $enough (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
      (drop (memory.grow (i32.add (i32.const 1)
        (i32.div_u (i32.sub (global.get $next) (i32.mul (memory.size) (i32.const 65536))) (i32.const 65536))))))
    (local.get $p))
  (func (export "wasmstash_free") (param i32 i32))
  (func (export "wasmstash_init") (param i32 i32) (result i64) (i64.const 0))
  (func (export "wasmstash_process") (param $ptr i32) (param $len i32) (result i64)
    (local $n i32) (local $i i32) (local $o i32)
    {process}))"#
    )
}

/// The ABI document's example filter, with `payload` as the result of kind
/// `kind` (1 replaced, 4 extended) for every event.
pub fn constant_result_wat(kind: u8, payload: &[u8]) -> String {
    let data: String = payload.iter().map(|b| format!("\\{b:02x}")).collect();
    let (len, record) = (payload.len(), payload.len() + 5);
    format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{data}")
  (global $heap (mut i32) (i32.const 4096))
  (func (export "wasmstash_abi_version") (result i32) (i32.const 1))
  (func $alloc (export "wasmstash_alloc") (param $len i32) (result i32)
    (local $ptr i32) (local $end i32) (local $have i32)
    (local.set $ptr (global.get $heap))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq (i32.const -1)
              (memory.grow (i32.shr_u
                (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535))
                (i32.const 16))))
          (then unreachable))))
    (global.set $heap (local.get $end))
    (local.get $ptr))
  (func (export "wasmstash_free") (param i32 i32))
  (func (export "wasmstash_init") (param i32 i32) (result i64) (i64.const 0))
  (func (export "wasmstash_process") (param $batch i32) (param $len i32) (result i64)
    (local $count i32) (local $size i32) (local $out i32) (local $at i32)
    (local.set $count (i32.load (local.get $batch)))
    (local.set $size (i32.add (i32.const 4) (i32.mul (local.get $count) (i32.const {record}))))
    (local.set $out (call $alloc (local.get $size)))
    (i32.store (local.get $out) (local.get $count))
    (local.set $at (i32.add (local.get $out) (i32.const 4)))
    (block $done
      (loop $each
        (br_if $done (i32.eq (local.get $at) (i32.add (local.get $out) (local.get $size))))
        (i32.store8 (local.get $at) (i32.const {kind}))
        (i32.store offset=1 (local.get $at) (i32.const {len}))
        (memory.copy (i32.add (local.get $at) (i32.const 5)) (i32.const 16) (i32.const {len}))
        (local.set $at (i32.add (local.get $at) (i32.const {record})))
        (br $each)))
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
      (i64.extend_i32_u (local.get $size)))))"#
    )
}

/// A `wasmstash_process` body (for [`wat_filter`]) that writes the result
/// "unchanged" for every event of the batch, from byte 2048 on, and touches
/// nothing else; [`RETURN_OUTPUT_AT_2048`] then returns it.
pub const ALL_UNCHANGED: &str = "
    (local.set $n (i32.load (local.get $ptr)))
    (i32.store (i32.const 2048) (local.get $n))
    (local.set $o (i32.add (i32.const 2052) (i32.mul (local.get $n) (i32.const 5))))
    (memory.fill (i32.const 2052) (i32.const 0) (i32.mul (local.get $n) (i32.const 5)))";

/// Packs (ptr, len) the way ABI v1 returns buffers.
pub const RETURN_OUTPUT_AT_2048: &str = "(i64.or (i64.shl (i64.const 2048) (i64.const 32)) (i64.extend_i32_u (i32.sub (local.get $o) (i32.const 2048))))";

/// A module that traps on any batch of more than one event and, for one
/// event alone, adds a member `b` holding `size` bytes: each lone result
/// is within `engine.max_event_mib`, but together they would not fit in
/// the instance's memory, as one call's results must.
pub fn growing_alone(size: usize) -> String {
    const OUT: usize = 1 << 20;
    let pages = (OUT + size + 64).div_ceil(65536);
    wat_filter(&format!(
        r#"(if (i32.gt_u (i32.load (local.get $ptr)) (i32.const 1)) (then unreachable))
        (if (i32.lt_u (memory.size) (i32.const {pages}))
          (then (drop (memory.grow (i32.sub (i32.const {pages}) (memory.size))))))
        (i32.store (i32.const {OUT}) (i32.const 1))
        (i32.store8 (i32.const {kind}) (i32.const 4))
        (i32.store (i32.const {len}) (i32.const {size}))
        (memory.fill (i32.const {payload}) (i32.const 120) (i32.const {size}))
        (i32.store (i32.const {payload}) (i32.const 0x3a226222))
        (i32.store8 (i32.const {quote}) (i32.const 34))
        (i32.store8 (i32.const {last}) (i32.const 34))
        (i64.or (i64.shl (i64.const {OUT}) (i64.const 32)) (i64.const {total}))"#,
        kind = OUT + 4,
        len = OUT + 5,
        payload = OUT + 9,
        quote = OUT + 13,
        last = OUT + 9 + size - 1,
        total = 9 + size,
    ))
}

/// A module that, on each call, counts one under `all` and under
/// `names_per_call` two-letter names it has not used before (the `first`th,
/// then on: `aa`, `ba`, ... `zz`), through `metric_add`, and leaves every
/// event unchanged.
pub fn counter_namer_wat(names_per_call: u32, first: u32) -> String {
    let process = format!(
        r#"
    (local.set $i (i32.const 0))
    (block $done (loop $name
      (br_if $done (i32.ge_u (local.get $i) (i32.const {names_per_call})))
      (i32.store8 (i32.const 3000) (i32.add (i32.const 97) (i32.rem_u (global.get $name_at) (i32.const 26))))
      (i32.store8 (i32.const 3001) (i32.add (i32.const 97) (i32.div_u (global.get $name_at) (i32.const 26))))
      (call $metric_add (i32.const 3000) (i32.const 2) (i64.const 1))
      (global.set $name_at (i32.add (global.get $name_at) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $name)))
    (call $metric_add (i32.const 3002) (i32.const 3) (i64.const 1))
    {ALL_UNCHANGED}
    {RETURN_OUTPUT_AT_2048}"#
    );
    wat_filter(&process).replacen(
        "(module",
        &format!(
            r#"(module
  (import "wasmstash" "metric_add" (func $metric_add (param i32 i32 i64)))
  (global $name_at (mut i32) (i32.const {first}))
  (data (i32.const 3002) "all")"#
        ),
        1,
    )
}

/// A filter with one more function, of `locals` locals each added to the
/// next in a loop: small (about 10 bytes a local), but Cranelift's time
/// grows with the square of the locals (6,000: about 2 s; 20,000: 30 s).
pub fn slow_to_compile(locals: usize) -> String {
    let body: String = (0..locals)
        .map(|i| {
            let next = (i + 1) % locals;
            format!("(local.set {i} (i32.add (local.get {i}) (local.get {next})))")
        })
        .collect();
    let slow = format!(
        "(func $slow (local {}) (loop $l {body} (br_if $l (local.get 0))))",
        "i32 ".repeat(locals)
    );
    with_function(&wat_filter("(i64.const 0)"), &slow)
}

/// `wat` with `function` added before its `wasmstash_free`.
pub fn with_function(wat: &str, function: &str) -> String {
    let free = r#"(func (export "wasmstash_free")"#;
    wat.replacen(free, &format!("{function}\n  {free}"), 1)
}
