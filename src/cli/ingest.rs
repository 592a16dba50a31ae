//! `foresight ingest`: a trace into the canonical job table in Parquet (or
//! NVML telemetry into the telemetry table).

use super::trace_args::{TraceArgs, report_skipped};
use anyhow::Context;
use clap::Args;
use foresight_datasets::{Format, detect, parquet, read_telemetry, source, telemetry, telemetry_parquet};
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
        let (samples, metrics) = if format == Format::Telemetry {
            // streamed in batches: a sample log of any size
            let spinner = super::progress::spinner(format!("streaming {} into {}", path.display(), args.output.display()));
            let input = source::open(path).context("failed to read telemetry")?;
            let done = telemetry_parquet::convert(input, path, args.trace.strict, &args.output, telemetry_parquet::BATCH_SAMPLES);
            spinner.finish_and_clear();
            let done = done.context("failed to read telemetry")?;
            report_skipped(path, &done.skipped);
            (done.samples, done.metrics.len())
        } else {
            let (table, skipped) = read_telemetry(path, &args.trace.options()).context("failed to read telemetry")?;
            report_skipped(path, &skipped);
            telemetry::parquet::write(&table, &args.output)?;
            (table.samples.len() as u64, table.metrics.len())
        };
        println!(
            "wrote {samples} telemetry samples ({metrics} metrics) to {} in {:.2} s",
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
