//! Training and prediction speed on a million synthetic jobs (goals: train
//! in under 30 s on 2 cores; over a million predictions per second).
//!
//! Run: `cargo bench -p foresight-models --bench train` (set
//! `RAYON_NUM_THREADS=2` to hold it to two cores; `FORESIGHT_BENCH_JOBS`
//! changes the job count, `FORESIGHT_BENCH_KINDS` the model kinds, e.g.
//! `gbt,linear`). Each figure is printed in wall time and in CPU time
//! (user + system of the whole process, from `/proc/self/stat`, so that a
//! loaded machine can still be compared with itself).

use foresight_datasets::synthetic::{Synthetic, SyntheticConfig};
use foresight_models::features::{Schema, build_matrix};
use foresight_models::history::JobTelemetry;
use foresight_models::{ModelKind, RuntimeModel};
use std::hint::black_box;
use std::time::Instant;

/// CPU seconds used by this process so far (0 where `/proc` is absent).
fn cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name (which may hold spaces): utime is the
    // 12th, stime the 13th, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

/// Runs `f`, returning its result, wall seconds and CPU seconds.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (t, c) = (Instant::now(), cpu_s());
    let out = f();
    (out, t.elapsed().as_secs_f64(), cpu_s() - c)
}

fn main() {
    let jobs: u64 = std::env::var("FORESIGHT_BENCH_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let kinds: Vec<ModelKind> = std::env::var("FORESIGHT_BENCH_KINDS")
        .unwrap_or_else(|_| "gbt,gbt-median,linear".into())
        .split(',')
        .map(|k| k.parse().expect("a model kind"))
        .collect();
    let threads = rayon::current_num_threads();
    let table = Synthetic::table(SyntheticConfig { jobs, users: 2_000, ..SyntheticConfig::default() });
    let schema = Schema::from_jobs(&table.meta, &table.jobs);
    let (rows, wall, cpu) = timed(|| build_matrix(&schema, &table.jobs, &JobTelemetry::new()));
    let n = rows.len() as f64;
    let runtimes: Vec<f64> = table.jobs.iter().map(|j| j.runtime_s.unwrap_or(0.0)).collect();
    println!("{} jobs, {} features: featurised in {wall:.2} s ({cpu:.2} s CPU), {:.2} M rows/s", rows.len(), schema.width(), n / wall / 1e6);
    for kind in kinds {
        let (model, wall, cpu) = timed(|| RuntimeModel::train_matrix(kind, &schema, &rows, &runtimes).expect("trains"));
        println!("{kind}: trained on {} jobs in {wall:.2} s ({cpu:.2} s CPU, {threads} threads)", rows.len());
        let mut out = vec![0.0; rows.len()];
        let ((), wall, cpu) = timed(|| model.predict_into(&schema, &rows, &mut out));
        black_box(&out);
        println!("  batch of featurised rows, one thread: {:.2} M predictions/s ({:.2} M per CPU second)", n / wall / 1e6, n / cpu.max(1e-9) / 1e6);
        let (p, wall, cpu) = timed(|| model.predict_matrix(&schema, &rows));
        black_box(p);
        println!("  batch of featurised rows, {threads} threads: {:.2} M predictions/s ({:.2} M per CPU second)", n / wall / 1e6, n / cpu.max(1e-9) / 1e6);
        let (p, wall, cpu) = timed(|| model.predict_matrix(&schema, &build_matrix(&schema, &table.jobs, &JobTelemetry::new())));
        black_box(p);
        println!("  full path (featurise + predict), {threads} threads: {:.2} M jobs/s ({:.2} M per CPU second)", n / wall / 1e6, n / cpu.max(1e-9) / 1e6);
        let (sum, wall, cpu) = timed(|| rows.rows().map(|r| model.predict(&schema, r)).sum::<f64>());
        black_box(sum);
        println!("  one row at a time, one thread: {:.2} M predictions/s ({:.2} M per CPU second)", n / wall / 1e6, n / cpu.max(1e-9) / 1e6);
    }
}
