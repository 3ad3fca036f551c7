//! logstash.conf filter blocks into pipelines: what moves, what stays in
//! Logstash, and the words of each refusal.

use super::*;

const URL: &str = "http://127.0.0.1:9700";
fn target() -> Target<'static> {
    Target {
        pipeline: "main",
        url: URL,
        ecs_compatibility: None,
        working_dir: Path::new("/logstash"),
    }
}

fn imported(conf: &str) -> Imported {
    match convert(conf, "l.conf", &target()) {
        Ok(imported) => imported,
        Err(e) => panic!("{e}"),
    }
}

fn refused(conf: &str) -> String {
    match convert(conf, "l.conf", &target()) {
        Ok(imported) => panic!("imported:\n{}", imported.toml),
        Err(e) => e,
    }
}

/// Each pipeline's filters (name, config) as the config loader reads them.
fn pipelines(toml: &str) -> Vec<(String, Vec<(String, Value)>)> {
    let config = crate::config::Config::parse(toml, Path::new("i.toml")).unwrap();
    (config.pipelines.iter())
        .map(|(name, specs)| {
            let filters = (specs.iter())
                .map(|spec| {
                    let config = serde_json::from_slice(&spec.config_json).unwrap();
                    (spec.name.clone(), config)
                })
                .collect();
            (name.clone(), filters)
        })
        .collect()
}

#[test]
fn filters_move_with_their_options_as_logstash_read_them() {
    let conf = r#"
input { beats { port => 5044 codec => json { charset => "UTF-8" } } }
# Apache lines
filter {
  grok {
    id => "apache_grok"
    match => { "message" => "%{IPORHOST:client} \"%{WORD:verb} \[%{DATA:x}\]" }
    break_on_match => false   # a comment
    overwrite => [ "message" ]
    timeout_millis => 2500
    add_field => { "[@metadata][index]" => "app-%{+YYYY.MM.dd}" "n" => "1.5" }
  }
  date { match => [ 'timestamp', 'dd/MMM/yyyy:HH:mm:ss Z' ] keep_empty => "true" }
  mutate { remove_field => message }
}
output { elasticsearch { hosts => ["http://es:9200"] } }
"#;
    let imported = imported(conf);
    let got = pipelines(&imported.toml);
    assert_eq!(got.len(), 1, "{}", imported.toml);
    let (name, filters) = &got[0];
    assert_eq!(name, "main");
    let names: Vec<&str> = filters.iter().map(|(n, _)| n.as_str()).collect();
    // Logstash's `id` names the filter in metrics and failure records.
    assert_eq!(names, ["apache_grok", "date", "mutate"]);
    assert_eq!(
        filters[0].1,
        serde_json::json!({
            "id": "apache_grok",
            // The backslashes are the pattern's, as Logstash keeps them.
            "match": {"message": r#"%{IPORHOST:client} \"%{WORD:verb} \[%{DATA:x}\]"#},
            // Logstash's config has no booleans; grok reads this one as
            // Logstash's validation does (see the SDK's option_types.rs).
            "break_on_match": "false",
            "overwrite": ["message"],
            "timeout_millis": 2500,
            "add_field": {"[@metadata][index]": "app-%{+YYYY.MM.dd}", "n": "1.5"},
        })
    );
    assert_eq!(
        filters[1].1,
        serde_json::json!({"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"], "keep_empty": "true"})
    );
    assert_eq!(filters[2].1, serde_json::json!({"remove_field": "message"}));
    assert!(imported.stays.is_empty());
    assert_eq!(
        imported.summary,
        "3 filters from l.conf into pipeline `main`"
    );
    // The filter section becomes one call; the rest is as written.
    let expected_filter =
        format!("filter {{\n  wasm {{ url => \"{URL}\" pipeline => \"main\" }}\n}}");
    assert!(
        imported.logstash.contains(&expected_filter),
        "{}",
        imported.logstash
    );
    assert!(
        imported
            .logstash
            .starts_with("\ninput { beats { port => 5044 codec")
    );
    assert!(
        imported
            .logstash
            .ends_with("output { elasticsearch { hosts => [\"http://es:9200\"] } }\n")
    );
}

#[test]
fn conditionals_and_other_plugins_stay_and_split_the_runs() {
    let conf = r#"filter {
  json { source => "message" }
  geoip { source => "client" }
  if [type] == "apache" and [path] =~ /access{1}/ {
    grok { match => { "message" => "%{COMBINEDAPACHELOG}" } }
    date { match => ["timestamp", "ISO8601"] }
  } else if "x" in [tags] {
    drop { }
  } else {
    kv { }
  }
}"#;
    let imported = imported(conf);
    let got = pipelines(&imported.toml);
    let shape: Vec<(&str, Vec<&str>)> = (got.iter())
        .map(|(p, f)| (p.as_str(), f.iter().map(|(n, _)| n.as_str()).collect()))
        .collect();
    assert_eq!(
        shape,
        [
            ("main-1", vec!["json"]),
            ("main-2", vec!["grok", "date"]),
            ("main-3", vec!["kv"]),
        ]
    );
    assert_eq!(
        imported.stays,
        [
            "3: `geoip`, which has no built-in",
            "4: a conditional",
            "7: a conditional",
            "8: `drop`, which has no built-in",
            "9: a conditional",
        ]
    );
    let call = |p: &str| format!("wasm {{ url => \"{URL}\" pipeline => \"{p}\" }}");
    let expected = format!(
        r#"filter {{
  {}
  geoip {{ source => "client" }}
  if [type] == "apache" and [path] =~ /access{{1}}/ {{
    {}
  }} else if "x" in [tags] {{
    drop {{ }}
  }} else {{
    {}
  }}
}}"#,
        call("main-1"),
        call("main-2"),
        call("main-3")
    );
    assert_eq!(imported.logstash, expected);
    assert_eq!(
        imported.summary,
        "4 filters from l.conf into pipelines `main-1`, `main-2`, `main-3`; 5 parts stay in Logstash"
    );
}

/// Logstash runs every filter section of a config as one chain, in order,
/// whatever sections lie between them; so does the pipeline, and the
/// rewritten logstash.conf keeps those sections.
#[test]
fn filter_sections_make_one_chain_in_order() {
    let conf = "filter { kv { } }\noutput { stdout {} }\nfilter {\n  # split it\n  \
                dissect { mapping => { \"message\" => \"%{a} %{b}\" } }\n}";
    let joined = imported(conf);
    let got = pipelines(&joined.toml);
    assert_eq!(got.len(), 1, "{}", joined.toml);
    let names: Vec<&str> = got[0].1.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["kv", "dissect"]);
    assert_eq!(got[0].1[0].1, serde_json::json!({}));
    assert_eq!(
        joined.logstash,
        format!(
            "filter {{ {} }}\noutput {{ stdout {{}} }}\nfilter {{\n  # split it\n  \
             # moved into the sidecar's pipeline `main`, called above\n}}",
            wasm_call(URL, "main")
        )
    );
    let dissect = "# split it\n[[pipelines.main.filters]]\nfilter = \"dissect\"";
    assert!(joined.toml.contains(dissect), "{}", joined.toml);
    // What follows a moved part on its line stays code, not comment.
    let conf = "filter { kv { } }\nfilter { mutate { } ruby { code => \"1\" } }\n\
                filter { json { } }\noutput { stdout { } }";
    let rewritten = imported(conf).logstash;
    let moved = "# moved into the sidecar's pipeline `main-1`, called above\n";
    assert!(
        rewritten.contains(&format!("filter {{ {moved}ruby {{ code => \"1\" }} }}\n")),
        "{rewritten}"
    );
    assert!(
        rewritten.ends_with(&format!(
            "filter {{ {} }}\noutput {{ stdout {{ }} }}",
            wasm_call(URL, "main-2")
        )),
        "{rewritten}"
    );
    // On a line of its own, indented as the moved part was.
    let conf = "filter { kv { } }\nfilter {\n    mutate { } ruby { code => \"1\" }\n}";
    let rewritten = imported(conf).logstash;
    assert!(
        rewritten.ends_with(&format!(
            "filter {{\n    {}\n    ruby {{ code => \"1\" }}\n}}",
            moved.trim_end().replace("main-1", "main")
        )),
        "{rewritten}"
    );
    // With the file's own line breaks.
    let conf = "filter { kv { } }\r\nfilter {\r\n\tmutate { } ruby { code => \"1\" }\r\n}\r\n";
    let rewritten = imported(conf).logstash;
    assert!(
        rewritten.ends_with(&format!(
            "filter {{\r\n\t{}\r\n\truby {{ code => \"1\" }}\r\n}}\r\n",
            moved.trim_end().replace("main-1", "main")
        )),
        "{rewritten:?}"
    );
    // A conditional between sections still ends the run.
    let conf = "filter { kv { } }\nfilter { if [a] { json { } } }\nfilter { kv { } }";
    let toml = imported(conf).toml;
    assert_eq!(pipelines(&toml).len(), 3, "{toml}");
}

/// Logstash's compiler merges an option given twice (Elastic's syslog
/// example gives `add_field` twice): hashes merge key by key, lists take
/// the new members, two different values become a list.
#[test]
fn an_option_given_twice_merges_as_logstash_merges_it() {
    let conf = r#"filter { mutate {
  add_field => [ "received_at", "%{@timestamp}" ]
  add_field => [ "received_from", "%{host}" ]
  add_tag => "a"
  add_tag => "b"
  remove_tag => "x"
  remove_tag => "x"
  rename => { "a" => "b" "l" => ["p"] "n" => { "x" => 1 } }
  rename => { "c" => "d" "l" => ["p", "q"] "n" => { "y" => 2 } "a" => "z" }
} }"#;
    let got = pipelines(&imported(conf).toml);
    assert_eq!(
        got[0].1[0].1,
        serde_json::json!({
            "add_field": ["received_at", "%{@timestamp}", "received_from", "%{host}"],
            "add_tag": ["a", "b"],
            "remove_tag": "x",
            "rename": {"a": ["b", "z"], "l": ["p", "q"], "n": {"x": 1, "y": 2}, "c": "d"},
        })
    );
    let error = refused("filter {\n kv { a => { \"x\" => 1 }\n a => 2 } }");
    assert_eq!(
        error,
        "l.conf:3: `a` is given again in `kv` as another kind of value (a hash merges only \
         with a hash)"
    );
}

#[test]
fn numbers_are_written_as_toml_numbers_and_read_as_logstash_reads_them() {
    let imported = imported("filter { kv { a => 5000 b => -1.5 c => 010 d => -07 e => 0 } }");
    assert!(
        imported
            .toml
            .contains("a = 5000\nb = -1.5\nc = 8\nd = -7\ne = 0\n"),
        "{}",
        imported.toml
    );
    for (conf, expected) in [
        (
            "filter { kv { a => 1. } }",
            "l.conf:1:20: `1.` is not a number Logstash reads",
        ),
        (
            "filter { kv { a => 08 } }",
            "l.conf:1:20: `08` is not a number Logstash reads",
        ),
    ] {
        assert_eq!(refused(conf), expected);
    }
}

/// A field reference's part may hold `/`, `#` or quotes; a condition
/// holding one is not read as a regular expression, comment or string.
#[test]
fn field_references_in_conditions_may_hold_any_text_but_brackets_and_commas() {
    let conf = r#"filter {
  if [labels][app.kubernetes.io/name] == "nginx" and [a#b] in ["x", "y"] {
    kv { }
  } elseif [l]["q"] {
    json { }
  }
}"#;
    let imported = imported(conf);
    assert_eq!(imported.stays, ["2: a conditional", "4: a conditional"]);
    assert_eq!(pipelines(&imported.toml).len(), 2);
}

#[test]
fn environment_references_are_refused_for_the_value_to_be_written() {
    let conf = "filter {\n  grok { match => { \"message\" => \"${PATTERN}\" } }\n  \
                mutate { add_field => [\"k\", \"v\"] add_tag => [\"${TAG:x}\"] }\n}";
    let error = refused(conf);
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 2, "{error}");
    assert!(lines[0].starts_with("l.conf:2: `match` of `grok` holds a `${...}` reference"));
    assert!(
        lines[1].starts_with("l.conf:3: `add_tag` of `mutate` holds"),
        "{error}"
    );
    // A sprintf reference is the filter's own, and moves.
    imported("filter { mutate { add_tag => \"%{type}\" } }");
}

#[test]
fn syntax_errors_name_the_line_and_column() {
    for (conf, expected) in [
        (
            "filter { grok { match => } }",
            "l.conf:1:26: expected a value, found `}`",
        ),
        (
            "filter { grok { match = 1 } }",
            "l.conf:1:23: expected `=>`, found `=`",
        ),
        (
            "filter {\n  grok { match => \"x }\n}",
            "l.conf:2:19: this string is never closed",
        ),
        (
            "filter { grok {",
            "l.conf:1:16: expected a name, found the end of the file",
        ),
        ("filters { }", "l.conf:1:1: `filters`: expected a section"),
        (
            "filter { mutate { add_field => { \"a\" => 1 \"a\" => 2 } } }",
            "l.conf:1:43: `a` is given twice in this hash",
        ),
        (
            "filter { mutate { add_field => { \"\u{1b}\n\" => 1 \"\u{1b}\n\" => 2 } } }",
            "l.conf:2:8: `\\u{1b}\\n` is given twice in this hash",
        ),
        (
            "filter { kv { a => [1 2] } }",
            "l.conf:1:23: expected `,`, found `2`",
        ),
        (
            "filter { mutate { add_field => { \"a\" => 1, \"b\" => 2 } } }",
            "l.conf:1:42: a comma between hash entries, which Logstash refuses",
        ),
        (
            "filter { mutate { remove_field => a } }",
            "l.conf:1:35: `a` unquoted, which Logstash does not read as a value",
        ),
        (
            "filter { mutate { rename => { my-field => \"b\" } } }",
            "l.conf:1:31: `my-field` unquoted",
        ),
        (
            "filter { if { kv {} } }",
            "l.conf:1:13: `if` without a condition",
        ),
        (
            "filter { kv {} else { } }",
            "l.conf:1:16: `else` without an `if` before it",
        ),
        (
            "filter { if [a] { } else { } else { } }",
            "l.conf:1:30: `else` without an `if` before it",
        ),
    ] {
        let error = refused(conf);
        assert!(error.starts_with(expected), "{conf}\n{error}");
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = |open: &str, close: &str, n: usize| {
        format!(
            "filter {{ kv {{ a => {}1{} }} }}",
            open.repeat(n),
            close.repeat(n)
        )
    };
    assert!(convert(&deep("[", "]", 64), "l.conf", &target()).is_ok());
    assert!(convert(&deep("{ ab => ", "}", 64), "l.conf", &target()).is_ok());
    for conf in [
        deep("[", "]", 65),
        deep("[", "]", 1_000_000),
        "filter { ".to_string() + &"if [a] { ".repeat(200_000),
    ] {
        let error = refused(&conf);
        assert!(error.contains("nested more than 64 deep"), "{error}");
    }
}

#[test]
fn two_filters_with_one_id_are_refused_as_logstash_refuses_them() {
    let error = refused(
        "filter {\n mutate { id => \"x\" }\n if [a] { drop { } }\n kv { id => [\"x\"] }\n}",
    );
    assert_eq!(
        error,
        "l.conf:4: two filters have the id `x` (the other at line 2), which Logstash refuses too"
    );
}

#[test]
fn more_filters_than_the_default_instance_bound_are_refused_before_any_toml() {
    let workers = crate::config::ServerSettings::default().workers;
    let most = crate::config::DEFAULT_MAX_FILTER_INSTANCES as usize;
    let filters = most / workers + 1;
    let conf = format!("filter {{\n{}}}", "mutate { }\n".repeat(filters));
    let error = refused(&conf);
    assert!(
        error.starts_with(&format!("l.conf: {filters} filter(s) in 1 pipeline(s)")),
        "{error}"
    );
    assert!(
        error.ends_with("import the logstash.conf in smaller parts"),
        "{error}"
    );
}

/// Logstash unescapes `\t` and the like only with config.support_escapes
/// on; the import keeps them, as its default does, and says where they are.
#[test]
fn backslash_sequences_are_kept_and_noted() {
    let conf = "filter {\n dissect { mapping => { \"message\" => \"%{a}\\t%{b}\" } }\n \
                mutate { add_tag => \"plain\" }\n mutate { gsub => [\"m\", \"\\\\\\\"\", \"'\"] }\n \
                mutate { add_tag => \"a\\0\" remove_tag => \"b\\n\" }\n}";
    let noted = imported(conf);
    let got = pipelines(&noted.toml);
    assert_eq!(got[0].1[0].1["mapping"]["message"], "%{a}\\t%{b}");
    assert_eq!(
        noted.notes,
        [
            "l.conf:2: 4 option(s) hold a backslash sequence (`\\t`, `\\n`, `\\\"`, ...), written as \
          Logstash reads them with its default config.support_escapes: false; if logstash.yml \
          turns that on, write the characters they stand for in the imported config (lines 2, 4, 5)"
        ]
    );
    assert!(
        imported("filter { mutate { add_tag => \"x\" } }")
            .notes
            .is_empty()
    );
}

#[test]
fn a_config_without_filters_to_move_is_refused() {
    for conf in ["input { stdin { } }", "# nothing\n", "filter { geoip { } }"] {
        let error = refused(conf);
        assert!(
            error.starts_with("l.conf: it has no filter to import"),
            "{error}"
        );
    }
}

#[test]
fn a_pipeline_name_the_config_refuses_is_refused() {
    let target = Target {
        pipeline: "../x",
        ..target()
    };
    let error = convert("filter { json { } }", "l.conf", &target)
        .err()
        .unwrap();
    assert!(error.contains("a pipeline name must be"), "{error}");
}

/// Logstash's pipeline-wide `pipeline.ecs_compatibility` lives in
/// logstash.yml, so the import takes it as an argument and gives it to
/// each grok that sets no mode of its own; without it, it says which
/// groks will run as v8.
#[test]
fn the_pipeline_ecs_mode_goes_to_each_grok_without_its_own() {
    let conf = r#"filter {
  grok { match => { "message" => "%{COMBINEDAPACHELOG}" } }
  grok { match => { "message" => "%{WORD:w}" } ecs_compatibility => "v1" }
  json { source => "message" }
}"#;
    let modes = |imported: &Imported| -> Vec<Value> {
        let (_, filters) = pipelines(&imported.toml).remove(0);
        (filters.iter())
            .map(|(_, config)| config.get("ecs_compatibility").cloned().unwrap_or_default())
            .collect()
    };
    let target = Target {
        ecs_compatibility: Some("disabled"),
        ..target()
    };
    let given = convert(conf, "l.conf", &target).unwrap();
    assert_eq!(
        modes(&given),
        [
            serde_json::json!("disabled"),
            serde_json::json!("v1"),
            Value::Null
        ]
    );
    assert_eq!(given.summary, "3 filters from l.conf into pipeline `main`");
    assert!(given.notes.is_empty());

    let unset = imported(conf);
    assert_eq!(
        modes(&unset),
        [Value::Null, serde_json::json!("v1"), Value::Null]
    );
    assert_eq!(
        unset.notes.first().map(String::as_str),
        Some(
            "1 grok filter(s) without an ecs_compatibility of their own will run with v8, \
             Logstash 8's default: if the Logstash pipeline sets pipeline.ecs_compatibility (in \
             logstash.yml or pipelines.yml; Logstash 7's default was disabled), import again \
             with --ecs-compatibility MODE"
        )
    );
}

#[test]
fn an_id_in_a_list_of_one_names_the_filter() {
    let got = pipelines(&imported(r#"filter { json { id => ["j1"] source => "m" } }"#).toml);
    assert_eq!(got[0].1[0].0, "j1");
}

/// A relative `patterns_dir` is read by Logstash from its working
/// directory; the import reads it from the current one and writes it
/// absolute, so the config it checked is the one it wrote, and says so.
#[test]
fn a_relative_patterns_dir_is_written_absolute_with_a_note() {
    let conf = r#"filter {
  grok {
    patterns_dir => ["./patterns", "/etc/patterns", "more/*.grok"]
    ecs_compatibility => "v8"
    match => { "message" => "%{WORD:w}" }
  }
}"#;
    let imported = imported(conf);
    let table: toml::Table = imported.toml.parse().unwrap();
    let grok = &table["pipelines"]["main"]["filters"][0]["config"];
    assert_eq!(
        grok["patterns_dir"],
        toml::Value::Array(vec![
            "/logstash/patterns".into(),
            "/etc/patterns".into(),
            "/logstash/more/*.grok".into()
        ])
    );
    assert_eq!(imported.notes.len(), 2, "{:?}", imported.notes);
    assert_eq!(
        imported.notes[0],
        "l.conf:3: grok's patterns_dir `./patterns` is written as `/logstash/patterns`, read from \
         the current directory (Logstash reads a relative path from its own working directory): \
         check that it names the pattern files meant"
    );
}

/// The operator's comments move with the filters: those inside a block,
/// and those between two moved filters, which the `wasm` call replaces.
#[test]
fn comments_move_with_their_filters() {
    let conf = "filter {
  # Apache lines
  grok { # the access log
    match => { \"message\" => \"%{COMBINEDAPACHELOG}\" } # ECS names
    ecs_compatibility => \"v8\"
  }
  # The request time becomes @timestamp.\r
  date { match => [\"timestamp\", \"dd/MMM/yyyy:HH:mm:ss Z\"] }
}";
    let imported = imported(conf);
    // The comments stand just above the filter they came with.
    let grok = imported
        .toml
        .find("# the access log\n# ECS names\n[[pipelines.main.filters]]\nfilter = \"grok\"");
    assert!(grok.is_some(), "{}", imported.toml);
    let date =
        "# The request time becomes @timestamp.\n[[pipelines.main.filters]]\nfilter = \"date\"";
    assert!(imported.toml.contains(date), "{}", imported.toml);
    // The run's first filter's leading comment goes with it, and stays in
    // logstash.conf too, where the `wasm` call comes after it.
    assert!(
        imported.toml.contains("# Apache lines\n# the access log\n"),
        "{}",
        imported.toml
    );
    assert!(imported.logstash.contains("# Apache lines"));
    assert_eq!(pipelines(&imported.toml)[0].1.len(), 2);
}
