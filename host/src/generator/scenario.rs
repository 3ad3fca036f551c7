//! The batch scenario: a span of event time for every service, incidents at
//! seeded random places, events in (nearly) time order, and the ground truth.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::random::Random;
use super::world::{self, Incident, IncidentKind, Service, Shape};
use super::{GenArgs, GenError};

/// Two incidents on one service are at least this far apart (start to start,
/// beyond the first one's length), so each is judged against a settled baseline.
const GAP_MS: i64 = 40 * 60_000;

pub fn run(args: &GenArgs) -> Result<(), GenError> {
    let start = world::parse_start(&args.start).ok_or_else(|| {
        GenError::Usage(format!(
            "--start {}: expected a UTC time like 2026-11-24T00:00:00Z",
            args.start
        ))
    })?;
    let end = start + args.duration.as_millis() as i64;
    let mut random = Random::new(args.seed);
    let services = world::services(&mut random);
    let incidents = schedule(
        &mut random,
        &services,
        start + args.warmup().as_millis() as i64,
        end,
        args.incidents_per_kind,
    )?;
    let truth_path = args
        .truth
        .clone()
        .or_else(|| args.out.as_ref().map(|p| p.with_extension("truth.json")));
    if truth_path.is_some() && truth_path == args.out {
        return Err(GenError::Usage(
            "--truth names the same file as --out".into(),
        ));
    }
    // Both files are created before the first event is made, so that a path
    // that cannot be written fails now, not after hours of events.
    let mut out_file = args.out.as_deref().map(PendingFile::create).transpose()?;
    let truth_file = truth_path.as_deref().map(PendingFile::create).transpose()?;
    let sink: Box<dyn Write + '_> = match &mut out_file {
        Some(pending) => Box::new(&mut pending.file),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 16, sink);
    let shape = Shape {
        parsed: args.parsed,
    };
    let disorder_ms = args.disorder_secs as f64 * 1000.0;
    let write_error = |e: std::io::Error| GenError::writing("events", e);
    // Events wait here, keyed by the moment they leave, until their minute.
    let mut waiting: Vec<(i64, Value)> = Vec::new();
    let mut events = 0u64;
    let mut minute = start;
    while minute < end {
        for second in (minute..(minute + 60_000).min(end)).step_by(1000) {
            for service in &services {
                let active: Vec<&Incident> = incidents
                    .iter()
                    .filter(|i| i.covers(service.name, second))
                    .collect();
                let effects = world::effects(&active);
                let count = random.poisson(service.rate(second, args.scale) * effects.rate_factor);
                for _ in 0..count {
                    let at = second + random.below(1000) as i64;
                    let event = service.event(&mut random, at, &effects, shape);
                    waiting.push((departs(&mut random, at, disorder_ms), event));
                }
                if let Some(id) = effects.new_template
                    && random.chance(0.1)
                {
                    let at = second + random.below(1000) as i64;
                    let event = service.new_template_event(&mut random, at, id);
                    waiting.push((departs(&mut random, at, disorder_ms), event));
                }
                if let Some(id) = effects.new_client
                    && random.chance(0.2)
                {
                    let at = second + random.below(1000) as i64;
                    let event = service.new_client_event(&mut random, at, id, shape);
                    waiting.push((departs(&mut random, at, disorder_ms), event));
                }
            }
        }
        waiting.sort_by_key(|(departs, _)| *departs);
        minute += 60_000;
        let ready = if minute >= end {
            waiting.len()
        } else {
            waiting.partition_point(|(departs, _)| *departs < minute)
        };
        for (_, event) in waiting.drain(..ready) {
            serde_json::to_writer(&mut out, &event).map_err(|e| write_error(e.into()))?;
            out.write_all(b"\n").map_err(write_error)?;
            events += 1;
        }
    }
    out.flush().map_err(write_error)?;
    drop(out);
    if let Some(pending) = out_file {
        pending.commit()?;
    }
    if let Some(mut pending) = truth_file {
        let truth = json!({
            "seed": args.seed,
            "start": world::iso_time(start),
            "end": world::iso_time(end),
            "events": events,
            "incidents": incidents,
        });
        let text = serde_json::to_string_pretty(&truth).expect("truth serialises");
        (pending.file.write_all((text + "\n").as_bytes()))
            .map_err(|e| GenError::at(&pending.path, e))?;
        pending.commit()?;
    }
    eprintln!(
        "wasmstash gen: {events} events, {} incidents{}",
        incidents.len(),
        truth_path
            .map(|p| format!(", ground truth in {}", p.display()))
            .unwrap_or_default()
    );
    Ok(())
}

/// A file written under a temporary name beside its path and renamed into
/// place when complete: a run that fails, or whose reader stops early,
/// leaves no partial file, and an earlier complete one stays as it was.
struct PendingFile {
    file: File,
    path: PathBuf,
    temporary: PathBuf,
    committed: bool,
}

impl PendingFile {
    fn create(path: &Path) -> Result<PendingFile, GenError> {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp{}", std::process::id()));
        let temporary = path.with_file_name(name);
        let file = File::create(&temporary).map_err(|e| GenError::at(path, e))?;
        Ok(PendingFile {
            file,
            path: path.to_owned(),
            temporary,
            committed: false,
        })
    }

    fn commit(mut self) -> Result<(), GenError> {
        std::fs::rename(&self.temporary, &self.path).map_err(|e| GenError::at(&self.path, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// When an event made at `at` leaves: up to the disorder later.
fn departs(random: &mut Random, at: i64, disorder_ms: f64) -> i64 {
    at + (random.unit() * disorder_ms) as i64
}

/// Places `per_kind` incidents of each kind between `from` and `to`, each on a
/// random service, none closer than [`GAP_MS`] to another on the same service.
pub fn schedule(
    random: &mut Random,
    services: &[Service],
    from: i64,
    to: i64,
    per_kind: u32,
) -> Result<Vec<Incident>, GenError> {
    let mut incidents: Vec<Incident> = Vec::new();
    for round in 0..per_kind {
        for kind in IncidentKind::ALL {
            let length = kind.duration_secs() * 1000;
            let latest = to - length - 10 * 60_000;
            if latest <= from {
                return Err(GenError::Usage(
                    "the span after --warmup is too short for incidents; lengthen --duration"
                        .into(),
                ));
            }
            let placed = (0..10_000).find_map(|_| {
                let service = services[random.below(services.len())].name;
                // Minute-aligned, as incidents in real systems are not, but
                // it makes the ground truth easy to read.
                let start =
                    from + (random.unit() * (latest - from) as f64) as i64 / 60_000 * 60_000;
                let clear = incidents
                    .iter()
                    .filter(|i| i.service == service)
                    .all(|i| start >= i.end_ms + GAP_MS || start + length + GAP_MS <= i.start_ms);
                clear.then_some((service, start))
            });
            let Some((service, start)) = placed else {
                return Err(GenError::Usage(format!(
                    "cannot fit {per_kind} incidents of each kind; lengthen --duration or lower --incidents-per-kind"
                )));
            };
            let id = incidents.len();
            incidents.push(Incident {
                id,
                kind,
                service: service.to_owned(),
                start: world::iso_time(start),
                end: world::iso_time(start + length),
                start_ms: start,
                end_ms: start + length,
                detail: detail(kind, round),
            });
        }
    }
    incidents.sort_by_key(|i| i.start_ms);
    for (id, incident) in incidents.iter_mut().enumerate() {
        incident.id = id;
    }
    Ok(incidents)
}

fn detail(kind: IncidentKind, _round: u32) -> String {
    match kind {
        IncidentKind::ErrorBurst => "35% of requests fail (ERROR lines, HTTP 5xx)",
        IncidentKind::LatencySpike => "request latency x15",
        IncidentKind::TrafficDrop => "traffic falls to 25%",
        IncidentKind::ServiceSilent => "the service logs nothing",
        IncidentKind::NewErrorTemplate => "a new kind of ERROR line, about every 10 s",
        IncidentKind::NewClient => {
            "requests from a new client address and user agent, about every 5 s"
        }
    }
    .to_owned()
}
