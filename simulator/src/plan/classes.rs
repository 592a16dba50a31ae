//! Job classes of a trace's recent past, found by k-means (`linfa-clustering`
//! on `ndarray`) over each job's log size, log runtime and log request, and
//! workloads synthesized from them: arrivals spread over the horizon's hours
//! as the forecast spreads them, each arrival a real recent job drawn from a
//! class picked in the classes' proportions, until the forecast's work is
//! reached. Seeded: the same seed, the same workload.

use foresight_core::Job;
use linfa::DatasetBase;
use linfa::traits::{Fit, Predict};
use linfa_clustering::KMeans;
use ndarray::Array2;
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// One class of jobs, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobClass {
    /// Jobs of the recent past in the class.
    pub jobs: usize,
    /// Their share of the recent jobs.
    pub share: f64,
    /// Mean CPUs requested.
    pub mean_cpus: f64,
    /// Mean runtime, seconds.
    pub mean_runtime_s: f64,
    /// Mean requested time, seconds.
    pub mean_request_s: f64,
    /// Their share of the recent requested CPU hours.
    pub work_share: f64,
}

/// The recent jobs grouped in classes, ready to be resampled.
#[derive(Debug, Clone)]
pub struct JobClasses {
    pool: Vec<Job>,
    members: Vec<Vec<usize>>,
    /// The classes, largest first.
    pub classes: Vec<JobClass>,
    /// Mean requested CPU hours of a recent job.
    pub mean_work_cpu_h: f64,
}

/// Requested CPU hours of a job (what the demand forecast counts).
pub fn work_cpu_h(j: &Job) -> f64 {
    f64::from(j.req_cpus.unwrap_or(0)) * j.req_time_s.unwrap_or(0.0) / 3600.0
}

fn runtime(j: &Job) -> Option<f64> {
    j.runtime_s.or_else(|| Some(j.end_s? - j.start_s?))
}

/// Why no classes could be found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoClasses {
    /// No recent job ran with a CPU count and a requested time.
    #[error(
        "no job of the recent past ran with a CPU count and a requested time: plan forecasts and resamples requested CPU hours, so it has nothing to resample"
    )]
    NoJobs,
    /// k-means failed.
    #[error("k-means: {0}")]
    KMeans(String),
}

impl JobClasses {
    /// At most `k` classes of the jobs of `recent` that ran with a CPU count
    /// and a requested time.
    pub fn find(recent: &[Job], k: usize, seed: u64) -> Result<Self, NoClasses> {
        let pool: Vec<Job> = recent
            .iter()
            .filter(|j| {
                j.req_cpus.is_some_and(|c| c > 0) && j.req_time_s.is_some_and(|t| t > 0.0) && runtime(j).is_some()
            })
            .cloned()
            .collect();
        if pool.is_empty() {
            return Err(NoClasses::NoJobs);
        }
        let rows: Vec<[f64; 3]> = pool
            .iter()
            .map(|j| {
                let cpus = f64::from(j.req_cpus.unwrap_or(1));
                [cpus.ln(), runtime(j).unwrap_or(0.0).max(0.0).ln_1p(), j.req_time_s.unwrap_or(0.0).ln_1p()]
            })
            .collect();
        let mut x = Array2::<f64>::zeros((rows.len(), 3));
        for c in 0..3 {
            let mean = rows.iter().map(|r| r[c]).sum::<f64>() / rows.len() as f64;
            let sd = (rows.iter().map(|r| (r[c] - mean).powi(2)).sum::<f64>() / rows.len() as f64).sqrt();
            for (i, r) in rows.iter().enumerate() {
                x[[i, c]] = if sd > 1e-12 { (r[c] - mean) / sd } else { 0.0 };
            }
        }
        let distinct = {
            let mut keys: Vec<[u64; 3]> = rows.iter().map(|r| r.map(f64::to_bits)).collect();
            keys.sort_unstable();
            keys.dedup();
            keys.len()
        };
        let k = k.clamp(1, distinct);
        let labels: Vec<usize> = if k == 1 {
            vec![0; pool.len()]
        } else {
            let data = DatasetBase::from(x.clone());
            let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(seed))
                .n_runs(3)
                .max_n_iterations(100)
                .fit(&data)
                .map_err(|e| NoClasses::KMeans(e.to_string()))?;
            model.predict(&x).to_vec()
        };
        let mut members = vec![Vec::new(); k];
        for (i, &l) in labels.iter().enumerate() {
            members[l].push(i);
        }
        members.retain(|m| !m.is_empty());
        // largest first; ties by first member, so the order is deterministic
        members.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
        let total_work: f64 = pool.iter().map(work_cpu_h).sum();
        let classes = members
            .iter()
            .map(|m| {
                let n = m.len() as f64;
                let sum = |f: &dyn Fn(&Job) -> f64| m.iter().map(|&i| f(&pool[i])).sum::<f64>();
                JobClass {
                    jobs: m.len(),
                    share: n / pool.len() as f64,
                    mean_cpus: sum(&|j| f64::from(j.req_cpus.unwrap_or(0))) / n,
                    mean_runtime_s: sum(&|j| runtime(j).unwrap_or(0.0)) / n,
                    mean_request_s: sum(&|j| j.req_time_s.unwrap_or(0.0)) / n,
                    work_share: if total_work > 0.0 { sum(&work_cpu_h) / total_work } else { 0.0 },
                }
            })
            .collect();
        let mean_work_cpu_h = total_work / pool.len() as f64;
        Ok(Self { pool, members, classes, mean_work_cpu_h })
    }

    /// A workload of about `work_cpu_h` requested CPU hours submitted from
    /// `start_s`, spread over one hour per entry of `hourly_shape` in its
    /// proportions (evenly when it is all zero).
    pub fn synthesize(&self, start_s: f64, hourly_shape: &[f64], work_cpu_h: f64, seed: u64) -> Vec<Job> {
        let mut rng = Xoshiro256Plus::seed_from_u64(seed);
        let mut uniform = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let n = if self.mean_work_cpu_h > 0.0 { (work_cpu_h / self.mean_work_cpu_h).round() as usize } else { 0 };
        let hours = hourly_shape.len().max(1);
        let cumulative = |w: &[f64]| -> Vec<f64> {
            let total: f64 = w.iter().map(|v| v.max(0.0)).sum();
            let mut acc = 0.0;
            w.iter()
                .map(|v| {
                    acc += if total > 0.0 { v.max(0.0) / total } else { 1.0 / w.len() as f64 };
                    acc
                })
                .collect()
        };
        let hour_cdf = if hourly_shape.is_empty() { vec![1.0] } else { cumulative(hourly_shape) };
        let class_cdf = cumulative(&self.classes.iter().map(|c| c.share).collect::<Vec<_>>());
        let pick = |cdf: &[f64], u: f64| cdf.partition_point(|&c| c < u).min(cdf.len() - 1);
        let mut jobs: Vec<Job> = (0..n)
            .map(|i| {
                let hour = pick(&hour_cdf, uniform()).min(hours - 1);
                let submit = start_s + (hour as f64 + uniform()) * 3600.0;
                let class = &self.members[pick(&class_cdf, uniform())];
                let member = class[((uniform() * class.len() as f64) as usize).min(class.len() - 1)];
                let mut job = self.pool[member].clone();
                let runtime = runtime(&job);
                job.job_id = format!("synthetic-{i}");
                job.submit_s = submit;
                job.runtime_s = runtime;
                job.start_s = None;
                job.end_s = None;
                job
            })
            .collect();
        jobs.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
        jobs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(cpus: u32, runtime: f64, req: f64) -> Job {
        Job { req_cpus: Some(cpus), runtime_s: Some(runtime), req_time_s: Some(req), ..Job::default() }
    }

    #[test]
    fn two_kinds_of_jobs_make_two_classes_and_are_resampled_in_proportion() {
        let mut recent = Vec::new();
        for i in 0..300 {
            recent.push(job(1, 60.0 + f64::from(i % 7), 600.0));
            if i % 3 == 0 {
                recent.push(job(64, 36_000.0 + f64::from(i % 5), 86_400.0));
            }
        }
        let c = JobClasses::find(&recent, 2, 7).unwrap();
        assert_eq!(c.classes.len(), 2);
        assert_eq!((c.classes[0].jobs, c.classes[1].jobs), (300, 100), "{:?}", c.classes);
        assert!((c.classes[0].mean_cpus - 1.0).abs() < 1e-9 && (c.classes[1].mean_cpus - 64.0).abs() < 1e-9);
        let shape = [0.0, 1.0, 3.0, 0.0];
        let w = c.synthesize(1000.0, &shape, c.mean_work_cpu_h * 4000.0, 3);
        assert_eq!(w.len(), 4000);
        assert_eq!(w, c.synthesize(1000.0, &shape, c.mean_work_cpu_h * 4000.0, 3), "seeded");
        assert!(w.iter().all(|j| j.submit_s >= 1000.0 + 3600.0 && j.submit_s < 1000.0 + 3.0 * 3600.0));
        let late = w.iter().filter(|j| j.submit_s >= 1000.0 + 7200.0).count() as f64 / 4000.0;
        assert!((late - 0.75).abs() < 0.03, "three quarters in the third hour: {late}");
        let big = w.iter().filter(|j| j.req_cpus == Some(64)).count() as f64 / 4000.0;
        assert!((big - 0.25).abs() < 0.03, "a quarter from the big class: {big}");
        assert_eq!(JobClasses::find(&[Job::default()], 2, 1).unwrap_err(), NoClasses::NoJobs);
    }
}
