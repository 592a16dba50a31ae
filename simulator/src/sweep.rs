//! What-if sweeps: every policy over a grid of clusters, load factors and
//! seeds, run in parallel on all cores.

use crate::metrics::Report;
use crate::run::{RunSpec, SimError, run};
use crate::workload::{Filter, Workload, WorkloadOptions};
use foresight_core::{Cluster, Job};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The grid of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Named clusters.
    pub clusters: Vec<(String, Cluster)>,
    /// Load factors (see [`WorkloadOptions::load_factor`]).
    pub load_factors: Vec<f64>,
    /// Seeds (they matter with random faults).
    pub seeds: Vec<u64>,
    /// Policies with their predictors and options (their seeds are replaced).
    pub runs: Vec<RunSpec>,
    /// The workload filter.
    pub filter: Filter,
}

/// One point of a sweep and its report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Cluster name.
    pub cluster: String,
    /// Load factor.
    pub load_factor: f64,
    /// Seed.
    pub seed: u64,
    /// The run's report.
    pub report: Report,
}

/// Runs every point of the grid over `jobs`; results come in grid order
/// (cluster, load factor, seed, run).
pub fn sweep(jobs: &[Job], grid: &Grid) -> Result<Vec<SweepPoint>, SimError> {
    let workloads: Vec<(usize, f64, Workload)> = grid
        .clusters
        .iter()
        .enumerate()
        .flat_map(|(c, _)| grid.load_factors.iter().map(move |&l| (c, l)))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(c, load_factor)| {
            let opts = WorkloadOptions { filter: grid.filter, load_factor };
            (c, load_factor, Workload::from_jobs(jobs, &grid.clusters[c].1, opts))
        })
        .collect();
    let points: Vec<(usize, u64, usize)> = (0..workloads.len())
        .flat_map(|w| grid.seeds.iter().flat_map(move |&s| (0..grid.runs.len()).map(move |r| (w, s, r))))
        .collect();
    points
        .into_par_iter()
        .map(|(w, seed, r)| {
            let (c, load_factor, workload) = &workloads[w];
            let (name, cluster) = &grid.clusters[*c];
            let mut spec = grid.runs[r].clone();
            spec.options.seed = seed;
            let (_, report) = run(workload, cluster, &spec)?;
            Ok(SweepPoint { cluster: name.clone(), load_factor: *load_factor, seed, report })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use foresight_core::Resources;

    #[test]
    fn more_load_means_longer_waits() {
        let jobs: Vec<Job> = (0..200)
            .map(|i| Job {
                submit_s: f64::from(i) * 50.0,
                runtime_s: Some(90.0 + f64::from(i % 7) * 20.0),
                req_cpus: Some(1 + i % 4),
                req_time_s: Some(400.0),
                ..Job::default()
            })
            .collect();
        let grid = Grid {
            clusters: vec![("small".into(), Cluster::homogeneous("n", 4, Resources::new(1, 0, 0)))],
            load_factors: vec![0.5, 2.0],
            seeds: vec![1],
            runs: vec![RunSpec::new("easy"), RunSpec::new("fcfs")],
            filter: Filter::Ran,
        };
        let points = sweep(&jobs, &grid).unwrap();
        assert_eq!(points.len(), 4);
        assert_eq!(points[0].report.policy, "easy");
        assert!(points[2].report.summary.mean_wait_s > points[0].report.summary.mean_wait_s);
    }
}
