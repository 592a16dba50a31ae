//! End-to-end: `foresight shadow` beside a real single-host Slurm, killed
//! with SIGKILL mid-run and started again: no complete record is lost, the
//! log resumes, and `foresight log` reads and filters it. Skips unless root
//! with Slurm installed (fails instead when FORESIGHT_REQUIRE_SLURM=1).

#[path = "../controller/tests/slurm/harness.rs"]
#[allow(dead_code)]
mod harness;

use foresight_controller::log::{self, Body, Record};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn foresight(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_foresight")).args(args).output().expect("the foresight binary runs")
}

fn start_shadow(model: &Path, log_path: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_foresight"))
        .args(["shadow", "--slurm", "cmd", "--policy", "easy++", "--poll-ms", "200", "--timer-s", "1"])
        .args(["--deadline-ms", "3000", "--drift-threshold", "inf", "--log-level", "warn"])
        .arg("--model")
        .arg(model)
        .arg("--log")
        .arg(log_path)
        .arg("--metrics")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start foresight shadow")
}

fn records(path: &Path) -> Vec<Record> {
    let scans = log::read_log(path).unwrap();
    for s in &scans {
        assert!(matches!(s.tail, log::frame::Tail::Clean | log::frame::Tail::Torn { .. }), "{:?}", s.tail);
    }
    scans.into_iter().flat_map(|s| s.records).collect()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn shadow_killed_with_sigkill_resumes_and_loses_no_complete_record() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let Some(jobs) = harness::kth_slice(3000, 16, 10.0, 4, 16) else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    std::fs::write(&model, r#"{"predictor": "easy++", "version": "kth-e2e-1"}"#).unwrap();
    let log_path = dir.path().join("decisions.log");
    let port = free_port();
    let mut child = start_shadow(&model, &log_path, port);
    wait_for("the metrics endpoint", Duration::from_secs(20), || http_get(port, "/healthz").is_some());
    let replay = std::thread::spawn(move || harness::replay(&jobs));
    std::thread::sleep(Duration::from_secs(6));
    child.kill().unwrap(); // SIGKILL, mid-run
    child.wait().unwrap();
    let before = records(&log_path);
    assert!(before.len() > 3, "the first run wrote records");

    let mut child = start_shadow(&model, &log_path, port);
    let submitted = replay.join().unwrap();
    harness::wait_done(&submitted, Duration::from_secs(120));
    wait_for("every job's finished record", Duration::from_secs(30), || {
        let recs = records(&log_path);
        submitted.iter().all(|id| recs.iter().any(|r| matches!(&r.body, Body::Finished(f) if &f.job_id == id)))
    });
    let metrics = http_get(port, "/metrics").unwrap();
    assert!(metrics.contains("foresight_orchestrator_up 1"), "{metrics}");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success(), "SIGTERM stops it cleanly");

    let after = records(&log_path);
    assert_eq!(&after[..before.len()], &before[..], "every complete record of the killed run is kept as it was");
    let seqs: Vec<u64> = after.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (0..after.len() as u64).collect::<Vec<_>>(), "sequence numbers run on without a gap");
    let starts: Vec<bool> = after.iter().filter_map(|r| if let Body::Start(s) = &r.body { Some(s.resumed) } else { None }).collect();
    assert_eq!(starts, [false, true]);
    assert!(matches!(after.last().map(|r| &r.body), Some(Body::Stop(s)) if s.reason == "SIGTERM"));
    for id in &submitted {
        let fins: Vec<_> = after.iter().filter_map(|r| if let Body::Finished(f) = &r.body { (&f.job_id == id).then_some(f) } else { None }).collect();
        assert_eq!(fins.len(), 1, "job {id} reported once");
        assert!(fins[0].predicted_runtime_s.is_some() && fins[0].error_s.is_some(), "job {id}: {:?}", fins[0]);
        assert_eq!(fins[0].model_version.as_deref(), Some("kth-e2e-1"));
    }

    // foresight log reads and filters it
    let path = log_path.to_str().unwrap();
    let out = foresight(&["log", path, "--kind", "finished"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let finished = after.iter().filter(|r| matches!(r.body, Body::Finished(_))).count();
    assert_eq!(text.lines().count(), finished);
    assert!(text.lines().all(|l| l.contains(" finished ") && l.contains("predicted_s=")), "{text}");
    let out = foresight(&["log", path, "--job", &submitted[0], "--json"]);
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().any(|v| v["kind"] == "finished" && v["job_id"] == submitted[0].as_str()), "{lines:?}");
    let out = foresight(&["log", path, "--summary", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["finished_jobs"].as_u64(), Some(finished as u64), "{summary}");
    assert!(summary["cycles"].as_u64().unwrap() > 0 && summary["agreement"].is_number(), "{summary}");
    let out = foresight(&["log", path, "--summary"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("## Shadow mode"));
}

/// A trained model file (as `foresight train` writes it, here from the
/// first 3,000 finished jobs of KTH-SP2) served live against the real
/// Slurm: every finished job gets its prediction and error, stamped with
/// the trained model's version, and no cycle falls back.
#[test]
fn shadow_serves_a_trained_model_file() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let Some(jobs) = harness::kth_slice(4000, 12, 8.0, 3, 16) else { return };
    let path = foresight_datasets::shared::dataset_or_skip("pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz").unwrap();
    let mut table = foresight_datasets::read_trace(&path, &foresight_datasets::ReadOptions::default()).unwrap().table;
    table.jobs.truncate(3000);
    let kind = foresight_models::ModelKind::Gbt;
    let file = foresight_models::train(&table, kind, &Default::default(), foresight_models::SplitOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("trained.json");
    file.save(&model).unwrap();
    let log_path = dir.path().join("decisions.log");
    let port = free_port();
    let mut child = start_shadow(&model, &log_path, port);
    wait_for("the metrics endpoint", Duration::from_secs(20), || http_get(port, "/healthz").is_some());
    let submitted = harness::replay(&jobs);
    harness::wait_done(&submitted, Duration::from_secs(120));
    wait_for("every job's finished record", Duration::from_secs(30), || {
        let recs = records(&log_path);
        submitted.iter().all(|id| recs.iter().any(|r| matches!(&r.body, Body::Finished(f) if &f.job_id == id)))
    });
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success(), "SIGTERM stops it cleanly");

    let recs = records(&log_path);
    let version = recs.iter().find_map(|r| if let Body::Start(s) = &r.body { s.model_version.clone() } else { None });
    let version = version.expect("the start record names the loaded model");
    assert!(version.starts_with("gbt-"), "{version}");
    for id in &submitted {
        let f = recs.iter().find_map(|r| if let Body::Finished(f) = &r.body { (&f.job_id == id).then_some(f) } else { None }).unwrap();
        let (p, e) = (f.predicted_runtime_s.expect("a prediction"), f.error_s.expect("an error"));
        assert!(p.is_finite() && p >= 0.0 && e.is_finite(), "job {id}: {f:?}");
        assert_eq!(f.model_version.as_deref(), Some(version.as_str()), "job {id}");
    }
    let cycles: Vec<_> = recs.iter().filter_map(|r| if let Body::Cycle(c) = &r.body { Some(c) } else { None }).collect();
    assert!(!cycles.is_empty());
    assert!(cycles.iter().all(|c| c.fallback_reason.is_none()), "the trained model never fell back");
}
