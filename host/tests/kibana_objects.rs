//! The shipped Kibana saved objects (`kibana/*.ndjson`) against the index
//! template (`elasticsearch/component-mappings.json`) and the field contract
//! (`docs/FIELDS.md`).
//!
//! What this proves: every line parses; ids are fixed and unique; every
//! reference (data view, saved search, lifted Lens layer references) resolves
//! to an object in the set; each Lens panel is internally consistent (column
//! order, accessors, formula helpers); every field a panel, search or data
//! view aggregates, sorts, filters or shows is mapped, and each column's field
//! is mapped as the data type the column reads it as; the data view covers
//! the template's data streams; every field FIELDS.md lists is mapped.
//! What it cannot prove: that Kibana renders the panels as intended. No
//! Kibana runs on these machines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

fn repo() -> PathBuf {
    wasmstash_sdk::crate_dir!().join("..")
}

/// Every saved object, with the file and line it came from.
fn objects() -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("kibana"))
        .expect("kibana/ beside host/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no kibana/*.ndjson");
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (index, line) in text.lines().enumerate() {
            let at = format!("{}:{}", file.display(), index + 1);
            let object: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{at}: not JSON: {e}"));
            objects.push((at, object));
        }
    }
    objects
}

fn mappings() -> Value {
    let text =
        std::fs::read_to_string(repo().join("elasticsearch/component-mappings.json")).unwrap();
    let component: Value = serde_json::from_str(&text).unwrap();
    component["template"]["mappings"].clone()
}

/// The mapping of `path` (`a.b.c`, multi-fields included), if mapped.
fn mapped<'a>(mappings: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = mappings;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let next = node["properties"]
            .get(part)
            .or_else(|| node["fields"].get(part))?;
        node = next;
        if parts.peek().is_some() && node.get("type").is_some_and(|t| t == "flattened") {
            return Some(node); // any key below a flattened field is searchable
        }
    }
    Some(node)
}

/// What Lens calls a field's data type (`dataType`), from its mapping;
/// `None` for a field no aggregation can read (text, objects, flattened
/// roots, fields without doc values).
fn lens_data_type(mapping: &Value) -> Option<&'static str> {
    if mapping["doc_values"] == Value::Bool(false) {
        return None;
    }
    match mapping["type"].as_str().unwrap_or("object") {
        "keyword" | "constant_keyword" | "wildcard" => Some("string"),
        "long" | "integer" | "short" | "byte" | "float" | "double" | "scaled_float" => {
            Some("number")
        }
        "date" | "date_nanos" => Some("date"),
        "boolean" => Some("boolean"),
        "ip" => Some("ip"),
        _ => None,
    }
}

/// How a saved object uses a field, which decides the mappings that serve.
#[derive(Clone, Copy)]
enum FieldUse<'a> {
    /// Searched or shown: any mapping will do.
    Read,
    /// Aggregated or sorted on, whatever the result's type.
    Aggregated,
    /// Read by a Lens column whose `dataType` is the field's own (terms,
    /// date_histogram, min, max, sum, percentile, range, last_value...):
    /// the mapping must give that type, or the column shows nothing.
    AsType(&'a str),
}

/// Field names in a KQL string: whatever stands before `:`, `<`, `>`.
fn kql_fields(kql: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let bytes = kql.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if !matches!(b, b':' | b'<' | b'>') || (i > 0 && matches!(bytes[i - 1], b'<' | b'>')) {
            continue;
        }
        let before = kql[..i].trim_end();
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "._@".contains(c)))
            .map_or(0, |p| p + 1);
        let field = &before[start..];
        if !field.is_empty() && field != "kql" {
            fields.push(field.to_owned());
        }
    }
    fields
}

/// The JSON inside a string attribute (Kibana stores panels that way).
fn inner(value: &Value) -> Value {
    serde_json::from_str(value.as_str().expect("a JSON string")).expect("valid inner JSON")
}

/// Each Lens panel of each dashboard: (where, panelIndex, lens attributes).
fn lens_panels(objects: &[(String, Value)]) -> Vec<(String, String, Value)> {
    let mut panels = Vec::new();
    for (at, object) in objects.iter().filter(|(_, o)| o["type"] == "dashboard") {
        for panel in inner(&object["attributes"]["panelsJSON"])
            .as_array()
            .unwrap()
        {
            if panel["type"] == "lens" {
                let index = panel["panelIndex"].as_str().unwrap().to_owned();
                panels.push((
                    format!("{at} panel {index}"),
                    index,
                    panel["embeddableConfig"]["attributes"].clone(),
                ));
            }
        }
    }
    panels
}

#[test]
fn ids_are_fixed_unique_and_expected() {
    let objects = objects();
    let mut ids = BTreeSet::new();
    for (at, object) in &objects {
        let id = object["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: no id"));
        assert!(
            id.starts_with("wasmstash-"),
            "{at}: id {id} outside our prefix"
        );
        assert!(object["attributes"]["title"].is_string(), "{at}: no title");
        assert!(object["references"].is_array(), "{at}: no references array");
        assert!(
            ids.insert(format!("{}/{id}", object["type"].as_str().unwrap())),
            "{at}: duplicate {id}"
        );
    }
    let expected = [
        "dashboard/wasmstash-anomalies",
        "dashboard/wasmstash-overview",
        "dashboard/wasmstash-templates",
        "index-pattern/wasmstash-logs",
        "search/wasmstash-anomaly-events",
    ];
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), expected);
}

#[test]
fn every_reference_resolves_within_the_set() {
    let objects = objects();
    let present: BTreeSet<String> = objects
        .iter()
        .map(|(_, o)| {
            format!(
                "{}/{}",
                o["type"].as_str().unwrap(),
                o["id"].as_str().unwrap()
            )
        })
        .collect();
    for (at, object) in &objects {
        let references: BTreeMap<String, String> = object["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let target = format!(
                    "{}/{}",
                    r["type"].as_str().unwrap(),
                    r["id"].as_str().unwrap()
                );
                assert!(
                    present.contains(&target),
                    "{at}: reference to missing {target}"
                );
                (r["name"].as_str().unwrap().to_owned(), target)
            })
            .collect();
        if let Some(search) =
            object["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"].as_str()
        {
            let search: Value = serde_json::from_str(search).unwrap();
            if let Some(name) = search["indexRefName"].as_str() {
                assert!(
                    references.contains_key(name),
                    "{at}: indexRefName {name} has no reference"
                );
            }
        }
        if object["type"] != "dashboard" {
            continue;
        }
        // Dashboards: a panel's own references are lifted as `<panelIndex>:<name>`.
        for panel in inner(&object["attributes"]["panelsJSON"])
            .as_array()
            .unwrap()
        {
            let index = panel["panelIndex"].as_str().unwrap();
            assert_eq!(
                panel["gridData"]["i"], index,
                "{at}: gridData.i differs from panelIndex"
            );
            if let Some(name) = panel["panelRefName"].as_str() {
                assert!(
                    references.contains_key(&format!("{index}:{name}")),
                    "{at}: panel {index} ref"
                );
            }
            let own = panel["embeddableConfig"]["attributes"]["references"].as_array();
            for reference in own.into_iter().flatten() {
                let name = format!("{index}:{}", reference["name"].as_str().unwrap());
                let target = format!(
                    "{}/{}",
                    reference["type"].as_str().unwrap(),
                    reference["id"].as_str().unwrap()
                );
                assert_eq!(
                    references.get(&name),
                    Some(&target),
                    "{at}: {name} not lifted"
                );
            }
        }
    }
}

#[test]
fn lens_panels_are_internally_consistent() {
    let objects = objects();
    let panels = lens_panels(&objects);
    assert!(panels.len() >= 15, "only {} lens panels", panels.len());
    for (at, _, lens) in panels {
        let state = &lens["state"];
        let layers = state["datasourceStates"]["formBased"]["layers"]
            .as_object()
            .unwrap();
        for (layer_id, layer) in layers {
            let name = format!("indexpattern-datasource-layer-{layer_id}");
            assert!(
                lens["references"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["name"] == name),
                "{at}: layer {layer_id} has no data view reference"
            );
            let columns = layer["columns"].as_object().unwrap();
            let order: BTreeSet<&str> = layer["columnOrder"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            let keys: BTreeSet<&str> = columns.keys().map(String::as_str).collect();
            assert_eq!(order, keys, "{at}: columnOrder and columns differ");
            for (id, column) in columns {
                for referenced in column["references"].as_array().into_iter().flatten() {
                    assert!(
                        keys.contains(referenced.as_str().unwrap()),
                        "{at}: {id} references {referenced}"
                    );
                }
                if let Some(by) = column["params"]["orderBy"]["columnId"].as_str() {
                    assert!(keys.contains(by), "{at}: {id} ordered by missing {by}");
                }
            }
            // Every column a visualization draws exists in the layer.
            let vis = &state["visualization"];
            let mut drawn: Vec<&Value> = vec![&vis["metricAccessor"]];
            drawn.extend(
                vis["columns"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| &c["columnId"]),
            );
            for xy_layer in vis["layers"].as_array().into_iter().flatten() {
                drawn.push(&xy_layer["xAccessor"]);
                drawn.push(&xy_layer["splitAccessor"]);
                drawn.extend(xy_layer["accessors"].as_array().unwrap());
            }
            for column in drawn.into_iter().filter_map(Value::as_str) {
                assert!(keys.contains(column), "{at}: draws missing column {column}");
            }
        }
    }
}

#[test]
fn every_field_a_panel_uses_is_mapped_by_the_index_template() {
    let objects = objects();
    let mappings = mappings();
    let mut checked = 0;
    let mut check = |at: &str, field: &str, used: FieldUse| {
        let mapping = mapped(&mappings, field)
            .unwrap_or_else(|| panic!("{at}: field {field} is not in the index template"));
        let data_type = lens_data_type(mapping);
        match used {
            FieldUse::Read => {}
            FieldUse::Aggregated => assert!(
                data_type.is_some(),
                "{at}: {field} is aggregated but mapped as {mapping}"
            ),
            FieldUse::AsType(wanted) => assert_eq!(
                data_type,
                Some(wanted),
                "{at}: {field} is read as {wanted} but mapped as {mapping}"
            ),
        }
        checked += 1;
    };
    for (at, _, lens) in lens_panels(&objects) {
        let state = &lens["state"];
        for field in kql_fields(state["query"]["query"].as_str().unwrap()) {
            check(&at, &field, FieldUse::Read);
        }
        for layer in state["datasourceStates"]["formBased"]["layers"]
            .as_object()
            .unwrap()
            .values()
        {
            for column in layer["columns"].as_object().unwrap().values() {
                if let Some(field) = column["sourceField"]
                    .as_str()
                    .filter(|f| *f != "___records___")
                {
                    // A count's or a unique count's dataType is its
                    // result's, a number, whatever it counts.
                    let used = match column["operationType"].as_str().unwrap() {
                        "count" | "unique_count" => FieldUse::Aggregated,
                        _ => FieldUse::AsType(column["dataType"].as_str().unwrap()),
                    };
                    check(&at, field, used);
                }
                if let Some(field) = column["params"]["sortField"].as_str() {
                    check(&at, field, FieldUse::Aggregated);
                }
                for kql in [&column["filter"]["query"], &column["params"]["formula"]] {
                    for field in kql.as_str().map(kql_fields).unwrap_or_default() {
                        check(&at, &field, FieldUse::Read);
                    }
                }
            }
        }
    }
    for (at, object) in &objects {
        let attributes = &object["attributes"];
        match object["type"].as_str().unwrap() {
            "search" => {
                for column in attributes["columns"].as_array().unwrap() {
                    check(at, column.as_str().unwrap(), FieldUse::Read);
                }
                for sort in attributes["sort"].as_array().unwrap() {
                    check(at, sort[0].as_str().unwrap(), FieldUse::Aggregated);
                }
            }
            "index-pattern" => {
                let time = attributes["timeFieldName"].as_str().unwrap();
                check(at, time, FieldUse::AsType("date"));
                let formats = attributes["fieldFormatMap"]
                    .as_str()
                    .map(|f| inner(&Value::from(f)));
                for field in formats.iter().flat_map(|f| f.as_object().unwrap().keys()) {
                    check(at, field, FieldUse::Read);
                }
                continue;
            }
            _ => {}
        }
        if let Some(source) = attributes["kibanaSavedObjectMeta"]["searchSourceJSON"].as_str() {
            let search = inner(&Value::from(source));
            for field in kql_fields(search["query"]["query"].as_str().unwrap_or("")) {
                check(at, &field, FieldUse::Read);
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} field uses found; is the walk broken?"
    );
}

/// `pattern` (Kibana's, `*` for any run of characters) matches `name`.
fn glob_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, rest)) => {
            let Some(tail) = name.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|cut| tail.is_char_boundary(*cut))
                .any(|cut| glob_matches(rest, &tail[cut..]))
        }
    }
}

/// The data view covers every data stream the index template makes: each
/// `*` in a template pattern stands for any dataset or namespace.
#[test]
fn the_data_view_covers_the_template_s_data_streams() {
    let text = std::fs::read_to_string(repo().join("elasticsearch/index-template.json")).unwrap();
    let template: Value = serde_json::from_str(&text).unwrap();
    let objects = objects();
    let views: Vec<&str> = objects
        .iter()
        .filter(|(_, o)| o["type"] == "index-pattern")
        .map(|(_, o)| o["attributes"]["title"].as_str().unwrap())
        .collect();
    assert!(!views.is_empty(), "no data view shipped");
    for pattern in template["index_patterns"].as_array().unwrap() {
        let example = pattern.as_str().unwrap().replace('*', "some-thing");
        for view in &views {
            assert!(
                view.split(',')
                    .any(|part| glob_matches(part.trim(), &example)),
                "data view {view} misses {example}, a name the template makes"
            );
        }
    }
    assert!(glob_matches("logs-*", "logs-a-b") && !glob_matches("logs-*-x", "logs-a-b"));
}

#[test]
fn kql_field_extraction_finds_fields_and_skips_values() {
    assert_eq!(
        kql_fields(
            r#"count(kql='log.level : ("error") or http.response.status_code >= 500') / count()"#
        ),
        ["log.level", "http.response.status_code"]
    );
    assert_eq!(kql_fields(r#"tags : "anomaly""#), ["tags"]);
}

/// Field paths in docs/FIELDS.md: backticked dotted names (and the few
/// top-level ones), minus the doc's own placeholders.
fn fields_in_contract() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo().join("docs/FIELDS.md")).unwrap();
    let mut fields = BTreeSet::new();
    for (index, chunk) in text.split('`').enumerate() {
        if index % 2 == 0 {
            continue; // outside backticks
        }
        let dotted = chunk.contains('.')
            && chunk.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
            });
        if (dotted && chunk != "a.b.c") || ["@timestamp", "message", "timestamp"].contains(&chunk) {
            fields.insert(chunk.to_owned());
        }
    }
    fields
}

#[test]
fn every_field_in_the_contract_is_mapped() {
    let mappings = mappings();
    let fields = fields_in_contract();
    assert!(
        fields.len() > 40,
        "only {} fields parsed from FIELDS.md",
        fields.len()
    );
    for must in [
        "wasmstash.anomaly.findings",
        "log.syslog.structured_data",
        "http.response.status_code",
    ] {
        assert!(fields.contains(must), "FIELDS.md parse lost {must}");
    }
    let missing: Vec<&String> = fields
        .iter()
        .filter(|f| mapped(&mappings, f).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "in FIELDS.md but not in the index template: {missing:?}"
    );
    // Types the contract states, spot-checked where a wrong type breaks charts.
    for (field, kind) in [
        ("http.response.status_code", "long"),
        ("http.response.body.bytes", "long"),
        ("process.pid", "long"),
        ("wasmstash.anomaly.score", "float"),
        ("wasmstash.template.new", "boolean"),
        ("wasmstash.template.id", "keyword"),
        ("timestamp", "keyword"), // the raw text; a date type would reject unparsed lines
    ] {
        assert_eq!(mapped(&mappings, field).unwrap()["type"], kind, "{field}");
    }
    assert_eq!(
        mapped(&mappings, "wasmstash.anomaly.findings").unwrap()["enabled"],
        false
    );
}
