//! Reading the decision log back: every segment in order, the torn tail or
//! damage reported rather than hidden, and filters for `foresight log`.

use super::LogError;
use super::frame::{self, Tail};
use super::record::Record;
use std::path::{Path, PathBuf};

/// The records of one file and how it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct FileScan {
    /// The file.
    pub path: PathBuf,
    /// Every valid record, in order.
    pub records: Vec<Record>,
    /// How the bytes end: clean, torn (a crash mid-write) or corrupt.
    pub tail: Tail,
    /// The file's length in bytes.
    pub len: u64,
}

pub(crate) fn decode(path: &Path, offset: u64, payload: &[u8]) -> Result<Record, LogError> {
    serde_json::from_slice(payload).map_err(|source| LogError::Payload {
        path: path.to_path_buf(),
        offset,
        source,
    })
}

/// Reads one file of a log.
pub fn read_file(path: &Path) -> Result<FileScan, LogError> {
    let bytes = std::fs::read(path).map_err(LogError::io(path))?;
    let (frames, tail) = frame::scan(&bytes);
    let records =
        frames.into_iter().map(|(off, payload)| decode(path, off, payload)).collect::<Result<_, _>>()?;
    Ok(FileScan { path: path.to_path_buf(), records, tail, len: bytes.len() as u64 })
}

/// The path of rotated segment `n` of the log at `path`.
pub fn segment_path(path: &Path, n: u64) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The numbers of the rotated segments of the log at `path`, ascending.
pub(crate) fn segment_numbers(path: &Path) -> Result<Vec<u64>, LogError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(base) = path.file_name().and_then(|n| n.to_str()) else { return Ok(Vec::new()) };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LogError::io(dir)(e)),
    };
    let mut nums: Vec<u64> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix(base)?.strip_prefix('.')?.parse().ok()
        })
        .collect();
    nums.sort_unstable();
    Ok(nums)
}

/// Every file of the log at `path`, oldest first: rotated segments, then
/// the active file when it exists.
pub fn segments(path: &Path) -> Result<Vec<PathBuf>, LogError> {
    let mut files: Vec<PathBuf> =
        segment_numbers(path)?.into_iter().map(|n| segment_path(path, n)).collect();
    if path.exists() {
        files.push(path.to_path_buf());
    }
    Ok(files)
}

/// Reads the whole log at `path` (every segment, oldest first).
pub fn read_log(path: &Path) -> Result<Vec<FileScan>, LogError> {
    segments(path)?.iter().map(|p| read_file(p)).collect()
}

/// Which records to keep. Empty fields keep everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Keep only these kinds (`cycle`, `finished`, `breaker`, ...).
    pub kinds: Vec<String>,
    /// Keep only records about this job.
    pub job: Option<String>,
    /// Keep records with `seq >= from_seq`.
    pub from_seq: Option<u64>,
    /// Keep records written at or after this Unix time.
    pub since_unix_s: Option<f64>,
    /// Keep records written before this Unix time.
    pub until_unix_s: Option<f64>,
}

impl Filter {
    /// True when `record` passes every condition.
    pub fn matches(&self, record: &Record) -> bool {
        (self.kinds.is_empty() || self.kinds.iter().any(|k| k == record.body.kind()))
            && self.job.as_deref().is_none_or(|j| record.body.mentions_job(j))
            && self.from_seq.is_none_or(|s| record.seq >= s)
            && self.since_unix_s.is_none_or(|t| record.ts_unix_s >= t)
            && self.until_unix_s.is_none_or(|t| record.ts_unix_s < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::record::{Body, FinishedRecord, StopRecord};

    fn rec(seq: u64, body: Body) -> Record {
        Record { seq, ts_unix_s: seq as f64 * 10.0, body }
    }

    #[test]
    fn filter_by_kind_job_seq_and_time() {
        let fin = Body::Finished(FinishedRecord {
            job_id: "42".into(),
            submit_unix_s: 0.0,
            start_unix_s: 1.0,
            end_unix_s: 2.0,
            runtime_s: 1.0,
            predicted_runtime_s: None,
            predicted_interval: None,
            error_s: None,
            candidate_start_unix_s: None,
            counterfactual_delta_s: None,
            model_version: None,
        });
        let stop = Body::Stop(StopRecord { reason: "x".into(), cycles: 1 });
        let (a, b) = (rec(1, fin), rec(2, stop));
        let by_kind = Filter { kinds: vec!["finished".into()], ..Filter::default() };
        assert!(by_kind.matches(&a) && !by_kind.matches(&b));
        let by_job = Filter { job: Some("42".into()), ..Filter::default() };
        assert!(by_job.matches(&a) && !by_job.matches(&b));
        let by_seq = Filter { from_seq: Some(2), ..Filter::default() };
        assert!(!by_seq.matches(&a) && by_seq.matches(&b));
        let by_time = Filter { since_unix_s: Some(5.0), until_unix_s: Some(15.0), ..Filter::default() };
        assert!(by_time.matches(&a) && !by_time.matches(&b));
    }

    #[test]
    fn segment_paths_sort_numerically() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        for n in [10, 2, 1] {
            std::fs::write(segment_path(&log, n), b"").unwrap();
        }
        std::fs::write(dir.path().join("d.log.bak"), b"").unwrap();
        assert_eq!(segment_numbers(&log).unwrap(), vec![1, 2, 10]);
        assert_eq!(segments(&log).unwrap().len(), 3);
    }
}
