//! Opening trace files (plain or gzip, told apart by content) and reading
//! them line by line with a bound on line length, so that memory stays
//! bounded by the table being built, whatever the bytes.

use crate::error::{IngestError, LineError};
use crate::reject::Rejects;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The longest line a reader accepts (1 MiB); longer lines are reported and
/// skipped without being held in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Opens `path` for reading, decompressing it when it starts with the gzip
/// magic bytes (whatever its name).
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, IngestError> {
    let mut file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(|e| IngestError::io(path, e))?;
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::with_capacity(1 << 18, MultiGzDecoder::new(BufReader::new(file)))))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 18, file)))
    }
}

/// Reads the first `limit` bytes of the (decompressed) file, for format
/// detection.
pub fn head(path: &Path, limit: usize) -> Result<Vec<u8>, IngestError> {
    let mut buf = Vec::new();
    open(path)?.take(limit as u64).read_to_end(&mut buf).map_err(|e| IngestError::io(path, e))?;
    Ok(buf)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// One line as a [`Lines`] reader hands it out.
pub enum Line<'a> {
    /// The line's bytes, without the line terminator (`\n` or `\r\n`).
    Text(&'a [u8]),
    /// The line was longer than [`MAX_LINE_BYTES`] and was skipped.
    TooLong,
}

/// A line reader over any [`BufRead`] that counts lines and never holds
/// more than [`MAX_LINE_BYTES`] of one line.
pub struct Lines<R> {
    inner: R,
    buf: Vec<u8>,
    line_no: u64,
    /// Bytes of the inner buffer handed out as the last line, consumed on
    /// the next call.
    pending: usize,
    /// Where the line last read lies.
    last: Step,
}

impl<R: BufRead> Lines<R> {
    /// Wraps a reader; line numbers start at 1.
    pub fn new(inner: R) -> Self {
        Self { inner, buf: Vec::with_capacity(256), line_no: 0, pending: 0, last: Step::Copied }
    }

    /// The 1-based number of the line last returned.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// The next line with its 1-based number, or `None` at the end of input.
    pub fn next_line(&mut self) -> std::io::Result<Option<(u64, Line<'_>)>> {
        Ok(match self.advance()? {
            None => None,
            Some(Step::TooLong) => Some((self.line_no, Line::TooLong)),
            Some(step) => Some((self.line_no, Line::Text(self.text(step)?))),
        })
    }

    /// The next line that fits, with its 1-based number: a longer line is
    /// handed to `rejects` (an error under `--strict`, a count otherwise)
    /// and skipped. `None` at the end of input.
    pub(crate) fn next_bytes(&mut self, rejects: &mut Rejects) -> Result<Option<(u64, &[u8])>, IngestError> {
        loop {
            match self.advance().map_err(|e| rejects.io(e))? {
                None => return Ok(None),
                Some(Step::TooLong) => rejects.reject(too_long_error(self.line_no))?,
                Some(step) => return Ok(Some((self.line_no, self.text(step).map_err(|e| rejects.io(e))?))),
            }
        }
    }

    /// As [`Lines::next_bytes`], and a line that is not UTF-8 is rejected
    /// too.
    pub(crate) fn next_str(&mut self, rejects: &mut Rejects) -> Result<Option<(u64, &str)>, IngestError> {
        loop {
            let Some((line_no, bytes)) = self.next_bytes(rejects)? else { return Ok(None) };
            match std::str::from_utf8(bytes) {
                // Checked without holding the borrow, so that a rejected
                // line can be skipped and the next one read.
                Ok(_) => break,
                Err(_) => rejects.reject(utf8_error(bytes, line_no))?,
            }
        }
        let line_no = self.line_no;
        let text = self.text(self.last).map_err(|e| rejects.io(e))?;
        Ok(Some((line_no, std::str::from_utf8(text).unwrap_or_default())))
    }

    /// Reads the next line, without handing it out yet.
    fn advance(&mut self) -> std::io::Result<Option<Step>> {
        self.inner.consume(std::mem::take(&mut self.pending));
        // Fast path: the whole line is in the reader's buffer; hand it out
        // from there without copying.
        let whole_line = match self.inner.fill_buf() {
            Ok(available) => memchr_newline(available).filter(|i| *i <= MAX_LINE_BYTES),
            Err(_) => None,
        };
        if let Some(i) = whole_line {
            self.pending = i + 1;
            self.line_no += 1;
            self.last = Step::InReader(i);
            return Ok(Some(self.last));
        }
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let (chunk, done) = match memchr_newline(available) {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            if !too_long {
                if self.buf.len() + chunk.len() > MAX_LINE_BYTES {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            let consumed = done.unwrap_or(available.len());
            self.inner.consume(consumed);
            if done.is_some() {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line_no += 1;
        self.last = if too_long { Step::TooLong } else { Step::Copied };
        Ok(Some(self.last))
    }

    /// The text of the line `step` read, without its terminator.
    fn text(&mut self, step: Step) -> std::io::Result<&[u8]> {
        let text = match step {
            Step::InReader(i) => &self.inner.fill_buf()?[..i],
            Step::Copied | Step::TooLong => &self.buf[..],
        };
        Ok(text.strip_suffix(b"\r").unwrap_or(text))
    }
}

/// Where the line last read lies.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// In the inner reader's buffer, this many bytes long.
    InReader(usize),
    /// Copied into the line buffer.
    Copied,
    /// Longer than [`MAX_LINE_BYTES`]; not kept.
    TooLong,
}

/// The error a line that is not UTF-8 is reported with.
fn utf8_error(bytes: &[u8], line_no: u64) -> LineError {
    LineError::new(line_no, Some(1), "line", "UTF-8 text", &String::from_utf8_lossy(bytes))
}

/// The error a line longer than [`MAX_LINE_BYTES`] is reported with.
fn too_long_error(line_no: u64) -> LineError {
    LineError::new(line_no, Some(1), "line", "at most 1 MiB per line", "a longer line")
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8]) -> Vec<Option<Vec<u8>>> {
        let mut lines = Lines::new(input);
        let mut out = Vec::new();
        while let Some((_, line)) = lines.next_line().unwrap() {
            out.push(match line {
                Line::Text(t) => Some(t.to_vec()),
                Line::TooLong => None,
            });
        }
        out
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        let got = collect(b"a\r\nbb\n\nlast");
        assert_eq!(got, vec![Some(b"a".to_vec()), Some(b"bb".to_vec()), Some(vec![]), Some(b"last".to_vec())]);
    }

    #[test]
    fn overlong_lines_are_reported_not_kept() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\nok\n");
        let got = collect(&input);
        assert_eq!(got, vec![None, Some(b"ok".to_vec())]);
    }

    #[test]
    fn text_lines_skip_overlong_and_non_utf8_lines_under_the_reject_policy() {
        let mut input = b"one\n".to_vec();
        input.extend(vec![b'x'; MAX_LINE_BYTES + 1]);
        input.extend_from_slice(b"\n\xff\xfe\r\ntwo\r\n");
        let mut rejects = Rejects::new(Path::new("t.csv"), false);
        let mut lines = Lines::new(&input[..]);
        let mut got = Vec::new();
        while let Some((n, text)) = lines.next_str(&mut rejects).unwrap() {
            got.push((n, text.to_string()));
        }
        assert_eq!(got, vec![(1, "one".to_string()), (4, "two".to_string())]);
        assert_eq!(rejects.report.total, 2);
        assert_eq!(rejects.report.examples[0].line, 2);
        assert_eq!(rejects.report.examples[1].line, 3);

        let mut strict = Rejects::new(Path::new("t.csv"), true);
        let mut lines = Lines::new(&input[..]);
        assert_eq!(lines.next_str(&mut strict).unwrap().map(|(n, _)| n), Some(1));
        let err = lines.next_str(&mut strict).unwrap_err().to_string();
        assert!(err.starts_with("t.csv: line 2, column 1: field `line`: expected at most 1 MiB per line"), "{err}");
    }
}
