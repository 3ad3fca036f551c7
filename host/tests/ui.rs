//! The live view at `/ui`: access control and masking over raw HTTP, then the
//! whole page in a real headless Chromium against a real `wasmstash serve`
//! with real access-log traffic and real failures.

mod support;
// Beside `support` rather than in it: the bench crate includes `support`,
// and only this test needs a browser.
#[path = "support/webdriver.rs"]
mod webdriver;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::server::{Server, write_config};
use support::*;
use webdriver::Browser;

const TOKEN: &str = "live-view-token-for-tests";

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let chaos = format!("{}/chaos.wasm", wasmstash::builtins::build_module_dir());
    write_config(
        dir,
        &format!(
            r#"
[server]
watch = false

[server.ui]
update_ms = 500
mask_fields = ["[user][name]"]
# The test checks what the page shows, so let it see every answer.
sample_bytes_per_sec = 67108864

[[pipelines.access.filters]]
filter = "grok"
config = {{ match = {{ message = "%{{COMBINEDAPACHELOG}}" }}, ecs_compatibility = "v8" }}

# A generated incident: templates mined from the message, then anomaly flags
# per service, as in examples/wasmstash.toml.
[[pipelines.incident.filters]]
filter = "templates"
config = {{ source = "message" }}

[[pipelines.incident.filters]]
filter = "anomaly"
[pipelines.incident.filters.config]
key_field = "[service][name]"
interval_secs = 60
lateness_secs = 120
rate = {{ threshold = 4.0, warmup_intervals = 30 }}
error_ratio = {{ levels = ["error", "fatal"], status_min = 500 }}
value_outlier = {{ field = "[event][duration]", threshold = 5.0, scale = "log" }}
rare_template = {{ warmup_events = 1000 }}
new_value = [{{ field = "[source][address]", warmup_events = 1000 }}]

[[pipelines.app.filters]]
filter = "json"
config = {{ source = "message" }}

[[pipelines.chaos.filters]]
module = "{chaos}"
config = {{ panic_on = "BAD" }}
"#
        ),
    )
}

fn ndjson(events: &[Value]) -> Vec<u8> {
    events
        .iter()
        .map(|e| format!("{e}\n"))
        .collect::<String>()
        .into_bytes()
}

/// Application events as JSON lines, with the user's name (masked in the
/// view) and, every `bad_every` lines, a truncated one the json filter tags.
fn app_events(count: usize, bad_every: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let message = if i % bad_every == bad_every - 1 {
                format!("{{\"service\":\"checkout\",\"msg\":\"truncated json line {i}")
            } else {
                json!({"service": "checkout", "level": "info", "n": i}).to_string()
            };
            // The user comes from the shipper, beside the line; the view masks it.
            json!({"message": message, "user": {"name": "alice"}})
        })
        .collect()
}

/// Sends real access-log lines, app events and chaos events until stopped.
fn traffic(server: &Server, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    let addr = server.addr;
    std::thread::spawn(move || {
        let access: Vec<Value> = apache_lines()
            .iter()
            .map(|l| json!({"message": l}))
            .collect();
        let mut sent = 0;
        let post = |path: &str, body: &[u8]| {
            let request = [
                format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes(),
                body.to_vec(),
            ]
            .concat();
            let response = support::server::send_raw(addr, &request);
            assert_eq!(response.status, 200, "{}", response.text());
        };
        for chunk in access.chunks(250).cycle() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let mut lines = chunk.to_vec();
            lines.push(json!({"message": "not an access line: upstream connection reset"}));
            post("/v1/pipelines/access/batch", &ndjson(&lines));
            post("/v1/pipelines/app/batch", &ndjson(&app_events(50, 25)));
            post(
                "/v1/pipelines/chaos/batch",
                &ndjson(&[
                    json!({"message": "fine"}),
                    json!({"message": "BAD input from the chaos test"}),
                ]),
            );
            sent += chunk.len() + 53;
            std::thread::sleep(Duration::from_millis(100));
        }
        sent
    })
}

/// Sends a generated scenario with incidents (`wasmstash gen`) through the
/// `incident` pipeline once, in batches; returns how many events were flagged.
fn incident(server: &Server) -> std::thread::JoinHandle<usize> {
    let addr = server.addr;
    std::thread::spawn(move || {
        let output = std::process::Command::new(support::server::binary())
            .args([
                "gen",
                "--parsed",
                "--seed",
                "8",
                "--duration",
                "4h",
                "--warmup",
                "2h",
            ])
            .args(["--incidents-per-kind", "1", "--scale", "0.3"])
            .output()
            .expect("running wasmstash gen");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.len() > 10_000,
            "a short scenario: {} events",
            lines.len()
        );
        let mut flagged = 0;
        for chunk in lines.chunks(1000) {
            let body = chunk.join("\n") + "\n";
            let request = [
                format!("POST /v1/pipelines/incident/batch HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes(),
                body.into_bytes(),
            ]
            .concat();
            let response = support::server::send_raw(addr, &request);
            assert_eq!(response.status, 200, "{}", response.text());
            flagged += response.text().matches(r#""anomaly""#).count();
        }
        flagged
    })
}

/// Reads an SSE stream until `done` says the text so far is enough.
fn read_stream(server: &Server, cookie: &str, done: impl Fn(&str) -> bool) -> String {
    read_until(&mut open_stream(server, cookie), done)
}

fn open_stream(server: &Server, cookie: &str) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET /ui/events HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n\r\n",
        server.addr
    )
    .unwrap();
    stream
}

fn read_until(stream: &mut std::net::TcpStream, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(60);
    // What a failure shows: the stream's last 2 KB (a frame can be large).
    let tail =
        |text: &str| text[text.floor_char_boundary(text.len().saturating_sub(2048))..].to_owned();
    while !done(&text) {
        assert!(
            Instant::now() < deadline,
            "the stream never showed it; it ended with:\n{}",
            tail(&text)
        );
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended:\n{}", tail(&text));
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

#[test]
fn the_live_view_needs_the_token_and_masks_fields() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(dir.path()), &[("WASMSTASH_ADMIN_TOKEN", TOKEN)]);

    let page = server.get("/ui");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<title>wasmstash live</title>"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(server.get("/ui/app.js").status, 200);

    let refused = server.get("/ui/events");
    assert_eq!(refused.status, 401);
    assert!(
        (refused.header("www-authenticate")).is_some_and(|h| h.starts_with("Bearer")),
        "a 401 names its scheme"
    );
    assert_eq!(refused.json()["login"], true);
    let wrong = server.post("/ui/login", br#"{"token":"not-the-token-at-all"}"#);
    assert_eq!(wrong.status, 401);
    let login = server.post("/ui/login", format!(r#"{{"token":"{TOKEN}"}}"#).as_bytes());
    assert_eq!(login.status, 204, "{}", login.text());
    let set_cookie = login.header("set-cookie").unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    assert!(
        !set_cookie.contains(TOKEN),
        "the cookie must not carry the token"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    // The bearer header works too, for scripts.
    let bearer = format!("Bearer {TOKEN}");
    let session = server.request("GET", "/ui/session", &[("Authorization", &bearer)], b"");
    assert_eq!(session.status, 200);

    let stop = Arc::new(AtomicBool::new(false));
    let sender = traffic(&server, stop.clone());
    let text = read_stream(&server, &cookie, |text| {
        text.contains("event: update") && text.contains(r#""user":{"name":"***"}"#)
    });
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    assert!(text.contains("event: hello"), "{text}");
    if let Some(at) = text.find("alice") {
        let around = &text[at.saturating_sub(300)..(at + 50).min(text.len())];
        panic!("a masked field left the process: ...{around}...");
    }

    // Logging out ends the session, and at its next update the stream it
    // opened in another tab: the last chunk of the answer comes.
    let mut other_tab = open_stream(&server, &cookie);
    read_until(&mut other_tab, |text| text.contains("event: hello"));
    // Not from another site's page, which a form's post would be.
    let forged = server.request(
        "POST",
        "/ui/logout",
        &[("Cookie", &cookie), ("Sec-Fetch-Site", "cross-site")],
        b"",
    );
    assert_eq!(forged.status, 403, "{}", forged.text());
    let still = server.request("GET", "/ui/session", &[("Cookie", &cookie)], b"");
    assert_eq!(still.status, 200);
    let logout = server.request("POST", "/ui/logout", &[("Cookie", &cookie)], b"");
    assert_eq!(logout.status, 204);
    let after = server.request("GET", "/ui/session", &[("Cookie", &cookie)], b"");
    assert_eq!(after.status, 401);
    let stop = Arc::new(AtomicBool::new(false));
    let sender = traffic(&server, stop.clone());
    read_until(&mut other_tab, |text| text.ends_with("\r\n0\r\n\r\n"));
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    server.stop();

    // Without a token: loopback only, and only under a loopback host name.
    let server = Server::start(&config(dir.path()), &[]);
    assert_eq!(server.get("/ui/session").status, 200);
    // A page of another site whose name now resolves to 127.0.0.1 (DNS rebinding).
    let rebound = support::server::send_raw(
        server.addr,
        b"GET /ui/session HTTP/1.1\r\nHost: attacker.example:9700\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(rebound.status, 403, "{}", rebound.text());
    assert!(rebound.text().contains("loopback"));
    let twice = server.request("GET", "/ui/session", &[("Host", "attacker.example")], b"");
    assert_eq!(twice.status, 403, "{}", twice.text());
    server.stop();
}

fn save_screenshot(png: &[u8]) -> std::path::PathBuf {
    let target = support::server::binary()
        .parent()
        .and_then(|p| p.parent())
        .expect("the binary sits in target/<profile>/")
        .join("ui-e2e");
    std::fs::create_dir_all(&target).unwrap();
    let path = target.join("live-view.png");
    std::fs::write(&path, png).unwrap();
    path
}

#[test]
fn the_live_view_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = config(dir.path());
    let server = Server::start(&config_path, &[("WASMSTASH_ADMIN_TOKEN", TOKEN)]);
    let stop = Arc::new(AtomicBool::new(false));
    let sender = traffic(&server, stop.clone());
    let browser = Browser::start();
    let wait = Duration::from_secs(60);

    // A token is configured: the page asks for it, then keeps a cookie.
    browser.goto(&format!("http://{}/ui", server.addr));
    browser.wait_for(
        "the login form",
        wait,
        "return document.getElementById('login').open;",
    );
    browser.type_into("#token", TOKEN);
    browser.click("#login-form button[type=submit]");
    browser.wait_for(
        "the live stream",
        wait,
        "return document.getElementById('status').textContent.startsWith('live');",
    );

    let incident = incident(&server);

    // Rising event counts for the access pipeline.
    let count_script = "const row = document.querySelector('[data-kind=pipelines][data-key=access] .eps'); \
         return row ? parseInt((row.title || '').split(' ')[0]) : null;";
    let first = browser
        .wait_for(
            "a first event count",
            wait,
            &format!("const n = (() => {{ {count_script} }})(); return n > 0 ? n : null;"),
        )
        .as_u64()
        .unwrap();
    let later = browser
        .wait_for(
            "a rising event count",
            wait,
            &format!("const n = (() => {{ {count_script} }})(); return n > {first} ? n : null;"),
        )
        .as_u64()
        .unwrap();
    assert!(later > first);
    browser.wait_for(
        "an events/s figure",
        wait,
        "const e = document.querySelector('[data-kind=pipelines][data-key=access] .eps'); \
         return e && parseFloat(e.textContent) > 0;",
    );

    // A failing event under its tag, for a filter's own tag and the host's.
    let failure_row = |tag: &str| {
        format!(
            "return [...document.querySelectorAll('#failures tbody tr')] \
               .filter(r => r.cells[0].textContent === '{tag}') \
               .map(r => r.cells[3].textContent)[0] || null;"
        )
    };
    let sample = browser.wait_for(
        "a _jsonparsefailure row",
        wait,
        &failure_row("_jsonparsefailure"),
    );
    assert!(
        sample.as_str().unwrap().contains("truncated json line"),
        "{sample}"
    );
    let sample = browser.wait_for(
        "a _grokparsefailure row",
        wait,
        &failure_row("_grokparsefailure"),
    );
    assert!(
        sample.as_str().unwrap().contains("not an access line"),
        "{sample}"
    );
    let sample = browser.wait_for(
        "a _wasmfilter_failure row",
        wait,
        &failure_row("_wasmfilter_failure"),
    );
    assert!(
        sample
            .as_str()
            .unwrap()
            .contains("BAD input from the chaos test"),
        "{sample}"
    );
    // Clicking it shows the whole event, failure record included.
    browser.eval(
        "[...document.querySelectorAll('#failures tbody tr')] \
           .find(r => r.cells[0].textContent === '_wasmfilter_failure').click(); return true;",
    );
    let detail = browser.wait_for(
        "the failing event's detail",
        wait,
        "const d = document.getElementById('detail'); return !d.hidden && document.getElementById('detail-json').textContent;",
    );
    let detail: Value = serde_json::from_str(detail.as_str().unwrap()).unwrap();
    assert_eq!(detail["tags"], json!(["_wasmfilter_failure"]));
    assert_eq!(detail["wasmstash"]["failures"][0]["filter"], "chaos");
    browser.click("#detail-close");

    // The generated incident's anomaly flags, with their reasons; a click
    // shows the whole flagged event.
    assert!(
        incident.join().unwrap() > 0,
        "the anomaly filter flagged nothing"
    );
    // Read the row and click it in one script: the list grows with every
    // update, so a separate click could land on a newer row.
    let row = browser.wait_for(
        "an anomaly row with a reason",
        wait,
        "const r = document.querySelector('#anomalies tbody tr'); \
         if (!r || !r.cells[5].textContent) return null; \
         const cells = [...r.cells].map(c => c.textContent); r.click(); return cells;",
    );
    let cells: Vec<String> = serde_json::from_value(row).unwrap();
    assert_eq!(cells[1], "incident");
    assert!(!cells[2].is_empty() && !cells[3].is_empty(), "{cells:?}");
    let detail = browser.wait_for(
        "the flagged event's detail",
        wait,
        "const d = document.getElementById('detail'); return !d.hidden && document.getElementById('detail-json').textContent;",
    );
    let flagged: Value = serde_json::from_str(detail.as_str().unwrap()).unwrap();
    let anomaly = &flagged["wasmstash"]["anomaly"];
    assert!(
        flagged["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("anomaly")),
        "{flagged}"
    );
    assert_eq!(anomaly["reason"], cells[5].as_str(), "{flagged}");
    assert_eq!(anomaly["key"], cells[2].as_str(), "{flagged}");
    assert_eq!(
        anomaly["detectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(", "),
        cells[3]
    );
    browser.click("#detail-close");
    // Templates mined from the incident's messages, with counts.
    browser.wait_for(
        "top templates",
        wait,
        "return document.querySelectorAll('#top-templates tbody tr').length > 0;",
    );
    // ... and the new ones (the panel threw on every frame that had any).
    browser.wait_for(
        "new templates",
        wait,
        "return document.querySelectorAll('#new-templates tbody tr').length > 0;",
    );

    // Events are the logs' own: a field of another type than the page
    // expects (an object for `message`, one string of detectors, an object
    // for the key) is shown as text, and no panel stops drawing (one such
    // line froze the page, across reloads).
    let hostile = json!({"message": json!({"message": {"toString": 1},
        "tags": ["_hostile", "anomaly"],
        "wasmstash": {"anomaly": {"detectors": "rate", "key": {"k": 1}}}})
    .to_string()});
    let body = ndjson(&[hostile]);
    let request = [
        format!(
            "POST /v1/pipelines/app/batch HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Length: {}\r\n\r\n",
            server.addr,
            body.len()
        )
        .into_bytes(),
        body,
    ]
    .concat();
    let sent = support::server::send_raw(server.addr, &request);
    assert_eq!(sent.status, 200, "{}", sent.text());
    let sample = browser.wait_for("a _hostile row", wait, &failure_row("_hostile"));
    assert!(
        sample.as_str().unwrap().contains(r#"{"toString":1}"#),
        "{sample}"
    );
    browser.wait_for(
        "the hostile event's anomaly row",
        wait,
        "return [...document.querySelectorAll('#anomalies tbody tr')] \
           .some(r => r.cells[2].textContent === '{\"k\":1}' && r.cells[3].textContent === 'rate');",
    );

    // The tail, filtered by tag, then paused.
    browser.eval(
        "const s = document.getElementById('tail-pipeline'); s.value = 'app'; \
         s.dispatchEvent(new Event('change')); return true;",
    );
    browser.type_into("#tail-filter", "tag:_jsonparsefailure");
    let lines = browser.wait_for(
        "tail lines with the tag",
        wait,
        "const items = [...document.querySelectorAll('#tail li')].map(li => li.textContent); \
         return items.length > 0 ? items : null;",
    );
    for line in lines.as_array().unwrap() {
        assert!(
            line.as_str().unwrap().contains("_jsonparsefailure"),
            "{line}"
        );
    }
    browser.click("#tail-pause");
    let paused = browser.eval("return document.getElementById('tail-count').textContent;");
    assert!(paused.as_str().unwrap().contains("paused"), "{paused}");

    // Masked fields never reach the page.
    browser.eval(
        "const f = document.getElementById('tail-filter'); f.value = 'service=checkout'; \
         f.dispatchEvent(new Event('input')); return true;",
    );
    browser.click("#tail-pause");
    let text = browser.wait_for(
        "unfiltered tail lines",
        wait,
        "const t = document.getElementById('tail').textContent; return t.includes('***') ? document.body.innerText + t : null;",
    );
    assert!(!text.as_str().unwrap().contains("alice"));

    // Modules with their hash and ABI version.
    let modules = browser.eval("return document.querySelector('#modules tbody').textContent;");
    assert!(modules.as_str().unwrap().contains("chaos"), "{modules}");
    // ... and the last reload with its result.
    let auth = format!("Bearer {TOKEN}");
    let reload = server.request("POST", "/v1/admin/reload", &[("Authorization", &auth)], b"");
    assert_eq!(reload.status, 200, "{}", reload.text());
    browser.wait_for(
        "the reload",
        wait,
        "return document.getElementById('reload').textContent.includes('(admin request): ok');",
    );
    // A pipeline a reload removes leaves the charts; the others keep their
    // cards and their filters' rows.
    let text = std::fs::read_to_string(&config_path).unwrap();
    let (start, end) = (
        text.find("[[pipelines.incident.filters]]").unwrap(),
        text.find("[[pipelines.app.filters]]").unwrap(),
    );
    std::fs::write(&config_path, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let reload = server.request("POST", "/v1/admin/reload", &[("Authorization", &auth)], b"");
    assert_eq!(reload.status, 200, "{}", reload.text());
    assert!(!reload.text().contains("incident"), "{}", reload.text());
    browser.wait_for(
        "the removed pipeline's card gone",
        wait,
        "return !document.querySelector('[data-pipeline=incident]') \
           && !!document.querySelector('[data-pipeline=access] [data-kind=filters]') \
           && !!document.querySelector('[data-pipeline=app] [data-kind=filters]');",
    );

    // Let the charts gather some history before the picture.
    browser.eval(
        "const f = document.getElementById('tail-filter'); f.value = ''; \
         f.dispatchEvent(new Event('input')); return true;",
    );
    browser.wait_for(
        "20 points in the charts",
        wait,
        "return parseInt(document.getElementById('pipelines').dataset.points || '0') >= 20;",
    );
    browser.eval("window.scrollTo(0, 0); return true;");
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG"));
    let path = save_screenshot(&png);
    eprintln!("screenshot: {}", path.display());
    drop(browser);
    stop.store(true, Ordering::Relaxed);
    assert!(sender.join().unwrap() > 0);
    server.stop();
}
