//! The columns of `sacct` output and the parsing of each field.

use crate::error::LineError;
use crate::timefmt::{parse_datetime, parse_slurm_duration};
use foresight_core::{Job, JobStatus};

/// Where each known column sits in the header.
pub(super) struct Columns {
    names: Vec<String>,
    trailing_bar: bool,
    job_id: usize,
    submit: usize,
    idx: [Option<usize>; KNOWN.len()],
}

/// Optional columns, by their `sacct` names (matched case-insensitively).
const KNOWN: [&str; 20] = [
    "JobName", "User", "Group", "Account", "Partition", "Start", "End", "Elapsed", "Timelimit", "State",
    "ReqCPUS", "AllocCPUS", "NCPUS", "ReqNodes", "NNodes", "ReqMem", "ReqTRES", "AllocTRES", "Priority",
    "Dependency",
];

fn known(name: &str) -> usize {
    KNOWN.iter().position(|k| *k == name).expect("a known column name")
}

impl Columns {
    /// Reads the header line; `JobID` and `Submit` are required.
    pub(super) fn from_header(text: &str, line_no: u64) -> Result<Self, LineError> {
        let trailing_bar = text.ends_with('|');
        let names: Vec<String> = text.trim_end_matches('|').split('|').map(|s| s.trim().to_string()).collect();
        let find = |want: &str| names.iter().position(|n| n.eq_ignore_ascii_case(want));
        let require = |want: &str| {
            find(want).ok_or_else(|| {
                LineError::new(line_no, Some(1), "header", format!("a `{want}` column (sacct --parsable2 output with a header)"), text)
            })
        };
        let job_id = require("JobID")?;
        let submit = require("Submit")?;
        let mut idx = [None; KNOWN.len()];
        for (i, k) in KNOWN.iter().enumerate() {
            idx[i] = find(k);
        }
        Ok(Self { names, trailing_bar, job_id, submit, idx })
    }
}

/// One data row split into its fields.
pub(super) struct Row<'a> {
    cols: &'a Columns,
    fields: Vec<&'a str>,
    starts: Vec<usize>,
    line_no: u64,
}

impl<'a> Row<'a> {
    /// Splits a row; the field count must match the header.
    pub(super) fn split(cols: &'a Columns, text: &'a str, line_no: u64) -> Result<Self, LineError> {
        let body = if cols.trailing_bar { text.strip_suffix('|').unwrap_or(text) } else { text };
        let mut fields = Vec::with_capacity(cols.names.len());
        let mut starts = Vec::with_capacity(cols.names.len());
        let mut pos = 0;
        for f in body.split('|') {
            fields.push(f);
            starts.push(pos + 1);
            pos += f.len() + 1;
        }
        if fields.len() != cols.names.len() {
            let n = fields.len().min(cols.names.len());
            let field = cols.names.get(n).map_or("line", String::as_str);
            return Err(LineError::new(
                line_no,
                Some(pos.min(body.len() + 1)),
                field,
                format!("{} `|`-separated fields as in the header", cols.names.len()),
                &format!("{} fields", fields.len()),
            ));
        }
        Ok(Self { cols, fields, starts, line_no })
    }

    /// The `JobID` field.
    pub(super) fn job_id(&self) -> &'a str {
        self.fields[self.cols.job_id].trim()
    }

    fn get(&self, name: &str) -> Option<(&'a str, usize)> {
        let i = self.cols.idx[known(name)]?;
        let v = self.fields[i].trim();
        (!v.is_empty()).then_some((v, i))
    }

    fn err(&self, i: usize, expected: &str, found: &str) -> LineError {
        LineError::new(self.line_no, Some(self.starts[i]), self.cols.names[i].clone(), expected, found)
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(|(v, _)| v.to_string())
    }

    /// A date column; `Unknown` and `None` are null.
    fn time(&self, name: &str) -> Result<Option<f64>, LineError> {
        match self.get(name) {
            None | Some(("Unknown" | "None", _)) => Ok(None),
            Some((v, i)) => parse_datetime(v).map(Some).ok_or_else(|| self.err(i, "a date like 2024-03-01T12:00:00, Unknown or None", v)),
        }
    }

    fn count(&self, name: &str) -> Result<Option<u32>, LineError> {
        match self.get(name) {
            None => Ok(None),
            Some((v, i)) => v.parse::<u32>().map(Some).map_err(|_| self.err(i, "a whole number", v)),
        }
    }

    /// The end time of a step row.
    pub(super) fn step_end(&self) -> Result<Option<f64>, LineError> {
        self.time("End")
    }

    /// Maps a job row onto a canonical job (times still in Unix seconds).
    pub(super) fn to_job(&self) -> Result<Job, LineError> {
        let id = self.job_id();
        if id.is_empty() {
            return Err(self.err(self.cols.job_id, "a job id", ""));
        }
        let submit_raw = self.fields[self.cols.submit].trim();
        let submit = parse_datetime(submit_raw)
            .ok_or_else(|| self.err(self.cols.submit, "a date like 2024-03-01T12:00:00", submit_raw))?;
        let start = self.time("Start")?;
        let end = self.time("End")?.filter(|_| start.is_some());
        let mut job = Job {
            job_id: id.to_string(),
            user: self.text("User"),
            group: self.text("Group").or_else(|| self.text("Account")),
            queue: self.text("Partition"),
            name: self.text("JobName"),
            submit_s: submit,
            start_s: start,
            end_s: end,
            runtime_s: start.zip(end).map(|(s, e)| e - s),
            req_cpus: self.count("ReqCPUS")?.or(self.count("AllocCPUS")?).or(self.count("NCPUS")?),
            req_nodes: self.count("ReqNodes")?.or(self.count("NNodes")?),
            req_time_s: self.timelimit()?,
            ..Job::default()
        };
        if let Some(account) = self.text("Account") {
            job.labels.insert("account".into(), account);
        }
        self.state(&mut job)?;
        self.tres(&mut job)?;
        self.memory(&mut job)?;
        if let Some((v, i)) = self.get("Priority") {
            job.priority = Some(v.parse().map_err(|_| self.err(i, "an integer priority", v))?);
        }
        if let Some((v, _)) = self.get("Dependency") {
            job.depends_on = parse_dependency(v);
        }
        Ok(job)
    }

    fn timelimit(&self) -> Result<Option<f64>, LineError> {
        match self.get("Timelimit") {
            None | Some(("UNLIMITED" | "Partition_Limit" | "INVALID" | "NONE", _)) => Ok(None),
            Some((v, i)) => parse_slurm_duration(v)
                .map(Some)
                .ok_or_else(|| self.err(i, "a time limit like 1-02:03:04, UNLIMITED or Partition_Limit", v)),
        }
    }

    fn state(&self, job: &mut Job) -> Result<(), LineError> {
        let Some((v, i)) = self.get("State") else { return Ok(()) };
        let mut words = v.split_whitespace();
        let word = words.next().unwrap_or("");
        job.status = match word {
            "COMPLETED" => JobStatus::Completed,
            "FAILED" | "OUT_OF_MEMORY" | "NODE_FAIL" | "BOOT_FAIL" => JobStatus::Failed,
            "CANCELLED" | "PREEMPTED" | "REVOKED" => JobStatus::Cancelled,
            "TIMEOUT" | "DEADLINE" => JobStatus::Timeout,
            "PENDING" | "RUNNING" | "REQUEUED" | "RESIZING" | "SUSPENDED" | "REQUEUE_FED" | "REQUEUE_HOLD"
            | "SPECIAL_EXIT" | "STOPPED" => JobStatus::Unknown,
            _ => return Err(self.err(i, "a Slurm job state such as COMPLETED or CANCELLED by 1234", v)),
        };
        if word != job.status.as_str().to_ascii_uppercase() {
            job.labels.insert("slurm_state".into(), word.to_string());
        }
        if let (Some("by"), Some(uid)) = (words.next(), words.next()) {
            job.labels.insert("cancelled_by".into(), uid.to_string());
        }
        Ok(())
    }

    /// GPUs (and their model) from `ReqTRES`, else `AllocTRES`; memory from
    /// `mem=` when there is no `ReqMem`.
    fn tres(&self, job: &mut Job) -> Result<(), LineError> {
        for col in ["ReqTRES", "AllocTRES"] {
            let Some((v, i)) = self.get(col) else { continue };
            let mut gpus = None;
            for item in v.split(',') {
                let Some((key, val)) = item.split_once('=') else {
                    return Err(self.err(i, "TRES items like gres/gpu=4 separated by commas", v));
                };
                if let Some(kind) = key.strip_prefix("gres/gpu") {
                    let n: u32 = val.parse().map_err(|_| self.err(i, "a whole GPU count in gres/gpu=N", v))?;
                    match kind.strip_prefix(':') {
                        Some(model) => {
                            job.gpu_type.get_or_insert_with(|| model.to_string());
                            gpus.get_or_insert(n);
                        }
                        None => gpus = Some(n),
                    }
                } else if key == "mem" && job.req_mem_mb.is_none() {
                    job.req_mem_mb = Some(parse_mem_mb(val).ok_or_else(|| self.err(i, "a memory size like mem=16G", v))?.0);
                }
            }
            if gpus.is_some() {
                job.req_gpus = gpus;
                break;
            }
        }
        Ok(())
    }

    /// `ReqMem` with units (K, M, G, T) and an optional per-CPU (`c`) or
    /// per-node (`n`) suffix, as total MiB.
    fn memory(&self, job: &mut Job) -> Result<(), LineError> {
        let Some((v, i)) = self.get("ReqMem") else { return Ok(()) };
        let (mb, per) = parse_mem_mb(v).ok_or_else(|| self.err(i, "a memory size like 4000M, 16G, 4000Mc or 4000Mn", v))?;
        let factor = match per {
            Some('c') => u64::from(job.req_cpus.unwrap_or(1)),
            Some('n') => u64::from(job.req_nodes.unwrap_or(1)),
            _ => 1,
        };
        job.req_mem_mb = Some(mb.saturating_mul(factor));
        Ok(())
    }
}

/// Parses `4000M`, `16G`, `4000Mc`, `512` (MiB) into MiB and the per-unit suffix.
pub(super) fn parse_mem_mb(v: &str) -> Option<(u64, Option<char>)> {
    let (body, per) = match v.chars().last()? {
        c @ ('c' | 'n') => (&v[..v.len() - 1], Some(c)),
        _ => (v, None),
    };
    let (num, unit) = match body.chars().last()? {
        c if c.is_ascii_alphabetic() => (&body[..body.len() - 1], c.to_ascii_uppercase()),
        _ => (body, 'M'),
    };
    let x: f64 = num.parse().ok().filter(|x: &f64| x.is_finite() && *x >= 0.0)?;
    let mb = match unit {
        'K' => x / 1024.0,
        'M' => x,
        'G' => x * 1024.0,
        'T' => x * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((mb.ceil() as u64, per))
}

/// Job ids in a dependency such as `afterok:123:124,afterany:125(unfulfilled)`.
fn parse_dependency(v: &str) -> Vec<String> {
    v.split([',', '?'])
        .flat_map(|clause| clause.split('(').next().unwrap_or("").split(':').skip(1))
        .filter(|id| !id.is_empty() && id.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}
