//! grok's `patterns_dir`, read by the host on the filter's behalf.
//!
//! Logstash's grok loads an operator's own pattern files from
//! `patterns_dir` (each entry a directory, searched with
//! `patterns_files_glob`, or a file or glob itself), and configs moved from
//! Logstash bring that option along. A filter reads no files: it has no
//! WASI. So when a filter is loaded, the host reads the files its config
//! names and hands their text to the module in its config, as
//! `pattern_files`, in place of the two options. Naming a directory in the
//! config is the grant; the module sees the text of those files and
//! nothing else, once, at init. The files are read again whenever the
//! pipeline is loaded again (a reload of the config), not when they change.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// What the pattern files of one filter may hold together. Logstash's own
/// library is about 100 KiB; this bounds a mistaken `patterns_dir = "/"`.
const MAX_TOTAL_BYTES: u64 = 16 << 20;

/// How many files the globs of one filter may match.
const MAX_FILES: usize = 10_000;

/// `patterns_files_glob`'s default, as in Logstash: every file.
const DEFAULT_GLOB: &str = "*";

/// `config` (a filter's JSON config) with `patterns_dir` and
/// `patterns_files_glob` replaced by `pattern_files`, the files they name
/// as `[{"path": ..., "text": ...}]` in the order Logstash reads them
/// (each entry's files sorted by name). `None` when the config names no
/// `patterns_dir`. Relative paths are taken from `base` (the config file's
/// directory). Errors say which entry or file, and why.
pub fn read_into_config(config: &[u8], base: &Path) -> Result<Option<Vec<u8>>, String> {
    let Ok(mut config) = serde_json::from_slice::<Map<String, Value>>(config) else {
        return Ok(None); // the filter's init says what is wrong with it
    };
    let Some(dirs) = config.remove("patterns_dir") else {
        // Without a directory the glob means nothing, in Logstash too.
        return match config.remove("patterns_files_glob") {
            Some(_) => serde_json::to_vec(&config)
                .map(Some)
                .map_err(|e| e.to_string()),
            None => Ok(None),
        };
    };
    let glob = match config.remove("patterns_files_glob") {
        // A list of one is its one value, as for Logstash's string options.
        Some(Value::Array(mut one)) if one.len() == 1 => one.pop(),
        glob => glob,
    };
    let glob = match glob {
        None => DEFAULT_GLOB.to_owned(),
        Some(Value::String(glob)) if !glob.is_empty() => glob,
        Some(other) => {
            return Err(format!(
                "patterns_files_glob must be a file name pattern like \"*\" or \"*.grok\", not {other}"
            ));
        }
    };
    let entries = match dirs {
        Value::String(one) => vec![one],
        Value::Array(items) => (items.into_iter())
            .map(|item| match item {
                Value::String(path) => Ok(path),
                other => Err(other),
            })
            .collect::<Result<_, _>>()
            .map_err(|other| format!("patterns_dir: each entry must be a path, not {other}"))?,
        other => {
            return Err(format!(
                "patterns_dir must be a path or a list of paths, not {other}"
            ));
        }
    };
    if config.contains_key("pattern_files") {
        return Err(
            "give either patterns_dir (files the host reads) or pattern_files, not both".into(),
        );
    }
    let mut budget = Budget {
        bytes_left: MAX_TOTAL_BYTES,
        files_left: MAX_FILES,
    };
    let mut files = Vec::new();
    for entry in &entries {
        for path in matching_files(base, entry, &glob, &mut budget)? {
            let text = budget.read(&path)?;
            let mut file = Map::new();
            file.insert("path".into(), path.display().to_string().into());
            file.insert("text".into(), text.into());
            files.push(Value::Object(file));
        }
    }
    config.insert("pattern_files".into(), files.into());
    serde_json::to_vec(&config)
        .map(Some)
        .map_err(|e| format!("patterns_dir: {e}"))
}

/// What the files still to be read may take.
struct Budget {
    bytes_left: u64,
    files_left: usize,
}

impl Budget {
    fn read(&mut self, path: &Path) -> Result<String, String> {
        let text =
            crate::files::read_capped_text(path, self.bytes_left, "pattern file").map_err(|e| {
                let hint = match e.kind() {
                    std::io::ErrorKind::FileTooLarge => format!(
                        " (a filter's pattern files may hold {} MiB in all)",
                        MAX_TOTAL_BYTES >> 20
                    ),
                    _ => String::new(),
                };
                format!("patterns_dir: cannot read {}: {e}{hint}", path.display())
            })?;
        self.bytes_left -= text.len() as u64;
        Ok(text)
    }
}

/// The regular files `entry` (of `patterns_dir`, relative to `base`)
/// stands for, in name order: a directory's files matching `glob`, else
/// the files matching `entry` as a glob itself. A pattern matches as
/// Ruby's `Dir.glob` does by default: `*` crosses no `/` and matches no
/// leading dot. Subdirectories are passed over.
fn matching_files(
    base: &Path,
    entry: &str,
    glob: &str,
    budget: &mut Budget,
) -> Result<Vec<PathBuf>, String> {
    let utf8 = |path: &Path| {
        path.to_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("patterns_dir `{entry}`: the path is not UTF-8"))
    };
    let path = &base.join(entry);
    // No `**`: a walk down a tree (through symbolic links, it may never end)
    // would be made on every load; the directories are named instead.
    if entry.contains("**") || glob.contains("**") {
        return Err(format!(
            "patterns_dir `{entry}`: `**` is not taken here; name each directory instead"
        ));
    }
    let is_dir = path.is_dir();
    // Only what the operator wrote is a pattern: the directory it is taken
    // from may hold `[` or `*` in its name.
    let pattern = if is_dir {
        format!("{}/{glob}", glob::Pattern::escape(&utf8(path)?))
    } else if Path::new(entry).is_absolute() {
        entry.to_owned()
    } else {
        format!("{}/{entry}", glob::Pattern::escape(&utf8(base)?))
    };
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let paths = glob::glob_with(&pattern, options)
        .map_err(|e| format!("patterns_dir `{entry}`: `{pattern}` is not a valid glob: {e}"))?;
    let mut files = Vec::new();
    for found in paths {
        let found = found.map_err(|e| format!("patterns_dir `{entry}`: {e}"))?;
        if !found.is_file() {
            continue;
        }
        if budget.files_left == 0 {
            return Err(format!(
                "patterns_dir: more than {MAX_FILES} pattern files match; name fewer"
            ));
        }
        budget.files_left -= 1;
        files.push(found);
    }
    if files.is_empty() && !is_dir {
        // Logstash would go on without them, and fail later on a pattern
        // they define, or not at all; a path that names nothing is a slip.
        let what = match path.exists() {
            true => "is not a regular file or directory",
            false => "matches no file",
        };
        let full = match path.as_path() == Path::new(entry) {
            true => String::new(),
            false => format!(" ({})", path.display()),
        };
        return Err(format!("patterns_dir `{entry}`{full} {what}"));
    }
    if files.is_empty() {
        tracing::warn!(
            "patterns_dir `{}`: no file in {} matches `{}`",
            crate::engine::printable(entry),
            crate::files::shown(path),
            crate::engine::printable(glob)
        );
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(config: Value, base: &Path) -> Result<Value, String> {
        let bytes = serde_json::to_vec(&config).unwrap();
        read_into_config(&bytes, base)
            .map(|config| serde_json::from_slice(&config.expect("expanded")).unwrap())
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn directories_files_and_globs_are_read_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let patterns = dir.path().join("patterns");
        std::fs::create_dir_all(patterns.join("sub")).unwrap();
        write(&patterns, "b", "B b\n");
        write(&patterns, "a.grok", "A a\n");
        write(&patterns, ".hidden", "H h\n");
        write(&patterns.join("sub"), "c", "C c\n");
        write(dir.path(), "extra.grok", "X x\n");
        let texts = |config: Value| -> Vec<String> {
            let config = read(config, dir.path()).unwrap();
            assert!(config.get("patterns_dir").is_none());
            assert_eq!(config["match"], json!({"message": "%{A}"}));
            (config["pattern_files"].as_array().unwrap().iter())
                .map(|file| file["text"].as_str().unwrap().to_owned())
                .collect()
        };
        let config = json!({"match": {"message": "%{A}"}, "patterns_dir": ["patterns"]});
        assert_eq!(texts(config), ["A a\n", "B b\n"]);
        let config = json!({"match": {"message": "%{A}"}, "patterns_dir": "patterns",
                            "patterns_files_glob": "*.grok"});
        assert_eq!(texts(config), ["A a\n"]);
        // A list of one, which Logstash's config takes for its one value.
        let config = json!({"match": {"message": "%{A}"}, "patterns_dir": "patterns",
                            "patterns_files_glob": ["*.grok"]});
        assert_eq!(texts(config), ["A a\n"]);
        let absolute = dir.path().join("extra.grok").display().to_string();
        let config = json!({"match": {"message": "%{A}"},
                            "patterns_dir": [absolute, "patterns/*/c", "patterns"]});
        assert_eq!(texts(config), ["X x\n", "C c\n", "A a\n", "B b\n"]);
    }

    #[test]
    fn a_config_without_patterns_dir_is_left_alone() {
        let base = Path::new(".");
        for config in [&b"{\"match\":{}}"[..], b"not json", b"[1]"] {
            assert_eq!(read_into_config(config, base), Ok(None));
        }
        // A glob alone is dropped, as Logstash ignores it.
        let config = br#"{"match":{},"patterns_files_glob":"*.grok"}"#;
        let expected = br#"{"match":{}}"#.to_vec();
        assert_eq!(read_into_config(config, base), Ok(Some(expected)));
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bin", "A \u{fffd}\n");
        std::fs::write(dir.path().join("latin1"), b"A caf\xe9\n").unwrap();
        let error = |config: Value| read(config, dir.path()).unwrap_err();
        let cases = [
            (json!({"patterns_dir": "nope"}), "patterns_dir `nope` ("),
            (json!({"patterns_dir": "nope"}), "nope) matches no file"),
            (json!({"patterns_dir": "*.none"}), "matches no file"),
            (
                json!({"patterns_dir": 7}),
                "must be a path or a list of paths, not 7",
            ),
            (
                json!({"patterns_dir": ["bin", 1]}),
                "each entry must be a path, not 1",
            ),
            (
                json!({"patterns_dir": ".", "patterns_files_glob": ""}),
                "patterns_files_glob must be",
            ),
            (
                json!({"patterns_dir": ".", "patterns_files_glob": ["*", "*.grok"]}),
                "patterns_files_glob must be",
            ),
            (json!({"patterns_dir": "[", }), "is not a valid glob"),
            (
                json!({"patterns_dir": "latin1"}),
                "latin1: the pattern file is not UTF-8 text",
            ),
            (
                json!({"patterns_dir": "bin", "pattern_files": []}),
                "not both",
            ),
            (json!({"patterns_dir": "**/x"}), "`**` is not taken here"),
            (
                json!({"patterns_dir": ".", "patterns_files_glob": "**/*"}),
                "`**` is not",
            ),
        ];
        for (config, expected) in cases {
            let message = error(config.clone());
            assert!(message.contains(expected), "{config}: {message}");
        }
        // An empty directory is only warned of: Logstash goes on too.
        let empty = tempfile::tempdir().unwrap();
        let config = json!({"patterns_dir": empty.path().display().to_string()});
        assert_eq!(
            read(config, dir.path()).unwrap()["pattern_files"],
            json!([])
        );
    }

    #[test]
    fn the_files_together_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let chunk = "A a\n".repeat(1 << 20); // 4 MiB
        for name in ["1", "2", "3", "4", "5"] {
            write(dir.path(), name, &chunk);
        }
        let message = read(json!({"patterns_dir": "."}), dir.path()).unwrap_err();
        assert!(message.contains("cannot read"), "{message}");
        assert!(message.contains("16 MiB in all"), "{message}");
    }
}
