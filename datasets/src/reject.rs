//! What happens to a bad line: under `--strict` it stops the read with a
//! precise error; by default it is skipped and counted by reason, and the
//! first few are kept to show.

use crate::error::{IngestError, LineError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How many skipped lines are kept as examples.
pub const EXAMPLES_KEPT: usize = 5;

/// The lines a read skipped: how many, why, and the first few in full.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipReport {
    /// Number of skipped lines.
    pub total: u64,
    /// Skipped lines counted by reason (field and expectation).
    pub by_reason: BTreeMap<String, u64>,
    /// The first [`EXAMPLES_KEPT`] skipped lines.
    pub examples: Vec<LineError>,
}

impl SkipReport {
    /// Counts one skipped line.
    pub fn record(&mut self, error: LineError) {
        self.total += 1;
        *self.by_reason.entry(error.reason()).or_default() += 1;
        if self.examples.len() < EXAMPLES_KEPT {
            self.examples.push(error);
        }
    }

    /// True when nothing was skipped.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// The reject policy of one read: strict or skipping.
pub(crate) struct Rejects {
    strict: bool,
    path: PathBuf,
    pub(crate) report: SkipReport,
}

impl Rejects {
    pub(crate) fn new(path: &Path, strict: bool) -> Self {
        Self { strict, path: path.to_path_buf(), report: SkipReport::default() }
    }

    /// Rejects a line: an error under strict, a count otherwise.
    pub(crate) fn reject(&mut self, error: LineError) -> Result<(), IngestError> {
        if self.strict {
            Err(IngestError::Parse { path: self.path.clone(), error })
        } else {
            self.report.record(error);
            Ok(())
        }
    }

    /// The error for a failed read of the input.
    pub(crate) fn io(&self, error: std::io::Error) -> IngestError {
        IngestError::io(&self.path, error)
    }

    /// The error for a line that cannot be skipped (a header).
    pub(crate) fn fatal(&self, error: LineError) -> IngestError {
        IngestError::Parse { path: self.path.clone(), error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_counts_by_reason_and_keeps_first_examples() {
        let mut r = Rejects::new(Path::new("t.swf"), false);
        for line in 1..=8 {
            r.reject(LineError::new(line, Some(1), "run time", "a number", "x")).unwrap();
        }
        r.reject(LineError::new(9, None, "user", "an id", "?")).unwrap();
        assert_eq!(r.report.total, 9);
        assert_eq!(r.report.by_reason["run time: expected a number"], 8);
        assert_eq!(r.report.examples.len(), EXAMPLES_KEPT);
        assert_eq!(r.report.examples[0].line, 1);
    }

    #[test]
    fn strict_stops_at_the_first_bad_line() {
        let mut r = Rejects::new(Path::new("t.swf"), true);
        let err = r.reject(LineError::new(3, Some(5), "user", "an id", "?")).unwrap_err();
        assert_eq!(err.to_string(), "t.swf: line 3, column 5: field `user`: expected an id, found `?`");
    }
}
