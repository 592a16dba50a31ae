//! One dispatch decision at the scale of issue 15's goal: a pool of 1,000
//! workers (8 CPUs each), as many jobs leased as fit and 10,000 queued,
//! decided by the default policy (`foresight`, EASY++ with a protected
//! head) through `foresight-core`'s runtime, as each `Lease` call decides.
//!
//! `cargo bench -p foresight-server --bench dispatch` prints the p50, p99
//! and max wall time of a decision over `FORESIGHT_BENCH_RUNS` calls (1),
//! each asked by another worker, two ways: `Dispatcher::place`, which
//! builds the runtime from the rows for each call (the rebuild a `Lease`
//! did before the runtime was kept), and `Dispatcher::place_cached` on the
//! runtime kept between calls, with the asking worker's starts then
//! followed into it (`Dispatcher::cache_track`), as a `Lease` now does.
//! `FORESIGHT_BENCH_DISPATCH=rebuild` or `kept` runs one of them. It times
//! the decision in memory; reading the store is not in it.
//! `FORESIGHT_BENCH_DISPATCH=lease` times whole `Queue::lease` calls
//! instead, on the embedded store in memory (the store's reads and writes
//! in, its fsyncs out), each after the asking worker completed a job: on
//! the kept runtime, then with a GPU budget set, which decides from the
//! rows as every `Lease` did before (`lease-kept`: the first only).
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
    let mode = std::env::var("FORESIGHT_BENCH_DISPATCH").unwrap_or_else(|_| "both".into());
    if mode == "both" || mode == "rebuild" {
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
        report("rebuilt from the rows at each call", leased.len(), &mut times, started);
    }
    if mode == "both" || mode == "kept" {
        // the runtime kept between calls: each call decides, and the
        // asking worker's starts are then followed into the kept runtime
        // (as the queue follows its own leases from the event log)
        let mut d = Dispatcher::new("foresight".parse().expect("a preset"), None);
        let t = Instant::now();
        d.cache_build(&workers, &leased, &queued, now_ms).expect("a pool the cache keeps");
        let built_ms = t.elapsed().as_secs_f64() * 1e3;
        let by_id: std::collections::HashMap<u64, &JobRow> = queued.iter().map(|j| (j.id, j)).collect();
        let mut times = Vec::with_capacity(runs);
        let mut started = 0usize;
        for r in 0..runs {
            let asking = &workers[(r * 37) % workers.len()].id;
            let t = Instant::now();
            let got = d.place_cached("gpu", asking, now_ms).expect("trusted").expect("kept");
            for id in &got {
                let mut j = (*by_id[id]).clone();
                j.state = JobState::Leased;
                j.attempts = 1;
                j.worker_id = asking.clone();
                j.started_at_ms = now_ms;
                d.cache_track(*id, Some(&j), now_ms).expect("followed");
            }
            times.push(t.elapsed().as_secs_f64() * 1e3);
            started += got.len();
        }
        report(&format!("kept between calls (built once in {built_ms:.1} ms)"), leased.len(), &mut times, started);
    }
    if mode.starts_with("lease") {
        let jobs: Vec<JobRow> = leased.iter().chain(&queued).cloned().collect();
        leases(&workers, &jobs, runs, false);
        if mode != "lease-kept" {
            leases(&workers, &jobs, runs, true);
        }
    }
    if mode == "both" || mode == "kept" {
        // as above, but each call first ends one job of the asking worker
        // (a worker that completed a job leases again): the decision then
        // starts jobs, and both changes are followed into the kept runtime
        let mut d = Dispatcher::new("foresight".parse().expect("a preset"), None);
        d.cache_build(&workers, &leased, &queued, now_ms).expect("a pool the cache keeps");
        let mut held: std::collections::HashMap<String, Vec<JobRow>> = std::collections::HashMap::new();
        for j in &leased {
            held.entry(j.worker_id.clone()).or_default().push(j.clone());
        }
        let by_id: std::collections::HashMap<u64, &JobRow> = queued.iter().map(|j| (j.id, j)).collect();
        let mut times = Vec::with_capacity(runs);
        let mut started = 0usize;
        for r in 0..runs {
            let asking = &workers[(r * 37) % workers.len()].id;
            let now = now_ms + r as i64;
            let t = Instant::now();
            if let Some(mut done) = held.get_mut(asking).and_then(Vec::pop) {
                done.state = JobState::Succeeded;
                done.ended_at_ms = now;
                d.cache_track(done.id, Some(&done), now).expect("followed");
            }
            let got = d.place_cached("gpu", asking, now).expect("trusted").expect("kept");
            for id in &got {
                let mut j = (*by_id[id]).clone();
                j.state = JobState::Leased;
                j.attempts = 1;
                j.worker_id = asking.clone();
                j.started_at_ms = now;
                d.cache_track(*id, Some(&j), now).expect("followed");
                held.entry(asking.clone()).or_default().insert(0, j);
            }
            times.push(t.elapsed().as_secs_f64() * 1e3);
            started += got.len();
        }
        report("kept, a job of the asking worker ended before each call", leased.len(), &mut times, started);
    }
}

/// Whole `Lease` calls on the queue over the embedded store in memory (no
/// fsync: the time is the call's own), each after a job of the asking
/// worker completed: on the kept runtime, or, with a tenant's GPU budget
/// set (`budgeted`), on the runtime rebuilt from the rows as before.
fn leases(workers: &[WorkerRow], jobs: &[JobRow], runs: usize, budgeted: bool) {
    use foresight_server::auth::{Caller, Role};
    use foresight_server::queue::{Queue, QueueConfig};
    use foresight_server::store::{Actor, JobFilter, SqliteStore, Store, TenantLimits};
    let cfg = QueueConfig { lease_ttl_ms: 1 << 40, ..QueueConfig::default() };
    let store = SqliteStore::in_memory().expect("an in-memory store");
    let mut q = Queue::new(store, Dispatcher::new("foresight".parse().expect("a preset"), None), cfg);
    let who = |t: &str| Caller { tenant: t.into(), role: Role::Admin };
    let batch = jobs.iter().map(|j| (who(&j.spec.tenant), NewJob { idempotency_key: j.id.to_string(), ..j.spec.clone() }));
    q.submit_many(batch.collect()).expect("submitted");
    if budgeted {
        let limits = TenantLimits { tenant: "t0".into(), gpu_hours_per_day: 1e9, ..TenantLimits::default() };
        q.store().put_tenant(&limits, &Actor { tenant: "-".into(), role: "admin".into() }, 0).expect("a tenant");
    }
    let worker = Caller { tenant: "-".into(), role: Role::Worker };
    let mut now = 1_000_000i64;
    for w in workers {
        q.lease(&worker, w.clone(), now).expect("leased");
    }
    let all = JobFilter { states: vec![JobState::Leased], limit: u32::MAX, ..JobFilter::default() };
    let mut held: std::collections::HashMap<String, Vec<(u64, u32)>> = std::collections::HashMap::new();
    for j in q.store().list(&all).expect("listed") {
        held.entry(j.worker_id.clone()).or_default().push((j.id, j.attempts));
    }
    let leased = held.values().map(Vec::len).sum::<usize>();
    let before = q.dispatcher().cache_stats();
    let mut times = Vec::with_capacity(runs);
    let mut started = 0usize;
    for r in 0..runs {
        let w = &workers[(r * 37) % workers.len()];
        now += 10;
        if let Some((id, attempt)) = held.get_mut(&w.id).and_then(Vec::pop) {
            q.complete(&worker, &w.id, id, attempt, 0, now).expect("completed");
        }
        let t = Instant::now();
        let got = q.lease(&worker, w.clone(), now).expect("leased");
        times.push(t.elapsed().as_secs_f64() * 1e3);
        started += got.len();
        for g in got {
            held.entry(w.id.clone()).or_default().insert(0, (g.job.id, g.job.attempts));
        }
    }
    let after = q.dispatcher().cache_stats();
    let how = if budgeted {
        "rebuilt from the rows (a GPU budget set)".to_string()
    } else {
        format!("kept between calls (built {} times, dropped {})", after.builds - before.builds, after.drops - before.drops)
    };
    let queued = jobs.len() - leased;
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "lease, {WORKERS} workers, {leased} leased, {queued} queued, policy foresight, whole Lease calls on the embedded store in memory, runtime {how}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} calls ({started} jobs leased)",
        at(0.5),
        at(0.99),
        times[times.len() - 1],
        times.len()
    );
}

fn report(how: &str, leased: usize, times: &mut [f64], started: usize) {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "dispatch, {WORKERS} workers, {leased} leased, {QUEUED} queued, policy foresight, runtime {how}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} calls ({started} starts given to the asking workers)",
        at(0.5),
        at(0.99),
        times[times.len() - 1],
        times.len()
    );
}
