//! `foresight plan`: how large the cluster must be over the next horizon
//! for its jobs to meet a wait target. The demand forecaster
//! (`foresight_models::outlook`) makes the horizon's outlook with its band;
//! `foresight_simulator::plan` synthesizes workloads for it from the recent
//! past's job classes and replays them on each candidate size; the report
//! shows the band, the size-against-target curve and the recommendation.
//! `--backtest` scores such plans week by week against what each week's
//! real jobs needed, beside two naive planners.

use super::BadInput;
use super::compare::run_spec;
use super::simulate::WhatIf;
use super::trace_args::TraceArgs;
use clap::Args;
use foresight_core::Job;
use foresight_models::demand::{Quantity, Series, hourly};
use foresight_models::features::calendar_offset;
use foresight_models::outlook::{Ahead, horizon};
use foresight_simulator::Shard;
use foresight_simulator::plan::backtest::{BacktestOptions, Period, assemble, backtest_part, period_count};
use foresight_simulator::plan::{
    Outlook, PlanOptions, Target, TenantKey, TenantOutlook, TenantSplit, Tenants, parse_duration, plan, size_of,
};
use std::path::PathBuf;

/// Recommend a cluster size for the next horizon's demand.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// How far ahead to plan (`7d`, `48h`, ...); also the backtest's period.
    #[arg(long, default_value = "7d", value_parser = horizon_arg)]
    horizon: f64,
    /// The target: `p95-wait=1h`, `p99-wait=4h`, `mean-wait=30m` or
    /// `avg-bsld=5`.
    #[arg(long, default_value = "p95-wait=1h")]
    target: Target,
    /// The site's policy (`policy[:predictor]`; foresight's model
    /// predictors, `online` and model files, are not planned with).
    #[arg(long, default_value = "easy")]
    policy: String,
    /// Candidate sizes, in nodes (CPUs for a one-node machine):
    /// `64,80,96` or `50..150:10`; every size when not given (bisection).
    #[arg(long, value_parser = sizes_arg)]
    sizes: Option<Sizes>,
    /// Synthetic workloads per demand level (seeds `--seed`, `--seed`+1, ...).
    #[arg(long, default_value_t = 4)]
    seeds: u64,
    /// Job classes k-means looks for.
    #[arg(long, default_value_t = 8)]
    classes: usize,
    /// How far back the recent past reaches (classes are found there).
    #[arg(long, default_value = "28d", value_parser = horizon_arg)]
    window: f64,
    /// Quantile level of the band's upper edge (planned for).
    #[arg(long, default_value_t = 0.9)]
    level: f64,
    /// Also forecast the demand tenant by tenant: `queue` (a Slurm
    /// partition), `group` (an account) or `user`. Each of the `--tenants`
    /// largest (by requested work in `--window`), and the rest together, is
    /// forecast on its own series (shown with its own band); its forecast
    /// sets its share of the whole cluster's work, and its synthetic jobs are
    /// drawn from its own recent jobs. The totals and the band planned for
    /// stay the whole cluster's. Not the default: it planned worse on
    /// KTH-SP2's first quarter (docs/plan.md).
    #[arg(long, value_name = "KEY")]
    by: Option<TenantKey>,
    /// With `--by`: how many tenants are forecast by name.
    #[arg(long, default_value_t = 6)]
    tenants: usize,
    /// Earlier horizons the band and the synthesis's bias are measured on.
    #[arg(long, default_value_t = 8)]
    calibration: usize,
    /// The quantile of the earlier horizons' real over synthetic needs
    /// the synthetic size is multiplied by (0.5: the median bias; the
    /// default was chosen on KTH-SP2's first quarter, docs/plan.md).
    #[arg(long, default_value_t = 0.75)]
    correction: f64,
    #[command(flatten)]
    what_if: WhatIf,
    /// Where the report goes (`plan.html`, `.md`, `.json`; `backtest.*`).
    #[arg(long, value_name = "DIR", default_value = "foresight-plan")]
    out: PathBuf,
    /// Backtest instead: for each period, plan from the periods before it
    /// only and compare with what its real jobs needed.
    #[arg(long)]
    backtest: bool,
    /// With `--backtest`: score only the first this fraction of periods
    /// (the development part settings are chosen on).
    #[arg(long, value_name = "FRACTION")]
    dev_fraction: Option<f64>,
    /// With `--backtest`: periods of history before the first planned one.
    #[arg(long, default_value_t = 3)]
    min_history: usize,
    /// With `--backtest`: run its periods as a Slurm job array of this many
    /// tasks (through `sbatch`, on the cluster it submits to), wait for it
    /// and merge the parts: the same report as a backtest run here, bit for
    /// bit. The tasks must see the trace and `--slurm-dir` at the same paths.
    #[arg(long, value_name = "TASKS", conflicts_with = "shard", requires = "backtest")]
    slurm_array: Option<u32>,
    /// Where the array's tasks write their parts and logs (default: `parts`
    /// under `--out`).
    #[arg(long, value_name = "DIR")]
    slurm_dir: Option<PathBuf>,
    /// More `sbatch` options for the array, split at spaces (e.g.
    /// `--sbatch-args="--partition=batch --time=30"`).
    #[arg(long, value_name = "OPTIONS", allow_hyphen_values = true)]
    sbatch_args: Option<String>,
    /// With `--backtest`: compute only this part of its periods (`INDEX/OF`:
    /// the periods whose index modulo OF is INDEX) and write them to `--json`:
    /// what each task of `--slurm-array` runs.
    #[arg(long, value_name = "INDEX/OF", requires = "backtest")]
    shard: Option<Shard>,
    /// With `--shard`: where the part goes.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Candidate sizes.
#[derive(Debug, Clone)]
pub struct Sizes(Vec<u32>);

fn horizon_arg(s: &str) -> Result<f64, String> {
    parse_duration(s).ok_or_else(|| format!("`{s}`: expected a positive duration (90s, 30m, 12h, 7d, 2w)"))
}

fn sizes_arg(s: &str) -> Result<Sizes, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let bad = || format!("`{part}`: expected a size (64) or a range (50..150 or 50..150:10) of positive integers");
        let num = |t: &str| t.trim().parse::<u32>().ok().filter(|v| *v > 0).ok_or_else(bad);
        match part.split_once("..") {
            Some((a, rest)) => {
                let (b, step) = match rest.split_once(':') {
                    Some((b, st)) => (b, num(st)?),
                    None => (rest, 1),
                };
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("`{part}`: the range's start is past its end"));
                }
                out.extend((a..=b).step_by(step as usize));
            }
            None => out.push(num(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(Sizes(out))
}

/// The hourly series of `q` over the jobs of `history` that `keep` keeps,
/// from the first hour of `history` to `end_hour` (exclusive, local
/// calendar hours).
fn series_until(history: &[Job], q: Quantity, offset: f64, end_hour: i64, keep: impl Fn(&Job) -> bool) -> Series {
    let mut s = hourly(history, q, offset, keep);
    s.values.resize((end_hour - s.first_hour).max(0) as usize, 0.0);
    s
}

/// How the forecaster is asked: the band's level, the earlier horizons it
/// is measured on, and the split by tenant.
#[derive(Debug, Clone, Copy)]
struct Ask {
    offset: f64,
    level: f64,
    calibration: usize,
    by: Option<TenantKey>,
    tenants: usize,
    window_s: f64,
}

/// The outlook of the `hours` from `start_s` from the jobs before it: the
/// whole cluster's forecast and band, and (`--by`) each tenant's forecast
/// on its own series, which sets the tenant's share of the work and its
/// hours.
fn outlook(history: &[Job], start_s: f64, hours: usize, ask: Ask) -> Result<Outlook, String> {
    if history.is_empty() {
        return Err("no job before the horizon: nothing to forecast from".into());
    }
    let Ask { offset, level, calibration, .. } = ask;
    let end_hour = ((start_s + offset) / 3600.0).floor() as i64;
    let recent_of = |s: &Series| s.values[s.values.len().saturating_sub(hours)..].to_vec();
    let forecast = |keep: &dyn Fn(&Job) -> bool| {
        let work = series_until(history, Quantity::CpuHours, offset, end_hour, keep);
        let jobs = series_until(history, Quantity::Jobs, offset, end_hour, keep);
        let n = jobs.values.len();
        (horizon(&work, hours, level, calibration), Ahead::train(&jobs, n).forecast(&jobs, n, hours), recent_of(&work))
    };
    let (f, jobs, recent_work) = forecast(&|_| true);
    let tenants = ask.by.and_then(|key| {
        let recent = foresight_simulator::plan::recent_past(history, start_s, ask.window_s);
        Tenants::largest(recent, key, ask.tenants)
    });
    let (split, note) = match (ask.by, tenants) {
        (None, _) => (None, String::new()),
        (Some(key), None) => (None, format!("; not split by {key}: the recent past's jobs fall in fewer than two")),
        (Some(key), Some(tenants)) => {
            let outlooks = (0..tenants.names.len())
                .map(|t| {
                    let (f, jobs, recent) = forecast(&|j| tenants.index(j) == t);
                    TenantOutlook {
                        name: tenants.names[t].clone(),
                        jobs,
                        work: f.hours,
                        lower_factor: f.lower_factor,
                        upper_factor: f.upper_factor,
                        recent_work: recent.iter().sum(),
                    }
                })
                .collect();
            let note = format!(
                "; split by {key}: each of {} tenants forecast on its own series, which sets its share of the work and its hours",
                tenants.names.len()
            );
            (Some(TenantSplit { tenants, outlooks }), note)
        }
    };
    Ok(Outlook {
        start_s,
        jobs,
        work: f.hours,
        level,
        lower_factor: f.lower_factor,
        upper_factor: f.upper_factor,
        recent_work,
        method: f.method + &note,
        calendar_offset_s: offset,
        split,
    })
}

/// Runs `plan`.
pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    if !(args.level > 0.5 && args.level < 1.0) {
        return Err(BadInput(format!("--level {}: expected a quantile level between 0.5 and 1", args.level)).into());
    }
    if !(0.0..=1.0).contains(&args.correction) {
        return Err(
            BadInput(format!("--correction {}: expected a quantile level between 0 and 1", args.correction)).into()
        );
    }
    if args.seeds == 0 || args.classes == 0 {
        return Err(BadInput("--seeds and --classes must be at least 1".into()).into());
    }
    let spec = run_spec(&args.policy, &args.what_if)?;
    if spec.predictor.as_deref().is_some_and(super::simulate::is_model_predictor) {
        return Err(BadInput(format!(
            "--policy {}: plan replays with core predictors only (requested, easy++, clairvoyant)",
            args.policy
        ))
        .into());
    }
    let table = args.trace.load()?.table;
    let base = args.what_if.cluster(&table)?;
    let mut jobs = table.jobs.clone();
    jobs.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
    let Some(last) = jobs.last().map(|j| j.submit_s) else {
        return Err(BadInput(format!("{}: no job to plan from", args.trace.trace.display())).into());
    };
    let offset = calendar_offset(&table.meta);
    let hours = (args.horizon / 3600.0).round().max(1.0) as usize;
    let base_seed = args.what_if.sim_options()?.seed;
    let options = PlanOptions {
        target: args.target,
        run: spec,
        seeds: (0..args.seeds).map(|i| base_seed + i).collect(),
        classes: args.classes,
        window_s: args.window,
        sizes: args.sizes.map(|s| s.0).unwrap_or_default(),
        workload: args.what_if.workload_options(&table.meta),
        calibration_periods: args.calibration,
        correction_level: args.correction,
    };
    std::fs::create_dir_all(&args.out)?;
    let ask = Ask {
        offset,
        level: args.level,
        calibration: args.calibration,
        by: args.by,
        tenants: args.tenants,
        window_s: args.window,
    };
    let level = args.level;
    let forecaster = move |h: &[Job], start: f64, hours: usize| outlook(h, start, hours, ask);
    if args.backtest {
        let period_s = hours as f64 * 3600.0;
        let periods = ((last - jobs[0].submit_s) / period_s).floor() as usize;
        let only_first = args.dev_fraction.map(|f| ((periods as f64 * f.clamp(0.0, 1.0)).round() as usize).max(1));
        let o = BacktestOptions { period_s, plan: options, min_history: args.min_history, level, only_first };
        let count = period_count(&jobs, &o);
        if let Some(shard) = args.shard {
            let path = super::slurm_array::shard_output(args.json.as_ref())?;
            let part = backtest_part(&jobs, &base, &o, &forecaster, shard, &|| {})?;
            return super::slurm_array::write_part(&part, shard, &format!("the backtest's {count} periods"), path);
        }
        let periods = match args.slurm_array {
            Some(tasks) => {
                let dir = args.slurm_dir.clone().unwrap_or_else(|| args.out.join("parts"));
                let array = super::slurm_array::Array {
                    tasks,
                    dir: &dir,
                    sbatch_args: args.sbatch_args.as_deref(),
                    job_name: "foresight-plan",
                    what: format!("a backtest of {count} periods"),
                };
                super::slurm_array::run(&array, count, |p: &Period| p.index)?
            }
            None => {
                let bar = super::progress::bar(2 * count as u64);
                bar.set_message("periods replayed and planned");
                let part = backtest_part(&jobs, &base, &o, &forecaster, Shard::ALL, &|| bar.inc(1));
                bar.finish_and_clear();
                part?
            }
        };
        let b = assemble(&base, &o, periods);
        let title = format!(
            "foresight plan backtest: {}",
            args.trace.trace.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        );
        let w = foresight_reports::write_backtest(&title, &b, &args.out.join("backtest.html"))?;
        print!(
            "{}",
            foresight_reports::markdown::render(&foresight_reports::plan::backtest_doc(&title, &b))
                .split("\n| period")
                .next()
                .unwrap_or("")
        );
        println!("\nreport: {} (Markdown and JSON beside it)", w.html.display());
        return Ok(());
    }
    let start_s = (((last + offset) / 3600.0).floor() + 1.0) * 3600.0 - offset;
    let spinner = super::progress::spinner("forecasting".into());
    let o = forecaster(&jobs, start_s, hours).map_err(BadInput)?;
    let p = plan(&jobs, &base, &o, &options, &|m| spinner.set_message(m.to_string()))?;
    spinner.finish_and_clear();
    println!("{}", foresight_reports::plan::headline(&p));
    let (unit, _) = size_of(&base);
    println!("\n{:>10}  {:>16}  {:>16}", format!("size ({unit})"), "point forecast", "upper quantile");
    for c in &p.curve {
        let mark = match c.size {
            s if s == p.recommended && s == p.synthetic => "  <- recommended",
            s if s == p.recommended => "  <- recommended (synthetic size x correction)",
            s if s == p.synthetic => "  <- smallest meeting the target on synthetic workloads",
            _ => "",
        };
        println!(
            "{:>10}  {:>16}  {:>16}{mark}",
            c.size,
            p.target.metric.show(c.at_point),
            p.target.metric.show(c.at_upper)
        );
    }
    let w = foresight_reports::write_plan(&p, &args.out.join("plan.html"))?;
    println!("\nreport: {} (Markdown and JSON beside it)", w.html.display());
    Ok(())
}
