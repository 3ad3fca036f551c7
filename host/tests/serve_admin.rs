//! The sidecar's admin token: where it comes from, what it guards, and what
//! happens without one. The real binary on a loopback port.

mod support;

use serde_json::json;
use support::server::{Server, access_and_chaos_config, start_access_and_chaos, write_config};
use support::*;

#[test]
fn admin_endpoints_need_the_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &access_and_chaos_config(""));
    let token = "correct-horse-battery-staple";
    let log = dir.path().join("serve.log");
    let server = Server::start_with_stderr(
        &config,
        &[
            ("WASMSTASH_ADMIN_TOKEN", token),
            ("RUST_LOG", "wasmstash=warn"),
            ("NO_COLOR", "1"),
        ],
        std::fs::File::create(&log).unwrap().into(),
    );
    let denied = server.get("/v1/admin/pipelines");
    assert_eq!(denied.status, 401);
    assert!(
        denied
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    // The scheme's name is case-insensitive.
    let lowercase = format!("bearer {token}");
    let response = server.request(
        "GET",
        "/v1/admin/pipelines",
        &[("Authorization", &lowercase)],
        b"",
    );
    assert_eq!(response.status, 200, "{}", response.text());
    // A wrong method is a JSON error too, on the live view's routes as well.
    for (method, path) in [
        ("GET", "/v1/pipelines/access/event"),
        ("DELETE", "/ui/login"),
    ] {
        let response = server.request(method, path, &[], b"");
        assert_eq!(response.status, 405, "{method} {path}");
        assert!(response.json()["error"].as_str().unwrap().contains("POST"));
    }
    let wrong = [("Authorization", "Bearer nope")];
    assert_eq!(
        server
            .request("GET", "/v1/admin/pipelines", &wrong, b"")
            .status,
        401
    );
    let right = format!("Bearer {token}");
    let auth = [("Authorization", right.as_str())];
    let listing = server
        .request("GET", "/v1/admin/pipelines", &auth, b"")
        .json();
    assert_eq!(listing["pipelines"][0]["name"], "access");
    assert_eq!(
        listing["pipelines"][1]["filters"][0]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    let reload = server.request("POST", "/v1/admin/reload", &auth, b"");
    assert_eq!(reload.status, 200, "{}", reload.text());
    assert_eq!(reload.json()["pipelines"], json!(["access", "chaos"]));
    // The two refused are counted, and the first is said at once, the
    // second only in the next line said ten seconds on.
    let refused = r#"wasmstash_admin_refused_total{endpoint="admin"}"#;
    assert_eq!(server.metric(refused), 2.0);
    // A wrong bearer token at the live view is one too; a page with no
    // session yet is not.
    let session = server.request("GET", "/ui/session", &wrong, b"");
    assert_eq!(session.status, 401, "{}", session.text());
    assert_eq!(server.get("/ui/session").status, 401);
    let refused_ui = r#"wasmstash_admin_refused_total{endpoint="ui"}"#;
    assert_eq!(server.metric(refused_ui), 1.0);
    // A file that is not TOML is refused; its error, with the line of the
    // file under it, is logged a record a line.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\ngarbage [[[\n")).unwrap();
    let reload = server.request("POST", "/v1/admin/reload", &auth, b"");
    assert_eq!(reload.status, 422, "{}", reload.text());
    assert!(reload.text().contains("garbage [[["), "{}", reload.text());
    server.stop();
    let log = std::fs::read_to_string(&log).unwrap();
    let records: Vec<&str> = (log.lines())
        .filter(|line| line.contains("reload (admin request) rejected"))
        .collect();
    assert!(records.len() > 2, "{log}");
    assert!(records.iter().all(|r| r.contains(" ERROR ")), "{log}");
    assert!(records.iter().any(|r| r.contains("garbage [[[")), "{log}");
    assert!(
        log.lines()
            .all(|line| line.contains(" WARN ") || line.contains(" ERROR ")),
        "{log}"
    );
    let said: Vec<&str> = (log.lines())
        .filter(|line| line.contains("admin token"))
        .collect();
    assert_eq!(said.len(), 1, "{log}");
    assert!(
        said[0].contains("refused a missing or wrong admin token, from 127.0.0.1"),
        "{log}"
    );

    // Without a configured token, admin is off rather than open.
    let (server, _dir) = start_access_and_chaos("");
    let response = server.request("POST", "/v1/admin/reload", &auth, b"");
    assert_eq!(response.status, 403);
    assert!(response.text().contains("WASMSTASH_ADMIN_TOKEN"));
    server.stop();
}

/// A short token is refused at startup, from the environment as from the
/// token file, rather than guarding the admin endpoints with it.
#[test]
fn a_short_admin_token_is_refused_wherever_it_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("admin.token"), "short\n").unwrap();
    let with_file = write_config(
        dir.path(),
        &access_and_chaos_config("admin_token_file = \"admin.token\""),
    );
    let plain = dir.path().join("plain.toml");
    std::fs::write(&plain, access_and_chaos_config("")).unwrap();
    for (config, env, source) in [
        (
            &with_file,
            None,
            "wasmstash.toml: [server] admin_token_file",
        ),
        (&plain, Some("short"), "WASMSTASH_ADMIN_TOKEN"),
    ] {
        let mut command = std::process::Command::new(support::server::binary());
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env_remove("WASMSTASH_ADMIN_TOKEN");
        if let Some(token) = env {
            command.env("WASMSTASH_ADMIN_TOKEN", token);
        }
        let what = format!("serve started with a short token from {source}");
        let (code, stderr) = refused_run(&mut command, &what);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(source) && stderr.contains("at least 16 characters"),
            "{stderr}"
        );
    }
}
