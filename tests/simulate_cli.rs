//! End-to-end tests of `foresight simulate`, `compare` and `sweep` on the
//! KTH-SP2 log: the published EASY figure through the binary, the what-ifs
//! (load factor, cluster file), the sweep's grid, and the errors a user sees
//! for bad names and bad cluster files. Skipped when the dataset is missing.

mod common;

use common::{foresight, stderr, stdout};
use foresight_datasets::shared::dataset_or_skip;
use std::path::{Path, PathBuf};

const KTH: &str = "pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz";

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).expect("the JSON file was written")).expect("the file is JSON")
}

/// `simulate KTH --filter predictsim` with `extra` arguments; returns the
/// JSON report and what was printed.
fn simulate_kth(kth: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let json: PathBuf = dir.path().join("out.json");
    let mut args = vec!["simulate", s(kth), "--filter", "predictsim", "--json", s(&json)];
    args.extend_from_slice(extra);
    let out = foresight(&args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    (read_json(&json), stdout(&out))
}

fn avg_bsld(report: &serde_json::Value) -> f64 {
    report["summary"]["avg_bsld"].as_f64().expect("the report has an average bounded slowdown")
}

#[test]
fn simulate_kth_easy_writes_the_published_slowdown_to_json() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    let (report, text) = simulate_kth(&kth, &["--policy", "easy", "--predictor", "requested"]);
    assert_eq!(report["summary"]["jobs"].as_u64(), Some(28_481), "{}", report["summary"]);
    assert_eq!(report["summary"]["ended"].as_u64(), Some(28_481));
    assert_eq!((report["policy"].as_str(), report["predictor"].as_str()), (Some("easy"), Some("requested")));
    let v = avg_bsld(&report);
    assert!((v - 92.6).abs() <= 92.6 * 0.05, "avg bsld {v}");
    assert!(text.contains("28481 jobs on 100 nodes"), "{text}");
    assert!(text.contains(&format!("average bounded {v:.2}")), "the printed summary agrees with the JSON: {text}");
}

#[test]
fn compare_prints_a_row_per_policy_and_easy_plus_plus_beats_easy() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    let out = foresight(&["compare", s(&kth), "--filter", "predictsim", "--policies", "fcfs,easy,easy++"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let header = text.lines().next().unwrap_or_default();
    assert!(header.starts_with("policy") && header.contains("avg bsld"), "{text}");
    // The average bounded slowdown is the fourth column from the right
    // (avg bsld, max bsld, util %, killed).
    let bsld = |policy: &str| -> f64 {
        let row: Vec<&str> = text
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.first() == Some(&policy))
            .unwrap_or_else(|| panic!("no row for {policy}: {text}"));
        row[row.len() - 4].parse().unwrap_or_else(|e| panic!("{policy}: {e}: {text}"))
    };
    let (fcfs, easy, easy_pp) = (bsld("fcfs"), bsld("easy"), bsld("easy++"));
    assert_eq!(text.lines().count(), 4, "a header and three rows: {text}");
    assert!(easy_pp < easy && easy < fcfs, "fcfs {fcfs}, easy {easy}, easy++ {easy_pp}");
}

#[test]
fn a_higher_load_factor_raises_the_slowdown() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    let (base, _) = simulate_kth(&kth, &["--policy", "easy"]);
    let (loaded, _) = simulate_kth(&kth, &["--policy", "easy", "--load-factor", "1.2"]);
    let (a, b) = (avg_bsld(&base), avg_bsld(&loaded));
    assert!(b > a * 1.2, "load 1: {a}, load 1.2: {b}");
    let util = |r: &serde_json::Value| r["summary"]["cpu_utilisation"].as_f64().unwrap();
    assert!(util(&loaded) > util(&base), "denser arrivals keep the machine busier");
}

#[test]
fn a_cluster_file_replaces_the_traces_machine() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("bigger.toml");
    std::fs::write(&toml, "[[node]]\nname = \"big\"\ncount = 40\ncpus = 4\nmem_gb = 16\n").unwrap();
    let (report, text) = simulate_kth(&kth, &["--policy", "easy", "--cluster", s(&toml)]);
    assert!(text.contains("on 40 nodes (160 CPUs"), "{text}");
    assert_eq!(report["summary"]["jobs"].as_u64(), Some(28_481));
    let v = avg_bsld(&report);
    assert!(v < 92.6 / 2.0, "160 CPUs instead of 100 cut the slowdown: {v}");

    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "[[node]]\nname = \"big\"\ncount = 40\ncpu = 4\n").unwrap();
    let out = foresight(&["simulate", s(&kth), "--cluster", s(&typo)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(s(&typo)) && err.contains("line 4") && err.contains("unknown field `cpu`"), "{err}");
}

#[test]
fn sweep_runs_every_point_of_a_small_grid() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("sweep.json");
    let out = foresight(&[
        "sweep",
        s(&kth),
        "--filter",
        "predictsim",
        "--policies",
        "easy,easy++",
        "--load-factors",
        "1,1.2",
        "--json",
        s(&json),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 5, "a header and four points: {text}");
    let points = read_json(&json);
    let points = points.as_array().expect("the sweep is a list of points");
    let mut grid: Vec<(f64, String)> = points
        .iter()
        .map(|p| (p["load_factor"].as_f64().unwrap(), p["report"]["policy"].as_str().unwrap().to_string()))
        .collect();
    grid.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let expected: Vec<(f64, String)> =
        [(1.0, "easy"), (1.0, "easy++"), (1.2, "easy"), (1.2, "easy++")].iter().map(|&(l, p)| (l, p.to_string())).collect();
    assert_eq!(grid, expected);
    let easy_at_1 = points.iter().find(|p| p["load_factor"] == 1.0 && p["report"]["policy"] == "easy").unwrap();
    assert!((avg_bsld(&easy_at_1["report"]) - 92.6).abs() <= 92.6 * 0.05, "the sweep's point is the plain run");
}

#[test]
fn unknown_policy_and_predictor_names_fail_with_the_expected_names() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    let out = foresight(&["simulate", s(&kth), "--policy", "magic"]);
    // Bad input exits 2 (ARCHITECTURE.md), not 1.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unknown policy or part `magic`") && err.contains("easy++"), "{err}");
    assert!(stdout(&out).is_empty(), "nothing is printed as a result");

    let out = foresight(&["compare", s(&kth), "--policies", "easy,bogus"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("`bogus`"), "{}", stderr(&out));

    let out = foresight(&["simulate", s(&kth), "--predictor", "psychic"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unknown predictor `psychic`") && err.contains("clairvoyant"), "{err}");
}
