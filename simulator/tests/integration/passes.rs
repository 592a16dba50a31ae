//! A scheduler that decides in passes (`SimOptions::decision_period_s`):
//! jobs wait for the next pass, and those that arrived between two passes
//! are ordered together by the policy.

use crate::common::{cpus, job};
use foresight_simulator::{RunSpec, SimOptions, Workload, WorkloadOptions, run};

fn starts(jobs: &[foresight_core::Job], policy: &str, period: f64) -> Vec<f64> {
    let cluster = cpus(4);
    let w = Workload::from_jobs(jobs, &cluster, WorkloadOptions::default());
    let spec =
        RunSpec { options: SimOptions { decision_period_s: period, ..SimOptions::default() }, ..RunSpec::new(policy) };
    run(&w, &cluster, &spec).unwrap().0.outcomes.iter().map(|o| o.start_s).collect()
}

#[test]
fn jobs_start_at_the_next_pass_and_those_that_arrived_together_are_ordered_by_the_policy() {
    // a 1-CPU job, then a 4-CPU job, both between the passes at 0 and 10
    let jobs = [job(2.0, 1, 30.0, 60.0, 1), job(3.0, 4, 30.0, 60.0, 2)];
    // at every event: first come, first started
    assert_eq!(starts(&jobs, "sjf", 0.0), [2.0, 32.0]);
    // in passes 10 s apart: both seen at 10, and fcfs keeps their order ...
    assert_eq!(starts(&jobs, "fcfs", 10.0), [10.0, 40.0]);
    // ... while a priority favouring large jobs starts the wide one first,
    // as Slurm's multifactor with a job size weight does
    assert_eq!(starts(&jobs, "priority[age=0,size=1000,fairshare=0]", 10.0), [40.0, 10.0]);
    // an event at a pass's instant is decided there (the first job at 0);
    // an end between passes frees its CPUs for the next pass only
    assert_eq!(starts(&[job(0.0, 4, 15.0, 60.0, 1), job(1.0, 4, 5.0, 60.0, 2)], "fcfs", 10.0), [0.0, 20.0]);
}

#[test]
fn a_period_of_zero_decides_at_every_instant_as_before() {
    let jobs: Vec<_> = (0..40)
        .map(|i| job(f64::from(i) * 7.0, 1 + i as u32 % 4, 50.0 + f64::from(i % 5) * 13.0, 200.0, i as u32 % 3))
        .collect();
    let cluster = cpus(4);
    let w = Workload::from_jobs(&jobs, &cluster, WorkloadOptions::default());
    let a = run(&w, &cluster, &RunSpec::new("easy")).unwrap().0;
    let b = starts(&jobs, "easy", 0.0);
    assert_eq!(a.outcomes.iter().map(|o| o.start_s).collect::<Vec<_>>(), b);
}
