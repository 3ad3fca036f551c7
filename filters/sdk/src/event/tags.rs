//! Tags, the one field Logstash treats as a set of its own: reading them,
//! adding and removing them with Logstash's rules for each shape `tags`
//! can have (a list, a lone string, nothing, a value Logstash would not
//! hold there).

use serde_json::Value;

use super::Event;

impl Event<'_> {
    /// The event's tags (the `tags` field), in order.
    pub fn tags(&self) -> Vec<&str> {
        self.each_tag().collect()
    }

    /// Whether the event carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.each_tag().any(|t| t == tag)
    }

    fn each_tag(&self) -> impl Iterator<Item = &str> {
        let (list, single) = match self.get("tags") {
            Some(Value::Array(items)) => (items.as_slice(), None),
            Some(Value::String(tag)) => (&[][..], Some(tag.as_str())),
            _ => (&[][..], None),
        };
        list.iter().filter_map(Value::as_str).chain(single)
    }

    /// Adds `tag` unless it is already there, as Logstash's `event.tag`
    /// does. A lone string in `tags` becomes a list first; a `tags` that is
    /// neither a string nor a list of strings moves to `_tags`, and the event
    /// is tagged `_tagsparsefailure`, as Logstash does.
    pub fn add_tag(&mut self, tag: &str) {
        if !self.has_tag(tag) {
            self.append_tags([tag.to_owned()]);
        }
    }

    /// Adds each of `tags` that is not already there, in order: a filter's
    /// `tag_on_failure`, as Logstash's plugins tag a failed event.
    pub fn add_tags(&mut self, tags: &[impl AsRef<str>]) {
        // While `tags` is a value Logstash would not hold, each tag goes
        // in turn: the first one added moves that value to `_tags`, and so
        // changes which tags are present. After that, the rest are looked
        // up in a set, so a long list costs time in proportion to its
        // length, not its square.
        let mut rest = tags;
        while let Some((first, more)) = rest.split_first() {
            if (self.get("tags")).is_none_or(crate::logstash::event_rules::is_legal_tags) {
                break;
            }
            self.add_tag(first.as_ref());
            rest = more;
        }
        if rest.is_empty() {
            return;
        }
        let mut present: std::collections::HashSet<&str> = self.each_tag().collect();
        let new: Vec<String> = (rest.iter().map(AsRef::as_ref))
            .filter(|tag| present.insert(tag))
            .map(str::to_owned)
            .collect();
        if !new.is_empty() {
            self.append_tags(new);
        }
    }

    /// Appends `tags`, each even when the event already has it, as
    /// Logstash's `add_tags` does. A lone string in `tags` becomes a list,
    /// as in Logstash. So does Logstash's rule for a `tags` that is neither
    /// a string nor a list of strings (an object, a number): that value
    /// moves to `_tags` and the event is tagged `_tagsparsefailure`, rather
    /// than being lost under the new tags. (Logstash applies that rule when
    /// it makes the event, and overwrites `_tags`; here a `_tags` already
    /// present is kept, and the value appended to it.)
    pub fn append_tags(&mut self, tags: impl IntoIterator<Item = String>) {
        let tags = tags.into_iter().map(Value::String);
        match self.get_mut("tags") {
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => items.extend(tags),
            Some(lone @ Value::String(_)) => {
                let first = lone.take();
                *lone = Value::Array(std::iter::once(first).chain(tags).collect());
            }
            None | Some(Value::Null) => self.set("tags", Value::Array(tags.collect())),
            Some(illegal) => {
                let illegal = illegal.take();
                match self.get_mut("_tags") {
                    Some(Value::Array(kept)) => kept.push(illegal),
                    Some(other) => {
                        let first = other.take();
                        *other = Value::Array(vec![first, illegal]);
                    }
                    None => self.set("_tags", Value::Array(vec![illegal])),
                }
                let failure = std::iter::once(Value::from("_tagsparsefailure"));
                self.set("tags", Value::Array(failure.chain(tags).collect()));
            }
        }
    }

    /// Removes `tag` as Logstash's `remove_tag` does (`filter_matched`:
    /// `tags = Array(event.get("tags"))`, then `tags.delete(tag)`, then
    /// `event.set("tags", tags)`): a lone string becomes a list, even when
    /// it is another tag, so `"a"` is left as `["a"]` and `"b"` as `[]`.
    /// No `tags`, or null, is left as it is (`return unless tags`); so is a
    /// value Logstash's event never holds as `tags` (it moves a number or
    /// an object to `_tags` when it makes the event).
    pub fn remove_tag(&mut self, tag: &str) {
        match self.get("tags") {
            Some(Value::Array(items)) if items.iter().any(|t| t.as_str() == Some(tag)) => {}
            Some(Value::String(_)) => {}
            _ => return,
        }
        match self.get_mut("tags") {
            Some(Value::Array(items)) => items.retain(|t| t.as_str() != Some(tag)),
            Some(lone) => {
                let kept = Some(lone.take()).filter(|t| t.as_str() != Some(tag));
                *lone = Value::Array(kept.into_iter().collect());
            }
            None => {}
        }
    }
}
