//! What the live view learns from sampled results: a tail per pipeline,
//! failures by tag with samples, anomaly flags, and log templates. Every
//! event is masked (`[server.ui] mask_fields`) before it is kept, so nothing
//! unmasked is ever held for, or sent to, a page. All of it is bounded.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{Map, Value, json};

use super::mask::{MASK, Mask, hide_in_text};
use super::tap::{BodyKind, Sample};

const TAIL: usize = 200;
const TAIL_PER_UPDATE: usize = 50;
const FAILURE_TAGS: usize = 64;
const SAMPLES_PER_TAG: usize = 3;
const ANOMALIES: usize = 100;
const TEMPLATES: usize = 2000;
const NEW_TEMPLATES: usize = 50;
const TOP_TEMPLATES: usize = 15;
/// The largest event kept as it is: a larger one is kept, and shown, as
/// a note of its size. A sample may be as large as the sampling budget
/// (`sample_bytes_per_sec`), and every item here is also copied into each
/// page's first frame; with this, all of it stays within some megabytes.
const KEPT_EVENT_BYTES: usize = 16 << 10;
/// Template texts are shown cut to this many characters.
const TEMPLATE_TEXT_CHARS: usize = 1000;
/// Failure tags are counted under their first this many characters: the
/// panel's keys come from the events, large ones too.
const TAG_CHARS: usize = 200;
/// A template id longer than this is no id of the templates filter (16 hex
/// digits) and is not counted: the table's keys come from the events.
const TEMPLATE_ID_BYTES: usize = 64;
/// What an event must contain somewhere to be a failure (tags start with
/// `_`), an anomaly or a templated event.
const MARKS: [&[u8]; 3] = [b"\"_", b"\"anomaly\"", b"\"template\""];

/// One kept event, masked, numbered so a page can tell new from seen.
#[derive(Clone)]
struct Item {
    seq: u64,
    at_ms: u64,
    pipeline: String,
    event: Value,
}

impl Item {
    fn to_json(&self) -> Value {
        json!({"seq": self.seq, "t": self.at_ms, "pipeline": self.pipeline, "event": self.event})
    }
}

#[derive(Default)]
struct TagStats {
    sampled: u64,
    samples: VecDeque<Item>,
    /// `seq` of the last event seen with the tag: when the panel is full,
    /// the tag seen longest ago gives way to a new one, so that the panel
    /// keeps showing the latest failures.
    last_seq: u64,
}

/// A tail entry, kept as the answer's bytes and masked only when sent.
struct RawItem {
    seq: u64,
    at_ms: u64,
    bytes: Vec<u8>,
}

struct TemplateStats {
    text: String,
    count: u64,
}

pub struct Digest {
    mask: Mask,
    seq: u64,
    /// Highest `seq` already sent to every page.
    sent: u64,
    sampled_events: u64,
    tails: BTreeMap<String, VecDeque<RawItem>>,
    failures: BTreeMap<String, TagStats>,
    anomalies: VecDeque<Item>,
    templates: HashMap<String, TemplateStats>,
    new_templates: VecDeque<Item>,
}

impl Digest {
    pub fn new(mask_fields: &[String]) -> Digest {
        Digest {
            mask: Mask::new(mask_fields),
            seq: 0,
            sent: 0,
            sampled_events: 0,
            tails: BTreeMap::new(),
            failures: BTreeMap::new(),
            anomalies: VecDeque::new(),
            templates: HashMap::new(),
            new_templates: VecDeque::new(),
        }
    }

    /// Forgets the tails of pipelines not in `running`: a reload removed
    /// them, and a config that renames its pipelines would otherwise add a
    /// tail with every reload.
    pub fn keep_tails_of(&mut self, running: &[String]) {
        self.tails.retain(|pipeline, _| running.contains(pipeline));
    }

    /// Takes in one sampled answer body.
    pub fn add(&mut self, sample: &Sample, at_ms: u64) {
        let events: Vec<&[u8]> = match sample.kind {
            BodyKind::Event => vec![&sample.body[..]],
            BodyKind::Batch => sample
                .body
                .split(|&b| b == b'\n')
                .filter_map(|line| {
                    line.strip_prefix(b"{\"event\":")
                        .and_then(|rest| rest.strip_suffix(b"}"))
                })
                .collect(),
        };
        // Most healthy traffic carries none of the marks looked for; one pass
        // over the whole body then spares parsing every event.
        let marked = MARKS
            .iter()
            .any(|mark| memchr::memmem::find(&sample.body, mark).is_some());
        let first_seq = self.seq + 1;
        self.seq += events.len() as u64;
        self.sampled_events += events.len() as u64;
        for (offset, event) in events.iter().enumerate() {
            if marked {
                self.look_at(&sample.pipeline, event, first_seq + offset as u64, at_ms);
            }
        }
        // Only the newest events can stay in the tail; copy just those.
        let tail = self.tails.entry(sample.pipeline.clone()).or_default();
        let skip = events.len().saturating_sub(TAIL);
        for (offset, event) in events.iter().enumerate().skip(skip) {
            if tail.len() == TAIL {
                tail.pop_front();
            }
            tail.push_back(RawItem {
                seq: first_seq + offset as u64,
                at_ms,
                bytes: match event.len() {
                    len if len > KEPT_EVENT_BYTES => omitted(len).to_string().into_bytes(),
                    _ => event.to_vec(),
                },
            });
        }
    }

    /// Keeps `bytes` as a failure, an anomaly or a new template if it is one,
    /// and counts its template.
    fn look_at(&mut self, pipeline: &str, bytes: &[u8], seq: u64, at_ms: u64) {
        // The lazy event reads just the fields asked for; an event is parsed
        // in full (and masked) only when it is kept, or when a page is sent
        // its tail.
        let Ok(event) = wasmstash_sdk::Event::parse(bytes) else {
            return;
        };
        let tags: Vec<String> = (event.tags().into_iter())
            .map(|tag| cut(tag, TAG_CHARS))
            .collect();
        let template = match event.get("[wasmstash][template]") {
            Some(Value::Object(t)) => Some(t.clone()),
            _ => None,
        };
        drop(event);
        let mut kept: Option<Option<Item>> = None;
        let mut keep = |digest: &Digest| -> Option<Item> {
            kept.get_or_insert_with(|| {
                digest.masked(bytes).map(|event| Item {
                    seq,
                    at_ms,
                    pipeline: pipeline.to_owned(),
                    event,
                })
            })
            .clone()
        };

        // A tag may quote a masked value (`add_tag` with `%{[user][name]}`):
        // with a mask, failures are counted under the masked event's tags.
        let failure_tags: Vec<String> = match tags.iter().any(|t| crate::is_failure_tag(t)) {
            false => Vec::new(),
            true if self.mask.is_empty() => tags.clone(),
            true => self.masked_tags(bytes),
        };
        for tag in failure_tags.iter().filter(|t| crate::is_failure_tag(t)) {
            let Some(item) = keep(self) else { return };
            if !self.failures.contains_key(tag) && self.failures.len() >= FAILURE_TAGS {
                let oldest = (self.failures.iter())
                    .min_by_key(|(_, stats)| stats.last_seq)
                    .map(|(tag, _)| tag.clone());
                if let Some(oldest) = oldest {
                    self.failures.remove(&oldest);
                }
            }
            let stats = self.failures.entry(tag.clone()).or_default();
            stats.sampled += 1;
            stats.last_seq = seq;
            push_bounded(&mut stats.samples, item, SAMPLES_PER_TAG);
        }
        if tags.iter().any(|t| t == "anomaly")
            && let Some(item) = keep(self)
        {
            push_bounded(&mut self.anomalies, item, ANOMALIES);
        }
        if let Some(template) = template {
            self.count_template(&template, &mut keep);
        }
    }

    fn count_template(
        &mut self,
        template: &Map<String, Value>,
        keep: &mut impl FnMut(&Digest) -> Option<Item>,
    ) {
        let (Some(id), Some(_)) = (
            template.get("id").and_then(Value::as_str),
            template.get("text").and_then(Value::as_str),
        ) else {
            return;
        };
        if id.len() > TEMPLATE_ID_BYTES {
            return;
        }
        if template.get("new") == Some(&Value::Bool(true))
            && let Some(item) = keep(self)
        {
            push_bounded(&mut self.new_templates, item, NEW_TEMPLATES);
        }
        if let Some(stats) = self.templates.get_mut(id) {
            stats.count += 1;
            return;
        }
        if self.templates.len() >= TEMPLATES {
            // Make room by forgetting the rarest template.
            if let Some(rarest) = self
                .templates
                .iter()
                .min_by_key(|(_, s)| s.count)
                .map(|(id, _)| id.clone())
            {
                self.templates.remove(&rarest);
            }
        }
        // Shown as the event's masked template says it; an event too large
        // to keep shows none.
        let item = keep(self);
        let shown = (item.as_ref()).and_then(|item| {
            let text = item.event.pointer("/wasmstash/template/text")?;
            text.as_str().map(|text| cut(text, TEMPLATE_TEXT_CHARS))
        });
        let too_large = (item.as_ref()).is_some_and(|item| item.event.get(OMITTED).is_some());
        let text = match shown {
            Some(text) => text,
            None if too_large => "(its event was too large for the live view)".to_owned(),
            None => MASK.to_owned(),
        };
        self.templates
            .insert(id.to_owned(), TemplateStats { text, count: 1 });
    }

    /// The event's tags as its masked form shows them, each cut to
    /// [`TAG_CHARS`]; read from the whole event, however large, as the tags
    /// are all a failure is counted by. Only the tags are rewritten: the
    /// rest of a large event is not masked for nothing.
    fn masked_tags(&self, bytes: &[u8]) -> Vec<String> {
        let Ok(mut value) = serde_json::from_slice::<Value>(bytes) else {
            return Vec::new();
        };
        let hidden = self.mask.mask_fields(&mut value);
        let tags = match value.get("tags") {
            Some(Value::Array(tags)) => tags.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(tag)) => vec![tag.as_str()],
            _ => Vec::new(),
        };
        (tags.into_iter())
            .map(|tag| {
                let mut tag = tag.to_owned();
                hide_in_text(&mut tag, &hidden);
                cut(&tag, TAG_CHARS)
            })
            .collect()
    }

    /// The event as JSON, masked (see [`Mask`]), or what stands for it
    /// when it is too large to keep.
    fn masked(&self, bytes: &[u8]) -> Option<Value> {
        if bytes.len() > KEPT_EVENT_BYTES {
            return Some(omitted(bytes.len()));
        }
        let mut value: Value = serde_json::from_slice(bytes).ok()?;
        self.mask.apply(&mut value);
        Some(value)
    }

    /// An update for the pages: everything (`full`, for a page that just
    /// connected) or only what is new since the last update.
    pub fn frame(&self, full: bool) -> Value {
        let since = if full { 0 } else { self.sent };
        let newer = |items: &VecDeque<Item>, most: usize| -> Vec<Value> {
            let fresh: Vec<&Item> = items.iter().filter(|i| i.seq > since).collect();
            let skip = fresh.len().saturating_sub(most);
            fresh[skip..].iter().map(|i| i.to_json()).collect()
        };
        let tails: Map<String, Value> = self
            .tails
            .iter()
            .map(|(pipeline, items)| {
                let most = if full { TAIL } else { TAIL_PER_UPDATE };
                let fresh: Vec<&RawItem> = items.iter().filter(|i| i.seq > since).collect();
                let skip = fresh.len().saturating_sub(most);
                let sent: Vec<Value> = fresh[skip..]
                    .iter()
                    .filter_map(|raw| {
                        let item = Item {
                            seq: raw.seq,
                            at_ms: raw.at_ms,
                            pipeline: pipeline.clone(),
                            event: self.masked(&raw.bytes)?,
                        };
                        Some(item.to_json())
                    })
                    .collect();
                (pipeline.clone(), Value::Array(sent))
            })
            .collect();
        let failures: Vec<Value> = self
            .failures
            .iter()
            .map(|(tag, stats)| {
                // The page keeps the latest sample of each tag: an update
                // sends only the new ones, not every kept one again.
                let samples: Vec<Value> = (stats.samples.iter())
                    .filter(|item| item.seq > since)
                    .map(Item::to_json)
                    .collect();
                json!({"tag": tag, "sampled": stats.sampled, "samples": samples})
            })
            .collect();
        let mut top: Vec<(&String, &TemplateStats)> = self.templates.iter().collect();
        top.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        let top: Vec<Value> = top
            .into_iter()
            .take(TOP_TEMPLATES)
            .map(|(id, s)| json!({"id": id, "text": s.text, "count": s.count}))
            .collect();
        json!({
            "sampled_events": self.sampled_events,
            "tail": tails,
            "failures": failures,
            "anomalies": newer(&self.anomalies, ANOMALIES),
            "templates": {"top": top, "distinct": self.templates.len(),
                          "new": newer(&self.new_templates, NEW_TEMPLATES)},
        })
    }

    /// Marks everything so far as sent to every page.
    pub fn mark_sent(&mut self) {
        self.sent = self.seq;
    }
}

fn push_bounded(items: &mut VecDeque<Item>, item: Item, most: usize) {
    if items.len() == most {
        items.pop_front();
    }
    items.push_back(item);
}

/// The key of what stands for an event too large to keep.
const OMITTED: &str = "wasmstash_live_view";

/// What stands for an event of `len` bytes, too large to keep.
fn omitted(len: usize) -> Value {
    json!({OMITTED: {"omitted": format!(
        "an event of {len} bytes, over the {KEPT_EVENT_BYTES} the live view keeps"
    )}})
}

/// `text` cut to `chars` characters, marked where it was.
fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
