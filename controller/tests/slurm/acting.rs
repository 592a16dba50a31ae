//! The acting half of the Slurm adapter (which shadow mode never calls):
//! hold, release and priority changes reach a real Slurm and show in the
//! next observation.

use crate::harness::{self, ReplayJob};
use foresight_controller::adapter::slurm::{SlurmAdapter, SlurmSource};
use foresight_controller::adapter::{Action, Orchestrator, Phase};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_release_and_priority_reach_slurm() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let mut slurm = SlurmAdapter::new(SlurmSource::Commands { bin_dir: None });
    // fill the cluster so that the job under test stays pending
    let fill = ReplayJob { trace_id: "fill".into(), at_s: 0.0, cpus: 16, sleep_s: 30, limit_min: 1 };
    harness::submit(&fill);
    let id = harness::submit(&ReplayJob { trace_id: "act".into(), at_s: 0.0, cpus: 1, sleep_s: 1, limit_min: 1 });
    let job = |view: &foresight_controller::adapter::ClusterView| view.jobs.iter().find(|j| j.job.job_id == id).cloned().unwrap();

    slurm.act(&Action::Hold { job_id: id.clone() }).await.unwrap();
    let held = job(&slurm.observe().await.unwrap());
    assert!(held.held && held.phase == Phase::Pending, "{held:?}");

    slurm.act(&Action::Release { job_id: id.clone() }).await.unwrap();
    slurm.act(&Action::SetPriority { job_id: id.clone(), priority: 4242 }).await.unwrap();
    let released = job(&slurm.observe().await.unwrap());
    assert!(!released.held, "{released:?}");
    assert_eq!(released.job.priority, Some(4242));

    let err = slurm.act(&Action::Hold { job_id: "999999999".into() }).await.unwrap_err().to_string();
    assert!(err.contains("scontrol hold 999999999"), "{err}");
    harness::cancel_all();
}
