//! The simulated system: services with their hosts, clients, URL paths and
//! application log templates, and a daily traffic shape, as incidents
//! (`incident.rs`) change them. Both the batch scenario and the live demo
//! draw events from here, so the two look alike.

use serde_json::{Value, json};

use super::incident::{Effects, NEW_ERROR_TEMPLATES};
use super::random::Random;
use wasmstash_sdk::civil::civil_from_days;
use wasmstash_sdk::timestamp::Timestamp;

pub struct Service {
    pub name: &'static str,
    /// Events per second at the daily peak.
    pub peak_rate: f64,
    /// Share of events that are access lines (the rest are application lines).
    pub access_share: f64,
    /// Median request latency in ms.
    pub latency_ms: f64,
    paths: &'static [&'static str],
    nouns: &'static [&'static str],
    peers: &'static [&'static str],
    clients: Vec<(String, &'static str)>,
}

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
];

/// Application log templates: level, logger, text with `{placeholders}`,
/// weight, and whether the line reports a request latency.
const TEMPLATES: &[(&str, &str, &str, f64, bool)] = &[
    (
        "INFO",
        "web.RequestLog",
        "Handled {method} {path} for user {user} in {ms} ms",
        60.0,
        true,
    ),
    (
        "INFO",
        "service.{Noun}Service",
        "Loaded {n} {noun} records from cache in {ms} ms",
        12.0,
        true,
    ),
    (
        "INFO",
        "service.{Noun}Service",
        "Updated {noun} {id} (version {small})",
        10.0,
        false,
    ),
    (
        "INFO",
        "client.{Peer}Client",
        "Call to {peer} succeeded after {ms} ms",
        8.0,
        true,
    ),
    (
        "WARN",
        "db.Pool",
        "Connection pool at {pct}% capacity ({small} waiting)",
        2.0,
        false,
    ),
    (
        "WARN",
        "client.{Peer}Client",
        "Retrying call to {peer} (attempt {small})",
        1.5,
        false,
    ),
];

/// The errors a service logs normally, and in an error burst.
const ERROR_TEMPLATES: &[(&str, &str)] = &[
    (
        "client.{Peer}Client",
        "Call to {peer} failed: HTTP 503 after {ms} ms",
    ),
    (
        "service.{Noun}Service",
        "Failed to update {noun} {id}: optimistic lock conflict",
    ),
    (
        "web.RequestLog",
        "Unhandled exception for {method} {path}: java.lang.NullPointerException",
    ),
];

/// A service as defined: name, peak rate, access share, latency, URL paths,
/// nouns its messages use, peers it calls.
type ServiceDef = (&'static str, f64, f64, f64, Words, Words, Words);
type Words = &'static [&'static str];

pub fn services(random: &mut Random) -> Vec<Service> {
    let defs: [ServiceDef; 6] = [
        (
            "frontend",
            9.0,
            0.8,
            35.0,
            &["/", "/products", "/product/{id}", "/cart", "/static/app.js"],
            &["page", "session"],
            &["catalog", "checkout"],
        ),
        (
            "checkout",
            5.0,
            0.5,
            80.0,
            &["/api/cart", "/api/checkout", "/api/order/{id}"],
            &["order", "cart"],
            &["payments", "inventory"],
        ),
        (
            "payments",
            3.0,
            0.4,
            120.0,
            &["/api/pay", "/api/refund", "/api/payment/{id}"],
            &["payment", "invoice"],
            &["bank", "fraud"],
        ),
        (
            "inventory",
            4.0,
            0.5,
            25.0,
            &["/api/stock/{id}", "/api/reserve", "/api/release"],
            &["stock", "warehouse"],
            &["catalog", "shipping"],
        ),
        (
            "catalog",
            6.0,
            0.6,
            20.0,
            &["/api/items", "/api/item/{id}", "/api/search"],
            &["item", "category"],
            &["search", "inventory"],
        ),
        (
            "auth",
            3.5,
            0.5,
            15.0,
            &["/oauth/token", "/api/session", "/api/user/{id}"],
            &["token", "user"],
            &["ldap", "sessions"],
        ),
    ];
    defs.into_iter()
        .enumerate()
        .map(
            |(index, (name, peak_rate, access_share, latency_ms, paths, nouns, peers))| {
                let clients = (0..24)
                    .map(|i| {
                        let address =
                            format!("10.{}.{}.{}", 10 + index, i / 8, 10 + random.below(200));
                        (address, USER_AGENTS[random.below(USER_AGENTS.len())])
                    })
                    .collect();
                Service {
                    name,
                    peak_rate,
                    access_share,
                    latency_ms,
                    paths,
                    nouns,
                    peers,
                    clients,
                }
            },
        )
        .collect()
}

/// The daily shape: 1 at 14:00 UTC, 0.25 at 02:00, smooth in between.
pub fn daily_factor(millis: i64) -> f64 {
    let hour = millis.rem_euclid(86_400_000) as f64 / 3_600_000.0;
    let phase = (hour - 14.0) / 24.0 * std::f64::consts::TAU;
    0.625 + 0.375 * phase.cos()
}

/// Output options for events.
#[derive(Clone, Copy)]
pub struct Shape {
    /// Add the fields grok would parse from access lines.
    pub parsed: bool,
}

impl Service {
    /// Mean events per second at `millis` before incidents.
    pub fn rate(&self, millis: i64, scale: f64) -> f64 {
        self.peak_rate * scale * daily_factor(millis)
    }

    /// One ordinary event of this service at `millis`.
    pub fn event(
        &self,
        random: &mut Random,
        millis: i64,
        effects: &Effects,
        shape: Shape,
    ) -> Value {
        let host = format!("{}-{}", self.name, 1 + random.below(3));
        let error = random.chance(effects.error_rate);
        if random.chance(self.access_share) {
            let client = &self.clients[random.below(self.clients.len())];
            self.access_event(random, millis, &host, (&client.0, client.1), error, shape)
        } else {
            self.app_event(random, millis, &host, error, effects.latency_factor)
        }
    }

    /// A request from the new client of incident `id`.
    pub fn new_client_event(
        &self,
        random: &mut Random,
        millis: i64,
        id: usize,
        shape: Shape,
    ) -> Value {
        let address = format!("203.0.113.{}", 10 + id % 200);
        let agent = "python-requests/2.32.3";
        let host = format!("{}-1", self.name);
        self.access_event(random, millis, &host, (&address, agent), false, shape)
    }

    /// An error in the `template`-th of [`NEW_ERROR_TEMPLATES`] (past the
    /// last, they come round again).
    pub fn new_template_event(&self, random: &mut Random, millis: i64, template: usize) -> Value {
        let text = self.fill(
            random,
            NEW_ERROR_TEMPLATES[template % NEW_ERROR_TEMPLATES.len()],
            1.0,
        );
        let host = format!("{}-2", self.name);
        self.app_line(
            millis,
            &host,
            "ERROR",
            "db.TransactionManager",
            &text.0,
            None,
        )
    }

    fn access_event(
        &self,
        random: &mut Random,
        millis: i64,
        host: &str,
        client: (&str, &str),
        error: bool,
        shape: Shape,
    ) -> Value {
        let (address, agent) = client;
        let path = self.path(random);
        let method = if path.contains("/api/") && random.chance(0.3) {
            "POST"
        } else {
            "GET"
        };
        let status = if error {
            [500, 502, 503][random.below(3)]
        } else if random.chance(0.01) {
            404
        } else {
            200
        };
        let bytes = 200 + random.below(20_000);
        let stamp = apache_time(millis);
        let message = format!(
            "{address} - - [{stamp}] \"{method} {path} HTTP/1.1\" {status} {bytes} \"-\" \"{agent}\""
        );
        let mut event = base(millis, &message, self.name, host, "apache.access");
        if shape.parsed {
            event["source"] = json!({"address": address});
            event["http"] = json!({"request": {"method": method}, "response": {"status_code": status, "body": {"bytes": bytes}}, "version": "1.1"});
            event["url"] = json!({"original": path});
            event["user_agent"] = json!({"original": agent});
        }
        event
    }

    fn app_event(
        &self,
        random: &mut Random,
        millis: i64,
        host: &str,
        error: bool,
        latency_factor: f64,
    ) -> Value {
        let (level, logger, template, timed) = if error {
            let (logger, template) = ERROR_TEMPLATES[random.below(ERROR_TEMPLATES.len())];
            ("ERROR", logger, template, template.contains("{ms}"))
        } else {
            let weights: Vec<f64> = TEMPLATES.iter().map(|t| t.3).collect();
            let (level, logger, template, _, timed) = TEMPLATES[random.weighted(&weights)];
            (level, logger, template, timed)
        };
        let (text, latency) = self.fill(random, template, latency_factor);
        let logger = self.fill(random, logger, 1.0).0;
        self.app_line(
            millis,
            host,
            level,
            &logger,
            &text,
            latency.filter(|_| timed),
        )
    }

    fn app_line(
        &self,
        millis: i64,
        host: &str,
        level: &str,
        logger: &str,
        text: &str,
        latency_ms: Option<f64>,
    ) -> Value {
        let message = format!(
            "{} {level:<5} [{}] {logger} - {text}",
            iso_time(millis),
            self.name
        );
        let mut event = base(millis, &message, self.name, host, "app");
        event["log"] = json!({"level": level, "logger": logger});
        if let Some(ms) = latency_ms {
            event["event"]["duration"] = json!((ms * 1e6).round() as u64);
        }
        event
    }

    /// One of the service's URL paths, ids filled in.
    fn path(&self, random: &mut Random) -> String {
        let template = self.paths[random.below(self.paths.len())];
        self.fill(random, template, 1.0).0
    }

    /// Fills a template's placeholders; returns the text and the latency it
    /// drew, if it has one.
    fn fill(
        &self,
        random: &mut Random,
        template: &str,
        latency_factor: f64,
    ) -> (String, Option<f64>) {
        let mut out = String::with_capacity(template.len() + 32);
        let mut latency = None;
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = open
                + rest[open..]
                    .find('}')
                    .expect("templates close their placeholders");
            let name = &rest[open + 1..close];
            let noun = self.nouns[random.below(self.nouns.len())];
            let peer = self.peers[random.below(self.peers.len())];
            match name {
                "ms" => {
                    let ms = self.latency_ms * latency_factor * (0.35 * random.normal()).exp();
                    latency = Some(ms);
                    out.push_str(&format!("{}", ms.round().max(1.0)));
                }
                "id" => out.push_str(&format!("{:08x}", random.next_u64() as u32)),
                "n" => out.push_str(&(1 + random.below(5000)).to_string()),
                "small" => out.push_str(&(1 + random.below(9)).to_string()),
                "pct" => out.push_str(&(60 + random.below(40)).to_string()),
                "user" => out.push_str(&format!("u{}", 1000 + random.below(9000))),
                "method" => out.push_str(["GET", "POST"][random.below(2)]),
                "path" => out.push_str(&self.path(random)),
                "noun" => out.push_str(noun),
                "Noun" => out.push_str(&capitalised(noun)),
                "peer" => out.push_str(peer),
                "Peer" => out.push_str(&capitalised(peer)),
                other => panic!("unknown placeholder {{{other}}}"),
            }
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        (out, latency)
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn base(millis: i64, message: &str, service: &str, host: &str, dataset: &str) -> Value {
    json!({
        "@timestamp": iso_time(millis),
        "message": message,
        "service": {"name": service},
        "host": {"name": host},
        "event": {"dataset": dataset},
    })
}

/// Civil date and time of `millis` (UTC): year, month, day, h, m, s, ms.
fn civil(millis: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
    let (days, of_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let seconds = of_day / 1000;
    (
        year,
        month,
        day,
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60,
        of_day % 1000,
    )
}

pub fn iso_time(millis: i64) -> String {
    Timestamp::from_unix_millis(millis).text()
}

fn apache_time(millis: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, _) = civil(millis);
    format!(
        "{d:02}/{}/{y:04}:{h:02}:{mi:02}:{s:02} +0000",
        MONTHS[(mo - 1) as usize]
    )
}

/// Reads `--start`, a UTC time as Logstash writes `@timestamp`
/// (`2026-11-24T00:00:00Z`), in milliseconds since the epoch.
pub fn parse_start(text: &str) -> Option<i64> {
    // A signed year (`+12026`, `-0001`) has no place in the logs written.
    if text.starts_with(['+', '-']) {
        return None;
    }
    Timestamp::parse(text)?.unix_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_format_as_logs_do() {
        let t = parse_start("2026-11-24T13:05:09Z").unwrap();
        assert_eq!(iso_time(t + 7), "2026-11-24T13:05:09.007Z");
        assert_eq!(apache_time(t), "24/Nov/2026:13:05:09 +0000");
        assert_eq!(parse_start("2026-11-24 13:05:09"), None);
        // A date that is not in the calendar is refused, not moved on.
        assert_eq!(parse_start("2026-02-31T00:00:00Z"), None);
        assert_eq!(parse_start("-0001-01-01T00:00:00Z"), None);
    }

    #[test]
    fn the_day_peaks_in_the_afternoon() {
        let midnight = parse_start("2026-11-24T00:00:00Z").unwrap();
        let at = |hour: i64| daily_factor(midnight + hour * 3_600_000);
        assert!((at(14) - 1.0).abs() < 1e-9);
        assert!((at(2) - 0.25).abs() < 1e-9);
        assert!(at(9) < at(12) && at(18) < at(15));
    }
}
