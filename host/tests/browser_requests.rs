//! What a web browser, a reverse proxy or a dual-stack listener may reach,
//! against a real `wasmstash serve` on loopback, with no admin token: a
//! page's requests are refused on the routes that take no token, the live
//! view answers no request that came through a proxy, and an IPv4 client of
//! a `[::]` listener counts as the loopback client it is.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use support::server::{Response, Server, binary, send_raw, write_config};

const CONFIG: &str = r#"
[server]
watch = false
workers = 1

[[pipelines.app.filters]]
filter = "templates"
config = { source = "message" }
"#;

fn events_in(server: &Server) -> f64 {
    server.metric(r#"wasmstash_events_total{pipeline="app",outcome="in"}"#)
}

#[test]
fn a_web_pages_requests_are_refused_on_the_routes_that_take_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&write_config(dir.path(), CONFIG), &[]);
    let event = br#"{"message":"user alice logged in from 10.0.0.7"}"#;
    // What a page can send without a preflight: plain text, a form, a
    // `no-cors` fetch, each with the headers a browser adds.
    let page_requests: [&[(&str, &str)]; 4] = [
        &[
            ("Content-Type", "text/plain"),
            ("Origin", "https://evil.example"),
        ],
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", "null"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        &[
            ("Content-Type", "text/plain"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        // A page whose own name was made to resolve to this host.
        &[("Sec-Fetch-Site", "same-origin")],
    ];
    for headers in page_requests {
        for path in ["/v1/pipelines/app/event", "/v1/pipelines/app/batch"] {
            let answer = server.request("POST", path, headers, event);
            assert_eq!(answer.status, 403, "{path} {headers:?}: {}", answer.text());
            let error = answer.json()["error"].as_str().unwrap().to_owned();
            let named = headers
                .iter()
                .any(|(name, _)| error.contains(&format!("`{name}:")));
            assert!(named, "{error}");
        }
    }
    assert_eq!(
        events_in(&server),
        0.0,
        "a refused request reached the filter"
    );

    let rebound = server.request("GET", "/metrics", &[("Sec-Fetch-Site", "same-origin")], b"");
    assert_eq!(rebound.status, 403, "{}", rebound.text());
    assert!(
        rebound.text().contains("Sec-Fetch-Site"),
        "{}",
        rebound.text()
    );
    let from_page = server.request("GET", "/metrics", &[("Origin", "http://a.example")], b"");
    assert_eq!(from_page.status, 403, "{}", from_page.text());
    // `/readyz` lists the pipelines; neither health check is for a page.
    for path in ["/readyz", "/healthz"] {
        let probed = server.request("GET", path, &[("Sec-Fetch-Site", "cross-site")], b"");
        assert_eq!(probed.status, 403, "{path}: {}", probed.text());
        assert_eq!(server.get(path).status, 200, "{path}");
    }
    let unknown = server.request(
        "POST",
        "/v1/pipelines/no-such/event",
        &[("Origin", "null")],
        event,
    );
    assert_eq!(unknown.status, 403, "{}", unknown.text());

    // Each refusal is counted once, as a rejection that says why: under
    // the pipeline the URL named if it is loaded, else `_unknown`; none
    // reached a handler, so none is among the requests it answered.
    let rejected = |pipeline: &str| {
        server.metric(&format!(
            r#"wasmstash_rejected_total{{pipeline="{pipeline}",reason="web_page"}}"#
        ))
    };
    assert_eq!(rejected("app"), 8.0);
    assert_eq!(rejected("_unknown"), 5.0);
    let metrics = server.get("/metrics").text();
    assert!(!metrics.contains(r#"status="403""#), "{metrics}");

    // The clients these routes are for: the gem, Logstash's http filter,
    // curl (which sends a form type with `-d`), and an address typed into
    // the browser's bar (`Sec-Fetch-Site: none`).
    let clients: [&[(&str, &str)]; 3] = [
        &[("Content-Type", "application/x-ndjson")],
        &[("Content-Type", "application/json")],
        &[("Content-Type", "application/x-www-form-urlencoded")],
    ];
    for headers in clients {
        let answer = server.request("POST", "/v1/pipelines/app/batch", headers, event);
        assert_eq!(answer.status, 200, "{headers:?}: {}", answer.text());
    }
    assert_eq!(events_in(&server), 3.0);
    let typed = server.request("GET", "/metrics", &[("Sec-Fetch-Site", "none")], b"");
    assert_eq!(typed.status, 200, "{}", typed.text());
    // The live view's page is not a data-plane client and is not refused.
    let page = server.request(
        "GET",
        "/ui/session",
        &[("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(page.status, 200, "{}", page.text());
    server.stop();
}

#[test]
fn without_a_token_the_live_view_refuses_what_came_through_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&write_config(dir.path(), CONFIG), &[]);
    assert_eq!(server.get("/ui/session").status, 200);
    // What a default nginx `proxy_pass http://127.0.0.1:PORT;` sends, or
    // what other proxies add: from loopback, with a loopback Host.
    for (name, value) in [
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Real-IP", "203.0.113.9"),
        ("Forwarded", "for=203.0.113.9"),
        ("X-Forwarded-Host", "logs.example"),
        ("X-Forwarded-Proto", "https"),
        ("Via", "1.1 proxy"),
    ] {
        for path in ["/ui/session", "/ui/events"] {
            let answer = server.request("GET", path, &[(name, value)], b"");
            assert_eq!(answer.status, 403, "{path} with {name}: {}", answer.text());
            let error = answer.json()["error"].as_str().unwrap().to_owned();
            assert!(error.contains(name), "{error}");
            assert!(error.contains("WASMSTASH_ADMIN_TOKEN"), "{error}");
        }
    }
    // nginx's default `proxy_pass` adds none of those headers, but passes
    // requests on in HTTP/1.0, which no browser speaks.
    let request = format!("GET /ui/session HTTP/1.0\r\nHost: {}\r\n\r\n", server.addr);
    let answer = send_raw(server.addr, request.as_bytes());
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert!(answer.text().contains("HTTP/1.0"), "{}", answer.text());
    server.stop();
}

/// `serve` on `listen` (port 0), and the address it says it listens on.
fn serve_on(
    config: &std::path::Path,
    listen: &str,
) -> (Child, SocketAddr, BufReader<std::process::ChildStderr>) {
    let mut child = Command::new(binary())
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            listen,
        ])
        .env(
            "WASMSTASH_CACHE_DIR",
            std::env::temp_dir().join("wasmstash-test-cache"),
        )
        .env_remove("WASMSTASH_ADMIN_TOKEN")
        .env("RUST_LOG", "wasmstash=warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = (line.trim())
        .strip_prefix("wasmstash: listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    (child, addr, stderr)
}

fn get(addr: SocketAddr, host: &str, path: &str) -> Response {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    send_raw(addr, request.as_bytes())
}

#[test]
fn an_ipv4_loopback_client_of_a_dual_stack_listener_is_a_loopback_client() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);
    let (mut child, addr, _log) = serve_on(&config, "[::]:0");
    let v4: SocketAddr = format!("127.0.0.1:{}", addr.port()).parse().unwrap();
    support::eventually("the server is ready", || {
        get(v4, &v4.to_string(), "/readyz").status == 200
    });
    let answer = get(v4, &v4.to_string(), "/ui/session");
    assert_eq!(answer.status, 200, "{}", answer.text());
    // Still not from elsewhere by the name it gives.
    let rebound = get(v4, "evil.example", "/ui/session");
    assert_eq!(rebound.status, 403, "{}", rebound.text());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn listening_on_ipv4_loopback_written_as_ipv6_is_not_said_to_reach_beyond() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);
    let (mut child, addr, log) = serve_on(&config, "[::ffff:127.0.0.1]:0");
    support::eventually("the server is ready", || {
        get(addr, "127.0.0.1", "/readyz").status == 200
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let log: Vec<String> = log.lines().map(Result::unwrap).collect();
    assert!(
        !log.iter().any(|line| line.contains("reaches beyond")),
        "{log:#?}"
    );
    // The warning itself is there for an address that does reach beyond.
    let (mut child, addr, log) = serve_on(&config, "[::]:0");
    let v6: SocketAddr = format!("[::1]:{}", addr.port()).parse().unwrap();
    support::eventually("the server is ready", || {
        get(v6, "[::1]", "/readyz").status == 200
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let log: Vec<String> = log.lines().map(Result::unwrap).collect();
    assert!(
        log.iter().any(|line| line.contains("reaches beyond")),
        "{log:#?}"
    );
}
