//! Job classes of a trace's recent past, found by k-means (`linfa-clustering`
//! on `ndarray`) over each job's log size, log runtime and log request, and
//! workloads synthesized from them: arrivals spread over the horizon's hours
//! as the forecast spreads them, each arrival a real recent job drawn from a
//! class picked in the classes' proportions, until the forecast's work is
//! reached. Seeded: the same seed, the same workload.

use super::tenants::Tenants;
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
        let mut jobs = self.draw(start_s, hourly_shape, work_cpu_h, seed, |_| true, "synthetic-");
        jobs.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
        jobs
    }

    /// A workload for `demand`: [`JobClasses::synthesize`] for a whole
    /// demand; for a split one, each tenant's share synthesized from that
    /// tenant's recent jobs only, in their classes' proportions among them
    /// (from every recent job when the tenant has none), with a seed of its
    /// own derived from `seed`.
    pub fn synthesize_for(&self, start_s: f64, demand: &Demand<'_>, seed: u64) -> Vec<Job> {
        match demand {
            Demand::Whole { shape, work } => self.synthesize(start_s, shape, *work, seed),
            Demand::Split { tenants, shares } => {
                let of: Vec<usize> = self.pool.iter().map(|j| tenants.index(j)).collect();
                let mut jobs = Vec::new();
                for (t, (shape, work)) in shares.iter().enumerate() {
                    let own = of.contains(&t);
                    // a distinct, fixed stream per tenant (splitmix64's increment)
                    let seed = seed.wrapping_add((t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                    let prefix = format!("synthetic-{t}-");
                    jobs.extend(self.draw(start_s, shape, *work, seed, |i| !own || of[i] == t, &prefix));
                }
                jobs.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
                jobs
            }
        }
    }

    /// About `work` requested CPU hours of jobs drawn from the pool's
    /// members that `keep` (by pool index) keeps, classes in their
    /// proportions among those, hours in `hourly_shape`'s; unsorted.
    fn draw(
        &self,
        start_s: f64,
        hourly_shape: &[f64],
        work: f64,
        seed: u64,
        keep: impl Fn(usize) -> bool,
        id_prefix: &str,
    ) -> Vec<Job> {
        let members: Vec<Vec<usize>> =
            self.members.iter().map(|m| m.iter().copied().filter(|&i| keep(i)).collect()).collect();
        let kept: Vec<usize> = members.iter().flatten().copied().collect();
        if kept.is_empty() {
            return Vec::new();
        }
        // every member kept: the classes' own figures (summed in pool order,
        // so that a whole demand's workloads stay what they were)
        let all = kept.len() == self.pool.len();
        let mean_work = if all {
            self.mean_work_cpu_h
        } else {
            kept.iter().map(|&i| work_cpu_h(&self.pool[i])).sum::<f64>() / kept.len() as f64
        };
        let mut rng = Xoshiro256Plus::seed_from_u64(seed);
        let mut uniform = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let n = if mean_work > 0.0 { (work / mean_work).round() as usize } else { 0 };
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
        let shares: Vec<f64> = if all {
            self.classes.iter().map(|c| c.share).collect()
        } else {
            members.iter().map(|m| m.len() as f64).collect()
        };
        let class_cdf = cumulative(&shares);
        let pick = |cdf: &[f64], u: f64| cdf.partition_point(|&c| c < u).min(cdf.len() - 1);
        (0..n)
            .map(|i| {
                let hour = pick(&hour_cdf, uniform()).min(hours - 1);
                let submit = start_s + (hour as f64 + uniform()) * 3600.0;
                // a class with no member kept has no width in the CDF, but
                // rounding can land past the last one: take the nearest kept
                let c = pick(&class_cdf, uniform());
                let c = (0..=c).rev().chain(c..members.len()).find(|&k| !members[k].is_empty()).unwrap_or(c);
                let class = &members[c];
                let member = class[((uniform() * class.len() as f64) as usize).min(class.len() - 1)];
                let mut job = self.pool[member].clone();
                let runtime = runtime(&job);
                job.job_id = format!("{id_prefix}{i}");
                job.submit_s = submit;
                job.runtime_s = runtime;
                job.start_s = None;
                job.end_s = None;
                job
            })
            .collect()
    }
}

/// The demand a synthetic workload is made for: its arrivals per hour and
/// its requested CPU hours, for the whole cluster or tenant by tenant.
#[derive(Debug, Clone, PartialEq)]
pub enum Demand<'a> {
    /// The whole cluster's.
    Whole {
        /// Jobs submitted per hour (only the proportions matter).
        shape: &'a [f64],
        /// Requested CPU hours.
        work: f64,
    },
    /// Each tenant's, in [`Tenants::names`] order.
    Split {
        /// The tenants.
        tenants: &'a Tenants,
        /// Each tenant's arrivals per hour and requested CPU hours.
        shares: Vec<(&'a [f64], f64)>,
    },
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

    #[test]
    fn a_split_demand_resamples_each_tenant_from_its_own_jobs_in_its_own_work() {
        use crate::plan::tenants::{TenantKey, Tenants};
        let on = |q: &str, cpus: u32, runtime: f64| Job { queue: Some(q.into()), ..job(cpus, runtime, 3600.0) };
        let mut recent = Vec::new();
        for i in 0..200 {
            recent.push(on("small", 1, 60.0 + f64::from(i % 3)));
            recent.push(on("big", 32, 3000.0 + f64::from(i % 5)));
        }
        let c = JobClasses::find(&recent, 2, 7).unwrap();
        let tenants = Tenants::largest(&recent, TenantKey::Queue, 4).unwrap();
        assert_eq!(tenants.names, ["big", "small", crate::plan::tenants::OTHER]);
        // 32 CPU hours of big jobs, 10 of small ones, none of the rest
        let shares = vec![(&[1.0, 0.0][..], 32.0 * 10.0), (&[0.0, 1.0][..], 10.0), (&[1.0, 1.0][..], 0.0)];
        let demand = Demand::Split { tenants: &tenants, shares };
        let w = c.synthesize_for(0.0, &demand, 3);
        assert_eq!(w, c.synthesize_for(0.0, &demand, 3), "seeded");
        let (big, small): (Vec<&Job>, Vec<&Job>) = w.iter().partition(|j| j.queue.as_deref() == Some("big"));
        assert_eq!((big.len(), small.len()), (10, 10), "each tenant's work in its own jobs' sizes");
        assert!(big.iter().all(|j| j.req_cpus == Some(32) && j.submit_s < 3600.0), "big in its first hour");
        assert!(small.iter().all(|j| j.req_cpus == Some(1) && j.submit_s >= 3600.0), "small in its second hour");
        assert!(w.windows(2).all(|p| p[0].submit_s <= p[1].submit_s), "sorted by submission");
        let mut ids: Vec<&str> = w.iter().map(|j| j.job_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 20, "job ids stay unique across tenants");
        // a tenant with no recent job is resampled from every recent job
        let other = Demand::Split {
            tenants: &tenants,
            shares: vec![(&[1.0][..], 0.0), (&[1.0][..], 0.0), (&[1.0][..], 330.0)],
        };
        let w = c.synthesize_for(0.0, &other, 5);
        assert!(!w.is_empty() && w.iter().any(|j| j.req_cpus == Some(1)) && w.iter().any(|j| j.req_cpus == Some(32)));
        // a whole demand is `synthesize`
        let whole = Demand::Whole { shape: &[1.0, 2.0], work: 100.0 };
        assert_eq!(c.synthesize_for(0.0, &whole, 9), c.synthesize(0.0, &[1.0, 2.0], 100.0, 9));
    }
}
