//! Incidents: the kinds `gen` injects, what each one does to a service's
//! traffic while it lasts, and how the ground truth describes it.

use serde::Serialize;

/// The kinds of labelled incidents, as written in the ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    ErrorBurst,
    LatencySpike,
    TrafficDrop,
    ServiceSilent,
    NewErrorTemplate,
    NewClient,
}

impl IncidentKind {
    pub const ALL: [IncidentKind; 6] = [
        IncidentKind::ErrorBurst,
        IncidentKind::LatencySpike,
        IncidentKind::TrafficDrop,
        IncidentKind::ServiceSilent,
        IncidentKind::NewErrorTemplate,
        IncidentKind::NewClient,
    ];

    /// How long the incident lasts, in seconds.
    pub fn duration_secs(self) -> i64 {
        match self {
            IncidentKind::NewErrorTemplate | IncidentKind::NewClient => 300,
            _ => 600,
        }
    }
}

/// One labelled incident: what, where, when (milliseconds since the epoch).
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: usize,
    #[serde(rename = "type")]
    pub kind: IncidentKind,
    pub service: String,
    pub start: String,
    pub end: String,
    #[serde(skip)]
    pub start_ms: i64,
    #[serde(skip)]
    pub end_ms: i64,
    pub detail: String,
    /// For a new error template incident: which of [`NEW_ERROR_TEMPLATES`]
    /// it logs.
    #[serde(skip)]
    pub template: usize,
}

impl Incident {
    /// What the incident does, for the ground truth and the live log.
    pub fn describe(&self) -> String {
        let text = match self.kind {
            IncidentKind::ErrorBurst => "35% of requests fail (ERROR lines, HTTP 5xx)",
            IncidentKind::LatencySpike => "request latency x15",
            IncidentKind::TrafficDrop => "traffic falls to 25%",
            IncidentKind::ServiceSilent => "the service logs nothing",
            IncidentKind::NewErrorTemplate => {
                return format!(
                    "a new kind of ERROR line, about every 10 s: {}",
                    NEW_ERROR_TEMPLATES[self.template % NEW_ERROR_TEMPLATES.len()]
                );
            }
            IncidentKind::NewClient => {
                "requests from a new client address and user agent, about every 5 s"
            }
        };
        text.to_owned()
    }

    pub fn covers(&self, service: &str, millis: i64) -> bool {
        self.service == service && (self.start_ms..self.end_ms).contains(&millis)
    }
}

/// What new error template incidents log: the k-th such incident on a
/// service logs the k-th of these, so a service never shows one twice and
/// each incident's lines are new when it starts. Nine per service and six
/// services leave room for the most a scenario places (50 of each kind).
pub const NEW_ERROR_TEMPLATES: &[&str] = &[
    "Deadlock detected on table {noun}_items while committing transaction {id}",
    "Certificate for {peer}.internal expired; TLS handshake refused",
    "Disk quota exceeded on volume /data/{noun} ({pct}% used)",
    "Schema migration {n} left {noun} index in an inconsistent state",
    "Circuit breaker opened for {peer} after {small} consecutive failures",
    "Replica lag on {noun} shard {small} exceeds threshold; serving stale reads",
    "Message queue {noun}-events rejected publish: broker out of memory",
    "Clock skew of {n} ms against {peer}; token validation disabled",
    "Thread pool {noun}-workers exhausted; rejecting task {id}",
];

/// Share of events that are errors when nothing is wrong, and in a burst.
const NORMAL_ERROR_RATE: f64 = 0.008;
const BURST_ERROR_RATE: f64 = 0.35;

/// The incidents active for one service at one moment.
#[derive(Default, Clone, Copy)]
pub struct Effects {
    pub rate_factor: f64,
    pub error_rate: f64,
    pub latency_factor: f64,
    pub new_template: Option<usize>,
    pub new_client: Option<usize>,
}

pub fn effects(incidents: &[&Incident]) -> Effects {
    let mut effects = Effects {
        rate_factor: 1.0,
        error_rate: NORMAL_ERROR_RATE,
        latency_factor: 1.0,
        ..Effects::default()
    };
    for incident in incidents {
        match incident.kind {
            IncidentKind::ErrorBurst => effects.error_rate = BURST_ERROR_RATE,
            IncidentKind::LatencySpike => effects.latency_factor = 15.0,
            IncidentKind::TrafficDrop => effects.rate_factor = 0.25,
            IncidentKind::ServiceSilent => effects.rate_factor = 0.0,
            IncidentKind::NewErrorTemplate => effects.new_template = Some(incident.template),
            IncidentKind::NewClient => effects.new_client = Some(incident.id),
        }
    }
    effects
}
