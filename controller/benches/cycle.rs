//! The decision-cycle latency of shadow mode with 10,000 pending jobs on
//! 1,000 nodes (goal: p99 under 5 ms). Each measured cycle sees one job
//! end, one start and one arrive, as a busy cluster would between polls;
//! the cycle takes in the observation, runs the model for the new job,
//! builds both states, and asks the baseline and the candidate.
//!
//! `cargo bench -p foresight-controller --bench cycle` prints p50/p90/p99.

use foresight_controller::adapter::{ClusterView, JobView, NodeView, Phase};
use foresight_controller::model::PredictorModel;
use foresight_controller::obs::Metrics;
use foresight_controller::shadow::build::cluster_state;
use foresight_controller::shadow::engine::{Engine, EngineConfig};
use foresight_core::policy::Policy;
use foresight_controller::shadow::model_call::shared;
use foresight_core::policy::PolicySpec;
use foresight_core::predictor::PredictorKind;
use foresight_core::{Job, NodeSpec, Resources};
use std::sync::Arc;
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
        held: false,
    }
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
            j.job.req_cpus = Some(if jobs.len() % 2 == 0 { 16 } else { 8 });
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
    let model = PredictorModel::of_kind(PredictorKind::UserHistory, "bench");
    let cfg = EngineConfig { deadline: Duration::from_secs(10), ..EngineConfig::default() };
    let mut engine = Engine::new(
        cfg,
        Box::new(candidate.build()),
        Box::new(baseline.build()),
        baseline.predictor.build(Vec::new),
        shared(Ok(Box::new(model))),
        Arc::new(Metrics::default()),
    );
    let warm = Instant::now();
    rt.block_on(engine.cycle(&view, "state_change"));
    eprintln!("first cycle (predicts all {} jobs): {:.1} ms", view.jobs.len(), warm.elapsed().as_secs_f64() * 1e3);

    let rounds = 300;
    let mut lat = Vec::with_capacity(rounds);
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
        let t = Instant::now();
        let records = rt.block_on(engine.cycle(&view, "state_change"));
        lat.push(t.elapsed());
        assert!(!records.is_empty());
        // the finished job leaves the orchestrator's list, as Slurm forgets it
        view.jobs.remove(i);
        view.jobs.insert(i, job(next, Phase::Running, view.at_unix_s, Some(i / 2)));
        next += 1;
    }
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
    let mut state2 = None;
    let build = time(&mut || state = Some(cluster_state(tracker, view.at_unix_s, |_| 600.0)));
    let state = state.unwrap();
    let (mut cand, mut base) = (candidate.build(), baseline.build());
    let cand_ms = time(&mut || drop(cand.decide(&state, view.at_unix_s)));
    let base_ms = time(&mut || drop(base.decide(&state, view.at_unix_s)));
    let submits_only = time(&mut || {
        let mut st = foresight_core::state::ClusterState::new(tracker.cluster(), 1e6);
        for t in tracker.live() {
            let _ = st.submit(foresight_core::state::PendingJob { info: t.info, estimate_s: 600.0 });
        }
        state2 = Some(st);
    });
    eprintln!("submits only {submits_only:.2} ms; clone of a built state {:.2} ms", time(&mut || drop(state.clone())));
    let mut t2 = foresight_controller::shadow::track::Tracker::new();
    let apply_ms = time(&mut || drop(t2.apply(&view)));
    eprintln!("breakdown: build state {build:.2} ms, {} decide {cand_ms:.2} ms, {} decide {base_ms:.2} ms, tracker apply {apply_ms:.2} ms", candidate.name, baseline.name);
    lat.sort();
    let pct = |q: f64| lat[((lat.len() as f64 * q).ceil() as usize).min(lat.len()) - 1].as_secs_f64() * 1e3;
    println!(
        "decision cycle, {PENDING} pending jobs on {NODES} nodes, {rounds} cycles: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal: p99 < 5 ms)",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
}
