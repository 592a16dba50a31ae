//! `foresight evaluate`: score a model file on the jobs after its training
//! window (kept in Unix time, so the trace may be another one of the same
//! cluster, e.g. the next month), or, without one, train every runtime model on the first 70% of
//! a trace by time and score them on the rest, with the demand forecaster
//! against seasonal-naive.

use super::trace_args::TraceArgs;
use clap::Args;
use foresight_models::demand::{Quantity, evaluate as evaluate_demand, hourly};
use foresight_datasets::timefmt::format_utc;
use foresight_models::evaluate::{place_window, train_and_evaluate};
use foresight_models::features::calendar_offset;
use foresight_models::{ModelFile, ModelKind, SplitOptions, evaluate};
use std::path::PathBuf;

/// Evaluate runtime, failure and demand models on a trace, split by time.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// A model file from `foresight train` (scored on the jobs submitted
    /// after its training window).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Without a model file: the share of jobs, by submission time, to
    /// train on.
    #[arg(long, default_value_t = 0.7)]
    train_fraction: f64,
    /// NVML telemetry of the trace's jobs.
    #[arg(long, value_name = "FILE")]
    telemetry: Option<PathBuf>,
    /// Also write the evaluations as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write an HTML model report with charts (Markdown and JSON beside it).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// Runs `evaluate`.
pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let table = args.trace.load()?.table;
    let telemetry = super::train::load_telemetry(args.telemetry.as_deref())?;
    let mut all = Vec::new();
    if let Some(path) = &args.model {
        let file = ModelFile::load(path)?;
        let placed = place_window(&table, &file)?;
        let window = &file.training;
        let ends = window.end_unix_s.map_or(String::new(), |u| format!(", which ends {} UTC", format_utc(u)));
        if placed.after == 0 && placed.inside > 0 {
            // every finished job lies inside the model's training window
            anyhow::bail!(super::BadInput(format!(
                "every finished job of {} ({}) was submitted inside the model's training window on {}{ends}: none is left to score",
                args.trace.trace.display(),
                placed.inside,
                window.trace
            )));
        }
        if placed.inside > 0 && window.trace != table.meta.source {
            eprintln!(
                "warning: {} overlaps the model's training window on {}{ends}: {} of its finished jobs were submitted inside it \
                 and are not scored; the {} submitted after it are",
                args.trace.trace.display(),
                window.trace,
                placed.inside,
                placed.after
            );
        }
        let e = evaluate(&table, &file, &telemetry)?;
        print!("{e}");
        all.push(e);
    } else {
        let opts = SplitOptions { train_fraction: args.train_fraction };
        for kind in [ModelKind::Auto, ModelKind::GbtMedian, ModelKind::Gbt, ModelKind::Linear] {
            let (_, e) = train_and_evaluate(&table, kind, &telemetry, opts)?;
            println!("== {kind}");
            print!("{e}");
            all.push(e);
        }
        let offset = calendar_offset(&table.meta);
        for q in Quantity::ALL {
            let series = hourly(&table.jobs, q, offset, |_| true);
            if series.values.iter().all(|v| *v == 0.0) {
                continue;
            }
            if let Some(m) = evaluate_demand(&series, args.train_fraction) {
                println!(
                    "demand {q:?} per hour, a day ahead: MAE {:.3} vs seasonal-naive {:.3} (a week before), {:.3} (a day before); {} test hours",
                    m.mae, m.mae_seasonal_naive_week, m.mae_seasonal_naive_day, m.test_hours
                );
            }
        }
    }
    if let Some(path) = &args.report {
        let title = format!("Runtime models: {}", args.trace.trace.display());
        let w = foresight_reports::write_model(&title, &all, path)?;
        println!("report: {} (Markdown {}, numbers {})", w.html.display(), w.markdown.display(), w.json.display());
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&all)?)?;
    }
    Ok(())
}
