//! Evidence on a three-job trace small enough to check by hand.

use super::*;
use foresight_core::{Job, Resources};

/// Two long jobs of user `a`, then a short one of user `b`, on one CPU.
fn workload() -> (Workload, Cluster) {
    let job = |submit: f64, user: &str, runtime: f64| Job {
        submit_s: submit,
        user: Some(user.to_string()),
        runtime_s: Some(runtime),
        req_cpus: Some(1),
        req_time_s: Some(1000.0),
        ..Job::default()
    };
    let cluster = Cluster::homogeneous("n", 1, Resources::new(1, 0, 0));
    let jobs = [job(0.0, "a", 100.0), job(1.0, "a", 100.0), job(2.0, "b", 1.0)];
    (Workload::from_jobs(&jobs, &cluster, Default::default()), cluster)
}

fn evidence() -> Evidence {
    let (w, c) = workload();
    let specs = [RunSpec::new("fcfs"), RunSpec { predictor: Some("clairvoyant".into()), ..RunSpec::new("sjf") }];
    compare_evidence(EvidenceMeta { title: "t".into(), ..Default::default() }, &w, &c, &specs, 0, 1).unwrap()
}

#[test]
fn the_verdict_counts_users_and_the_mean_wait_change() {
    let e = evidence();
    // FCFS waits 0, 99, 198; shortest first runs the short job before the
    // second long one: 0, 100, 98.
    assert_eq!(e.verdict.baseline_mean_wait_s, 99.0);
    assert_eq!(e.verdict.candidate_mean_wait_s, 66.0);
    assert_eq!((e.verdict.better, e.verdict.worse, e.verdict.unchanged), (1, 0, 1));
    assert_eq!(
        e.verdict.sentence,
        "SJF with true runtimes (oracle) cuts mean wait by 33% (1.6 min to 1.1 min) against FCFS with user estimates; \
         1 user better off, 0 worse."
    );
    let b = &e.users[1];
    assert_eq!((b.name.as_str(), b.outcome, b.change_pct.round()), ("b", Outcome::Better, -51.0));
}

#[test]
fn the_cdf_reaches_one_and_the_timeline_holds_all_the_work() {
    let e = evidence();
    let cdf = &e.runs[0].wait_cdf;
    assert_eq!((cdf[0].wait_s, cdf.last().unwrap().wait_s, cdf.last().unwrap().fraction), (0.0, 198.0, 1.0));
    assert_eq!(e.runs[0].wait_quantiles[1], CdfPoint { wait_s: 99.0, fraction: 0.5 });
    let t = &e.runs[1].timeline;
    let work: f64 = t.utilisation.iter().sum::<f64>() * t.bin_s;
    assert!((work - 201.0).abs() < 1e-9, "{work}");
    assert!((t.mean_utilisation - 1.0).abs() < 1e-9, "the CPU is never idle from 0 to 201 s");
    assert!(t.peak_queue_len > 1.0 && t.peak_queue_len <= 2.0 + 1e-9, "{}", t.peak_queue_len);
}

#[test]
fn classes_cover_the_jobs_and_json_round_trips() {
    let e = evidence();
    let r = &e.runs[0];
    assert_eq!(r.bsld_by_size.iter().map(|c| (c.class.as_str(), c.jobs)).collect::<Vec<_>>(), [("1 CPU", 3)]);
    let runtime: Vec<_> = r.bsld_by_runtime.iter().map(|c| (c.class.as_str(), c.jobs)).collect();
    assert_eq!(runtime, [("1-10 s", 1), ("1-10 min", 2)]);
    let text = serde_json::to_string(&e).unwrap();
    let back: Evidence = serde_json::from_str(&text).unwrap();
    assert_eq!((back.verdict, back.users, back.runs.len()), (e.verdict, e.users, 2));
}

#[test]
fn a_bad_index_is_an_error() {
    let (w, c) = workload();
    let err = compare_evidence(EvidenceMeta::default(), &w, &c, &[RunSpec::new("fcfs")], 0, 1).unwrap_err();
    assert!(err.to_string().contains("not one of 1 runs"), "{err}");
}

#[test]
fn prediction_quality_compares_estimates_with_runtimes() {
    let e = evidence();
    let requested = &e.runs[0].predictions;
    assert_eq!((requested.jobs, requested.under_rate), (3, 0.0));
    assert!((requested.accuracy - (0.1 + 0.1 + 0.001) / 3.0).abs() < 1e-12, "{}", requested.accuracy);
    assert_eq!(requested.error_factors.last().unwrap().jobs, 3, "1000 s limits are 10x and 1000x the runtimes");
    let oracle = &e.runs[1].predictions;
    assert_eq!((oracle.accuracy, oracle.under_rate, oracle.scatter.len()), (1.0, 0.0, 3));
    assert_eq!(oracle.error_factors.iter().find(|b| b.bin == "1-2x").unwrap().jobs, 3);
    let users: Vec<_> = oracle.by_user.iter().map(|u| (u.name.as_str(), u.jobs)).collect();
    assert_eq!(users, [("a", 2), ("b", 1)]);
}
