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
    /// The site's longest request (see [`WorkloadOptions::max_request_s`]).
    pub max_request_s: Option<f64>,
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

/// A part of a sweep's points: those whose position in grid order, counted
/// from 0, leaves `index` when divided by `of` (round robin, so that each
/// part gets its share of every cluster, load, seed and policy). Written
/// `INDEX/OF`, as a Slurm array task gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This part, from 0.
    pub index: u32,
    /// How many parts.
    pub of: u32,
}

impl Shard {
    /// The whole sweep as one part.
    pub const ALL: Shard = Shard { index: 0, of: 1 };

    /// True when the point at `position` (grid order) is in this part.
    pub fn holds(&self, position: usize) -> bool {
        position % self.of as usize == self.index as usize
    }
}

/// The error of a shard written otherwise than `INDEX/OF` with
/// `INDEX < OF`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a shard: expected INDEX/OF with 0 <= INDEX < OF, e.g. 2/8")]
pub struct BadShard(pub String);

impl std::str::FromStr for Shard {
    type Err = BadShard;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadShard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, of) = (i.trim().parse::<u32>().map_err(|_| bad())?, n.trim().parse::<u32>().map_err(|_| bad())?);
        if index < of { Ok(Shard { index, of }) } else { Err(bad()) }
    }
}

/// One computed point and its position in grid order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    /// The position in grid order (cluster, load factor, seed, run).
    pub position: usize,
    /// The point.
    pub point: SweepPoint,
}

/// How many points the grid has.
pub fn grid_len(grid: &Grid) -> usize {
    grid.clusters.len() * grid.load_factors.len() * grid.seeds.len() * grid.runs.len()
}

/// Runs every point of the grid over `jobs`; results come in grid order
/// (cluster, load factor, seed, run).
pub fn sweep(jobs: &[Job], grid: &Grid) -> Result<Vec<SweepPoint>, SimError> {
    Ok(sweep_shard(jobs, grid, Shard::ALL)?.into_iter().map(|p| p.point).collect())
}

/// Runs the points of `shard` only, in parallel, each with its position:
/// what one task of a Slurm job array computes. The points of all the
/// shards of a grid, put in position order, are [`sweep`]'s, bit for bit.
pub fn sweep_shard(jobs: &[Job], grid: &Grid, shard: Shard) -> Result<Vec<Placed>, SimError> {
    sweep_shard_with(jobs, grid, shard, |w, c, spec| Ok(run(w, c, spec)?.1))
}

/// [`sweep_shard`], each point run by `run_point` (for predictors this
/// crate cannot build, such as foresight's models, which the caller builds
/// from the workload's source rows).
pub fn sweep_shard_with<E: From<SimError> + Send>(
    jobs: &[Job],
    grid: &Grid,
    shard: Shard,
    run_point: impl Fn(&Workload, &Cluster, &RunSpec) -> Result<Report, E> + Sync,
) -> Result<Vec<Placed>, E> {
    let per_workload = grid.seeds.len() * grid.runs.len();
    let workloads: Vec<(usize, f64)> = grid
        .clusters
        .iter()
        .enumerate()
        .flat_map(|(c, _)| grid.load_factors.iter().map(move |&l| (c, l)))
        .collect();
    let points: Vec<(usize, usize, u64, usize)> = (0..workloads.len())
        .flat_map(|w| grid.seeds.iter().flat_map(move |&s| (0..grid.runs.len()).map(move |r| (w, s, r))))
        .enumerate()
        .filter(|(position, _)| shard.holds(*position))
        .map(|(position, (w, s, r))| (position, w, s, r))
        .collect();
    // only the workloads this shard's points replay
    let built: Vec<Option<Workload>> = (0..workloads.len())
        .into_par_iter()
        .map(|w| {
            let needed = (w * per_workload..(w + 1) * per_workload).any(|p| shard.holds(p));
            needed.then(|| {
                let (c, load_factor) = workloads[w];
                let opts = WorkloadOptions { filter: grid.filter, load_factor, max_request_s: grid.max_request_s };
                Workload::from_jobs(jobs, &grid.clusters[c].1, opts)
            })
        })
        .collect();
    points
        .into_par_iter()
        .map(|(position, w, seed, r)| {
            let (c, load_factor) = workloads[w];
            let workload = built[w].as_ref().expect("built for its points");
            let (name, cluster) = &grid.clusters[c];
            let mut spec = grid.runs[r].clone();
            spec.options.seed = seed;
            let report = run_point(workload, cluster, &spec)?;
            Ok(Placed { position, point: SweepPoint { cluster: name.clone(), load_factor, seed, report } })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use foresight_core::Resources;

    /// `n` jobs `gap` seconds apart, runtimes and sizes cycling.
    fn jobs(n: u32, gap: f64) -> Vec<Job> {
        (0..n)
            .map(|i| Job {
                submit_s: f64::from(i) * gap,
                runtime_s: Some(50.0 + f64::from(i % 7) * 30.0),
                req_cpus: Some(1 + i % 3),
                req_time_s: Some(400.0),
                ..Job::default()
            })
            .collect()
    }

    /// A grid over 3 one-CPU nodes.
    fn grid(load_factors: Vec<f64>, seeds: Vec<u64>, policies: &[&str]) -> Grid {
        Grid {
            clusters: vec![("small".into(), Cluster::homogeneous("n", 3, Resources::new(1, 0, 0)))],
            load_factors,
            seeds,
            runs: policies.iter().map(|p| RunSpec::new(p)).collect(),
            filter: Filter::Ran,
            max_request_s: None,
        }
    }

    #[test]
    fn more_load_means_longer_waits() {
        let jobs = jobs(200, 50.0);
        let grid = grid(vec![0.5, 2.0], vec![1], &["easy", "fcfs"]);
        let points = sweep(&jobs, &grid).unwrap();
        assert_eq!(points.len(), 4);
        assert_eq!(points[0].report.policy, "easy");
        assert!(points[2].report.summary.mean_wait_s > points[0].report.summary.mean_wait_s);
    }

    #[test]
    fn the_shards_of_a_grid_put_together_are_the_whole_sweep() {
        let jobs = jobs(120, 7.0);
        let grid = grid(vec![1.0, 1.5], vec![1, 2], &["easy", "sjbf", "fcfs"]);
        let whole = sweep(&jobs, &grid).unwrap();
        assert_eq!(whole.len(), grid_len(&grid));
        let mut parts: Vec<Placed> =
            (0..5).flat_map(|i| sweep_shard(&jobs, &grid, Shard { index: i, of: 5 }).unwrap()).collect();
        parts.sort_by_key(|p| p.position);
        assert_eq!(parts.iter().map(|p| p.position).collect::<Vec<_>>(), (0..whole.len()).collect::<Vec<_>>());
        assert_eq!(parts.into_iter().map(|p| p.point).collect::<Vec<_>>(), whole);
    }

    #[test]
    fn shards_parse_as_index_over_count() {
        assert_eq!("2/8".parse::<Shard>(), Ok(Shard { index: 2, of: 8 }));
        for bad in ["8/8", "2", "a/3", "1/0", "-1/3"] {
            assert!(bad.parse::<Shard>().unwrap_err().to_string().contains(&format!("`{bad}`")), "{bad}");
        }
    }
}
