//! End-to-end tests of `foresight robustness`: the matrix on a synthetic
//! log, its Markdown and JSON, its refusal of a run with nothing to
//! replay, and `--check` failing when the candidate breaks its promise.

mod common;

use common::{foresight, stderr, stdout};

#[test]
fn the_matrix_runs_on_a_synthetic_log_and_writes_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("matrix.md");
    let json = dir.path().join("matrix.json");
    let out = foresight(&[
        "robustness",
        "--synthetic",
        "1500",
        "--loads",
        "1,1.6",
        "--filter",
        "predictsim",
        "--markdown",
        md.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("promise ").count(), 2, "{text}");
    assert!(text.contains("candidate  foresight / online"), "{text}");
    // the Markdown table: a header, a rule and a row per cell
    let table = std::fs::read_to_string(&md).unwrap();
    insta::assert_snapshot!(table);
    let cells: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let cells = cells.as_array().unwrap();
    assert_eq!(cells.len(), 2);
    for c in cells {
        let reports = c["reports"].as_array().unwrap();
        let names: Vec<&str> = reports.iter().map(|r| r["policy"].as_str().unwrap()).collect();
        assert_eq!(names, ["easy", "easy++", "foresight", "easy++"]);
        assert_eq!(reports[3]["predictor"], "clairvoyant");
        assert!(reports.iter().all(|r| r["summary"]["jobs"] == 1500));
    }
    // twice the load offers more work per unit of capacity
    assert!(cells[1]["offered_load"].as_f64().unwrap() > 1.5 * cells[0]["offered_load"].as_f64().unwrap());
}

#[test]
fn a_matrix_without_a_log_is_refused() {
    let out = foresight(&["robustness"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("give at least one log, or --synthetic JOBS"), "{}", stderr(&out));
    let out = foresight(&["robustness", "--synthetic", "100", "--loads", "1,0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--loads: 0 is not a positive load factor"), "{}", stderr(&out));
}

#[test]
fn check_fails_when_the_candidate_breaks_its_promise() {
    // FCFS without backfilling as the candidate: far worse than EASY on
    // average at a busy load
    let args = ["robustness", "--synthetic", "1500", "--loads", "1.3", "--candidate", "fcfs"];
    let out = foresight(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("promise BROKEN"), "{}", stdout(&out));
    let out = foresight(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("the candidate breaks its promise in 1 of 1 cells"), "{}", stderr(&out));
}

#[test]
fn the_synthetic_log_written_out_replays_to_the_matrixs_figures() {
    let dir = tempfile::tempdir().unwrap();
    let (table, json) = (dir.path().join("synthetic.parquet"), dir.path().join("matrix.json"));
    let (table_s, json_s) = (table.to_str().unwrap(), json.to_str().unwrap());
    let args = ["robustness", "--synthetic", "1500", "--seed", "3", "--loads", "1.3", "--synthetic-out", table_s];
    let out = foresight(&[&args[..], &["--json", json_s]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let cells: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let reference = &cells[0]["reports"][1]["summary"];
    let replay = dir.path().join("replay.json");
    let out = foresight(&[
        "simulate",
        table_s,
        "--policy",
        "easy++",
        "--load-factor",
        "1.3",
        "--json",
        replay.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let replayed: serde_json::Value = serde_json::from_slice(&std::fs::read(&replay).unwrap()).unwrap();
    assert_eq!(replayed["summary"]["jobs"], 1500);
    assert_eq!(replayed["summary"]["avg_bsld"], reference["avg_bsld"], "the same log, the same schedule");
    assert_eq!(replayed["summary"]["mean_wait_s"], reference["mean_wait_s"]);
    // without --synthetic there is nothing to write
    let out = foresight(&["robustness", "x.swf", "--synthetic-out", table_s]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
