//! `foresight ab`'s input and its arithmetic: the slice of the trace (the
//! busiest window by offered load, a rule fixed before anything is
//! measured), its compression into `sleep` jobs, the candidate chosen by the
//! simulator on the part of the trace before the slice, the simulator's
//! prediction of each arm on the compressed input, and the metrics computed
//! alike from `sacct` and from the simulator.

use foresight_core::{Cluster, Job, Resources};
use foresight_reports::ab::ArmMetrics;
use foresight_simulator::{RunSpec, SimOptions, Workload, WorkloadOptions};

/// The bound of the bounded slowdown, trace seconds.
pub const BSLD_BOUND_S: f64 = 10.0;

/// The slice: its window and its jobs (those that ran), and the jobs that
/// ended before it began.
#[derive(Debug, Clone)]
pub struct Slice {
    /// Window start, trace seconds.
    pub from_s: f64,
    /// Window end.
    pub to_s: f64,
    /// Offered load of the slice's jobs on the trace's machine.
    pub offered_load: f64,
    /// The jobs submitted in the window, by submission.
    pub jobs: Vec<Job>,
    /// The jobs that ended before `from_s`.
    pub prefix: Vec<Job>,
}

/// One `sleep` job to submit: the compressed form of a trace job.
#[derive(Debug, Clone, PartialEq)]
pub struct AbJob {
    /// The trace's job id.
    pub trace_id: String,
    /// The Linux user it runs as (`fsab` and the trace's user id), or root.
    pub user: String,
    /// Submission, wall seconds after the replay starts.
    pub at_s: f64,
    /// CPUs (`--ntasks`).
    pub cpus: u32,
    /// Seconds it sleeps.
    pub sleep_s: u32,
    /// Time limit, minutes.
    pub limit_min: u32,
}

fn ran(j: &Job) -> Option<f64> {
    j.runtime_s.filter(|r| *r > 0.0)
}

/// Chooses the busiest `window_s` of the trace by offered load (CPU-seconds
/// of the jobs submitted in it over the machine's CPU-seconds in it; the
/// earliest on a tie), over windows that start at a job's submission at or
/// after `after_s` (every job's, with `f64::NEG_INFINITY`). The prefix is
/// every job that ended before the window, however early.
pub fn busiest(jobs: &[Job], capacity_cpus: u32, window_s: f64, after_s: f64) -> Option<Slice> {
    let mut ran_jobs: Vec<&Job> = jobs.iter().filter(|j| ran(j).is_some() && j.req_cpus.is_some()).collect();
    ran_jobs.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
    let work = |j: &Job| f64::from(j.req_cpus.unwrap_or(1)) * ran(j).unwrap_or(0.0);
    let (mut best, mut best_work, mut sum, mut hi) = (None, -1.0, 0.0, 0);
    for lo in 0..ran_jobs.len() {
        let from = ran_jobs[lo].submit_s;
        while hi < ran_jobs.len() && ran_jobs[hi].submit_s < from + window_s {
            sum += work(ran_jobs[hi]);
            hi += 1;
        }
        if from >= after_s && sum > best_work + 1e-9 {
            (best, best_work) = (Some(lo), sum);
        }
        sum -= work(ran_jobs[lo]);
    }
    let from = ran_jobs[best?].submit_s;
    let to = from + window_s;
    let end_of = |j: &Job| j.end_s.unwrap_or_else(|| j.start_s.unwrap_or(j.submit_s) + j.runtime_s.unwrap_or(0.0));
    Some(Slice {
        from_s: from,
        to_s: to,
        offered_load: best_work / (f64::from(capacity_cpus.max(1)) * window_s),
        jobs: ran_jobs.iter().filter(|j| j.submit_s >= from && j.submit_s < to).map(|j| (*j).clone()).collect(),
        prefix: jobs.iter().filter(|j| j.submit_s < from && end_of(j) < from).cloned().collect(),
    })
}

/// Compresses the slice `factor` times: submissions and run times divided
/// by it (run times to whole seconds, at least 1), time limits divided and
/// rounded up to Slurm's minute (never below the sleep and 5 s to spare),
/// CPUs as the trace asked (at most `max_cpus`).
pub fn compress(slice: &Slice, factor: f64, max_cpus: u32, as_trace_users: bool) -> Vec<AbJob> {
    slice
        .jobs
        .iter()
        .map(|j| {
            let run = ran(j).unwrap_or(1.0);
            let sleep_s = ((run / factor).round() as u32).max(1);
            let req = j.req_time_s.filter(|r| *r > 0.0).unwrap_or(run) / factor;
            let limit_min = ((req / 60.0).ceil() as u32).max(((f64::from(sleep_s) + 5.0) / 60.0).ceil() as u32).max(1);
            let user = match (&j.user, as_trace_users) {
                (Some(u), true) => format!("fsab{}", u.chars().filter(char::is_ascii_alphanumeric).collect::<String>()),
                _ => "root".to_string(),
            };
            AbJob {
                trace_id: j.job_id.clone(),
                user,
                at_s: (j.submit_s - slice.from_s) / factor,
                cpus: j.req_cpus.unwrap_or(1).clamp(1, max_cpus),
                sleep_s,
                limit_min,
            }
        })
        .collect()
}

/// The compressed jobs as trace rows the simulator replays: what Slurm is
/// given (the minute limit as request), each holding its CPUs for its
/// sleep and `overhead_s` more (what Slurm takes on this host to start and
/// end a job, measured by [`super::ab_calibrate`]).
pub fn as_table_jobs(jobs: &[AbJob], overhead_s: f64) -> Vec<Job> {
    jobs.iter()
        .map(|j| Job {
            job_id: j.trace_id.clone(),
            user: Some(j.user.clone()),
            submit_s: j.at_s,
            runtime_s: Some(f64::from(j.sleep_s) + overhead_s),
            req_cpus: Some(j.cpus),
            req_time_s: Some(f64::from(j.limit_min) * 60.0),
            ..Job::default()
        })
        .collect()
}

/// The jobs that ended before the slice, compressed as the slice is (the
/// same factor, the same whole-second sleeps and minute limits), their
/// arrivals from the first of them: what the candidates are scored on, so
/// that they are chosen on what the enforce arm will face.
pub fn compress_prefix(prefix: &[Job], factor: f64, max_cpus: u32, as_trace_users: bool) -> Vec<AbJob> {
    let mut jobs: Vec<Job> = prefix.iter().filter(|j| ran(j).is_some()).cloned().collect();
    jobs.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
    let from_s = jobs.first().map_or(0.0, |j| j.submit_s);
    let prefix = Slice { from_s, to_s: f64::INFINITY, offered_load: 0.0, jobs, prefix: Vec::new() };
    compress(&prefix, factor, max_cpus, as_trace_users)
}

/// The simulator's prediction of an arm: `simulate` replays `jobs` as
/// rows in which each job holds its CPUs `overhead_s` past its sleep; the
/// jobs as they would run, each ending when its sleep does (as Slurm
/// records it), by row.
pub fn predict_with(
    jobs: &[AbJob],
    overhead_s: f64,
    simulate: impl FnOnce(&[Job]) -> anyhow::Result<Vec<Ran>>,
) -> anyhow::Result<Vec<Ran>> {
    let mut ran = simulate(&as_table_jobs(jobs, overhead_s))?;
    for r in &mut ran {
        r.end_s -= overhead_s;
    }
    Ok(ran)
}

/// The Slurm instances' shape as the simulator's cluster.
pub fn cluster(nodes: u32, cpus_per_node: u32) -> Cluster {
    Cluster::homogeneous("n", nodes, Resources::new(cpus_per_node, 0, 0))
}

/// `policy:predictor` as a run that decides in passes `pass_s` apart (0:
/// at every event; see `SimOptions::decision_period_s`).
pub fn spec(text: &str, pass_s: f64) -> anyhow::Result<RunSpec> {
    let (policy, predictor) = text
        .split_once(':')
        .ok_or_else(|| super::BadInput(format!("candidate `{text}` is not POLICY:PREDICTOR (e.g. sjf:easy++)")))?;
    let options = SimOptions { decision_period_s: pass_s, ..SimOptions::default() };
    let spec = RunSpec { policy: policy.into(), predictor: Some(predictor.into()), options };
    spec.resolve()?;
    Ok(spec)
}

/// One job as it ran: submission, start and end in the run's seconds, CPUs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ran {
    /// Its row in the jobs it came from (the slice's order).
    pub row: usize,
    /// Submission.
    pub submit_s: f64,
    /// Start.
    pub start_s: f64,
    /// End.
    pub end_s: f64,
    /// CPUs.
    pub cpus: u32,
}

/// Runs `spec` on `jobs` and `cluster`; the jobs as they ran.
pub fn simulate(jobs: &[Job], cluster: &Cluster, spec: &RunSpec) -> anyhow::Result<Vec<Ran>> {
    let workload = Workload::from_jobs(jobs, cluster, WorkloadOptions::default());
    let (result, _) = foresight_simulator::run(&workload, cluster, spec)?;
    Ok(ran_in(&workload, &result))
}

/// The jobs of `workload` that ended in `result`, as they ran.
pub fn ran_in(workload: &Workload, result: &foresight_simulator::SimResult) -> Vec<Ran> {
    workload
        .jobs
        .iter()
        .zip(&workload.source_row)
        .zip(&result.outcomes)
        .filter(|(_, o)| o.ended())
        .map(|((j, &row), o)| Ran {
            row: row as usize,
            submit_s: j.info.submit_s,
            start_s: o.start_s,
            end_s: o.end_s,
            cpus: j.info.demand.total.cpus,
        })
        .collect()
}

/// Per job of `jobs`, its CPUs and its submission, start and end as
/// measured and as predicted (wall seconds from the first submission; empty
/// where a job has none), as a TSV: how true the simulator is, job by job.
pub fn per_job_tsv(jobs: &[AbJob], measured: &[Ran], predicted: &[Ran]) -> String {
    let by_row = |ran: &[Ran]| {
        let mut v = vec![None; jobs.len()];
        for r in ran {
            if let Some(slot) = v.get_mut(r.row) {
                *slot = Some(*r);
            }
        }
        v
    };
    let (m, p) = (by_row(measured), by_row(predicted));
    let cell = |r: Option<Ran>, f: fn(&Ran) -> f64| r.map_or(String::new(), |r| format!("{:.1}", f(&r)));
    let mut out = String::from(
        "trace_id\tcpus\tlimit_min\tsleep_s\tsubmit_measured\tstart_measured\tend_measured\tsubmit_predicted\tstart_predicted\tend_predicted\n",
    );
    for (i, j) in jobs.iter().enumerate() {
        out += &format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            j.trace_id,
            j.cpus,
            j.limit_min,
            j.sleep_s,
            cell(m[i], |r| r.submit_s),
            cell(m[i], |r| r.start_s),
            cell(m[i], |r| r.end_s),
            cell(p[i], |r| r.submit_s),
            cell(p[i], |r| r.start_s),
            cell(p[i], |r| r.end_s),
        );
    }
    out
}

/// Waits, slowdown and utilisation, times multiplied by `factor` (the
/// compression undone) before the 10 s bound applies.
pub fn metrics(ran: &[Ran], factor: f64, capacity_cpus: u32) -> ArmMetrics {
    if ran.is_empty() {
        return ArmMetrics::default();
    }
    let mut waits: Vec<f64> = ran.iter().map(|r| (r.start_s - r.submit_s).max(0.0) * factor).collect();
    let bsld: f64 = ran
        .iter()
        .map(|r| {
            let (w, run) = ((r.start_s - r.submit_s).max(0.0) * factor, (r.end_s - r.start_s).max(0.0) * factor);
            ((w + run) / run.max(BSLD_BOUND_S)).max(1.0)
        })
        .sum::<f64>()
        / ran.len() as f64;
    let first = ran.iter().map(|r| r.submit_s).fold(f64::INFINITY, f64::min);
    let last = ran.iter().map(|r| r.end_s).fold(f64::NEG_INFINITY, f64::max);
    let used: f64 = ran.iter().map(|r| f64::from(r.cpus) * (r.end_s - r.start_s).max(0.0)).sum();
    let mean_wait_s = waits.iter().sum::<f64>() / waits.len() as f64;
    waits.sort_by(f64::total_cmp);
    ArmMetrics {
        jobs: ran.len(),
        mean_wait_s,
        p95_wait_s: quantile(&waits, 0.95).unwrap_or(0.0),
        avg_bsld: bsld,
        utilisation: used / (f64::from(capacity_cpus.max(1)) * (last - first).max(1e-9)),
    }
}

/// The nearest-rank quantile of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, submit: f64, run: f64, cpus: u32) -> Job {
        Job {
            job_id: id.into(),
            user: Some("7".into()),
            submit_s: submit,
            start_s: Some(submit),
            end_s: Some(submit + run),
            runtime_s: Some(run),
            req_cpus: Some(cpus),
            req_time_s: Some(2.0 * run),
            ..Job::default()
        }
    }

    #[test]
    fn the_busiest_window_is_found_and_the_prefix_ends_before_it() {
        let jobs = vec![
            job("a", 0.0, 10.0, 1),
            job("b", 100.0, 1000.0, 4),
            job("c", 150.0, 1000.0, 4),
            job("d", 400.0, 10.0, 1),
        ];
        let s = busiest(&jobs, 4, 100.0, f64::NEG_INFINITY).unwrap();
        assert_eq!(s.from_s, 100.0);
        assert_eq!(s.jobs.iter().map(|j| j.job_id.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(s.prefix.iter().map(|j| j.job_id.as_str()).collect::<Vec<_>>(), ["a"]);
        assert!((s.offered_load - 8000.0 / 400.0).abs() < 1e-9);
        // from 120 on, the busiest starts at c; the prefix keeps a only (b
        // has not ended by then)
        let later = busiest(&jobs, 4, 100.0, 120.0).unwrap();
        assert_eq!((later.from_s, later.jobs.len()), (150.0, 1));
        assert_eq!(later.prefix.iter().map(|j| j.job_id.as_str()).collect::<Vec<_>>(), ["a"]);
        assert!(busiest(&jobs, 4, 100.0, 401.0).is_none(), "no window starts after the last job");
    }

    #[test]
    fn compression_divides_times_and_rounds_limits_up_to_a_minute() {
        let s = Slice {
            from_s: 100.0,
            to_s: 200.0,
            offered_load: 1.0,
            jobs: vec![job("b", 1000.0, 3000.0, 8)],
            prefix: vec![],
        };
        let j = &compress(&s, 100.0, 4, true)[0];
        assert_eq!((j.at_s, j.sleep_s, j.limit_min, j.cpus, j.user.as_str()), (9.0, 30, 1, 4, "fsab7"));
        // a sleep too close to its limit gets one more minute
        let mut c = job("c", 100.0, 5800.0, 1);
        c.req_time_s = Some(5800.0);
        let s = Slice { jobs: vec![c], ..s };
        assert_eq!(compress(&s, 100.0, 4, false)[0].limit_min, 2);
    }

    #[test]
    fn metrics_undo_the_compression_before_the_bound() {
        let ran = [
            Ran { row: 0, submit_s: 0.0, start_s: 1.0, end_s: 2.0, cpus: 2 },
            Ran { row: 1, submit_s: 0.0, start_s: 0.0, end_s: 1.0, cpus: 2 },
        ];
        let m = metrics(&ran, 10.0, 4);
        assert_eq!(m.mean_wait_s, 5.0);
        assert_eq!(m.p95_wait_s, 10.0);
        assert_eq!(m.avg_bsld, 1.5);
        assert_eq!(m.utilisation, 0.5);
    }

    #[test]
    fn the_prefix_is_compressed_from_its_first_submission_as_the_slice_is() {
        let prefix = vec![job("b", 5000.0, 300.0, 2), job("a", 1000.0, 30.0, 1), Job { runtime_s: None, ..job("x", 0.0, 1.0, 1) }];
        let p = compress_prefix(&prefix, 100.0, 4, false);
        // the job that never ran is left out; arrivals from the first one
        assert_eq!(p.iter().map(|j| (j.trace_id.as_str(), j.at_s, j.sleep_s)).collect::<Vec<_>>(), [("a", 0.0, 1), ("b", 40.0, 3)]);
    }

    #[test]
    fn the_prediction_holds_each_jobs_cpus_for_its_overhead_and_ends_it_with_its_sleep() {
        let whole = |id: &str| AbJob { trace_id: id.into(), user: "root".into(), at_s: 0.0, cpus: 4, sleep_s: 3, limit_min: 1 };
        let spec = spec("fcfs:requested", 0.0).unwrap();
        let run = |overhead_s| {
            predict_with(&[whole("a"), whole("b")], overhead_s, |rows| simulate(rows, &cluster(2, 2), &spec)).unwrap()
        };
        let ran = run(2.0);
        // b waits for a's sleep and its overhead; each ends with its sleep
        assert_eq!(ran.iter().map(|r| (r.start_s, r.end_s)).collect::<Vec<_>>(), [(0.0, 3.0), (5.0, 8.0)]);
        assert_eq!(run(0.0)[1].start_s, 3.0);
    }
}
