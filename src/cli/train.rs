//! `foresight train`: fit a runtime model and a failure/time-out
//! classifier on a trace (or its first part, by time) and write a model
//! file.

use super::trace_args::TraceArgs;
use anyhow::Context;
use clap::Args;
use foresight_datasets::{ReadOptions, read_telemetry};
use foresight_models::history::{JobTelemetry, job_telemetry};
use foresight_models::{ModelKind, SplitOptions, evaluate, train};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// Fit runtime and failure models on a trace and write a model file.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// The model file to write (JSON).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// The runtime model: auto, gbt, gbt-median, gbt-under, linear,
    /// linear-by-name, linear+gbt, easy++, requested.
    #[arg(long, default_value = "auto")]
    model: String,
    /// Train on this share of the jobs, by submission time; the rest is
    /// held out, evaluated, and the metrics stored in the file.
    #[arg(long, default_value_t = 1.0)]
    train_fraction: f64,
    /// NVML telemetry of the trace's jobs (per-user GPU features).
    #[arg(long, value_name = "FILE")]
    telemetry: Option<PathBuf>,
}

/// Reads a telemetry file into per-job means, or none.
pub fn load_telemetry(path: Option<&Path>) -> anyhow::Result<JobTelemetry> {
    let Some(path) = path else { return Ok(JobTelemetry::new()) };
    let (table, skipped) = read_telemetry(path, &ReadOptions::default()).context("failed to read telemetry")?;
    super::trace_args::report_skipped(path, &skipped);
    Ok(job_telemetry(&table))
}

/// Runs `train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let kind: ModelKind = args.model.parse()?;
    let bar = ProgressBar::new(4);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message("reading the trace");
    let table = args.trace.load()?.table;
    let telemetry = load_telemetry(args.telemetry.as_deref())?;
    bar.inc(1);
    bar.set_message(format!("training {kind} and the failure classifier on {} jobs", table.jobs.len()));
    let started = std::time::Instant::now();
    let no_start = table.jobs.iter().filter(|j| j.runtime_s.is_some() && j.start_s.is_none()).count();
    let mut file = train(&table, kind, &telemetry, SplitOptions { train_fraction: args.train_fraction }).with_context(|| {
        if no_start == 0 {
            return String::from("failed to train");
        }
        format!(
            "failed to train: {no_start} of {} jobs have a run time but no start time, so when they ended (and whether before the split) is unknown",
            table.jobs.len()
        )
    })?;
    let train_s = started.elapsed().as_secs_f64();
    bar.inc(1);
    bar.set_message("evaluating on the held-out jobs");
    if args.train_fraction < 1.0 {
        file.metrics = Some(evaluate(&table, &file, &telemetry)?);
    }
    bar.inc(1);
    bar.set_message("writing the model file");
    file.save(&args.output)?;
    bar.finish_and_clear();
    println!(
        "trained {} on {} finished jobs of {} in {train_s:.1} s -> {}",
        file.kind,
        file.training.jobs,
        args.trace.trace.display(),
        args.output.display()
    );
    if let Some(m) = &file.metrics {
        print!("{m}");
    }
    Ok(())
}
