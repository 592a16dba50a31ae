//! The Standard Workload Format (Parallel Workloads Archive): header
//! comments (`; Key: value`) and one job a line in 18 whitespace-separated
//! numeric fields, `-1` where unknown.
//!
//! Job times are seconds from `UnixStartTime`, a Unix instant, so a job's
//! Unix time never depends on the site's zone. The zone only places times
//! on the local calendar: `TimeZoneString` (an IANA name, daylight-saving
//! time included) is the truth; the deprecated `TimeZone` offset is read
//! only when the zone string is absent or unknown. A log without
//! `UnixStartTime` takes its epoch from `StartTime` (`date`'s format, local
//! time) read in that zone.

use crate::error::{IngestError, LineError};
use crate::reject::Rejects;
use crate::source::Lines;
use crate::table::{Ingested, JobTable};
use crate::timefmt::parse_date_command;
use crate::zone::SiteZone;
use foresight_core::{FeatureValue, Job, JobStatus, TraceMeta};
use std::io::BufRead;
use std::path::Path;

/// The 18 SWF fields, by their names in the format's definition.
pub const FIELDS: [&str; 18] = [
    "job number",
    "submit time",
    "wait time",
    "run time",
    "allocated processors",
    "average CPU time",
    "used memory",
    "requested processors",
    "requested time",
    "requested memory",
    "status",
    "user id",
    "group id",
    "executable number",
    "queue number",
    "partition number",
    "preceding job number",
    "think time",
];

/// Reads an SWF log from `input` (already decompressed); `path` names it in
/// errors. Under `strict` the first bad line is an error; otherwise bad
/// lines are skipped and counted.
pub fn read<R: BufRead>(input: R, path: &Path, strict: bool) -> Result<Ingested, IngestError> {
    let mut rejects = Rejects::new(path, strict);
    let mut meta = TraceMeta { format: "swf".into(), source: path.display().to_string(), ..TraceMeta::default() };
    let mut jobs = Vec::new();
    let mut lines = Lines::new(input);
    let mut values = [0f64; 18];
    let mut start_time = None;
    while let Some((line_no, text)) = lines.next_bytes(&mut rejects)? {
        let trimmed = text.trim_ascii_start();
        if trimmed.is_empty() {
            continue;
        }
        if trimmed[0] == b';' {
            if let Err(e) = parse_header(&trimmed[1..], line_no, &mut meta, &mut start_time) {
                rejects.reject(e)?;
            }
            continue;
        }
        match parse_fields(text, line_no, &mut values) {
            Ok(()) => match to_job(&values, line_no) {
                Ok(job) => jobs.push(job),
                Err(e) => rejects.reject(e)?,
            },
            Err(e) => rejects.reject(e)?,
        }
    }
    if jobs.is_empty() && rejects.report.is_empty() {
        return Err(IngestError::Empty { path: path.to_path_buf(), what: "job" });
    }
    let first_submit_s = jobs.iter().map(|j| j.submit_s).reduce(f64::min).unwrap_or(0.0);
    if let Err(e) = settle_clock(&mut meta, start_time, first_submit_s) {
        rejects.reject(e)?;
    }
    Ok(Ingested { table: JobTable { meta, jobs }, skipped: rejects.report })
}

/// Parses one `Key: value` header comment into the metadata; `StartTime`
/// is kept, with its line and column, for [`settle_clock`].
fn parse_header(
    body: &[u8],
    line_no: u64,
    meta: &mut TraceMeta,
    start_time: &mut Option<(u64, Option<usize>, String)>,
) -> Result<(), LineError> {
    let text = String::from_utf8_lossy(body);
    let Some((key, value)) = text.split_once(':') else { return Ok(()) };
    let (key, value) = (key.trim(), value.trim());
    let col = Some(text.find(value).map_or(2, |i| i + 2));
    let int = |expected: &str| {
        value.parse::<i64>().map_err(|_| LineError::new(line_no, col, key, expected, value))
    };
    let count = |expected: &str| {
        value.parse::<u32>().map_err(|_| LineError::new(line_no, col, key, expected, value))
    };
    match key {
        "MaxProcs" => meta.capacity.cpus = Some(count("a whole number of processors")?),
        "MaxNodes" => meta.capacity.nodes = Some(count("a whole number of nodes")?),
        "UnixStartTime" => meta.epoch_unix_s = Some(int("Unix seconds")? as f64),
        "TimeZone" => {
            let tz = int("an offset from UTC in seconds")?;
            meta.tz_offset_s = Some(i32::try_from(tz).map_err(|_| {
                LineError::new(line_no, col, key, "an offset from UTC in seconds", value)
            })?);
        }
        "TimeZoneString" => meta.tz_name = Some(value.to_string()),
        "StartTime" => *start_time = Some((line_no, col, value.to_string())),
        "Computer" | "Installation" if meta.computer.is_none() => meta.computer = Some(value.to_string()),
        "Partition" | "Queue" => meta.partitions.push(format!("{key} {value}")),
        "Note" => meta.notes.push(value.to_string()),
        _ => {}
    }
    Ok(())
}

/// Settles the header's clock once it is read: the epoch from `StartTime`
/// when `UnixStartTime` is absent, and the offset from `TimeZoneString`,
/// taken at the first submission (as `sacct --tz` does), over the
/// deprecated `TimeZone`. A note says what was overridden or assumed.
/// An error only for a `StartTime` the epoch must come from that is not
/// a date.
fn settle_clock(meta: &mut TraceMeta, start_time: Option<(u64, Option<usize>, String)>, first_submit_s: f64) -> Result<(), LineError> {
    let hours = |s: i32| f64::from(s) / 3600.0;
    let zone = match meta.tz_name.as_deref().map(str::parse::<SiteZone>) {
        Some(Ok(zone)) => Some(zone),
        Some(Err(e)) => {
            let fallback = match meta.tz_offset_s {
                Some(off) => format!("the deprecated TimeZone offset (UTC{:+.1} h) is used", hours(off)),
                None => "local times are read as UTC".to_string(),
            };
            meta.notes.push(format!("TimeZoneString: {e}; {fallback}"));
            None
        }
        None => None,
    };
    if let (None, Some((line_no, col, text))) = (meta.epoch_unix_s, start_time) {
        let local = parse_date_command(&text).ok_or_else(|| {
            LineError::new(line_no, col, "StartTime", "a date as `date` prints it, e.g. Mon Sep 23 14:00:31 CEST 1996", &text)
        })?;
        let (epoch, how) = match (zone, meta.tz_offset_s) {
            (Some(z), _) => (z.unix_of_local(local), format!("in {z}")),
            (None, Some(off)) => (local - f64::from(off), format!("at the TimeZone offset UTC{:+.1} h", hours(off))),
            (None, None) => (local, "as UTC (the header names no zone)".to_string()),
        };
        meta.epoch_unix_s = Some(epoch);
        meta.notes.push(format!("no UnixStartTime: the epoch is StartTime ({text}) read {how}"));
    }
    if let (Some(zone), Some(epoch)) = (zone, meta.epoch_unix_s) {
        let offset = zone.offset_at(epoch + first_submit_s);
        if let Some(old) = meta.tz_offset_s.filter(|old| *old != offset) {
            meta.notes.push(format!(
                "TimeZone {old} (deprecated) ignored: TimeZoneString {zone} is UTC{:+.1} h at the first submission",
                hours(offset)
            ));
        }
        meta.tz_offset_s = Some(offset);
    }
    Ok(())
}

/// Splits a job line into its 18 numbers. Whole numbers, the common case,
/// are accumulated while scanning; anything else goes through
/// [`parse_number`].
fn parse_fields(line: &[u8], line_no: u64, out: &mut [f64; 18]) -> Result<(), LineError> {
    let mut n = 0;
    let mut i = 0;
    let len = line.len();
    while i < len {
        if is_space(line[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let neg = line[i] == b'-';
        i += usize::from(neg);
        let digits = i;
        let mut whole: i64 = 0;
        while i < len && i - digits < 18 {
            let d = line[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            whole = whole * 10 + i64::from(d);
            i += 1;
        }
        let fast = i > digits && (i == len || is_space(line[i]));
        if !fast {
            while i < len && !is_space(line[i]) {
                i += 1;
            }
        }
        if n == 18 {
            return Err(LineError::new(line_no, Some(start + 1), "line", "exactly 18 fields", &lossy(&line[start..i])));
        }
        out[n] = if fast {
            (if neg { -whole } else { whole }) as f64
        } else {
            parse_number(&line[start..i]).ok_or_else(|| {
                LineError::new(line_no, Some(start + 1), FIELDS[n], "a number (-1 when unknown)", &lossy(&line[start..i]))
            })?
        };
        n += 1;
    }
    if n < 18 {
        return Err(LineError::new(
            line_no,
            Some(len + 1),
            FIELDS[n],
            format!("18 fields, the line ends after {n}"),
            "end of line",
        ));
    }
    Ok(())
}

/// ASCII whitespace, by table: the separator test runs once per byte.
fn is_space(b: u8) -> bool {
    const SPACE: [bool; 256] = {
        let mut t = [false; 256];
        t[b' ' as usize] = true;
        t[b'\t' as usize] = true;
        t[b'\n' as usize] = true;
        t[b'\r' as usize] = true;
        t[0x0c] = true;
        t
    };
    SPACE[usize::from(b)]
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An integer (fast path) or a finite decimal number.
fn parse_number(b: &[u8]) -> Option<f64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let v = digits.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
        return Some(if neg { -v } else { v } as f64);
    }
    let v: f64 = std::str::from_utf8(b).ok()?.parse().ok()?;
    v.is_finite().then_some(v)
}

/// A number as an identifier: whole numbers without a decimal point.
fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 { (x as i64).to_string() } else { x.to_string() }
}

/// Checks the ranges of the numbers and maps them onto a canonical job.
fn to_job(v: &[f64; 18], line_no: u64) -> Result<Job, LineError> {
    let bad = |i: usize, expected: &str| LineError::new(line_no, None, FIELDS[i], expected, &v[i].to_string());
    let known = |i: usize| (v[i] != -1.0).then_some(v[i]);
    for i in [1, 2, 3, 4, 7, 8, 9] {
        if v[i] < 0.0 && v[i] != -1.0 {
            return Err(bad(i, "a non-negative number or -1"));
        }
    }
    if v[0] < 0.0 || v[0].fract() != 0.0 {
        return Err(bad(0, "a non-negative whole job number"));
    }
    if v[1] < 0.0 {
        return Err(bad(1, "a non-negative submit time"));
    }
    let id = |i: usize| known(i).filter(|x| *x >= 0.0).map(number_text);
    let procs = |i: usize| known(i).filter(|x| *x > 0.0).map(|x| x.min(u32::MAX as f64) as u32);
    let submit = v[1];
    // Some logs record no start (wait -1 on every line) but the run time:
    // the job ran, for that long, at an unknown time after its submission.
    let start = known(2).map(|w| submit + w);
    let runtime = known(3);
    let req_cpus = procs(7).or(procs(4));
    let status = match v[10] as i64 {
        1 | 3 => JobStatus::Completed,
        0 | 4 => JobStatus::Failed,
        5 => JobStatus::Cancelled,
        _ => JobStatus::Unknown,
    };
    let mut job = Job {
        job_id: number_text(v[0]),
        user: id(11),
        group: id(12),
        queue: id(15).or_else(|| id(14)),
        name: id(13),
        submit_s: submit,
        start_s: start.filter(|_| runtime.is_some()),
        end_s: start.zip(runtime).map(|(s, r)| s + r),
        runtime_s: runtime,
        req_cpus,
        req_mem_mb: known(9)
            .filter(|m| *m >= 0.0)
            .map(|kb_per_proc| (kb_per_proc * f64::from(req_cpus.unwrap_or(1)) / 1024.0).ceil() as u64),
        req_time_s: known(8).filter(|t| *t > 0.0),
        status,
        depends_on: id(16).into_iter().collect(),
        ..Job::default()
    };
    if let Some(alloc) = procs(4).filter(|a| Some(*a) != req_cpus) {
        job.features.insert("alloc_cpus".into(), FeatureValue::Num(f64::from(alloc)));
    }
    if let (Some(q), true) = (id(14), id(15).is_some()) {
        job.labels.insert("swf_queue".into(), q);
    }
    if let Some(think) = known(17).filter(|t| *t >= 0.0) {
        job.features.insert("think_time_s".into(), FeatureValue::Num(think));
    }
    Ok(job)
}

#[cfg(test)]
mod tests;
