//! The filter as a whole, and the real Loghub sets (Linux, OpenSSH,
//! Thunderbird) through syslog and then date, checked against Loghub's own
//! header columns.

use super::*;
use wasmstash_filter_date::Date;
use wasmstash_sdk::NativeFilter;
use wasmstash_sdk::testing::XorShift;

fn filter(config: Value) -> Syslog {
    Syslog::new(serde_json::from_value(config).unwrap()).unwrap()
}

fn run(config: Value, line: &str) -> Value {
    let mut event_json = serde_json::to_vec(&json!({"message": line})).unwrap();
    let mut event = Event::parse(&event_json).unwrap();
    assert_eq!(filter(config).process(&mut event), Verdict::Keep);
    event_json = event.to_json().into_bytes();
    serde_json::from_slice(&event_json).unwrap()
}

#[test]
fn rfc3164_with_priority_to_ecs() {
    let out = run(
        json!({}),
        "<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick",
    );
    assert_eq!(
        out,
        json!({
            "message": "'su root' failed for lonvick",
            "event": {"original": "<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick"},
            "log": {"syslog": {
                "priority": 34,
                "facility": {"code": 4, "name": "security/authorization"},
                "severity": {"code": 2, "name": "critical"},
                "hostname": "mymachine",
                "appname": "su",
                "procid": "230",
            }},
            "host": {"hostname": "mymachine"},
            "process": {"name": "su", "pid": 230},
            "timestamp": "Oct 11 22:14:15",
        })
    );
}

#[test]
fn rfc5424_with_structured_data_to_ecs() {
    let line = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog worker-7 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] \u{feff}An application event";
    let out = run(json!({"keep_original": false}), line);
    assert_eq!(
        out,
        json!({
            "message": "An application event",
            "log": {"syslog": {
                "priority": 165,
                "facility": {"code": 20, "name": "local4"},
                "severity": {"code": 5, "name": "notice"},
                "version": "1",
                "msgid": "ID47",
                "structured_data": {"exampleSDID@32473": {"iut": "3", "eventSource": "Application"}},
                "hostname": "mymachine.example.com",
                "appname": "evntslog",
                "procid": "worker-7",
            }},
            "host": {"hostname": "mymachine.example.com"},
            "process": {"name": "evntslog"},
            "timestamp": "2003-10-11T22:14:15.003Z",
        })
    );
}

#[test]
fn rfc5424_and_iso_timestamps_become_timestamp_through_date() {
    let lines = [
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed",
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time",
        "2019-03-01T10:00:00.123456+01:00 web-1 nginx[12]: GET /",
        "<13>1 - host app - - - no time at all",
    ];
    let events = syslog_then_date(&lines, "UTC", JUNE_2005);
    let stamps: Vec<&Value> = events.iter().map(|e| &e["@timestamp"]).collect();
    assert_eq!(
        stamps,
        [
            &json!("2003-10-11T22:14:15.003Z"),
            &json!("2003-08-24T12:14:15.000Z"),
            &json!("2019-03-01T09:00:00.123Z"),
            &Value::Null,
        ]
    );
    assert!(events.iter().all(|e| e.get("tags").is_none()));
    assert_eq!(events[1]["process"]["pid"], 8710);
}

#[test]
fn malformed_lines_are_tagged_and_left_as_they_were() {
    for line in [
        "<999>Oct 11 22:14:15 host app: x",
        "<01>Oct 11 22:14:15 host app: x",
        "<00>Oct 11 22:14:15 host app: x",
        "<001>1 2024-01-01T00:00:00Z h a - - - x",
        "<13>Oct 41 22:14:15 host app: bad day",
        "<13>Oct 11 99:99:99 host app: bad clock",
        "<13>1 2024-02-30T00:00:00Z h app 1 m - msg",
        "<13>1 - h app - - [abcdefghijklmnopqrstuvwxyz0123456] msg",
        "<13>1 2003-10-11T22:14:15Z host app - - [broken",
        "just some text",
        "",
    ] {
        let out = run(json!({}), line);
        assert_eq!(
            out,
            json!({"message": line, "tags": ["_syslogparsefailure"]}),
            "{line}"
        );
    }
    let out = run(
        json!({"tag_on_failure": ["nope"], "source": "[raw][line]"}),
        "x",
    );
    assert_eq!(
        out,
        json!({"message": "x"}),
        "a missing source is not a failure"
    );
    // One tag may be given alone, as in Logstash and the other filters.
    assert_eq!(
        run(json!({"tag_on_failure": "bad"}), "not syslog"),
        json!({"message": "not syslog", "tags": ["bad"]})
    );
    let mut event = Event::parse(br#"{"message":42}"#).unwrap();
    filter(json!({})).process(&mut event);
    assert_eq!(
        event.to_json(),
        r#"{"message":42,"tags":["_syslogparsefailure"]}"#
    );
}

/// Logstash's `SYSLOGLINE` sets no host for these and keeps all the text
/// after the time as the message; an IPv6 address ending in `::` is a host.
#[test]
fn a_word_no_host_could_be_is_not_the_host() {
    for (line, message) in [
        (
            "<13>Oct 11 22:14:15 app[abc]: nonnum pid no host",
            "app[abc]: nonnum pid no host",
        ),
        (
            "<13>Oct 11 22:14:15 [12345.678] usb 1-1: new device",
            "[12345.678] usb 1-1: new device",
        ),
    ] {
        let out = run(json!({"keep_original": false}), line);
        assert_eq!(out["message"], message, "{line}");
        assert_eq!(out["host"], Value::Null, "{line}");
        assert_eq!(out["process"], Value::Null, "{line}");
        assert_eq!(out["log"]["syslog"]["priority"], 13, "{line}");
    }
    let out = run(json!({}), "<13>Oct 11 22:14:15 fe80:: app[5]: x");
    assert_eq!(out["host"]["hostname"], "fe80::");
    assert_eq!(out["process"], json!({"name": "app", "pid": 5}));
}

#[test]
fn a_procid_is_a_pid_only_when_it_is_digits() {
    for (procid, pid) in [
        ("8710", json!(8710)),
        ("007", json!(7)),
        ("-5", Value::Null),
    ] {
        let out = run(json!({}), &format!("<13>1 - h app {procid} - - x"));
        assert_eq!(out["log"]["syslog"]["procid"], procid);
        assert_eq!(out["process"]["pid"], pid, "{procid}");
    }
}

/// Logstash's event refuses to set a field under a string (a legacy-mode
/// syslog input puts the sender's address in `host`), so the line is
/// tagged and nothing is set, rather than the address being overwritten.
#[test]
fn a_string_in_the_way_leaves_the_event_as_it_was() {
    let line = "<13>Oct 11 22:14:15 h app[5]: x";
    for existing in [
        json!({"host": "10.0.0.1"}),
        json!({"process": 7}),
        json!({"log": "file"}),
        json!({"event": true}),
        json!({"process": ["a"]}),
    ] {
        let mut input = existing.clone();
        input["message"] = json!(line);
        let text = serde_json::to_vec(&input).unwrap();
        let mut event = Event::parse(&text).unwrap();
        filter(json!({})).process(&mut event);
        let mut expected = input.clone();
        expected["tags"] = json!(["_syslogparsefailure"]);
        assert_eq!(
            serde_json::from_str::<Value>(&event.to_json()).unwrap(),
            expected
        );
    }
    // An object there is stepped into, as always.
    let mut event =
        Event::parse(br#"{"message":"<13>Oct 11 22:14:15 h app[5]: x","host":{"ip":"10.0.0.1"}}"#)
            .unwrap();
    filter(json!({})).process(&mut event);
    let out: Value = serde_json::from_str(&event.to_json()).unwrap();
    assert_eq!(out["host"], json!({"ip": "10.0.0.1", "hostname": "h"}));
}

#[test]
fn options_source_labels_and_an_existing_original() {
    let mut event =
        Event::parse(br#"{"raw":"<13>Jan  5 01:02:03 h app: hi","event":{"original":"kept"}}"#)
            .unwrap();
    let config = json!({
        "source": "raw",
        "severity_labels": ["EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG"],
    });
    filter(config).process(&mut event);
    let out: Value = serde_json::from_str(&event.to_json()).unwrap();
    assert_eq!(out["event"]["original"], "kept");
    assert_eq!(out["log"]["syslog"]["severity"]["name"], "NOTICE");
    assert_eq!(out["message"], "hi");
    assert_eq!(out["timestamp"], "Jan  5 01:02:03");

    let err = NativeFilter::<Syslog>::new(br#"{"facility_labels":["a"]}"#)
        .err()
        .unwrap();
    assert!(err.contains("exactly 24 labels"), "{err}");
    let err = NativeFilter::<Syslog>::new(br#"{"sorce":"x"}"#)
        .err()
        .unwrap();
    assert!(err.contains("unknown field `sorce`"), "{err}");
}

// ---- Real lines: Loghub, against its header columns ----

fn loghub(dataset: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let dir = wasmstash_sdk::crate_dir!().join("../../../shared/data/loghub");
    assert!(
        dir.is_dir(),
        "test data missing: expected the shared data folder at {} (see the README)",
        dir.display()
    );
    let read = |file: String| {
        let path = dir.join(dataset).join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    };
    let lines: Vec<String> = read(format!("{dataset}_2k.log"))
        .lines()
        .map(str::to_owned)
        .collect();
    let rows: Vec<Vec<String>> = read(format!("{dataset}_2k.log_structured_corrected.csv"))
        .lines()
        .skip(1)
        .map(csv_row)
        .collect();
    assert_eq!((lines.len(), rows.len()), (2000, 2000), "{dataset} changed");
    (lines, rows)
}

/// One CSV record (Loghub quotes fields holding commas; `""` is a quote).
fn csv_row(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// Runs syslog then date (natively) over `lines`, with the clock at `now`.
fn syslog_then_date(lines: &[&str], timezone: &str, now_millis: i64) -> Vec<Value> {
    let mut syslog = filter(json!({"keep_original": false}));
    let date = Date::new(
        serde_json::from_value(json!({
            "match": ["timestamp", "MMM d HH:mm:ss", "MMM  d HH:mm:ss", "ISO8601"],
            "timezone": timezone,
        }))
        .unwrap(),
    )
    .unwrap();
    lines
        .iter()
        .map(|line| {
            let input = serde_json::to_vec(&json!({"message": line})).unwrap();
            let mut event = Event::parse(&input).unwrap();
            syslog.process(&mut event);
            date.process_at(&mut event, now_millis);
            serde_json::from_str(&event.to_json()).unwrap()
        })
        .collect()
}

/// The header fields of one result, as Loghub writes them.
fn header_of(event: &Value) -> (String, String, String, String) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let pid = event["process"]["pid"]
        .as_i64()
        .map(|p| p.to_string())
        .unwrap_or_default();
    (
        text(&event["host"]["hostname"]),
        text(&event["process"]["name"]),
        pid,
        text(&event["message"]).trim().to_owned(),
    )
}

/// Loghub writes PIDs as floats (`19939.0`) in some sets.
fn loghub_pid(pid: &str) -> String {
    pid.strip_suffix(".0").unwrap_or(pid).to_owned()
}

const JUNE_2005: i64 = 1_118_620_800_000; // 2005-06-13T00:00:00Z

#[test]
fn loghub_linux_lines_match_the_ground_truth_headers() {
    let (lines, rows) = loghub("Linux");
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let events = syslog_then_date(&refs, "UTC", JUNE_2005);
    let mut differing = Vec::new();
    for (i, (event, row)) in events.iter().zip(&rows).enumerate() {
        assert!(event.get("tags").is_none(), "line {}: {event}", i + 1);
        // Month, Date, Time, Level (the host), Component, PID, Content.
        let expected = (
            row[4].clone(),
            row[5].clone(),
            loghub_pid(&row[6]),
            row[7].trim().to_owned(),
        );
        if header_of(event) != expected {
            differing.push((i + 1, row[5].clone()));
        }
        let day: u32 = row[2].parse().unwrap();
        let stamp = event["@timestamp"].as_str().unwrap();
        assert!(stamp.starts_with("2005-"), "{stamp}");
        assert!(
            stamp.contains(&format!("-{day:02}T{}.000Z", row[3])),
            "line {}: {stamp}",
            i + 1
        );
    }
    // Loghub counts `syslogd 1.4.1` and `-- root` as components; a syslog
    // tag cannot hold a space, so those lines are kept whole as the message,
    // with no process.
    assert!(
        differing.iter().all(|(_, c)| c.contains(' ')),
        "{differing:?}"
    );
    assert_eq!(differing.len(), 8, "{differing:?}");
}

#[test]
fn loghub_openssh_lines_match_the_ground_truth_headers() {
    let (lines, rows) = loghub("OpenSSH");
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let events = syslog_then_date(&refs, "UTC", JUNE_2005);
    for (i, (event, row)) in events.iter().zip(&rows).enumerate() {
        // Date (the month), Day, Time, Component (the host), Pid, Content.
        let expected = (
            row[4].clone(),
            "sshd".to_owned(),
            row[5].clone(),
            row[6].trim().to_owned(),
        );
        assert_eq!(header_of(event), expected, "line {}", i + 1);
        assert!(
            event["@timestamp"].as_str().unwrap().contains(&row[3]),
            "line {}",
            i + 1
        );
    }
}

#[test]
fn loghub_thunderbird_times_agree_with_its_epoch_column() {
    // Each Thunderbird line is `Label Epoch Date Node ` then a syslog line
    // written in the cluster's local time (US Pacific).
    let (lines, rows) = loghub("Thunderbird");
    let syslog_parts: Vec<&str> = lines
        .iter()
        .map(|l| l.splitn(5, ' ').nth(4).expect("five columns"))
        .collect();
    let november_2005 = 1_131_580_800_000; // 2005-11-10T00:00:00Z
    let events = syslog_then_date(&syslog_parts, "America/Los_Angeles", november_2005);
    let (mut differing, mut same_instant) = (Vec::new(), 0);
    for (event, row) in events.iter().zip(&rows) {
        assert!(event.get("tags").is_none(), "{event}");
        // Location (the host), Component, PID, Content.
        let expected = (
            row[8].clone(),
            row[9].clone(),
            loghub_pid(&row[10]),
            row[11].trim().to_owned(),
        );
        if header_of(event) != expected {
            differing.push(row[9].clone());
        }
        let epoch: i64 = row[2].parse().unwrap();
        let expected_stamp = wasmstash_filter_date::format_timestamp(epoch * 1000);
        same_instant += usize::from(event["@timestamp"] == expected_stamp.as_str());
    }
    // Loghub counts phrases such as `IA32 emulation $Id` or `Kernel command
    // line` in kernel boot lines as components; a syslog tag cannot hold a
    // space, so those lines are kept whole as the message, with no process.
    assert!(differing.iter().all(|c| c.contains(' ')), "{differing:?}");
    assert_eq!(differing.len(), 7, "{differing:?}");
    assert_eq!(same_instant, 2000);
}

#[test]
fn mangled_lines_never_panic() {
    // Real lines of both kinds, cut and spliced with syntax characters and
    // multi-byte text: every result is a parse or an error, never a panic.
    let mut seeds: Vec<String> = loghub("Linux").0.into_iter().take(200).collect();
    seeds.push(
        r#"<165>1 2003-10-11T22:14:15.003Z host app 12 ID [a@1 p="v \" \] \\" q="é"] msg"#.into(),
    );
    seeds.push("<13>Jun  9 06:06:20 h app[1]: x".into());
    let pieces = [
        "<", ">", "[", "]", "\"", "\\", " ", ":", "-", "1", "é", "\u{feff}", "=", "T",
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = [0usize; 2];
    for round in 0..20_000 {
        let seed = &seeds[round % seeds.len()];
        let chars: Vec<char> = seed.chars().collect();
        let mut mangled: String = chars[..rng.below(chars.len() + 1)].iter().collect();
        for _ in 0..rng.below(4) {
            mangled.push_str(pieces[rng.below(pieces.len())]);
            let start = rng.below(chars.len() + 1);
            mangled.extend(&chars[start..]);
        }
        outcomes[usize::from(parse(&mangled).is_ok())] += 1;
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

/// A field the event's shape keeps the line's fields from is logged at
/// warn, as it fails every event of that shape; a line that is no syslog
/// only at debug.
#[test]
fn a_field_in_the_way_is_warned_of_and_a_bad_line_is_not() {
    use wasmstash_sdk::host::{Level, native_log};
    let text = r#"{"message":"<34>Oct 11 22:14:15 mymachine su: hi","host":"10.0.0.1"}"#;
    let mut event = Event::parse(text.as_bytes()).unwrap();
    let (_, logged) = native_log::during(|| filter(json!({})).process(&mut event));
    assert!(event.to_json().contains("_syslogparsefailure"));
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].0, Level::Warn);
    assert!(
        logged[0]
            .1
            .starts_with("cannot set `[host][hostname]`: the event's `host` is a string"),
        "{logged:?}"
    );
    let (_, logged) = native_log::during(|| run(json!({}), "no syslog here"));
    assert!(
        logged.iter().all(|(level, _)| *level == Level::Debug),
        "{logged:?}"
    );
}
