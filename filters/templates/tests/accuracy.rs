//! Grouping and parsing accuracy of the default miner on the ten Loghub sets,
//! against the corrected ground truth (GA, PA) and the original one (GA).
//!
//! The miner sees the `Content` column: the line after a parsing step has cut
//! the header off, which in a pipeline is grok, dissect or syslog before
//! `templates`. One default config for every set, no tuning per set.
//!
//! The floors below are the figures this miner reached; they only move up.
//! `cargo test -p wasmstash-filter-templates --test accuracy -- --nocapture`
//! prints the table that `ACCURACY.md` records. With `TEMPLATES_PREDICTIONS`
//! set to a folder, the predictions are written there as `<DS>.txt`, one
//! template per line, for `../shared/tools/loghub_score.py`.

mod support;

use support::*;
use wasmstash_filter_templates::miner::{Config, Miner};

/// (GA corrected, PA corrected) below which a set fails the test.
const FLOORS: [(&str, f64, f64); 10] = [
    ("HDFS", 1.0, 0.902),
    ("Hadoop", 0.982, 0.905),
    ("Spark", 0.924, 0.921),
    ("Zookeeper", 0.988, 0.671),
    ("HPC", 0.948, 0.946),
    ("Linux", 0.878, 0.86),
    ("Apache", 1.0, 1.0),
    ("OpenSSH", 0.996, 0.991),
    ("Windows", 0.999, 0.985),
    ("Thunderbird", 0.958, 0.905),
];
const MEAN_GA_FLOOR: f64 = 0.967;
const MEAN_PA_FLOOR: f64 = 0.908;

/// Drain3 0.9.11 on the corrected ground truth (../shared/data/README.md):
/// GA default, GA tuned, PA tuned.
const DRAIN3: [(&str, f64, f64, f64); 10] = [
    ("HDFS", 0.998, 0.998, 0.627),
    ("Hadoop", 0.954, 0.948, 0.514),
    ("Spark", 0.923, 0.920, 0.382),
    ("Zookeeper", 0.967, 0.967, 0.497),
    ("HPC", 0.741, 0.887, 0.636),
    ("Linux", 0.870, 0.876, 0.172),
    ("Apache", 1.000, 1.000, 0.694),
    ("OpenSSH", 0.720, 0.789, 0.508),
    ("Windows", 0.571, 0.997, 0.462),
    ("Thunderbird", 0.955, 0.955, 0.047),
];

/// Per line, the template its group has at the end of the stream (how
/// Drain's benchmark scores) and the one the line got when it was mined
/// (what the filter writes on the event).
fn predict(rows: &[Row]) -> (Vec<String>, Vec<String>) {
    let mut miner = Miner::new(Config::default()).unwrap();
    let mut slots = Vec::with_capacity(rows.len());
    let mut online = Vec::with_capacity(rows.len());
    for row in rows {
        let m = miner.add(&row.content);
        slots.push(m.slot());
        online.push(m.text().to_owned());
    }
    let finals = slots
        .iter()
        .map(|&slot| miner.template_text(slot).unwrap().to_owned())
        .collect();
    (finals, online)
}

#[test]
fn default_config_accuracy_on_loghub() {
    let dump = std::env::var_os("TEMPLATES_PREDICTIONS").map(std::path::PathBuf::from);
    println!(
        "| dataset | GA | PA | GA original | GA online | PA online | Drain3 GA default | Drain3 GA tuned | Drain3 PA tuned |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let (mut sum_ga, mut sum_pa, mut sum_original) = (0.0, 0.0, 0.0);
    let (mut sum_live_ga, mut sum_live_pa) = (0.0, 0.0);
    let mut failures = Vec::new();
    for (i, dataset) in DATASETS.iter().enumerate() {
        let corrected = read_structured(dataset, true);
        let original = read_structured(dataset, false);
        let (predicted, online) = predict(&corrected);
        let online: Vec<&str> = online.iter().map(String::as_str).collect();
        let refs: Vec<&str> = predicted.iter().map(String::as_str).collect();
        let truth: Vec<&str> = corrected.iter().map(|r| r.template.as_str()).collect();
        let truth_original: Vec<&str> = original.iter().map(|r| r.template.as_str()).collect();
        let s = score(&truth, &refs);
        let o = score(&truth_original, &refs);
        let live = score(&truth, &online);
        let (_, ga_default, ga_tuned, pa_tuned) = DRAIN3[i];
        println!(
            "| {dataset} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {ga_default:.3} | {ga_tuned:.3} | {pa_tuned:.3} |",
            s.ga, s.pa, o.ga, live.ga, live.pa
        );
        sum_ga += s.ga;
        sum_pa += s.pa;
        sum_original += o.ga;
        sum_live_ga += live.ga;
        sum_live_pa += live.pa;
        let (name, ga_floor, pa_floor) = FLOORS[i];
        assert_eq!(name, *dataset);
        if s.ga < ga_floor || s.pa < pa_floor {
            failures.push(format!(
                "{dataset}: GA {:.4} (floor {ga_floor}), PA {:.4} (floor {pa_floor})",
                s.ga, s.pa
            ));
        }
        if let Some(dir) = &dump {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(
                dir.join(format!("{dataset}.txt")),
                predicted.join("\n") + "\n",
            )
            .unwrap();
        }
    }
    let n = DATASETS.len() as f64;
    let (mean_ga, mean_pa) = (sum_ga / n, sum_pa / n);
    println!(
        "| **mean** | **{mean_ga:.3}** | **{mean_pa:.3}** | {:.3} | {:.3} | {:.3} | 0.870 | 0.934 | 0.454 |",
        sum_original / n,
        sum_live_ga / n,
        sum_live_pa / n
    );
    assert!(failures.is_empty(), "accuracy fell: {failures:#?}");
    assert!(
        mean_ga >= MEAN_GA_FLOOR,
        "mean GA {mean_ga:.4} < {MEAN_GA_FLOOR}"
    );
    assert!(
        mean_pa >= MEAN_PA_FLOOR,
        "mean PA {mean_pa:.4} < {MEAN_PA_FLOOR}"
    );
}

/// Our scorer against `../shared/tools/loghub_score.py` on the same
/// predictions, for every set and both ground truths. Needs python3; without
/// it the test says so and checks nothing else.
#[test]
fn scorer_agrees_with_the_reference_scorer() {
    let script = loghub_dir().join("../../tools/loghub_score.py");
    assert!(
        script.is_file(),
        "reference scorer missing at {}",
        script.display()
    );
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("python3 not found: the agreement with loghub_score.py is not checked");
        return;
    }
    let dir = std::env::temp_dir().join(format!("templates-accuracy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for dataset in DATASETS {
        let corrected = read_structured(dataset, true);
        let (predicted, _) = predict(&corrected);
        let file = dir.join(format!("{dataset}.txt"));
        std::fs::write(&file, predicted.join("\n") + "\n").unwrap();
        let refs: Vec<&str> = predicted.iter().map(String::as_str).collect();
        for is_corrected in [true, false] {
            let rows = read_structured(dataset, is_corrected);
            let truth: Vec<&str> = rows.iter().map(|r| r.template.as_str()).collect();
            let ours = score(&truth, &refs);
            let suffix = if is_corrected { "_corrected" } else { "" };
            let gt =
                loghub_dir().join(format!("{dataset}/{dataset}_2k.log_structured{suffix}.csv"));
            let output = std::process::Command::new("python3")
                .arg(&script)
                .arg(&gt)
                .arg(&file)
                .arg("--json")
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let theirs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            for (name, value) in [("GA", ours.ga), ("PA", ours.pa)] {
                let reference = theirs[name].as_f64().unwrap();
                assert!(
                    (reference - value).abs() < 1e-9,
                    "{dataset}{suffix} {name}: ours {value}, loghub_score.py {reference}"
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
