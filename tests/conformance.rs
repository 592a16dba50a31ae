//! Conformance: what runs live is what was simulated.
//!
//! The whole real KTH-SP2 trace (28,481 jobs under the predictsim filter,
//! about 50,000 decisions) is replayed by the simulator, which
//! records each decision its policy makes. The same events then reach the
//! live controller's path as an orchestrator would report them, one
//! observation per decision instant: the jobs submitted so far, the ones
//! the simulator started (with their nodes) and the ones that ended. The
//! shadow engine's tracker turns them into the runtime's inputs, and its
//! policy (the candidate, or the baseline) must decide exactly what the
//! simulator's decided at that instant: the same jobs on the same nodes,
//! in the same order, every time.

use foresight_controller::adapter::{ClusterView, JobView, NodeView, Phase};
use foresight_controller::log::{Body, CycleRecord};
use foresight_controller::model::ServedModel;
use foresight_controller::shadow::engine::{Engine, EngineConfig};
use foresight_core::policy::{Decision, PolicySpec};
use foresight_core::predictor::PredictorKind;
use foresight_core::{Cluster, Job, JobStatus, Resources};
use foresight_datasets::shared::dataset_or_skip;
use foresight_datasets::{ReadOptions, read_trace};
use foresight_simulator::{Filter, SimOptions, Workload, WorkloadOptions, simulate_observed};
use std::time::Duration;

const KTH: &str = "pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz";


/// One decision: its time, and each start's job and nodes.
type Decided = (f64, Vec<(String, Vec<String>)>);

fn node_name(cluster: &Cluster, i: u32) -> String {
    cluster.nodes[i as usize].name.clone()
}

fn starts_of(cluster: &Cluster, d: &Decision) -> Vec<(String, Vec<String>)> {
    d.starts.iter().map(|s| (s.key.0.to_string(), s.slots.iter().map(|sl| node_name(cluster, sl.node)).collect())).collect()
}

/// The slice, its cluster, and the simulator's decisions under `policy`
/// with `predictor`, with when and where each job ran.
struct Replay {
    cluster: Cluster,
    workload: Workload,
    jobs: Vec<Job>,
    decisions: Vec<Decided>,
    /// Per job: start, end, nodes.
    ran: Vec<(f64, f64, Vec<String>)>,
}

fn replay(kth: &std::path::Path, policy: &str, predictor: PredictorKind) -> Replay {
    let table = read_trace(kth, &ReadOptions::default()).expect("KTH-SP2 reads").table;
    let cluster = table.meta.default_cluster().expect("KTH-SP2 declares its machine");
    let rows: Vec<Job> = table.jobs;
    let workload = Workload::from_jobs(&rows, &cluster, WorkloadOptions { filter: Filter::Predictsim, ..WorkloadOptions::default() });
    // the jobs as the orchestrator reports them: the workload's, by key
    let jobs: Vec<Job> = workload
        .jobs
        .iter()
        .zip(&workload.source_row)
        .map(|(j, &row)| Job { job_id: j.info.key.0.to_string(), ..rows[row as usize].clone() })
        .collect();
    let spec: PolicySpec = policy.parse().unwrap();
    let mut pol = spec.build();
    let mut pred = predictor.build(|| workload.effective_runtimes());
    let mut decisions: Vec<Decided> = Vec::new();
    let mut record = |t: f64, d: &Decision| decisions.push((t, starts_of(&cluster, d)));
    let result = simulate_observed(&workload, &cluster, &mut pol, pred.as_mut(), &SimOptions::default(), Some(&mut record))
        .expect("the replay runs");
    let mut where_: Vec<Vec<String>> = vec![Vec::new(); workload.len()];
    for (_, starts) in &decisions {
        for (id, nodes) in starts {
            where_[id.parse::<usize>().unwrap()] = nodes.clone();
        }
    }
    let ran = result.outcomes.iter().zip(where_).map(|(o, n)| (o.start_s, o.end_s, n)).collect();
    Replay { cluster, workload, jobs, decisions, ran }
}

/// What the orchestrator shows just before the decision at `t`: jobs
/// submitted by then, started by earlier decisions, and ended by then
/// (shown once, at the first observation after their end).
fn view_at(r: &Replay, t: f64, prev: f64) -> ClusterView {
    let nodes = r
        .cluster
        .nodes
        .iter()
        .map(|n| NodeView { spec: n.clone(), state: "idle".into(), usable: true, allocated: Resources::default() })
        .collect();
    let mut jobs = Vec::new();
    for (i, j) in r.workload.jobs.iter().enumerate() {
        if j.info.submit_s > t {
            break;
        }
        let (start, end, ref on) = r.ran[i];
        let record = &r.jobs[i];
        let started = start < t;
        let (phase, status) = match (started, end <= t) {
            (true, true) if end > prev => (Phase::Finished, JobStatus::Completed),
            (true, true) => continue,
            (true, false) => (Phase::Running, JobStatus::Unknown),
            (false, _) => (Phase::Pending, JobStatus::Unknown),
        };
        let job = Job {
            start_s: started.then_some(start),
            end_s: (phase == Phase::Finished).then_some(end),
            runtime_s: (phase == Phase::Finished).then_some(end - start),
            status,
            ..record.clone()
        };
        jobs.push(JobView {
            job,
            phase,
            nodes: if started { on.clone() } else { Vec::new() },
            node_cpus: Vec::new(),
            held: false,
            control: Default::default(),
        });
    }
    ClusterView { at_unix_s: t, nodes, jobs }
}

fn decided(c: &CycleRecord, candidate: bool) -> Vec<(String, Vec<String>)> {
    let summary = if candidate { c.candidate.as_ref() } else { c.baseline.as_ref() };
    summary.map(|s| s.start.iter().map(|p| (p.job_id.clone(), p.nodes.clone())).collect()).unwrap_or_default()
}

/// Drives the shadow engine with the replay's observations and checks that
/// `candidate` (or else the baseline) decides as the simulator did.
fn conforms(r: &Replay, candidate: bool, policy: &str, predictor: PredictorKind) {
    let cfg = EngineConfig { deadline: Duration::from_secs(600), drift_threshold: f64::INFINITY, ..EngineConfig::default() };
    let (p1, p2) = (policy.to_string(), policy.to_string());
    let spec = |p: &str| -> Box<dyn foresight_core::policy::Policy> { Box::new(p.parse::<PolicySpec>().unwrap().build()) };
    let mut engine = Engine::new(
        cfg,
        move || spec(&p1),
        move || spec(&p2),
        predictor.build(Vec::new),
        Ok(ServedModel::of_kind(predictor, "conformance")),
    );
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut prev = f64::NEG_INFINITY;
    let mut compared = 0;
    for (t, want) in &r.decisions {
        let view = view_at(r, *t, prev);
        prev = *t;
        let bodies = rt.block_on(engine.cycle(&view, "conformance")).bodies();
        let c: &CycleRecord = bodies.iter().find_map(|b| if let Body::Cycle(c) = b { Some(c) } else { None }).expect("a cycle record");
        assert!(!candidate || c.fallback_reason.is_none(), "at {t}: the candidate fell back: {:?}", c.fallback_reason);
        let got = decided(c, candidate);
        assert_eq!(&got, want, "at t={t}, decision {compared}: the live path decided otherwise");
        compared += 1;
    }
    assert!(compared > r.workload.len(), "{compared} decisions compared");
    eprintln!("{compared} decisions compared, every one the same");
    let started: usize = r.decisions.iter().map(|(_, s)| s.len()).sum();
    assert!(started >= r.workload.len(), "every job started at least once: {started}");
}

#[test]
fn the_live_candidate_decides_as_the_simulator_on_kth_sp2_under_easy_plus_plus() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    let r = replay(&kth, "easy++", PredictorKind::UserHistory);
    conforms(&r, true, "easy++", PredictorKind::UserHistory);
}

#[test]
fn the_live_baseline_decides_as_the_simulator_on_kth_sp2_under_fair_share() {
    let Some(kth) = dataset_or_skip(KTH) else { return };
    let r = replay(&kth, "fairshare", PredictorKind::Requested);
    conforms(&r, false, "fairshare", PredictorKind::Requested);
}
