//! Chooses the online predictor's settings on a development part of a log:
//! replays EASY++ (the same simulator settings as `foresight compare
//! --filter predictsim`) with the user-history and clairvoyant predictors
//! and with each candidate online setting, and prints the average bounded
//! slowdowns.
//!
//! ```sh
//! cargo run --release -p foresight-models --example online_dev -- \
//!   [--trace FILE.swf.gz] [--part dev|full] [KIND/CORRECTION/WEIGHTING/RETRAIN ...]
//! ```
//!
//! `--part dev` (the default) replays only the first quarter of the jobs,
//! by submission, that the predictsim filter keeps; `--part full` the whole
//! log. A candidate such as `gbt/ladder/none/1000` names the model kind,
//! the correction (`ladder`, `double`), the weighting (`none`,
//! `log-cores`) and the retraining period; without any, a fixed grid is
//! replayed. The trace defaults to KTH-SP2 in the shared datasets.

use foresight_core::Job;
use foresight_core::policy::PolicySpec;
use foresight_datasets::{JobTable, ReadOptions, read_trace};
use foresight_models::{Correction, OnlineParams, OnlinePredictor, Weighting};
use foresight_simulator::{Filter, RunSpec, SimOptions, Workload, WorkloadOptions, metrics, run, simulate};
use std::path::PathBuf;
use std::time::Instant;

const KTH: &str = "/work/shared/datasets/pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz";

/// The grid replayed when no candidate is named.
const GRID: [&str; 10] = [
    "gbt/ladder/none/1000",
    "gbt/double/none/1000",
    "gbt/ladder/log-cores/1000",
    "gbt/double/log-cores/1000",
    "gbt-median/ladder/none/1000",
    "gbt-median/double/none/1000",
    "gbt-median/ladder/log-cores/1000",
    "gbt-under/ladder/log-cores/1000",
    "gbt/ladder/none/250",
    "gbt-median/ladder/none/250",
];

fn parse(candidate: &str) -> OnlineParams {
    let parts: Vec<&str> = candidate.split('/').collect();
    assert_eq!(parts.len(), 4, "expected KIND/CORRECTION/WEIGHTING/RETRAIN, got `{candidate}`");
    let correction = match parts[1] {
        "ladder" => Correction::Ladder,
        "double" => Correction::Double,
        c => panic!("unknown correction `{c}`"),
    };
    let weighting = match parts[2] {
        "none" => Weighting::None,
        "log-cores" => Weighting::LogCores,
        w => panic!("unknown weighting `{w}`"),
    };
    OnlineParams {
        kind: parts[0].parse().expect("a model kind"),
        correction,
        weighting,
        retrain_every: parts[3].parse().expect("a retraining period"),
        ..OnlineParams::default()
    }
}

fn main() {
    let mut trace = PathBuf::from(KTH);
    let mut full = false;
    let mut candidates: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--trace" => trace = args.next().expect("a path").into(),
            "--part" => full = args.next().expect("dev or full") == "full",
            _ => candidates.push(a),
        }
    }
    if candidates.is_empty() {
        candidates = GRID.iter().map(|s| s.to_string()).collect();
    }
    let table = read_trace(&trace, &ReadOptions::default()).expect("reads the trace").table;
    let cluster = table.meta.default_cluster().expect("the trace declares its machine");
    let opts = WorkloadOptions { filter: Filter::Predictsim, load_factor: 1.0 };
    let all = Workload::from_jobs(&table.jobs, &cluster, opts);
    let keep = if full { all.jobs.len() } else { all.jobs.len() / 4 };
    // The part replayed, in submission order, as its own table.
    let jobs: Vec<Job> = all.source_row[..keep].iter().map(|&r| table.jobs[r as usize].clone()).collect();
    let part = JobTable { meta: table.meta.clone(), jobs };
    let workload = Workload::from_jobs(&part.jobs, &cluster, opts);
    println!("{}: {} of {} jobs ({} part)", trace.display(), workload.jobs.len(), all.jobs.len(), if full { "full" } else { "dev" });
    println!("| predictor | avg bounded slowdown | retrains | seconds |");
    println!("| --- | --- | --- | --- |");
    for predictor in ["easy++", "clairvoyant"] {
        let spec = RunSpec { policy: "easy++".into(), predictor: Some(predictor.into()), options: SimOptions::default() };
        let t = Instant::now();
        let (_, report) = run(&workload, &cluster, &spec).expect("replays");
        println!("| {predictor} | {:.2} | - | {:.1} |", report.summary.avg_bsld, t.elapsed().as_secs_f64());
    }
    let policy: PolicySpec = "easy++".parse().expect("a policy");
    for c in &candidates {
        let t = Instant::now();
        let mut p = OnlinePredictor::new(&part, &workload.source_row, parse(c));
        let result = simulate(&workload, &cluster, &mut policy.build(), &mut p, &SimOptions::default()).expect("replays");
        let report = metrics::report(&workload, cluster.total(), &result, &policy.name, "online");
        println!("| online {c} | {:.2} | {} | {:.1} |", report.summary.avg_bsld, p.retrains(), t.elapsed().as_secs_f64());
    }
}
