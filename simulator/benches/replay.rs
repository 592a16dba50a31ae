//! Replay speed: jobs per second replaying KTH-SP2 under EASY and EASY++,
//! and the time and peak memory of a ten-million-job synthetic trace.
//!
//! `cargo bench -p foresight-simulator --bench replay`. Environment:
//! `FORESIGHT_BENCH_JOBS` sets the synthetic size (`0` skips it),
//! `FORESIGHT_BENCH_RUNS` the timed KTH-SP2 runs per case (21), and
//! `FORESIGHT_BENCH_ONLY` keeps the KTH-SP2 cases whose `policy/predictor`
//! contains it (for `valgrind --tool=callgrind` on one case).

use foresight_core::policy::{Policy, PolicySpec};
use foresight_core::predictor::PredictorKind;
use foresight_core::{Cluster, Resources};
use foresight_datasets::synthetic::{Synthetic, SyntheticConfig};
use foresight_datasets::{ReadOptions, read_trace, shared::dataset};
use foresight_simulator::metrics::report;
use foresight_simulator::{Filter, SimOptions, Workload, WorkloadBuilder, WorkloadOptions, simulate};
use std::time::Instant;

fn main() {
    kth();
    synthetic();
}

/// Runs one simulation and returns its wall time in seconds.
fn time_once(w: &Workload, c: &Cluster, policy: &str, predictor: &str) -> f64 {
    let spec: PolicySpec = policy.parse().expect("known policy");
    let kind: PredictorKind = predictor.parse().expect("known predictor");
    let mut p = spec.build();
    let mut pred = kind.build(|| w.effective_runtimes());
    let t = Instant::now();
    let r = simulate(w, c, &mut p, pred.as_mut(), &SimOptions::default()).expect("the run succeeds");
    let dt = t.elapsed().as_secs_f64();
    assert_eq!(r.stats.never_started, 0, "{}", p.name());
    dt
}

fn kth() {
    let Some(path) = dataset("pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz") else {
        println!("skipped: KTH-SP2 dataset missing");
        return;
    };
    let table = read_trace(&path, &ReadOptions::default()).expect("KTH reads").table;
    let cluster = table.meta.default_cluster().expect("KTH declares its machine");
    let opts = WorkloadOptions { filter: Filter::Predictsim, ..WorkloadOptions::default() };
    let w = Workload::from_jobs(&table.jobs, &cluster, opts);
    let runs: usize = env_or("FORESIGHT_BENCH_RUNS", 21).max(1);
    let only = std::env::var("FORESIGHT_BENCH_ONLY").unwrap_or_default();
    for (policy, predictor) in [("easy", "requested"), ("easy++", "easy++"), ("easy++", "clairvoyant")] {
        if !format!("{policy}/{predictor}").contains(&only) {
            continue;
        }
        let _ = time_once(&w, &cluster, policy, predictor);
        let cpu0 = cpu_seconds();
        let mut times: Vec<f64> = (0..runs).map(|_| time_once(&w, &cluster, policy, predictor)).collect();
        let cpu = (cpu_seconds() - cpu0) / runs as f64;
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "KTH-SP2 {policy}/{predictor}: {} jobs in {:.2} ms wall (median of {runs}) = {:.2} M jobs/s (best {:.2} M jobs/s); {:.2} ms CPU per run = {:.2} M jobs/s of CPU",
            w.len(),
            median * 1e3,
            w.len() as f64 / median / 1e6,
            w.len() as f64 / times[0] / 1e6,
            cpu * 1e3,
            w.len() as f64 / cpu / 1e6,
        );
    }
}

fn synthetic() {
    let jobs: u64 = env_or("FORESIGHT_BENCH_JOBS", 10_000_000);
    if jobs == 0 {
        return;
    }
    // 64 nodes of 32 CPUs; about 70 % offered load.
    let cluster = Cluster::homogeneous("n", 64, Resources::new(32, 0, 0));
    let cfg = SyntheticConfig { jobs, users: 2000, cpus: 2048, mean_interarrival_s: 45.0, ..SyntheticConfig::default() };
    let t0 = Instant::now();
    let c0 = cpu_seconds();
    let mut b = WorkloadBuilder::new(&cluster, WorkloadOptions::default());
    for job in Synthetic::new(cfg) {
        b.push(&job);
    }
    let w = b.finish();
    let t_gen = t0.elapsed().as_secs_f64();
    let spec: PolicySpec = "easy".parse().expect("known policy");
    let mut p = spec.build();
    let mut pred = PredictorKind::Requested.build(Vec::new);
    let t1 = Instant::now();
    let c1 = cpu_seconds();
    let r = simulate(&w, &cluster, &mut p, pred.as_mut(), &SimOptions::default()).expect("the run succeeds");
    let t_sim = t1.elapsed().as_secs_f64();
    let c_sim = cpu_seconds() - c1;
    let t2 = Instant::now();
    let rep = report(&w, cluster.total(), &r, "easy", "requested");
    let t_rep = t2.elapsed().as_secs_f64();
    println!(
        "synthetic {jobs} jobs on 2048 CPUs, easy/requested: generate+load {t_gen:.1} s, simulate {t_sim:.1} s wall, {c_sim:.1} s CPU ({:.2} M jobs/s of CPU), report {t_rep:.1} s, total {:.1} s wall, {:.1} s CPU; peak memory {:.0} MiB; utilisation {:.1} %, mean wait {:.0} s",
        jobs as f64 / c_sim / 1e6,
        t0.elapsed().as_secs_f64(),
        cpu_seconds() - c0,
        peak_rss_mib(),
        rep.summary.cpu_utilisation * 100.0,
        rep.summary.mean_wait_s,
    );
}

/// An environment variable's value, or `default` when unset or not a number.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU time (user and system) this process has used, seconds (Linux
/// `/proc/self/stat`, in clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (tick(11) + tick(12)) / 100.0
}

/// Peak resident memory of this process (Linux `VmHWM`), MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
