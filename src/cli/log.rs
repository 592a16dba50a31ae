//! `foresight log`: read a decision log, filter it, print it as text or
//! JSON lines, and say where a torn or damaged tail is; with `--summary`,
//! the shadow summary, and with `--report`, the shadow report (HTML with
//! charts, Markdown and JSON) from it.

use anyhow::Context;
use clap::Args;
use foresight_controller::log::frame::Tail;
use foresight_controller::log::summary::ShadowSummary;
use foresight_controller::log::{self, Filter};
use foresight_reports::shadow::{CdfPoint, ErrorBucket, ShadowEvidence};
use std::path::{Path, PathBuf};

/// Points of the counterfactual CDF kept for the chart, at most.
const CDF_POINTS: usize = 400;
/// Quantiles of the counterfactual deltas tabulated beside it.
const QUANTILES: [f64; 7] = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0];

/// Read and filter a decision log written by `foresight shadow`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// The log file (its rotated segments FILE.1, FILE.2, ... are read too).
    file: PathBuf,
    /// Only these kinds: start, cycle, finished, breaker, outage, model, stop.
    #[arg(long, value_delimiter = ',')]
    kind: Vec<String>,
    /// Only records about this job.
    #[arg(long)]
    job: Option<String>,
    /// Only records from this sequence number on.
    #[arg(long)]
    from_seq: Option<u64>,
    /// Only records written at or after this Unix time.
    #[arg(long)]
    since: Option<f64>,
    /// Only records written before this Unix time.
    #[arg(long)]
    until: Option<f64>,
    /// Print JSON lines instead of text.
    #[arg(long)]
    json: bool,
    /// Print the shadow summary (prediction error over time, agreement with
    /// the baseline, counterfactual starts) instead of the records.
    #[arg(long)]
    summary: bool,
    /// Write the shadow report to this HTML file (Markdown and JSON beside
    /// it); implies `--summary`.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Width of the summary's error-over-time buckets, seconds.
    #[arg(long, default_value_t = 60.0)]
    bucket_s: f64,
    /// Fail (exit 1) when a file is damaged (not merely torn by a crash).
    #[arg(long)]
    strict: bool,
}

/// Runs `log`.
pub fn run(args: LogArgs) -> anyhow::Result<()> {
    let filter = Filter {
        kinds: args.kind,
        job: args.job,
        from_seq: args.from_seq,
        since_unix_s: args.since,
        until_unix_s: args.until,
    };
    let scans = log::read_log(&args.file)?;
    if scans.is_empty() {
        anyhow::bail!("no decision log at {}", args.file.display());
    }
    let mut damaged = false;
    let summarise = args.summary || args.report.is_some();
    if summarise {
        let kept = scans.iter().flat_map(|s| &s.records).filter(|r| filter.matches(r));
        let summary = log::summary::summarise(kept, args.bucket_s);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            print!("{}", summary.markdown());
        }
        if let Some(html) = &args.report {
            let evidence = shadow_evidence(&summary, &args.file, args.bucket_s);
            if let Some(dir) = html.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
            }
            let w = foresight_reports::write_shadow(&evidence, html).context("failed to write the shadow report")?;
            eprintln!("report: {} (Markdown {}, numbers {})", w.html.display(), w.markdown.display(), w.json.display());
        }
    }
    for scan in &scans {
        for r in scan.records.iter().filter(|r| !summarise && filter.matches(r)) {
            if args.json {
                println!("{}", serde_json::to_string(r)?);
            } else {
                println!("{}", log::show::line(r));
            }
        }
        match scan.tail {
            Tail::Clean => {}
            Tail::Torn { offset } => eprintln!(
                "note: {}: torn tail at byte {offset} of {} (an interrupted write; earlier records are complete)",
                scan.path.display(),
                scan.len
            ),
            Tail::Corrupt { offset } => {
                damaged = true;
                eprintln!("warning: {}: damaged record at byte {offset}; nothing after it is read", scan.path.display());
            }
            Tail::BadMagic => {
                damaged = true;
                eprintln!("warning: {}: not a decision log", scan.path.display());
            }
        }
    }
    if damaged && args.strict {
        anyhow::bail!("the decision log is damaged");
    }
    Ok(())
}

/// The shadow report's input from the controller's summary of `log`: the
/// same numbers, with the counterfactual deltas' distribution and
/// quantiles.
pub fn shadow_evidence(s: &ShadowSummary, log: &Path, bucket_s: f64) -> ShadowEvidence {
    let mut deltas: Vec<f64> = s.counterfactual_s.iter().map(|c| c.1).filter(|d| d.is_finite()).collect();
    deltas.sort_by(f64::total_cmp);
    let n = deltas.len();
    let at = |q: f64| deltas[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    let counterfactual_cdf = if n <= CDF_POINTS {
        let step = |i: usize, d: f64| [CdfPoint { value_s: d, fraction: i as f64 / n as f64 }, CdfPoint { value_s: d, fraction: (i + 1) as f64 / n as f64 }];
        deltas.iter().enumerate().flat_map(|(i, &d)| step(i, d)).collect()
    } else {
        (0..=CDF_POINTS).map(|k| k as f64 / CDF_POINTS as f64).map(|q| CdfPoint { value_s: at(q), fraction: q }).collect()
    };
    let counterfactual_quantiles = if n == 0 { Vec::new() } else { QUANTILES.iter().map(|&q| CdfPoint { value_s: at(q), fraction: q }).collect() };
    ShadowEvidence {
        title: format!("Shadow mode: {}", log.display()),
        log: log.display().to_string(),
        cycles: s.cycles,
        candidate_cycles: s.candidate_cycles,
        fallback_cycles: s.fallback_cycles,
        agreeing_cycles: s.agreeing_cycles,
        agreement: s.agreement,
        finished_jobs: s.finished_jobs,
        predicted_jobs: s.predicted_jobs,
        mean_abs_error_s: s.mean_abs_error_s,
        bucket_s,
        error_over_time: s
            .error_over_time
            .iter()
            .map(|b| ErrorBucket { from_unix_s: b.from_unix_s, jobs: b.jobs, mean_abs_error_s: b.mean_abs_error_s, mean_error_s: b.mean_error_s })
            .collect(),
        counterfactual_s: s.counterfactual_s.clone(),
        counterfactual_cdf,
        counterfactual_quantiles,
        mean_counterfactual_s: s.mean_counterfactual_s,
        breaker_openings: s.breaker_openings,
        outages: s.outages,
        interval_jobs: s.interval_jobs,
        interval_coverage: s.interval_coverage,
        acting: s.acting.as_ref().map(|a| foresight_reports::shadow::ActingEvidence {
            actions_taken: a.actions_taken,
            actions_failed: a.actions_failed,
            actions_unresolved: a.actions_unresolved,
            mode_switches: a.mode_switches,
            refused: a.refused,
            proposals: a.proposals,
            approvals: a.approvals,
            overrides: a.overrides,
            approved_mean_wait_s: a.approved_mean_wait_s,
            overridden_mean_wait_s: a.overridden_mean_wait_s,
            decided_jobs: a.decided_jobs,
            decision_delay_p50_s: a.decision_delay_p50_s,
            decision_delay_p99_s: a.decision_delay_p99_s,
        }),
    }
}
