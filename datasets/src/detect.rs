//! Telling a trace's format from its first bytes, and the formats' names.

use crate::error::IngestError;
use crate::source;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// A trace format foresight reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Standard Workload Format (Parallel Workloads Archive), plain or gzip.
    Swf,
    /// Slurm `sacct --parsable2` (or `--parsable`) output with a header.
    Sacct,
    /// GPU job logs with submitted features (the `h100-jobs` CSV).
    GpuJobs,
    /// Alibaba `openb` GPU pod lists.
    Openb,
    /// foresight's own job table in Parquet.
    Parquet,
    /// NVML telemetry samples (`ts,job_id,gpu_util_pct,...`).
    Telemetry,
}

impl Format {
    /// Every format with its command-line name.
    pub const ALL: [(Format, &'static str); 6] = [
        (Format::Swf, "swf"),
        (Format::Sacct, "sacct"),
        (Format::GpuJobs, "gpujobs"),
        (Format::Openb, "openb"),
        (Format::Parquet, "parquet"),
        (Format::Telemetry, "telemetry"),
    ];

    /// The command-line name.
    pub fn name(&self) -> &'static str {
        Format::ALL.iter().find(|(f, _)| f == self).map_or("?", |(_, n)| n)
    }

    /// The names of the formats that hold jobs, comma-separated.
    pub fn job_formats() -> String {
        Format::ALL
            .iter()
            .filter(|(f, _)| *f != Format::Telemetry)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL.iter().find(|(_, n)| *n == s).map(|(f, _)| *f).ok_or_else(|| {
            let names: Vec<_> = Format::ALL.iter().map(|(_, n)| *n).collect();
            format!("unknown format `{s}` (expected one of {})", names.join(", "))
        })
    }
}

/// Detects the format of the file at `path` from its content.
pub fn detect(path: &Path) -> Result<Format, IngestError> {
    let head = source::head(path, 64 * 1024)?;
    detect_bytes(&head).map_err(|reason| IngestError::UnknownFormat {
        path: path.to_path_buf(),
        reason,
        known: Format::ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", "),
    })
}

/// Detects a format from the first bytes of a (decompressed) file.
pub fn detect_bytes(head: &[u8]) -> Result<Format, String> {
    if head.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    let text = String::from_utf8_lossy(head);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let first_trim = first.trim_start();
    if first_trim.starts_with(';') {
        return Ok(Format::Swf);
    }
    let header: Vec<&str> = first.split(',').map(str::trim).collect();
    if header.first() == Some(&"ts") && header.iter().any(|h| h.ends_with("_pct")) {
        return Ok(Format::Telemetry);
    }
    let pipe: Vec<&str> = first.trim_end_matches('|').split('|').map(str::trim).collect();
    if pipe.iter().any(|h| h.eq_ignore_ascii_case("JobID")) && pipe.len() > 1 {
        return Ok(Format::Sacct);
    }
    if crate::openb::COLUMNS.iter().all(|c| header.contains(c)) {
        return Ok(Format::Openb);
    }
    if ["job_id", "submit_ts", "status"].iter().all(|c| header.contains(c)) {
        return Ok(Format::GpuJobs);
    }
    let numeric_fields = first_trim.split_ascii_whitespace().count();
    if numeric_fields == 18
        && first_trim.split_ascii_whitespace().all(|f| f.parse::<f64>().is_ok())
    {
        return Ok(Format::Swf);
    }
    if head.is_empty() {
        return Err("the file is empty".into());
    }
    Err(format!("the first line `{}` matches no known format", first.chars().take(80).collect::<String>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_is_told_from_its_first_line() {
        let cases: [(&[u8], Format); 7] = [
            (b"; Version: 2.2\n", Format::Swf),
            (b"  1  0 10 20 4 -1 -1 4 60 -1 1 1 1 -1 -1 -1 -1 -1\n", Format::Swf),
            (b"JobID|JobName|Submit\n", Format::Sacct),
            (b"JobID|JobName|Submit|\n", Format::Sacct),
            (b"name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time\n", Format::Openb),
            (b"job_id,tenant,kind,submit_ts,start_ts,end_ts,runtime_s,status\n", Format::GpuJobs),
            (b"ts,job_id,gpu_util_pct,mem_util_pct\n", Format::Telemetry),
        ];
        for (head, want) in cases {
            assert_eq!(detect_bytes(head), Ok(want), "{}", String::from_utf8_lossy(head));
        }
        assert_eq!(detect_bytes(b"PAR1\x15\x04"), Ok(Format::Parquet));
        assert!(detect_bytes(b"hello world\n").unwrap_err().contains("`hello world`"));
        assert_eq!(detect_bytes(b""), Err("the file is empty".into()));
    }

    #[test]
    fn names_parse_back() {
        for (f, n) in Format::ALL {
            assert_eq!(n.parse::<Format>(), Ok(f));
        }
        assert!("csv".parse::<Format>().unwrap_err().contains("expected one of swf, sacct"));
    }
}
