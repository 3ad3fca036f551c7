//! A headless Chromium driven through chromedriver, speaking the W3C
//! WebDriver protocol (JSON over HTTP) with the raw client of `server.rs`,
//! so browser tests need no extra crates. Chromium and chromedriver come
//! from Debian (`scripts/test` installs them); without them the test fails
//! and says how to get them.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One request, one response framed by its Content-Length: chromedriver
/// keeps connections open even when asked to close them.
fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = stream.read(&mut buf).expect("reading from chromedriver");
        assert!(n > 0, "chromedriver closed the connection early");
        raw.extend_from_slice(&buf[..n]);
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        if raw.len() >= end + 4 + length {
            let status = head.split(' ').nth(1).unwrap().parse().unwrap();
            return (status, raw[end + 4..end + 4 + length].to_vec());
        }
    }
}

fn find(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|path| std::path::Path::new(path).exists())
        .map(|path| path.to_string())
}

pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless session.
    pub fn start() -> Browser {
        let chromium = find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]).expect(
            "Chromium is missing: apt-get install chromium chromium-driver (scripts/test does this)",
        );
        let chromedriver = find(&["/usr/bin/chromedriver"]).expect(
            "chromedriver is missing: apt-get install chromium-driver (scripts/test does this)",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1500,1900"]
            }
        }}});
        let created = browser.call("POST", "/session", &capabilities);
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let body = if method == "GET" {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        let (status, body) = exchange(self.addr, &request);
        let value: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "webdriver {method} {path}: {e}: {}",
                String::from_utf8_lossy(&body)
            )
        });
        assert_eq!(status, 200, "webdriver {method} {path} failed: {value}");
        value["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), &body)
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", json!({"url": url}));
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub fn eval(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// The element matching `css`, as a WebDriver element id.
    pub fn element(&self, css: &str) -> String {
        let found = self.session_call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.session_call("POST", &format!("/element/{id}/click"), json!({}));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.session_call(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    /// Evaluates `script` until it returns something other than null or
    /// false, and returns that; fails with `what` after `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, script: &str) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let value = self.eval(script);
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            if Instant::now() > deadline {
                let page = self.eval("return document.body.innerText;");
                panic!(
                    "timed out waiting for {what}; the page shows:\n{}",
                    page.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let encoded = self.session_call("GET", "/screenshot", json!({}));
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 PNG"))
            .expect("valid base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let request = format!(
                "DELETE {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                self.addr
            );
            let _ = std::panic::catch_unwind(|| exchange(self.addr, request.as_bytes()));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
