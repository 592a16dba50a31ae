//! A hostile trained model file: trained on the embedded H100 jobs, then
//! one tree's first split pointed back at itself (a cycle, which walked or
//! flattened would loop or overflow the stack). The controller's loader
//! refuses it with the file's path and what is wrong where, and a shadow
//! engine given that refusal falls back to the baseline in its first
//! cycle, the breaker open with a reason that names the file.

use foresight_controller::adapter::{ClusterView, JobView, NodeView, Phase};
use foresight_controller::log::{Body, Source};
use foresight_controller::model::{self, ModelError};
use foresight_controller::shadow::engine::{Engine, EngineConfig};
use foresight_core::policy::PolicySpec;
use foresight_core::predictor::PredictorKind;
use foresight_core::{Job, NodeSpec, Resources};
use foresight_models::ModelKind;
use foresight_models::history::JobTelemetry;
use std::path::{Path, PathBuf};

/// Writes the hostile file into `dir`; returns its path and the node made
/// cyclic.
fn hostile(dir: &Path) -> (PathBuf, usize) {
    let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
    let file = foresight_models::train(&table, ModelKind::Gbt, &JobTelemetry::new(), Default::default()).unwrap();
    let mut json = serde_json::to_value(&file).unwrap();
    let tree = json["runtime"]["model"]["trees"][0].as_array_mut().unwrap();
    let n = tree.iter().position(|node| node["feature"] != u32::MAX).expect("a split");
    tree[n]["left"] = n.into();
    let path = dir.join("hostile.json");
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    (path, n)
}

#[tokio::test]
async fn a_hostile_model_file_is_refused_at_load_and_the_engine_falls_back_with_the_breaker_open() {
    let dir = tempfile::tempdir().unwrap();
    let (path, n) = hostile(dir.path());
    let Err(err) = model::load(&path) else { panic!("a cyclic tree was served") };
    let why = err.to_string();
    assert!(matches!(&err, ModelError::Invalid { path: p, .. } if *p == path), "{why}");
    let reason = format!("runtime.model: tree 0, node {n}: child {n} does not come after its parent (a cycle)");
    assert!(why.contains("hostile.json") && why.contains(&reason), "{why}");

    // the engine as the controller builds it when the model does not load
    let (cand, base): (PolicySpec, PolicySpec) = ("easy++".parse().unwrap(), "easy".parse().unwrap());
    let mut engine = Engine::new(
        EngineConfig::default(),
        move || Box::new(cand.build()),
        move || Box::new(base.build()),
        PredictorKind::Requested.build(Vec::new),
        Err(why),
    );
    let node = NodeView {
        spec: NodeSpec { name: "n1".into(), capacity: Resources::new(4, 0, 0), gpu_type: None },
        state: "idle".into(),
        usable: true,
        allocated: Resources::default(),
    };
    let job = Job { job_id: "1".into(), user: Some("u".into()), submit_s: 99.0, req_cpus: Some(2), req_time_s: Some(600.0), ..Job::default() };
    let pending = JobView { job, phase: Phase::Pending, nodes: Vec::new(), node_cpus: Vec::new(), held: false, control: Default::default() };
    let view = ClusterView { at_unix_s: 100.0, nodes: vec![node], jobs: vec![pending] };
    let bodies = engine.cycle(&view, "timer").await.bodies();
    let opened = bodies.iter().find_map(|b| match b {
        Body::Breaker(r) if r.to == "open" => Some(r.reason.clone()),
        _ => None,
    });
    let opened = opened.expect("the breaker opens");
    assert!(opened.contains("hostile.json") && opened.contains(&reason), "{opened}");
    let Some(Body::Cycle(cycle)) = bodies.first() else { panic!("a cycle record first: {bodies:?}") };
    assert_eq!(cycle.source, Source::Fallback);
    assert!(cycle.candidate.is_none() && cycle.baseline.is_some(), "the baseline decides");
}
