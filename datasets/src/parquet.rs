//! The canonical job table in Parquet, through Polars: one column per
//! canonical field (names and types as in `DESIGN.md`), one further column
//! per feature, and the trace metadata as JSON in the file's key-value
//! metadata under [`META_KEY`].
//!
//! `labels` (a map) is stored as a JSON object string; `depends_on` as a
//! list of strings. A feature column is `f64` when the feature is numeric,
//! text otherwise.

use crate::error::IngestError;
use crate::table::JobTable;
use foresight_core::{FeatureValue, Job, JobStatus, TraceMeta};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

/// Key of the trace metadata in the Parquet key-value metadata.
pub const META_KEY: &str = "foresight.trace_meta";

/// The canonical columns, in the order they are written.
pub const CANONICAL_COLUMNS: [&str; 20] = [
    "job_id", "attempt", "user", "group", "queue", "name", "submit_s", "start_s", "end_s", "runtime_s",
    "req_gpus", "req_cpus", "req_nodes", "req_mem_mb", "req_time_s", "status", "priority", "gpu_type",
    "depends_on", "labels",
];

fn canonical(name: &str) -> bool {
    CANONICAL_COLUMNS.contains(&name)
}

fn strings<'a>(jobs: &'a [Job], f: impl Fn(&'a Job) -> Option<&'a str>) -> Vec<Option<&'a str>> {
    jobs.iter().map(f).collect()
}

/// The job table as a Polars data frame (metadata not included).
pub fn to_dataframe(table: &JobTable) -> PolarsResult<DataFrame> {
    let typed;
    let table = if features_typed(table) {
        table
    } else {
        let mut t = table.clone();
        t.type_features();
        typed = t;
        &typed
    };
    let jobs = &table.jobs;
    let f64s = |f: fn(&Job) -> Option<f64>| jobs.iter().map(f).collect::<Vec<_>>();
    let u32s = |f: fn(&Job) -> Option<u32>| jobs.iter().map(f).collect::<Vec<_>>();
    let depends: ListChunked = jobs
        .iter()
        .map(|j| Some(Series::new(PlSmallStr::EMPTY, j.depends_on.iter().map(String::as_str).collect::<Vec<_>>())))
        .collect();
    let labels: Vec<Option<String>> = jobs
        .iter()
        .map(|j| (!j.labels.is_empty()).then(|| serde_json::to_string(&j.labels).unwrap_or_default()))
        .collect();
    let mut columns = vec![
        Column::new("job_id".into(), jobs.iter().map(|j| j.job_id.as_str()).collect::<Vec<_>>()),
        Column::new("attempt".into(), jobs.iter().map(|j| j.attempt).collect::<Vec<_>>()),
        Column::new("user".into(), strings(jobs, |j| j.user.as_deref())),
        Column::new("group".into(), strings(jobs, |j| j.group.as_deref())),
        Column::new("queue".into(), strings(jobs, |j| j.queue.as_deref())),
        Column::new("name".into(), strings(jobs, |j| j.name.as_deref())),
        Column::new("submit_s".into(), jobs.iter().map(|j| j.submit_s).collect::<Vec<_>>()),
        Column::new("start_s".into(), f64s(|j| j.start_s)),
        Column::new("end_s".into(), f64s(|j| j.end_s)),
        Column::new("runtime_s".into(), f64s(|j| j.runtime_s)),
        Column::new("req_gpus".into(), u32s(|j| j.req_gpus)),
        Column::new("req_cpus".into(), u32s(|j| j.req_cpus)),
        Column::new("req_nodes".into(), u32s(|j| j.req_nodes)),
        Column::new("req_mem_mb".into(), jobs.iter().map(|j| j.req_mem_mb).collect::<Vec<_>>()),
        Column::new("req_time_s".into(), f64s(|j| j.req_time_s)),
        Column::new("status".into(), jobs.iter().map(|j| j.status.as_str()).collect::<Vec<_>>()),
        Column::new("priority".into(), jobs.iter().map(|j| j.priority).collect::<Vec<_>>()),
        Column::new("gpu_type".into(), strings(jobs, |j| j.gpu_type.as_deref())),
        depends.into_series().with_name("depends_on".into()).into_column(),
        Column::new("labels".into(), labels),
    ];
    for name in table.feature_names() {
        let numeric = jobs.iter().filter_map(|j| j.features.get(&name)).all(|v| matches!(v, FeatureValue::Num(_)));
        let col = if numeric {
            let v: Vec<Option<f64>> = jobs
                .iter()
                .map(|j| match j.features.get(&name) {
                    Some(FeatureValue::Num(x)) => Some(*x),
                    _ => None,
                })
                .collect();
            Column::new(name.as_str().into(), v)
        } else {
            let v: Vec<Option<&str>> = jobs
                .iter()
                .map(|j| match j.features.get(&name) {
                    Some(FeatureValue::Text(t)) => Some(t.as_str()),
                    _ => None,
                })
                .collect();
            Column::new(name.as_str().into(), v)
        };
        columns.push(col);
    }
    DataFrame::new(jobs.len(), columns)
}

/// True when each feature holds one kind of value across the table.
fn features_typed(table: &JobTable) -> bool {
    let mut kind: BTreeMap<&str, bool> = BTreeMap::new();
    table.jobs.iter().flat_map(|j| &j.features).all(|(name, v)| {
        let num = matches!(v, FeatureValue::Num(_));
        *kind.entry(name.as_str()).or_insert(num) == num
    })
}

/// Writes the table to `path` (through a temporary file, renamed into place).
pub fn write(table: &JobTable, path: &Path) -> Result<(), IngestError> {
    let err = |message: String| IngestError::Parquet { path: path.to_path_buf(), message };
    let mut df = to_dataframe(table).map_err(|e| err(e.to_string()))?;
    let meta = serde_json::to_string(&table.meta).map_err(|e| err(e.to_string()))?;
    let tmp = path.with_extension("parquet.tmp");
    let mut file = File::create(&tmp).map_err(|e| IngestError::io(&tmp, e))?;
    ParquetWriter::new(&mut file)
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(META_KEY.to_string(), meta)])))
        .finish(&mut df)
        .map_err(|e| err(e.to_string()))?;
    file.sync_all().map_err(|e| IngestError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| IngestError::io(path, e))
}

/// Reads a job table written by [`write`] (or any Parquet file with at
/// least `job_id` and `submit_s` columns named as in the canonical table).
pub fn read(path: &Path) -> Result<JobTable, IngestError> {
    let err = |message: String| IngestError::Parquet { path: path.to_path_buf(), message };
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let mut reader = ParquetReader::new(file);
    let meta_json = reader
        .get_metadata()
        .map_err(|e| err(e.to_string()))?
        .key_value_metadata()
        .as_ref()
        .and_then(|kv| kv.iter().find(|k| k.key == META_KEY).and_then(|k| k.value.clone()));
    let df = reader.finish().map_err(|e| err(e.to_string()))?;
    let mut meta: TraceMeta = match meta_json {
        Some(json) => serde_json::from_str(&json).map_err(|e| err(format!("bad {META_KEY}: {e}")))?,
        None => TraceMeta { format: "parquet".into(), ..TraceMeta::default() },
    };
    if meta.source.is_empty() {
        meta.source = path.display().to_string();
    }
    let jobs = from_dataframe(&df).map_err(|e| err(e.to_string()))?;
    Ok(JobTable { meta, jobs })
}

/// Rebuilds jobs from a data frame with the canonical column names.
pub fn from_dataframe(df: &DataFrame) -> PolarsResult<Vec<Job>> {
    let mut jobs = vec![Job::default(); df.height()];
    let has = |name: &str| df.get_column_names().iter().any(|c| c.as_str() == name);
    for name in ["job_id", "submit_s"] {
        if !has(name) {
            polars_bail!(ColumnNotFound: "the job table needs a `{}` column", name);
        }
    }
    let text = |name: &str| -> PolarsResult<Option<Vec<Option<String>>>> {
        if !has(name) {
            return Ok(None);
        }
        let c = df.column(name)?.cast(&DataType::String)?;
        Ok(Some(c.str()?.iter().map(|v| v.map(str::to_string)).collect()))
    };
    let float = |name: &str| -> PolarsResult<Option<Vec<Option<f64>>>> {
        if !has(name) {
            return Ok(None);
        }
        let c = df.column(name)?.cast(&DataType::Float64)?;
        Ok(Some(c.f64()?.iter().collect()))
    };
    macro_rules! fill {
        ($col:expr, $conv:expr, |$job:ident, $v:ident| $set:expr) => {
            if let Some(values) = $col? {
                for ($job, $v) in jobs.iter_mut().zip(values) {
                    let $v = $conv($v);
                    $set;
                }
            }
        };
    }
    fill!(text("job_id"), |v: Option<String>| v.unwrap_or_default(), |j, v| j.job_id = v);
    fill!(float("attempt"), |v: Option<f64>| v.unwrap_or(0.0) as u32, |j, v| j.attempt = v);
    fill!(text("user"), |v| v, |j, v| j.user = v);
    fill!(text("group"), |v| v, |j, v| j.group = v);
    fill!(text("queue"), |v| v, |j, v| j.queue = v);
    fill!(text("name"), |v| v, |j, v| j.name = v);
    fill!(float("submit_s"), |v: Option<f64>| v.unwrap_or(0.0), |j, v| j.submit_s = v);
    fill!(float("start_s"), |v| v, |j, v| j.start_s = v);
    fill!(float("end_s"), |v| v, |j, v| j.end_s = v);
    fill!(float("runtime_s"), |v| v, |j, v| j.runtime_s = v);
    fill!(float("req_gpus"), |v: Option<f64>| v.map(|x| x as u32), |j, v| j.req_gpus = v);
    fill!(float("req_cpus"), |v: Option<f64>| v.map(|x| x as u32), |j, v| j.req_cpus = v);
    fill!(float("req_nodes"), |v: Option<f64>| v.map(|x| x as u32), |j, v| j.req_nodes = v);
    fill!(float("req_time_s"), |v| v, |j, v| j.req_time_s = v);
    fill!(text("gpu_type"), |v| v, |j, v| j.gpu_type = v);
    if has("req_mem_mb") {
        let c = df.column("req_mem_mb")?.cast(&DataType::UInt64)?;
        for (j, v) in jobs.iter_mut().zip(c.u64()?.iter()) {
            j.req_mem_mb = v;
        }
    }
    if has("priority") {
        let c = df.column("priority")?.cast(&DataType::Int64)?;
        for (j, v) in jobs.iter_mut().zip(c.i64()?.iter()) {
            j.priority = v;
        }
    }
    if let Some(values) = text("status")? {
        for (j, v) in jobs.iter_mut().zip(values) {
            j.status = match v {
                Some(s) => s.parse().map_err(|e: foresight_core::job::UnknownStatus| polars_err!(ComputeError: "{}", e))?,
                None => JobStatus::Unknown,
            };
        }
    }
    if let Some(values) = text("labels")? {
        for (j, v) in jobs.iter_mut().zip(values) {
            if let Some(json) = v {
                j.labels = serde_json::from_str(&json).map_err(|e| polars_err!(ComputeError: "labels of job {}: {}", j.job_id, e))?;
            }
        }
    }
    if has("depends_on") {
        let c = df.column("depends_on")?;
        let lists = c.list()?;
        for (i, j) in jobs.iter_mut().enumerate() {
            if let Some(s) = lists.get_as_series(i) {
                j.depends_on = s.str()?.iter().flatten().map(str::to_string).collect();
            }
        }
    }
    for col in df.columns() {
        let name = col.name().as_str();
        if canonical(name) {
            continue;
        }
        if col.dtype().is_primitive_numeric() {
            for (j, v) in jobs.iter_mut().zip(col.cast(&DataType::Float64)?.f64()?.iter()) {
                if let Some(x) = v {
                    j.features.insert(name.to_string(), FeatureValue::Num(x));
                }
            }
        } else {
            for (j, v) in jobs.iter_mut().zip(col.cast(&DataType::String)?.str()?.iter()) {
                if let Some(t) = v {
                    j.features.insert(name.to_string(), FeatureValue::Text(t.to_string()));
                }
            }
        }
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests;
