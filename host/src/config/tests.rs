//! The config file's settings, their defaults and bounds, and the words of
//! each refusal.

use std::time::Duration;

use super::*;

fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, Path::new("conf/w.toml")).map_err(|e| e.0)
}

#[test]
fn reads_pipelines_in_order_with_json_configs() {
    let config = parse(
        r#"
        [engine]
        call_timeout_ms = 0
        memory_limit_mib = 16
        cache_max_mib = 64
        replay_budget_ms = 5000
        [[pipelines.app.filters]]
        filter = "json"
        config = { source = "message", target = "doc" }
        [[pipelines.app.filters]]
        module = "mods/x.wasm"
        name = "redact"
        "#,
    )
    .unwrap();
    assert_eq!(config.engine.call_timeout, None);
    assert_eq!(config.engine.memory_limit_bytes, 16 << 20);
    assert_eq!(config.engine.cache_max_bytes, 64 << 20);
    assert_eq!(config.engine.replay_budget, Duration::from_secs(5));
    let app = &config.pipelines["app"];
    assert_eq!(app[0].source, FilterSource::Builtin("json".into()));
    assert_eq!(
        app[0].config_json,
        br#"{"source":"message","target":"doc"}"#
    );
    assert_eq!(app[1].source, FilterSource::File("conf/mods/x.wasm".into()));
    assert_eq!(app[1].name, "redact");
    assert_eq!(app[1].config_json, b"{}");
}

/// Options keep the order written, inline or as tables: grok tries
/// `match` fields in that order, as Logstash does a hash's.
#[test]
fn filter_options_keep_their_order() {
    let config = parse(
        r#"
        [[pipelines.p.filters]]
        filter = "grok"
        config = { match = { zfield = "%{WORD:z}", afield = "%{WORD:a}" }, break_on_match = true }
        [[pipelines.p.filters]]
        filter = "mutate"
        [pipelines.p.filters.config.rename]
        y = "b"
        x = "a"
        "#,
    )
    .unwrap();
    let p = &config.pipelines["p"];
    assert_eq!(
        String::from_utf8_lossy(&p[0].config_json),
        r#"{"match":{"zfield":"%{WORD:z}","afield":"%{WORD:a}"},"break_on_match":true}"#
    );
    assert_eq!(
        String::from_utf8_lossy(&p[1].config_json),
        r#"{"rename":{"y":"b","x":"a"}}"#
    );
}

/// TOML values JSON cannot hold are refused where they are written, not
/// handed on as serde's private date-time shape or as null.
#[test]
fn filter_configs_refuse_what_json_cannot_hold() {
    let err = parse(
        "[[pipelines.p.filters]]\nfilter = \"mutate\"\nconfig = { replace = { at = 1979-05-27T07:32:00Z } }",
    )
    .unwrap_err();
    assert!(
        err.contains("filter #1 (`mutate`): config.replace.at = 1979-05-27T07:32:00Z: filters are configured in JSON, which has no date-time")
            && err.contains(r#"quote it to pass it as a string: "1979-05-27T07:32:00Z""#),
        "{err}"
    );
    let err = parse("[[pipelines.p.filters]]\nmodule = \"x.wasm\"\nconfig = { n = [1.5, -inf] }")
        .unwrap_err();
    assert!(
        err.contains(
            "config.n[1] = -inf: filters are configured in JSON, which has no such number"
        ),
        "{err}"
    );
    let config = parse(
        "[[pipelines.p.filters]]\nmodule = \"x.wasm\"\nconfig = { f = 1.5, i = -3, b = true, t = [{ s = \"1979-05-27\" }] }",
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&config.pipelines["p"][0].config_json),
        r#"{"f":1.5,"i":-3,"b":true,"t":[{"s":"1979-05-27"}]}"#
    );
}

#[test]
fn errors_name_the_file_pipeline_and_filter() {
    let err = parse("[[pipelines.p.filters]]\nfilter = \"jsn\"").unwrap_err();
    assert!(
        err.starts_with(
            "conf/w.toml: pipeline `p`, filter #1 (`jsn`): unknown built-in filter `jsn`"
        ),
        "{err}"
    );
    let err = parse("[[pipelines.p.filters]]\nconfig = {}").unwrap_err();
    assert!(err.contains("filter #1: missing `filter"), "{err}");
    let err = parse("[[pipelines.p.filters]]\nfilter = \"json\"\nmodule = \"a.wasm\"").unwrap_err();
    assert!(err.contains("not both"), "{err}");
    // A TOML error on a very long line says where, without quoting it.
    let long = format!("[engine]\nmemory_limit_mib = {}x", "9".repeat(100_000));
    let err = parse(&long).unwrap_err();
    assert!(err.len() < 300, "{} bytes: {}", err.len(), &err[..300]);
    assert!(
        err.starts_with("conf/w.toml: TOML parse error at line 2, column "),
        "{err}"
    );
    let short = parse("[engine]\nmemory_limit_mib = 9x").unwrap_err();
    assert!(short.contains("memory_limit_mib = 9x"), "quoted: {short}");
    let err = parse("[engine]\nmemory_limit_mb = 3").unwrap_err();
    assert!(
        err.contains("conf/w.toml") && err.contains("unknown field `memory_limit_mb`"),
        "{err}"
    );
    let err = parse("[engine]\nmemory_limit_mib = 0").unwrap_err();
    assert!(err.contains("between 1 and 4096"), "{err}");
    let err = parse("[engine]\nreplay_budget_ms = 0").unwrap_err();
    assert!(
        err.contains("replay_budget_ms = 0: must be between 1 and 3600000"),
        "{err}"
    );
    let err = parse("[engine]\nstate_call_timeout_ms = 0").unwrap_err();
    assert!(
        err.contains("state_call_timeout_ms = 0: must be between 1 and 600000"),
        "{err}"
    );
    let pipeline = "[[pipelines.p.filters]]\nfilter = \"json\"";
    let config = parse(&format!(
        "[engine]\nstate_call_timeout_ms = 2500\n{pipeline}"
    ))
    .unwrap();
    assert_eq!(
        config.engine.state_call_timeout,
        Duration::from_millis(2500)
    );
    let err = parse("[engine]\ncache_max_mib = 1").unwrap_err();
    assert!(
        err.contains("cache_max_mib = 1: must be between 16"),
        "{err}"
    );
    let err = parse("[server]\nmax_connections = 0").unwrap_err();
    assert!(
        err.contains("max_connections = 0: must be between 1 and 1000000"),
        "{err}"
    );
    let err = parse("[server]\nmax_body_bytes = 2000\nmax_inflight_body_bytes = 1000").unwrap_err();
    assert!(
        err.contains("max_inflight_body_bytes = 1000 is below max_body_bytes = 2000"),
        "{err}"
    );
    let config =
        parse("[server]\nmax_body_bytes = 536870912\n[[pipelines.p.filters]]\nfilter = \"json\"")
            .unwrap();
    // Unset, the budget holds what one largest body needs at its peak:
    // 2.25 times the body and 160 bytes for each of up to 10,000 events.
    assert_eq!(
        config.server.max_inflight_body_bytes,
        536870912 / 4 * 9 + 10_000 * 160
    );
    let err = parse("[engine]\nmax_module_mib = 0").unwrap_err();
    assert!(
        err.contains("max_module_mib = 0: must be between 1 and 1024"),
        "{err}"
    );
    let err = parse("[server]\nwrite_timeout_ms = 0").unwrap_err();
    assert!(
        err.contains("write_timeout_ms = 0: must be between 1 and 3600000"),
        "{err}"
    );
    let err = parse("[server]\nmin_answer_bytes_per_sec = 1073741825").unwrap_err();
    assert!(
        err.contains("min_answer_bytes_per_sec = 1073741825: must be between 0 and 1073741824"),
        "{err}"
    );
    let server = |text: &str| {
        parse(&format!(
            "{text}\n[[pipelines.p.filters]]\nfilter = \"mutate\""
        ))
        .unwrap()
        .server
    };
    assert_eq!(server("").min_answer_bytes_per_sec, 256 << 10);
    assert_eq!(
        server("[server]\nmin_answer_bytes_per_sec = 0").min_answer_bytes_per_sec,
        0
    );
    let err = parse("[server]\nmax_header_bytes = 8191").unwrap_err();
    assert!(
        err.contains("max_header_bytes = 8191: must be between 8192 and 16777216"),
        "{err}"
    );
    let err = parse("[server]\nheader_read_timeout_ms = 0").unwrap_err();
    assert!(
        err.contains("header_read_timeout_ms = 0: must be between 1 and 3600000"),
        "{err}"
    );
    for name in [
        "..",
        "",
        "a/b",
        ".hidden",
        "_unknown",
        "café",
        &"x".repeat(65),
    ] {
        let err = parse(&format!(
            "[[pipelines.\"{name}\".filters]]\nfilter = \"json\""
        ))
        .unwrap_err();
        assert!(
            err.starts_with(&format!(
                "conf/w.toml: pipeline `{name}`: a pipeline name must be"
            )),
            "{name}: {err}"
        );
    }
    for name in ["access-dissect", "a_b", "v1.2", &"x".repeat(64)] {
        let text = format!("[[pipelines.\"{name}\".filters]]\nfilter = \"json\"");
        assert!(parse(&text).is_ok(), "{name}");
    }
    let err = parse("[server]\nlisten = \"localhost:9700\"").unwrap_err();
    assert!(
        err.contains("host names such as localhost are not looked up"),
        "{err}"
    );
    let err = parse("[pipelines.p]\nfilters = []").unwrap_err();
    assert!(err.contains("pipeline `p` has no filters"), "{err}");
    let err = parse("[pipelines.p.filters]\nfilter = \"json\"").unwrap_err();
    assert!(
        err.contains("line 1")
            && err.contains("write each filter under `[[pipelines.NAME.filters]]`"),
        "{err}"
    );
    // An empty file (or one caught half-written by the watcher) is refused.
    let err = parse("").unwrap_err();
    assert!(err.contains("no pipelines defined"), "{err}");
    let err = parse("[[pipelines.p.filters]\n").unwrap_err();
    assert!(
        err.starts_with("conf/w.toml: TOML parse error at line 1"),
        "{err}"
    );
}

#[test]
fn cli_specs_pick_builtins_or_files() {
    let spec = FilterSpec::from_cli(r#"mutate={"uppercase":["m"]}"#).unwrap();
    assert_eq!(spec.source, FilterSource::Builtin("mutate".into()));
    assert_eq!(FilterSpec::from_cli("./x.wasm").unwrap().name, "x");
    assert!(
        FilterSpec::from_cli("nope")
            .unwrap_err()
            .0
            .contains("built-ins: json, mutate")
    );
    assert!(
        FilterSpec::from_cli("json=[1]")
            .unwrap_err()
            .0
            .contains("JSON object")
    );
    // A module path's `=` with no object after it is a bad config, not
    // part of the file's name; a path that merely holds `=` is a path.
    for spec in ["./m.wasm=", "./m.wasm=null", "dir/m.wat=[1]"] {
        let err = FilterSpec::from_cli(spec).unwrap_err().0;
        assert!(
            err.contains("the config after `=` must be a JSON object"),
            "{err}"
        );
    }
    let spec = FilterSpec::from_cli("./a=b.wasm").unwrap();
    assert_eq!(spec.source, FilterSource::File("./a=b.wasm".into()));
    // A repeated key, at any depth, is refused rather than read as its last.
    let err =
        FilterSpec::from_cli(r#"grok={"match":{"message":"%{WORD:w}","message":"%{NUMBER:n}"}}"#)
            .unwrap_err()
            .0;
    assert!(err.contains("duplicate key `message`"), "{err}");
}

#[test]
fn the_live_view_table_is_checked() {
    let pipeline = "[[pipelines.p.filters]]\nfilter = \"json\"\nconfig = { source = \"m\" }\n";
    let config = parse(&format!(
        "[server.ui]\nmask_fields = [\"[user][name]\"]\nupdate_ms = 500\n{pipeline}"
    ))
    .unwrap();
    assert_eq!(config.server.ui.mask_fields, ["[user][name]"]);
    assert_eq!(config.server.ui.update_interval, Duration::from_millis(500));
    assert!(config.server.ui.enabled);
    let err = parse(&format!(
        "[server.ui]\nmask_fields = [\"[user][name\"]\n{pipeline}"
    ))
    .unwrap_err();
    assert!(
        err.contains("[server] ui.mask_fields: malformed field reference"),
        "{err}"
    );
    // Every bad setting of the table is said, not only the first.
    let err = parse(&format!(
        "[server.ui]\nmask_fields = [\"[a\"]\nupdate_ms = 10\nsample_bytes_per_sec = 0\n{pipeline}"
    ))
    .unwrap_err();
    for problem in [
        "ui.mask_fields: malformed field reference",
        "ui.update_ms = 10: must be between 250 and 60000",
        "ui.sample_bytes_per_sec = 0",
    ] {
        assert!(err.contains(problem), "{problem}: {err}");
    }
}

#[test]
fn each_filter_of_a_pipeline_gets_a_name_of_its_own() {
    let config = parse(
        r#"
        [[pipelines.app.filters]]
        filter = "mutate"
        [[pipelines.app.filters]]
        filter = "json"
        config = { source = "message" }
        [[pipelines.app.filters]]
        filter = "mutate"
        [[pipelines.app.filters]]
        filter = "dissect"
        name = "mutate"
        config = { mapping = { message = "%{a}" } }
        "#,
    )
    .unwrap();
    let names: Vec<&str> = config.pipelines["app"]
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["mutate", "json", "mutate#3", "mutate#4"]);
    let err = parse(
        r#"
        [[pipelines.app.filters]]
        filter = "mutate"
        name = ""
        "#,
    )
    .unwrap_err();
    assert!(
        err.contains("pipeline `app`, filter #1: `name` is empty"),
        "{err}"
    );
    // Two filters with one name would share a saved state; the second
    // `mutate` below used to become `mutate#3`, the first filter's name.
    let err = parse(
        r#"
        [[pipelines.app.filters]]
        filter = "json"
        name = "mutate#3"
        [[pipelines.app.filters]]
        filter = "mutate"
        [[pipelines.app.filters]]
        filter = "mutate"
        "#,
    )
    .unwrap_err();
    assert!(
        err.contains("filter #3: its name `mutate` is an earlier filter's, and so is `mutate#3`"),
        "{err}"
    );
}

#[test]
fn the_shutdown_drain_covers_a_call_and_its_replay() {
    let pipeline = "[[pipelines.p.filters]]\nfilter = \"json\"\nconfig = { source = \"message\" }";
    // At the defaults a batch whose events each run to the deadline is held
    // for a call and a replay of the whole budget; the drain waits for it.
    let config = parse(pipeline).unwrap();
    let engine = &config.engine;
    let drain = config.server.drain_limit(engine, false);
    let held = engine.call_timeout.unwrap() * 2 + engine.replay_budget;
    assert!(drain > held + config.server.queue_timeout, "{drain:?}");
    assert_eq!(drain, Duration::from_secs(45));
    // It follows the settings it is derived from: eight calls before a
    // failure (an instance's start and the batch's call) and the budget ...
    let config = parse(&format!(
        "[engine]\ncall_timeout_ms = 200\nreplay_budget_ms = 1000\n[server]\nqueue_timeout_ms = 500\n{pipeline}"
    ))
    .unwrap();
    assert_eq!(
        config.server.drain_limit(&config.engine, false),
        Duration::from_millis(500 + 8 * 200 + 1000 + 2000)
    );
    // ... with a stateful filter, whose new instance restores the state,
    // re-runs its log and folds it into a checkpoint, and whose batch may
    // begin with one: 25 calls and 4 state calls (state_call_timeout_ms,
    // 10 s by default; a batch's wait for the filter counts against that
    // bound) ...
    assert_eq!(
        config.server.drain_limit(&config.engine, true),
        Duration::from_millis(500 + 25 * 200 + 4 * 10_000 + 1000 + 2000)
    );
    // ... and a setting of its own wins.
    let config = parse(&format!("[server]\ndrain_timeout_ms = 90000\n{pipeline}")).unwrap();
    assert_eq!(
        config.server.drain_limit(&config.engine, true),
        Duration::from_secs(90)
    );
    let err = parse(&format!("[server]\ndrain_timeout_ms = 0\n{pipeline}")).unwrap_err();
    assert!(
        err.contains("drain_timeout_ms = 0: must be between 1 and 3600000"),
        "{err}"
    );
    // The linger at shutdown: a second by default, 0 to a minute.
    let linger = |ms: u64| parse(&format!("[server]\nshutdown_linger_ms = {ms}\n{pipeline}"));
    assert_eq!(
        parse(pipeline).unwrap().server.shutdown_linger,
        Duration::from_secs(1)
    );
    assert_eq!(linger(0).unwrap().server.shutdown_linger, Duration::ZERO);
    let err = linger(60_001).unwrap_err();
    assert!(
        err.contains("shutdown_linger_ms = 60001: must be between 0 and 60000"),
        "{err}"
    );
}

#[test]
fn server_settings_that_differ_are_named_as_the_table_spells_them() {
    let pipeline = "[[pipelines.p.filters]]\nfilter = \"json\"\nconfig = { source = \"message\" }";
    let before = parse(&format!("[server]\nworkers = 2\n{pipeline}")).unwrap();
    assert!(before.server.differences(&before.server).is_empty());
    let after = parse(&format!(
        "[server]\nworkers = 3\nqueue_timeout_ms = 100\n[server.ui]\nupdate_ms = 500\n{pipeline}"
    ))
    .unwrap();
    assert_eq!(
        after.server.differences(&before.server),
        ["workers", "queue_timeout_ms", "[server.ui]"]
    );
}

/// `serve` claims a pipeline's state lock from what `declares_state` reads
/// of the modules before compiling them; a disagreement with the compiled
/// module's rule would claim a lock it does not need, or claim one late.
#[test]
fn a_filter_declares_state_exactly_when_its_compiled_module_is_stateful() {
    let engine = crate::engine::Engine::new(EngineSettings {
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    let mut stateful = Vec::new();
    for builtin in crate::builtins::BUILTINS {
        let spec = FilterSpec::from_target(builtin.name, "{}", "--filter").unwrap();
        let compiled = crate::engine::inspect(&engine, builtin.wasm)
            .unwrap()
            .stateful;
        assert_eq!(
            spec.declares_state(engine.settings()),
            compiled,
            "{}",
            builtin.name
        );
        if compiled {
            stateful.push(builtin.name);
        }
    }
    assert_eq!(stateful, ["templates", "anomaly"]);
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("state.wat");
    std::fs::write(
        &module,
        r#"(module (func (export "wasmstash_snapshot") (result i64) (i64.const 0))
                   (func (export "wasmstash_restore") (param i32 i32) (result i64) (i64.const 0)))"#,
    )
    .unwrap();
    let spec = FilterSpec::from_target(module.to_str().unwrap(), "{}", "--filter").unwrap();
    assert!(spec.declares_state(engine.settings()));
    let small = EngineSettings {
        max_module_bytes: 10,
        ..Default::default()
    };
    assert!(
        !spec.declares_state(&small),
        "a module past the cap is not read"
    );
}

/// A typed field's error names the pipeline and filter around it, or the
/// table; the toml crate's own text only quotes the line, which in a
/// config of inline tables is one long line and is not quoted at all.
#[test]
fn toml_errors_name_the_pipeline_and_filter_they_are_in() {
    let err = parse(
        "[[pipelines.a.filters]]\nfilter = \"json\"\nconfig = { source = \"m\" }\n\
         [[pipelines.b.filters]]\nfilter = \"mutate\"\n[[pipelines.b.filters]]\nfilter = \"json\"\nsha256 = 5\n",
    )
    .unwrap_err();
    assert!(
        err.starts_with("conf/w.toml: pipeline `b`, filter #2: TOML parse error at line 8"),
        "{err}"
    );
    assert!(err.contains("expected a string"), "{err}");

    let err = parse("[[pipelines.a.filters]]\nfilter = \"json\"\nconfg = {}\n").unwrap_err();
    assert!(
        err.starts_with("conf/w.toml: pipeline `a`, filter #1: TOML parse error"),
        "{err}"
    );
    assert!(err.contains("unknown field `confg`"), "{err}");

    let pipelines: Vec<String> = (0..100)
        .map(|i| {
            let sha = if i == 57 { "sha256 = 5, " } else { "" };
            format!("p{i} = {{ filters = [ {{ filter = \"json\", {sha}config = {{ source = \"m\" }} }} ] }}")
        })
        .collect();
    let err = parse(&format!("pipelines = {{ {} }}\n", pipelines.join(", "))).unwrap_err();
    assert!(
        err.starts_with(
            "conf/w.toml: pipeline `p57`, filter #1: TOML parse error at line 1, column"
        ),
        "{err}"
    );

    // A pipeline's filter tables written apart, another's between them;
    // a table's parts written around a pipeline.
    let err = parse(
        "[[pipelines.a.filters]]\nfilter = \"json\"\nconfig = { source = \"m\" }\n\
         [[pipelines.b.filters]]\nfilter = \"json\"\nsha256 = 5\n\
         [[pipelines.a.filters]]\nfilter = \"mutate\"\n",
    )
    .unwrap_err();
    assert!(
        err.starts_with("conf/w.toml: pipeline `b`, filter #1: TOML parse error at line 6"),
        "{err}"
    );
    let err = parse(
        "[server]\nworkers = 2\n[[pipelines.a.filters]]\nfilter = \"json\"\nsha256 = 5\n\
         [server.ui]\nenabled = true\n",
    )
    .unwrap_err();
    assert!(
        err.starts_with("conf/w.toml: pipeline `a`, filter #1: TOML parse error at line 5"),
        "{err}"
    );
    let err = parse("[engine]\ncall_timeout_ms = \"5\"\n").unwrap_err();
    assert!(
        err.starts_with("conf/w.toml: [engine]: TOML parse error"),
        "{err}"
    );
    // A syntax error is placed by the toml crate alone.
    let err = parse("[[pipelines.a.filters]]\nfilter = \n").unwrap_err();
    assert!(
        err.starts_with("conf/w.toml: TOML parse error at line 2"),
        "{err}"
    );
}

#[test]
fn toml_nested_past_the_readers_limit_is_said_in_words() {
    let deep = format!(
        "[[pipelines.a.filters]]\nfilter = \"json\"\n[pipelines.a.filters.config]\n{}y = 1\n",
        "x.".repeat(80)
    );
    assert_eq!(
        parse(&deep).unwrap_err(),
        "conf/w.toml: tables, arrays or dotted keys are nested too deeply (the TOML reader's \
         recursion limit)"
    );
}

#[test]
fn a_module_path_with_no_file_name_is_refused_as_such() {
    let err = parse("[[pipelines.a.filters]]\nmodule = \"..\"\n").unwrap_err();
    assert_eq!(
        err,
        "conf/w.toml: pipeline `a`, filter #1: `conf/..` names no module file: a module is a \
         .wasm or .wat file"
    );
    let err = FilterSpec::from_cli("/").unwrap_err().0;
    assert_eq!(
        err,
        "--filter /: `/` names no module file: a module is a .wasm or .wat file"
    );
}

/// A value of the wrong type where a table belongs is told in the config's
/// words, not by the name of a Rust struct.
#[test]
fn a_table_of_the_wrong_type_is_named_in_config_terms() {
    for (text, expected) in [
        ("engine = 5\n", "the [engine] table"),
        ("server = 5\n", "the [server] table"),
        (
            "[pipelines]\na = 5\n",
            "a pipeline: a table holding a `filters` list",
        ),
        (
            "[pipelines.a]\nfilters = [5]\n",
            "a filter: a `[[pipelines.NAME.filters]]` table",
        ),
    ] {
        let err = parse(text).err().unwrap();
        assert!(err.contains(expected), "{text}: {err}");
        assert!(!err.contains("Raw"), "{text}: {err}");
    }
}

/// A pipeline left incomplete by one malformed entry still counts its
/// other filters: `check` loads them too, and without the count a config
/// of thousands of filters and one bad entry got past the limit and had
/// them all loaded.
#[test]
fn an_incomplete_pipelines_filters_count_against_the_limit() {
    let mut text = String::from("[engine]\nmax_filter_instances = 4\n[server]\nworkers = 2\n");
    text.push_str(&"[[pipelines.a.filters]]\nfilter = \"mutate\"\n".repeat(3));
    text.push_str("[[pipelines.a.filters]]\nx = 1\n");
    let loaded = Config::parse_all(&text, Path::new("w.toml"), None);
    let problems: Vec<&str> = loaded.problems.iter().map(|p| p.0.as_str()).collect();
    assert!(loaded.config.is_none(), "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("unknown field `x`")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains(
            "3 filter(s) in 1 pipeline(s), each run by 2 worker(s) (server.workers), \
             make 6 filter instances, more than 4"
        )),
        "{problems:?}"
    );
}

#[test]
fn filter_instances_are_counted_over_every_pipeline_times_the_workers() {
    let config = |most: u64| {
        format!(
            "[engine]\nmax_filter_instances = {most}\n[server]\nworkers = 3\n\
             [[pipelines.a.filters]]\nfilter = \"json\"\n[[pipelines.a.filters]]\nfilter = \"json\"\n\
             [[pipelines.b.filters]]\nfilter = \"json\"\n[[pipelines.b.filters]]\nfilter = \"json\"\n"
        )
    };
    assert!(parse(&config(12)).is_ok());
    let error = parse(&config(11)).unwrap_err();
    assert!(
        error.starts_with("conf/w.toml: 4 filter(s) in 2 pipeline(s), each run by 3 worker(s)")
            && error.contains("make 12 filter instances, more than 11"),
        "{error}"
    );
}
