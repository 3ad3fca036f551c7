//! `wasmstash test` of a filter that runs behind others: `--before` and a
//! crate's `before.json`, on real access lines, with a filter that needs
//! grok's fields; and which filter, and which file, a load error names.

use std::path::Path;
use std::time::Duration;

use super::binary::*;
use super::{support, wasmstash_for, wasmstash_within};

/// grok as `run --filter` and `--before` take it: Apache's combined format.
const GROK_APACHE: &str = r#"grok={"match":{"message":"%{COMBINEDAPACHELOG}"}}"#;

/// Real access lines of each kind: every 50th, and each one that is not a
/// GET, a 5xx, or cut short (grok's one failure in the file).
fn access_lines() -> Vec<String> {
    let lines: Vec<String> = (support::apache_lines().into_iter().enumerate())
        .filter(|(i, line)| {
            i % 50 == 0 || !line.contains("\"GET ") || status(line) >= 500 || !complete(line)
        })
        .map(|(_, line)| line)
        .collect();
    assert!(lines.iter().any(|line| !complete(line)), "no cut line");
    lines
}

/// Whether an access line has all its quoted parts (the file holds one
/// whose user agent is cut off).
fn complete(line: &str) -> bool {
    line.matches('"').count() == 6
}

/// The status of an access line, read without grok: the first word after
/// the quoted request.
fn status(line: &str) -> u64 {
    let after_request = line.split('"').nth(2).unwrap();
    after_request
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The method of an access line's request, read without grok.
fn method(line: &str) -> &str {
    line.split('"').nth(1).unwrap().split(' ').next().unwrap()
}

fn lines_of(path: &Path) -> Vec<serde_json::Value> {
    events_of(&std::fs::read(path).unwrap())
}

/// mutate lowercases a field grok makes, so only the chain in order can
/// write the expected file checked here; without `--before` the same case
/// fails.
#[test]
fn a_filter_behind_grok_is_tested_on_raw_access_lines() {
    let dir = tempfile::tempdir().unwrap();
    let lines = access_lines();
    std::fs::write(dir.path().join("access.log"), lines.join("\n") + "\n").unwrap();
    let test = |extra: &[&str]| {
        let mut args = vec![
            "test",
            "--module",
            "mutate",
            "--config",
            r#"{"lowercase":["[http][request][method]"]}"#,
        ];
        args.extend_from_slice(extra);
        args.push("access.log");
        wasmstash_within(dir.path(), &args)
    };
    let help = text(&wasmstash(&["test", "--help"], b"").stdout);
    assert!(
        help.contains("--before <FILTER[=JSON]>") && help.contains("DIR/before.json"),
        "{help}"
    );

    let out = test(&["--before", GROK_APACHE, "--bless"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let blessed = format!("blessed access.expected.ndjson ({} events)", lines.len());
    assert!(
        text(&out.stdout).contains(&blessed),
        "{}",
        text(&out.stdout)
    );

    let expected = lines_of(&dir.path().join("access.expected.ndjson"));
    assert_eq!(expected.len(), lines.len());
    for (line, event) in lines.iter().zip(&expected) {
        assert_eq!(event["message"], line.as_str());
        if complete(line) {
            assert_eq!(event["source"]["address"], line.split(' ').next().unwrap());
            assert_eq!(event["http"]["response"]["status_code"], status(line));
            assert_eq!(
                event["http"]["request"]["method"],
                method(line).to_lowercase(),
                "{line}"
            );
            assert!(event.get("tags").is_none(), "{event}");
        } else {
            assert_eq!(event["tags"], serde_json::json!(["_grokparsefailure"]));
            assert!(event.get("http").is_none(), "{event}");
        }
    }

    let out = test(&["--before", GROK_APACHE]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let ok = format!("ok   access.log ({} events)", lines.len());
    assert!(text(&out.stdout).contains(&ok), "{}", text(&out.stdout));

    // The expected file is the chain's: the filter alone does not match it.
    let out = test(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("FAIL access.log"), "{report}");
    assert!(
        report.contains("event 1: [http]: missing, expected"),
        "{report}"
    );
}

/// A before-filter that does not load is named, with where it was given
/// and why, as a setup error; the config file of the filter under test is
/// not blamed.
#[test]
fn a_before_filter_that_does_not_load_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.log"), "x\n").unwrap();
    let test = |before: &[&str], config: &str| {
        let mut args = vec!["test"];
        for value in before {
            args.extend(["--before", value]);
        }
        args.extend(["--module", "mutate", "--config", config, "--bless", "c.log"]);
        wasmstash_within(dir.path(), &args)
    };
    let refused = |before: &[&str], config: &str, said: &str| {
        let out = test(before, config);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(err.contains(said), "{said}: {err}");
        assert!(!err.contains("the config is"), "{err}");
        assert!(!dir.path().join("c.expected.ndjson").exists());
    };
    refused(
        &[
            GROK_APACHE,
            r#"grok={"match":{"message":"%{NO_SUCH_PATTERN}"}}"#,
        ],
        "{}",
        "wasmstash test: filter #2 (`grok#2`), given by --before: invalid config: ",
    );
    refused(
        &[r#"json={"source":"message"}"#, "missing.wasm"],
        "{}",
        "filter #2 (`missing`), given by --before: cannot read module missing.wasm: ",
    );
    refused(
        &["nope"],
        "{}",
        "--before nope: no built-in filter of that name",
    );
    refused(
        &["grok=null"],
        "{}",
        "--before grok=null: the config after `=` must be a JSON object",
    );
    // The filter under test is named as such once it is not alone.
    refused(
        &[GROK_APACHE],
        r#"{"lowercase":"[a]","nope":1}"#,
        "filter #2 (`mutate`), the one under test: invalid config: ",
    );
    // Alone, it is named as it was before there were before-filters.
    refused(
        &[],
        r#"{"nope":1}"#,
        "wasmstash test: filter #1 (`mutate`): invalid config: ",
    );
}

/// The source of a small filter that needs grok's fields: it keeps the
/// events whose status is at least `min_status`, tagged, drops the rest,
/// and fails an event that has no status.
const HTTP_ERRORS: &str = r#"//! Keeps HTTP errors; grok must run first.
use serde::Deserialize;
use wasmstash_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    min_status: u64,
}

pub struct HttpErrors {
    min_status: u64,
}

impl Filter for HttpErrors {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if !(100..600).contains(&config.min_status) {
            return Err(format!("min_status {} is not an HTTP status", config.min_status));
        }
        Ok(HttpErrors { min_status: config.min_status })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        let status = event.get("[http][response][status_code]").and_then(Value::as_u64);
        let Some(status) = status else {
            return Verdict::Error("no [http][response][status_code]: run grok first".into());
        };
        if status < self.min_status {
            return Verdict::Drop;
        }
        event.add_tag("http_error");
        Verdict::Keep
    }
}

export_filter!(HttpErrors);
"#;

/// A crate that lists grok in its `before.json` is tested on raw lines with
/// no flags; without the file its cases fail. A before-filter's refused
/// config names `before.json`; the crate's own refused config names
/// `config.json`, and a module the host refuses does not.
#[test]
fn a_crate_names_its_before_filters_in_before_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = wasmstash_in(dir.path(), &["new", "http-errors"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let krate = dir.path().join("http-errors");
    std::fs::write(krate.join("src/lib.rs"), HTTP_ERRORS).unwrap();
    std::fs::write(krate.join("config.json"), r#"{"min_status": 400}"#).unwrap();
    for file in ["sample.log", "sample.expected.ndjson"] {
        std::fs::remove_file(krate.join("tests").join(file)).unwrap();
    }
    let lines = access_lines();
    std::fs::write(krate.join("tests/access.log"), lines.join("\n") + "\n").unwrap();
    let before = r#"[
  {"filter": "grok", "config": {"match": {"message": "%{COMBINEDAPACHELOG}"}}}
]
"#;
    std::fs::write(krate.join("before.json"), before).unwrap();
    // The first build compiles the SDK and serde for wasm32.
    let test = |extra: &[&str]| {
        let mut args = vec!["test", "--crate", "http-errors"];
        args.extend_from_slice(extra);
        wasmstash_for(Duration::from_secs(600), dir.path(), &args)
    };

    let out = test(&["--bless"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = lines_of(&krate.join("tests/access.expected.ndjson"));
    assert_eq!(expected.len(), lines.len());
    let mut kept = 0;
    for (line, event) in lines.iter().zip(&expected) {
        if !complete(line) {
            assert_eq!(
                event["tags"],
                serde_json::json!(["_grokparsefailure", "_wasmfilter_failure"])
            );
            let record = event["wasmstash"]["failures"].to_string();
            assert!(record.contains("run grok first"), "{record}");
        } else if status(line) >= 400 {
            assert_eq!(event["http"]["response"]["status_code"], status(line));
            assert_eq!(event["tags"], serde_json::json!(["http_error"]), "{line}");
            kept += 1;
        } else {
            assert_eq!(*event, serde_json::json!({"wasmstash": {"dropped": true}}));
        }
    }
    assert!(kept >= 5, "{kept} errors kept");
    let out = test(&[]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("ok   http-errors/tests/access.log"),
        "{}",
        text(&out.stdout)
    );

    // Without the file the filter sees raw lines, and every case fails.
    std::fs::rename(krate.join("before.json"), krate.join("before.json.off")).unwrap();
    let out = test(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    std::fs::rename(krate.join("before.json.off"), krate.join("before.json")).unwrap();

    std::fs::write(
        krate.join("before.json"),
        before.replace("COMBINEDAPACHELOG", "NO_SUCH_PATTERN"),
    )
    .unwrap();
    let out = test(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("filter #1 (`grok`), from http-errors/before.json: invalid config: "),
        "{err}"
    );
    assert!(!err.contains("the config is"), "{err}");
    std::fs::write(krate.join("before.json"), before).unwrap();

    std::fs::write(krate.join("config.json"), r#"{"min_status": 99}"#).unwrap();
    let out = test(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "filter #2 (`http_errors`), the one under test: invalid config: min_status 99 is \
             not an HTTP status (the config is http-errors/config.json)"
        ),
        "{err}"
    );

    // A module the host refuses is the module's problem, not the config's.
    std::fs::write(krate.join("config.json"), r#"{"min_status": 400}"#).unwrap();
    let foreign = r#"
#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn host_secret() -> u32;
}

#[unsafe(no_mangle)]
pub extern "C" fn leak() -> u32 {
    unsafe { host_secret() }
}
"#;
    std::fs::write(krate.join("src/lib.rs"), format!("{HTTP_ERRORS}{foreign}")).unwrap();
    let out = test(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "filter #2 (`http_errors`), the one under test: module imports `env::host_secret`"
        ),
        "{err}"
    );
    assert!(!err.contains("the config is"), "{err}");
}
