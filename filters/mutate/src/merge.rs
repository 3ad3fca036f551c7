//! `merge`: Logstash's joining of fields into one, which is a Ruby
//! `Hash#update` for two objects and `Array()` concatenation for anything
//! else, with its quirk of reading the destination once.

use wasmstash_sdk::field_ref::FieldRef;
use wasmstash_sdk::logstash::event_rules::refusal;
use wasmstash_sdk::prelude::*;

/// Logstash's `merge` of the fields `added` into `dest`, one by one: two
/// objects merge (`added`'s keys win); an object and a non-object do not
/// (left as they are, as Logstash does after logging an error); anything
/// else makes `dest` the list of both, a missing or null side counting as
/// no values. mutate.rb reads `dest` once, before the first field, and
/// sets it after each: an object or a list read then is changed in place
/// and gathers every field, but Ruby's `Array()` of anything else (a
/// missing field, a string) is a new list at each field, so only the last
/// field is merged onto it (`a: "s"` with `b` and `c` becomes
/// `["s", c]`). An error where Logstash's event refuses a set (`dest`
/// through a string, at `@timestamp`, `tags` that would hold a
/// non-string): its mutate then tags the event.
pub fn merge(event: &mut Event, dest: &FieldRef, added: &[FieldRef]) -> Result<(), String> {
    let read_once = event.get(dest).cloned();
    let mut gathered = read_once.clone();
    for field in added {
        let added_value = event.get(field).cloned();
        let merged = match (&mut gathered, added_value) {
            (Some(Value::Object(into)), Some(Value::Object(from))) => {
                into.extend(from);
                Value::Object(into.clone())
            }
            (Some(Value::Object(_)), _) | (_, Some(Value::Object(_))) => {
                // Logstash logs this at error, and goes on.
                host::log(
                    Level::Error,
                    &format!(
                        "merge: `{field}` cannot be merged into `{dest}`: one is an object and \
                         the other is not; both are left as they are"
                    ),
                );
                continue;
            }
            (Some(Value::Array(into)), added_value) => {
                into.extend(as_list(added_value));
                Value::Array(into.clone())
            }
            (_, added_value) => {
                let mut list = as_list(read_once.clone());
                list.extend(as_list(added_value));
                Value::Array(list)
            }
        };
        if let Some(why) = refusal(event, dest, &merged) {
            return Err(crate::refused("merge", dest.as_str(), why));
        }
        event.set(dest, merged);
    }
    Ok(())
}

/// Ruby's `Array()`: a list as it is, nothing as empty, a value as a list
/// of one.
fn as_list(value: Option<Value>) -> Vec<Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
    }
}
