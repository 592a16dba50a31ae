//! One dispatch decision at the scale of issue 15's goal: a pool of 1,000
//! workers (8 CPUs each), as many jobs leased as fit and 10,000 queued,
//! decided by the default policy (`foresight`, EASY++ with a protected
//! head) through `foresight-core`'s runtime, as each `Lease` call decides.
//!
//! `cargo bench -p foresight-server --bench dispatch` prints the p50, p99
//! and max wall time of `Dispatcher::place` over `FORESIGHT_BENCH_RUNS`
//! calls (1), each asked by another worker. It times the decision in
//! memory (building the runtime from the rows, deciding, picking the
//! asking worker's starts); reading the rows from the store is not in it.
//!
//! Figures, with the load they were measured under: docs/serve.md.

use foresight_core::rng::SplitMix64;
use foresight_server::dispatch::Dispatcher;
use foresight_server::store::{Demand, JobRow, JobState, NewJob, WorkerRow};
use std::time::Instant;

const WORKERS: u32 = 1_000;
const LEASED: u64 = 6_000;
const QUEUED: u64 = 10_000;

fn job(id: u64, rng: &mut SplitMix64, state: JobState, worker: String) -> JobRow {
    let cpus = 1 + (rng.next_f64() * 8.0) as u32 % 8;
    let limit = 60.0 * (1.0 + (rng.next_f64() * 240.0).floor());
    JobRow {
        id,
        spec: NewJob {
            tenant: format!("t{}", id % 20),
            pool: "gpu".into(),
            demand: Demand { cpus, ..Demand::default() },
            time_limit_s: limit,
            predicted_runtime_s: limit * (0.05 + 0.9 * rng.next_f64()),
            submitted_at_ms: id as i64 * 100,
            max_attempts: 3,
            ..NewJob::default()
        },
        state,
        attempts: u32::from(state == JobState::Leased),
        not_before_ms: 0,
        started_at_ms: if state == JobState::Leased { id as i64 * 100 } else { 0 },
        worker_id: worker,
        lease_expires_at_ms: 0,
        exit_code: None,
        error: String::new(),
        ended_at_ms: 0,
    }
}

fn main() {
    let runs = std::env::var("FORESIGHT_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(1usize).max(1);
    let mut rng = SplitMix64::new(7);
    let workers: Vec<WorkerRow> = (0..WORKERS)
        .map(|i| WorkerRow {
            id: format!("w{i:04}"),
            pool: "gpu".into(),
            capacity: Demand { cpus: 8, ..Demand::default() },
            seen_at_ms: 0,
        })
        .collect();
    // leased jobs fill each worker up to its 8 CPUs, in turn
    let mut free = vec![8u32; WORKERS as usize];
    let mut leased = Vec::new();
    let mut w = 0usize;
    for id in 1..=LEASED {
        let mut j = job(id, &mut rng, JobState::Leased, String::new());
        let need = j.spec.demand.cpus;
        let Some(k) = (0..WORKERS as usize).map(|d| (w + d) % WORKERS as usize).find(|&k| free[k] >= need) else { continue };
        free[k] -= need;
        j.worker_id = workers[k].id.clone();
        leased.push(j);
        w = (k + 1) % WORKERS as usize;
    }
    let queued: Vec<JobRow> =
        (LEASED + 1..=LEASED + QUEUED).map(|id| job(id, &mut rng, JobState::Queued, String::new())).collect();
    let now_ms = (LEASED + QUEUED) as i64 * 100;
    let mut d = Dispatcher::new("foresight".parse().expect("a preset"), None);
    let mut times = Vec::with_capacity(runs);
    let mut started = 0usize;
    for r in 0..runs {
        let asking = &workers[(r * 37) % workers.len()].id;
        let t = Instant::now();
        let got = d.place(asking, &workers, &leased, &queued, now_ms);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        started += got.len();
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "dispatch, {WORKERS} workers, {} leased, {QUEUED} queued, policy foresight: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {runs} calls ({started} starts given to the asking workers)",
        leased.len(),
        at(0.5),
        at(0.99),
        times[times.len() - 1]
    );
}
