//! Filters compiled into the binary, so a fresh build runs with no other files.
//!
//! `build.rs` compiles each filter crate to WebAssembly; the bytes are included
//! here and loaded through the same engine path as any module on disk.

/// A filter that ships inside the `wasmstash` binary.
pub struct Builtin {
    pub name: &'static str,
    pub summary: &'static str,
    pub wasm: &'static [u8],
}

macro_rules! builtin {
    ($name:literal, $summary:literal) => {
        Builtin {
            name: $name,
            summary: $summary,
            wasm: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".wasm")),
        }
    };
}

pub const BUILTINS: &[Builtin] = &[
    builtin!("json", "parse a JSON string field into event fields"),
    builtin!(
        "mutate",
        "rename, replace, convert, re-case, add and remove fields and tags"
    ),
    builtin!(
        "dissect",
        "split a field into fields by literal delimiters (Logstash dissect)"
    ),
    builtin!("kv", "parse key=value pairs into fields (Logstash kv)"),
    builtin!(
        "syslog",
        "split RFC 3164 / RFC 5424 syslog lines into ECS fields"
    ),
    builtin!(
        "date",
        "parse a timestamp field (Joda patterns, ISO8601, UNIX) into @timestamp"
    ),
    builtin!(
        "templates",
        "mine log templates online: template id, text, parameters, new"
    ),
    builtin!(
        "anomaly",
        "flag rate, error-ratio, value, template and new-value anomalies per key"
    ),
    builtin!(
        "grok",
        "Logstash grok: named fields from text with the standard pattern library (legacy or ECS)"
    ),
];

pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Names of all built-ins, for error messages.
pub fn names() -> String {
    BUILTINS
        .iter()
        .map(|b| b.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The directory where the build put every filter module it compiled,
/// including the example and test filters that are not built in.
pub fn build_module_dir() -> &'static str {
    env!("WASMSTASH_FILTER_WASM_DIR")
}
