//! Errors of reading a trace: precise about where (file, line, column,
//! field) and what (expected, found).

use std::fmt;
use std::path::PathBuf;

/// What is wrong with one line of a trace, with no file name yet: the
/// readers produce it and [`IngestError::Parse`] adds the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the (decompressed) file.
    pub line: u64,
    /// 1-based byte column where the bad field starts, when known.
    pub column: Option<usize>,
    /// Name of the field, as the format calls it (`run time`, `Timelimit`).
    pub field: String,
    /// What the field should hold.
    pub expected: String,
    /// What it held (shortened when long).
    pub found: String,
}

impl LineError {
    /// A new line error; `found` is shortened to at most 60 characters.
    pub fn new(
        line: u64,
        column: Option<usize>,
        field: impl Into<String>,
        expected: impl Into<String>,
        found: &str,
    ) -> Self {
        Self { line, column, field: field.into(), expected: expected.into(), found: shorten(found) }
    }

    /// The reason under which a skipped line is counted: field and expectation.
    pub fn reason(&self) -> String {
        format!("{}: expected {}", self.field, self.expected)
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(c) = self.column {
            write!(f, ", column {c}")?;
        }
        write!(f, ": field `{}`: expected {}, found `{}`", self.field, self.expected, self.found)
    }
}

/// Escapes control characters and keeps at most 60 characters, so that a
/// garbled line prints readably.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(60).flat_map(char::escape_default).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line is malformed (always under `--strict`; otherwise only when the
    /// line makes the rest of the file unreadable, such as a bad header).
    #[error("{}: {}", path.display(), error)]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and what.
        error: LineError,
    },
    /// The format could not be recognised from the content.
    #[error("cannot tell the format of {path}: {reason}; name it with --format ({known})")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What was seen.
        reason: String,
        /// The formats that can be named.
        known: String,
    },
    /// The file holds no job (or no sample) at all.
    #[error("{path} holds no {what}")]
    Empty {
        /// The file.
        path: PathBuf,
        /// `job` or `telemetry sample`.
        what: &'static str,
    },
    /// A Parquet file could not be read or written, or does not hold a job table.
    #[error("parquet file {path}: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl IngestError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IngestError::Io { path: path.into(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_error_names_line_column_field_expectation_and_value() {
        let e = LineError::new(7, Some(12), "run time", "an integer number of seconds", "12x\u{1}");
        assert_eq!(
            e.to_string(),
            "line 7, column 12: field `run time`: expected an integer number of seconds, found `12x\\u{1}`"
        );
        let wrapped = IngestError::Parse { path: "log.swf".into(), error: e };
        assert!(wrapped.to_string().starts_with("log.swf: line 7, column 12"));
    }

    #[test]
    fn long_values_are_shortened() {
        let e = LineError::new(1, None, "f", "x", &"a".repeat(200));
        assert_eq!(e.found.chars().count(), 61);
    }
}
