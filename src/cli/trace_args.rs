//! The arguments every command that reads a trace shares, and the one
//! function that loads a trace and tells the user what was skipped.

use anyhow::Context;
use clap::Args;
use foresight_datasets::{Format, Ingested, ReadOptions, SiteZone, SkipReport, read_trace};
use std::path::{Path, PathBuf};

/// A trace to read: a job log in any supported format, or a Parquet job table.
#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// The trace: SWF (plain or .gz), sacct --parsable2 output, a GPU job
    /// CSV, an openb pod CSV, or a Parquet file written by `ingest`.
    pub trace: PathBuf,
    /// The trace's format, when detection from the content is not wanted:
    /// swf, sacct, gpujobs, openb, parquet.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Stop at the first malformed line with an error, instead of skipping
    /// bad lines and counting them.
    #[arg(long)]
    pub strict: bool,
    /// The site's time zone (an IANA name: Europe/Stockholm, America/Chicago,
    /// UTC) for a sacct dump, which prints local times without one; read as
    /// UTC when not given, so that a model's hour-of-day features are off by
    /// the site's offset when it is served live.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<SiteZone>,
}

impl TraceArgs {
    /// The read options these arguments ask for.
    pub fn options(&self) -> ReadOptions {
        ReadOptions { format: self.format, strict: self.strict, tz: self.tz }
    }

    /// Reads the trace, with a spinner on a terminal, and reports skipped
    /// lines on standard error.
    pub fn load(&self) -> anyhow::Result<Ingested> {
        let spinner = super::progress::spinner(format!("reading {}", self.trace.display()));
        let read = read_trace(&self.trace, &self.options());
        spinner.finish_and_clear();
        let read = read.context("failed to read trace")?;
        report_skipped(&self.trace, &read.skipped);
        Ok(read)
    }
}

/// Prints how many lines were skipped, by reason, and the first few.
pub fn report_skipped(path: &Path, skipped: &SkipReport) {
    if skipped.is_empty() {
        return;
    }
    eprintln!("warning: skipped {} malformed line(s) in {} (use --strict to stop at the first):", skipped.total, path.display());
    for (reason, n) in &skipped.by_reason {
        eprintln!("  {n:>8}  {reason}");
    }
    for e in &skipped.examples {
        eprintln!("  e.g. {}: {e}", path.display());
    }
}
