//! What a client sending on a kept-alive connection meets when the sidecar
//! shuts down, against the real binary on loopback. The Logstash gem keeps
//! its connections open between batches; a sidecar that closed them at
//! SIGTERM cut off a batch sent at that moment with no answer, which the
//! gem cannot retry (it may have run), so a restart failed that batch.
//! Now such a request is answered 503, not run, and the client sends it
//! again elsewhere or later.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::server::{Server, write_config};
use support::wait_exit;

/// One HTTP/1.1 answer read off a kept-alive connection: status, headers
/// (names lower-cased) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn read_answer(reader: &mut BufReader<TcpStream>) -> Answer {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = (line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no answer, read {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = (headers.iter())
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| value.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body = String::from_utf8(body).unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

fn send_batch(stream: &mut TcpStream, body: &[u8]) {
    let head = format!(
        "POST /v1/pipelines/app/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

/// A batch sent, after SIGTERM, on a connection kept alive from before is
/// answered 503 with `Retry-After` and `Connection: close`, its body read
/// first (4 MiB here, more than the socket holds unread: a close over
/// unread bytes resets the connection, and the answer with it). Once the
/// last connection has closed, the sidecar exits without waiting out the
/// linger (60 s here).
#[test]
fn a_batch_sent_on_a_kept_alive_connection_during_shutdown_is_turned_away() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[server]\nwatch = false\nshutdown_linger_ms = 60000\n\n\
         [[pipelines.app.filters]]\nfilter = \"mutate\"\nconfig = { add_tag = [\"seen\"] }\n",
    );
    let mut server = Server::start(&config, &[]);
    let stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    send_batch(&mut writer, b"{\"message\":\"before\"}\n");
    let before = read_answer(&mut reader);
    assert_eq!(before.status, 200, "{}", before.body);
    assert!(before.body.contains("seen"), "{}", before.body);
    assert_eq!(before.header("connection"), None);

    server.signal("TERM");
    // Refused new connections: the shutdown has begun.
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(server.addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    let line = b"{\"message\":\"after\"}\n";
    let large: Vec<u8> = line.repeat((4 << 20) / line.len());
    send_batch(&mut writer, &large);
    let after = read_answer(&mut reader);
    assert_eq!(after.status, 503, "{}", after.body);
    assert!(after.body.contains("shutting down"), "{}", after.body);
    assert!(after.body.contains("not run"), "{}", after.body);
    assert_eq!(after.header("retry-after"), Some("1"));
    assert_eq!(after.header("connection"), Some("close"));
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    drop(writer);

    let status = wait_exit(
        &mut server.child,
        Duration::from_secs(30),
        "serve waited out its linger with no connection left",
    );
    assert!(status.success(), "{status}");
}
