//! What the cluster's past says about a job being submitted: each user's
//! recent runtimes and actual/requested ratios, the runtime of their last
//! job of the same name, the NVML telemetry of their past jobs, and the
//! queue's state. It learns only from events it is told about (starts,
//! ends), so whoever drives it decides what is "known"; `build_rows` and
//! the online predictor both tell it only about the past.

use foresight_core::Job;
use foresight_datasets::telemetry::TelemetryTable;
use std::collections::{HashMap, VecDeque};

/// How many recent jobs of a user the mean, median and ratio look at.
pub const RECENT_K: usize = 10;

/// Names of the history columns, in row order.
pub const HISTORY_NAMES: [&str; 17] = [
    "user_last_log_rt",
    "user_mean2_log_rt",
    "user_mean_k_log_rt",
    "user_median_k_log_rt",
    "user_last_ratio",
    "user_mean_k_ratio",
    "user_log_count",
    "same_name_last_log_rt",
    "user_running",
    "log_since_user_submit",
    "cluster_running",
    "cluster_pending",
    "log_pending_work",
    "user_gpu_util",
    "user_mem_used",
    "user_power",
    "user_fail_rate",
];

/// Mean NVML values of each job that has samples (`gpu_util_pct`,
/// `mem_used_mib`, `power_w`), by job id.
pub type JobTelemetry = HashMap<String, [f64; 3]>;

/// Per-job means of the telemetry metrics the features use.
pub fn job_telemetry(table: &TelemetryTable) -> JobTelemetry {
    const METRICS: [&str; 3] = ["gpu_util_pct", "mem_used_mib", "power_w"];
    let mut sums: HashMap<&str, [(f64, f64); 3]> = HashMap::new();
    for s in &table.samples {
        let (Some(id), Some(m)) = (s.job_id.as_deref(), METRICS.iter().position(|m| *m == s.metric)) else { continue };
        let e = &mut sums.entry(id).or_default()[m];
        *e = (e.0 + s.value, e.1 + 1.0);
    }
    sums.into_iter()
        .map(|(id, v)| (id.to_string(), v.map(|(s, n)| if n > 0.0 { s / n } else { f64::NAN })))
        .collect()
}

/// The log runtime scale of targets and history columns; runtimes below
/// the trace's resolution `floor_s` count as it (zero stays finite).
pub fn log_runtime(runtime_s: f64, floor_s: f64) -> f64 {
    runtime_s.max(floor_s).ln()
}

#[derive(Debug, Clone, Default)]
struct UserState {
    recent: VecDeque<(f64, f64)>,
    count: u64,
    fails: u64,
    running: u32,
    last_submit: Option<f64>,
    telemetry: [f64; 3],
    telemetry_n: f64,
    by_name: HashMap<String, f64>,
}

/// The running history of a cluster, fed in time order.
#[derive(Debug, Clone, Default)]
pub struct History {
    offset: usize,
    floor_s: f64,
    users: HashMap<String, UserState>,
    running: u32,
    pending: u32,
    pending_work: f64,
}

fn work(job: &Job) -> f64 {
    f64::from(job.requested().cpus.max(job.requested().gpus)) * job.req_time_s.unwrap_or(0.0)
}

fn user_of(job: &Job) -> &str {
    job.user.as_deref().unwrap_or("-")
}

/// The state of `job`'s user, created on first sight (the name is only
/// copied then).
fn user_state<'a>(users: &'a mut HashMap<String, UserState>, job: &Job) -> &'a mut UserState {
    let user = user_of(job);
    if !users.contains_key(user) {
        users.insert(user.to_string(), UserState::default());
    }
    users.get_mut(user).expect("just inserted")
}

impl History {
    /// An empty history writing its columns from `offset` of a row, with
    /// runtimes floored at `floor_s` on the log scale.
    pub fn new(offset: usize, floor_s: f64) -> Self {
        Self { offset, floor_s, ..Self::default() }
    }

    /// A job was submitted (it joins the queue).
    pub fn observe_submit(&mut self, job: &Job) {
        self.pending += 1;
        self.pending_work += work(job);
        user_state(&mut self.users, job).last_submit = Some(job.submit_s);
    }

    /// A job left the queue without running (cancelled while it waited):
    /// it no longer counts in the queue's size and work.
    pub fn observe_withdraw(&mut self, job: &Job) {
        self.pending = self.pending.saturating_sub(1);
        self.pending_work = (self.pending_work - work(job)).max(0.0);
    }

    /// A job started (it leaves the queue and runs).
    pub fn observe_start(&mut self, job: &Job) {
        self.observe_withdraw(job);
        self.running += 1;
        user_state(&mut self.users, job).running += 1;
    }

    /// A job ended after `runtime_s`, with its telemetry means if sampled.
    pub fn observe_end(&mut self, job: &Job, runtime_s: f64, telemetry: Option<&[f64; 3]>, _now: f64) {
        self.running = self.running.saturating_sub(1);
        let u = user_state(&mut self.users, job);
        u.running = u.running.saturating_sub(1);
        let ratio = job.req_time_s.filter(|r| *r > 0.0).map_or(f64::NAN, |r| runtime_s / r);
        u.recent.push_front((runtime_s, ratio));
        u.recent.truncate(RECENT_K);
        u.count += 1;
        u.fails += u64::from(failed_or_timed_out(job, runtime_s));
        if let Some(name) = &job.name {
            match u.by_name.get_mut(name) {
                Some(last) => *last = runtime_s,
                None => {
                    u.by_name.insert(name.clone(), runtime_s);
                }
            }
        }
        if let Some(t) = telemetry.filter(|t| t.iter().all(|v| v.is_finite())) {
            for (acc, v) in u.telemetry.iter_mut().zip(t) {
                *acc += v;
            }
            u.telemetry_n += 1.0;
        }
    }

    /// Writes the history columns of `job`'s row as of now.
    pub fn fill(&self, job: &Job, row: &mut [f64]) {
        let out = &mut row[self.offset..self.offset + HISTORY_NAMES.len()];
        out.fill(f64::NAN);
        out[10] = f64::from(self.running);
        out[11] = f64::from(self.pending);
        out[12] = self.pending_work.ln_1p();
        let Some(u) = self.users.get(user_of(job)) else {
            out[6] = 0.0;
            out[8] = 0.0;
            return;
        };
        let mut rts = [0.0; RECENT_K];
        let n = u.recent.len().min(RECENT_K);
        for (r, (rt, _)) in rts.iter_mut().zip(&u.recent) {
            *r = *rt;
        }
        let rts = &mut rts[..n];
        let log_runtime = |rt: f64| log_runtime(rt, self.floor_s);
        if let Some(&last) = rts.first() {
            out[0] = log_runtime(last);
            out[1] = log_runtime(rts.iter().take(2).sum::<f64>() / n.min(2) as f64);
            out[2] = log_runtime(rts.iter().sum::<f64>() / n as f64);
            out[3] = log_runtime(median_in_place(rts));
            out[4] = u.recent[0].1;
            let (sum, count) = u.recent.iter().map(|r| r.1).filter(|r| r.is_finite()).fold((0.0, 0), |(s, c), r| (s + r, c + 1));
            if count > 0 {
                out[5] = sum / f64::from(count);
            }
        }
        out[6] = (u.count as f64).ln_1p();
        if u.count > 0 {
            out[16] = u.fails as f64 / u.count as f64;
        }
        if let Some(rt) = job.name.as_ref().and_then(|n| u.by_name.get(n)) {
            out[7] = log_runtime(*rt);
        }
        out[8] = f64::from(u.running);
        if let Some(t) = u.last_submit {
            out[9] = (job.submit_s - t).max(0.0).ln_1p();
        }
        if u.telemetry_n > 0.0 {
            for i in 0..3 {
                out[13 + i] = u.telemetry[i] / u.telemetry_n;
            }
        }
    }

    /// The EASY++ estimate for a user (the mean of their last two
    /// runtimes), when they have two finished jobs.
    pub fn last_two_mean(&self, job: &Job) -> Option<f64> {
        let u = self.users.get(user_of(job))?;
        (u.recent.len() >= 2).then(|| (u.recent[0].0 + u.recent[1].0) / 2.0)
    }
}

/// The classifier's target: the job failed, timed out, or ran to (99% of)
/// its requested time.
pub fn failed_or_timed_out(job: &Job, runtime_s: f64) -> bool {
    use foresight_core::JobStatus;
    matches!(job.status, JobStatus::Failed | JobStatus::Timeout)
        || job.req_time_s.is_some_and(|r| r > 0.0 && runtime_s >= 0.99 * r)
}

/// The median of a slice (NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    median_in_place(&mut values.to_vec())
}

/// The median of a slice (NaN when empty), sorting it.
fn median_in_place(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(user: &str, submit: f64, req: f64) -> Job {
        Job { user: Some(user.into()), submit_s: submit, req_time_s: Some(req), name: Some("a".into()), ..Job::default() }
    }

    #[test]
    fn history_columns_follow_the_users_past() {
        let mut h = History::new(0, 1e-3);
        let mut row = vec![0.0; HISTORY_NAMES.len()];
        let a = job("u", 0.0, 100.0);
        h.fill(&a, &mut row);
        assert!(row[0].is_nan() && row[6] == 0.0, "no history yet");
        h.observe_submit(&a);
        h.observe_start(&a);
        h.observe_end(&a, 10.0, Some(&[50.0, 1000.0, 300.0]), 10.0);
        let b = job("u", 20.0, 100.0);
        h.observe_submit(&b);
        h.observe_start(&b);
        h.observe_end(&b, 30.0, None, 50.0);
        let c = job("u", 60.0, 100.0);
        h.fill(&c, &mut row);
        assert_eq!(row[0], 30f64.ln());
        assert_eq!(row[1], 20f64.ln());
        assert_eq!(row[4], 0.3);
        assert_eq!(row[5], 0.2);
        assert_eq!(row[7], 30f64.ln(), "same name, last runtime");
        assert_eq!(row[9], 41f64.ln());
        assert_eq!((row[10], row[11]), (0.0, 0.0));
        assert_eq!(row[13], 50.0);
        assert_eq!(h.last_two_mean(&c), Some(20.0));
    }
}
