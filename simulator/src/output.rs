//! Results on disk: the report as JSON, per-job outcomes as Parquet.

use crate::engine::SimResult;
use crate::metrics::{Report, job_metrics};
use crate::run::SimError;
use crate::workload::Workload;
use polars::prelude::*;
use std::fs::File;
use std::path::Path;

/// Writes a report (or any serialisable result) as pretty JSON.
pub fn write_json<T: serde::Serialize>(value: &T, path: &Path) -> Result<(), SimError> {
    let err = |message: String| SimError::Output { path: path.to_path_buf(), message };
    let text = serde_json::to_string_pretty(value).map_err(|e| err(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| err(e.to_string()))
}

/// One row per job: ids, submission, start, end, wait, response, runtime,
/// bounded slowdown, estimate, flags. `job_ids` gives the trace's job id by
/// source row, when known.
pub fn jobs_frame(workload: &Workload, result: &SimResult, job_ids: Option<&dyn Fn(u32) -> String>) -> PolarsResult<DataFrame> {
    let m: Vec<_> = (0..workload.len()).map(|k| job_metrics(workload, result, k)).collect();
    let jobs = &workload.jobs;
    let o = &result.outcomes;
    let f = |g: &dyn Fn(usize) -> Option<f64>| (0..jobs.len()).map(g).collect::<Vec<Option<f64>>>();
    let ids: Vec<String> = workload
        .source_row
        .iter()
        .map(|&r| job_ids.map_or_else(|| r.to_string(), |f| f(r)))
        .collect();
    let columns = vec![
        Column::new("job_id".into(), ids),
        Column::new("row".into(), workload.source_row.clone()),
        Column::new("user".into(), jobs.iter().map(|j| workload.names.users.name(j.info.user)).collect::<Vec<_>>()),
        Column::new("group".into(), jobs.iter().map(|j| workload.names.groups.name(j.info.group)).collect::<Vec<_>>()),
        Column::new("queue".into(), jobs.iter().map(|j| workload.names.queues.name(j.info.queue)).collect::<Vec<_>>()),
        Column::new("req_cpus".into(), jobs.iter().map(|j| j.info.demand.total.cpus).collect::<Vec<_>>()),
        Column::new("req_gpus".into(), jobs.iter().map(|j| j.info.demand.total.gpus).collect::<Vec<_>>()),
        Column::new("submit_s".into(), jobs.iter().map(|j| j.info.submit_s).collect::<Vec<_>>()),
        Column::new("start_s".into(), f(&|i| Some(o[i].start_s).filter(|t| !t.is_nan()))),
        Column::new("end_s".into(), f(&|i| Some(o[i].end_s).filter(|t| !t.is_nan()))),
        Column::new("wait_s".into(), f(&|i| m[i].map(|x| x.wait_s))),
        Column::new("response_s".into(), f(&|i| m[i].map(|x| x.response_s))),
        Column::new("runtime_s".into(), f(&|i| m[i].map(|x| x.runtime_s))),
        Column::new("bsld".into(), f(&|i| m[i].map(|x| x.bsld))),
        Column::new("estimate_s".into(), f(&|i| Some(o[i].estimate_s).filter(|t| !t.is_nan()))),
        Column::new("killed".into(), o.iter().map(|x| x.killed).collect::<Vec<_>>()),
        Column::new("failed".into(), o.iter().map(|x| x.failed).collect::<Vec<_>>()),
        Column::new("backfilled".into(), o.iter().map(|x| x.backfilled).collect::<Vec<_>>()),
        Column::new("requeues".into(), o.iter().map(|x| u32::from(x.requeues)).collect::<Vec<_>>()),
        Column::new("corrections".into(), o.iter().map(|x| u32::from(x.corrections)).collect::<Vec<_>>()),
    ];
    DataFrame::new(jobs.len(), columns)
}

/// Writes per-job outcomes to a Parquet file.
pub fn write_jobs_parquet(
    workload: &Workload,
    result: &SimResult,
    job_ids: Option<&dyn Fn(u32) -> String>,
    path: &Path,
) -> Result<(), SimError> {
    let err = |message: String| SimError::Output { path: path.to_path_buf(), message };
    let mut df = jobs_frame(workload, result, job_ids).map_err(|e| err(e.to_string()))?;
    let mut file = File::create(path).map_err(|e| err(e.to_string()))?;
    ParquetWriter::new(&mut file).finish(&mut df).map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// The summaries of reports as one row each (for comparison tables).
pub fn summaries_frame(reports: &[Report]) -> PolarsResult<DataFrame> {
    let col = |name: &str, g: &dyn Fn(&Report) -> f64| Column::new(name.into(), reports.iter().map(g).collect::<Vec<_>>());
    let columns = vec![
        Column::new("policy".into(), reports.iter().map(|r| r.policy.as_str()).collect::<Vec<_>>()),
        Column::new("predictor".into(), reports.iter().map(|r| r.predictor.as_str()).collect::<Vec<_>>()),
        col("mean_wait_s", &|r| r.summary.mean_wait_s),
        col("median_wait_s", &|r| r.summary.median_wait_s),
        col("p95_wait_s", &|r| r.summary.p95_wait_s),
        col("p99_wait_s", &|r| r.summary.p99_wait_s),
        col("avg_bsld", &|r| r.summary.avg_bsld),
        col("max_bsld", &|r| r.summary.max_bsld),
        col("cpu_utilisation", &|r| r.summary.cpu_utilisation),
        col("gpu_utilisation", &|r| r.summary.gpu_utilisation),
        col("makespan_s", &|r| r.summary.makespan_s),
    ];
    DataFrame::new(reports.len(), columns)
}

pub use polars::prelude::DataFrame;

/// Writes a frame as Parquet to an open file.
pub fn write_frame(df: &mut DataFrame, file: &mut File) -> PolarsResult<()> {
    ParquetWriter::new(file).finish(df)?;
    Ok(())
}
