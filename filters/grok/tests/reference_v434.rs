//! Patterns (mostly ECS) whose captures once differed from logstash-patterns-core
//! v4.3.4, the release Logstash 8 bundles: each line goes through the real
//! filter and the whole event must equal what a jls-grok expansion of
//! upstream's v4.3.4 files gives (computed in Ruby 3.1 and written down
//! here). The corpus (`corpus.rs`) has no aws, bro or zeek cases, and none of
//! its asserts sees these fields, so these pin them.

use serde_json::{Value, json};
use wasmstash_filter_grok::Grok;
use wasmstash_sdk::{Event, Filter};

fn grok(pattern: &str, mode: &str, message: &str) -> Result<Value, String> {
    let config = json!({"match": {"message": pattern}, "ecs_compatibility": mode});
    let mut grok = Grok::new(serde_json::from_value(config).unwrap()).map_err(|e| e.to_string())?;
    let text = json!({"message": message}).to_string();
    let mut event = Event::parse(text.as_bytes()).unwrap();
    grok.process(&mut event);
    let mut out: Value = serde_json::from_str(&event.to_json()).unwrap();
    out.as_object_mut().unwrap().remove("message");
    Ok(out)
}

/// `expected` is the event Logstash builds, without `message`.
fn assert_logstash_event(pattern: &str, message: &str, expected: &str) {
    let expected: Value = serde_json::from_str(expected).unwrap();
    let ours = grok(&format!("%{{{pattern}}}"), "v1", message).unwrap();
    assert_eq!(ours, expected, "{pattern}");
}

#[test]
fn s3_total_time_and_cipher_have_logstash_names() {
    assert_logstash_event(
        "S3_ACCESS_LOG",
        r#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.1"#,
        r#"{"aws": {"s3access": {"bucket_owner": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be", "bucket": "awsexamplebucket1", "request_id": "3E57427F3EXAMPLE", "operation": "REST.GET.VERSIONING", "request_uri": "GET /awsexamplebucket1?versioning HTTP/1.1", "bytes_sent": 113, "total_time": 7, "host_id": "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234=", "signature_version": "SigV2", "authentication_type": "AuthHeader", "host_header": "awsexamplebucket1.s3.us-west-1.amazonaws.com", "tls_version": "TLSV1.1"}},
            "timestamp": "06/Feb/2019:00:00:38 +0000", "client": {"ip": "192.0.2.3", "user": {"id": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}},
            "http": {"request": {"method": "GET"}, "version": "1.1", "response": {"status_code": 200}}, "url": {"original": "/awsexamplebucket1?versioning"},
            "user_agent": {"original": "S3Console/0.4"}, "tls": {"cipher": "ECDHE-RSA-AES128-GCM-SHA256"}}"#,
    );
}

#[test]
fn cloudfront_request_id_has_its_logstash_name() {
    assert_logstash_event(
        "CLOUDFRONT_ACCESS_LOG",
        "2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(Windows%20NT%2010.0)\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\td111111abcdef8.cloudfront.net\thttps\t23\t0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tHit",
        r#"{"timestamp": "2019-12-04\t21:02:31", "aws": {"cloudfront": {"x_edge_location": "LAX1", "x_edge_result_type": "Hit", "x_edge_request_id": "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==", "http": {"request": {"host": "d111111abcdef8.cloudfront.net"}}, "time_taken": 0.001, "ssl_protocol": "TLSv1.2", "x_edge_response_result_type": "Hit"}},
            "destination": {"bytes": 392}, "source": {"ip": "192.0.2.100", "bytes": 23}, "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
            "url": {"domain": "d111111abcdef8.cloudfront.net", "path": "/index.html"}, "user_agent": {"original": "Mozilla/5.0%20(Windows%20NT%2010.0)"},
            "network": {"protocol": "https"}, "tls": {"cipher": "ECDHE-RSA-AES128-GCM-SHA256"}}"#,
    );
}

/// BRO_HTTP and ZEEK_HTTP share the captures after their differing columns.
const HTTP_FIELDS: &str = r#"{"timestamp": "1432555199.633017", "zeek": {"session_id": "COpk6E3vkURP8QQNKl", "http": {"trans_depth": 4, "status_msg": "OK", "orig_fuids": "FrNdLr1nW6DjQbxuAb", "resp_fuids": "FOJ7hF2Ck3DYHkXqB"}},
    "source": {"ip": "192.168.9.35", "port": 55281}, "destination": {"ip": "178.236.7.146", "port": 80},
    "http": {"request": {"method": "POST", "referrer": "http://www.amazon.it/", "body": {"bytes": 223}, "mime_type": "text/plain"}, "response": {"body": {"bytes": 1859}, "status_code": 200, "mime_type": "text/html"}},
    "url": {"domain": "www.amazon.it", "original": "/xa/dealcontent/v2/GetDeals?nocache=1432555199326"}, "user_agent": {"original": "Mozilla/5.0 (Windows NT 6.1; WOW64)"}}"#;

#[test]
fn bro_and_zeek_http_mime_types_are_ecs_fields() {
    assert_logstash_event(
        "BRO_HTTP",
        "1432555199.633017\tCOpk6E3vkURP8QQNKl\t192.168.9.35\t55281\t178.236.7.146\t80\t4\tPOST\twww.amazon.it\t/xa/dealcontent/v2/GetDeals?nocache=1432555199326\thttp://www.amazon.it/\tMozilla/5.0 (Windows NT 6.1; WOW64)\t223\t1859\t200\tOK\t-\t-\t-\t(empty)\t-\t-\t-\tFrNdLr1nW6DjQbxuAb\ttext/plain\tFOJ7hF2Ck3DYHkXqB\ttext/html",
        HTTP_FIELDS,
    );
    let mut zeek: Value = serde_json::from_str(HTTP_FIELDS).unwrap();
    zeek["http"]["version"] = json!("1.1");
    assert_logstash_event(
        "ZEEK_HTTP",
        "1432555199.633017\tCOpk6E3vkURP8QQNKl\t192.168.9.35\t55281\t178.236.7.146\t80\t4\tPOST\twww.amazon.it\t/xa/dealcontent/v2/GetDeals?nocache=1432555199326\thttp://www.amazon.it/\t1.1\tMozilla/5.0 (Windows NT 6.1; WOW64)\t-\t223\t1859\t200\tOK\t-\t-\t(empty)\t-\t-\t-\tFrNdLr1nW6DjQbxuAb\t-\ttext/plain\tFOJ7hF2Ck3DYHkXqB\t-\ttext/html",
        &zeek.to_string(),
    );
}

#[test]
fn bro_files_hosts_are_server_and_client() {
    assert_logstash_event(
        "BRO_FILES",
        "1432555199.634437\tFOJ7hF2Ck3DYHkXqB\t178.236.7.146\t192.168.9.35\tCOpk6E3vkURP8QQNKl\tHTTP\t0\tSHA1,MD5\ttext/plain\t-\t0.000000\t-\tF\t1859\t1859\t0\t0\tF\t-\t1e0b4a2b2b3ab7c4f0fbc1b0e3a5c7d1\t3a0a7b8e0b1c2d3e4f5061728394a5b6c7d8e9f0\t-\t-",
        r#"{"timestamp": "1432555199.634437", "zeek": {"files": {"fuid": "FOJ7hF2Ck3DYHkXqB", "session_ids": "COpk6E3vkURP8QQNKl", "source": "HTTP", "depth": 0, "analyzers": "SHA1,MD5", "duration": 0.0, "is_orig": "F", "seen_bytes": 1859, "missing_bytes": 0, "overflow_bytes": 0, "timedout": "F"}},
            "server": {"ip": "178.236.7.146"}, "client": {"ip": "192.168.9.35"},
            "file": {"mime_type": "text/plain", "size": 1859, "hash": {"md5": "1e0b4a2b2b3ab7c4f0fbc1b0e3a5c7d1", "sha1": "3a0a7b8e0b1c2d3e4f5061728394a5b6c7d8e9f0"}}}"#,
    );
}

/// v4.3.1 wrote the category to `[bing][log][category]`; 4.3.2 fixed it.
#[test]
fn bind9_keeps_the_category_under_bind_log() {
    assert_logstash_event(
        "BIND9",
        "17-Feb-2018 23:06:56.326 queries: info: client 172.26.0.1#12345 (test.example.com): query: test.example.com IN A +E(0)K (172.26.0.3)",
        r#"{"timestamp": "17-Feb-2018 23:06:56.326", "bind": {"log": {"category": "queries", "question": {"name": "test.example.com", "flags": "+E(0)K"}}},
            "log": {"level": "info"}, "client": {"ip": "172.26.0.1", "port": 12345}, "dns": {"question": {"name": "test.example.com", "class": "IN", "type": "A"}},
            "server": {"ip": "172.26.0.3"}}"#,
    );
}

#[test]
fn cisco_106100_leaves_the_interval_uncaptured() {
    let expected = r#"{"cisco": {"asa": {"rule_name": "outside-entry", "outcome": "permitted", "network": {"transport": "tcp"}, "hit_count": 1}},
        "observer": {"ingress": {"interface": {"name": "outside"}}, "egress": {"interface": {"name": "inside"}}},
        "source": {"ip": "10.11.12.13", "port": 54726}, "destination": {"ip": "192.168.17.18", "port": 80},
        "@metadata": {"cisco": {"asa": {"hashcode1": "0x32b3835", "hashcode2": "0x0"}}}}"#;
    for interval in ["300-second interval", "first hit"] {
        assert_logstash_event(
            "CISCOFW106100",
            &format!(
                "access-list outside-entry permitted tcp outside/10.11.12.13(54726) -> inside/192.168.17.18(80) hit-cnt 1 {interval} [0x32b3835, 0x0]"
            ),
            expected,
        );
    }
    // 106100_2_3 does capture it, in Logstash too.
    let line = "access-list a permitted tcp for user 'bob' in/10.0.0.1(1) -> out/10.0.0.2(2) hit-cnt 3 300-second interval [0x1, 0x2]";
    let event = grok("%{CISCOFW106100_2_3}", "v1", line).unwrap();
    assert_eq!(event["cisco"]["asa"]["interval"], json!(300));
}

/// Not in v4.3.4 (upstream added it to its main branch after the release),
/// so a config naming it fails in Logstash 8 and here alike.
#[test]
fn timestamp_cn_is_not_a_standard_pattern() {
    for mode in ["disabled", "v1"] {
        let error = grok("%{TIMESTAMP_CN}", mode, "2021-03-04 05:06:07.890").unwrap_err();
        assert!(
            error.contains("%{TIMESTAMP_CN} not defined"),
            "{mode}: {error}"
        );
    }
}

/// Upstream's ECS RT_FLOW_EVENT is the literal text `RT_FLOW_TAG`; ours is
/// the tag pattern it was meant to be (see COMPAT.md).
#[test]
fn rt_flow_event_matches_the_tag() {
    let event = grok(
        "%{RT_FLOW_EVENT:t}",
        "v1",
        "RT_FLOW_SESSION_CREATE: session created",
    )
    .unwrap();
    assert_eq!(event["t"], json!("RT_FLOW_SESSION_CREATE"));
}

/// RFC 5424's PRI is the priority (facility × 8 + severity), so upstream
/// names it `[log][syslog][priority]`, and reads PROCID with `POSINT`: a
/// PROCID that is no number fails the line rather than become pid 0.
#[test]
fn syslog5424_pri_is_the_priority_and_procid_a_number() {
    assert_logstash_event(
        "SYSLOG5424LINE",
        "<174>1 2016-11-14T09:49:23+01:00 10.23.16.6 named 2255 - -  info: client query",
        r#"{"log": {"syslog": {"priority": 174}}, "system": {"syslog": {"version": "1"}},
            "timestamp": "2016-11-14T09:49:23+01:00", "host": {"hostname": "10.23.16.6"},
            "process": {"name": "named", "pid": 2255}}"#,
    );
    let named_procid = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su worker-1 ID47 - BOM su root failed";
    assert_eq!(
        grok("%{SYSLOG5424LINE}", "v1", named_procid).unwrap(),
        json!({"tags": ["_grokparsefailure"]})
    );
}

/// The legacy MONITOR line reads its port with `NUMBER`, kept as text, so
/// a port of 0 (or `05`) matches; the ECS set reads it with `POSINT` into
/// `[client][port]` as a number.
#[test]
fn legacy_redis_monitor_port_is_any_number() {
    let line = r#"1470637867.953466 [0 127.0.0.1:0] "info""#;
    assert_eq!(
        grok("%{REDISMONLOG}", "disabled", line).unwrap(),
        json!({"timestamp": "1470637867.953466", "database": "0", "client": "127.0.0.1", "port": "0", "command": "info"})
    );
    assert_eq!(
        grok("%{REDISMONLOG}", "v1", line).unwrap(),
        json!({"tags": ["_grokparsefailure"]})
    );
}
