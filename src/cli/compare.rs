//! `foresight compare`: several policies over one trace, in parallel on all
//! cores, side by side.

use super::simulate::WhatIf;
use super::trace_args::TraceArgs;
use clap::Args;
use foresight_simulator::output::{summaries_frame, write_frame, write_json};
use foresight_simulator::{Comparison, Report, RunSpec, Workload, compare};
use std::path::PathBuf;

/// Compare policies on one trace: a table of waits, slowdowns, utilisation.
#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// Comma-separated policies, each optionally with its predictor after a
    /// colon: `fcfs,easy,easy++,easy++:clairvoyant,sjbf,conservative,qssf,fairshare`;
    /// `easy++:online` uses foresight's online model, `easy++:model.json` a
    /// model file from `foresight train`.
    #[arg(long, default_value = "fcfs,easy,easy++,sjbf,conservative,qssf,fairshare")]
    policies: Vec<String>,
    #[command(flatten)]
    what_if: WhatIf,
    /// Write the reports as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the summary table as Parquet.
    #[arg(long, value_name = "FILE")]
    parquet: Option<PathBuf>,
    /// Write an HTML report with charts (Markdown and the results JSON go
    /// beside it): the first policy is the baseline, the second the candidate.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// A `--policies` list (comma-separated, see [`super::policy_list`]) as
/// runs, in order.
pub fn run_specs(policies: &[String], what_if: &WhatIf) -> anyhow::Result<Vec<RunSpec>> {
    super::policy_list::split(policies).iter().map(|p| run_spec(p, what_if)).collect()
}

/// `policy[:predictor]` as a run.
pub fn run_spec(text: &str, what_if: &WhatIf) -> anyhow::Result<RunSpec> {
    let (policy, predictor) = match text.split_once(':') {
        Some((p, q)) => (p.trim(), Some(q.trim().to_string())),
        None => (text.trim(), super::simulate::model_predictor_of(text)),
    };
    let spec = RunSpec { policy: policy.to_string(), predictor, options: what_if.sim_options()? };
    if !uses_model(&spec) {
        spec.resolve()?;
    }
    Ok(spec)
}

/// True when a run's predictor is one `foresight-models` builds (`online`,
/// a model file).
fn uses_model(spec: &RunSpec) -> bool {
    spec.predictor.as_deref().is_some_and(super::simulate::is_model_predictor)
}

/// Runs the specs one after another when some use a `foresight-models`
/// predictor (built from the trace's table).
fn compare_with_models(
    workload: &Workload,
    cluster: &foresight_core::Cluster,
    specs: &[RunSpec],
    table: &foresight_datasets::JobTable,
) -> anyhow::Result<Comparison> {
    let reports = specs
        .iter()
        .map(|s| super::simulate::run_report(workload, cluster, s, table))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Comparison { reports })
}

/// Runs `compare`.
pub fn run_compare(args: CompareArgs) -> anyhow::Result<()> {
    let specs = run_specs(&args.policies, &args.what_if)?;
    let table = args.trace.load()?.table;
    let cluster = args.what_if.cluster(&table)?;
    let workload = Workload::from_jobs(&table.jobs, &cluster, args.what_if.workload_options(&table.meta));
    super::simulate::check_replayable(&workload, table.jobs.len(), &cluster)?;
    let cmp = match &args.report {
        Some(html) => super::report::compare_and_write(&workload, &cluster, &specs, &args.trace.trace, html)?,
        None if specs.iter().any(uses_model) => compare_with_models(&workload, &cluster, &specs, &table)?,
        None => compare(&workload, &cluster, &specs)?,
    };
    let rows = cmp.reports.iter().map(|r| (Vec::new(), r)).collect();
    print!("{}", summary_table(&[], rows));
    if let Some(path) = &args.json {
        write_json(&cmp, path)?;
    }
    if let Some(path) = &args.parquet {
        let mut df = summaries_frame(&cmp.reports)?;
        let mut file = std::fs::File::create(path)?;
        write_frame(&mut df, &mut file)?;
    }
    Ok(())
}

/// A fixed-width table: the extra leading columns, then policy, predictor
/// and the summary metrics.
pub fn summary_table(extra: &[&str], rows: Vec<(Vec<String>, &Report)>) -> String {
    let mut header: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    header.extend(
        ["policy", "predictor", "mean wait s", "median s", "p95 s", "p99 s", "avg bsld", "max bsld", "util %", "killed"]
            .map(String::from),
    );
    let mut cells: Vec<Vec<String>> = vec![header];
    for (mut lead, r) in rows {
        let s = &r.summary;
        lead.extend([
            r.policy.clone(),
            r.predictor.clone(),
            format!("{:.0}", s.mean_wait_s),
            format!("{:.0}", s.median_wait_s),
            format!("{:.0}", s.p95_wait_s),
            format!("{:.0}", s.p99_wait_s),
            format!("{:.2}", s.avg_bsld),
            format!("{:.1}", s.max_bsld),
            format!("{:.1}", 100.0 * s.cpu_utilisation.max(s.gpu_utilisation)),
            s.killed.to_string(),
        ]);
        cells.push(lead);
    }
    let widths: Vec<usize> = (0..cells[0].len()).map(|c| cells.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, v)| if i < extra.len() + 2 { format!("{v:<w$}", w = widths[i]) } else { format!("{v:>w$}", w = widths[i]) })
            .collect();
        out += line.join("  ").trim_end();
        out.push('\n');
    }
    out
}
