//! `foresight ingest`: a trace into the canonical job table in Parquet (or
//! NVML telemetry into the telemetry table).

use super::trace_args::{TraceArgs, report_skipped};
use anyhow::Context;
use clap::Args;
use foresight_datasets::{Format, detect, parquet, read_telemetry, telemetry};
use std::path::PathBuf;
use std::time::Instant;

/// Read a trace and write it as a Parquet job table.
#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// Where to write the Parquet file.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

/// Runs `ingest`.
pub fn run(args: IngestArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let path = &args.trace.trace;
    let format = match args.trace.format {
        Some(f) => f,
        None => detect::detect(path).context("failed to read trace")?,
    };
    let is_telemetry = match format {
        Format::Telemetry => true,
        Format::Parquet => telemetry::parquet::is_telemetry(path)?,
        _ => false,
    };
    if is_telemetry {
        let (table, skipped) = read_telemetry(path, &args.trace.options())
            .context("failed to read telemetry")?;
        report_skipped(path, &skipped);
        telemetry::parquet::write(&table, &args.output)?;
        println!(
            "wrote {} telemetry samples ({} metrics) to {} in {:.2} s",
            table.samples.len(),
            table.metrics.len(),
            args.output.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let read = args.trace.load()?;
    parquet::write(&read.table, &args.output)?;
    println!(
        "wrote {} jobs ({} format, {} skipped lines) to {} in {:.2} s",
        read.table.jobs.len(),
        read.table.meta.format,
        read.skipped.total,
        args.output.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
