//! `foresight simulate`: replay a trace under one policy and predictor, and
//! the what-if arguments `compare` and `sweep` share.

use super::BadInput;
use super::trace_args::TraceArgs;
use anyhow::Context;
use clap::{Args, ValueEnum};
use foresight_core::{Cluster, TraceMeta};
use foresight_datasets::JobTable;
use foresight_simulator::output::{write_jobs_parquet, write_json};
use foresight_simulator::{
    FaultConfig, FaultRate, Filter, NodeOutage, OnFailure, Report, RunSpec, SimError, SimOptions, Summary, Workload,
    WorkloadOptions, cluster_file, run,
};
use std::path::PathBuf;

/// Replay a trace under one policy: waits, slowdowns, utilisation.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// The policy: fcfs, easy, easy++, foresight (EASY++ with a protected
    /// head and foresight's online model: never much worse than EASY with
    /// requested times), sjbf, conservative, qssf, sjf, fairshare,
    /// fairshare-group, priority, or a composition such as
    /// `qssf/conservative/best-fit` (`/protected` protects EASY's head).
    #[arg(long, default_value = "easy")]
    policy: String,
    /// The runtime predictor: requested, easy++ or clairvoyant (default:
    /// the policy's own); `online` for foresight's model retrained on the
    /// jobs finished so far as the replay advances (`online:KIND` for
    /// another model, e.g. `online:gbt`); or a model file from
    /// `foresight train`.
    #[arg(long)]
    predictor: Option<String>,
    #[command(flatten)]
    what_if: WhatIf,
    /// Write the full report (with per-user, group and queue breakdowns) as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write one row per job (wait, response, slowdown, ...) as Parquet.
    #[arg(long, value_name = "FILE")]
    parquet: Option<PathBuf>,
}

/// Which jobs are replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FilterArg {
    /// Every job that ran and fits the cluster.
    Ran,
    /// The predictsim (SC'15) filter of SWF logs.
    Predictsim,
}

/// What-if arguments: another cluster, another load, faults.
#[derive(Debug, Clone, Args)]
pub struct WhatIf {
    /// A TOML cluster file (node types with counts) instead of the
    /// machine the trace declares.
    #[arg(long, value_name = "FILE")]
    cluster: Option<PathBuf>,
    /// Divide every inter-arrival time by this (2 doubles the load).
    #[arg(long, default_value_t = 1.0)]
    load_factor: f64,
    /// Which jobs are replayed.
    #[arg(long, value_enum, default_value = "ran")]
    filter: FilterArg,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Inject random node failures: mean time between failures of one
    /// node, seconds.
    #[arg(long, value_name = "SECONDS")]
    mtbf: Option<f64>,
    /// Mean time to repair a failed node, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600.0)]
    mttr: f64,
    /// A planned outage, `NODE@START+DURATION` in seconds (node index from
    /// 0); repeatable.
    #[arg(long, value_name = "NODE@START+DURATION")]
    outage: Vec<String>,
    /// What happens to the jobs on a failed node.
    #[arg(long, value_enum, default_value = "requeue")]
    on_failure: OnFailureArg,
    /// Ask the policy again when only a prediction was corrected.
    #[arg(long)]
    decide_on_correction: bool,
    /// Ask the policy after each event rather than once per instant (as the
    /// predictsim simulator does).
    #[arg(long)]
    decide_per_event: bool,
    /// Decide only at multiples of this many seconds, as a scheduler that
    /// runs in passes does (Slurm's backfill every `bf_interval`); 0 decides
    /// at every instant with an event.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    decision_period: f64,
    /// Half-life of the fair-share usage the `fairshare` and `priority`
    /// orders read, seconds (Slurm's `PriorityDecayHalfLife`; `shadow`
    /// takes the same option).
    #[arg(long, value_name = "SECONDS", default_value_t = foresight_core::runtime::USAGE_HALF_LIFE_S)]
    usage_half_life: f64,
}

/// What happens to the jobs on a failed node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnFailureArg {
    /// Back to the queue.
    Requeue,
    /// Ended, failed.
    Fail,
}

impl WhatIf {
    /// The cluster: the file's, or the one the trace declares.
    pub fn cluster(&self, table: &JobTable) -> anyhow::Result<Cluster> {
        match &self.cluster {
            Some(path) => Ok(cluster_file::read(path)?),
            None => table.meta.default_cluster().ok_or_else(|| SimError::NoCluster.into()),
        }
    }

    /// Workload options, with the site's longest request from the trace's
    /// header (its longest allowed request).
    pub fn workload_options(&self, meta: &TraceMeta) -> WorkloadOptions {
        let filter = match self.filter {
            FilterArg::Ran => Filter::Ran,
            FilterArg::Predictsim => Filter::Predictsim,
        };
        WorkloadOptions { filter, load_factor: self.load_factor, max_request_s: meta.max_runtime_s }
    }

    /// Engine options.
    pub fn sim_options(&self) -> anyhow::Result<SimOptions> {
        let schedule = self.outage.iter().map(|o| parse_outage(o)).collect::<anyhow::Result<Vec<_>>>()?;
        let on_failure = match self.on_failure {
            OnFailureArg::Requeue => OnFailure::Requeue,
            OnFailureArg::Fail => OnFailure::Fail,
        };
        let rate = self.mtbf.map(|mtbf_s| FaultRate { mtbf_s, mttr_s: self.mttr });
        if !(self.decision_period.is_finite() && self.decision_period >= 0.0) {
            return Err(BadInput("--decision-period must be a number of seconds, at least 0".into()).into());
        }
        Ok(SimOptions {
            faults: FaultConfig { schedule, rate, on_failure },
            seed: self.seed,
            decide_on_correction: self.decide_on_correction,
            decide_per_event: self.decide_per_event,
            decision_period_s: self.decision_period,
            usage_half_life_s: self.usage_half_life,
        })
    }
}

fn parse_outage(text: &str) -> anyhow::Result<NodeOutage> {
    let bad = || anyhow::anyhow!("invalid outage `{text}` (expected NODE@START+DURATION, e.g. 3@86400+3600)");
    let (node, rest) = text.split_once('@').ok_or_else(bad)?;
    let (at, dur) = rest.split_once('+').ok_or_else(bad)?;
    Ok(NodeOutage {
        node: node.trim().parse().map_err(|_| bad())?,
        at_s: at.trim().parse().map_err(|_| bad())?,
        duration_s: dur.trim().parse().map_err(|_| bad())?,
    })
}

/// Runs `simulate`.
pub fn run_simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let table = args.trace.load()?.table;
    let cluster = args.what_if.cluster(&table)?;
    let workload = Workload::from_jobs(&table.jobs, &cluster, args.what_if.workload_options(&table.meta));
    check_replayable(&workload, table.jobs.len(), &cluster)?;
    let predictor = args.predictor.or_else(|| model_predictor_of(&args.policy));
    let spec = RunSpec { policy: args.policy, predictor, options: args.what_if.sim_options()? };
    let (result, report) = match spec.predictor.as_deref().filter(|p| is_model_predictor(p)) {
        Some(p) => run_with_model(&workload, &cluster, &spec, p, &table)?,
        None => run(&workload, &cluster, &spec)?,
    };
    print!("{}", report_text(&report, &cluster));
    if let Some(path) = &args.json {
        write_json(&report, path).with_context(|| format!("failed to write {}", path.display()))?;
    }
    if let Some(path) = &args.parquet {
        let id = |row: u32| table.jobs[row as usize].job_id.clone();
        write_jobs_parquet(&workload, &result, Some(&id), path)?;
    }
    Ok(())
}

/// Refuses a workload with no job to replay, saying why from what the
/// filter dropped (`jobs`: the trace's rows): bad input, not a run whose
/// every metric is zero.
pub fn check_replayable(workload: &Workload, jobs: usize, cluster: &Cluster) -> Result<(), BadInput> {
    if !workload.jobs.is_empty() {
        return Ok(());
    }
    let d = &workload.dropped;
    let cap = cluster.total();
    let reasons: Vec<String> = [
        (d.never_ran, "have no run time (never ran)".to_string()),
        (d.no_runtime, "have a run time of zero or less (dropped by the predictsim filter)".to_string()),
        (d.no_request, "have no requested time (dropped by the predictsim filter)".to_string()),
        (d.no_processors, "have no processor count (dropped by the predictsim filter)".to_string()),
        (
            d.too_large,
            format!("need more than the cluster holds ({} nodes, {} CPUs, {} GPUs)", cluster.len(), cap.cpus, cap.gpus),
        ),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{n} {why}"))
    .collect();
    let why = if reasons.is_empty() { "the trace holds no job".to_string() } else { reasons.join(", ") };
    Err(BadInput(format!("0 of {jobs} jobs can be replayed: {why}")))
}

/// The predictor a policy runs with when none is named, where it is one
/// that `foresight-models` builds: `foresight` (and its compositions) runs
/// with foresight's online model ([`foresight_models::FORESIGHT_ONLINE`]). `None` for the other presets, whose
/// predictor `foresight-core` builds.
pub fn model_predictor_of(policy: &str) -> Option<String> {
    let preset = policy.trim().split('/').next().unwrap_or_default();
    preset.eq_ignore_ascii_case("foresight").then(|| foresight_models::FORESIGHT_ONLINE.to_string())
}

/// True for a predictor `foresight-models` builds: `online`, `online:KIND`
/// or a model file (`*.json`).
pub fn is_model_predictor(name: &str) -> bool {
    name.starts_with("online") || name.ends_with(".json")
}

/// Runs `spec` with the `foresight-models` predictor named `predictor`.
pub fn run_with_model(
    workload: &Workload,
    cluster: &Cluster,
    spec: &RunSpec,
    predictor: &str,
    table: &JobTable,
) -> anyhow::Result<(foresight_simulator::SimResult, Report)> {
    let mut p = foresight_models::predictor_from_spec(predictor, table, &workload.source_row)?;
    run_with_predictor(workload, cluster, spec, p.as_mut(), predictor)
}

/// Runs `spec`'s policy with `predictor` (built by the caller, named
/// `name` in the report).
pub fn run_with_predictor(
    workload: &Workload,
    cluster: &Cluster,
    spec: &RunSpec,
    predictor: &mut dyn foresight_core::predictor::Predictor,
    name: &str,
) -> anyhow::Result<(foresight_simulator::SimResult, Report)> {
    let policy: foresight_core::policy::PolicySpec = spec.policy.parse()?;
    let result = foresight_simulator::simulate(workload, cluster, &mut policy.build(), predictor, &spec.options)?;
    let report = foresight_simulator::metrics::report(workload, cluster.total(), &result, &policy.name, name);
    Ok((result, report))
}

/// The report of one run of `spec`: with the `foresight-models` predictor
/// it names (built from `table`), or else by the simulator alone. The one
/// place `compare`, `sweep` and `robustness` choose how a run is made.
pub fn run_report(
    workload: &Workload,
    cluster: &Cluster,
    spec: &RunSpec,
    table: &JobTable,
) -> anyhow::Result<foresight_simulator::Report> {
    match spec.predictor.as_deref().filter(|p| is_model_predictor(p)) {
        Some(p) => Ok(run_with_model(workload, cluster, spec, p, table)?.1),
        None => Ok(foresight_simulator::run(workload, cluster, spec)?.1),
    }
}

/// A few lines a person reads at a glance.
pub fn report_text(r: &Report, cluster: &Cluster) -> String {
    let s: &Summary = &r.summary;
    let cap = cluster.total();
    let d = &r.dropped;
    let mut out = format!(
        "policy {} with predictor {}: {} jobs on {} nodes ({} CPUs, {} GPUs); {} dropped by the filter\n",
        r.policy,
        r.predictor,
        s.jobs,
        cluster.len(),
        cap.cpus,
        cap.gpus,
        d.total()
    );
    out += &format!(
        "  wait       mean {:.0} s, median {:.0} s, p95 {:.0} s, p99 {:.0} s\n",
        s.mean_wait_s, s.median_wait_s, s.p95_wait_s, s.p99_wait_s
    );
    out += &format!("  slowdown   average bounded {:.2}, max {:.1} (10 s bound)\n", s.avg_bsld, s.max_bsld);
    out += &format!(
        "  machine    CPU utilisation {:.1} %, GPU utilisation {:.1} %, makespan {:.0} s\n",
        s.cpu_utilisation * 100.0,
        s.gpu_utilisation * 100.0,
        s.makespan_s
    );
    out += &format!(
        "  jobs       {} ended, {} killed at their limit, {} backfilled, {} failed, {} requeues, {} never started\n",
        s.ended, s.killed, s.backfilled, s.failed, s.requeues, r.stats.never_started
    );
    out
}
