use super::*;

fn imported(conf: &str) -> String {
    match convert(conf, "l.conf", "main") {
        Ok(imported) => imported.toml,
        Err(e) => panic!("{e}"),
    }
}

fn refused(conf: &str) -> String {
    match convert(conf, "l.conf", "main") {
        Ok(imported) => panic!("imported:\n{}", imported.toml),
        Err(e) => e,
    }
}

/// The filters' configs as the pipeline loader reads them back.
fn configs(toml: &str) -> Vec<(String, Value)> {
    let config = crate::config::Config::parse(toml, Path::new("i.toml")).unwrap();
    config.pipelines["main"]
        .iter()
        .map(|spec| {
            let name = spec.name.clone();
            (name, serde_json::from_slice(&spec.config_json).unwrap())
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
    match => { "message" => "%{IPORHOST:client} \"%{WORD:verb} \[%{DATA:x}\]" }
    break_on_match => false   # a comment
    overwrite => [ "message" ]
    timeout_millis => 2500
    add_field => { "[@metadata][index]" => "app-%{+YYYY.MM.dd}", "n" => "1.5" }
  }
  date { match => [ 'timestamp', 'dd/MMM/yyyy:HH:mm:ss Z' ] keep_empty => "true" }
  mutate { remove_field => message }
}
output { elasticsearch { hosts => ["http://es:9200"] } }
"#;
    let toml = imported(conf);
    let got = configs(&toml);
    assert_eq!(got.len(), 3, "{toml}");
    assert_eq!(got[0].0, "grok");
    assert_eq!(
        got[0].1,
        serde_json::json!({
            // The backslashes are the pattern's, as Logstash keeps them.
            "match": {"message": r#"%{IPORHOST:client} \"%{WORD:verb} \[%{DATA:x}\]"#},
            "break_on_match": false,
            "overwrite": ["message"],
            "timeout_millis": 2500,
            "add_field": {"[@metadata][index]": "app-%{+YYYY.MM.dd}", "n": "1.5"},
        })
    );
    assert_eq!(
        got[1].1,
        serde_json::json!({"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"], "keep_empty": true})
    );
    assert_eq!(got[2].1, serde_json::json!({"remove_field": "message"}));
    assert!(toml.contains(r#"pipeline => "main""#), "{toml}");
}

#[test]
fn the_summary_counts_what_moved_and_names_what_stays() {
    let conf = "input { stdin {} }\nfilter { json { source => \"message\" } }";
    let imported = convert(conf, "l.conf", "app").unwrap();
    assert_eq!(
        imported.summary,
        "1 filter from l.conf (json) into pipeline `app`; its input sections stay in Logstash"
    );
}

#[test]
fn every_filter_section_counts_in_order() {
    let conf = "filter { kv { } }\noutput { stdout {} }\nfilter { dissect { mapping => { \"message\" => \"%{a} %{b}\" } } }";
    let got = configs(&imported(conf));
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["kv", "dissect"]);
    assert_eq!(got[0].1, serde_json::json!({}));
}

#[test]
fn what_cannot_move_is_listed_whole_with_lines() {
    let conf = r#"filter {
  geoip { source => "client" }
  if [type] == "apache" and [path] =~ /access{1}/ {
    grok { match => { "message" => "%{COMBINEDAPACHELOG}" } }
    ruby { code => "event.set('a', 1)" }
  } else if "x" in [tags] {
  } else {
    mutate { add_tag => "a" add_tag => "b" }
  }
}"#;
    let error = refused(conf);
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 6, "{error}");
    assert!(
        lines[0].starts_with("l.conf:2: `geoip` has no wasmstash built-in"),
        "{error}"
    );
    assert!(lines[1].starts_with("l.conf:3: a conditional"), "{error}");
    assert!(lines[2].starts_with("l.conf:5: `ruby` has no"), "{error}");
    assert!(lines[3].starts_with("l.conf:6: a conditional"), "{error}");
    assert!(lines[4].starts_with("l.conf:7: a conditional"), "{error}");
    assert_eq!(
        lines[5],
        "l.conf:8: `add_tag` is given twice in `mutate` (also at line 8); write it once"
    );
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
            "filter { kv { a => [1 2] } }",
            "l.conf:1:23: expected `,`, found `2`",
        ),
    ] {
        let error = refused(conf);
        assert!(error.starts_with(expected), "{conf}\n{error}");
    }
}

#[test]
fn a_config_without_filters_is_refused() {
    assert_eq!(
        refused("input { stdin { } }"),
        "l.conf:it has no filter to import"
    );
    assert_eq!(refused("# nothing\n"), "l.conf:it has no filter to import");
}

#[test]
fn a_pipeline_name_the_config_refuses_is_refused() {
    let error = convert("filter { json { } }", "l.conf", "../x")
        .err()
        .unwrap();
    assert!(error.contains("a pipeline name must be"), "{error}");
}
