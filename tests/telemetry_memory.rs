//! End-to-end: a telemetry log larger than the memory given to the process
//! is ingested (streamed into Parquet) and aggregated per job (Polars'
//! streaming engine) inside a memory cgroup whose limit is below the
//! log's size and below the table's size in memory; the aggregates are
//! checked against the values the generator put in.
//!
//! Needs root and the cgroup v1 memory controller (as on this machine
//! kind); skips otherwise, or fails when FORESIGHT_REQUIRE_CGROUP=1 (as
//! `.ci/run` sets). Sizes: `FORESIGHT_TELEMETRY_ROWS` rows of two metrics
//! (default 2,000,000: a 40 MB log, 4 M samples, which Polars' in-memory
//! engine aggregates in about 570 MB) under `FORESIGHT_TELEMETRY_LIMIT_MB`
//! (default 128). docs/performance.md has the 4 GB run.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CGROUPS: &str = "/sys/fs/cgroup/memory";
const SAMPLES_PER_JOB: u64 = 1000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A memory cgroup limited to `limit` bytes, removed when dropped.
struct Limited {
    dir: PathBuf,
}

impl Limited {
    fn new(limit: u64) -> Option<Limited> {
        let why = if !Path::new(CGROUPS).join("memory.limit_in_bytes").exists() {
            Some(format!("no cgroup v1 memory controller at {CGROUPS}"))
        } else {
            None
        };
        let dir = Path::new(CGROUPS).join(format!("foresight-test-{}", std::process::id()));
        let made = why.is_none() && std::fs::create_dir_all(&dir).is_ok();
        if !made {
            let why = why.unwrap_or_else(|| format!("cannot create a cgroup under {CGROUPS} (not root?)"));
            if std::env::var_os("FORESIGHT_REQUIRE_CGROUP").is_some_and(|v| v == "1") {
                panic!("{why}, and FORESIGHT_REQUIRE_CGROUP=1");
            }
            eprintln!("skipped: {why}");
            return None;
        }
        std::fs::write(dir.join("memory.limit_in_bytes"), limit.to_string()).unwrap();
        // no swap to escape to, where the kernel accounts it
        let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), limit.to_string());
        Some(Limited { dir })
    }

    /// Runs `foresight ARGS` inside the cgroup.
    fn run(&self, args: &[&str]) -> Output {
        let procs = self.dir.join("cgroup.procs");
        let script = format!("echo $$ > {} && exec \"$0\" \"$@\"", procs.display());
        Command::new("sh").arg("-c").arg(script).arg(env!("CARGO_BIN_EXE_foresight")).args(args).output().expect("sh runs")
    }

    fn peak(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("memory.max_usage_in_bytes")).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// `rows` rows: a job per 1,000 rows, GPU utilisation `i % 101`, power
/// `100 + i % 300`.
fn write_log(path: &Path, rows: u64) -> u64 {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    writeln!(w, "ts,job_id,gpu_util_pct,power_w").unwrap();
    for i in 0..rows {
        writeln!(w, "{i},j{},{},{}", i / SAMPLES_PER_JOB, i % 101, 100 + i % 300).unwrap();
    }
    w.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn a_telemetry_log_larger_than_memory_is_ingested_and_aggregated_within_the_limit() {
    let rows = env_or("FORESIGHT_TELEMETRY_ROWS", 2_000_000).max(SAMPLES_PER_JOB);
    let limit = env_or("FORESIGHT_TELEMETRY_LIMIT_MB", 128) << 20;
    let Some(cgroup) = Limited::new(limit) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (log, table, per_job) = (dir.path().join("log.csv"), dir.path().join("t.parquet"), dir.path().join("jobs.parquet"));
    let bytes = write_log(&log, rows);
    eprintln!("log {bytes} B, {} samples, limit {limit} B", rows * 2);

    let out = cgroup.run(&["ingest", log.to_str().unwrap(), "-o", table.to_str().unwrap()]);
    assert!(out.status.success(), "ingest under {limit} B: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("wrote {} telemetry samples", rows * 2)));
    let out = cgroup.run(&["telemetry", table.to_str().unwrap(), "--per-job", per_job.to_str().unwrap()]);
    assert!(out.status.success(), "telemetry under {limit} B: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
    let jobs = rows.div_ceil(SAMPLES_PER_JOB);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{jobs} jobs with telemetry, {} job-metric aggregates", jobs * 2)));
    let peak = cgroup.peak();
    eprintln!("peak {peak} B of {limit} B");
    assert!(peak <= limit, "the cgroup held the processes to their limit");

    // the same query on the in-memory engine needs the whole table: over
    // the limit, it is killed
    let out = cgroup.run(&["telemetry", table.to_str().unwrap(), "--in-memory"]);
    assert!(!out.status.success(), "the in-memory engine fit under {limit} B: raise FORESIGHT_TELEMETRY_ROWS");

    // the aggregates, read back and checked against what the generator
    // wrote for job j0 (rows 0..1000) and the last job
    use polars::prelude::SerReader;
    let df = polars::prelude::ParquetReader::new(std::fs::File::open(&per_job).unwrap()).finish().unwrap();
    assert_eq!(df.height() as u64, jobs * 2);
    let col = |name: &str| df.column(name).unwrap().clone();
    let (ids, metric, mean, peak, n) = (col("job_id"), col("metric"), col("mean"), col("peak"), col("samples"));
    let row = |id: &str, m: &str| {
        (0..df.height())
            .find(|&i| ids.str().unwrap().get(i) == Some(id) && metric.str().unwrap().get(i) == Some(m))
            .unwrap_or_else(|| panic!("no {id}/{m}"))
    };
    let gpu: Vec<f64> = (0..SAMPLES_PER_JOB).map(|i| (i % 101) as f64).collect();
    let i = row("j0", "gpu_util_pct");
    let mean_gpu = gpu.iter().sum::<f64>() / gpu.len() as f64;
    assert!((mean.f64().unwrap().get(i).unwrap() - mean_gpu).abs() < 1e-9);
    assert_eq!((peak.f64().unwrap().get(i), n.u64().unwrap().get(i)), (Some(100.0), Some(SAMPLES_PER_JOB)));
    let last = format!("j{}", jobs - 1);
    let i = row(&last, "power_w");
    let power: Vec<f64> = ((jobs - 1) * SAMPLES_PER_JOB..rows).map(|r| (100 + r % 300) as f64).collect();
    assert!((mean.f64().unwrap().get(i).unwrap() - power.iter().sum::<f64>() / power.len() as f64).abs() < 1e-9);
    assert_eq!(peak.f64().unwrap().get(i), power.iter().copied().reduce(f64::max));
}
