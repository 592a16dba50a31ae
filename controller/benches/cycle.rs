//! The decision-cycle latency of shadow mode with 10,000 pending jobs on
//! 1,000 nodes (goal: p99 under 5 ms). Each measured cycle sees one job
//! end, one start and one arrive, as a busy cluster would between polls.
//! A cycle is what the controller's loop does with one observation: the
//! engine takes it in (tracker diff, the model for the new job, both kept
//! states brought up to date, the baseline and the candidate asked, the
//! finished job measured) and every record it returns is appended to a
//! decision log (serialised, checksummed, written; fsync off, as a disk's
//! fsync is no CPU work: `FORESIGHT_BENCH_FSYNC=always` puts it in).
//!
//! `cargo bench -p foresight-controller --bench cycle` prints p50, p90, p99
//! and max of the wall time per cycle, and the CPU time per cycle (all
//! threads, from `/proc/self/stat`, averaged over the cycles), which a
//! loaded machine disturbs far less. `FORESIGHT_BENCH_CYCLES=N` sets the
//! number of cycles (300); `FORESIGHT_BENCH_BREAKDOWN=0` skips the
//! per-policy timings at the end (for instruction counts with callgrind:
//! run with N and with 0 cycles and subtract).

use foresight_controller::adapter::{ClusterView, JobView, NodeView, Phase};
use foresight_controller::log::{FsyncPolicy, LogConfig, LogWriter};
use foresight_controller::model::ServedModel;
use foresight_controller::shadow::engine::{Engine, EngineConfig};
use foresight_controller::shadow::feed;
use foresight_core::runtime::{Runtime, RuntimeConfig};
use foresight_core::policy::{Policy, PolicySpec};
use foresight_core::predictor::PredictorKind;
use foresight_core::{Job, NodeSpec, Resources};
use std::time::{Duration, Instant};

const NODES: usize = 1_000;
const PENDING: usize = 10_000;
const CPUS: u32 = 32;

fn job(id: usize, phase: Phase, now: f64, node: Option<usize>) -> JobView {
    let cpus = [1, 2, 4, 8, 16, 32, 64][id % 7];
    let start = (phase == Phase::Running).then_some(now - (id % 600) as f64);
    JobView {
        job: Job {
            job_id: id.to_string(),
            user: Some(format!("u{}", id % 97)),
            group: Some(format!("g{}", id % 13)),
            queue: Some("batch".into()),
            submit_s: now - 3600.0 + (id % 3600) as f64,
            start_s: start,
            req_cpus: Some(cpus),
            req_nodes: Some(u32::from(cpus > CPUS) + 1),
            req_time_s: Some(60.0 * (1 + id % 240) as f64),
            ..Job::default()
        },
        phase,
        nodes: node.map(|n| vec![format!("n{n}")]).unwrap_or_default(),
        node_cpus: Vec::new(),
        held: false,
        control: Default::default(),
    }
}

/// CPU seconds used so far by the process, all threads (dead ones too).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // the fields after the command name, which is in parentheses
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    // utime and stime are fields 14 and 15, in clock ticks (100 per second)
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let now = 1.8e9;
    let nodes: Vec<NodeView> = (0..NODES)
        .map(|i| NodeView {
            spec: NodeSpec { name: format!("n{i}"), capacity: Resources::new(CPUS, 0, 0), gpu_type: None },
            state: "mixed".into(),
            usable: true,
            allocated: Resources::new(CPUS - 1, 0, 0),
        })
        .collect();
    // one 16-cpu and one 8-cpu job on every node, the rest pending
    let mut jobs: Vec<JobView> = Vec::with_capacity(PENDING + 2 * NODES);
    let mut next = 1usize;
    for n in 0..NODES {
        for _ in 0..2 {
            let mut j = job(next, Phase::Running, now, Some(n));
            j.job.req_cpus = Some(if jobs.len().is_multiple_of(2) { 16 } else { 8 });
            j.job.req_nodes = Some(1);
            jobs.push(j);
            next += 1;
        }
    }
    for _ in 0..PENDING {
        jobs.push(job(next, Phase::Pending, now, None));
        next += 1;
    }
    let mut view = ClusterView { at_unix_s: now, nodes, jobs };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let candidate: PolicySpec = "easy++".parse().unwrap();
    let baseline: PolicySpec = "priority".parse().unwrap();
    let model = ServedModel::of_kind(PredictorKind::UserHistory, "bench");
    let cfg = EngineConfig { deadline: Duration::from_secs(10), ..EngineConfig::default() };
    let (c, b) = (candidate.clone(), baseline.clone());
    let mut engine = Engine::new(
        cfg,
        move || Box::new(c.build()),
        move || Box::new(b.build()),
        baseline.predictor.build(Vec::new),
        Ok(model),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut log_cfg = LogConfig::new(dir.path().join("decisions.log"));
    log_cfg.fsync = if std::env::var("FORESIGHT_BENCH_FSYNC").is_ok_and(|v| v == "always") {
        FsyncPolicy::Always
    } else {
        FsyncPolicy::Never
    };
    let mut writer = LogWriter::open(log_cfg).unwrap();
    let warm = Instant::now();
    rt.block_on(engine.cycle(&view, "state_change")).write(&mut writer, || view.at_unix_s).unwrap();
    eprintln!("first cycle (predicts all {} jobs): {:.1} ms", view.jobs.len(), warm.elapsed().as_secs_f64() * 1e3);

    let rounds = env("FORESIGHT_BENCH_CYCLES", 300);
    let mut lat = Vec::with_capacity(rounds);
    let mut cpu = 0.0;
    let mut records = 0usize;
    for r in 0..rounds {
        // one running job ends, the oldest pending starts in its place, one arrives
        view.at_unix_s += 1.0;
        let i = r % (2 * NODES);
        let node = view.jobs[i].nodes.clone();
        view.jobs[i].phase = Phase::Finished;
        view.jobs[i].job.end_s = Some(view.at_unix_s);
        let p = view.jobs.iter().position(|j| j.phase == Phase::Pending).unwrap();
        view.jobs[p].phase = Phase::Running;
        view.jobs[p].job.start_s = Some(view.at_unix_s);
        view.jobs[p].nodes = node;
        view.jobs.push(job(next, Phase::Pending, view.at_unix_s, None));
        next += 1;
        let (t, c) = (Instant::now(), cpu_s());
        let cycled = rt.block_on(engine.cycle(&view, "state_change"));
        let n = cycled.write(&mut writer, || view.at_unix_s).unwrap();
        assert!(n >= 2, "a cycle and a finished job");
        records += n;
        cpu += cpu_s() - c;
        lat.push(t.elapsed());
        // the finished job leaves the orchestrator's list, as Slurm forgets
        // it, and a new running job takes its place in the list
        view.jobs[i] = job(next, Phase::Running, view.at_unix_s, Some(i / 2));
        next += 1;
    }
    let log_bytes = std::fs::metadata(dir.path().join("decisions.log")).map_or(0, |m| m.len());
    if env("FORESIGHT_BENCH_BREAKDOWN", 1) != 0 {
        // where the time goes, on the final state
        let tracker = engine.tracker();
        let time = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            for _ in 0..20 {
                f();
            }
            t.elapsed().as_secs_f64() * 1e3 / 20.0
        };
        let mut state = None;
        let index = feed::node_index(tracker);
        let build = time(&mut || {
            let mut rt = Runtime::new(tracker.cluster(), Box::new(baseline.build()), PredictorKind::Requested.build(Vec::new), RuntimeConfig::default());
            feed::rebuild(&mut rt, tracker, &index, |_| Some(600.0), view.at_unix_s);
            state = Some(rt.state().clone());
        });
        let state = state.unwrap();
        let (mut cand, mut base) = (candidate.build(), baseline.build());
        let cand_ms = time(&mut || drop(cand.decide(&state, view.at_unix_s)));
        let base_ms = time(&mut || drop(base.decide(&state, view.at_unix_s)));
        let mut t2 = foresight_controller::shadow::track::Tracker::new();
        t2.apply(&view);
        let apply_ms = time(&mut || drop(t2.apply(&view)));
        eprintln!(
            "breakdown (wall, one thread): {} decide {cand_ms:.2} ms, {} decide {base_ms:.2} ms, tracker diff of an unchanged view {apply_ms:.2} ms; a runtime built from scratch (only on rebuilds) {build:.2} ms",
            candidate.name, baseline.name
        );
    }
    if rounds == 0 {
        return;
    }
    lat.sort();
    let pct = |q: f64| lat[((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1].as_secs_f64() * 1e3;
    println!(
        "decision cycle, {PENDING} pending jobs on {NODES} nodes, {rounds} cycles ({records} records, {:.1} KiB logged per cycle): wall p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; CPU {:.2} ms per cycle (goal: p99 < 5 ms)",
        log_bytes as f64 / 1024.0 / rounds as f64,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0),
        cpu * 1e3 / rounds as f64
    );
}
