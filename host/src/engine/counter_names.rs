//! The names filters count under through `metric_add`, bounded per filter.
//!
//! A filter names its counters freely, and one that puts a timestamp or an
//! id in the name would make a new one per event. Every place that keeps
//! counters beyond one call (the sidecar's metrics, a run's summary) admits
//! at most [`MAX_COUNTER_NAMES`] names per filter over its whole life, so
//! that across workers and reloads they stay bounded; a refused name is
//! said once per filter in the log. The sidecar forgets a filter a reload
//! removed, with its series.

use std::collections::{BTreeMap, BTreeSet};

/// Counter names a filter may report: per call (the instance drops the rest)
/// and per filter wherever counters are kept (ABI.md, `metric_add`).
pub const MAX_COUNTER_NAMES: usize = 256;

/// The names admitted so far, per filter (whatever identifies one to the
/// keeper: a filter's name, or a pipeline and a filter).
#[derive(Debug)]
pub struct CounterNames<K> {
    admitted: BTreeMap<K, BTreeSet<String>>,
    /// Filters whose refusal has been logged.
    told: BTreeSet<K>,
}

impl<K> Default for CounterNames<K> {
    fn default() -> Self {
        CounterNames {
            admitted: BTreeMap::new(),
            told: BTreeSet::new(),
        }
    }
}

/// How the log names the filter a key stands for.
pub trait NamesFilter {
    fn filter_named(&self) -> String;
}

impl NamesFilter for String {
    fn filter_named(&self) -> String {
        self.as_str().filter_named()
    }
}

impl NamesFilter for &str {
    fn filter_named(&self) -> String {
        format!("filter `{}`", super::printable(self))
    }
}

/// A pipeline and a filter in it, as the sidecar's metrics key them.
impl NamesFilter for (String, String) {
    fn filter_named(&self) -> String {
        format!(
            "pipeline `{}`, filter `{}`",
            self.0,
            super::printable(&self.1)
        )
    }
}

impl<K: Ord + Clone + NamesFilter> CounterNames<K> {
    /// Whether `name` may be counted for `filter`: a name it already has, or
    /// a new one while it has fewer than [`MAX_COUNTER_NAMES`].
    pub fn admit(&mut self, filter: &K, name: &str) -> bool {
        let names = self.admitted.entry(filter.clone()).or_default();
        if names.contains(name) {
            return true;
        }
        if names.len() < MAX_COUNTER_NAMES {
            names.insert(name.to_owned());
            return true;
        }
        if self.told.insert(filter.clone()) {
            tracing::warn!(
                target: "filter",
                "{}: metric `{name}` and later new names not counted: a filter counts at most {MAX_COUNTER_NAMES} names",
                filter.filter_named()
            );
        }
        false
    }
}

impl<K: Ord> CounterNames<K> {
    /// Forgets the filters `keep` refuses: filters no longer run, whose
    /// names would otherwise be kept for good.
    pub fn retain(&mut self, keep: impl Fn(&K) -> bool) {
        self.admitted.retain(|filter, _| keep(filter));
        self.told.retain(|filter| keep(filter));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_filter_gets_its_own_bounded_set() {
        let mut names = CounterNames::default();
        for i in 0..MAX_COUNTER_NAMES {
            assert!(names.admit(&"a", &format!("n{i}")));
        }
        assert!(!names.admit(&"a", "one too many"));
        assert!(!names.admit(&"a", "and another"));
        assert!(names.admit(&"a", "n0"), "a known name goes on counting");
        assert!(names.admit(&"b", "one too many"), "another filter has room");
    }
}
