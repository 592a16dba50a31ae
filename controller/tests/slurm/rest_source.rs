//! Reading Slurm through slurmrestd on its Unix socket gives the same
//! cluster as reading it through the commands.

use crate::harness::{self, ReplayJob};
use foresight_controller::adapter::slurm::{SlurmAdapter, SlurmSource};
use foresight_controller::adapter::{Orchestrator, Phase};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slurmrestd_and_the_commands_see_the_same_cluster() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let held = ReplayJob { trace_id: "rest".into(), at_s: 0.0, cpus: 1, sleep_s: 30, limit_min: 1 };
    let ids: Vec<String> = (0..2).map(|_| harness::submit(&held)).collect();
    let mut cmd = SlurmAdapter::new(SlurmSource::Commands { bin_dir: None });
    let mut rest = SlurmAdapter::new(SlurmSource::parse(&format!("unix:{}", harness::REST_SOCKET)));
    let (a, b) = (cmd.observe().await.unwrap(), rest.observe().await.unwrap());
    harness::cancel_all();
    let names = |v: &foresight_controller::adapter::ClusterView| v.nodes.iter().map(|n| (n.spec.clone(), n.usable)).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b));
    assert!(a.nodes.len() >= 3, "several emulated nodes");
    for id in &ids {
        let find = |v: &foresight_controller::adapter::ClusterView| v.jobs.iter().find(|j| &j.job.job_id == id).cloned().unwrap();
        let (x, y) = (find(&a), find(&b));
        assert_eq!((x.job.req_cpus, x.job.submit_s, x.job.req_time_s), (y.job.req_cpus, y.job.submit_s, y.job.req_time_s));
        assert!(matches!(x.phase, Phase::Pending | Phase::Running));
    }
}
