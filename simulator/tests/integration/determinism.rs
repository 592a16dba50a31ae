//! Same inputs and seed, same results, bit for bit, faults included.

use crate::common::{cpus, job};
use foresight_simulator::{FaultConfig, FaultRate, OnFailure, RunSpec, SimOptions, Workload, WorkloadOptions, run};
use proptest::prelude::*;

fn options(seed: u64, on_failure: OnFailure) -> SimOptions {
    let faults = FaultConfig { rate: Some(FaultRate { mtbf_s: 3000.0, mttr_s: 200.0 }), on_failure, ..FaultConfig::default() };
    SimOptions { faults, seed, ..SimOptions::default() }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn proptest_identical_inputs_identical_results(
        jobs in prop::collection::vec((0u32..3000, 1u32..5, 1u32..900, 0u32..5), 1..50),
        seed in any::<u64>(),
        requeue in any::<bool>(),
        policy in prop::sample::select(vec!["easy", "easy++", "conservative", "fairshare", "qssf"]),
    ) {
        let jobs: Vec<_> = jobs.iter().map(|&(s, c, r, u)| job(f64::from(s), c, f64::from(r), f64::from(r) * 2.0, u)).collect();
        let cluster = cpus(6);
        let w = Workload::from_jobs(&jobs, &cluster, WorkloadOptions::default());
        let on_failure = if requeue { OnFailure::Requeue } else { OnFailure::Fail };
        let spec = RunSpec { options: options(seed, on_failure), ..RunSpec::new(policy) };
        let (a, ra) = run(&w, &cluster, &spec).unwrap();
        let (b, rb) = run(&w, &cluster, &spec).unwrap();
        let bits = |r: &foresight_simulator::SimResult| {
            r.outcomes.iter().map(|o| (o.start_s.to_bits(), o.end_s.to_bits(), o.requeues, o.failed)).collect::<Vec<_>>()
        };
        prop_assert_eq!(bits(&a), bits(&b));
        prop_assert_eq!(a.stats, b.stats);
        prop_assert_eq!(serde_json::to_string(&ra).unwrap(), serde_json::to_string(&rb).unwrap());
        for (o, j) in a.outcomes.iter().zip(&w.jobs) {
            prop_assert!(o.ended(), "job {} never ended", j.info.key.0);
        }
    }
}

#[test]
fn failed_nodes_requeue_or_fail_their_jobs() {
    use foresight_simulator::NodeOutage;
    let cluster = cpus(2);
    let w = Workload::from_jobs(&[job(0.0, 2, 100.0, 200.0, 0)], &cluster, WorkloadOptions::default());
    let outage = NodeOutage { node: 1, at_s: 50.0, duration_s: 30.0 };
    for (on_failure, end, requeues) in [(OnFailure::Requeue, 180.0, 1), (OnFailure::Fail, 50.0, 0)] {
        let faults = FaultConfig { schedule: vec![outage], on_failure, ..FaultConfig::default() };
        let spec = RunSpec { options: SimOptions { faults, ..SimOptions::default() }, ..RunSpec::new("easy") };
        let (r, _) = run(&w, &cluster, &spec).unwrap();
        let o = r.outcomes[0];
        assert_eq!((o.end_s, o.requeues, o.failed), (end, requeues, on_failure == OnFailure::Fail));
        assert_eq!(r.stats.node_failures, 1);
    }
}
