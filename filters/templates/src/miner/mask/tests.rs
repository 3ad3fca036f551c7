//! Which tokens masking makes variables, and which it leaves as words.

use super::*;

fn mask(token: &str) -> String {
    let mut out = String::new();
    mask_token(token, &Masks::ALL, &mut out);
    out
}

#[test]
fn whole_tokens() {
    assert_eq!(mask("10.251.43.21:50010"), "<*>");
    assert_eq!(mask("/10.251.43.21:50010"), "<*>");
    assert_eq!(mask("(10.0.0.1)"), "(<*>)");
    assert_eq!(mask("/var/log/messages,"), "<*>,");
    assert_eq!(mask("http://wiki.apache.org/hadoop/NoRouteToHost"), "<*>");
    assert_eq!(mask("fe80::1"), "<*>");
    assert_eq!(mask("1.2.3.4:"), "<*>:");
    assert_eq!(mask("1.2.3"), "<*>");
    assert!(is_ip("10.0.0.255") && !is_ip("10.0.0.1234") && !is_ip("1.2.3.4.5"));
    assert_eq!(mask("bob@example.com"), "<*>");
    assert_eq!(mask("'/dev/sda'"), "'<*>'");
}

#[test]
fn segments() {
    assert_eq!(mask("uid=0"), "uid=<*>");
    assert_eq!(mask("blk_-6952295868487656571"), "<*>");
    assert_eq!(mask("node-17"), "node-<*>");
    assert_eq!(mask("MININT-FNANLI5.fareast.corp.microsoft.com"), "<*>");
    assert_eq!(mask("msra-sa-41:8030."), "<*>.");
    assert_eq!(mask("[ib_sm_sweep.c:1831]:"), "[ib_sm_sweep.c:<*>]:");
    assert_eq!(mask("mice.c(1234)"), "mice.c(<*>)");
    assert_eq!(mask("PendingReds:0"), "PendingReds:<*>");
    assert_eq!(
        mask("00000001@2016/9/28:20:30:31.455"),
        "<*>@<*>/<*>/<*>:<*>:<*>:<*>"
    );
    assert_eq!(mask("250ms"), "<*>");
    assert_eq!(mask("07:07:00"), "<*>");
    assert_eq!(mask("[17/May/2015:10:05:03"), "[<*>");
    assert_eq!(mask("2026-11-24T04:47:08.813Z"), "<*>");
    assert_eq!(mask("2026-11-24T04:47:08,813+02:00"), "<*>");
    assert_eq!(mask("2026-11-24T04:47:08-0500,"), "<*>,");
    assert_eq!(mask("2026-11-24T04:47"), "<*>");
    // Not dates: the month must be a month, the time a time.
    assert_eq!(mask("17/Foo/2015:10:05:03"), "<*>/Foo/<*>:<*>:<*>:<*>");
    assert_eq!(mask("2026-11-24T04:47:08Q"), "<*>:<*>:<*>");
    assert_eq!(mask("MSRA-SA-41"), "MSRA-<*>");
    assert_eq!(mask("0x1f"), "<*>");
    assert_eq!(mask("3f2504e0-4f89-11d3-9a0c-0305e82c3301"), "<*>");
}

#[test]
fn names_stay() {
    for name in [
        "ssh2",
        "eth0",
        "L1",
        "ipv6",
        "x86",
        "hello",
        "tty=NODEVssh",
        "[preauth]",
    ] {
        assert_eq!(mask(name), name);
    }
}

#[test]
fn masks_can_be_turned_off() {
    let mut out = String::new();
    mask_token("uid=0", &Masks::NONE, &mut out);
    assert_eq!(out, "uid=0");
    let only_numbers = Masks::from_names(&["number"]).unwrap();
    out.clear();
    mask_token("uid=0 ", &only_numbers, &mut out);
    assert!(
        Masks::from_names(&["nope"])
            .unwrap_err()
            .contains("unknown mask `nope`")
    );
}
