//! Who may see the live view. Events can hold personal data, so the page is
//! guarded like the admin endpoints:
//!
//! - With an admin token configured, a request needs `Authorization: Bearer
//!   <token>` or a session cookie. A browser gets the cookie by posting the
//!   token once to `/ui/login`; the cookie holds a random session id (never
//!   the token), is `HttpOnly` (scripts cannot read it) and `SameSite=Strict`
//!   (other sites cannot make the browser send it), and expires after 12 h.
//!   `EventSource` cannot set headers, which is why a cookie is needed at all.
//! - With no token configured, the view answers only loopback clients that
//!   name a loopback host in `Host` (a DNS-rebinding page naming its own
//!   domain is refused), as the admin endpoints are off in that case. A
//!   reverse proxy on this machine connects from loopback and, by default,
//!   passes on a loopback `Host`, which would open the view to everyone
//!   behind it: a request carrying a header that proxies add is refused
//!   too, and so is one in HTTP/1.0, which nginx's `proxy_pass` speaks
//!   by default while adding none of those headers (no browser does). A
//!   proxy that does neither cannot be told apart; the README asks for a
//!   token before any proxy is put in front.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Version, header};

pub const COOKIE: &str = "wasmstash_ui";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
const MAX_SESSIONS: usize = 64;

/// Why a request may not see the live view.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// A token is configured and the request has neither it nor a session.
    NeedsLogin,
    /// No token is configured and the request is not from loopback.
    NotLoopback,
    /// No token is configured and the request came through a proxy: it
    /// has this sign of one (a header proxies add, or HTTP/1.0).
    ThroughProxy(&'static str),
}

impl Denied {
    pub fn message(&self) -> String {
        match self {
            Denied::NeedsLogin => "log in with the admin token".to_owned(),
            Denied::NotLoopback => "without an admin token the live view answers loopback \
                                    clients only; set WASMSTASH_ADMIN_TOKEN or \
                                    server.admin_token_file to open it to others"
                .to_owned(),
            Denied::ThroughProxy(sign) => format!(
                "without an admin token the live view answers clients on this machine only, \
                 and this request came through a proxy ({sign}), which may be passing on \
                 anyone's; set WASMSTASH_ADMIN_TOKEN or server.admin_token_file before \
                 putting a proxy in front of the sidecar"
            ),
        }
    }
}

/// Headers that reverse proxies add to the requests they pass on, each
/// with how a refusal names it.
const PROXY_HEADERS: [(&str, &str); 6] = [
    ("Forwarded", "it carries `Forwarded`"),
    ("X-Forwarded-For", "it carries `X-Forwarded-For`"),
    ("X-Forwarded-Host", "it carries `X-Forwarded-Host`"),
    ("X-Forwarded-Proto", "it carries `X-Forwarded-Proto`"),
    ("X-Real-IP", "it carries `X-Real-IP`"),
    ("Via", "it carries `Via`"),
];

#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    /// A new session id (256 random bits, hex).
    pub fn open(&self) -> std::io::Result<String> {
        let mut bytes = [0u8; 32];
        use std::io::Read;
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut live = self.lock();
        let now = Instant::now();
        live.retain(|_, expires| *expires > now);
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone())
        {
            live.remove(&oldest);
        }
        live.insert(id.clone(), now + SESSION_TTL);
        Ok(id)
    }

    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Whether `id` is a session that has not ended (logged out, expired,
    /// or evicted by newer ones).
    pub fn is_open(&self, id: &str) -> bool {
        self.lock()
            .get(id)
            .is_some_and(|expires| *expires > Instant::now())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        crate::locked(&self.live)
    }
}

pub fn max_age_seconds() -> u64 {
    SESSION_TTL.as_secs()
}

/// The session id in the request's cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The token of an `Authorization: Bearer <token>` header. The scheme's
/// name is case-insensitive in HTTP, so `bearer` counts too.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}

/// Compares in time independent of where the first difference is, and of
/// the given token's length: the two are hashed first, so what is compared
/// byte by byte is always 32 bytes, and an early exit on a length mismatch
/// cannot tell a caller how long the token is.
pub fn same_secret(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (given, expected) = (Sha256::digest(given), Sha256::digest(expected));
    given
        .iter()
        .zip(expected.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// What let a request in.
#[derive(Debug, PartialEq)]
pub enum Admitted {
    /// No token is set, and a loopback client asked, not through a proxy.
    Loopback,
    /// The admin token, as a bearer.
    Token,
    /// The session of a login, which may end (a logout, its expiry) while
    /// what it opened, a stream of events, is still open.
    Session(String),
}

pub fn check(
    token: Option<&str>,
    sessions: &Sessions,
    request: (Version, &HeaderMap),
    peer: SocketAddr,
) -> Result<Admitted, Denied> {
    let (version, headers) = request;
    let Some(token) = token else {
        // A dual-stack listener (`[::]`) sees an IPv4 client as
        // `::ffff:127.0.0.1`, which is loopback only once made canonical.
        if !(peer.ip().to_canonical().is_loopback() && host_is_loopback(headers)) {
            return Err(Denied::NotLoopback);
        }
        if version < Version::HTTP_11 {
            return Err(Denied::ThroughProxy(
                "it speaks HTTP/1.0, as nginx's proxy_pass does by default",
            ));
        }
        return match (PROXY_HEADERS.iter()).find(|(name, _)| headers.contains_key(*name)) {
            Some((_, sign)) => Err(Denied::ThroughProxy(sign)),
            None => Ok(Admitted::Loopback),
        };
    };
    if bearer(headers).is_some_and(|given| same_secret(given, token)) {
        return Ok(Admitted::Token);
    }
    match session_cookie(headers).filter(|id| sessions.is_open(id)) {
        Some(id) => Ok(Admitted::Session(id.to_owned())),
        None => Err(Denied::NeedsLogin),
    }
}

fn host_is_loopback(headers: &HeaderMap) -> bool {
    // Exactly one Host header: with two, which one a proxy used is unknown.
    let mut hosts = headers.get_all(header::HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return false;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn secrets_match_only_when_equal_whatever_their_lengths() {
        let token = "0123456789abcdef-token";
        assert!(same_secret(token, token));
        assert!(!same_secret("0123456789abcdef-tokeN", token));
        assert!(!same_secret("0123456789abcdef", token));
        assert!(!same_secret("", token));
        assert!(!same_secret(&format!("{token}x"), token));
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn without_a_token_only_loopback_with_a_loopback_host() {
        let sessions = Sessions::default();
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let ok = headers(&[(header::HOST, "127.0.0.1:9700")]);
        assert_eq!(
            check(None, &sessions, (Version::HTTP_11, &ok), local),
            Ok(Admitted::Loopback)
        );
        let v6 = headers(&[(header::HOST, "[::1]:9700")]);
        assert_eq!(
            check(None, &sessions, (Version::HTTP_11, &v6), local),
            Ok(Admitted::Loopback)
        );
        assert_eq!(
            check(None, &sessions, (Version::HTTP_11, &ok), remote),
            Err(Denied::NotLoopback)
        );
        let rebound = headers(&[(header::HOST, "evil.example:9700")]);
        assert_eq!(
            check(None, &sessions, (Version::HTTP_11, &rebound), local),
            Err(Denied::NotLoopback)
        );
        // An IPv4 client of a dual-stack listener, naming either form.
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        assert_eq!(
            check(None, &sessions, (Version::HTTP_11, &ok), mapped),
            Ok(Admitted::Loopback)
        );
        let mapped_host = headers(&[(header::HOST, "[::ffff:127.0.0.1]:9700")]);
        assert_eq!(
            check(None, &sessions, (Version::HTTP_11, &mapped_host), mapped),
            Ok(Admitted::Loopback)
        );
        let mapped_remote: SocketAddr = "[::ffff:10.1.2.3]:5000".parse().unwrap();
        assert_eq!(
            check(None, &sessions, (Version::HTTP_11, &ok), mapped_remote),
            Err(Denied::NotLoopback)
        );
    }

    #[test]
    fn without_a_token_a_request_through_a_proxy_is_refused() {
        let sessions = Sessions::default();
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        for (name, _) in PROXY_HEADERS {
            let name = header::HeaderName::from_bytes(name.as_bytes()).unwrap();
            let proxied = headers(&[(header::HOST, "127.0.0.1:9700"), (name, "10.9.8.7")]);
            let denied = check(None, &sessions, (Version::HTTP_11, &proxied), local).unwrap_err();
            assert!(matches!(denied, Denied::ThroughProxy(_)), "{denied:?}");
        }
        // nginx's default proxy_pass adds none of them, but speaks HTTP/1.0.
        let plain = headers(&[(header::HOST, "127.0.0.1:9700")]);
        let denied = check(None, &sessions, (Version::HTTP_10, &plain), local).unwrap_err();
        assert!(matches!(denied, Denied::ThroughProxy(_)), "{denied:?}");
        // With a token, the token decides, whoever passed the request on.
        let token = Some("a-long-enough-token");
        let proxied = headers(&[
            (header::AUTHORIZATION, "Bearer a-long-enough-token"),
            (header::VIA, "1.1 nginx"),
        ]);
        assert_eq!(
            check(token, &sessions, (Version::HTTP_11, &proxied), local),
            Ok(Admitted::Token)
        );
    }

    #[test]
    fn with_a_token_the_bearer_or_a_live_session() {
        let sessions = Sessions::default();
        let peer: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let token = Some("a-long-enough-token");
        let none = headers(&[]);
        assert_eq!(
            check(token, &sessions, (Version::HTTP_11, &none), peer),
            Err(Denied::NeedsLogin)
        );
        let bearer = headers(&[(header::AUTHORIZATION, "Bearer a-long-enough-token")]);
        assert_eq!(
            check(token, &sessions, (Version::HTTP_11, &bearer), peer),
            Ok(Admitted::Token)
        );
        let id = sessions.open().unwrap();
        assert_eq!(id.len(), 64);
        let cookie = headers(&[(header::COOKIE, &format!("x=1; {COOKIE}={id}"))]);
        assert_eq!(
            check(token, &sessions, (Version::HTTP_11, &cookie), peer),
            Ok(Admitted::Session(id.clone()))
        );
        let forged = headers(&[(header::COOKIE, &format!("{COOKIE}=a-long-enough-token"))]);
        assert_eq!(
            check(token, &sessions, (Version::HTTP_11, &forged), peer),
            Err(Denied::NeedsLogin)
        );
        sessions.close(&id);
        assert_eq!(
            check(token, &sessions, (Version::HTTP_11, &cookie), peer),
            Err(Denied::NeedsLogin)
        );
    }

    /// A session ends 12 hours after its login, as its cookie's Max-Age
    /// says, and the next login forgets it; past 64 at once, the oldest
    /// gives way to a new one.
    #[test]
    fn sessions_end_when_they_expire_or_are_the_oldest_of_too_many() {
        assert_eq!(max_age_seconds(), 12 * 3600);
        let sessions = Sessions::default();
        let old = sessions.open().unwrap();
        let fresh = sessions.open().unwrap();
        let expires = sessions.lock()[&old];
        let ttl = expires.saturating_duration_since(Instant::now());
        assert!(ttl > SESSION_TTL - Duration::from_secs(60) && ttl <= SESSION_TTL);
        // The clock passes the expiry (set back, as no test waits 12 h).
        *sessions.lock().get_mut(&old).unwrap() = Instant::now() - Duration::from_millis(1);
        assert!(!sessions.is_open(&old));
        assert!(sessions.is_open(&fresh));
        sessions.open().unwrap();
        assert!(!sessions.lock().contains_key(&old));

        let mut ids: Vec<String> = Vec::new();
        for _ in 0..MAX_SESSIONS {
            ids.push(sessions.open().unwrap());
        }
        assert_eq!(sessions.lock().len(), MAX_SESSIONS);
        assert!(!sessions.is_open(&fresh), "the oldest gave way");
        assert!(ids.iter().all(|id| sessions.is_open(id)));
    }
}
