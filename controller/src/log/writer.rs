//! Appending to the decision log: one write per record, fsync by policy,
//! torn-tail repair on open, rotation by size.

use super::frame::{self, Tail};
use super::compact::CompactCycle;
use super::record::{Body, Record};
use super::{LogError, reader};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// When the writer forces records to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every record: nothing acknowledged is lost on power failure.
    Always,
    /// After every `n` records (and on rotation and close).
    Every(u32),
    /// Never explicitly; the operating system decides. A process crash
    /// (SIGKILL) still loses nothing written, a power failure may.
    Never,
}

/// Where and how the log is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// The active file; rotated segments get `.1`, `.2`, ... appended.
    pub path: PathBuf,
    /// Rotate once the active file reaches this many bytes.
    pub max_bytes: u64,
    /// When to fsync.
    pub fsync: FsyncPolicy,
}

impl LogConfig {
    /// A log at `path` rotated at 64 MiB, fsynced after every record.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), max_bytes: 64 << 20, fsync: FsyncPolicy::Always }
    }
}

/// What the writer found when it opened an existing log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// True when the log already held records (a restart).
    pub resumed: bool,
    /// Bytes of an incomplete last record that were cut off.
    pub torn_bytes_dropped: u64,
    /// A damaged active file that was moved aside as a segment, untouched.
    pub damaged_segment: Option<PathBuf>,
    /// The sequence number the next record gets.
    pub next_seq: u64,
}

/// The appending end of a decision log.
#[derive(Debug)]
pub struct LogWriter {
    cfg: LogConfig,
    file: File,
    size: u64,
    next_seq: u64,
    unsynced: u32,
    report: OpenReport,
    /// The frame being written, kept from record to record.
    buf: Vec<u8>,
}

/// A frame buffer larger than this is not kept after its record.
const KEEP_BUF: usize = 4 << 20;

impl LogWriter {
    /// Opens (or creates) the log: repairs a torn tail, moves a damaged file
    /// aside, and continues the sequence numbers where they stopped.
    pub fn open(cfg: LogConfig) -> Result<Self, LogError> {
        let path = cfg.path.clone();
        let mut report = OpenReport::default();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(LogError::io(&path)(e)),
        };
        let (records, tail) = frame::scan(&bytes);
        let mut last_seq = match records.last() {
            Some(&(offset, payload)) => Some(reader::decode(&path, offset, payload)?.seq),
            None => None,
        };
        let mut keep = bytes.len() as u64;
        match tail {
            Tail::Clean => {}
            Tail::Torn { offset } => {
                report.torn_bytes_dropped = bytes.len() as u64 - offset;
                keep = offset;
            }
            Tail::Corrupt { .. } | Tail::BadMagic => {
                let aside = next_segment_path(&path)?;
                std::fs::rename(&path, &aside).map_err(LogError::io(&path))?;
                report.damaged_segment = Some(aside);
                keep = 0;
            }
        }
        if last_seq.is_none() || keep == 0 {
            last_seq = last_seq.or(last_seq_of_segments(&path)?);
        }
        report.resumed = last_seq.is_some();
        report.next_seq = last_seq.map_or(0, |s| s + 1);
        let file = OpenOptions::new().create(true).read(true).write(true).truncate(false).open(&path).map_err(LogError::io(&path))?;
        file.set_len(keep).map_err(LogError::io(&path))?;
        let mut writer =
            Self { cfg, file, size: keep, next_seq: report.next_seq, unsynced: 0, report, buf: Vec::new() };
        writer.append_mode()?;
        if writer.size == 0 {
            writer.write_raw(frame::MAGIC)?;
            writer.sync()?;
        }
        Ok(writer)
    }

    fn append_mode(&mut self) -> Result<(), LogError> {
        let path = &self.cfg.path;
        self.file = OpenOptions::new().append(true).open(path).map_err(LogError::io(path))?;
        Ok(())
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), LogError> {
        self.file.write_all(bytes).map_err(LogError::io(&self.cfg.path))?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// What was found on open.
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// The sequence number the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends one record stamped `ts_unix_s`; returns its sequence number.
    pub fn append(&mut self, ts_unix_s: f64, body: Body) -> Result<u64, LogError> {
        self.append_with(|seq, buf| {
            serde_json::to_writer(buf, &Record { seq, ts_unix_s, body }).expect("records serialise");
        })
    }

    /// Appends one cycle record stamped `ts_unix_s` (the same bytes as the
    /// equivalent [`Body::Cycle`]); returns its sequence number.
    pub fn append_cycle(&mut self, ts_unix_s: f64, cycle: &CompactCycle) -> Result<u64, LogError> {
        self.append_with(|seq, buf| cycle.encode(seq, ts_unix_s, buf))
    }

    /// Appends the record `payload` writes for the next sequence number.
    fn append_with(&mut self, payload: impl FnOnce(u64, &mut Vec<u8>)) -> Result<u64, LogError> {
        let seq = self.next_seq;
        let mut framed = std::mem::take(&mut self.buf);
        framed.clear();
        framed.extend_from_slice(&[0; frame::HEADER_LEN]);
        payload(seq, &mut framed);
        let written = self.write_frame(&mut framed);
        if framed.capacity() <= KEEP_BUF {
            self.buf = framed;
        }
        written?;
        Ok(seq)
    }

    fn write_frame(&mut self, framed: &mut [u8]) -> Result<(), LogError> {
        let len = framed.len() - frame::HEADER_LEN;
        if len > frame::MAX_PAYLOAD {
            return Err(LogError::TooLarge(len));
        }
        frame::seal(framed);
        if self.size > frame::MAGIC.len() as u64 && self.size + framed.len() as u64 > self.cfg.max_bytes {
            self.rotate()?;
        }
        self.write_raw(framed)?;
        self.next_seq += 1;
        self.unsynced += 1;
        match self.cfg.fsync {
            FsyncPolicy::Always => self.sync()?,
            FsyncPolicy::Every(n) if self.unsynced >= n.max(1) => self.sync()?,
            _ => {}
        }
        Ok(())
    }

    /// Forces what was written to stable storage.
    pub fn sync(&mut self) -> Result<(), LogError> {
        self.file.sync_data().map_err(LogError::io(&self.cfg.path))?;
        self.unsynced = 0;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), LogError> {
        self.sync()?;
        let path = self.cfg.path.clone();
        let aside = next_segment_path(&path)?;
        std::fs::rename(&path, &aside).map_err(LogError::io(&path))?;
        self.file = File::create(&path).map_err(LogError::io(&path))?;
        self.size = 0;
        self.append_mode()?;
        self.write_raw(frame::MAGIC)?;
        self.sync()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // make the rename durable too; best effort where directories cannot be opened
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let _ = self.file.sync_data();
    }
}

fn next_segment_path(path: &Path) -> Result<PathBuf, LogError> {
    let n = reader::segment_numbers(path)?.last().copied().unwrap_or(0) + 1;
    Ok(reader::segment_path(path, n))
}

fn last_seq_of_segments(path: &Path) -> Result<Option<u64>, LogError> {
    for n in reader::segment_numbers(path)?.into_iter().rev() {
        let seg = reader::segment_path(path, n);
        if let Some(last) = reader::read_file(&seg)?.records.last() {
            return Ok(Some(last.seq));
        }
    }
    Ok(None)
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
