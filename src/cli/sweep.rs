//! `foresight sweep`: policies over a grid of clusters, load factors and
//! seeds, in parallel on all cores.

use super::compare::{run_specs, summary_table};
use super::simulate::WhatIf;
use super::trace_args::TraceArgs;
use clap::Args;
use foresight_simulator::output::write_json;
use foresight_simulator::workload::{Workload, WorkloadOptions};
use foresight_simulator::{Grid, Placed, Shard, SweepPoint, cluster_file, grid_len, sweep_shard_with};
use std::path::PathBuf;

/// Sweep policies over clusters, load factors and seeds.
#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// Comma-separated policies (`policy[:predictor]`).
    #[arg(long, default_value = "easy,easy++")]
    policies: Vec<String>,
    /// Comma-separated load factors (default: `--load-factor`).
    #[arg(long, value_delimiter = ',')]
    load_factors: Vec<f64>,
    /// Comma-separated cluster files; `trace` stands for the trace's own
    /// machine (default: `--cluster` or the trace's machine).
    #[arg(long, value_delimiter = ',')]
    clusters: Vec<String>,
    /// Comma-separated seeds (default: `--seed`).
    #[arg(long, value_delimiter = ',')]
    seeds: Vec<u64>,
    #[command(flatten)]
    what_if: WhatIf,
    /// Write every point's report as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Run the grid as a Slurm job array of this many tasks (through
    /// `sbatch`, on the cluster it submits to), wait for it and merge the
    /// parts: the same table and JSON as a sweep run here. The tasks must
    /// see the trace, the cluster files and `--slurm-dir` at the same paths.
    #[arg(long, value_name = "TASKS", conflicts_with = "shard")]
    slurm_array: Option<u32>,
    /// Where the array's tasks write their parts and logs.
    #[arg(long, value_name = "DIR", default_value = "foresight-sweep")]
    slurm_dir: PathBuf,
    /// More `sbatch` options for the array, split at spaces (e.g.
    /// `--sbatch-args="--partition=batch --time=30"`).
    #[arg(long, value_name = "OPTIONS", allow_hyphen_values = true)]
    sbatch_args: Option<String>,
    /// Compute only this part of the grid (`INDEX/OF`: the points whose
    /// position modulo OF is INDEX) and write it to `--json` with each
    /// point's position: what each task of `--slurm-array` runs, and what a
    /// batch system other than Slurm can run.
    #[arg(long, value_name = "INDEX/OF")]
    shard: Option<Shard>,
}

/// Runs `sweep`.
pub fn run_sweep(args: SweepArgs) -> anyhow::Result<()> {
    let runs = run_specs(&args.policies, &args.what_if)?;
    let base = args.what_if.sim_options()?;
    let table = args.trace.load()?.table;
    let clusters = if args.clusters.is_empty() {
        vec![("trace".to_string(), args.what_if.cluster(&table)?)]
    } else {
        args.clusters
            .iter()
            .map(|c| match c.as_str() {
                "trace" => {
                    Ok((c.clone(), table.meta.default_cluster().ok_or(foresight_simulator::SimError::NoCluster)?))
                }
                path => Ok((c.clone(), cluster_file::read(path.as_ref())?)),
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    // Which jobs the filter keeps depends on the cluster (a job too large
    // for it is dropped), not on the load factor, which only scales times:
    // a cluster on which no job can be replayed is refused as `simulate`
    // and `compare` refuse it, before any point runs.
    let opts = args.what_if.workload_options(&table.meta);
    for (name, cluster) in &clusters {
        let workload = Workload::from_jobs(&table.jobs, cluster, WorkloadOptions { load_factor: 1.0, ..opts });
        super::simulate::check_replayable(&workload, table.jobs.len(), cluster)
            .map_err(|e| super::BadInput(format!("cluster `{name}`: {}", e.0)))?;
    }
    let grid = Grid {
        clusters,
        load_factors: if args.load_factors.is_empty() { vec![opts.load_factor] } else { args.load_factors },
        seeds: if args.seeds.is_empty() { vec![base.seed] } else { args.seeds },
        runs,
        filter: opts.filter,
        max_request_s: opts.max_request_s,
    };
    // foresight's models (`online`, a model file) are built from the table
    let run_point = |w: &Workload, c: &foresight_core::Cluster, spec: &foresight_simulator::RunSpec| {
        super::simulate::run_report(w, c, spec, &table)
    };
    let part = |shard| -> anyhow::Result<Vec<Placed>> { sweep_shard_with(&table.jobs, &grid, shard, run_point) };
    if let Some(shard) = args.shard {
        let path = super::slurm_array::shard_output(args.json.as_ref())?;
        let whole = format!("the grid's {} points", grid_len(&grid));
        return super::slurm_array::write_part(&part(shard)?, shard, &whole, path);
    }
    let points: Vec<SweepPoint> = match args.slurm_array {
        Some(tasks) => {
            let total = grid_len(&grid);
            let array = super::slurm_array::Array {
                tasks,
                dir: &args.slurm_dir,
                sbatch_args: args.sbatch_args.as_deref(),
                job_name: "foresight-sweep",
                what: format!("{total} points"),
            };
            super::slurm_array::run(&array, total, |p: &Placed| p.position)?.into_iter().map(|p| p.point).collect()
        }
        None => part(Shard::ALL)?.into_iter().map(|p| p.point).collect(),
    };
    let rows = points
        .iter()
        .map(|p| (vec![p.cluster.clone(), format!("{}", p.load_factor), p.seed.to_string()], &p.report))
        .collect();
    print!("{}", summary_table(&["cluster", "load", "seed"], rows));
    if let Some(path) = &args.json {
        write_json(&points, path)?;
    }
    Ok(())
}
