//! Slurm accounting as `sacct --parsable2` (or `--parsable`) prints it: a
//! header of field names, then `|`-separated rows. Job steps (`.batch`,
//! `.extern`, `.0`) are folded into their job; array tasks (`123_4`) are jobs
//! of their own; requeued jobs (`--duplicates`) become attempts.

mod fields;

use crate::error::{IngestError, LineError};
use crate::reject::Rejects;
use crate::source::Lines;
use crate::table::{Ingested, JobTable};
use crate::zone::SiteZone;
use fields::{Columns, Row};
use foresight_core::{Job, TraceMeta};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// Reads `sacct --parsable2` output from `input`; `path` names it in errors.
/// Its local times are read as UTC (see [`read_in`]).
pub fn read<R: BufRead>(input: R, path: &Path, strict: bool) -> Result<Ingested, IngestError> {
    read_in(input, path, strict, None)
}

/// [`read`], with the local times `sacct` prints read in the site's zone
/// `zone` (as UTC when `None`): the jobs' times become true Unix times
/// (before the table is rebased to its first submission), and the zone and
/// its offset at the first submission go into the trace's metadata.
pub fn read_in<R: BufRead>(input: R, path: &Path, strict: bool, zone: Option<SiteZone>) -> Result<Ingested, IngestError> {
    let mut rejects = Rejects::new(path, strict);
    let mut lines = Lines::new(input);
    let mut columns: Option<Columns> = None;
    let mut jobs: Vec<Job> = Vec::new();
    // Latest attempt of each job id, for folding steps and counting attempts.
    let mut latest: HashMap<String, usize> = HashMap::new();
    let mut steps_folded = 0u64;
    while let Some((line_no, text)) = lines.next_str(&mut rejects)? {
        if text.trim().is_empty() {
            continue;
        }
        let Some(cols) = &columns else {
            columns = Some(Columns::from_header(text, line_no).map_err(|e| rejects.fatal(e))?);
            continue;
        };
        let row = match Row::split(cols, text, line_no) {
            Ok(row) => row,
            Err(e) => {
                rejects.reject(e)?;
                continue;
            }
        };
        let id = row.job_id();
        if let Some((parent, _step)) = id.split_once('.') {
            if let Some(&i) = latest.get(parent) {
                match row.step_end() {
                    Ok(end) => fold_step(&mut jobs[i], end),
                    Err(e) => rejects.reject(e)?,
                }
                steps_folded += 1;
            } else {
                let found = id.to_string();
                rejects.reject(LineError::new(line_no, Some(1), "JobID", "a step whose job is listed before it", &found))?;
            }
            continue;
        }
        match row.to_job() {
            Ok(mut job) => {
                if let Some(&prev) = latest.get(&job.job_id) {
                    job.attempt = jobs[prev].attempt + 1;
                }
                latest.insert(job.job_id.clone(), jobs.len());
                jobs.push(job);
            }
            Err(e) => rejects.reject(e)?,
        }
    }
    if columns.is_none() || (jobs.is_empty() && rejects.report.is_empty()) {
        return Err(IngestError::Empty { path: path.to_path_buf(), what: "job" });
    }
    let mut table = JobTable {
        meta: TraceMeta { format: "sacct".into(), source: path.display().to_string(), ..TraceMeta::default() },
        jobs,
    };
    match zone {
        Some(zone) => {
            for job in &mut table.jobs {
                job.submit_s = zone.unix_of_local(job.submit_s);
                job.start_s = job.start_s.map(|t| zone.unix_of_local(t));
                job.end_s = job.end_s.map(|t| zone.unix_of_local(t));
            }
            let first = table.jobs.iter().map(|j| j.submit_s).fold(f64::INFINITY, f64::min);
            let offset = zone.offset_at(first);
            table.meta.tz_name = Some(zone.to_string());
            table.meta.tz_offset_s = Some(offset);
            table.meta.notes.push(format!(
                "sacct prints the cluster's local time; it was read in {zone} (UTC{:+.1} h at the first submission)",
                f64::from(offset) / 3600.0
            ));
        }
        None => table.meta.notes.push("sacct prints the cluster's local time; it was read as UTC (give its zone with --tz)".into()),
    }
    table.rebase_to_first_submit();
    table.meta.notes.push(format!("{steps_folded} job steps folded into their jobs"));
    Ok(Ingested { table, skipped: rejects.report })
}

/// A step that ended after its job's recorded end extends the job.
fn fold_step(job: &mut Job, step_end: Option<f64>) {
    if let (Some(end), Some(start)) = (step_end, job.start_s)
        && job.end_s.is_none_or(|e| end > e) {
            job.end_s = Some(end);
            job.runtime_s = Some(end - start);
        }
}

#[cfg(test)]
mod tests;
