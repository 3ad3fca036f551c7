//! Unit tests, one per semantic, plus the real Apache access log.

use super::*;
use wasmstash_sdk::NativeFilter;
use wasmstash_sdk::testing::{XorShift, mangle};

fn dissect(config: Value, event: Value) -> Value {
    let mut filter = Dissect::new(serde_json::from_value(config).unwrap()).unwrap();
    let input = event.to_string();
    let mut event = Event::parse(input.as_bytes()).unwrap();
    assert_eq!(filter.process(&mut event), Verdict::Keep);
    serde_json::from_str(&event.to_json()).unwrap()
}

fn on_message(pattern: &str, message: &str) -> Value {
    dissect(
        json!({"mapping": {"message": pattern}}),
        json!({"message": message}),
    )
}

fn init_error(config: Value) -> String {
    NativeFilter::<Dissect>::new(config.to_string().as_bytes()).expect_err("config must be refused")
}

#[test]
fn normal_fields_split_on_each_delimiter_and_the_last_takes_the_rest() {
    assert_eq!(
        on_message(
            "[%{occurred_at}] %{code} %{service} %{ic} %{svc_message}",
            "[25/05/16 09:10:38:425 BST] 00000001 SystemOut O java.lang:type=MemoryPool,name=class storage"
        ),
        json!({
            "message": "[25/05/16 09:10:38:425 BST] 00000001 SystemOut O java.lang:type=MemoryPool,name=class storage",
            "occurred_at": "25/05/16 09:10:38:425 BST", "code": "00000001", "service": "SystemOut",
            "ic": "O", "svc_message": "java.lang:type=MemoryPool,name=class storage"
        })
    );
}

#[test]
fn a_trailing_literal_ends_the_last_field() {
    let out = on_message("/var/%{key}/log/%{key1}.log", "/var/foobar/log/apache.log");
    assert_eq!(out["key"], "foobar");
    assert_eq!(out["key1"], "apache");
    assert_eq!(
        on_message("/var/%{key}", "/var/foobar/log")["key"],
        "foobar/log"
    );
}

#[test]
fn a_value_opening_with_the_first_delimiter_is_split_as_logstash_splits_it() {
    // Dissect 1.2 does not move past a delimiter found at the value's first
    // byte, so every field up to the last is empty and the last takes the
    // whole line (logstash-filter-dissect issues 68 and 72).
    let line = ",4321 Fifth Avenue,,,New York,87432";
    assert_eq!(
        on_message("%{name},%{addr1},%{addr2},%{addr3},%{city},%{zip}", line),
        json!({"message": line, "name": "", "addr1": "", "addr2": "", "addr3": "",
               "city": "", "zip": line})
    );
    let continuation = " at foo.Bar(Bar.java:1)";
    assert_eq!(
        on_message("%{level} %{class} %{msg}", continuation),
        json!({"message": continuation, "level": "", "class": "", "msg": continuation})
    );
    // A different delimiter next is searched for from the start again.
    assert_eq!(
        on_message("%{a},%{b} %{c}", ",x y"),
        json!({"message": ",x y", "a": "", "b": ",x", "c": "y"})
    );
    // Padding skips the repeats at the start, as Logstash's greedy search does.
    assert_eq!(
        on_message("%{a->},%{b}", ",,x"),
        json!({"message": ",,x", "a": "", "b": "x"})
    );
}

#[test]
fn the_opening_text_is_consumed_once() {
    assert_eq!(
        on_message("[%{a}] %{b}", "[[x] y"),
        json!({"message": "[[x] y", "a": "[x", "b": "y"})
    );
}

#[test]
fn append_joins_with_the_preceding_delimiter_in_declared_or_explicit_order() {
    let out = on_message("%{a} %{b} %{+a}", "1 2 3 go");
    assert_eq!((&out["a"], &out["b"]), (&json!("1 3 go"), &json!("2")));
    assert_eq!(
        on_message("%{+a/2} %{+a/1} %{+a/4} %{+a/3}", "1 2 3 go")["a"],
        "2 1 go 3"
    );
    assert_eq!(
        on_message("%{key}-%{+key}-%{+key}", "1-2-3")["key"],
        "1-2-3"
    );
    let syslog = on_message(
        "%{timestamp} %{+timestamp} %{+timestamp} %{logsource} %{} %{program}[%{pid}]: %{msg}",
        "Mar 16 00:01:25 evita skip-this postfix/smtpd[1713]: connect from camomile.cloud9.net[168.100.1.3]",
    );
    assert_eq!(syslog["timestamp"], "Mar 16 00:01:25");
    assert_eq!(syslog["program"], "postfix/smtpd");
    assert_eq!(syslog["pid"], "1713");
    assert_eq!(
        syslog["msg"],
        "connect from camomile.cloud9.net[168.100.1.3]"
    );
    assert!(syslog.get("tags").is_none());
}

#[test]
fn append_separator_replaces_the_pattern_delimiters() {
    let out = dissect(
        json!({"mapping": {"message": "%{+ts}-%{+ts}-%{+ts} %{rest}"}, "append_separator": "/"}),
        json!({"message": "2026-11-25 x"}),
    );
    assert_eq!(out["ts"], "2026/11/25");
}

#[test]
fn append_extends_a_field_that_existed_before() {
    let out = dissect(
        json!({"mapping": {"message": "%{+greeting} %{rest}"}}),
        json!({"message": "world and more", "greeting": "hello"}),
    );
    assert_eq!(out["greeting"], "hello world");
}

#[test]
fn skip_fields_are_not_stored() {
    assert_eq!(
        on_message("%{} %{key}", "hello world"),
        json!({"message": "hello world", "key": "world"})
    );
    assert_eq!(
        on_message("%{?first} %{key}", "hello world"),
        json!({"message": "hello world", "key": "world"})
    );
}

#[test]
fn indirect_fields_take_their_key_from_another_field() {
    assert_eq!(
        on_message("%{key} %{&key}", "hello world"),
        json!({"message": "hello world", "key": "hello", "hello": "world"})
    );
    assert_eq!(
        on_message("%{?key} %{&key}", "hello world"),
        json!({"message": "hello world", "hello": "world"})
    );
    assert_eq!(
        on_message(
            "error: %{?err}, %{&err}",
            "error: some_error, some_description"
        )["some_error"],
        "some_description"
    );
    // The key may come from a field the event already had.
    let out = dissect(
        json!({"mapping": {"message": "%{&name} %{rest}"}}),
        json!({"message": "42 more", "name": "answer"}),
    );
    assert_eq!(out["answer"], "42");
    // An empty key writes nothing.
    let out = on_message("%{?k}:%{&k}", ":v");
    assert_eq!(out, json!({"message": ":v"}));
}

#[test]
fn consecutive_delimiters_are_empty_fields_unless_padded() {
    let out = on_message(
        "%{name},%{addr1},%{addr2},%{addr3},%{city},%{zip}",
        "Jane Doe,4321 Fifth Avenue,,,New York,87432",
    );
    assert_eq!((&out["addr2"], &out["addr3"]), (&json!(""), &json!("")));
    assert_eq!(out["city"], "New York");
    let right = on_message(
        "%{id} %{function->} %{server}",
        "00000043 ViewReceive     machine-321",
    );
    assert_eq!(
        (&right["function"], &right["server"]),
        (&json!("ViewReceive"), &json!("machine-321"))
    );
    let left = on_message(
        "%{id->} %{function} %{server}",
        "00000043    ViewReceive machine-321",
    );
    assert_eq!(
        (&left["id"], &left["function"]),
        (&json!("00000043"), &json!("ViewReceive"))
    );
    // Without `->`, the padding is data: the next field is empty.
    let unpadded = on_message("%{id} %{function} %{server}", "00000043  ViewReceive x");
    assert_eq!(unpadded["function"], "");
    assert_eq!(unpadded["server"], "ViewReceive x");
}

#[test]
fn multibyte_delimiters() {
    let out = on_message(
        "[%{occurred_at}]྿྿྿%{code}྿%{service}྿྿྿྿%{?ic}=%{&ic}%྿྿%{svc_message}",
        "[25/05/16 09:10:38:425 BST]྿྿྿00000001྿SystemOut྿྿྿྿cpu=95.43%྿྿java.lang:type=MemoryPool",
    );
    assert_eq!(out["code"], "00000001");
    assert_eq!(out["service"], "SystemOut");
    assert_eq!(out["cpu"], "95.43");
    assert_eq!(out["svc_message"], "java.lang:type=MemoryPool");
}

#[test]
fn nested_field_references_as_sources_and_targets() {
    let out = dissect(
        json!({"mapping": {"[log][line]": "%{[source][ip]} %{[http][request][method]} %{[url][original]}"}}),
        json!({"log": {"line": "10.0.0.1 GET /index.html"}}),
    );
    assert_eq!(out["source"]["ip"], "10.0.0.1");
    assert_eq!(out["http"]["request"]["method"], "GET");
    assert_eq!(out["url"]["original"], "/index.html");
}

#[test]
fn mappings_apply_in_order_and_may_dissect_earlier_results() {
    let out = dissect(
        json!({"mapping": {
            "message": "%{field1} %{field2} %{description}",
            "description": "%{field3} %{field4} %{field5}"
        }}),
        json!({"message": "a b c d e"}),
    );
    assert_eq!(out["description"], "c d e");
    assert_eq!(out["field5"], "e");
}

#[test]
fn convert_datatype_to_int_and_float() {
    let out = dissect(
        json!({
            "mapping": {"message": "[%{occurred_at}] %{code} %{service} %{?ic}=%{&ic}% %{svc_message}"},
            "convert_datatype": {"cpu": "float", "code": "int"}
        }),
        json!({"message": "[25/05/16 09:10:38:425 BST] 00000001 SystemOut cpu=95.43% java.lang"}),
    );
    assert_eq!(out["code"], json!(1));
    assert_eq!(out["cpu"], json!(95.43));
    // BigDecimal has no negative zero.
    for zero in ["-0", "-0.0", "-0e5"] {
        let out = dissect(
            json!({"mapping": {"message": "%{z}"}, "convert_datatype": {"z": "float"}}),
            json!({ "message": zero }),
        );
        assert_eq!(out["z"].to_string(), "0.0", "{zero}");
    }
}

#[test]
fn failed_conversions_are_tagged_like_logstash() {
    let out = dissect(
        json!({
            "mapping": {"message": "%{code} %{rest}"},
            "convert_datatype": {"missing": "float", "code": "int", "other": "int"}
        }),
        json!({"message": "12x x", "other": {}}),
    );
    assert_eq!(out["code"], "12x");
    assert_eq!(
        out["tags"],
        json!([
            "_dataconversionnullvalue_missing_float",
            "_dataconversionuncoercible_code_int",
            "_dataconversionuncoercible_other_int"
        ])
    );
}

#[test]
fn a_line_that_does_not_fit_is_tagged_and_left_unchanged() {
    let message = "no brackets here at all";
    assert_eq!(
        on_message("%{a} [%{b}] %{c}", message),
        json!({"message": message, "tags": ["_dissectfailure"]})
    );
    // A missing prefix is a failure too.
    assert_eq!(
        on_message("<%{pri}>%{rest}", "plain")["tags"],
        json!(["_dissectfailure"])
    );
    // A missing trailing literal as well.
    assert_eq!(
        on_message("%{a}.log", "file.txt")["tags"],
        json!(["_dissectfailure"])
    );
    // No partial writes: `a` would have matched, but `c`'s delimiter is missing.
    let out = on_message("%{a} %{b}|%{c}", "x y z");
    assert!(out.get("a").is_none(), "{out}");
    let custom = dissect(
        json!({"mapping": {"message": "%{a}|%{b}"}, "tag_on_failure": ["bad", "worse"]}),
        json!({"message": "x", "tags": "old"}),
    );
    assert_eq!(custom["tags"], json!(["old", "bad", "worse"]));
}

#[test]
fn missing_sources_are_skipped_and_objects_fail() {
    assert_eq!(
        dissect(
            json!({"mapping": {"nope": "%{a} %{b}"}}),
            json!({"message": "x y"})
        ),
        json!({"message": "x y"})
    );
    assert_eq!(
        dissect(
            json!({"mapping": {"message": "%{a} %{b}"}}),
            json!({"message": {"x": 1}})
        )["tags"],
        json!(["_dissectfailure"])
    );
    assert_eq!(
        dissect(
            json!({"mapping": {"n": "%{int}.%{frac}"}}),
            json!({"n": 3.25})
        )["frac"],
        "25"
    );
}

#[test]
fn invalid_configs_are_explained() {
    let err = init_error(json!({"mapping": {"message": "%{a}%{b}"}}));
    assert!(
        err.contains("mapping `message`") && err.contains("no delimiter"),
        "{err}"
    );
    let err = init_error(json!({"mapping": {"message": "%{+&a}"}}));
    assert!(err.contains("one prefix"), "{err}");
    let err = init_error(json!({"convert_datatype": {"a": "integer"}}));
    assert!(err.contains("expected \"int\" or \"float\""), "{err}");
    let err = init_error(json!({"mapping": {"message": 3}}));
    assert!(err.contains("must be a string"), "{err}");
    let err = init_error(json!({}));
    assert!(err.contains("nothing to do"), "{err}");
    let err = init_error(json!({"mapping": {"message": "%{a}"}, "tag_on_failur": []}));
    assert!(err.contains("unknown field `tag_on_failur`"), "{err}");
    // A field one level deeper than an event may hold; one level less loads.
    let deep = |levels: usize| format!("%{{{}}} %{{b}}", "[a]".repeat(levels));
    let err = init_error(json!({"mapping": {"message": deep(128)}}));
    assert!(err.contains("128 segments deep"), "{err}");
    assert!(
        NativeFilter::<Dissect>::new(
            json!({"mapping": {"message": deep(127)}})
                .to_string()
                .as_bytes()
        )
        .is_ok()
    );
}

/// The combined-log layout as a dissect pattern, legacy field names.
pub const APACHE_COMBINED: &str = r#"%{clientip} %{ident} %{auth} [%{timestamp}] "%{verb} %{request} HTTP/%{httpversion}" %{response} %{bytes} "%{referrer}" "%{agent}""#;

fn apache_lines() -> Vec<String> {
    let path = wasmstash_sdk::crate_dir!().join("../../../shared/data/access/apache_logs");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        let path = path.display();
        panic!("test data missing: {path}: {e} (see ../shared/data/README.md)")
    });
    text.lines().map(str::to_owned).collect()
}

#[test]
fn the_real_access_log_dissects_and_no_event_is_lost() {
    let lines = apache_lines();
    assert_eq!(lines.len(), 10_000);
    let config =
        json!({"mapping": {"message": APACHE_COMBINED}, "convert_datatype": {"response": "int"}});
    let mut filter = NativeFilter::<Dissect>::new(config.to_string().as_bytes()).unwrap();
    let events: Vec<Vec<u8>> = lines
        .iter()
        .map(|l| serde_json::to_vec(&json!({"message": l})).unwrap())
        .collect();
    let (mut parsed, mut tagged) = (Vec::new(), Vec::new());
    for chunk in events.chunks(125) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        let outcomes = filter.process_events(&refs);
        assert_eq!(outcomes.len(), chunk.len());
        for outcome in outcomes {
            let event: Value = outcome.into_value();
            if event.get("tags").is_some() {
                // The conversion runs after a failed mapping too, as in
                // Logstash, and finds no `response`.
                assert_eq!(
                    event["tags"],
                    json!(["_dissectfailure", "_dataconversionnullvalue_response_int"])
                );
                assert!(event.get("clientip").is_none());
                tagged.push(event);
            } else {
                parsed.push(event);
            }
        }
    }
    assert_eq!(parsed.len() + tagged.len(), 10_000);
    let first = &parsed[0];
    assert_eq!(first["clientip"], "83.149.9.216");
    assert_eq!(first["timestamp"], "17/May/2015:10:05:03 +0000");
    assert_eq!(first["verb"], "GET");
    assert_eq!(
        first["request"],
        "/presentations/logstash-monitorama-2013/images/kibana-search.png"
    );
    assert_eq!(first["httpversion"], "1.1");
    assert_eq!(first["response"], json!(200));
    assert_eq!(first["bytes"], "203023");
    assert!(
        first["agent"]
            .as_str()
            .unwrap()
            .starts_with("Mozilla/5.0 (Macintosh")
    );
    // Every parsed line has a numeric status and an agent without its quotes.
    for event in &parsed {
        assert!(event["response"].is_u64(), "{event}");
        assert!(!event["agent"].as_str().unwrap().ends_with('"'), "{event}");
    }
    // Exactly one line does not fit: line 8,899, whose user agent lacks its
    // closing quote (grok's COMBINEDAPACHELOG refuses the same line).
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0]["message"], lines[8_898].as_str());
}

#[test]
fn truncated_and_garbage_access_lines_are_tagged_never_dropped() {
    let lines = apache_lines();
    let config = json!({"mapping": {"message": APACHE_COMBINED}});
    let mut malformed: Vec<String> = lines
        .iter()
        .take(200)
        // Cut each real line before its last quote: the agent never closes.
        .map(|l| l[..l.rfind('"').unwrap()].to_owned())
        .collect();
    malformed.extend(
        [
            "",
            "-",
            "\u{0}\u{1}",
            "83.149.9.216 - - [17/May/2015",
            "\"\"\"\"\"\"",
        ]
        .map(String::from),
    );
    for message in &malformed {
        let out = dissect(config.clone(), json!({"message": message}));
        assert_eq!(
            out,
            json!({"message": message, "tags": ["_dissectfailure"]}),
            "{message:?}"
        );
    }
}

#[test]
fn nested_targets_merge_into_objects_the_event_already_has() {
    let out = dissect(
        json!({"mapping": {"message": "%{[http][version]} %{[http][request][method]} %{[host][name]}"},
               "convert_datatype": {"[http][version]": "float"}}),
        json!({"message": "1.1 GET web", "http": {"request": {"id": "r1"}}}),
    );
    assert_eq!(
        out,
        json!({"message": "1.1 GET web",
               "http": {"request": {"id": "r1", "method": "GET"}, "version": 1.1},
               "host": {"name": "web"}})
    );
}

#[test]
fn with_several_mappings_conversion_waits_for_all_of_them() {
    let config = json!({
        "mapping": {"message": "%{n} %{rest}", "rest": "%{a}|%{b}"},
        "convert_datatype": {"n": "int"},
    });
    let ok = dissect(config.clone(), json!({"message": "7 x|y"}));
    assert_eq!((&ok["n"], &ok["b"]), (&json!(7), &json!("y")));
    // The second mapping fails: it is tagged, and `n` is still converted,
    // as in Logstash, which runs the conversions whatever the mappings did.
    let failed = dissect(config, json!({"message": "7 xy"}));
    assert_eq!(failed["n"], 7);
    assert_eq!(failed["tags"], json!(["_dissectfailure"]));
}

#[test]
fn each_mapping_stands_alone_and_each_that_fits_runs_the_common_options() {
    let config = json!({
        "mapping": {"message": "%{a} %{b}", "other": "%{c}-%{d}", "empty": "%{e}"},
        "convert_datatype": {"n": "int"},
        "add_tag": ["fit-%{c}"],
    });
    let out = dissect(
        config.clone(),
        json!({"message": "nospace", "other": "x-y", "n": "5", "empty": ""}),
    );
    assert_eq!(
        out,
        json!({"message": "nospace", "other": "x-y", "n": 5, "empty": "",
               "tags": ["_dissectfailure", "fit-x"], "c": "x", "d": "y"})
    );
    // A null source reads as empty, which Logstash tags; `n` is missing,
    // so its conversion is tagged too.
    let out = dissect(config, json!({"message": "p q", "empty": null}));
    assert_eq!(
        out["tags"],
        json!([
            "fit-%{c}",
            "_dissectfailure",
            "_dataconversionnullvalue_n_int"
        ])
    );
}

#[test]
fn int_reads_a_decimal_as_logstash_does() {
    for (text, expected) in [
        ("42", "42"),
        ("-2.9", "-2"),
        ("1e3", "1000"),
        ("1.5E1", "15"),
        ("+7", "7"),
        ("0.5", "0"),
        ("-007.9", "-7"),
        ("18446744073709551615", "18446744073709551615"),
        ("99999999999999999999", "99999999999999999999"),
        ("-1.5e25", "-15000000000000000000000000"),
    ] {
        let out = dissect(
            json!({"convert_datatype": {"v": "int"}}),
            json!({"v": text}),
        );
        assert_eq!(out["v"].to_string(), expected, "{text}");
    }
    for text in [" 1", "1 ", "1e", "e3", ".", "-", "0x10", "1,5", "1e400"] {
        let out = dissect(
            json!({"convert_datatype": {"v": "int", "w": "float"}}),
            json!({"v": text, "w": text}),
        );
        assert_eq!(
            out["tags"],
            json!([
                "_dataconversionuncoercible_v_int",
                "_dataconversionuncoercible_w_float"
            ]),
            "{text}"
        );
    }
}

/// Real lines with characters deleted, repeated, swapped for delimiters or
/// cut off: every one comes back, parsed or tagged, and nothing panics.
#[test]
fn mangled_real_lines_never_panic_and_always_come_back() {
    let lines = apache_lines();
    let specials: Vec<char> = "\" []-/:.%{}é\\".chars().collect();
    let configs = [
        json!({"mapping": {"message": APACHE_COMBINED}, "convert_datatype": {"response": "int", "bytes": "float"}}),
        json!({"mapping": {"message": "%{a->} [%{+a/2}] \"%{?k} %{&k}\" %{[n][x]}"}}),
        json!({"mapping": {"message": "%{} - %{+b} %{+b}"}, "append_separator": "|"}),
    ];
    let mut rng = XorShift(0x05ee_dd15_5ec7);
    let mut filters: Vec<Dissect> = configs
        .iter()
        .map(|c| Dissect::new(serde_json::from_value(c.clone()).unwrap()).unwrap())
        .collect();
    for case in 0..20_000 {
        let line = &lines[rng.below(lines.len())];
        let message = mangle(&mut rng, line, &specials);
        let input = json!({"message": message}).to_string();
        let filter = &mut filters[case % configs.len()];
        let mut event = Event::parse(input.as_bytes()).unwrap();
        assert_eq!(filter.process(&mut event), Verdict::Keep, "{message:?}");
        let out: Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(out["message"], message.as_str());
    }
}

/// From Logstash's dissect fixtures: a multi-line message whose last field
/// overwrites the source field itself.
#[test]
fn the_last_field_may_overwrite_the_source_and_keeps_newlines() {
    let message = "18-Apr-2018 06:53:20.411 INFO [http-nio-8080-exec-1] org.apache.coyote.http11.Http11Processor.service Error parsing HTTP request header\n Note: further occurrences\n    at java.lang.Thread.run(Thread.java:748)";
    let out = on_message(
        "%{day}-%{month}-%{year} %{hour} %{severity} [%{thread_id}] %{origin} %{message}",
        message,
    );
    assert_eq!(
        out,
        json!({
            "message": "Error parsing HTTP request header\n Note: further occurrences\n    at java.lang.Thread.run(Thread.java:748)",
            "day": "18", "month": "Apr", "year": "2018", "hour": "06:53:20.411", "severity": "INFO",
            "thread_id": "http-nio-8080-exec-1", "origin": "org.apache.coyote.http11.Http11Processor.service"
        })
    );
}

/// Hash options as logstash.conf's flat lists: `mapping => ["message", "..."]`.
#[test]
fn hash_options_may_be_flat_lists() {
    let config = json!({"mapping": ["message", "%{a} %{b}"], "convert_datatype": ["b", "int"]});
    let out = dissect(config, json!({"message": "x 5"}));
    assert_eq!((&out["a"], &out["b"]), (&json!("x"), &json!(5)));
}

mod conversions;
mod logged;
mod logstash_parsing;
mod refused_sets;
