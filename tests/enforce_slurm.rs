//! End-to-end: `foresight shadow --mode enforce` on a real single-host
//! Slurm. Killed with SIGKILL while it holds gates, no job stays gated
//! past the lease (Slurm itself lets the `BeginTime` lapse); started again
//! over a log whose last actions have no outcome, it reconciles them with
//! what Slurm shows (an action that took effect is not taken again, one
//! that did not is recorded so); stopped with SIGTERM, it lifts every gate
//! before it exits. Skips unless root with Slurm installed (fails instead
//! when FORESIGHT_REQUIRE_SLURM=1).

#[path = "../controller/tests/slurm/harness.rs"]
#[allow(dead_code)]
mod harness;

use foresight_controller::enforce::ledger::Ledger;
use foresight_controller::log::{self, Act, ActionRecord, Body, LogConfig, LogWriter, Record};
use harness::ReplayJob;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LEASE_S: u64 = 8;

/// The controller's process, killed if the test fails before it stops it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const OPERATOR: &str = "operator-token-0123456789";
const WATCHER: &str = "watcher-token-0123456789";

fn start(model: &Path, log_path: &Path, port: u16, tokens: &Path) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_foresight"))
            .args([
                "shadow",
                "--slurm",
                "cmd",
                "--policy",
                "easy++",
                "--mode",
                "enforce",
                "--poll-ms",
                "200",
                "--timer-s",
                "1",
            ])
            .args(["--lease-s", &LEASE_S.to_string(), "--control-partition", "batch"])
            .args(["--deadline-ms", "3000", "--drift-threshold", "inf", "--log-level", "warn"])
            .arg("--model")
            .arg(model)
            .arg("--log")
            .arg(log_path)
            .arg("--metrics")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--tokens")
            .arg(tokens)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start foresight shadow --mode enforce"),
    )
}

fn records(path: &Path) -> Vec<Record> {
    log::read_log(path).unwrap().into_iter().flat_map(|s| s.records).collect()
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn outcomes(recs: &[Record], id: u64) -> Vec<(usize, &log::OutcomeRecord)> {
    recs.iter()
        .enumerate()
        .filter_map(|(i, r)| if let Body::Outcome(o) = &r.body { (o.id == id).then_some((i, o)) } else { None })
        .collect()
}

#[test]
fn killed_mid_enforcement_no_job_stays_gated_past_the_lease_and_a_restart_repeats_and_forgets_nothing() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    std::fs::write(&model, r#"{"predictor": "easy++", "version": "enforce-e2e"}"#).unwrap();
    let log_path = dir.path().join("decisions.log");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("operator alice {OPERATOR}\nwatch bob {WATCHER}\n")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let fill = harness::submit(&ReplayJob { trace_id: "fill".into(), at_s: 0.0, cpus: 16, sleep_s: 90, limit_min: 2 });
    harness::wait_running(&fill, Duration::from_secs(20));

    let mut child = start(&model, &log_path, port, &tokens);
    let small = ReplayJob { trace_id: "small".into(), at_s: 0.0, cpus: 1, sleep_s: 1, limit_min: 1 };
    let waiting: Vec<String> = (0..3).map(|_| harness::submit(&small)).collect();
    wait_for("every waiting job gated", Duration::from_secs(20), || {
        let gated = harness::gated_now();
        waiting.iter().all(|id| gated.contains(id))
    });

    // SIGKILL: nothing of foresight runs; the leases lapse in Slurm
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let killed_at = now();
    wait_for("every gate lapsed", Duration::from_secs(LEASE_S + 10), || {
        for (id, eligible) in harness::eligible_times() {
            assert!(eligible as f64 <= killed_at + LEASE_S as f64 + 1.0, "job {id} gated past the lease: {eligible}");
        }
        harness::gated_now().is_empty()
    });
    assert!(now() - killed_at <= LEASE_S as f64 + 3.0, "gates lapsed {:.1} s after the kill", now() - killed_at);

    // a run killed between an action and its outcome: one gate that Slurm
    // took, one site factor that it never got
    let (j1, j2) = (waiting[0].clone(), waiting[1].clone());
    let next = Ledger::read(&records(&log_path)).next_id;
    let mut w = LogWriter::open(LogConfig::new(&log_path)).unwrap();
    let gate_at = now();
    w.append(
        gate_at,
        Body::Action(ActionRecord {
            id: next,
            act: Act::Gate { lease_s: LEASE_S },
            job_ids: vec![j1.clone()],
            why: "enforce".into(),
        }),
    )
    .unwrap();
    assert!(
        Command::new("scontrol")
            .args(["update", &format!("JobId={j1}"), &format!("StartTime=now+{LEASE_S}")])
            .status()
            .unwrap()
            .success()
    );
    w.append(
        now(),
        Body::Action(ActionRecord {
            id: next + 1,
            act: Act::SiteFactor { value: 77 },
            job_ids: vec![j2.clone()],
            why: "enforce".into(),
        }),
    )
    .unwrap();
    w.sync().unwrap();
    drop(w);

    let mut child = start(&model, &log_path, port, &tokens);
    wait_for("both reconciled", Duration::from_secs(20), || {
        let recs = records(&log_path);
        !outcomes(&recs, next).is_empty() && !outcomes(&recs, next + 1).is_empty()
    });
    wait_for("the lapsed gates set again", Duration::from_secs(20), || {
        let gated = harness::gated_now();
        waiting.iter().all(|id| gated.contains(id))
    });
    let recs = records(&log_path);
    let (_, o1) = outcomes(&recs, next)[0];
    let (_, o2) = outcomes(&recs, next + 1)[0];
    assert!(o1.ok && o1.reconciled, "the gate Slurm shows is taken as done: {o1:?}");
    assert!(!o2.ok && o2.reconciled, "the factor Slurm lacks is recorded as not taken: {o2:?}");
    // not repeated: j1's next gate is a renewal, when less than half its lease is left
    for r in &recs {
        if let Body::Action(a) = &r.body
            && a.id > next + 1
            && a.job_ids.contains(&j1)
            && matches!(a.act, Act::Gate { .. })
        {
            assert!(
                r.ts_unix_s >= gate_at + (LEASE_S / 2) as f64 - 1.0,
                "j1 gated again {:.1} s after its gate",
                r.ts_unix_s - gate_at
            );
        }
    }

    // the operators' commands against the running controller
    let addr = format!("127.0.0.1:{port}");
    let op = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_foresight"))
            .args(args)
            .env_remove("FORESIGHT_OPERATOR_TOKEN")
            .output()
            .unwrap()
    };
    let out = op(&["mode", "--controller", &addr]);
    assert_eq!(out.status.code(), Some(2), "no token: refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = op(&["mode", "--controller", &addr, "--token", WATCHER]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("\"enforce\""), "{out:?}");
    let out = op(&["mode", "shadow", "--controller", &addr, "--token", WATCHER]);
    assert_eq!(out.status.code(), Some(2), "a watcher cannot switch");
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"));
    let out = op(&["advise", "list", "--controller", &addr, "--token", OPERATOR]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("mode enforce; 0 proposals"),
        "{out:?}"
    );
    let out = op(&["mode", "sideways", "--controller", &addr, "--token", OPERATOR]);
    assert_eq!(out.status.code(), Some(2), "an unknown mode is bad input");

    // SIGTERM: every gate lifted before it exits
    assert!(Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap().success());
    assert!(child.0.wait().unwrap().success(), "SIGTERM stops it cleanly");
    let gated = harness::gated_now();
    assert!(gated.is_empty(), "gates left after a clean stop: {gated:?}");
    assert!(harness::site_factors().iter().all(|(_, f)| *f == 0));
    let recs = records(&log_path);
    let lifted: Vec<&String> = recs
        .iter()
        .filter_map(|r| {
            if let Body::Action(a) = &r.body {
                (a.why == "shutdown" && a.act == Act::Lift).then_some(&a.job_ids)
            } else {
                None
            }
        })
        .flatten()
        .collect();
    for id in &waiting {
        assert!(lifted.contains(&id), "job {id} lifted at shutdown: {lifted:?}");
    }
    assert!(matches!(recs.last().map(|r| &r.body), Some(Body::Stop(_))));
    // every action: logged before its outcome, and exactly one outcome
    for (i, r) in recs.iter().enumerate() {
        if let Body::Action(a) = &r.body {
            let outs = outcomes(&recs, a.id);
            assert_eq!(outs.len(), 1, "action {} has one outcome: {outs:?}", a.id);
            assert!(outs[0].0 > i);
        }
    }
    let summary = log::summary::summarise(&recs, 3600.0).acting.expect("the acting side");
    assert_eq!(summary.actions_unresolved, 0);
    // the watcher's switch is logged; a read without a token is refused, not logged
    assert_eq!((summary.refused, summary.mode_switches), (1, 0), "{summary:?}");
    eprintln!(
        "decision delay over {} jobs: p50 {:?} s, p99 {:?} s (submit times are whole seconds)",
        summary.decided_jobs, summary.decision_delay_p50_s, summary.decision_delay_p99_s
    );
    harness::cancel_all();
}
