//! Loghub data and scoring for the accuracy test: reads the ground-truth
//! CSVs from `../shared/data/loghub` and scores predicted templates the way
//! `../shared/tools/loghub_score.py` does (GA, PA with normalisation).
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

pub const DATASETS: [&str; 10] = [
    "HDFS",
    "Hadoop",
    "Spark",
    "Zookeeper",
    "HPC",
    "Linux",
    "Apache",
    "OpenSSH",
    "Windows",
    "Thunderbird",
];

/// `../shared/data/loghub` beside the checkout; tests fail loudly without it.
pub fn loghub_dir() -> PathBuf {
    let dir = wasmstash_sdk::crate_dir!().join("../../../shared/data/loghub");
    assert!(
        dir.is_dir(),
        "test data missing: expected the Loghub sets at {} (see ../shared/data/README.md)",
        dir.display()
    );
    dir
}

/// One labelled line: the content the miner sees and its true template.
pub struct Row {
    pub content: String,
    pub template: String,
}

/// Reads `<DS>_2k.log_structured[_corrected].csv`.
pub fn read_structured(dataset: &str, corrected: bool) -> Vec<Row> {
    let suffix = if corrected { "_corrected" } else { "" };
    let path = loghub_dir()
        .join(dataset)
        .join(format!("{dataset}_2k.log_structured{suffix}.csv"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut records = parse_csv(&text).into_iter();
    let header = records.next().expect("a header row");
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{} has no {name} column", path.display()))
    };
    let (content, template) = (column("Content"), column("EventTemplate"));
    let rows: Vec<Row> = records
        .map(|r| Row {
            content: r[content].clone(),
            template: r[template].clone(),
        })
        .collect();
    assert_eq!(rows.len(), 2000, "{} changed", path.display());
    rows
}

/// RFC 4180: fields split at commas, quoted fields may hold commas,
/// doubled quotes and line breaks.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Whitespace runs to one space, ends trimmed, consecutive `<*>` collapsed.
pub fn normalise(template: &str) -> String {
    let mut t = template.split_whitespace().collect::<Vec<_>>().join(" ");
    while t.contains("<*><*>") {
        t = t.replace("<*><*>", "<*>");
    }
    let mut out: Vec<&str> = Vec::new();
    for token in t.split(' ') {
        if token == "<*>" && out.last() == Some(&"<*>") {
            continue;
        }
        out.push(token);
    }
    out.join(" ")
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Score {
    pub ga: f64,
    pub pa: f64,
}

/// GA and PA over the lines with a non-empty true template.
pub fn score(truth: &[&str], predicted: &[&str]) -> Score {
    assert_eq!(truth.len(), predicted.len());
    let labelled: Vec<usize> = (0..truth.len()).filter(|&i| !truth[i].is_empty()).collect();
    let mut true_groups: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut predicted_size: HashMap<&str, usize> = HashMap::new();
    for &i in &labelled {
        true_groups.entry(truth[i]).or_default().push(i);
        *predicted_size.entry(predicted[i]).or_default() += 1;
    }
    let mut grouped = 0;
    for members in true_groups.values() {
        let labels: HashSet<&str> = members.iter().map(|&i| predicted[i]).collect();
        if labels.len() == 1 && predicted_size[predicted[members[0]]] == members.len() {
            grouped += members.len();
        }
    }
    let parsed = labelled
        .iter()
        .filter(|&&i| normalise(predicted[i]) == normalise(truth[i]))
        .count();
    let n = labelled.len() as f64;
    Score {
        ga: grouped as f64 / n,
        pa: parsed as f64 / n,
    }
}
