//! The scheduler's promises, checked on random workloads under every
//! policy and predictor: capacity is never exceeded, no job starts before
//! its submission, every job ends exactly once.

use crate::common::job;
use foresight_core::Cluster;
use foresight_core::Resources;
use foresight_core::policy::PolicySpec;
use foresight_core::predictor::{Outlived, Predictor, PredictorKind};
use foresight_core::state::JobInfo;
use foresight_simulator::{SimOptions, Workload, WorkloadOptions, simulate};
use proptest::prelude::*;

/// A predictor that counts what it is told, around a real one.
struct Counting {
    inner: Box<dyn Predictor>,
    starts: Vec<u32>,
    ends: Vec<u32>,
}

impl Predictor for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn predict(&mut self, job: &JobInfo) -> f64 {
        self.inner.predict(job)
    }
    fn observe_start(&mut self, job: &JobInfo, now: f64) {
        self.starts[job.key.0 as usize] += 1;
        self.inner.observe_start(job, now);
    }
    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, now: f64) {
        self.ends[job.key.0 as usize] += 1;
        self.inner.observe_end(job, runtime_s, now);
    }
    fn correct(&mut self, job: &JobInfo, o: &Outlived) -> f64 {
        self.inner.correct(job, o)
    }
}

/// One job: submit, processors, runtime, request factor, user.
type JobSpec = (u32, u32, u32, f64, u32);

fn arb_jobs() -> impl Strategy<Value = Vec<JobSpec>> {
    // (submit, cpus, runtime, request factor, user)
    prop::collection::vec((0u32..2000, 1u32..9, 0u32..600, 0.5f64..3.0, 0u32..4), 1..60)
}

fn arb_setup() -> impl Strategy<Value = (Vec<JobSpec>, u32, u32, usize, usize)> {
    (arb_jobs(), 1u32..5, 2u32..9, 0..PolicySpec::PRESETS.len(), 0..PredictorKind::ALL.len())
}

fn build(jobs: &[JobSpec], nodes: u32, cpus: u32) -> (Workload, Cluster) {
    let cluster = Cluster::homogeneous("n", nodes, Resources::new(cpus, 0, 0));
    let jobs: Vec<_> = jobs
        .iter()
        .map(|&(s, c, r, f, u)| job(f64::from(s), c, f64::from(r), (f64::from(r) * f).round().max(1.0), u))
        .collect();
    (Workload::from_jobs(&jobs, &cluster, WorkloadOptions::default()), cluster)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn proptest_capacity_never_exceeded_and_jobs_start_after_submission_and_end_once(
        (jobs, nodes, cpus, p, k) in arb_setup()
    ) {
        let (w, cluster) = build(&jobs, nodes, cpus);
        let spec: PolicySpec = PolicySpec::PRESETS[p].parse().unwrap();
        let mut policy = spec.build();
        let mut pred = Counting {
            inner: PredictorKind::ALL[k].build(|| w.effective_runtimes()),
            starts: vec![0; w.len()],
            ends: vec![0; w.len()],
        };
        let r = simulate(&w, &cluster, &mut policy, &mut pred, &SimOptions::default()).unwrap();
        prop_assert_eq!(r.stats.never_started, 0);
        let mut edges = Vec::new();
        for (j, o) in w.jobs.iter().zip(&r.outcomes) {
            prop_assert!(o.start_s >= j.info.submit_s, "job {} starts before its submission", j.info.key.0);
            prop_assert_eq!(o.end_s - o.start_s, j.runtime_s.min(j.info.limit_s));
            prop_assert_eq!(o.killed, j.runtime_s > j.info.limit_s);
            edges.push((o.start_s, 1i64, i64::from(j.info.demand.total.cpus)));
            edges.push((o.end_s, 0i64, -i64::from(j.info.demand.total.cpus)));
        }
        prop_assert!(pred.ends.iter().all(|&n| n == 1), "every job ends exactly once");
        prop_assert!(pred.starts.iter().all(|&n| n == 1), "every job starts exactly once");
        edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut used = 0i64;
        for (_, _, d) in edges {
            used += d;
            prop_assert!(used <= i64::from(cluster.total().cpus), "capacity exceeded: {used}");
        }
    }
}
