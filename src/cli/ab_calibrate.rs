//! What Slurm takes on this host to start and end a job, measured before
//! the slice: `foresight ab`'s simulator holds each job's CPUs that much
//! longer than its sleep. A `sleep 1` job is recorded by Slurm as running
//! one second, yet the next job on its CPUs starts later: the job must be
//! launched, must end, its node must report back, and a scheduling pass
//! must see the CPUs free (and, in the enforce arm, a controller cycle
//! must see the job gone and lift the next one's gate). At a compression
//! of 180, each second of that is three trace minutes of an idle machine,
//! which a simulator that starts a job the instant its resources free does
//! not see.
//!
//! The measurement: [`CALIBRATION_JOBS`] jobs, each asking for the whole
//! cluster and sleeping [`CALIBRATION_SLEEP_S`], submitted at once, so
//! that each starts only when the one before has ended. From the first
//! start to the last end, the sleeps aside, over the gaps between them:
//! the overhead per job. Not from the slice's jobs, nor from the trace.

use super::ab_input::AbJob;
use super::ab_slurm::{Completed, Instance};
use anyhow::bail;
use std::time::{Duration, Instant};

/// Jobs per measurement.
pub const CALIBRATION_JOBS: usize = 10;

/// Each calibration job's sleep, seconds.
pub const CALIBRATION_SLEEP_S: u32 = 1;

/// The trace id of calibration job `i` (its Slurm name is `kth-` and this;
/// no trace job has a name that is not a number).
fn calibration_id(i: usize) -> String {
    format!("calibrate-{i}")
}

/// The calibration's jobs, asking for `total_cpus` each, submitted as root.
pub fn calibration_jobs(total_cpus: u32) -> Vec<AbJob> {
    (0..CALIBRATION_JOBS)
        .map(|i| AbJob {
            trace_id: calibration_id(i),
            user: "root".into(),
            at_s: 0.0,
            cpus: total_cpus,
            sleep_s: CALIBRATION_SLEEP_S,
            limit_min: 1,
        })
        .collect()
}

/// The overhead per job, seconds, of the calibration jobs among `records`
/// (the ones named `kth-calibrate-*`, `first` the index of the first job of
/// this round): from the first start to the last end, less the sleeps,
/// over the gaps. An error when one of them did not complete.
pub fn overhead_of(records: &[Completed], first: usize) -> anyhow::Result<f64> {
    let names: Vec<String> = (first..first + CALIBRATION_JOBS).map(|i| format!("kth-{}", calibration_id(i))).collect();
    let ran: Vec<&Completed> = records.iter().filter(|r| names.contains(&r.name)).collect();
    if ran.len() != CALIBRATION_JOBS || ran.iter().any(|r| r.state != "COMPLETED" || !r.start_s.is_finite()) {
        bail!(
            "the calibration's {CALIBRATION_JOBS} jobs did not all complete once: {}",
            ran.iter().map(|r| format!("{} {}", r.name, r.state)).collect::<Vec<_>>().join(", ")
        );
    }
    let first_start = ran.iter().map(|r| r.start_s).fold(f64::INFINITY, f64::min);
    let last_end = ran.iter().map(|r| r.end_s).fold(f64::NEG_INFINITY, f64::max);
    let sleeps = (CALIBRATION_JOBS as f64) * f64::from(CALIBRATION_SLEEP_S);
    Ok(((last_end - first_start - sleeps) / (CALIBRATION_JOBS - 1) as f64).max(0.0))
}

/// Runs one calibration round on each of `arms` (an instance and the
/// partition its jobs go to) at once: submits the jobs, waits until every
/// queue is empty (at most `max_wait`), and returns each arm's overhead.
/// `first` numbers the round's jobs apart from an earlier round's.
pub fn calibrate(
    arms: &[(&Instance, &str)],
    total_cpus: u32,
    first: usize,
    max_wait: Duration,
) -> anyhow::Result<Vec<f64>> {
    let mut jobs = calibration_jobs(total_cpus);
    for (i, j) in jobs.iter_mut().enumerate() {
        j.trace_id = calibration_id(first + i);
    }
    for j in &jobs {
        for (inst, partition) in arms {
            inst.submit(j, partition)?;
        }
    }
    let started = Instant::now();
    loop {
        let mut left = 0;
        for (inst, _) in arms {
            left += inst.queued()?;
        }
        if left == 0 {
            break;
        }
        if started.elapsed() > max_wait {
            bail!("the calibration's jobs were still queued after {:.0} s", max_wait.as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    arms.iter().map(|(inst, _)| overhead_of(&inst.sacct()?, first)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize, start: f64, end: f64) -> Completed {
        Completed {
            id: i.to_string(),
            name: format!("kth-calibrate-{i}"),
            submit_s: 0.0,
            start_s: start,
            end_s: end,
            state: "COMPLETED".into(),
            cpus: 100,
        }
    }

    #[test]
    fn the_overhead_is_the_mean_gap_between_back_to_back_jobs() {
        // ten one-second jobs, one every two seconds: one second of gap each
        let mut records: Vec<Completed> = (0..10).map(|i| rec(i, 2.0 * i as f64, 2.0 * i as f64 + 1.0)).collect();
        records.push(Completed { name: "kth-17".into(), ..rec(99, 0.0, 500.0) });
        assert_eq!(overhead_of(&records, 0).unwrap(), 1.0);
        // a second round, numbered apart
        let later: Vec<Completed> = (10..20).map(|i| rec(i, 100.0 + i as f64, 101.0 + i as f64)).collect();
        assert_eq!(overhead_of(&later, 10).unwrap(), 0.0);
        records[3].state = "TIMEOUT".into();
        assert!(overhead_of(&records, 0).unwrap_err().to_string().contains("kth-calibrate-3 TIMEOUT"));
        assert!(overhead_of(&records[..5], 0).is_err());
    }

    #[test]
    fn calibration_jobs_ask_for_the_whole_cluster_and_are_named_apart_from_the_trace() {
        let jobs = calibration_jobs(100);
        assert_eq!(jobs.len(), CALIBRATION_JOBS);
        assert!(
            jobs.iter()
                .all(|j| j.cpus == 100 && j.sleep_s == CALIBRATION_SLEEP_S && j.trace_id.parse::<u64>().is_err())
        );
    }
}
