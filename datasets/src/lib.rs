//! foresight-datasets: every trace format read onto the canonical job table
//! of `DESIGN.md`, with precise errors, and the table written to and read
//! from Parquet through Polars.
//!
//! Formats: the Standard Workload Format ([`swf`]), Slurm `sacct
//! --parsable2` ([`sacct`]), GPU job logs with submitted features
//! ([`gpujobs`]), Alibaba `openb` GPU pods ([`openb`]), NVML telemetry
//! samples ([`telemetry`]) and foresight's own Parquet files ([`parquet`]).
//! [`read_trace`] detects the format from the content unless told.
//!
//! Architecture invariant: this crate knows nothing about policies, the
//! simulator or the controller.

mod csv;
pub mod detect;
pub mod embedded;
pub mod error;
pub mod gpujobs;
pub mod openb;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod reject;
pub mod sacct;
pub mod shared;
pub mod source;
pub mod summary;
pub mod swf;
pub mod synthetic;
pub mod table;
pub mod telemetry;
#[cfg(feature = "parquet")]
pub mod telemetry_parquet;
pub mod timefmt;
pub mod zone;

pub use detect::Format;
pub use error::{IngestError, LineError};
pub use reject::SkipReport;
pub use table::{Ingested, JobTable};
pub use zone::{SiteZone, UnknownZone};

use std::path::Path;

/// How to read a trace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// The format; detected from the content when `None`.
    pub format: Option<Format>,
    /// Stop at the first bad line instead of skipping it.
    pub strict: bool,
    /// The site's time zone, for a `sacct` dump: it prints local times
    /// without a zone, which are read as UTC when this is `None`.
    pub tz: Option<SiteZone>,
}

/// Reads a trace file of any supported job format into the canonical table.
pub fn read_trace(path: &Path, opts: &ReadOptions) -> Result<Ingested, IngestError> {
    let format = match opts.format {
        Some(f) => f,
        None => detect::detect(path)?,
    };
    let input = || source::open(path);
    match format {
        Format::Swf => swf::read(input()?, path, opts.strict),
        Format::Sacct => sacct::read_in(input()?, path, opts.strict, opts.tz),
        Format::GpuJobs => gpujobs::read(input()?, path, opts.strict),
        Format::Openb => openb::read(input()?, path, opts.strict),
        #[cfg(feature = "parquet")]
        Format::Parquet if !telemetry::parquet::is_telemetry(path)? => {
            Ok(Ingested { table: parquet::read(path)?, skipped: SkipReport::default() })
        }
        #[cfg(not(feature = "parquet"))]
        Format::Parquet => Err(IngestError::Parquet {
            path: path.to_path_buf(),
            message: "this build has no Parquet support (feature `parquet` of foresight-datasets)".into(),
        }),
        #[cfg(feature = "parquet")]
        Format::Parquet => Err(telemetry_not_jobs(path)),
        Format::Telemetry => Err(telemetry_not_jobs(path)),
    }
}

fn telemetry_not_jobs(path: &Path) -> IngestError {
    IngestError::UnknownFormat {
        path: path.to_path_buf(),
        reason: "it holds telemetry samples, not jobs".into(),
        known: Format::job_formats(),
    }
}

/// Reads an NVML telemetry sample log (format detected or named).
pub fn read_telemetry(path: &Path, opts: &ReadOptions) -> Result<(telemetry::TelemetryTable, SkipReport), IngestError> {
    let format = match opts.format {
        Some(f) => f,
        None => detect::detect(path)?,
    };
    match format {
        Format::Telemetry => telemetry::read(source::open(path)?, path, opts.strict),
        #[cfg(feature = "parquet")]
        Format::Parquet if telemetry::parquet::is_telemetry(path)? => {
            Ok((telemetry::parquet::read(path)?, SkipReport::default()))
        }
        other => Err(IngestError::UnknownFormat {
            path: path.to_path_buf(),
            reason: format!("{other} is not a telemetry format"),
            known: Format::Telemetry.to_string(),
        }),
    }
}
