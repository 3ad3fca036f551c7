//! `deploy/es-init.sh`, the compose stack's one-shot that sets the
//! `kibana_system` password and creates Logstash's writer role and user, run
//! with bash and curl against the Elasticsearch stand-in on a loopback port.
//!
//! What this proves: the passwords from `.env` reach Elasticsearch exactly as
//! written, quotes and backslashes included (they are pasted into JSON), the
//! requests are the ones the Elasticsearch security API documents, and wrong
//! credentials or a bad password stop the script at once with the reason.
//! What it does not prove: that a real Elasticsearch accepts them (none runs
//! on the machines this is built on).

use std::net::SocketAddr;
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

mod stand_in;
use stand_in::{Role, Stand, start};

/// Runs the script against the stand-in at `es`, with these passwords.
async fn es_init(es: SocketAddr, passwords: [&str; 3]) -> Output {
    let script = wasmstash_sdk::crate_dir!().join("../deploy/es-init.sh");
    let [elastic, kibana, logstash] = passwords.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(script)
            .env("ELASTICSEARCH_URL", format!("http://{es}"))
            .env("ELASTIC_PASSWORD", elastic)
            .env("KIBANA_PASSWORD", kibana)
            .env("LOGSTASH_PASSWORD", logstash)
            .output()
            .expect("bash runs")
    })
    .await
    .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_reach_elasticsearch_as_written() {
    let stand = Stand::default();
    let es = start(Role::Elasticsearch, stand.clone()).await;
    let kibana = r#"quote " backslash \ dollar $HOME `tick` 'single' ünï"#;
    let logstash = r#"\"}],"roles":["superuser"],"x":{"#;
    let output = es_init(es, ["el:astic\\pw", kibana, logstash]).await;
    assert!(output.status.success(), "{}", stderr(&output));

    let stored = |key: &str| stand.with(|s| s.es.get(key).cloned());
    assert_eq!(
        stored("password/kibana_system"),
        Some(json!({ "password": kibana }))
    );
    assert_eq!(
        stored("user/wasmstash_logstash"),
        Some(json!({ "password": logstash, "roles": ["wasmstash_writer"] })),
        "the password stays one string and grants nothing"
    );
    let role = stored("role/wasmstash_writer").expect("the role is created");
    assert_eq!(
        role["indices"],
        json!([{"names": ["logs-*-*"], "privileges": ["auto_configure", "create_doc"]}])
    );
    // Every request goes as the elastic user, with its password as given.
    let basic = format!("Basic {}", STANDARD.encode("elastic:el:astic\\pw"));
    let log = stand.log();
    assert!(log.len() >= 4, "{log:?}");
    for seen in &log {
        assert_eq!(seen.authorization.as_deref(), Some(basic.as_str()));
        if seen.method != "GET" {
            assert_eq!(seen.content_type.as_deref(), Some("application/json"));
            let _: Value = serde_json::from_slice(&seen.body).expect("each body is JSON");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_control_character_in_a_password_is_refused_before_any_request() {
    let stand = Stand::default();
    let es = start(Role::Elasticsearch, stand.clone()).await;
    let output = es_init(es, ["elastic-pw", "tab\there", "fine"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("KIBANA_PASSWORD holds a control character"),
        "{}",
        stderr(&output)
    );
    assert!(stand.log().is_empty(), "{:?}", stand.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_elastic_credentials_stop_at_once() {
    let stand = Stand::default();
    stand.with(|s| s.refuse = Some(401));
    let es = start(Role::Elasticsearch, stand.clone()).await;
    let started = std::time::Instant::now();
    let output = es_init(es, ["wrong", "kibana-pw", "logstash-pw"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("refused the elastic user (HTTP 401); check ELASTIC_PASSWORD"),
        "{}",
        stderr(&output)
    );
    // One health request, not three minutes of retries.
    assert_eq!(stand.log().len(), 1);
    assert!(started.elapsed().as_secs() < 30);
}

/// The placeholders `.env.example` publishes would give a superuser anyone
/// can log in as: refused before any request, each by name.
#[tokio::test(flavor = "multi_thread")]
async fn the_example_placeholders_are_refused_before_any_request() {
    let stand = Stand::default();
    let es = start(Role::Elasticsearch, stand.clone()).await;
    let output = es_init(es, ["change-me-elastic", "kibana-pw", "logstash-pw"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("ELASTIC_PASSWORD is still the placeholder from .env.example"),
        "{}",
        stderr(&output)
    );
    let output = es_init(es, ["elastic-pw", "kibana-pw", "change-me-logstash"]).await;
    assert!(
        stderr(&output).contains("LOGSTASH_PASSWORD is still the placeholder"),
        "{}",
        stderr(&output)
    );
    assert!(stand.log().is_empty(), "{:?}", stand.log());
}
