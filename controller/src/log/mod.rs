//! The append-only decision log.
//!
//! A log is a file (`decisions.log`) and the segments rotated out of it
//! (`decisions.log.1`, `.2`, ... oldest first). Each file starts with
//! [`frame::MAGIC`] and holds checksummed, length-prefixed JSON records
//! ([`frame`]). A crash at any byte leaves every earlier record readable; the
//! torn tail is detected when the log is read, and cut off when a writer
//! resumes it. Records carry a sequence number that runs on across
//! restarts, so a reader can see that nothing complete was lost.

pub mod compact;
pub mod frame;
pub mod reader;
pub mod record;
pub mod show;
pub mod summary;
pub mod writer;

pub use compact::{CompactCycle, CompactSummary, IdRef, Ids};
pub use reader::{Filter, FileScan, read_file, read_log, segments};
pub use record::{
    Act, ActionRecord, AdviceRecord, ModeRecord, OutcomeRecord, Verdict,
    Body, BreakerRecord, Change, ChangeKind, CycleRecord, DecisionSummary, FinishedRecord, ModelRecord,
    Observed, OutageRecord, Placement, Record, Source, StartRecord, StopRecord,
};
pub use writer::{FsyncPolicy, LogConfig, LogWriter, OpenReport};

use std::path::PathBuf;

/// What can go wrong reading or writing the decision log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file could not be opened, read, written or renamed.
    #[error("access decision log {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A record passed its checksum but is not a record this version reads.
    #[error("decode record at byte {offset} of {path}")]
    Payload {
        /// The file.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A record is larger than [`frame::MAX_PAYLOAD`].
    #[error("write a record of {0} bytes (the limit is {max})", max = frame::MAX_PAYLOAD)]
    TooLarge(usize),
}

impl LogError {
    fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
        move |source| LogError::Io { path: path.to_path_buf(), source }
    }
}
