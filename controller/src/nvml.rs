//! NVML telemetry: a sampler that appends one row per GPU per tick to the
//! telemetry table (wide CSV: `ts,node,device,job_id,` then one column per
//! metric, as `foresight_datasets::read_telemetry` reads it).
//!
//! Without an NVIDIA driver it says so once and goes on: sampling becomes a
//! no-op and the controller keeps running.

use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The metric columns, in order.
pub const METRICS: [&str; 8] =
    ["gpu_util_pct", "mem_util_pct", "mem_used_mib", "mem_total_mib", "power_w", "sm_clock_mhz", "mem_clock_mhz", "temp_c"];

/// What can go wrong writing telemetry.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The table file could not be written.
    #[error("write telemetry table {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// One device's readings at one time; a reading NVML refused is `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceSample {
    /// Device index.
    pub device: u32,
    /// Values in [`METRICS`] order.
    pub values: [Option<f64>; 8],
}

/// Samples every GPU of this node into a telemetry table.
pub struct Sampler {
    nvml: Option<Nvml>,
    unavailable: Option<String>,
    node: String,
    path: PathBuf,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler").field("available", &self.nvml.is_some()).field("node", &self.node).field("path", &self.path).finish()
    }
}

impl Sampler {
    /// Opens NVML for node `node`, writing to `path`. Without a driver the
    /// sampler logs one warning and stays a no-op.
    pub fn new(node: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        let (nvml, unavailable) = match Nvml::init() {
            Ok(n) => (Some(n), None),
            Err(e) => {
                let why = format!("no NVIDIA driver or NVML library ({e}): GPU telemetry is off");
                tracing::warn!("{why}");
                (None, Some(why))
            }
        };
        Self { nvml, unavailable, node: node.into(), path: path.into() }
    }

    /// Why sampling is off, when it is.
    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    /// Reads every device now. Empty without NVML.
    pub fn read(&self) -> Vec<DeviceSample> {
        let Some(nvml) = &self.nvml else { return Vec::new() };
        let count = nvml.device_count().unwrap_or(0);
        (0..count)
            .filter_map(|i| nvml.device_by_index(i).ok().map(|d| (i, d)))
            .map(|(i, d)| {
                let util = d.utilization_rates().ok();
                let mem = d.memory_info().ok();
                let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
                DeviceSample {
                    device: i,
                    values: [
                        util.as_ref().map(|u| f64::from(u.gpu)),
                        util.as_ref().map(|u| f64::from(u.memory)),
                        mem.as_ref().map(|m| mib(m.used)),
                        mem.as_ref().map(|m| mib(m.total)),
                        d.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
                        d.clock_info(Clock::SM).ok().map(f64::from),
                        d.clock_info(Clock::Memory).ok().map(f64::from),
                        d.temperature(TemperatureSensor::Gpu).ok().map(f64::from),
                    ],
                }
            })
            .collect()
    }

    /// Reads every device and appends the rows stamped `ts_unix_s`; returns
    /// how many rows were written (0 without NVML).
    pub fn sample(&self, ts_unix_s: f64) -> Result<usize, TelemetryError> {
        let rows = self.read();
        if rows.is_empty() {
            return Ok(0);
        }
        append_rows(&self.path, &self.node, ts_unix_s, &rows)?;
        Ok(rows.len())
    }
}

/// Appends samples to the table at `path`, writing the header first when
/// the file is new or empty. A missing reading is an empty cell.
pub fn append_rows(path: &Path, node: &str, ts_unix_s: f64, rows: &[DeviceSample]) -> Result<(), TelemetryError> {
    let io = |source| TelemetryError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
    let mut out = String::new();
    if file.metadata().map_err(io)?.len() == 0 {
        out.push_str("ts,node,device,job_id,");
        out.push_str(&METRICS.join(","));
        out.push('\n');
    }
    for r in rows {
        out.push_str(&format!("{ts_unix_s:.3},{node},{},", r.device));
        for v in &r.values {
            out.push(',');
            if let Some(v) = v {
                out.push_str(&format!("{v}"));
            }
        }
        out.push('\n');
    }
    file.write_all(out.as_bytes()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_driver_it_says_why_and_samples_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("telemetry.csv");
        let s = Sampler::new("n1", &path);
        if s.unavailable().is_none() {
            eprintln!("skipped: an NVIDIA driver is present; this test covers the no-driver path");
            return;
        }
        assert!(s.unavailable().unwrap().contains("telemetry is off"));
        for t in 0..3 {
            assert_eq!(s.sample(f64::from(t)).unwrap(), 0);
        }
        assert!(!path.exists(), "no table without devices");
    }

    #[test]
    fn rows_have_a_header_once_and_empty_cells_for_refused_readings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut values = [Some(50.0); 8];
        values[4] = None;
        let row = DeviceSample { device: 1, values };
        append_rows(&path, "n1", 1.5, std::slice::from_ref(&row)).unwrap();
        append_rows(&path, "n1", 2.5, &[row]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ts,node,device,job_id,gpu_util_pct"));
        assert_eq!(lines[1], "1.500,n1,1,,50,50,50,50,,50,50,50");
    }
}
