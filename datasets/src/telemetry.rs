//! NVML telemetry samples into the telemetry table of `DESIGN.md`:
//! `ts_s, node, device, job_id, metric, value`, one row per measured value.

use crate::csv::read_rows;
use crate::error::IngestError;
use crate::reject::SkipReport;
use std::io::BufRead;
use std::path::Path;

/// One measured value of one device at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Unix seconds.
    pub ts_s: f64,
    /// The node, when the log names it.
    pub node: Option<String>,
    /// The device index on the node.
    pub device: u32,
    /// The job that ran on the device at the time, if any.
    pub job_id: Option<String>,
    /// What was measured (`gpu_util_pct`, `power_w`, ...): the column name.
    pub metric: String,
    /// The value.
    pub value: f64,
}

/// The telemetry table: samples in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TelemetryTable {
    /// The samples, one per metric per time stamp.
    pub samples: Vec<Sample>,
    /// The metric names, in column order.
    pub metrics: Vec<String>,
}

/// The columns of a sample log that are not metrics.
const KEYS: [&str; 4] = ["ts", "node", "device", "job_id"];

/// The metric columns of a sample log's header, in order.
pub(crate) fn metrics_of(header: &[String]) -> Vec<String> {
    header.iter().filter(|h| !KEYS.contains(&h.as_str())).cloned().collect()
}

/// The samples of one row of a wide sample log: one per metric column.
pub(crate) fn samples_of(r: &crate::csv::Record<'_>) -> Result<Vec<Sample>, crate::error::LineError> {
    let ts = r.required_num("ts")?;
    let node = r.get("node").map(str::to_string);
    let device = r.count("device")?.unwrap_or(0).min(u64::from(u32::MAX)) as u32;
    let job_id = r.get("job_id").map(str::to_string);
    let mut samples = Vec::new();
    for (metric, text) in r.others(&KEYS) {
        let value = text.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| r.err(metric, "a number", text))?;
        samples.push(Sample { ts_s: ts, node: node.clone(), device, job_id: job_id.clone(), metric: metric.to_string(), value });
    }
    Ok(samples)
}

/// Reads a wide NVML sample log (`ts`, optional `node`, `device`, `job_id`,
/// then one column per metric) into the long telemetry table.
pub fn read<R: BufRead>(input: R, path: &Path, strict: bool) -> Result<(TelemetryTable, SkipReport), IngestError> {
    let (rows, header, skipped) = read_rows(input, path, strict, &["ts"], samples_of)?;
    let samples: Vec<Sample> = rows.into_iter().flatten().collect();
    if samples.is_empty() && skipped.is_empty() {
        return Err(IngestError::Empty { path: path.to_path_buf(), what: "telemetry sample" });
    }
    let metrics = metrics_of(&header);
    Ok((TelemetryTable { samples, metrics }, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_rows_become_long_samples() {
        let text = "ts,job_id,gpu_util_pct,power_w\n1.5,,0,72.6\n1.6,j1,95,300.25\n";
        let (t, skipped) = read(text.as_bytes(), Path::new("t.csv"), true).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(t.metrics, ["gpu_util_pct", "power_w"]);
        assert_eq!(t.samples.len(), 4);
        assert_eq!(t.samples[3], Sample { ts_s: 1.6, node: None, device: 0, job_id: Some("j1".into()), metric: "power_w".into(), value: 300.25 });
    }

    #[test]
    fn a_garbled_value_names_its_metric() {
        let err = read("ts,power_w\n1.5,7x\n".as_bytes(), Path::new("t.csv"), true).unwrap_err().to_string();
        assert_eq!(err, "t.csv: line 2, column 5: field `power_w`: expected a number, found `7x`");
    }
}

/// Key of the table kind in a telemetry Parquet file's key-value metadata.
pub const PARQUET_KIND_KEY: &str = "foresight.table";

#[cfg(feature = "parquet")]
/// The telemetry table as Parquet (long form: `ts_s, node, device, job_id,
/// metric, value`), and back.
pub mod parquet {
    use super::{PARQUET_KIND_KEY, Sample, TelemetryTable};
    use crate::error::IngestError;
    use polars::prelude::*;
    use std::fs::File;
    use std::path::Path;

    /// Samples as the long table's data frame: `ts_s, node, device,
    /// job_id, metric, value`.
    pub(crate) fn frame(s: &[Sample]) -> PolarsResult<DataFrame> {
        DataFrame::new(
            s.len(),
            vec![
                Column::new("ts_s".into(), s.iter().map(|x| x.ts_s).collect::<Vec<_>>()),
                Column::new("node".into(), s.iter().map(|x| x.node.as_deref()).collect::<Vec<_>>()),
                Column::new("device".into(), s.iter().map(|x| x.device).collect::<Vec<_>>()),
                Column::new("job_id".into(), s.iter().map(|x| x.job_id.as_deref()).collect::<Vec<_>>()),
                Column::new("metric".into(), s.iter().map(|x| x.metric.as_str()).collect::<Vec<_>>()),
                Column::new("value".into(), s.iter().map(|x| x.value).collect::<Vec<_>>()),
            ],
        )
    }

    /// Writes the table to `path`.
    pub fn write(table: &TelemetryTable, path: &Path) -> Result<(), IngestError> {
        let err = |e: PolarsError| IngestError::Parquet { path: path.to_path_buf(), message: e.to_string() };
        let mut df = frame(&table.samples).map_err(err)?;
        let mut file = File::create(path).map_err(|e| IngestError::io(path, e))?;
        let kv = KeyValueMetadata::from_static(vec![
            (PARQUET_KIND_KEY.to_string(), "telemetry".to_string()),
            ("foresight.metrics".to_string(), table.metrics.join(",")),
        ]);
        ParquetWriter::new(&mut file).with_key_value_metadata(Some(kv)).finish(&mut df).map_err(err)?;
        Ok(())
    }

    /// True when the Parquet file at `path` holds a telemetry table.
    pub fn is_telemetry(path: &Path) -> Result<bool, IngestError> {
        let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
        let md = ParquetReader::new(file)
            .get_metadata()
            .map_err(|e| IngestError::Parquet { path: path.to_path_buf(), message: e.to_string() })?
            .clone();
        Ok(md
            .key_value_metadata()
            .as_ref()
            .is_some_and(|kv| kv.iter().any(|k| k.key == PARQUET_KIND_KEY && k.value.as_deref() == Some("telemetry"))))
    }

    /// Reads a table written by [`write`].
    pub fn read(path: &Path) -> Result<TelemetryTable, IngestError> {
        let err = |e: PolarsError| IngestError::Parquet { path: path.to_path_buf(), message: e.to_string() };
        let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
        let df = ParquetReader::new(file).finish().map_err(err)?;
        let get = |name: &str| df.column(name).map_err(err);
        let ts = get("ts_s")?.f64().map_err(err)?.clone();
        let node = get("node")?.str().map_err(err)?.clone();
        let device = get("device")?.u32().map_err(err)?.clone();
        let job = get("job_id")?.str().map_err(err)?.clone();
        let metric = get("metric")?.str().map_err(err)?.clone();
        let value = get("value")?.f64().map_err(err)?.clone();
        let mut samples = Vec::with_capacity(df.height());
        let mut metrics: Vec<String> = Vec::new();
        for i in 0..df.height() {
            let m = metric.get(i).unwrap_or_default().to_string();
            if !metrics.contains(&m) {
                metrics.push(m.clone());
            }
            samples.push(Sample {
                ts_s: ts.get(i).unwrap_or(f64::NAN),
                node: node.get(i).map(str::to_string),
                device: device.get(i).unwrap_or(0),
                job_id: job.get(i).map(str::to_string),
                metric: m,
                value: value.get(i).unwrap_or(f64::NAN),
            });
        }
        Ok(TelemetryTable { samples, metrics })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn telemetry_round_trips_through_parquet() {
            let text = "ts,job_id,gpu_util_pct,power_w\n1.5,,0,72.6\n1.6,j1,95,300.25\n";
            let (t, _) = super::super::read(text.as_bytes(), Path::new("t.csv"), true).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.parquet");
            write(&t, &path).unwrap();
            assert!(is_telemetry(&path).unwrap());
            assert_eq!(read(&path).unwrap(), t);
        }
    }
}
