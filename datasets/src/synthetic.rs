//! A synthetic workload generator for scale tests: arrivals with a daily
//! and weekly cycle, users with habits (how big, how long, how much they
//! over-ask, how often they resubmit the same job), job sizes in powers of
//! two, log-normal runtimes. Seeded and bit-for-bit reproducible.
//!
//! Jobs come out in submission order, one at a time, so that ten million of
//! them can be replayed without holding ten million [`Job`]s. A synthetic
//! job has not run anywhere: `runtime_s` is the time it needs, `start_s` and
//! `end_s` are null.

use crate::table::JobTable;
use foresight_core::rng::SplitMix64;
use foresight_core::{Capacity, Job, JobStatus, TraceMeta};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    /// Seed of every draw.
    pub seed: u64,
    /// Number of jobs.
    pub jobs: u64,
    /// Number of users.
    pub users: u32,
    /// Users per group.
    pub users_per_group: u32,
    /// Mean time between submissions, seconds (over a whole week).
    pub mean_interarrival_s: f64,
    /// Strength of the daily cycle in `[0, 1)`: the rate peaks at 14:00 at
    /// `1 + a` times the mean and bottoms out at 02:00 at `1 - a` times it.
    pub daily_amplitude: f64,
    /// Rate on Saturdays and Sundays relative to weekdays.
    pub weekend_factor: f64,
    /// Processors of the machine (jobs ask for at most this many).
    pub cpus: u32,
    /// GPUs of the machine; when positive, jobs ask for GPUs (at most
    /// this many) and CPUs in proportion.
    pub gpus: u32,
    /// Median runtime over all users, seconds.
    pub median_runtime_s: f64,
    /// Longest runtime, seconds.
    pub max_runtime_s: f64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            jobs: 10_000,
            users: 200,
            users_per_group: 10,
            mean_interarrival_s: 600.0,
            daily_amplitude: 0.5,
            weekend_factor: 0.5,
            cpus: 128,
            gpus: 0,
            median_runtime_s: 900.0,
            max_runtime_s: 36.0 * 3600.0,
        }
    }
}

/// One user's habits.
#[derive(Debug, Clone, Copy)]
struct Habit {
    /// Relative activity (Zipf-like popularity).
    weight: f64,
    /// log2 of the user's usual job size.
    size_log2: f64,
    /// ln of the user's usual runtime.
    runtime_ln: f64,
    /// How much the user over-asks: requested = runtime × this, rounded up.
    overask: f64,
    /// Probability that the next job repeats the previous one.
    repeat: f64,
}

/// The generator: an iterator of jobs in submission order.
#[derive(Debug, Clone)]
pub struct Synthetic {
    cfg: SyntheticConfig,
    rng: SplitMix64,
    habits: Vec<Habit>,
    cumulative: Vec<f64>,
    last: Vec<Option<(u32, f64, f64)>>,
    now: f64,
    made: u64,
}

const DAY: f64 = 86_400.0;
/// Round requested times users pick: 5, 15, 30 min, 1, 2, 4, 8, 12, 24, 36, 48 h.
const ROUND_LIMITS_S: [f64; 11] =
    [300.0, 900.0, 1800.0, 3600.0, 7200.0, 14_400.0, 28_800.0, 43_200.0, 86_400.0, 129_600.0, 172_800.0];

impl Synthetic {
    /// A generator for `cfg`.
    pub fn new(cfg: SyntheticConfig) -> Self {
        let mut rng = SplitMix64::new(cfg.seed);
        let max_log2 = f64::from(cfg.gpus.max(cfg.cpus).max(1)).log2();
        let habits: Vec<Habit> = (0..cfg.users.max(1))
            .map(|u| Habit {
                weight: 1.0 / f64::from(u + 1).powf(0.8),
                size_log2: (rng.next_f64().powi(2) * max_log2 * 0.7).min(max_log2),
                runtime_ln: cfg.median_runtime_s.ln() + 1.2 * rng.normal(),
                overask: 1.0 + rng.exponential(2.0),
                repeat: 0.7 * rng.next_f64(),
            })
            .collect();
        let mut acc = 0.0;
        let cumulative = habits.iter().map(|h| {
            acc += h.weight;
            acc
        });
        let cumulative: Vec<f64> = cumulative.collect();
        let last = vec![None; habits.len()];
        Self { cfg, rng, habits, cumulative, last, now: 0.0, made: 0 }
    }

    /// The whole workload as a job table (with the machine in its metadata).
    pub fn table(cfg: SyntheticConfig) -> JobTable {
        let meta = Self::meta(&cfg);
        JobTable { meta, jobs: Synthetic::new(cfg).collect() }
    }

    /// The metadata of a synthetic trace: its machine.
    pub fn meta(cfg: &SyntheticConfig) -> TraceMeta {
        TraceMeta {
            format: "synthetic".into(),
            source: format!("synthetic(seed={}, jobs={})", cfg.seed, cfg.jobs),
            capacity: Capacity { cpus: Some(cfg.cpus), nodes: None, gpus: (cfg.gpus > 0).then_some(cfg.gpus) },
            ..TraceMeta::default()
        }
    }

    /// Relative arrival rate at time `t` (mean 1 over a week).
    fn rate(&self, t: f64) -> f64 {
        let day = (t / DAY).floor();
        let hour_phase = (t - day * DAY) / DAY;
        let daily = 1.0 + self.cfg.daily_amplitude * (std::f64::consts::TAU * (hour_phase - 14.0 / 24.0)).cos();
        let weekday = if (day as i64).rem_euclid(7) >= 5 { self.cfg.weekend_factor } else { 1.0 };
        let week_mean = (5.0 + 2.0 * self.cfg.weekend_factor) / 7.0;
        daily * weekday / week_mean
    }

    /// The next submission time (thinning of a Poisson process).
    fn next_arrival(&mut self) -> f64 {
        let peak = (1.0 + self.cfg.daily_amplitude) * self.cfg.weekend_factor.max(1.0) * 7.0
            / (5.0 + 2.0 * self.cfg.weekend_factor);
        loop {
            self.now += self.rng.exponential(self.cfg.mean_interarrival_s / peak);
            if self.rng.next_f64() * peak <= self.rate(self.now) {
                return self.now;
            }
        }
    }

    fn pick_user(&mut self) -> usize {
        let total = *self.cumulative.last().expect("at least one user");
        let x = self.rng.next_f64() * total;
        self.cumulative.partition_point(|c| *c <= x).min(self.habits.len() - 1)
    }

    fn fresh_job(&mut self, h: Habit) -> (u32, f64, f64) {
        let cap = self.cfg.gpus.max(self.cfg.cpus).max(1);
        let log2 = (h.size_log2 + 1.0 * self.rng.normal()).clamp(0.0, f64::from(cap).log2());
        let size = (2f64.powf(log2.round()) as u32).clamp(1, cap);
        let runtime = (h.runtime_ln + 0.8 * self.rng.normal()).exp().clamp(1.0, self.cfg.max_runtime_s).round();
        let want = runtime * h.overask;
        let limit = ROUND_LIMITS_S.iter().copied().find(|l| *l >= want).unwrap_or(ROUND_LIMITS_S[10]);
        (size, runtime.min(limit), limit)
    }
}

impl Iterator for Synthetic {
    type Item = Job;

    fn next(&mut self) -> Option<Job> {
        if self.made >= self.cfg.jobs {
            return None;
        }
        let submit = self.next_arrival();
        let u = self.pick_user();
        let h = self.habits[u];
        let (size, mut runtime, limit) = match self.last[u] {
            Some(prev) if self.rng.next_f64() < h.repeat => prev,
            _ => self.fresh_job(h),
        };
        self.last[u] = Some((size, runtime, limit));
        // Repeats of one job vary a little in runtime.
        runtime = (runtime * (1.0 + 0.1 * self.rng.normal())).clamp(1.0, limit).round();
        let (cpus, gpus) = match self.cfg.cpus.checked_div(self.cfg.gpus) {
            Some(per_gpu) => (size * per_gpu.max(1), size),
            None => (size, 0),
        };
        self.made += 1;
        Some(Job {
            job_id: self.made.to_string(),
            user: Some(format!("u{u}")),
            group: Some(format!("g{}", u as u32 / self.cfg.users_per_group.max(1))),
            queue: Some(if gpus > 0 { "gpu".into() } else { "batch".into() }),
            submit_s: submit,
            runtime_s: Some(runtime),
            req_cpus: Some(cpus),
            req_gpus: (gpus > 0).then_some(gpus),
            req_time_s: Some(limit),
            status: JobStatus::Completed,
            ..Job::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_jobs_in_submission_order() {
        let cfg = SyntheticConfig { jobs: 2000, ..SyntheticConfig::default() };
        let a: Vec<Job> = Synthetic::new(cfg.clone()).collect();
        let b: Vec<Job> = Synthetic::new(cfg.clone()).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 2000);
        assert!(a.windows(2).all(|w| w[0].submit_s <= w[1].submit_s));
        assert!(a.iter().all(|j| j.runtime_s.unwrap() <= j.req_time_s.unwrap()));
        assert!(a.iter().all(|j| (1..=128).contains(&j.req_cpus.unwrap())));
        let other: Vec<Job> = Synthetic::new(SyntheticConfig { seed: 2, ..cfg }).collect();
        assert_ne!(a, other);
    }

    #[test]
    fn arrivals_follow_the_daily_cycle() {
        let cfg = SyntheticConfig { jobs: 20_000, mean_interarrival_s: 60.0, ..SyntheticConfig::default() };
        let mut by_hour = [0u32; 24];
        for j in Synthetic::new(cfg) {
            by_hour[((j.submit_s % DAY) / 3600.0) as usize] += 1;
        }
        assert!(by_hour[14] > 2 * by_hour[2], "afternoon {} vs night {}", by_hour[14], by_hour[2]);
    }

    #[test]
    fn gpu_workloads_ask_for_gpus_and_cpus_in_proportion() {
        let cfg = SyntheticConfig { jobs: 500, cpus: 512, gpus: 64, ..SyntheticConfig::default() };
        let t = Synthetic::table(cfg);
        assert_eq!(t.meta.capacity.gpus, Some(64));
        assert!(t.jobs.iter().all(|j| j.req_cpus.unwrap() == 8 * j.req_gpus.unwrap()));
    }
}
