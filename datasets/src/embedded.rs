//! The dataset shipped inside foresight: `h100-jobs`, 264 real PyTorch jobs
//! with their submitted features and NVML telemetry, recorded by this
//! project on one H100 (see `datasets/data/h100-jobs/SOURCE.md`). It makes
//! `foresight demo` work on a fresh machine with no download.

use crate::error::IngestError;
use crate::reject::SkipReport;
use crate::table::Ingested;
use crate::telemetry::TelemetryTable;
use crate::{gpujobs, telemetry};
use flate2::read::MultiGzDecoder;
use std::io::BufReader;
use std::path::Path;

/// The name the embedded job log goes by in messages and metadata.
pub const JOBS_NAME: &str = "embedded:h100-jobs/jobs.csv";
/// The name the embedded telemetry goes by.
pub const TELEMETRY_NAME: &str = "embedded:h100-jobs/telemetry.csv.gz";

const JOBS_CSV: &str = include_str!("../data/h100-jobs/jobs.csv");
const TELEMETRY_GZ: &[u8] = include_bytes!("../data/h100-jobs/telemetry.csv.gz");

/// The embedded job log, read strictly.
pub fn h100_jobs() -> Result<Ingested, IngestError> {
    gpujobs::read(JOBS_CSV.as_bytes(), Path::new(JOBS_NAME), true)
}

/// The embedded NVML telemetry, read strictly.
pub fn h100_telemetry() -> Result<(TelemetryTable, SkipReport), IngestError> {
    telemetry::read(BufReader::new(MultiGzDecoder::new(TELEMETRY_GZ)), Path::new(TELEMETRY_NAME), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_dataset_reads_cleanly() {
        let jobs = h100_jobs().unwrap();
        assert!(jobs.skipped.is_empty());
        assert_eq!(jobs.table.jobs.len(), 264);
        let users: std::collections::BTreeSet<_> = jobs.table.jobs.iter().filter_map(|j| j.user.as_deref()).collect();
        assert_eq!(users.into_iter().collect::<Vec<_>>(), ["hpc", "nlp-research", "serving", "vision"]);
        let (tele, skipped) = h100_telemetry().unwrap();
        assert!(skipped.is_empty());
        assert_eq!(tele.metrics, ["gpu_util_pct", "mem_util_pct", "mem_used_mib", "power_w", "sm_clock_mhz", "temp_c"]);
        assert!(tele.samples.len() > 1000);
    }
}
