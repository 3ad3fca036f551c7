//! Which files `wasmstash test` runs as cases. A shell's `tests/*` names
//! each case together with its expected file; run as a case, an expected
//! file would ask for `NAME.expected.expected.ndjson` (and `--bless` would
//! write it), so expected files are set aside. With `--crate` and no case
//! named, the crate's own `tests/` holds the cases, as `wasmstash new`
//! lays them out.

use crate::files::shown;
use std::path::{Path, PathBuf};

/// How an expected file's name ends.
const EXPECTED_SUFFIX: &str = ".expected.ndjson";

/// The files to run, and those named that are expected files, not cases.
pub(super) struct Cases {
    pub run: Vec<PathBuf>,
    pub skipped: Vec<PathBuf>,
}

/// `NAME.expected.ndjson` beside the case `NAME.log` or `NAME.ndjson`.
pub(super) fn expected_path(case: &Path) -> PathBuf {
    let stem = case.file_stem().unwrap_or_default().to_string_lossy();
    case.with_file_name(format!("{stem}{EXPECTED_SUFFIX}"))
}

fn is_case_kind(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == "log" || e == "ndjson")
}

/// Refuses a case whose twin of the other kind lies beside it: `NAME.log`
/// and `NAME.ndjson` would share `NAME.expected.ndjson`, and blessing one
/// would overwrite what the other is held to.
fn one_case_per_expected_file(case: &Path) -> Result<(), String> {
    let twin = match case.extension().is_some_and(|e| e == "log") {
        true => case.with_extension("ndjson"),
        false => case.with_extension("log"),
    };
    if twin.exists() {
        return Err(format!(
            "{} and {} would share the expected file {}: rename one",
            shown(case),
            shown(&twin),
            shown(&expected_path(case))
        ));
    }
    Ok(())
}

fn is_expected_file(path: &Path) -> bool {
    path.file_name().is_some_and(|name| {
        name.as_encoded_bytes()
            .ends_with(EXPECTED_SUFFIX.as_bytes())
    })
}

/// The cases among `given`; or, when none is given, those in
/// `crate_dir/tests`. An error says why there is nothing to run.
pub(super) fn select(given: &[PathBuf], crate_dir: Option<&Path>) -> Result<Cases, String> {
    if given.is_empty() {
        let Some(dir) = crate_dir else {
            return Err(
                "no case files given: name them (NAME.log or NAME.ndjson, each \
                        beside its NAME.expected.ndjson), or give --crate DIR to run \
                        DIR/tests/*.log and DIR/tests/*.ndjson"
                    .into(),
            );
        };
        return Ok(Cases {
            run: in_crate(dir)?,
            skipped: Vec::new(),
        });
    }
    let (skipped, run): (Vec<PathBuf>, Vec<PathBuf>) = given
        .iter()
        .cloned()
        .partition(|path| is_expected_file(path));
    if let Some(other) = run.iter().find(|path| !is_case_kind(path)) {
        return Err(format!(
            "{}: a case is NAME.log (raw lines) or NAME.ndjson (events)",
            shown(other)
        ));
    }
    run.iter()
        .try_for_each(|case| one_case_per_expected_file(case))?;
    if run.is_empty() {
        return Err(match skipped.as_slice() {
            [one] => format!(
                "no case to run: {} is an expected file, which the output of its case \
                 (NAME.log or NAME.ndjson) is compared with; name the case instead",
                shown(one)
            ),
            all => format!(
                "no case to run: the {} files named are all expected files, which the \
                 output of their cases (NAME.log or NAME.ndjson) is compared with; name \
                 the cases instead",
                all.len()
            ),
        });
    }
    Ok(Cases { run, skipped })
}

/// `dir/tests/*.log` and `dir/tests/*.ndjson` less expected files, by name,
/// leaving out hidden files as a shell's `*` does.
fn in_crate(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let tests = dir.join("tests");
    let none = || {
        format!(
            "no case files given, and {} has no *.log or *.ndjson case; add one (NAME.log \
             with its NAME.expected.ndjson, which --bless writes) or name the case files",
            shown(&tests)
        )
    };
    let entries = match std::fs::read_dir(&tests) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(none()),
        Err(e) => return Err(format!("{}: {e}", shown(&tests))),
    };
    let mut cases = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", shown(&tests)))?.path();
        let hidden = path
            .file_name()
            .is_some_and(|name| name.as_encoded_bytes().starts_with(b"."));
        if is_case_kind(&path) && !hidden && !is_expected_file(&path) {
            cases.push(path);
        }
    }
    if cases.is_empty() {
        return Err(none());
    }
    cases
        .iter()
        .try_for_each(|case| one_case_per_expected_file(case))?;
    cases.sort();
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_files_are_told_apart_from_cases() {
        assert!(is_expected_file(Path::new("t/a.expected.ndjson")));
        assert!(!is_expected_file(Path::new("t/a.ndjson")));
        assert!(!is_expected_file(Path::new("t/expected.ndjson")));
        assert_eq!(
            expected_path(Path::new("t/a.log")),
            Path::new("t/a.expected.ndjson")
        );
    }

    #[test]
    fn other_kinds_and_twins_sharing_an_expected_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, "x\n").unwrap();
            path
        };
        let (a_log, b_txt) = (file("a.log"), file("b.txt"));
        assert!(select(std::slice::from_ref(&a_log), None).is_ok());
        let error = select(&[b_txt], None).err().unwrap();
        assert!(error.contains("b.txt: a case is NAME.log"), "{error}");
        let a_ndjson = file("a.ndjson");
        for named in [&a_log, &a_ndjson] {
            let error = select(std::slice::from_ref(named), None).err().unwrap();
            assert!(error.contains("would share the expected file"), "{error}");
        }
        std::fs::create_dir(dir.path().join("tests")).unwrap();
        std::fs::rename(&a_log, dir.path().join("tests/a.log")).unwrap();
        std::fs::rename(&a_ndjson, dir.path().join("tests/a.ndjson")).unwrap();
        let error = select(&[], Some(dir.path())).err().unwrap();
        assert!(error.contains("would share the expected file"), "{error}");
    }
}
