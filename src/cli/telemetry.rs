//! `foresight telemetry`: per-job and per-user aggregates (mean and peak
//! of every metric) of a telemetry table in Parquet, computed by lazy
//! Polars queries on the streaming engine, so that a table larger than the
//! process's memory aggregates.

use super::BadInput;
use anyhow::Context;
use clap::Args;
use foresight_datasets::telemetry_parquet::{Engine, per_job, per_user};
use foresight_datasets::telemetry;
use polars::prelude::{DataFrame, ParquetWriter};
use std::path::{Path, PathBuf};

/// Aggregate NVML telemetry per job and per user: mean and peak GPU
/// utilisation, memory, power, ...
#[derive(Debug, Args)]
pub struct TelemetryArgs {
    /// The telemetry table in Parquet (`foresight ingest samples.csv -o
    /// telemetry.parquet` writes it, streaming a log of any size).
    telemetry: PathBuf,
    /// The job table in Parquet (`foresight ingest TRACE -o jobs.parquet`),
    /// for the per-user aggregates.
    #[arg(long, value_name = "FILE")]
    jobs: Option<PathBuf>,
    /// Write the per-job aggregates (`job_id, metric, mean, peak,
    /// samples`) as Parquet.
    #[arg(long, value_name = "FILE")]
    per_job: Option<PathBuf>,
    /// Write the per-user aggregates (`user, metric, mean, peak, samples,
    /// jobs`) as Parquet; needs `--jobs`.
    #[arg(long, value_name = "FILE", requires = "jobs")]
    per_user: Option<PathBuf>,
    /// Run the queries on Polars' in-memory engine instead of the
    /// streaming one (faster on small tables; the whole table in memory).
    #[arg(long)]
    in_memory: bool,
}

fn is_parquet_of(path: &Path, telemetry_table: bool) -> anyhow::Result<()> {
    let is = telemetry::parquet::is_telemetry(path).with_context(|| format!("failed to read {}", path.display()))?;
    match (is, telemetry_table) {
        (true, true) | (false, false) => Ok(()),
        (false, true) => Err(BadInput(format!(
            "{} is not a telemetry table: write one with `foresight ingest SAMPLES.csv -o {}`",
            path.display(),
            path.with_extension("parquet").display()
        ))
        .into()),
        (true, false) => Err(BadInput(format!("{} holds telemetry, not jobs (--jobs wants a job table)", path.display())).into()),
    }
}

fn write(df: &mut DataFrame, path: &Path) -> anyhow::Result<()> {
    let mut file = std::fs::File::create(path).with_context(|| format!("failed to create {}", path.display()))?;
    ParquetWriter::new(&mut file).finish(df).with_context(|| format!("failed to write {}", path.display()))?;
    Ok(())
}

/// Runs `telemetry`.
pub fn run(args: TelemetryArgs) -> anyhow::Result<()> {
    is_parquet_of(&args.telemetry, true)?;
    let engine = if args.in_memory { Engine::InMemory } else { Engine::Streaming };
    let spinner = super::progress::spinner(format!("aggregating {}", args.telemetry.display()));
    let jobs = per_job(&args.telemetry, engine);
    spinner.finish_and_clear();
    let mut jobs = jobs.context("failed to aggregate per job")?;
    let n_jobs = jobs.column("job_id").map(|c| c.n_unique().unwrap_or(0)).unwrap_or(0);
    println!("{n_jobs} jobs with telemetry, {} job-metric aggregates", jobs.height());
    if let Some(path) = &args.per_job {
        write(&mut jobs, path)?;
        println!("per job: {}", path.display());
    }
    if let Some(jobs_path) = &args.jobs {
        is_parquet_of(jobs_path, false)?;
        let mut users = per_user(&args.telemetry, jobs_path, engine).context("failed to aggregate per user")?;
        println!("{users}");
        if let Some(path) = &args.per_user {
            write(&mut users, path)?;
            println!("per user: {}", path.display());
        }
    }
    Ok(())
}
