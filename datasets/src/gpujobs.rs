//! GPU job logs with the features users submit (the `h100-jobs` CSV
//! format): one job a row with Unix-second times, a status, a time limit,
//! and any number of further columns kept as features.

use crate::csv::{Record, read_rows};
use crate::error::{IngestError, LineError};
use crate::table::{Ingested, JobTable};
use foresight_core::{Capacity, FeatureValue, Job, JobStatus, TraceMeta};
use std::io::BufRead;
use std::path::Path;

/// Columns with a canonical meaning; every other column is a feature.
const CANONICAL: [&str; 11] = [
    "job_id", "tenant", "user", "group", "queue", "kind", "submit_ts", "start_ts", "end_ts", "runtime_s", "status",
];
/// Further columns read into canonical fields.
const LIMITS: [&str; 2] = ["time_limit_s", "gpus"];

/// Columns of this format that were measured while the job ran, not
/// submitted: a model must not use them to predict the job itself.
pub const OBSERVED_COLUMNS: [&str; 1] = ["peak_mem_mib"];

/// Reads a GPU job log; `path` names it in errors.
pub fn read<R: BufRead>(input: R, path: &Path, strict: bool) -> Result<Ingested, IngestError> {
    let (jobs, _, skipped) = read_rows(input, path, strict, &["job_id", "submit_ts", "status"], to_job)?;
    if jobs.is_empty() && skipped.is_empty() {
        return Err(IngestError::Empty { path: path.to_path_buf(), what: "job" });
    }
    let mut table = JobTable {
        meta: TraceMeta {
            format: "gpujobs".into(),
            source: path.display().to_string(),
            capacity: Capacity { cpus: None, nodes: Some(1), gpus: Some(1) },
            ..TraceMeta::default()
        },
        jobs,
    };
    table.meta.notes.push("a GPU job log: every job ran on one GPU of one node".into());
    table.rebase_to_first_submit();
    table.type_features();
    Ok(Ingested { table, skipped })
}

fn to_job(r: &Record<'_>) -> Result<Job, LineError> {
    let submit = r.required_num("submit_ts")?;
    let start = r.num("start_ts")?;
    let end = r.num("end_ts")?;
    let runtime = match (r.num("runtime_s")?, start, end) {
        (Some(rt), _, _) => Some(rt),
        (None, Some(s), Some(e)) => Some(e - s),
        _ => None,
    };
    if runtime.is_some_and(|rt| rt < 0.0) {
        return Err(r.err("runtime_s", "a non-negative runtime", r.get("runtime_s").unwrap_or("end_ts before start_ts")));
    }
    let status_text = r.get("status").unwrap_or("");
    let status: JobStatus = status_text
        .parse()
        .map_err(|_| r.err("status", "completed, failed, cancelled, timeout or unknown", status_text))?;
    let mut job = Job {
        job_id: r.get("job_id").ok_or_else(|| r.err("job_id", "a job id", ""))?.to_string(),
        user: r.get("tenant").or(r.get("user")).map(str::to_string),
        group: r.get("group").map(str::to_string),
        queue: r.get("queue").map(str::to_string),
        name: r.get("kind").map(str::to_string),
        submit_s: submit,
        start_s: start,
        end_s: end,
        runtime_s: runtime,
        req_gpus: Some(r.count("gpus")?.map_or(1, |g| g.min(u64::from(u32::MAX)) as u32)),
        req_time_s: r.num("time_limit_s")?.filter(|t| *t > 0.0),
        status,
        ..Job::default()
    };
    let known: Vec<&str> = CANONICAL.iter().chain(&LIMITS).copied().collect();
    for (name, value) in r.others(&known) {
        job.features.insert(name.to_string(), FeatureValue::Text(value.to_string()));
    }
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
job_id,tenant,kind,submit_ts,start_ts,end_ts,runtime_s,status,peak_mem_mib,time_limit_s,d_model,steps,dtype,amp
j0,nlp,train_transformer,1000.5,1000.5,1009.0,8.5,completed,2002,20.0,2048,61,float32,
j1,hpc,matmul,1009.0,1009.0,1029.0,20.0,timeout,89,20.0,,32,bfloat16,True
";

    #[test]
    fn features_are_kept_typed_and_times_rebased() {
        let t = read(SAMPLE.as_bytes(), Path::new("jobs.csv"), true).unwrap().table;
        assert_eq!(t.meta.epoch_unix_s, Some(1000.5));
        let j = &t.jobs[1];
        assert_eq!((j.submit_s, j.end_s, j.runtime_s), (8.5, Some(28.5), Some(20.0)));
        assert_eq!((j.status, j.req_time_s, j.req_gpus), (JobStatus::Timeout, Some(20.0), Some(1)));
        assert_eq!((j.user.as_deref(), j.name.as_deref()), (Some("hpc"), Some("matmul")));
        assert_eq!(t.jobs[0].features["d_model"], FeatureValue::Num(2048.0));
        assert_eq!(j.features["dtype"], FeatureValue::Text("bfloat16".into()));
        assert_eq!(j.features["amp"], FeatureValue::Text("True".into()));
        assert!(!j.features.contains_key("d_model"), "empty cells are absent");
        assert_eq!(t.feature_names(), ["amp", "d_model", "dtype", "peak_mem_mib", "steps"]);
    }

    #[test]
    fn a_bad_status_names_its_column() {
        let text = SAMPLE.replace("timeout", "boom");
        let err = read(text.as_bytes(), Path::new("jobs.csv"), true).unwrap_err().to_string();
        assert_eq!(err, "jobs.csv: line 3, column 41: field `status`: expected completed, failed, cancelled, timeout or unknown, found `boom`");
    }
}
