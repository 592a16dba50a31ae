//! `foresight sweep`: policies over a grid of clusters, load factors and
//! seeds, in parallel on all cores.

use super::compare::{run_spec, summary_table};
use super::simulate::WhatIf;
use super::trace_args::TraceArgs;
use clap::Args;
use foresight_simulator::output::write_json;
use foresight_simulator::workload::{Workload, WorkloadOptions};
use foresight_simulator::{Grid, cluster_file, sweep};
use std::path::PathBuf;

/// Sweep policies over clusters, load factors and seeds.
#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// Comma-separated policies (`policy[:predictor]`).
    #[arg(long, value_delimiter = ',', default_value = "easy,easy++")]
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
}

/// Runs `sweep`.
pub fn run_sweep(args: SweepArgs) -> anyhow::Result<()> {
    let runs = args.policies.iter().map(|p| run_spec(p, &args.what_if)).collect::<anyhow::Result<Vec<_>>>()?;
    let base = args.what_if.sim_options()?;
    let table = args.trace.load()?.table;
    let clusters = if args.clusters.is_empty() {
        vec![("trace".to_string(), args.what_if.cluster(&table)?)]
    } else {
        args.clusters
            .iter()
            .map(|c| match c.as_str() {
                "trace" => Ok((c.clone(), table.meta.default_cluster().ok_or(foresight_simulator::SimError::NoCluster)?)),
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
    let points = sweep(&table.jobs, &grid)?;
    let rows = points
        .iter()
        .map(|p| {
            (
                vec![
                    p.cluster.clone(),
                    format!("{}", p.load_factor),
                    p.seed.to_string(),
                ],
                &p.report,
            )
        })
        .collect();
    print!("{}", summary_table(&["cluster", "load", "seed"], rows));
    if let Some(path) = &args.json {
        write_json(&points, path)?;
    }
    Ok(())
}
