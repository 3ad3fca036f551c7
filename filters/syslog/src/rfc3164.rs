//! RFC 3164 ("BSD") lines, and the variants found in /var/log files:
//! `[<PRI>]TIMESTAMP [HOSTNAME] TAG[[PID]]: MSG`.
//!
//! TIMESTAMP is what Logstash's `SYSLOGLINE` takes there
//! (`timestamp.rs`): `Mmm dd HH:mm:ss` in its variants, or ISO 8601, as
//! rsyslog writes with its high-precision template.
//!
//! The hostname is the next word unless no host name could look like it: a
//! word holding `[` or `]` (a tag such as `sshd[42]:`, or a kernel line's
//! `[12345.678]`), or one ending in `:` (`su:`), short of an IPv6 address
//! (`fe80::`). That is how lines from senders that omit the host are told
//! apart; other words are not checked further, since real hosts write names
//! such as `dn228/dn228`. TAG is a run of printable characters without
//! spaces, `[` or `]` (so `sshd(pam_unix)` and `postfix/smtpd` are names),
//! then an optional numeric `[PID]`, then `:`. A line whose text after the
//! host has no such tag is still valid syslog: all of it is the message and
//! no process is set.

use std::net::Ipv6Addr;

use crate::Header;
use crate::timestamp::timestamp_len;

/// Parses a line (its `<PRI>` already taken off).
pub fn parse(line: &str) -> Result<Header<'_>, String> {
    let (timestamp, rest) = timestamp(line).ok_or_else(|| {
        format!(
            "no syslog timestamp at the start of `{}` (expected `Mmm dd HH:mm:ss` or ISO 8601)",
            preview(line)
        )
    })?;
    let rest = past_lone_colon(rest.trim_start_matches(' '));
    if rest.is_empty() {
        return Err("nothing follows the syslog timestamp".into());
    }
    let mut header = Header {
        timestamp: Some(timestamp),
        ..Header::default()
    };
    let rest = past_facility_mark(rest);
    let (first, after_first) = word(rest);
    // A lone word after the time is the message, as in Logstash's
    // `SYSLOGLINE`, whose message follows the header after a space.
    let rest = if may_be_hostname(first) && !after_first.is_empty() {
        header.hostname = Some(first);
        past_lone_colon(after_first.trim_start_matches(' '))
    } else {
        rest
    };
    let (candidate, after_tag) = word(rest);
    match tag(candidate) {
        Some((name, pid)) => {
            header.app_name = Some(name);
            header.proc_id = pid;
            header.message = after_tag.strip_prefix(' ').unwrap_or(after_tag);
        }
        None => header.message = rest,
    }
    Ok(header)
}

/// The timestamp at the start of `line` and what follows it.
fn timestamp(line: &str) -> Option<(&str, &str)> {
    Some(line.split_at(timestamp_len(line)?))
}

/// What follows a colon standing alone where a tag would be, as Cisco ASA
/// writes after the time or the host (`Jun 27 2018 12:17:46: %ASA-6-...`,
/// `... asa : %ASA-6-...`); `text` itself if it has none.
fn past_lone_colon(text: &str) -> &str {
    match text.strip_prefix(':') {
        Some(after) if after.is_empty() || after.starts_with(' ') => after.trim_start_matches(' '),
        _ => text,
    }
}

/// What follows a `<facility.priority>` mark after the time, as syslog-ng
/// can write (Logstash's `SYSLOGFACILITY`, read by `SYSLOGBASE2`); `text`
/// itself if it has none. The mark is passed over: the line's `<PRI>`, if
/// any, is what the priority fields are made from.
fn past_facility_mark(text: &str) -> &str {
    let (first, after) = word(text);
    let is_mark = first
        .strip_prefix('<')
        .and_then(|inner| inner.strip_suffix('>'))
        .and_then(|inner| inner.split_once('.'))
        .is_some_and(|(facility, priority)| {
            [facility, priority]
                .iter()
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        });
    match after.strip_prefix(' ') {
        Some(after) if is_mark => after.trim_start_matches(' '),
        _ => text,
    }
}

/// The word at the start of `text` (up to a space) and what follows it.
fn word(text: &str) -> (&str, &str) {
    text.split_at(text.find(' ').unwrap_or(text.len()))
}

/// Whether the word after the timestamp may be the host: no host name
/// holds a bracket, and one ending in `:` is a tag unless it is an IPv6
/// address such as `fe80::`.
fn may_be_hostname(word: &str) -> bool {
    let tag_like = word.contains(['[', ']']) || word.ends_with(':');
    !tag_like || word.parse::<Ipv6Addr>().is_ok()
}

/// `name:` or `name[pid]:` as a (name, pid) pair.
fn tag(word: &str) -> Option<(&str, Option<&str>)> {
    let body = word.strip_suffix(':')?;
    let (name, pid) = match body.strip_suffix(']') {
        Some(open) => {
            let (name, pid) = open.rsplit_once('[')?;
            if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (name, Some(pid))
        }
        None => (body, None),
    };
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| (33..=126).contains(&b) && b != b'[' && b != b']');
    valid_name.then_some((name, pid))
}

fn preview(line: &str) -> &str {
    let mut end = line.len().min(40);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> (Option<&str>, Option<&str>, Option<&str>, Option<&str>, &str) {
        let h = parse(line).unwrap();
        (h.timestamp, h.hostname, h.app_name, h.proc_id, h.message)
    }

    #[test]
    fn the_classic_forms() {
        assert_eq!(
            fields("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown"),
            (
                Some("Jun 14 15:16:01"),
                Some("combo"),
                Some("sshd(pam_unix)"),
                Some("19939"),
                "check pass; user unknown"
            )
        );
        assert_eq!(
            fields("Jul  3 04:08:03 combo kernel: Linux version 2.6.5"),
            (
                Some("Jul  3 04:08:03"),
                Some("combo"),
                Some("kernel"),
                None,
                "Linux version 2.6.5"
            )
        );
        assert_eq!(
            fields(
                "Nov 9 12:01:01 dn228/dn228 crond[2916]: (root) CMD (run-parts /etc/cron.hourly)"
            )
            .1,
            Some("dn228/dn228")
        );
        assert_eq!(
            fields("Oct 11 22:14:15.123 mymachine postfix/smtpd[77]:  two spaces kept"),
            (
                Some("Oct 11 22:14:15.123"),
                Some("mymachine"),
                Some("postfix/smtpd"),
                Some("77"),
                " two spaces kept"
            )
        );
    }

    #[test]
    fn variants_without_hostname_tag_or_pid() {
        assert_eq!(
            fields("Oct 11 22:14:15 su: 'su root' failed"),
            (
                Some("Oct 11 22:14:15"),
                None,
                Some("su"),
                None,
                "'su root' failed"
            )
        );
        assert_eq!(
            fields("Jun 19 04:09:11 combo syslogd 1.4.1: restart."),
            (
                Some("Jun 19 04:09:11"),
                Some("combo"),
                None,
                None,
                "syslogd 1.4.1: restart."
            )
        );
        assert_eq!(
            fields("2019-03-01T10:00:00.123456+01:00 web-1 nginx[12]: GET /"),
            (
                Some("2019-03-01T10:00:00.123456+01:00"),
                Some("web-1"),
                Some("nginx"),
                Some("12"),
                "GET /"
            )
        );
        assert_eq!(fields("Jan 01 00:00:00 host app:").4, "");
        assert_eq!(
            fields("Oct 11 22:14:15 rebooting"),
            (Some("Oct 11 22:14:15"), None, None, None, "rebooting")
        );
        assert_eq!(
            fields("Oct 11 22:14:15 host ").1,
            Some("host"),
            "a word and a space: the host and an empty message, as SYSLOGLINE reads it"
        );
        assert_eq!(
            fields("Jun 14 2015 15:16:01 asa-1 %ASA-6-302013: Built inbound").0,
            Some("Jun 14 2015 15:16:01")
        );
    }

    /// Cisco ASA's own forms, which Logstash's `CISCO_TAGGED_SYSLOG`
    /// reads: a colon after the host, or after the time when there is no
    /// host.
    #[test]
    fn cisco_asa_colons() {
        let failed = "Failed to locate egress interface";
        for (line, time, host) in [
            (
                "2018-06-27T12:17:46Z asa : %ASA-6-110002: Failed to locate egress interface",
                "2018-06-27T12:17:46Z",
                Some("asa"),
            ),
            (
                "Jun 27 2018 12:17:46 asa : %ASA-6-110002: Failed to locate egress interface",
                "Jun 27 2018 12:17:46",
                Some("asa"),
            ),
            (
                "Jun 27 2018 12:17:46: %ASA-6-110002: Failed to locate egress interface",
                "Jun 27 2018 12:17:46",
                None,
            ),
        ] {
            assert_eq!(
                fields(line),
                (Some(time), host, Some("%ASA-6-110002"), None, failed),
                "{line}"
            );
        }
        assert_eq!(fields("Jun 27 2018 12:17:46 asa :").4, "");
        assert_eq!(
            fields("Jun 27 12:17:46 host :not a lone colon").4,
            ":not a lone colon"
        );
    }

    /// As Logstash's `(?: %{SYSLOGHOST})?(?: %{SYSLOGPROG}:)?` reads them: a
    /// word no host could be is not the host, and when it is no tag either
    /// all the text after the time is the message.
    #[test]
    fn words_that_cannot_be_hosts() {
        assert_eq!(
            fields("Oct 11 22:14:15 app[abc]: nonnum pid no host"),
            (
                Some("Oct 11 22:14:15"),
                None,
                None,
                None,
                "app[abc]: nonnum pid no host"
            )
        );
        assert_eq!(
            fields("Oct 11 22:14:15 [12345.678] usb 1-1: new device"),
            (
                Some("Oct 11 22:14:15"),
                None,
                None,
                None,
                "[12345.678] usb 1-1: new device"
            )
        );
        assert_eq!(
            fields("Oct 11 22:14:15 host[1] app: x"),
            (Some("Oct 11 22:14:15"), None, None, None, "host[1] app: x")
        );
        assert_eq!(
            fields("Oct 11 22:14:15 fe80:: app[5]: x"),
            (
                Some("Oct 11 22:14:15"),
                Some("fe80::"),
                Some("app"),
                Some("5"),
                "x"
            )
        );
        assert_eq!(fields("Oct 11 22:14:15 ::1 app: x").1, Some("::1"));
        assert_eq!(fields("Oct 11 22:14:15 sshd[42]: x").1, None);
    }

    #[test]
    fn a_facility_mark_after_the_time_is_passed_over() {
        assert_eq!(
            fields("Oct 11 22:14:15 <4.6> host app[3]: syslog-ng facility"),
            (
                Some("Oct 11 22:14:15"),
                Some("host"),
                Some("app"),
                Some("3"),
                "syslog-ng facility"
            )
        );
        assert_eq!(fields("Oct 11 22:14:15 <4.x> host app: m").1, Some("<4.x>"));
    }

    #[test]
    fn lines_that_are_not_syslog_fail_with_a_reason() {
        for (line, reason) in [
            (
                "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /\"",
                "no syslog timestamp",
            ),
            ("Foo 14 15:16:01 combo x: y", "no syslog timestamp"),
            ("Jun 14 15:16 combo x: y", "no syslog timestamp"),
            ("Jun 14 15:16:01", "nothing follows"),
            ("Jun 14 15:16:01x combo", "no syslog timestamp"),
            ("", "no syslog timestamp"),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(reason), "{line}: {err}");
        }
    }
}
