//! Alibaba `openb` GPU pod lists (cluster-trace-gpu-v2023): one pod a row,
//! CPU in thousandths of a core, GPUs whole or shared (`gpu_milli`), times
//! in seconds from the trace's start.

use crate::csv::{Record, read_rows};
use crate::error::{IngestError, LineError};
use crate::table::{Ingested, JobTable};
use foresight_core::{FeatureValue, Job, JobStatus, TraceMeta};
use std::io::BufRead;
use std::path::Path;

/// The columns this format must have.
pub const COLUMNS: [&str; 5] = ["name", "cpu_milli", "num_gpu", "creation_time", "pod_phase"];

/// Reads an `openb` pod list; `path` names it in errors.
pub fn read<R: BufRead>(input: R, path: &Path, strict: bool) -> Result<Ingested, IngestError> {
    let (jobs, _, skipped) = read_rows(input, path, strict, &COLUMNS, to_job)?;
    if jobs.is_empty() && skipped.is_empty() {
        return Err(IngestError::Empty { path: path.to_path_buf(), what: "job" });
    }
    let mut meta = TraceMeta { format: "openb".into(), source: path.display().to_string(), ..TraceMeta::default() };
    meta.notes.push("pods still running at the end of the trace have status unknown and end at their deletion_time".into());
    Ok(Ingested { table: JobTable { meta, jobs }, skipped })
}

fn to_job(r: &Record<'_>) -> Result<Job, LineError> {
    let submit = r.required_num("creation_time")?;
    if submit < 0.0 {
        return Err(r.err("creation_time", "a non-negative time", r.get("creation_time").unwrap_or("")));
    }
    let start = r.num("scheduled_time")?;
    let end = r.num("deletion_time")?.filter(|_| start.is_some());
    if let (Some(s), Some(e)) = (start, end)
        && e < s {
            return Err(r.err("deletion_time", "a time at or after scheduled_time", r.get("deletion_time").unwrap_or("")));
        }
    let phase = r.get("pod_phase").unwrap_or("");
    let status = match phase {
        "Succeeded" => JobStatus::Completed,
        "Failed" => JobStatus::Failed,
        "Running" | "Pending" => JobStatus::Unknown,
        _ => return Err(r.err("pod_phase", "Succeeded, Failed, Running or Pending", phase)),
    };
    let cpu_milli = r.count("cpu_milli")?.unwrap_or(0);
    let mut job = Job {
        job_id: r.get("name").ok_or_else(|| r.err("name", "a pod name", ""))?.to_string(),
        queue: r.get("qos").map(str::to_string),
        submit_s: submit,
        start_s: start,
        end_s: end,
        runtime_s: start.zip(end).map(|(s, e)| e - s),
        req_cpus: Some(cpu_milli.div_ceil(1000).min(u64::from(u32::MAX)) as u32),
        req_gpus: r.count("num_gpu")?.map(|g| g.min(u64::from(u32::MAX)) as u32),
        req_mem_mb: r.count("memory_mib")?,
        gpu_type: r.get("gpu_spec").map(str::to_string),
        status,
        ..Job::default()
    };
    job.labels.insert("pod_phase".into(), phase.to_string());
    job.features.insert("cpu_milli".into(), FeatureValue::Num(cpu_milli as f64));
    if let Some(milli) = r.num("gpu_milli")? {
        job.features.insert("gpu_milli".into(), FeatureValue::Num(milli));
    }
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0
openb-pod-0001,6500,12288,1,460,V100M16|V100M32,BE,Succeeded,427061,430000,427100
openb-pod-0002,8000,24576,0,0,,BE,Pending,1558381,1600000,
";

    #[test]
    fn pods_map_onto_jobs() {
        let t = read(SAMPLE.as_bytes(), Path::new("pods.csv"), true).unwrap().table;
        let j = &t.jobs[1];
        assert_eq!((j.req_cpus, j.req_gpus, j.req_mem_mb), (Some(7), Some(1), Some(12288)));
        assert_eq!((j.start_s, j.runtime_s, j.status), (Some(427100.0), Some(2900.0), JobStatus::Completed));
        assert_eq!(j.gpu_type.as_deref(), Some("V100M16|V100M32"));
        assert_eq!(j.features["gpu_milli"], FeatureValue::Num(460.0));
        assert_eq!(j.queue.as_deref(), Some("BE"));
        let pending = &t.jobs[2];
        assert_eq!((pending.start_s, pending.end_s, pending.status), (None, None, JobStatus::Unknown));
    }

    #[test]
    fn deletion_before_scheduling_is_an_error() {
        let text = SAMPLE.replace("427061,430000,427100", "427061,400000,427100");
        let err = read(text.as_bytes(), Path::new("pods.csv"), true).unwrap_err().to_string();
        assert!(err.contains("line 3, column") && err.contains("field `deletion_time`"), "{err}");
    }
}
