//! The pipeline config (`wasmstash.toml`) on text no one wrote: parsing
//! answers a config or an error that names the file, never a panic. The
//! error path quotes the offending line and points at the column, which is
//! where byte arithmetic on someone else's text goes wrong.
//!
//! Input: the file's text (UTF-8; other bytes are never read as a config,
//! since the loader refuses them first).

use std::path::Path;

use wasmstash::config::Config;

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text, Path::new("fuzz/wasmstash.toml")) {
        Ok(config) => {
            let _ = config.pipeline_names();
            let _ = config.watched_files();
        }
        Err(error) => assert!(
            error.0.starts_with("fuzz/wasmstash.toml: "),
            "an error that does not name the file: {}",
            error.0
        ),
    }
}
