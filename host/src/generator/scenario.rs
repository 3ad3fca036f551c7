//! The batch scenario: a span of event time for every service, incidents at
//! seeded random places, events in (nearly) time order, and the ground truth.

use std::io::{BufWriter, Write};

use serde_json::{Value, json};

use super::incident::{self, Incident, IncidentKind, NEW_ERROR_TEMPLATES};
use super::random::Random;
use super::world::{self, Service, Shape};
use super::{GenArgs, GenError};
use crate::files::output::{self, OutputFile};

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
    let end = after(start, args.duration)?;
    let mut random = Random::new(args.seed);
    let services = world::services(&mut random);
    check_waiting_bound(&services, args)?;
    let incidents = schedule(
        &mut random,
        &services,
        after(start, args.warmup())?,
        end,
        args.incidents_per_kind,
    )?;
    // A FIFO or a device is written directly, never replaced, so two
    // writers to one (`--out /dev/stdout --truth /dev/stderr 2>&1`) are fine.
    if let (Some(truth), Some(out)) = (&args.truth, &args.out)
        && output::is_replaced_whole(out)
        && output::is_replaced_whole(truth)
        && output::same_file(truth, out)
    {
        return Err(GenError::Usage(
            "--truth names the same file as --out".into(),
        ));
    }
    // A stream's ground truth is not guessed into a file beside it: for
    // `--out /dev/stdout` that would be a new file under /dev.
    let truth_path = match (&args.truth, &args.out) {
        (Some(truth), _) => Some(truth.clone()),
        (None, Some(out)) if output::is_replaced_whole(out) => {
            Some(out.with_extension("truth.json"))
        }
        _ => None,
    };
    let truth_note = match (&truth_path, &args.out) {
        (Some(path), _) => format!(", ground truth in {}", path.display()),
        (None, Some(_)) => ", no ground truth written (give --truth FILE)".to_owned(),
        (None, None) => String::new(),
    };
    // Both files are created before the first event is made, so that a path
    // that cannot be written fails now, not after hours of events.
    let create = |path| OutputFile::create(path).map_err(GenError::file);
    let mut out_file = args.out.as_deref().map(create).transpose()?;
    let mut truth_file = truth_path.as_deref().map(create).transpose()?;
    for file in out_file.iter_mut().chain(truth_file.iter_mut()) {
        file.start().map_err(GenError::file)?;
    }
    let sink: Box<dyn Write + '_> = match &mut out_file {
        Some(pending) => Box::new(&mut pending.file),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 16, sink);
    let shape = Shape {
        parsed: args.parsed,
    };
    let disorder_ms = args.disorder_secs as f64 * 1000.0;
    let destination = match &args.out {
        Some(path) => format!("events to {}", crate::files::shown(path)),
        None => "events".to_owned(),
    };
    let write_error = |e: std::io::Error| GenError::writing(&destination, e);
    // Events wait here, keyed by the moment they leave, until their minute;
    // as text, a fraction of their size as values.
    let mut waiting: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut events = 0u64;
    let mut minute = start;
    while minute < end {
        for second in (minute..(minute + 60_000).min(end)).step_by(1000) {
            for service in &services {
                let active: Vec<&Incident> = incidents
                    .iter()
                    .filter(|i| i.covers(service.name, second))
                    .collect();
                let effects = incident::effects(&active);
                let count = random.poisson(service.rate(second, args.scale) * effects.rate_factor);
                for _ in 0..count {
                    let at = second + random.below(1000) as i64;
                    let event = service.event(&mut random, at, &effects, shape);
                    waiting.push((departs(&mut random, at, disorder_ms), to_text(&event)));
                }
                if let Some(id) = effects.new_template
                    && random.chance(0.1)
                {
                    let at = second + random.below(1000) as i64;
                    let event = service.new_template_event(&mut random, at, id);
                    waiting.push((departs(&mut random, at, disorder_ms), to_text(&event)));
                }
                if let Some(id) = effects.new_client
                    && random.chance(0.2)
                {
                    let at = second + random.below(1000) as i64;
                    let event = service.new_client_event(&mut random, at, id, shape);
                    waiting.push((departs(&mut random, at, disorder_ms), to_text(&event)));
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
            out.write_all(&event).map_err(write_error)?;
            events += 1;
        }
    }
    out.flush().map_err(write_error)?;
    drop(out);
    // The truth is written before the events are put in place, so that a
    // truth that cannot be written leaves the earlier pair as it was.
    if let Some(pending) = &mut truth_file {
        let truth = json!({
            "seed": args.seed,
            "start": world::iso_time(start),
            "end": world::iso_time(end),
            "events": events,
            "incidents": incidents,
        });
        let text = serde_json::to_string_pretty(&truth).expect("truth serialises");
        (pending.write_all((text + "\n").as_bytes())).map_err(GenError::file)?;
    }
    for file in out_file.into_iter().chain(truth_file) {
        file.commit().map_err(GenError::file)?;
    }
    crate::say!(
        "wasmstash gen: {events} events, {} incidents{truth_note}",
        incidents.len(),
    );
    Ok(())
}

/// The most events that may wait in memory for their time to leave.
const MAX_WAITING_EVENTS: f64 = 2_000_000.0;

/// Refuses a --scale and --disorder-secs whose events waiting to leave (a
/// minute's and the disorder's worth, at the daily peak) would not fit in
/// [`MAX_WAITING_EVENTS`], before any is made.
fn check_waiting_bound(services: &[Service], args: &GenArgs) -> Result<(), GenError> {
    let peak_per_second: f64 = services.iter().map(|s| s.peak_rate).sum::<f64>() * args.scale;
    let waiting = peak_per_second * (60 + args.disorder_secs) as f64;
    if waiting > MAX_WAITING_EVENTS {
        return Err(GenError::Usage(format!(
            "--scale {} with --disorder-secs {} would hold about {waiting:.0} events in memory \
             at the peak (at most {MAX_WAITING_EVENTS}); lower either",
            args.scale, args.disorder_secs
        )));
    }
    Ok(())
}

/// `start` plus `span` in milliseconds, or a usage error past what event
/// times can hold.
fn after(start: i64, span: std::time::Duration) -> Result<i64, GenError> {
    // One millisecond past 9999-12-31T23:59:59.999Z: a later time needs a
    // fifth year digit, which RFC 3339 (and so `@timestamp`) has no room for.
    const END_OF_YEAR_9999_MS: i64 = 253_402_300_800_000;
    i64::try_from(span.as_millis())
        .ok()
        .and_then(|millis| start.checked_add(millis))
        .filter(|end| *end <= END_OF_YEAR_9999_MS)
        .ok_or_else(|| {
            GenError::Usage(
                "--start plus the span passes the end of year 9999, past which a time has no RFC 3339 form".into(),
            )
        })
}

/// An event as the NDJSON line it leaves as.
fn to_text(event: &Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(event).expect("events serialise");
    line.push(b'\n');
    line
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
    for _ in 0..per_kind {
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
                let on_service = || incidents.iter().filter(|i| i.service == service);
                let clear = on_service()
                    .all(|i| start >= i.end_ms + GAP_MS || start + length + GAP_MS <= i.start_ms);
                // A service that has shown every new template has none left
                // to show for the first time.
                let has_room = kind != IncidentKind::NewErrorTemplate
                    || on_service().filter(|i| i.kind == kind).count() < NEW_ERROR_TEMPLATES.len();
                (clear && has_room).then_some((service, start))
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
                detail: String::new(),
                template: 0,
            });
        }
    }
    incidents.sort_by_key(|i| i.start_ms);
    for id in 0..incidents.len() {
        let earlier_new_templates = incidents[..id]
            .iter()
            .filter(|i| i.kind == IncidentKind::NewErrorTemplate)
            .filter(|i| i.service == incidents[id].service)
            .count();
        let incident = &mut incidents[id];
        incident.id = id;
        incident.template = earlier_new_templates;
        incident.detail = incident.describe();
    }
    Ok(incidents)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every new error template incident shows its service a template it
    /// has not shown before, even at the most incidents a run may place;
    /// otherwise the later one logs nothing new and cannot be detected.
    #[test]
    fn no_service_is_given_one_new_template_twice() {
        for seed in 0..20 {
            let mut random = Random::new(seed);
            let services = world::services(&mut random);
            let day = 24 * 3_600_000;
            for per_kind in [2, 50] {
                let span = if per_kind == 2 { day } else { 30 * day };
                let incidents = schedule(&mut random, &services, 0, span, per_kind).unwrap();
                let mut shown = std::collections::HashSet::new();
                let new_templates: Vec<_> = incidents
                    .iter()
                    .filter(|i| i.kind == IncidentKind::NewErrorTemplate)
                    .collect();
                assert_eq!(new_templates.len(), per_kind as usize);
                for incident in new_templates {
                    assert!(
                        shown.insert((&incident.service, incident.template)),
                        "seed {seed}: {incident:?}"
                    );
                    assert!(
                        incident
                            .detail
                            .ends_with(NEW_ERROR_TEMPLATES[incident.template])
                    );
                }
            }
        }
    }
}
