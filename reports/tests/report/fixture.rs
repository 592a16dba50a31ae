//! Evidence from a small, fixed workload replayed by the real simulator:
//! three users on a two-node cluster, long and short jobs interleaved, so
//! that shortest-predicted-first visibly wins for some users and loses for
//! one.

use foresight_core::{Cluster, Job, Resources};
use foresight_simulator::evidence::{EvidenceMeta, StepTiming};
use foresight_simulator::{Evidence, RunSpec, Workload, compare_evidence};

/// The evidence of FCFS against SJF with user-history predictions, with a
/// clairvoyant bound as a third run.
pub fn evidence() -> Evidence {
    let users = ["alice", "bob", "carol"];
    let jobs: Vec<Job> = (0..60u32)
        .map(|i| {
            let user = users[(i % 3) as usize];
            let runtime = match user {
                "alice" => 1800.0 + f64::from(i * 37 % 600),
                "bob" => 30.0 + f64::from(i * 13 % 90),
                _ => 300.0 + f64::from(i * 7 % 200),
            };
            Job {
                job_id: format!("j{i}"),
                user: Some(user.to_string()),
                submit_s: f64::from(i) * 200.0,
                runtime_s: Some(runtime),
                req_cpus: Some(if i % 5 == 0 { 8 } else { 2 + i % 3 }),
                req_time_s: Some(3600.0),
                ..Job::default()
            }
        })
        .collect();
    let cluster = Cluster::homogeneous("node", 2, Resources::new(4, 0, 0));
    let workload = Workload::from_jobs(&jobs, &cluster, Default::default());
    let specs = [
        RunSpec::new("fcfs"),
        RunSpec::new("sjf"),
        RunSpec { predictor: Some("clairvoyant".into()), ..RunSpec::new("sjf") },
    ];
    let meta = EvidenceMeta {
        title: "Policy comparison: fixture".into(),
        trace: "fixture (60 jobs)".into(),
        notes: vec!["The third run knows every runtime: a bound, not a policy.".into()],
    };
    let mut e = compare_evidence(meta, &workload, &cluster, &specs, 0, 1).expect("the fixture simulates");
    e.timings = vec![StepTiming { step: "compare".into(), seconds: 0.123 }];
    e
}
