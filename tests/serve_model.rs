//! End to end, on loopback: a real `foresight serve --model FILE`
//! predicting with a model `foresight train` fitted on the embedded H100
//! job log, jobs submitted with their features (by RPC and by `foresight
//! submit --feature`); each Submit answer's predicted runtime is the
//! model's for that job's record, not its time limit. On both stores
//! (`sqlite::` and `postgres::`, the latter skipped, said on stderr,
//! without PostgreSQL unless `FORESIGHT_REQUIRE_POSTGRES=1`).

use foresight_core::predictor::clamp_estimate;
use foresight_core::state::{JobInfo, JobKey};
use foresight_server::pb;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

#[macro_use]
#[allow(dead_code)]
mod serve_common;
use serve_common::Backend;

const BIN: &str = env!("CARGO_BIN_EXE_foresight");

on_both_stores!(
    a_served_model_predicts_each_submitted_job_from_its_features,
    serve_refuses_a_bad_model_file_and_submit_a_bad_feature,
    a_policy_version_names_a_model_file_and_the_next_submit_is_predicted_by_it,
);

/// A running server; killed when dropped.
struct Server {
    child: Child,
    addr: String,
    data: tempfile::TempDir,
    backend: Backend,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(b: &Backend, data: tempfile::TempDir, extra: &[&str]) -> Server {
        let d = data.path().to_str().unwrap().to_string();
        let log = std::fs::File::create(data.path().join("serve.log")).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data", &d])
            .args(b.args())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let shown = serve_common::banner(&mut child, false);
        let log = std::fs::read_to_string(data.path().join("serve.log")).unwrap_or_default();
        let addr = shown.addr.expect(&log);
        Server { child, addr, data, backend: b.clone() }
    }

    fn token(&self, tenant: &str, role: &str) -> String {
        serve_common::token(self.data.path(), &self.backend, tenant, role)
    }

    /// `foresight ARGS --server ADDR --token TOK`.
    fn cli(&self, tok: &str, args: &[&str]) -> Output {
        serve_common::cli(&self.addr, tok, args)
    }
}

/// `foresight train` on the embedded H100 job log: the model file's path.
fn trained(dir: &Path) -> PathBuf {
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/data/h100-jobs/jobs.csv");
    let model = dir.join("model.json");
    let o = Command::new(BIN).arg("train").arg(&csv).arg("-o").arg(&model).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    model
}

/// A job of the H100 log as a submission: its kind as name, its request,
/// a limit far above its runtime, and its submitted features as text.
fn submission(key: &str, j: &foresight_core::Job) -> pb::SubmitRequest {
    let features = j
        .features
        .iter()
        .map(|(k, v)| {
            let v = match v {
                foresight_core::FeatureValue::Num(x) => x.to_string(),
                foresight_core::FeatureValue::Text(t) => t.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    pb::SubmitRequest {
        idempotency_key: key.into(),
        name: j.name.clone().unwrap_or_default(),
        resources: Some(pb::Resources { cpus: 1, gpus: 1, ..Default::default() }),
        time_limit_s: 1000.0,
        command: "true".into(),
        features,
        ..Default::default()
    }
}

fn a_served_model_predicts_each_submitted_job_from_its_features(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let model = trained(dir.path());
    let s = Server::start(&b, tempfile::tempdir().unwrap(), &["--model", model.to_str().unwrap()]);
    let sub = s.token("acme", "submitter");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut jobs, _) = rt.block_on(foresight_server::client::connect(&s.addr, &sub)).unwrap();

    // the same file, loaded as the controller loads one, shown the same records in the same order
    let mut offline = foresight_controller::model::load(&model).unwrap().instantiate();
    let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
    let picked: Vec<&foresight_core::Job> = ["train_transformer", "matmul", "train_cnn"]
        .iter()
        .filter_map(|kind| table.jobs.iter().find(|j| j.name.as_deref() == Some(kind) && !j.features.is_empty()))
        .collect();
    assert!(picked.len() >= 2, "the log has jobs of several kinds with features");
    let mut predictions = Vec::new();
    for (i, j) in picked.iter().enumerate() {
        let req = submission(&format!("k{i}"), j);
        let answer = rt.block_on(jobs.submit(req.clone())).unwrap().into_inner().job.unwrap();
        assert_eq!(answer.features, req.features, "the features are returned");
        let got = rt.block_on(jobs.get(pb::GetJobRequest { id: answer.id })).unwrap().into_inner();
        assert_eq!(got.features, req.features, "and kept");
        let record = foresight_server::convert::record_of(
            0,
            &foresight_server::convert::new_job(
                pb::SubmitRequest { tenant: "acme".into(), ..req },
                answer.submitted_at_ms,
            )
            .unwrap(),
        );
        assert!(!record.features.is_empty());
        let info = JobInfo::of(&record, JobKey(0), &mut foresight_core::NameTables::default());
        offline.observe_record(&info, &record);
        let want = clamp_estimate(&info, offline.predict(&info));
        assert_eq!(answer.predicted_runtime_s, want, "job {i} ({:?}): the model's prediction", j.name);
        assert!(answer.predicted_runtime_s < 1000.0, "not the limit: {}", answer.predicted_runtime_s);
        predictions.push(answer.predicted_runtime_s);
    }
    assert!(predictions.windows(2).any(|w| w[0] != w[1]), "different jobs, different predictions: {predictions:?}");

    // `foresight submit --feature` carries them too, and `jobs get` shows them
    let o = s.cli(
        &sub,
        &[
            "submit",
            "--json",
            "--key",
            "cli",
            "--cpus",
            "1",
            "--time-limit",
            "1000",
            "--feature",
            "d_model=2048",
            "--feature",
            "dtype=float32",
            "--",
            "true",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["features"]["d_model"], "2048", "{j}");
    assert_eq!(j["features"]["dtype"], "float32", "{j}");
    let p = j["predicted_runtime_s"].as_f64().unwrap();
    assert!(p > 0.0 && p < 1000.0, "{j}");
}

fn serve_refuses_a_bad_model_file_and_submit_a_bad_feature(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format_version\": 1}").unwrap();
    let data = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data", data.path().to_str().unwrap(), "--model"])
        .arg(&bad)
        .args(b.args())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--model"), "{}", String::from_utf8_lossy(&o.stderr));

    let s = Server::start(&b, data, &["--predictor", "requested"]);
    let sub = s.token("acme", "submitter");
    let o = s.cli(&sub, &["submit", "--key", "x", "--cpus", "1", "--feature", "bad key=1", "--", "true"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("features"), "{err}");
}

fn a_policy_version_names_a_model_file_and_the_next_submit_is_predicted_by_it(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let model = trained(dir.path());
    let s = Server::start(&b, tempfile::tempdir().unwrap(), &["--predictor", "requested"]);
    let (sub, admin) = (s.token("acme", "submitter"), s.token("root", "admin"));
    let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
    let job = table.jobs.iter().find(|j| !j.features.is_empty()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut jobs, _) = rt.block_on(foresight_server::client::connect(&s.addr, &sub)).unwrap();
    let before = rt.block_on(jobs.submit(submission("a", job))).unwrap().into_inner().job.unwrap();
    assert_eq!(before.predicted_runtime_s, 1000.0, "requested: the limit");

    // a file this server cannot load is refused before it is a version
    let o =
        s.cli(&admin, &["admin", "policy", "set", "--policy", "foresight", "--predictor", "model:/nonexistent.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stderr).contains("predictor"), "{}", String::from_utf8_lossy(&o.stderr));
    let named = format!("model:{}", model.display());
    let o = s.cli(&admin, &["admin", "policy", "set", "--policy", "foresight", "--predictor", &named]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let after = rt.block_on(jobs.submit(submission("b", job))).unwrap().into_inner().job.unwrap();
    let mut offline = foresight_controller::model::load(&model).unwrap().instantiate();
    let record = foresight_server::convert::record_of(
        0,
        &foresight_server::convert::new_job(
            pb::SubmitRequest { tenant: "acme".into(), ..submission("b", job) },
            after.submitted_at_ms,
        )
        .unwrap(),
    );
    let info = JobInfo::of(&record, JobKey(0), &mut foresight_core::NameTables::default());
    offline.observe_record(&info, &record);
    assert_eq!(after.predicted_runtime_s, clamp_estimate(&info, offline.predict(&info)), "the model's");
    assert!(after.predicted_runtime_s < 1000.0, "{}", after.predicted_runtime_s);
}
