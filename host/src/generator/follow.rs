//! The live mode: traffic stamped with the current time, written as NDJSON
//! to a TCP peer (or stdout) forever. A peer that is down or goes away is
//! retried with exponential backoff; the line that failed is sent again, so
//! nothing generated is skipped, only delayed.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::incident::{self, Incident, IncidentKind};
use super::random::Random;
use super::world::{self, Shape};
use super::{GenArgs, GenError};

const TICK: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

pub fn run(args: &GenArgs) -> Result<(), GenError> {
    let mut random = Random::new(args.seed);
    let services = world::services(&mut random);
    let peak_total: f64 = services.iter().map(|s| s.peak_rate).sum();
    let scale = args.rate / peak_total;
    let mut sink = Sink::new(args.tcp.clone());
    let started = Instant::now();
    let mut next_incident = started + args.warmup();
    // Incidents in progress; the ones over are dropped, so ids and each
    // service's new templates are counted apart, over the whole run.
    let mut incidents: Vec<Incident> = Vec::new();
    let mut started_incidents = 0;
    let mut new_templates_shown: HashMap<String, usize> = HashMap::new();
    let shape = Shape {
        parsed: args.parsed,
    };
    let mut line = Vec::with_capacity(1024);
    loop {
        let tick_started = Instant::now();
        let now = now_millis();
        if tick_started >= next_incident {
            let mut incident = start_incident(&mut random, &services, now, started_incidents);
            started_incidents += 1;
            if incident.kind == IncidentKind::NewErrorTemplate {
                let shown = new_templates_shown
                    .entry(incident.service.clone())
                    .or_default();
                incident.template = *shown;
                *shown += 1;
            }
            incident.detail = incident.describe();
            crate::say!(
                "wasmstash gen: incident {}",
                serde_json::to_string(&incident).unwrap_or_default()
            );
            incidents.push(incident);
            next_incident = tick_started + args.incident_every;
        }
        incidents.retain(|i| i.end_ms > now);
        for service in &services {
            let active: Vec<&Incident> = incidents
                .iter()
                .filter(|i| i.covers(service.name, now))
                .collect();
            let effects = incident::effects(&active);
            let seconds = TICK.as_secs_f64();
            let count = random.poisson(service.rate(now, scale) * effects.rate_factor * seconds);
            let mut events: Vec<_> = (0..count)
                .map(|_| service.event(&mut random, now, &effects, shape))
                .collect();
            if let Some(id) = effects
                .new_template
                .filter(|_| random.chance(0.1 * seconds))
            {
                events.push(service.new_template_event(&mut random, now, id));
            }
            if let Some(id) = effects.new_client.filter(|_| random.chance(0.2 * seconds)) {
                events.push(service.new_client_event(&mut random, now, id, shape));
            }
            for event in events {
                line.clear();
                serde_json::to_writer(&mut line, &event).expect("events serialise");
                line.push(b'\n');
                sink.send(&line)?;
            }
        }
        sink.flush()?;
        std::thread::sleep(TICK.saturating_sub(tick_started.elapsed()));
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn start_incident(
    random: &mut Random,
    services: &[world::Service],
    now: i64,
    id: usize,
) -> Incident {
    let kind = IncidentKind::ALL[random.below(IncidentKind::ALL.len())];
    let service = services[random.below(services.len())].name;
    let end = now + kind.duration_secs() * 1000;
    Incident {
        id,
        kind,
        service: service.to_owned(),
        start: world::iso_time(now),
        end: world::iso_time(end),
        start_ms: now,
        end_ms: end,
        detail: String::new(),
        template: 0,
    }
}

/// Where lines go: stdout, or a TCP peer reconnected as needed.
struct Sink {
    peer: Option<String>,
    stream: Option<TcpStream>,
    backoff: Duration,
}

impl Sink {
    fn new(peer: Option<String>) -> Sink {
        Sink {
            peer,
            stream: None,
            backoff: Duration::from_millis(250),
        }
    }

    fn send(&mut self, line: &[u8]) -> Result<(), GenError> {
        let Some(peer) = self.peer.clone() else {
            let mut stdout = std::io::stdout().lock();
            return stdout
                .write_all(line)
                .map_err(|e| GenError::writing("to stdout", e));
        };
        loop {
            if self.stream.is_none() {
                match TcpStream::connect(&peer) {
                    Ok(stream) => {
                        crate::say!("wasmstash gen: connected to {peer}");
                        self.stream = Some(stream);
                        self.backoff = Duration::from_millis(250);
                    }
                    Err(e) => {
                        crate::say!("wasmstash gen: {peer}: {e}; retrying in {:?}", self.backoff);
                        std::thread::sleep(self.backoff);
                        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
            let stream = self.stream.as_mut().expect("connected above");
            match stream.write_all(line) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    crate::say!("wasmstash gen: {peer}: {e}; reconnecting");
                    self.stream = None;
                }
            }
        }
    }

    /// Lines go to TCP unbuffered (a few hundred a second at most), so only
    /// stdout needs flushing.
    fn flush(&mut self) -> Result<(), GenError> {
        if self.peer.is_none() {
            std::io::stdout()
                .flush()
                .map_err(|e| GenError::writing("to stdout", e))?;
        }
        Ok(())
    }
}
