//! Cases from the spec suite of Logstash's kv filter (logstash-filter-kv,
//! `spec/filters/kv_spec.rb`): the same inputs and options, with the values
//! Logstash expects. The cases that need regex features this filter
//! refuses (a lookahead; a nested group, in the timeout examples) are
//! checked to be refused.

use serde_json::{Value, json};

use crate::tests::{kv, pairs};

const QUOTES: &str = "hello=world foo=bar baz=fizz doublequoted=\"hello world\" singlequoted='hello world' bracketsone=(hello world) bracketstwo=[hello world] bracketsthree=<hello world>";

fn all_quotes() -> Value {
    json!({"hello": "world", "foo": "bar", "baz": "fizz", "doublequoted": "hello world",
           "singlequoted": "hello world", "bracketsone": "hello world",
           "bracketstwo": "hello world", "bracketsthree": "hello world"})
}

#[test]
fn defaults_and_quotes() {
    assert_eq!(pairs(json!({}), QUOTES), all_quotes());
}

#[test]
fn transforms_with_lenient_spaces() {
    let line = "hello = world Foo =Bar BAZ= FIZZ doublequoteD = \"hellO worlD\" Singlequoted= 'Hello World' brAckets =(hello World)";
    assert_eq!(
        pairs(
            json!({"transform_key": "uppercase", "transform_value": "lowercase"}),
            line
        ),
        json!({"HELLO": "world", "FOO": "bar", "BAZ": "fizz", "DOUBLEQUOTED": "hello world",
               "SINGLEQUOTED": "hello world", "BRACKETS": "hello world"})
    );
    let line = "Hello = World fOo =bar baz= FIZZ DOUBLEQUOTED = \"hellO worlD\" singlequoted= 'hEllo wOrld' brackets =(HELLO world)";
    assert_eq!(
        pairs(
            json!({"transform_key": "capitalize", "transform_value": "capitalize"}),
            line
        ),
        json!({"Hello": "World", "Foo": "Bar", "Baz": "Fizz", "Doublequoted": "Hello world",
               "Singlequoted": "Hello world", "Brackets": "Hello world"})
    );
}

#[test]
fn strict_whitespace() {
    let strict = json!({"whitespace": "strict"});
    assert_eq!(
        pairs(
            strict.clone(),
            "IN=eth0 OUT= MAC=0f:5f:5e:aa:d3:a2:21:ff:09:00:0f:e1:c8:17 SRC=192.168.0.1"
        ),
        json!({"IN": "eth0", "MAC": "0f:5f:5e:aa:d3:a2:21:ff:09:00:0f:e1:c8:17", "SRC": "192.168.0.1"})
    );
    assert_eq!(
        pairs(
            strict.clone(),
            r#"hello=world goodbye=cruel\ world empty_quoted="" quoted="value1" empty_unquoted= unquoted=value2 empty_bracketed=[] bracketed=[value3] cake=delicious"#
        ),
        json!({"hello": "world", "goodbye": r"cruel\ world", "quoted": "value1",
               "unquoted": "value2", "bracketed": "value3", "cake": "delicious"})
    );
    assert_eq!(
        pairs(
            strict,
            "hello = world foo =bar baz= fizz whitespace=none doublequoted = \"hello world\" singlequoted= 'hello world' brackets =(hello world) strict=true"
        ),
        json!({"whitespace": "none", "strict": "true"})
    );
}

#[test]
fn escaped_spaces_and_an_alternate_value_split() {
    assert_eq!(
        pairs(
            json!({"value_split": ":"}),
            r"IKE:=Quick\ Mode\ completion IKE\ IDs:=subnet:\ x.x.x.x\ (mask=\ 255.255.255.254)\ and\ host:\ y.y.y.y"
        ),
        json!({"IKE": r"=Quick\ Mode\ completion",
               r"IKE\ IDs": r"=subnet:\ x.x.x.x\ (mask=\ 255.255.255.254)\ and\ host:\ y.y.y.y"})
    );
    assert_eq!(
        pairs(
            json!({"value_split": ":"}),
            "hello:=world foo:bar baz=:fizz doublequoted:\"hello world\" singlequoted:'hello world' brackets:(hello world)"
        ),
        json!({"hello": "=world", "foo": "bar", "baz=": "fizz", "doublequoted": "hello world",
               "singlequoted": "hello world", "brackets": "hello world"})
    );
}

#[test]
fn field_split_include_brackets_and_recursive() {
    assert_eq!(
        pairs(
            json!({"field_split": "?&"}),
            "?hello=world&foo=bar&baz=fizz&doublequoted=\"hello world\"&singlequoted='hello world'&ignoreme&foo12=bar12"
        ),
        json!({"hello": "world", "foo": "bar", "baz": "fizz", "doublequoted": "hello world",
               "singlequoted": "hello world", "foo12": "bar12"})
    );
    assert_eq!(
        pairs(
            json!({"include_brackets": false}),
            "bracketsone=(hello world) bracketstwo=[hello world]"
        ),
        json!({"bracketsone": "(hello", "bracketstwo": "[hello"})
    );
    assert_eq!(
        pairs(
            json!({"recursive": true}),
            r#"IKE="Quick Mode completion" IKE\ IDs = (subnet= x.x.x.x mask= 255.255.255.254 and host=y.y.y.y)"#
        ),
        json!({"IKE": "Quick Mode completion",
               r"IKE\ IDs": {"subnet": "x.x.x.x", "mask": "255.255.255.254", "host": "y.y.y.y"}})
    );
    assert_eq!(
        pairs(json!({"recursive": true}), "foo=1 bar=(baz=2)"),
        json!({"foo": "1", "bar": {"baz": "2"}})
    );
    assert_eq!(
        pairs(
            json!({"field_split": "|"}),
            "field1=test|field2=another test|field3=test3"
        ),
        json!({"field1": "test", "field2": "another test", "field3": "test3"})
    );
}

#[test]
fn sources_targets_prefixes_and_key_filters() {
    let line =
        "hello=world foo=bar baz=fizz doublequoted=\"hello world\" singlequoted='hello world'";
    assert_eq!(
        kv(
            json!({"source": "data", "target": "kv"}),
            json!({"data": line})
        )["kv"],
        json!({"hello": "world", "foo": "bar", "baz": "fizz", "doublequoted": "hello world", "singlequoted": "hello world"})
    );
    assert_eq!(
        pairs(json!({"target": "kv"}), "hello:world:foo:bar:baz:fizz"),
        json!({})
    );
    assert_eq!(
        kv(
            json!({"source": "non-exisiting-field", "target": "kv"}),
            json!({"message": ""})
        ),
        json!({"message": ""})
    );
    assert_eq!(
        pairs(
            json!({"include_keys": ["foo", "singlequoted"], "prefix": "__"}),
            line
        ),
        json!({"__foo": "bar", "__singlequoted": "hello world"})
    );
    assert_eq!(
        pairs(
            json!({"exclude_keys": ["foo", "singlequoted"], "prefix": "__"}),
            line
        ),
        json!({"__hello": "world", "__baz": "fizz", "__doublequoted": "hello world"})
    );
    assert_eq!(
        pairs(
            json!({"include_keys": ["foo", "singlequoted"], "exclude_keys": ["foo", "singlequoted"]}),
            line
        ),
        json!({})
    );
    let out = kv(
        json!({"source": "data", "exclude_keys": ["%{key}"]}),
        json!({"data": "foo=bar baz=fizz", "key": "foo"}),
    );
    assert_eq!((out.get("foo"), &out["baz"]), (None, &json!("fizz")));
    let defaults = pairs(json!({"default_keys": {"foo": "xxx", "goo": "yyy"}}), line);
    assert_eq!(
        (&defaults["foo"], &defaults["goo"]),
        (&json!("bar"), &json!("yyy"))
    );
    assert_eq!(
        kv(
            json!({"source": "happy", "target": "happy"}),
            json!({"happy": "foo=bar baz=fizz"})
        ),
        json!({"happy": {"foo": "bar", "baz": "fizz"}})
    );
}

#[test]
fn duplicates_and_empty_values() {
    let source = |config: Value| kv(config, json!({"source": "foo=bar&foo=yeah&foo=yeah"}));
    assert_eq!(
        source(json!({"field_split": "&", "source": "source", "allow_duplicate_values": false}))["foo"],
        json!(["bar", "yeah"])
    );
    assert_eq!(
        source(json!({"field_split": "&", "source": "source"}))["foo"],
        json!(["bar", "yeah", "yeah"])
    );
    let out = kv(
        json!({"source": "source", "allow_empty_values": true, "whitespace": "strict"}),
        json!({"source": "present=one empty= emptyquoted='' present=two emptybracketed=[] endofinput="}),
    );
    assert_eq!(out["present"], json!(["one", "two"]));
    for key in ["empty", "emptyquoted", "emptybracketed", "endofinput"] {
        assert_eq!(out[key], "", "{key}");
    }
    for config in [
        json!({"field_split": "|", "value_split": "="}),
        json!({"field_split_pattern": "\\|", "value_split_pattern": "="}),
    ] {
        assert_eq!(pairs(config, "a=1|b=|c=3"), json!({"a": "1", "c": "3"}));
    }
}

#[test]
fn keys_without_values() {
    let message = "AccountStatus: 4\r\nAdditionalInformation\r\n\r\nCode: \r\nHttpStatusCode: \r\nIsSuccess: True\r\nMessage: \r\n";
    assert_eq!(
        pairs(
            json!({"field_split": "\r\n", "value_split": " ", "trim_key": ":"}),
            message
        ),
        json!({"AccountStatus": "4", "IsSuccess": "True"})
    );
}

#[test]
fn trim_and_remove() {
    let message = "key1= value1 with spaces | key2 with spaces =value2";
    assert_eq!(
        pairs(
            json!({"field_split": "\\|", "value_split": "=", "trim_value": " ", "trim_key": " "}),
            message
        ),
        json!({"key1": "value1 with spaces", "key2 with spaces": "value2"})
    );
    assert_eq!(
        pairs(
            json!({"field_split": "|", "value_split": "=", "trim_value": " ", "trim_key": " "}),
            "key1=  value1 with spaces    |  key2 with spaces  =value2"
        ),
        json!({"key1": "value1 with spaces", "key2 with spaces": "value2"})
    );
    assert_eq!(
        pairs(
            json!({"field_split": "\\|", "value_split": "=", "remove_char_value": " ", "remove_char_key": " "}),
            message
        ),
        json!({"key1": "value1withspaces", "key2withspaces": "value2"})
    );
    let postfix = "to=<foo@example.com>, orig_to=<bar@example.com>, %+relay=mail.example.com[private/dovecot-lmtp], delay=2.2, delays=1.9/0.01/0.01/0.21, dsn=2.0.0, status=sent (250 2.0.0 <foo@example.com> YERDHejiRSXFDSdfUXTV Saved) ";
    assert_eq!(
        pairs(
            json!({"field_split": " ", "value_split": "=", "trim_value": "<>,", "trim_key": "%+"}),
            postfix
        ),
        json!({"to": "foo@example.com", "orig_to": "bar@example.com",
               "relay": "mail.example.com[private/dovecot-lmtp]", "delay": "2.2",
               "delays": "1.9/0.01/0.01/0.21", "dsn": "2.0.0", "status": "sent"})
    );
}

#[test]
fn multi_character_splitting() {
    for (options, message) in [
        (json!({"field_split": " ", "value_split": ":"}), QUOTES.replace('=', ":")),
        (json!({"value_split_pattern": "::"}), QUOTES.replace('=', "::")),
        (json!({"field_split_pattern": "__", "value_split_pattern": "::"}), QUOTES.replace('=', "::").replace(' ', "__").replace("hello__world", "hello world")),
        (json!({"field_split_pattern": "_+", "value_split_pattern": ":+"}),
         "hello:world_foo::bar__baz:::fizz___doublequoted:::\"hello world\"____singlequoted:::::'hello world'____bracketsone:::(hello world)__bracketstwo:[hello world]_bracketsthree::::::<hello world>".to_owned()),
        (json!({"field_split_pattern": " ", "value_split_pattern": ":"}), QUOTES.replace('=', ":")),
        (json!({"field_split_pattern": "\\?\\?", "value_split_pattern": "\\+\\+"}), QUOTES.replace('=', "++").replace(' ', "??").replace("hello??world", "hello world")),
    ] {
        assert_eq!(pairs(options.clone(), &message), all_quotes(), "{options} {message}");
    }
    let bangs = r#"foo=bar!!!!!baz="quoted stuff" and more unquoted!!!!!msg="fully-quoted with a part! of the separator"!!!!!blip="this!!!!!is it"!!!!!empty=""!!!!!non-empty="foo""#;
    assert_eq!(
        pairs(json!({"field_split_pattern": "!!!!!"}), bangs),
        json!({"foo": "bar", "baz": "\"quoted stuff\" and more unquoted",
               "msg": "fully-quoted with a part! of the separator", "blip": "this!!!!!is it",
               "non-empty": "foo"})
    );
    let spaces = r#"foo=bar baz="quoted stuff" and more unquoted msg="some fully-quoted message " empty="" non-empty="foo""#;
    assert_eq!(
        pairs(json!({}), spaces),
        json!({"foo": "bar", "baz": "quoted stuff", "msg": "some fully-quoted message ", "non-empty": "foo"})
    );
    let headers = r"Host: foo.com\r\nUser-Agent: Qwerty/1.2.3 (www.qwerty.org)\r\nContent-Type: text/xml; charset=utf-8\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nContent-Length: 123\r\nX-UUID: 0:15713435944943992\r\n\r\n";
    assert_eq!(
        kv(
            json!({"source": "headers", "field_split_pattern": r"\\r\\n", "value_split_pattern": ": ",
                  "whitespace": "strict", "target": "headerskv"}),
            json!({"headers": headers})
        )["headerskv"],
        json!({"Host": "foo.com", "User-Agent": "Qwerty/1.2.3 (www.qwerty.org)",
               "Content-Type": "text/xml; charset=utf-8", "Accept": "*/*",
               "Accept-Encoding": "gzip, deflate", "Content-Length": "123", "X-UUID": "0:15713435944943992"})
    );
}

#[test]
fn regex_features_beyond_the_subset_are_refused() {
    for pattern in [r";\s*(?=key.+?:)|;$", "(?:=+=+)+:"] {
        let config = json!({"field_split_pattern": pattern});
        let err = wasmstash_sdk::NativeFilter::<crate::Kv>::new(config.to_string().as_bytes())
            .err()
            .unwrap();
        assert!(err.contains("not supported"), "{pattern}: {err}");
    }
}
