//! `foresight robustness`: the robustness matrix. On each log, at each
//! load, the candidate (by default `foresight`: EASY++ with a protected head
//! and foresight's online model) beside EASY with requested times, EASY++
//! with the users' history and the clairvoyant bound, and whether the
//! candidate keeps its promise there (see
//! `foresight_simulator::robustness`).

use super::BadInput;
use super::compare::run_spec;
use super::simulate::{WhatIf, check_replayable, run_report};
use anyhow::Context;
use clap::Args;
use foresight_core::Cluster;
use foresight_datasets::synthetic::{Synthetic, SyntheticConfig};
use foresight_datasets::{JobTable, ReadOptions, read_trace};
use foresight_simulator::output::write_json;
use foresight_simulator::robustness::{Cell, Role, markdown, offered_load};
use foresight_simulator::{Report, Workload};
use rayon::prelude::*;
use std::path::PathBuf;

/// Check that predictions never make scheduling much worse: a matrix of
/// logs and loads, the candidate against requested times, the users'
/// history and the clairvoyant bound.
#[derive(Debug, Args)]
pub struct RobustnessArgs {
    /// The logs (any format `simulate` reads). At least one, or
    /// `--synthetic`.
    traces: Vec<PathBuf>,
    /// Add a synthetic log of this many jobs (seeded by `--seed`), busy at
    /// 1x (about 0.7 of its machine's capacity offered).
    #[arg(long, value_name = "JOBS")]
    synthetic: Option<u64>,
    /// Also write the synthetic log as a Parquet job table, to replay it
    /// with `simulate` or `compare` (job by job with `simulate --parquet`).
    #[arg(long, value_name = "FILE", requires = "synthetic")]
    synthetic_out: Option<PathBuf>,
    /// Load factors: every inter-arrival time divided by each.
    #[arg(long, value_delimiter = ',', default_value = "1,1.3,1.6")]
    loads: Vec<f64>,
    /// Replay only the first quarter of each log by submission: the
    /// development part, where settings are chosen before a log is scored
    /// whole.
    #[arg(long)]
    first_quarter: bool,
    /// The baseline: the policy with requested times.
    #[arg(long, default_value = "easy")]
    baseline: String,
    /// The reference: the policy with the users' history.
    #[arg(long, default_value = "easy++")]
    reference: String,
    /// The candidate (`policy[:predictor]`, as in `compare`).
    #[arg(long, default_value = "foresight")]
    candidate: String,
    /// The bound: the policy with true runtimes.
    #[arg(long, default_value = "easy++:clairvoyant")]
    bound: String,
    /// Stop at the first malformed line of a log with an error, instead of
    /// skipping bad lines and counting them.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    what_if: WhatIf,
    /// Write the matrix as a Markdown table.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Write every cell's four reports as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Exit with status 1 when a cell breaks the promise.
    #[arg(long)]
    check: bool,
}

/// One log, read.
struct Log {
    name: String,
    table: JobTable,
    cluster: Cluster,
}

/// The synthetic log's machine and arrival rate: 256 processors offered
/// about 0.7 of their capacity (measured by `robustness`, which prints it).
fn synthetic_config(jobs: u64, seed: u64) -> SyntheticConfig {
    SyntheticConfig { seed, jobs, cpus: 256, mean_interarrival_s: 190.0, ..SyntheticConfig::default() }
}

/// Runs `robustness`.
pub fn run_robustness(args: RobustnessArgs) -> anyhow::Result<()> {
    if args.traces.is_empty() && args.synthetic.is_none() {
        return Err(BadInput("give at least one log, or --synthetic JOBS".into()).into());
    }
    if let Some(bad) = args.loads.iter().find(|l| !(l.is_finite() && **l > 0.0)) {
        return Err(BadInput(format!("--loads: {bad} is not a positive load factor")).into());
    }
    let roles = [&args.baseline, &args.reference, &args.candidate, &args.bound];
    let specs = roles.map(|r| run_spec(r, &args.what_if)).into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let mut logs = Vec::new();
    for path in &args.traces {
        let read = read_trace(path, &ReadOptions { strict: args.strict, ..ReadOptions::default() })
            .with_context(|| format!("failed to read {}", path.display()))?;
        super::trace_args::report_skipped(path, &read.skipped);
        let cluster = args.what_if.cluster(&read.table)?;
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        logs.push(Log { name, table: read.table, cluster });
    }
    if let Some(jobs) = args.synthetic {
        let cfg = synthetic_config(jobs, args.what_if.sim_options()?.seed);
        let table = Synthetic::table(cfg);
        if let Some(out) = &args.synthetic_out {
            foresight_datasets::parquet::write(&table, out)
                .with_context(|| format!("failed to write the synthetic log to {}", out.display()))?;
        }
        let cluster = args.what_if.cluster(&table)?;
        logs.push(Log { name: format!("synthetic ({jobs} jobs)"), table, cluster });
    }
    let mut workloads = Vec::new();
    for (l, log) in logs.iter().enumerate() {
        for &load_factor in &args.loads {
            let mut opts = args.what_if.workload_options(&log.table.meta);
            opts.load_factor = load_factor;
            let mut w = Workload::from_jobs(&log.table.jobs, &log.cluster, opts);
            if args.first_quarter {
                w = w.first_part(0.25);
            }
            check_replayable(&w, log.table.jobs.len(), &log.cluster)
                .map_err(|e| BadInput(format!("{}: {}", log.name, e.0)))?;
            workloads.push((l, load_factor, w));
        }
    }
    let runs: Vec<(usize, usize)> = (0..workloads.len()).flat_map(|c| (0..specs.len()).map(move |r| (c, r))).collect();
    let bar = super::progress::bar(runs.len() as u64);
    bar.set_message("runs");
    let reports = runs
        .par_iter()
        .map(|&(c, r)| {
            let (l, _, w) = &workloads[c];
            let log = &logs[*l];
            let report = run_report(w, &log.cluster, &specs[r], &log.table);
            bar.inc(1);
            report
        })
        .collect::<anyhow::Result<Vec<Report>>>()?;
    bar.finish_and_clear();
    let mut reports = reports.into_iter();
    let cells: Vec<Cell> = workloads
        .iter()
        .map(|(l, load_factor, w)| Cell {
            log: logs[*l].name.clone(),
            load_factor: *load_factor,
            offered_load: offered_load(w, logs[*l].cluster.total()),
            jobs: w.len(),
            reports: reports.by_ref().take(Role::ALL.len()).collect(),
        })
        .collect();
    print!("{}", text(&cells));
    let table = markdown(&cells);
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table).with_context(|| format!("failed to write {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        write_json(&cells, path).with_context(|| format!("failed to write {}", path.display()))?;
    }
    let broken = cells.iter().filter(|c| !c.verdict().holds()).count();
    if args.check && broken > 0 {
        anyhow::bail!("the candidate breaks its promise in {broken} of {} cells", cells.len());
    }
    Ok(())
}

/// The matrix as a person reads it in a terminal: per cell, a line per run
/// and the verdict.
fn text(cells: &[Cell]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for c in cells {
        let _ = writeln!(out, "{} at {}x (offered load {:.2}, {} jobs)", c.log, c.load_factor, c.offered_load, c.jobs);
        let _ = writeln!(out, "  {:<10} {:<26} {:>10} {:>12} {:>12} {:>12}", "role", "run", "avg bsld", "max bsld", "mean wait h", "p99 wait h");
        for (role, r) in Role::ALL.iter().zip(&c.reports) {
            let s = &r.summary;
            let _ = writeln!(
                out,
                "  {:<10} {:<26} {:>10.2} {:>12.1} {:>12.2} {:>12.1}",
                format!("{role:?}").to_lowercase(),
                format!("{} / {}", r.policy, r.predictor),
                s.avg_bsld,
                s.max_bsld,
                s.mean_wait_s / 3600.0,
                s.p99_wait_s / 3600.0
            );
        }
        let v = c.verdict();
        let _ = writeln!(
            out,
            "  promise {}: avg {:.2} of the better of baseline and reference, max {:.2} of the baseline's; aim {}: {:.2} of the bound\n",
            if v.holds() { "kept" } else { "BROKEN" },
            v.avg_ratio,
            v.max_ratio,
            if v.meets_aim() { "met" } else { "missed" },
            v.bound_ratio
        );
    }
    out
}
