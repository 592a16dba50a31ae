//! End-to-end: `foresight demo` on the embedded dataset writes a report a
//! newcomer can open (and the model's report beside it), `foresight report`
//! and `compare --report` render the same evidence again, and `foresight log
//! --report` renders a real decision log's shadow report.

use foresight_controller::log::{Body, BreakerRecord, CycleRecord, DecisionSummary, FinishedRecord, LogConfig, LogWriter, Placement, Source};
use std::path::Path;
use std::process::{Command, Output};

fn foresight(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foresight")).args(args).current_dir(dir).output().expect("the foresight binary runs")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn demo_with_no_arguments_writes_the_report_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let text = ok(&foresight(&["demo"], dir.path()));
    assert!(text.contains("report: foresight-demo/report.html"), "{text}");
    assert!(text.lines().next().unwrap().contains("cuts mean wait by"), "{text}");
    let out = dir.path().join("foresight-demo");
    for file in ["jobs.parquet", "report.html", "report.md", "report.json"] {
        assert!(out.join(file).is_file(), "{file} is missing");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 9, "nine charts");
    assert!(text.contains("model:  foresight-demo/model.html"), "{text}");
    let model_md = std::fs::read_to_string(out.join("model.md")).unwrap();
    let model_html = std::fs::read_to_string(out.join("model.html")).unwrap();
    for section in ["## Runtime predictions on the test jobs", "## Accuracy per user", "## Demand forecast"] {
        assert!(model_md.contains(section), "{section} is missing from the demo's model report:\n{model_md}");
    }
    let evals: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
    let has_importances = evals[0]["importances"].as_array().is_some_and(|a| !a.is_empty());
    assert_eq!(model_md.contains("## Feature importances"), has_importances);
    assert_eq!(model_html.matches("<svg").count(), 4 + usize::from(has_importances), "calibration, two bars, users (the demand window is too short to draw)");
    assert!(!model_html.contains("NaN"));

    let again = ok(&foresight(&["report", "foresight-demo/report.json", "-o", "again/report.html"], dir.path()));
    assert!(again.contains("report: again/report.html"), "{again}");
    let md = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
    assert_eq!(md("again/report.md"), md("foresight-demo/report.md"), "the same evidence renders the same report");
}

#[test]
fn compare_report_writes_html_markdown_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/data/h100-jobs/jobs.csv");
    let args = ["compare", jobs.to_str().unwrap(), "--policies", "fcfs,sjf", "--load-factor", "2", "--report", "r/cmp.html"];
    let text = ok(&foresight(&args, dir.path()));
    assert!(text.contains("report: r/cmp.html") && text.contains("sjf"), "{text}");
    let md = std::fs::read_to_string(dir.path().join("r/cmp.md")).unwrap();
    assert!(md.starts_with("# Policy comparison: fcfs vs sjf\n\n**SJF with user-history predictions "), "{md}");
    assert!(dir.path().join("r/cmp.json").is_file());

    let one = foresight(&["compare", jobs.to_str().unwrap(), "--policies", "fcfs", "--report", "x.html"], dir.path());
    assert!(!one.status.success());
    assert!(String::from_utf8_lossy(&one.stderr).contains("at least two policies"));
}

/// A decision log as the controller writes it: twelve cycles (eight agreeing
/// with the baseline, two fallbacks), a breaker opening, and twenty finished
/// jobs over five minutes with prediction errors and counterfactual starts.
fn write_log(path: &Path) {
    let mut w = LogWriter::open(LogConfig::new(path)).unwrap();
    let t0 = 1_800_000_000.0;
    let decision = |ids: &[String]| DecisionSummary { start: ids.iter().map(|i| Placement { job_id: i.clone(), nodes: vec!["n1".into()] }).collect(), preempt: vec![] };
    for c in 0..12u64 {
        let fallback = c >= 10;
        let base = vec![format!("j{c}")];
        let cand = if c < 8 { base.clone() } else { vec![format!("j{}", c + 1)] };
        let cycle = CycleRecord {
            cycle: c,
            trigger: "timer".into(),
            observed_at_unix_s: t0 + 20.0 * c as f64,
            observed: Default::default(),
            changes: vec![],
            actual: None,
            baseline: Some(decision(&base)),
            candidate: (!fallback).then(|| decision(&cand)),
            source: if fallback { Source::Fallback } else { Source::Candidate },
            fallback_reason: fallback.then(|| "breaker open".into()),
            predictions: Default::default(),
            intervals: Default::default(),
            model_version: Some("m1".into()),
            latency_us: 900,
        };
        w.append(t0 + 20.0 * c as f64, Body::Cycle(cycle)).unwrap();
    }
    w.append(t0 + 200.0, Body::Breaker(BreakerRecord { from: "closed".into(), to: "open".into(), reason: "drift".into() })).unwrap();
    for j in 0..20u32 {
        let end = t0 + 15.0 * f64::from(j);
        let error = f64::from(j % 5) * 10.0 - 15.0;
        let finished = FinishedRecord {
            job_id: format!("j{j}"),
            submit_unix_s: end - 100.0,
            start_unix_s: end - 60.0,
            end_unix_s: end,
            runtime_s: 60.0,
            predicted_runtime_s: Some(60.0 + error),
            predicted_interval: None,
            error_s: Some(error),
            candidate_start_unix_s: Some(end - 60.0 - f64::from(j % 4) * 5.0),
            counterfactual_delta_s: Some(-f64::from(j % 4) * 5.0),
            model_version: Some("m1".into()),
        };
        w.append(end, Body::Finished(finished)).unwrap();
    }
}

#[test]
fn log_report_renders_a_real_decision_log_as_html_markdown_and_json() {
    let dir = tempfile::tempdir().unwrap();
    write_log(&dir.path().join("decisions.log"));
    let o = foresight(&["log", "decisions.log", "--summary", "--report", "shadow/shadow.html"], dir.path());
    let text = ok(&o);
    assert!(text.contains("agreement with the baseline: 80.0 %"), "{text}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("report: shadow/shadow.html"));
    let read = |f: &str| std::fs::read_to_string(dir.path().join("shadow").join(f)).unwrap();
    let (html, md, json) = (read("shadow.html"), read("shadow.md"), read("shadow.json"));
    assert!(md.starts_with("# Shadow mode: decisions.log\n\n**Over 12 decision cycles the candidate agreed with the baseline in 80.0% of the cycles both decided"), "{md}");
    assert!(md.contains("20 finished jobs (20 with a prediction), the circuit breaker opened 1 times"), "{md}");
    assert!(md.contains("would have started jobs 7.5 s earlier on average"), "{md}");
    assert!(md.contains("| p50 | -10.0 s |") && md.contains("| min | -15.0 s |"), "{md}");
    assert_eq!(html.matches("<svg").count(), 3, "decisions, error over time, counterfactual CDF");
    for series in ["cycles", "mean absolute error", "candidate minus actual"] {
        assert!(html.contains(&format!("class=\"data\" data-series=\"{series}\"")), "{series} not drawn");
    }
    assert!(!html.contains("NaN"));
    let numbers: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!((numbers["cycles"].as_u64(), numbers["error_over_time"].as_array().map(Vec::len)), (Some(12), Some(5)));
}
