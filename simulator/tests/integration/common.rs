//! Helpers shared by the integration tests.

use foresight_core::{Cluster, Job, Resources};
use foresight_datasets::{ReadOptions, read_trace, shared::dataset_or_skip};
use foresight_simulator::{Filter, RunSpec, Workload, WorkloadOptions, run};

/// The KTH-SP2 log, filtered as predictsim filters it, on its 100-processor
/// machine; `None` (test skipped) when the dataset is missing.
pub fn kth() -> Option<(Workload, Cluster)> {
    let path = dataset_or_skip("pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz")?;
    let ingested = read_trace(&path, &ReadOptions::default()).expect("the KTH log reads");
    let cluster = ingested.table.meta.default_cluster().expect("the KTH log declares its machine");
    let opts = WorkloadOptions { filter: Filter::Predictsim, ..WorkloadOptions::default() };
    Some((Workload::from_jobs(&ingested.table.jobs, &cluster, opts), cluster))
}

/// Average bounded slowdown of one run (printed with the maximum).
pub fn avg_bsld(w: &Workload, c: &Cluster, policy: &str, predictor: &str) -> f64 {
    avg_bsld_of(w, c, &RunSpec { predictor: Some(predictor.to_string()), ..RunSpec::new(policy) })
}

/// Average bounded slowdown of one run, fully specified (printed with the
/// maximum).
pub fn avg_bsld_of(w: &Workload, c: &Cluster, spec: &RunSpec) -> f64 {
    let (_, report) = run(w, c, spec).expect("the run succeeds");
    let s = report.summary;
    println!("{} / {}: avg bsld {:.3}, max bsld {:.1}", report.policy, report.predictor, s.avg_bsld, s.max_bsld);
    s.avg_bsld
}

/// A small synthetic job: submitted at `submit`, `cpus` processors,
/// running `runtime` of a requested `req` seconds, by user `user`.
pub fn job(submit: f64, cpus: u32, runtime: f64, req: f64, user: u32) -> Job {
    Job {
        job_id: format!("{submit}-{cpus}-{runtime}"),
        user: Some(format!("u{user}")),
        submit_s: submit,
        start_s: Some(submit),
        end_s: Some(submit + runtime),
        runtime_s: Some(runtime),
        req_cpus: Some(cpus),
        req_time_s: Some(req),
        ..Job::default()
    }
}

/// `n` single-processor nodes.
pub fn cpus(n: u32) -> Cluster {
    Cluster::homogeneous("n", n, Resources::new(1, 0, 0))
}
