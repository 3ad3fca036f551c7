//! The filter's options. A detector is on when its table is present
//! (`rate = {}` turns it on with the defaults below); every number has a
//! checked range, so a typo is a load-time error rather than a silent no-op.

use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use wasmstash_sdk::field_ref::{self, FieldPath};

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The field whose value each detector keeps its state under, unless the
    /// detector names its own `key_field`.
    #[serde(default = "default_key_field")]
    pub key_field: String,
    #[serde(default = "default_timestamp_field")]
    pub timestamp_field: String,
    /// Length of the intervals `rate` and `error_ratio` count in.
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    /// How late (in event time) an event may arrive and still be counted.
    #[serde(default = "default_lateness_secs")]
    pub lateness_secs: u64,
    /// An event more than this far ahead of the newest event time seen moves
    /// the clock only once `clock_jump_confirm_events` such events in a row
    /// agree (see README, "Event time and lateness").
    #[serde(default = "default_max_clock_jump_secs")]
    pub max_clock_jump_secs: u64,
    #[serde(default = "default_clock_jump_confirm_events")]
    pub clock_jump_confirm_events: usize,
    /// Most keys each detector keeps state for; beyond, the least recently
    /// seen tenth is evicted.
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
    /// Bytes every detector's keys may take together, their snapshot
    /// included; beyond, the keys seen longest ago are evicted (`keyed.rs`).
    #[serde(default = "default_max_state_mib")]
    pub max_state_mib: u64,
    /// Interval findings waiting for an event to carry them; the oldest are
    /// dropped past this (and counted).
    #[serde(default = "default_max_pending")]
    pub max_pending_findings: usize,
    /// Most interval findings one event carries on top of its own.
    #[serde(default = "default_findings_per_event")]
    pub max_findings_per_event: usize,
    #[serde(default, deserialize_with = "some_table")]
    pub rate: Option<RateConfig>,
    #[serde(default, deserialize_with = "some_table")]
    pub error_ratio: Option<ErrorRatioConfig>,
    pub value_outlier: Option<OneOrMany<OutlierConfig>>,
    #[serde(default, deserialize_with = "some_table")]
    pub rare_template: Option<NoveltyConfig>,
    pub new_value: Option<OneOrMany<NoveltyConfig>>,
}

/// A detector's options, read only from a table: serde would also take a
/// list and read it by position (`rate = ["[service]"]` as `key_field`),
/// which is a typo here, never meant.
struct Table<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(TableOrList::<T, false>(PhantomData))? {
            OneOrMany::One(table) => Ok(Table(table)),
            OneOrMany::Many(_) => unreachable!("a list is refused where only a table is read"),
        }
    }
}

fn some_table<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    // As `Option` reads it: null is the detector off.
    let table = Option::<Table<T>>::deserialize(deserializer)?;
    Ok(table.map(|Table(table)| table))
}

/// Reads a table, and a list of tables too when `LIST` is set. Through
/// the deserializer in hand, so that an error inside a table is reported
/// as serde reports it there (with its path, and the SDK's wording).
struct TableOrList<T, const LIST: bool>(PhantomData<T>);

impl<'de, T: Deserialize<'de>, const LIST: bool> Visitor<'de> for TableOrList<T, LIST> {
    type Value = OneOrMany<T>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str(match LIST {
            true => "a table or a list of tables",
            false => "a table",
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(OneOrMany::One)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if !LIST {
            return Err(de::Error::invalid_type(
                de::Unexpected::Other("list"),
                &self,
            ));
        }
        let mut tables = Vec::new();
        while let Some(Table(table)) = seq.next_element()? {
            tables.push(table);
        }
        Ok(OneOrMany::Many(tables))
    }
}

/// A detector's table, or a list of tables. Read by hand rather than as an
/// untagged enum, whose only error is "data did not match any variant":
/// here a list is read as a list of tables and a table as one, so a typo
/// inside either is reported as serde reports it for that table.
#[derive(Debug)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TableOrList::<T, true>(PhantomData))
    }
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    High,
    Low,
    Both,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    pub key_field: Option<String>,
    /// Standard deviations from the baseline that count as anomalous.
    #[serde(default = "four")]
    pub threshold: f64,
    /// Weight of the newest interval in the baseline.
    #[serde(default = "tenth")]
    pub alpha: f64,
    #[serde(default = "thirty")]
    pub warmup_intervals: u32,
    /// `high` (spikes), `low` (drops and silence) or `both`.
    #[serde(default = "both")]
    pub direction: Direction,
    /// Drops are judged only where the baseline expects at least this many
    /// events per interval, so a quiet key's empty minute is no anomaly.
    #[serde(default = "five")]
    pub min_expected: f64,
    /// A spike must exceed the baseline by at least this many events.
    #[serde(default = "five")]
    pub min_delta: f64,
    /// After this many anomalous intervals in a row the new level is learned.
    #[serde(default = "ten")]
    pub adapt_intervals: u32,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ErrorRatioConfig {
    pub key_field: Option<String>,
    #[serde(default = "four")]
    pub threshold: f64,
    #[serde(default = "tenth")]
    pub alpha: f64,
    #[serde(default = "thirty")]
    pub warmup_intervals: u32,
    /// Intervals with fewer events are neither judged nor learned from.
    #[serde(default = "ten")]
    pub min_events: u32,
    #[serde(default = "three")]
    pub min_errors: u32,
    /// The ratio must exceed the baseline by at least this much (0.05 = 5
    /// percentage points).
    #[serde(default = "five_hundredths")]
    pub min_increase: f64,
    #[serde(default = "ten")]
    pub adapt_intervals: u32,
    /// An event is an error if this field holds one of `levels`
    /// (case-insensitive) ...
    #[serde(default = "default_level_field")]
    pub level_field: String,
    #[serde(default = "default_levels")]
    pub levels: Vec<String>,
    /// ... or this field is a number at least `status_min` ...
    #[serde(default = "default_status_field")]
    pub status_field: String,
    #[serde(default = "default_status_min")]
    pub status_min: f64,
    /// ... or the event has this tag.
    pub tag: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OutlierConfig {
    /// The numeric field to watch (a number or a numeric string).
    pub field: String,
    pub key_field: Option<String>,
    /// Robust standard deviations (1.4826 × MAD) from the median.
    #[serde(default = "five")]
    pub threshold: f64,
    #[serde(default = "high")]
    pub direction: Direction,
    /// `log` judges ln(1 + value), right for latencies and sizes, whose
    /// spread grows with their level; `linear` judges the value itself.
    #[serde(default = "log")]
    pub scale: Scale,
    /// Values per key before it is judged; their exact median and MAD seed
    /// the streaming estimate.
    #[serde(default = "hundred")]
    pub warmup_values: usize,
    /// How far one value may move the estimates, as a fraction of the spread.
    #[serde(default = "hundredth")]
    pub step: f64,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    Log,
    Linear,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct NoveltyConfig {
    /// For `rare_template` this defaults to `[wasmstash][template][id]`;
    /// `new_value` must name it.
    pub field: Option<String>,
    pub key_field: Option<String>,
    /// Events of a key (carrying the field) before it is judged.
    #[serde(default = "thousand")]
    pub warmup_events: u64,
    /// A value seen fewer times than this before is flagged (1 = only new).
    #[serde(default = "one")]
    pub min_count: u32,
    /// Distinct values kept per key. A key that reaches it has too many
    /// values for a new one to mean anything: it is no longer judged.
    #[serde(default = "thousand_usize")]
    pub max_values_per_key: usize,
}

impl Config {
    /// Checks references and ranges; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        let mut fields = vec![
            ("key_field", &self.key_field),
            ("timestamp_field", &self.timestamp_field),
        ];
        let mut any = false;
        if let Some(rate) = &self.rate {
            any = true;
            check_range("rate.threshold", rate.threshold, 0.5, 1e6)?;
            check_range("rate.alpha", rate.alpha, 1e-4, 1.0)?;
            // Negative, either would hold for every interval: a drop to
            // judge wherever nothing is expected, a "spike" below the mean.
            check_range("rate.min_expected", rate.min_expected, 0.0, 1e9)?;
            check_range("rate.min_delta", rate.min_delta, 0.0, 1e9)?;
            check_adapt("rate", rate.adapt_intervals)?;
            if let Some(field) = &rate.key_field {
                fields.push(("rate.key_field", field));
            }
        }
        if let Some(errors) = &self.error_ratio {
            any = true;
            check_range("error_ratio.threshold", errors.threshold, 0.5, 1e6)?;
            check_range("error_ratio.alpha", errors.alpha, 1e-4, 1.0)?;
            check_range("error_ratio.min_increase", errors.min_increase, 0.0, 1.0)?;
            check_adapt("error_ratio", errors.adapt_intervals)?;
            if errors.levels.is_empty() {
                return Err(
                    "error_ratio.levels is empty: list the levels that make an event an \
                            error (e.g. [\"error\", \"fatal\"]), or leave it out for the defaults"
                        .into(),
                );
            }
            if errors.min_events == 0 {
                // An empty interval would then be judged, as 0 errors of 0.
                return Err("error_ratio.min_events must be at least 1".into());
            }
            fields.push(("error_ratio.level_field", &errors.level_field));
            fields.push(("error_ratio.status_field", &errors.status_field));
            if let Some(field) = &errors.key_field {
                fields.push(("error_ratio.key_field", field));
            }
        }
        if let Some(outliers) = &self.value_outlier {
            let list = match outliers {
                OneOrMany::One(one) => std::slice::from_ref(one),
                OneOrMany::Many(many) => many.as_slice(),
            };
            for outlier in list {
                any = true;
                check_range("value_outlier.threshold", outlier.threshold, 0.5, 1e6)?;
                check_range("value_outlier.step", outlier.step, 1e-4, 1.0)?;
                if !(5..=10_000).contains(&outlier.warmup_values) {
                    return Err("value_outlier.warmup_values must be between 5 and 10000".into());
                }
                fields.push(("value_outlier.field", &outlier.field));
                if let Some(field) = &outlier.key_field {
                    fields.push(("value_outlier.key_field", field));
                }
            }
        }
        let novelty = self.rare_template.iter().map(|c| ("rare_template", c));
        let values = match &self.new_value {
            Some(OneOrMany::One(one)) => std::slice::from_ref(one),
            Some(OneOrMany::Many(many)) => many.as_slice(),
            None => &[],
        };
        for (name, config) in novelty.chain(values.iter().map(|c| ("new_value", c))) {
            any = true;
            if name == "new_value" && config.field.is_none() {
                return Err("new_value needs `field`, the field whose values are watched, e.g. \"[source][address]\"".into());
            }
            if config.min_count == 0 {
                // `seen >= 0` always holds, so 0 would flag nothing, silently.
                return Err(format!(
                    "{name}.min_count must be at least 1 (1 flags only values never seen before)"
                ));
            }
            if config.max_values_per_key == 0 || config.max_values_per_key > 1_000_000 {
                return Err(format!(
                    "{name}.max_values_per_key must be between 1 and 1000000"
                ));
            }
            for field in config.field.iter().chain(&config.key_field) {
                fields.push((name, field));
            }
        }
        if !any {
            return Err("no detector is on: add one or more of rate, error_ratio, value_outlier, rare_template, new_value (e.g. `rate = {}`)".into());
        }
        if self.interval_secs == 0 || self.interval_secs > 86_400 {
            return Err("interval_secs must be between 1 and 86400".into());
        }
        if self.lateness_secs > 86_400 {
            return Err("lateness_secs must be at most 86400".into());
        }
        if !(1..=31_536_000).contains(&self.max_clock_jump_secs) {
            return Err("max_clock_jump_secs must be between 1 and 31536000 (a year)".into());
        }
        if !(1..=1_000).contains(&self.clock_jump_confirm_events) {
            return Err(
                "clock_jump_confirm_events must be between 1 and 1000 (1: any event may move the clock)"
                    .into(),
            );
        }
        if self.max_keys == 0 || self.max_keys > 10_000_000 {
            return Err("max_keys must be between 1 and 10000000".into());
        }
        if !(1..=4096).contains(&self.max_state_mib) {
            return Err("max_state_mib must be between 1 and 4096".into());
        }
        // 0 would hold every interval finding back for good, and no counter
        // would say so.
        if !(1..=1_000).contains(&self.max_findings_per_event) {
            return Err("max_findings_per_event must be between 1 and 1000".into());
        }
        if !(1..=1_000_000).contains(&self.max_pending_findings) {
            return Err("max_pending_findings must be between 1 and 1000000".into());
        }
        for (option, field) in fields {
            field_ref::validate_option(option, field)?;
        }
        let own_key = |own: &Option<String>| own.clone().unwrap_or_else(|| self.key_field.clone());
        let outliers = match &self.value_outlier {
            Some(OneOrMany::Many(many)) => many.as_slice(),
            _ => &[],
        };
        refuse_duplicates(
            "value_outlier",
            outliers
                .iter()
                .map(|c| (own_key(&c.key_field), c.field.clone())),
        )?;
        refuse_duplicates(
            "new_value",
            values
                .iter()
                .map(|c| (own_key(&c.key_field), c.field.clone().unwrap_or_default())),
        )?;
        Ok(())
    }
}

/// Refuses two tables of one detector on the same field for the same key
/// field. The README has one table per field; two would store their state
/// under one id in the snapshot, each restoring into the other, and report
/// every finding twice. Fields are compared as paths, so `v` and `[v]` are
/// one field.
fn refuse_duplicates(
    option: &str,
    tables: impl Iterator<Item = (String, String)>,
) -> Result<(), String> {
    let mut seen: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for (key_field, field) in tables {
        let path = |text: &str| text.segments().map(str::to_owned).collect::<Vec<_>>();
        let entry = (path(&key_field), path(&field));
        if seen.contains(&entry) {
            return Err(format!(
                "{option} has two tables with field = \"{field}\" and key_field = \"{key_field}\": \
                 one table per field and key field (give the other a different key_field, or merge them)"
            ));
        }
        seen.push(entry);
    }
    Ok(())
}

/// 0 would learn every anomalous interval at once and report none, silently.
fn check_adapt(detector: &str, adapt_intervals: u32) -> Result<(), String> {
    if adapt_intervals == 0 {
        return Err(format!(
            "{detector}.adapt_intervals must be at least 1: it is how many anomalous intervals \
             in a row are reported before the new level is learned (0 would report none)"
        ));
    }
    Ok(())
}

fn check_range(option: &str, value: f64, min: f64, max: f64) -> Result<(), String> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{option} = {value}: must be between {min} and {max}"
        ))
    }
}

fn default_key_field() -> String {
    "[service][name]".into()
}
fn default_timestamp_field() -> String {
    "@timestamp".into()
}
fn default_interval_secs() -> u64 {
    60
}
fn default_lateness_secs() -> u64 {
    120
}
fn default_max_clock_jump_secs() -> u64 {
    3600
}
fn default_clock_jump_confirm_events() -> usize {
    10
}
fn default_max_keys() -> usize {
    10_000
}
fn default_max_state_mib() -> u64 {
    32
}
fn default_max_pending() -> usize {
    10_000
}
fn default_findings_per_event() -> usize {
    8
}
fn default_level_field() -> String {
    "[log][level]".into()
}
fn default_levels() -> Vec<String> {
    [
        "error",
        "err",
        "fatal",
        "critical",
        "crit",
        "alert",
        "emerg",
        "emergency",
    ]
    .map(String::from)
    .to_vec()
}
fn default_status_field() -> String {
    "[http][response][status_code]".into()
}
fn default_status_min() -> f64 {
    500.0
}
fn four() -> f64 {
    4.0
}
fn five() -> f64 {
    5.0
}
fn tenth() -> f64 {
    0.1
}
fn hundredth() -> f64 {
    0.01
}
fn five_hundredths() -> f64 {
    0.05
}
fn thirty() -> u32 {
    30
}
fn ten() -> u32 {
    10
}
fn three() -> u32 {
    3
}
fn one() -> u32 {
    1
}
fn hundred() -> usize {
    100
}
fn thousand() -> u64 {
    1000
}
fn thousand_usize() -> usize {
    1000
}
fn both() -> Direction {
    Direction::Both
}
fn high() -> Direction {
    Direction::High
}
fn log() -> Scale {
    Scale::Log
}
