//! The telemetry table in Parquet at any size: a sample log streamed in
//! from CSV in batches (memory bounded by the batch, not the file), and the
//! per-job and per-user aggregates (mean and peak of every metric: GPU
//! utilisation, memory, power, ...) computed by lazy Polars queries run on
//! Polars' streaming engine, so that a file larger than the memory given to
//! the process aggregates.
//!
//! The online, per-job features a model reads live stay on their one Rust
//! path (`foresight_models::history`); this is the batch side.

use crate::csv::for_each_row;
use crate::error::IngestError;
use crate::reject::SkipReport;
use crate::telemetry::parquet::frame;
use crate::telemetry::{PARQUET_KIND_KEY, Sample, metrics_of, samples_of};
use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;
use std::fs::File;
use std::io::BufRead;
use std::path::Path;

/// Samples written per Parquet row group while streaming.
pub const BATCH_SAMPLES: usize = 1 << 16;

/// What a streamed conversion wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// Samples written.
    pub samples: u64,
    /// The metric columns of the log, in order.
    pub metrics: Vec<String>,
    /// Lines skipped (empty in strict mode).
    pub skipped: SkipReport,
}

fn parquet_err(path: &Path) -> impl Fn(PolarsError) -> IngestError + '_ {
    move |e| IngestError::Parquet { path: path.to_path_buf(), message: e.to_string() }
}

/// The long table's schema: `ts_s, node, device, job_id, metric, value`.
fn schema() -> Schema {
    Schema::from_iter([
        Field::new("ts_s".into(), DataType::Float64),
        Field::new("node".into(), DataType::String),
        Field::new("device".into(), DataType::UInt32),
        Field::new("job_id".into(), DataType::String),
        Field::new("metric".into(), DataType::String),
        Field::new("value".into(), DataType::Float64),
    ])
}

/// The batches of a conversion on their way to the file; the writer is
/// made at the first batch, when the header has named the metrics.
struct Batches<'a> {
    out: &'a Path,
    file: Option<File>,
    writer: Option<BatchedWriter<File>>,
    buffer: Vec<Sample>,
    samples: u64,
}

impl Batches<'_> {
    fn flush(&mut self, header: &[String]) -> Result<(), IngestError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let err = parquet_err(self.out);
        if let Some(file) = self.file.take() {
            let kv = KeyValueMetadata::from_static(vec![
                (PARQUET_KIND_KEY.to_string(), "telemetry".to_string()),
                ("foresight.metrics".to_string(), metrics_of(header).join(",")),
            ]);
            self.writer = Some(ParquetWriter::new(file).with_key_value_metadata(Some(kv)).batched(&schema()).map_err(&err)?);
        }
        let writer = self.writer.as_mut().expect("made at the first batch");
        writer.write_batch(&frame(&self.buffer).map_err(&err)?).map_err(&err)?;
        self.samples += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }
}

/// Streams a wide NVML sample log (`input`, read from `path`) into the long
/// telemetry table at `out`, `batch` samples at a time: the same table
/// [`crate::telemetry::parquet::write`] writes from memory, readable by
/// [`crate::telemetry::parquet::read`].
pub fn convert<R: BufRead>(input: R, path: &Path, strict: bool, out: &Path, batch: usize) -> Result<Converted, IngestError> {
    let file = File::create(out).map_err(|e| IngestError::io(out, e))?;
    let batch = batch.max(1);
    let mut b = Batches { out, file: Some(file), writer: None, buffer: Vec::with_capacity(batch), samples: 0 };
    let (header, skipped) = for_each_row(input, path, strict, &["ts"], samples_of, |header, row| {
        b.buffer.extend(row);
        if b.buffer.len() >= batch { b.flush(header) } else { Ok(()) }
    })?;
    b.flush(&header)?;
    let err = parquet_err(out);
    match (b.writer.take(), b.file.take()) {
        (Some(w), _) => {
            w.finish().map_err(&err)?;
        }
        (None, Some(mut file)) => {
            if skipped.is_empty() {
                return Err(IngestError::Empty { path: path.to_path_buf(), what: "telemetry sample" });
            }
            // every line was skipped: an empty table, still a telemetry file
            let kv = KeyValueMetadata::from_static(vec![(PARQUET_KIND_KEY.to_string(), "telemetry".to_string())]);
            let mut empty = frame(&[]).map_err(&err)?;
            ParquetWriter::new(&mut file).with_key_value_metadata(Some(kv)).finish(&mut empty).map_err(&err)?;
        }
        (None, None) => unreachable!("the file goes to the writer"),
    }
    Ok(Converted { samples: b.samples, metrics: metrics_of(&header), skipped })
}

/// How the per-job and per-user aggregates are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Polars' streaming engine: the file is read in morsels, never whole.
    Streaming,
    /// Polars' in-memory engine (for comparison and small files).
    InMemory,
}

fn collect(lf: LazyFrame, engine: Engine, path: &Path) -> Result<DataFrame, IngestError> {
    let engine = match engine {
        Engine::Streaming => polars::prelude::Engine::Streaming,
        Engine::InMemory => polars::prelude::Engine::InMemory,
    };
    // a query with one sink gives one table
    Ok(lf.collect_with_engine(engine).map_err(parquet_err(path))?.unwrap_single())
}

fn scan(path: &Path) -> Result<LazyFrame, IngestError> {
    let name = path.to_str().ok_or_else(|| IngestError::Parquet { path: path.to_path_buf(), message: "the path is not UTF-8".into() })?;
    LazyFrame::scan_parquet(name.into(), ScanArgsParquet::default()).map_err(parquet_err(path))
}

/// A group's mean, peak and sample count.
fn stats() -> [Expr; 3] {
    [
        col("value").mean().alias("mean"),
        col("value").max().alias("peak"),
        col("value").count().cast(DataType::UInt64).alias("samples"),
    ]
}

/// The metrics of a telemetry table: as its writer listed them in the
/// file's metadata, else the distinct values of its `metric` column.
pub fn metrics(telemetry: &Path) -> Result<Vec<String>, IngestError> {
    let err = parquet_err(telemetry);
    let file = File::open(telemetry).map_err(|e| IngestError::io(telemetry, e))?;
    let md = ParquetReader::new(file).get_metadata().map_err(&err)?.clone();
    let listed = md.key_value_metadata().as_ref().and_then(|kv| {
        kv.iter().find(|k| k.key == "foresight.metrics").and_then(|k| k.value.clone())
    });
    if let Some(list) = listed.filter(|l| !l.is_empty()) {
        return Ok(list.split(',').map(str::to_string).collect());
    }
    let df = collect(scan(telemetry)?.select([col("metric").unique().sort(SortOptions::default())]), Engine::Streaming, telemetry)?;
    let column = df.column("metric").map_err(&err)?.str().map_err(&err)?.clone();
    Ok(column.iter().flatten().map(str::to_string).collect())
}

/// Runs `query` once per metric on the samples of that metric that belong
/// to a job, names each result's rows with their metric, and stacks them
/// sorted by `by` then metric. One metric at a time: Polars' streaming
/// group-by keeps its memory bounded on one string key, and grows with the
/// data on two (measured: 88 MB against 340 MB for 50 M samples).
fn per_metric(
    telemetry: &Path,
    engine: Engine,
    by: &str,
    query: impl Fn(LazyFrame) -> LazyFrame,
) -> Result<DataFrame, IngestError> {
    let err = parquet_err(telemetry);
    let mut out: Option<DataFrame> = None;
    for m in metrics(telemetry)? {
        let samples = scan(telemetry)?.filter(col("job_id").is_not_null().and(col("metric").eq(lit(m.clone()))));
        let part = collect(query(samples).with_column(lit(m).alias("metric")), engine, telemetry)?;
        out = Some(match out {
            None => part,
            Some(mut df) => {
                df.vstack_mut(&part.select(df.get_column_names_owned()).map_err(&err)?).map_err(&err)?;
                df
            }
        });
    }
    let Some(df) = out else { return Ok(DataFrame::empty()) };
    let mut columns: Vec<String> = vec![by.to_string(), "metric".to_string()];
    columns.extend(df.get_column_names().iter().map(|c| c.to_string()).filter(|c| c != by && c != "metric"));
    df.select(columns).map_err(&err)?.sort([by, "metric"], SortMultipleOptions::default()).map_err(&err)
}

/// The mean, peak and sample count of every metric, per job: `job_id,
/// metric, mean, peak, samples`, sorted by job and metric. Samples taken
/// while no job ran on the device are left out.
pub fn per_job(telemetry: &Path, engine: Engine) -> Result<DataFrame, IngestError> {
    per_metric(telemetry, engine, "job_id", |samples| samples.group_by([col("job_id")]).agg(stats()))
}

/// The same per user, from the job table at `jobs` (a Parquet job table
/// written by `ingest`: its `job_id` and `user`): `user, metric, mean (over
/// the user's samples), peak, samples, jobs`, sorted by user and metric.
/// Samples of a job the table does not know are left out.
pub fn per_user(telemetry: &Path, jobs: &Path, engine: Engine) -> Result<DataFrame, IngestError> {
    let owners = scan(jobs)?.select([col("job_id"), col("user")]).unique(None, UniqueKeepStrategy::First);
    per_metric(telemetry, engine, "user", |samples| {
        samples
            .join(owners.clone(), [col("job_id")], [col("job_id")], JoinArgs::new(JoinType::Inner))
            .filter(col("user").is_not_null())
            .group_by([col("user")])
            .agg([stats().as_slice(), &[col("job_id").n_unique().cast(DataType::UInt64).alias("jobs")]].concat())
    })
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::JobTable;
    use foresight_core::Job;

    const LOG: &str = "ts,job_id,gpu_util_pct,power_w\n1,,0,70\n2,a,50,200\n3,a,90,300\n4,b,10,100\n5,a,70,250\n6,,0,71\n";

    fn converted(dir: &Path, batch: usize) -> std::path::PathBuf {
        let out = dir.join("t.parquet");
        let c = convert(LOG.as_bytes(), Path::new("t.csv"), true, &out, batch).unwrap();
        assert_eq!((c.samples, c.metrics.clone()), (12, vec!["gpu_util_pct".to_string(), "power_w".to_string()]));
        out
    }

    #[test]
    fn a_streamed_conversion_is_the_table_read_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        // 3 samples a batch: several row groups
        let out = converted(dir.path(), 3);
        assert!(crate::telemetry::parquet::is_telemetry(&out).unwrap());
        let (whole, _) = crate::telemetry::read(LOG.as_bytes(), Path::new("t.csv"), true).unwrap();
        assert_eq!(crate::telemetry::parquet::read(&out).unwrap(), whole);
    }

    #[test]
    fn per_job_and_per_user_aggregates_are_the_means_and_peaks() {
        let dir = tempfile::tempdir().unwrap();
        let out = converted(dir.path(), 4);
        let jobs = dir.path().join("jobs.parquet");
        let job = |id: &str, user: &str| Job { job_id: id.into(), user: Some(user.into()), ..Job::default() };
        crate::parquet::write(&JobTable { meta: Default::default(), jobs: vec![job("a", "u1"), job("b", "u1")] }, &jobs).unwrap();
        for engine in [Engine::Streaming, Engine::InMemory] {
            let df = per_job(&out, engine).unwrap();
            assert_eq!(df.height(), 4, "{df}");
            let mean = df.column("mean").unwrap().f64().unwrap().clone();
            let peak = df.column("peak").unwrap().f64().unwrap().clone();
            // job a: gpu 50, 90, 70; power 200, 300, 250
            assert_eq!((mean.get(0), peak.get(0)), (Some(70.0), Some(90.0)));
            assert_eq!((mean.get(1), peak.get(1)), (Some(250.0), Some(300.0)));
            let users = per_user(&out, &jobs, engine).unwrap();
            assert_eq!(users.height(), 2, "{users}");
            let mean = users.column("mean").unwrap().f64().unwrap().clone();
            let jobs_n = users.column("jobs").unwrap().u64().unwrap().clone();
            // u1's GPU samples: 50, 90, 10, 70
            assert_eq!((mean.get(0), jobs_n.get(0)), (Some(55.0), Some(2)));
        }
    }

    #[test]
    fn a_bad_value_is_reported_where_it_is_and_an_empty_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.parquet");
        let err = convert("ts,power_w\n1,70\n2,7x\n".as_bytes(), Path::new("t.csv"), true, &out, 8).unwrap_err();
        assert_eq!(err.to_string(), "t.csv: line 3, column 3: field `power_w`: expected a number, found `7x`");
        let err = convert("ts,power_w\n".as_bytes(), Path::new("t.csv"), true, &out, 8).unwrap_err();
        assert!(err.to_string().contains("telemetry sample"), "{err}");
    }
}
