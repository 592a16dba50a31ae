//! Training and prediction speed on a million synthetic jobs (goals: train
//! in under 30 s on 2 cores; over a million predictions per second).
//!
//! Run: `cargo bench -p foresight-models --bench train` (set
//! `RAYON_NUM_THREADS=2` to hold it to two cores; `FORESIGHT_BENCH_JOBS`
//! changes the job count).

use foresight_datasets::synthetic::{Synthetic, SyntheticConfig};
use foresight_models::features::{Schema, build_rows};
use foresight_models::history::JobTelemetry;
use foresight_models::{ModelKind, RuntimeModel};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let jobs: u64 = std::env::var("FORESIGHT_BENCH_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let table = Synthetic::table(SyntheticConfig { jobs, users: 2_000, ..SyntheticConfig::default() });
    let t = Instant::now();
    let schema = Schema::from_jobs(&table.meta, &table.jobs);
    let rows = build_rows(&schema, &table.jobs, &JobTelemetry::new());
    let featurise_s = t.elapsed().as_secs_f64();
    let runtimes: Vec<f64> = table.jobs.iter().map(|j| j.runtime_s.unwrap_or(0.0)).collect();
    println!("{} jobs, {} features: featurised in {featurise_s:.2} s", rows.len(), schema.width());
    for kind in [ModelKind::GbtMedian, ModelKind::Gbt, ModelKind::Linear] {
        let t = Instant::now();
        let model = RuntimeModel::train(kind, &schema, &rows, &runtimes).expect("trains");
        let train_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut sum = 0.0;
        for r in &rows {
            sum += model.predict(&schema, r);
        }
        black_box(sum);
        let per_s = rows.len() as f64 / t.elapsed().as_secs_f64();
        println!(
            "{kind}: trained on {} jobs in {train_s:.2} s ({} threads); {:.2} M predictions/s on one thread",
            rows.len(),
            rayon::current_num_threads(),
            per_s / 1e6
        );
    }
}
