//! Where a pipeline's state files are, and where they were.
//!
//! A stateful filter's snapshot is `<state_dir>/<pipeline>/<name>.state`,
//! named for the filter's name (unique within its pipeline), so that a
//! config change that moves the filter, or a reload that reorders the
//! pipeline, leaves it its state. Files were once named
//! `<position>-<name>.state`, and followed the position instead: a filter
//! with no file of its own yet reads its old one, and the first save under
//! its name removes the old ones, so nothing stale is left behind. This is
//! apart from `state.rs` because both layouts, and the choice between old
//! files, are the part that must agree between claiming, restoring and
//! saving.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::naming;
use crate::files::private::{Links, open_regular};

pub(super) fn pipeline_dir(dir: &Path, pipeline: &str) -> PathBuf {
    dir.join(safe_name(pipeline))
}

/// The file that holds the state of the filter named `filter`.
pub(super) fn file_of(dir: &Path, pipeline: &str, filter: &str) -> PathBuf {
    pipeline_dir(dir, pipeline).join(format!("{}.state", file_stem(filter)))
}

/// The temporary a save of `path` (a `<stem>.state`) writes first, named
/// for the process and its `save`-th save, so that no two saves share one.
pub(super) fn temporary_of(path: &Path, save: u64) -> PathBuf {
    path.with_extension(format!("tmp-{}-{save}", std::process::id()))
}

/// Whether `file` is a name [`temporary_of`] makes, `<stem>.tmp-PID-N`:
/// exactly that, so that nothing else in the directory is taken for a
/// temporary left behind and removed.
pub(super) fn is_temporary(file: &str) -> bool {
    let Some((stem, numbers)) = file.rsplit_once(".tmp-") else {
        return false;
    };
    let number = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    !stem.is_empty()
        && numbers
            .split_once('-')
            .is_some_and(|(pid, save)| number(pid) && number(save))
}

/// `name` as one file name: ASCII letters, digits, `-`, `_` and `.` as
/// they are, every other byte as `%` and two hex digits. Escaping, not
/// replacing, so that two names never share a file: `a#3` and `a_3` once
/// were both `a_3`. (Pipeline names are only such characters already, so a
/// pipeline's directory is its name.)
fn safe_name(name: &str) -> String {
    let mut safe = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.".contains(&byte) {
            safe.push(char::from(byte));
        } else {
            safe.push_str(&format!("%{byte:02X}"));
        }
    }
    safe
}

/// A filter's file name without `.state`: its safe name, with a leading
/// digit escaped too, so that no file of a filter's own reads as an old
/// `<position>-<name>.state` (a filter named `0-anomaly` would otherwise be
/// taken for `anomaly` at position 0, and its state removed as stale).
fn file_stem(filter: &str) -> String {
    let safe = safe_name(filter);
    match safe.as_bytes().first() {
        Some(&digit) if digit.is_ascii_digit() => format!("%{digit:02X}{}", &safe[1..]),
        _ => safe,
    }
}

/// Longest file stem accepted: a file name may have 255 bytes, and the
/// temporary and refused names add up to 35 to `<stem>.state`.
const MAX_STEM_BYTES: usize = 200;

/// The name part of the old layout's file names, which replaced every
/// other character with `_`.
fn legacy_safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The position and name in an old layout's file name,
/// `<position>-<name>.state`.
fn old_layout_name(file: &str) -> Option<(usize, &str)> {
    let (position, name) = file.strip_suffix(".state")?.split_once('-')?;
    let digits = !position.is_empty() && position.bytes().all(|b| b.is_ascii_digit());
    (digits && !name.is_empty()).then_some(())?;
    Some((position.parse().ok()?, name))
}

/// A file of the old layout.
struct OldFile {
    path: PathBuf,
    position: usize,
    modified: Option<SystemTime>,
}

/// The state files in `pipeline_dir`: those of the old layout by the name
/// in their file names (each list in the order of the names), and the
/// others.
type StateFiles = (BTreeMap<String, Vec<OldFile>>, Vec<PathBuf>);

fn state_files(pipeline_dir: &Path) -> std::io::Result<StateFiles> {
    let (mut old, mut named) = (BTreeMap::<String, Vec<OldFile>>::new(), Vec::new());
    for entry in std::fs::read_dir(pipeline_dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str().filter(|f| f.ends_with(".state")) else {
            continue;
        };
        let path = entry.path();
        let Some((position, name)) = old_layout_name(file_name) else {
            named.push(path);
            continue;
        };
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        (old.entry(name.to_owned()).or_default()).push(OldFile {
            path,
            position,
            modified,
        });
    }
    for files in old.values_mut() {
        files.sort_by(|a, b| a.path.cmp(&b.path));
    }
    named.sort();
    Ok((old, named))
}

/// Where one stateful filter's state is read from at start.
pub(super) struct Source {
    /// Its file, if it has one: its own, else one of the old layout.
    pub read: Option<PathBuf>,
    /// Its own file, whether or not it exists yet.
    pub own: PathBuf,
    /// Why `read` was chosen among several old files; empty if it was not.
    pub chosen: &'static str,
    /// Old files of its name other than `read`, for the log.
    pub passed_over: Vec<PathBuf>,
    /// Every old file of its name: removed once its state is saved under
    /// its name, as the old files then hold nothing newer.
    pub stale: Vec<PathBuf>,
}

/// What a pipeline's directory holds for its stateful filters.
pub(super) struct Plan {
    /// By filter name.
    pub sources: BTreeMap<String, Source>,
    /// State files no stateful filter of the pipeline reads (old ones of
    /// names it no longer has, and those of filters since removed or
    /// renamed): left as they are, as they may be kept on purpose (a filter
    /// given the name again reads it at the next start, or the reload that adds it), and named once in a
    /// warning.
    pub unread: Vec<PathBuf>,
}

/// Where each of `stateful`, a pipeline's stateful filters as (position,
/// name), reads its state, checking that each file it would read or
/// remove is a regular file and the one it reads can be opened. Errors
/// name the path.
pub(super) fn plan(
    dir: &Path,
    pipeline: &str,
    stateful: &[(usize, String)],
) -> std::io::Result<Plan> {
    let pipeline_dir = pipeline_dir(dir, pipeline);
    let (mut old, named) = state_files(&pipeline_dir).map_err(|e| naming(&pipeline_dir, e))?;
    let mut legacy_names = BTreeMap::<String, usize>::new();
    for (_, name) in stateful {
        *legacy_names.entry(legacy_safe_name(name)).or_default() += 1;
    }
    let mut sources = BTreeMap::new();
    for (position, name) in stateful {
        let own = file_of(dir, pipeline, name);
        let stem = own.file_stem().map_or(0, |s| s.len());
        if stem > MAX_STEM_BYTES {
            return Err(naming(
                &own,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidFilename,
                    format!(
                        "the name of filter `{name}` makes a state file name of {stem} bytes \
                         (at most {MAX_STEM_BYTES}): give it a shorter `name`"
                    ),
                ),
            ));
        }
        let legacy = legacy_safe_name(name);
        let candidates = match old.get_mut(&legacy) {
            None => Vec::new(),
            // Names that differ only in what the old layout replaced (`a#3`
            // and `a_3`) had files of one name, told apart by position only.
            Some(files) if legacy_names[&legacy] > 1 => {
                let (mine, others) = std::mem::take(files)
                    .into_iter()
                    .partition(|file| file.position == *position);
                *files = others;
                mine
            }
            Some(files) => std::mem::take(files),
        };
        let mut source = Source {
            read: None,
            own: own.clone(),
            chosen: "",
            passed_over: Vec::new(),
            stale: candidates.iter().map(|file| file.path.clone()).collect(),
        };
        if exists(&own)? {
            source.read = Some(own);
        } else if let Some((index, chosen)) = choose(&candidates, *position) {
            source.read = Some(candidates[index].path.clone());
            source.chosen = chosen;
            source.passed_over = (candidates.iter().enumerate())
                .filter(|(other, _)| *other != index)
                .map(|(_, file)| file.path.clone())
                .collect();
        }
        for path in source.read.iter().chain(&source.stale) {
            check_regular(path, source.read.as_ref() == Some(path))?;
        }
        sources.insert(name.clone(), source);
    }
    let read: Vec<&PathBuf> = sources.values().map(|source| &source.own).collect();
    let unread = (old.into_values().flatten().map(|file| file.path))
        .chain(named.into_iter().filter(|path| !read.contains(&path)))
        .collect();
    Ok(Plan { sources, unread })
}

/// Which of a filter's old files to read, and why: the one saved from the
/// position the filter has now, else the newest.
fn choose(candidates: &[OldFile], position: usize) -> Option<(usize, &'static str)> {
    match candidates {
        [] => None,
        [_] => Some((0, "")),
        _ => Some(
            match candidates.iter().position(|f| f.position == position) {
                Some(index) => (index, "saved from the position the filter has now"),
                None => {
                    let newest = (candidates.iter().enumerate())
                        .max_by_key(|(_, file)| file.modified)
                        .map_or(0, |(index, _)| index);
                    (newest, "the newest")
                }
            },
        ),
    }
}

/// Whether anything, a link included, is at `path`.
fn exists(path: &Path) -> std::io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(naming(path, e)),
    }
}

/// A snapshot that is not a regular file, or cannot be read, would be
/// written over (or, if old, removed) at the next save, the state it held
/// lost: the start fails instead. A link is refused too: state is not read
/// through one.
fn check_regular(path: &Path, read: bool) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(naming(path, e)),
        Ok(meta) if !meta.is_file() => Err(naming(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a saved state must be a regular file",
            ),
        )),
        Ok(_) if read => open_regular(path, Links::Refused)
            .map(drop)
            .map_err(|e| naming(path, e)),
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_file_names_keep_distinct_names_apart() {
        let names = [
            "a#3", "a_3", "a%233", "a%3", "a 3", "a/3", "é", "e", "%C3%A9", "..", "0-a", "%30-a",
        ];
        let files: std::collections::HashSet<_> =
            names.iter().map(|name| file_stem(name)).collect();
        assert_eq!(files.len(), names.len(), "{files:?}");
        assert_eq!(file_stem("anomaly"), "anomaly");
        assert_eq!(file_stem("mutate#3"), "mutate%233");
        assert_eq!(file_stem("a/../b"), "a%2F..%2Fb");
    }

    #[test]
    fn no_state_file_of_a_name_reads_as_one_of_the_old_layout() {
        for name in ["0-anomaly", "12-x", "7", "anomaly", "-1"] {
            let file = format!("{}.state", file_stem(name));
            assert_eq!(old_layout_name(&file), None, "{file}");
        }
        assert_eq!(old_layout_name("0-anomaly.state"), Some((0, "anomaly")));
        assert_eq!(old_layout_name("12-3-x.state"), Some((12, "3-x")));
        assert_eq!(old_layout_name("1-a_3.state"), Some((1, "a_3")));
        for other in [
            "-a.state",
            "1-.state",
            "1a-b.state",
            "1-a.state.refused-9",
            "1-a.tmp-1-0",
        ] {
            assert_eq!(old_layout_name(other), None, "{other}");
        }
    }

    #[test]
    fn only_the_names_of_temporaries_read_as_temporaries() {
        for filter in ["templates", "a.b", "0-x", "%", "a.tmp-1-2"] {
            let own = file_of(Path::new("s"), "p", filter);
            let temporary = temporary_of(&own, 7);
            let name = temporary.file_name().unwrap().to_str().unwrap();
            assert!(is_temporary(name), "{name}");
            assert_eq!(temporary.parent(), own.parent());
        }
        for other in [
            "templates.state",
            ".lock",
            ".wasmstash-write-check-12",
            "templates.state.refused-1700000000",
            "templates.state.refused-1700000000-2",
            "templates.tmp-12",
            "templates.tmp-12-",
            "templates.tmp--3",
            "templates.tmp-x-3",
            "templates.tmp-1-2-3",
            "templates.tmp-1-2.state",
            ".tmp-1-2",
            "0-templates.state",
        ] {
            assert!(!is_temporary(other), "{other}");
        }
    }

    #[test]
    fn old_state_files_are_chosen_by_position_then_age() {
        let file = |position, seconds| OldFile {
            path: PathBuf::from(format!("{position}-a.state")),
            position,
            modified: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds)),
        };
        let files = [file(0, 5), file(2, 1), file(3, 9)];
        assert_eq!(choose(&files, 2).map(|c| c.0), Some(1));
        assert_eq!(choose(&files, 1).map(|c| c.0), Some(2));
        assert_eq!(choose(&files[..1], 4), Some((0, "")));
        assert_eq!(choose(&[], 0), None);
    }
}
