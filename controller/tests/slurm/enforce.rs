//! Enforce and advise modes on the real Slurm: gates hold back what the
//! candidate does not start and are all lifted within one cycle when the
//! breaker opens; proposals are approved or overridden by an operator; a
//! switch without an operator's token is refused and logged.

use crate::harness::{self, ReplayJob};
use crate::{records, until};
use foresight_controller::adapter::slurm::{SlurmAdapter, SlurmSource};
use foresight_controller::controller::{self, ShadowConfig, ShadowHandle};
use foresight_controller::enforce::Mode;
use foresight_controller::enforce::auth::Tokens;
use foresight_controller::log::{Act, Body, Verdict};
use foresight_controller::model::ServedModel;
use foresight_controller::obs::http;
use foresight_core::predictor::Predictor;
use foresight_core::state::JobInfo;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const OPERATOR: &str = "operator-token-0123456789";
const WATCHER: &str = "watcher-token-0123456789";

/// A model that predicts the requested time until told to fail (NaN).
#[derive(Clone)]
struct Switchable(Arc<AtomicBool>);

impl Predictor for Switchable {
    fn name(&self) -> &'static str {
        "switchable"
    }
    fn predict(&mut self, job: &JobInfo) -> f64 {
        if self.0.load(Ordering::SeqCst) { f64::NAN } else { job.limit_s }
    }
}

async fn controller(log: &Path, mode: Mode, model: ServedModel) -> ShadowHandle {
    let mut cfg = ShadowConfig::new("easy++", log);
    cfg.poll = Duration::from_millis(200);
    cfg.timer = Duration::from_secs(1);
    cfg.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    cfg.mode = mode;
    cfg.gate.lease_s = 20;
    cfg.gate.renew_s = 10;
    cfg.gate.control.partitions = vec!["batch".into()];
    cfg.tokens = Tokens::parse(&format!("operator alice {OPERATOR}\nwatch bob {WATCHER}\n")).unwrap();
    cfg.engine.drift_threshold = f64::INFINITY;
    let adapter = SlurmAdapter::new(SlurmSource::Commands { bin_dir: None }).with_timeout(Duration::from_secs(5));
    controller::start(adapter, cfg, Some(model), false).await.expect("start the controller")
}

fn job(cpus: u32, sleep_s: u32) -> ReplayJob {
    ReplayJob { trace_id: "enforce".into(), at_s: 0.0, cpus, sleep_s, limit_min: 1 }
}

fn outcome_ok(recs: &[foresight_controller::log::Record], act: &str, job: &str) -> bool {
    recs.iter().any(|r| {
        let Body::Action(a) = &r.body else { return false };
        a.act.name() == act
            && a.job_ids.iter().any(|j| j == job)
            && recs.iter().any(|o| matches!(&o.body, Body::Outcome(o) if o.id == a.id && o.ok))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_gates_what_the_candidate_holds_back_and_lifts_every_gate_when_the_breaker_opens() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.log");
    // the cluster full before the controller starts: what comes next waits
    let fill = harness::submit(&job(16, 40));
    harness::wait_running(&fill, Duration::from_secs(20));
    let fail = Arc::new(AtomicBool::new(false));
    let f = fail.clone();
    let h = controller(&log, Mode::Enforce, ServedModel::custom(move || Box::new(Switchable(f.clone())), "switchable"))
        .await;
    let waiting: Vec<String> = (0..3).map(|_| harness::submit(&job(1, 1))).collect();
    until("every waiting job gated in Slurm", Duration::from_secs(20), || {
        let gated = harness::gated_now();
        waiting.iter().all(|id| gated.contains(id))
    })
    .await;
    let recs = records(&log);
    for id in &waiting {
        assert!(outcome_ok(&recs, "gate", id), "job {id}: a gate logged and taken");
    }
    let m = h.metrics.clone();
    until("the gates counted", Duration::from_secs(5), || m.snapshot().gates_open == 3).await;

    // the model fails on the next submission: the breaker opens, and in
    // the same cycle every gate is lifted
    fail.store(true, Ordering::SeqCst);
    harness::submit(&job(1, 1));
    until("the breaker open", Duration::from_secs(20), || m.snapshot().breaker_state == 2).await;
    until("no job gated in Slurm", Duration::from_secs(5), || harness::gated_now().is_empty()).await;
    let factors = harness::site_factors();
    assert!(factors.iter().all(|(_, f)| *f == 0), "every site factor Slurm's own: {factors:?}");
    let (_, text) = http::get(h.metrics_addr.unwrap(), "/metrics").await.unwrap();
    h.shutdown("test over").await.unwrap();
    harness::cancel_all();

    let recs = records(&log);
    let open =
        recs.iter().position(|r| matches!(&r.body, Body::Breaker(b) if b.to == "open")).expect("a breaker record");
    let next_cycle =
        recs[open..].iter().position(|r| matches!(r.body, Body::Cycle(_))).map_or(recs.len(), |i| open + i);
    let lifted: Vec<&String> = recs[open..next_cycle]
        .iter()
        .filter_map(|r| if let Body::Action(a) = &r.body { (a.act == Act::Lift).then_some(&a.job_ids) } else { None })
        .flatten()
        .collect();
    for id in &waiting {
        assert!(lifted.contains(&id), "job {id} lifted in the cycle the breaker opened: {lifted:?}");
    }
    assert!(text.contains("foresight_mode 2"), "{text}");
    assert!(text.contains("foresight_actions_taken_total{act=\"gate\"}"), "{text}");
    assert!(text.contains("foresight_actions_taken_total{act=\"lift\"}"), "{text}");
    assert!(text.contains("foresight_decision_delay_seconds_count"), "{text}");
    // every action was logged before it was taken and has one outcome
    for (i, r) in recs.iter().enumerate() {
        if let Body::Action(a) = &r.body {
            let outs: Vec<usize> = recs
                .iter()
                .enumerate()
                .filter(|(_, o)| matches!(&o.body, Body::Outcome(o) if o.id == a.id))
                .map(|(j, _)| j)
                .collect();
            assert_eq!(outs.len(), 1, "action {} has one outcome", a.id);
            assert!(outs[0] > i, "action {} logged before its outcome", a.id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advise_proposals_are_approved_or_overridden_by_an_operator_and_a_switch_without_one_is_refused() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.log");
    let h = controller(
        &log,
        Mode::Advise,
        ServedModel::of_kind(foresight_core::predictor::PredictorKind::UserHistory, "easy++"),
    )
    .await;
    let addr = h.metrics_addr.unwrap();
    // held jobs stay pending whatever Slurm would do; the candidate, which
    // sees the free nodes, proposes to start both now
    let (a, b) = (harness::submit_held(8, 2), harness::submit_held(8, 2));
    until("both proposed", Duration::from_secs(20), || {
        let recs = records(&log);
        [&a, &b].iter().all(|id| {
            recs.iter()
                .any(|r| matches!(&r.body, Body::Advice(x) if &x.job_id == *id && x.verdict == Verdict::Proposed))
        })
    })
    .await;
    let (code, list) = http::request(addr, "GET", "/v1/advise", Some(WATCHER), "").await.unwrap();
    assert_eq!(code, 200, "a watcher may read: {list}");
    assert!(list.contains(&format!("\"job_id\":\"{a}\"")) && list.contains(&format!("\"job_id\":\"{b}\"")), "{list}");

    // a stranger and a watcher cannot change anything
    let (code, _) = http::request(addr, "POST", "/v1/mode", None, "enforce").await.unwrap();
    assert_eq!(code, 401);
    let (code, _) = http::request(addr, "POST", "/v1/mode", Some("not-a-known-token-at-all"), "enforce").await.unwrap();
    assert_eq!(code, 401);
    let (code, _) = http::request(addr, "POST", "/v1/mode", Some(WATCHER), "enforce").await.unwrap();
    assert_eq!(code, 403);
    let (code, _) = http::request(addr, "POST", &format!("/v1/advise/approve/{b}"), Some(WATCHER), "").await.unwrap();
    assert_eq!(code, 403);
    let (code, mode) = http::request(addr, "GET", "/v1/mode", Some(WATCHER), "").await.unwrap();
    assert_eq!((code, mode.contains("\"advise\"")), (200, true), "{mode}");

    // the operator approves one and overrides the other
    let (code, body) =
        http::request(addr, "POST", &format!("/v1/advise/approve/{b}"), Some(OPERATOR), "").await.unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, body) =
        http::request(addr, "POST", &format!("/v1/advise/override/{a}"), Some(OPERATOR), "").await.unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, body) =
        http::request(addr, "POST", &format!("/v1/advise/approve/{a}"), Some(OPERATOR), "").await.unwrap();
    assert_eq!(code, 409, "an overridden proposal is gone: {body}");
    // (sprio leaves held jobs out: the log's outcome says it took)
    let recs = records(&log);
    assert!(outcome_ok(&recs, "site_factor", &b), "the approved job got the top site factor");
    assert!(
        !recs.iter().any(|r| matches!(&r.body, Body::Action(x) if x.job_ids.contains(&a))),
        "the overridden one is left to Slurm"
    );
    let m = h.metrics.snapshot();
    assert_eq!((m.advice.get("approved"), m.advice.get("overridden")), (Some(&1), Some(&1)));
    assert_eq!(m.refused, 4);

    // the jobs run; the operator then switches to shadow: the approved
    // job's factor would be restored (it ran already), and the switch is logged
    for id in [&a, &b] {
        assert!(std::process::Command::new("scontrol").args(["release", id]).status().unwrap().success());
    }
    harness::wait_done(&[a.clone(), b.clone()], Duration::from_secs(30));
    until("both finished in the log", Duration::from_secs(20), || {
        let recs = records(&log);
        [&a, &b].iter().all(|id| recs.iter().any(|r| matches!(&r.body, Body::Finished(f) if &f.job_id == *id)))
    })
    .await;
    let (code, body) = http::request(addr, "POST", "/v1/mode", Some(OPERATOR), "shadow").await.unwrap();
    assert_eq!(code, 200, "{body}");
    h.shutdown("test over").await.unwrap();

    let recs = records(&log);
    let modes: Vec<(bool, String, String)> = recs
        .iter()
        .filter_map(|r| if let Body::Mode(m) = &r.body { Some((m.accepted, m.by.clone(), m.to.clone())) } else { None })
        .collect();
    assert_eq!(modes.iter().filter(|m| !m.0).count(), 4, "every refusal logged: {modes:?}");
    assert!(modes.iter().any(|m| !m.0 && m.1 == "unauthenticated"), "{modes:?}");
    assert!(modes.iter().any(|m| !m.0 && m.1 == "bob"), "{modes:?}");
    assert_eq!(modes.iter().filter(|m| m.0).collect::<Vec<_>>(), [&(true, "alice".to_string(), "shadow".to_string())]);
    let s = foresight_controller::log::summary::summarise(&recs, 3600.0);
    let acting = s.acting.clone().expect("the report has the acting side");
    assert_eq!((acting.approvals, acting.overrides, acting.refused, acting.mode_switches), (1, 1, 4, 1));
    assert!(acting.approved_mean_wait_s.is_some() && acting.overridden_mean_wait_s.is_some(), "{acting:?}");
    assert!(s.markdown().contains("1 approved"), "{}", s.markdown());
    harness::cancel_all();
}

/// Submits to a partition, with more sbatch options; returns the job's id.
fn sbatch(partition: &str, cpus: u32, more: &[&str]) -> String {
    let out = std::process::Command::new("sbatch")
        .args(["--parsable", "--chdir=/tmp", "--output=/dev/null", "--error=/dev/null", "--time=1", "--wrap=sleep 1"])
        .arg(format!("--partition={partition}"))
        .arg(format!("--ntasks={cpus}"))
        .args(more)
        .output()
        .expect("run sbatch");
    assert!(out.status.success(), "sbatch: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().split(';').next().unwrap().to_string()
}

/// A pending job's admin comment and eligible time, from `squeue --json`.
fn shown(id: &str) -> Option<(String, u64)> {
    let out = std::process::Command::new("squeue").args(["--json", &format!("--jobs={id}")]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let j = doc["jobs"]
        .as_array()?
        .iter()
        .find(|j| j["job_id"].as_u64().is_some() && j["job_id"].as_u64() == id.parse().ok())?
        .clone();
    Some((j["admin_comment"].as_str().unwrap_or("").to_string(), j["eligible_time"].as_u64().unwrap_or(0)))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The controller enforcing with a lease of `lease_s` and writing the cache
/// of the repository's `job_submit.lua` (`/run/foresight/job_submit.cache`),
/// once that cache says it enforces; and the cache's path.
async fn lua_controller(log: &Path, lease_s: u64) -> (ShadowHandle, std::path::PathBuf) {
    std::fs::create_dir_all("/run/foresight").unwrap();
    let cache = std::path::PathBuf::from("/run/foresight/job_submit.cache");
    let mut cfg = ShadowConfig::new("easy++", log);
    cfg.poll = Duration::from_millis(200);
    cfg.timer = Duration::from_secs(1);
    cfg.mode = Mode::Enforce;
    cfg.gate.lease_s = lease_s;
    cfg.gate.renew_s = lease_s / 2;
    cfg.submit_cache = Some(cache.clone());
    let adapter = SlurmAdapter::new(SlurmSource::Commands { bin_dir: None }).with_timeout(Duration::from_secs(5));
    let h = controller::start(adapter, cfg, Some(crate::easy_pp()), false).await.unwrap();
    until("the cache written", Duration::from_secs(10), || {
        std::fs::read_to_string(&cache).is_ok_and(|c| c.contains("mode=enforce"))
    })
    .await;
    (h, cache)
}

/// The repository's `job_submit.lua`, loaded by the real slurmctld
/// (`scripts/slurm-up.sh` installs it and `JobSubmitPlugins=lua`): while
/// the controller enforces, a job of the `foresight` partition is marked
/// and gated at submission, and started when the candidate starts it
/// (long before its lease runs out); a job that asked for its own begin
/// time is neither marked nor lifted; once the controller has stopped, the
/// lua marks but no longer gates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_submit_lua_marks_and_gates_at_submission_while_foresight_enforces() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.log");
    let fill = sbatch("batch", 16, &["--wrap=sleep 30"]);
    harness::wait_running(&fill, Duration::from_secs(20));
    let (h, cache) = lua_controller(&log, 40).await;

    let before = unix_now();
    let marked = sbatch("foresight", 1, &[]);
    let own = sbatch("foresight", 1, &["--begin=now+300"]);
    let (comment, eligible) = shown(&marked).expect("the marked job pending");
    assert_eq!(comment, "foresight");
    assert!(eligible >= before + 39, "gated at submission for the lease: eligible {eligible}, submitted at {before}");
    let (comment, eligible) = shown(&own).expect("the job with its own begin time pending");
    assert_eq!(comment, "", "a job with its own begin time is not marked");
    assert!(eligible >= before + 299);

    // room: the candidate starts the marked job, foresight lifts its gate
    assert!(std::process::Command::new("scancel").arg(&fill).status().unwrap().success());
    harness::wait_done(std::slice::from_ref(&marked), Duration::from_secs(20));
    assert!(unix_now() < before + 30, "started by the lift, not by the lease running out");
    assert!(shown(&own).is_some_and(|(_, e)| e >= before + 299), "its own begin time is left alone");
    h.shutdown("test over").await.unwrap();
    assert!(std::fs::read_to_string(&cache).unwrap().contains("mode=shadow"));

    // foresight stopped: marked, not gated
    let after = sbatch("foresight", 16, &["--hold"]);
    let (comment, eligible) = shown(&after).unwrap();
    assert_eq!(comment, "foresight");
    assert!(eligible <= unix_now() + 1, "not gated once foresight stopped: {eligible}");
    let recs = records(&log);
    assert!(outcome_ok(&recs, "lift", &marked), "the lift logged and taken");
    harness::cancel_all();
    let _ = std::fs::remove_file(&cache);
}

/// Every job the lua gates at submission is started by the candidate, a
/// wide one too, and the queue drains long before the leases run out,
/// with nothing left gated. The wide job asks for CPUs only
/// (`--ntasks=14` on 4 nodes of 4 CPUs, 2 of them taken by a job foresight
/// does not control): Slurm starts it at once on 2 + 4 + 4 + 4 CPUs, but
/// reports for it, while it waits, its guess of 4 nodes (`node_count`),
/// which the controller once read as a request for exactly 4 nodes with
/// 3 or 4 CPUs each. Its runtime could then not place the job, EASY
/// reserved for it "now" with no room left over, and nothing behind it
/// started until the cluster emptied: the stall of the gated-at-submission
/// A/B run (docs/enforce.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_the_lua_gates_at_submission_is_started_by_the_candidate_and_the_queue_drains() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.log");
    // 2 of the 16 CPUs taken for longer than the queue may take to drain
    let fill = sbatch("batch", 2, &["--wrap=sleep 50"]);
    harness::wait_running(&fill, Duration::from_secs(20));
    let (h, cache) = lua_controller(&log, 60).await;

    let before = unix_now();
    let mut gated = vec![sbatch("foresight", 14, &["--wrap=sleep 2"])];
    gated.extend((0..3).map(|_| sbatch("foresight", 1, &[])));
    for id in &gated {
        let (comment, eligible) = shown(id).unwrap_or_else(|| panic!("job {id} pending"));
        assert_eq!(comment, "foresight");
        assert!(eligible >= before + 59, "job {id} gated at submission: eligible {eligible}, submitted at {before}");
    }
    harness::wait_done(&gated, Duration::from_secs(30));
    assert!(unix_now() < before + 40, "started by lifts, not by the leases running out");
    let out = std::process::Command::new("squeue").args(["-h", "-o", "%T", &format!("--jobs={fill}")]).output();
    let state = String::from_utf8_lossy(&out.unwrap().stdout).trim().to_string();
    assert_eq!(state, "RUNNING", "the wide job started beside the job of 2 CPUs");
    assert!(harness::gated_now().is_empty(), "nothing left gated: {:?}", harness::gated_now());
    h.shutdown("test over").await.unwrap();
    let recs = records(&log);
    for id in &gated {
        assert!(outcome_ok(&recs, "lift", id), "job {id} started by the candidate: its gate lifted");
    }
    harness::cancel_all();
    let _ = std::fs::remove_file(&cache);
}
