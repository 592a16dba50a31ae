//! End-to-end: `foresight ab` on two real Slurm instances started on this
//! host at once (through scripts/slurm-up.sh with FS_SLURM_INSTANCE), with
//! the first 60 jobs of the busiest 48 h of KTH-SP2 compressed 2000 times.
//! It checks the mechanics, not the figures: every job of both arms ran
//! exactly once, no job stayed gated, and the report's three files exist
//! and parse; and again on 30 jobs with `sjf:model` the only candidate, to
//! see the model trained before the slice served on compressed time. Skips
//! unless root with Slurm installed (fails instead when
//! FORESIGHT_REQUIRE_SLURM=1).

use foresight_reports::ab::AbEvidence;
use std::path::{Path, PathBuf};
use std::process::Command;

fn slurm_or_skip() -> bool {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let on_path = |b: &str| {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(b).is_file()))
            || Path::new("/usr/sbin").join(b).exists()
    };
    let missing = ["slurmctld", "slurmd", "sbatch", "sacct", "munged", "useradd"].into_iter().find(|b| !on_path(b));
    let why = match (root, missing) {
        (false, _) => "the A/B starts Slurm daemons and must run as root".to_string(),
        (true, Some(b)) => format!("`{b}` is not installed"),
        (true, None) => return true,
    };
    if std::env::var_os("FORESIGHT_REQUIRE_SLURM").is_some_and(|v| v == "1") {
        panic!("{why}, and FORESIGHT_REQUIRE_SLURM=1");
    }
    eprintln!("skipped: {why}");
    false
}

/// Runs `foresight ab` on the first `jobs` jobs of the slice, compressed
/// 2000 times, on instances `<instance>a` and `<instance>e`, with `extra`
/// arguments; checks the mechanics (every job of both arms ran exactly
/// once, no gate left, the report's files, both instances stopped) and
/// returns the report and the output folder.
fn short_ab(jobs: usize, instance: &str, port: u16, extra: &[&str]) -> Option<(AbEvidence, tempfile::TempDir)> {
    if !slurm_or_skip() {
        return None;
    }
    let trace = foresight_datasets::shared::dataset_or_skip("pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz")?;
    let out = tempfile::tempdir().unwrap();
    let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let run = Command::new(env!("CARGO_BIN_EXE_foresight"))
        .args(["ab", "--max-jobs", &jobs.to_string(), "--compress", "2000", "--instance", instance])
        .args(["--port", &port.to_string(), "--max-wall-s", "400"])
        .args(extra)
        .arg("--trace")
        .arg(&trace)
        .arg("--scripts")
        .arg(&scripts)
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run foresight ab");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "foresight ab failed:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("<html") && html.contains("Slurm alone"), "the HTML report");
    assert!(std::fs::read_to_string(out.path().join("report.md")).unwrap().contains("| metric |"));
    let ev: AbEvidence = serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(ev.slice_jobs, jobs);
    assert_eq!(ev.arms.len(), 2);
    for arm in &ev.arms {
        assert_eq!((arm.submitted, arm.ran_once), (jobs, jobs), "{}: every job ran exactly once: {:?}", arm.name, arm.anomalies);
        assert!(arm.anomalies.is_empty(), "{}: {:?}", arm.name, arm.anomalies);
        assert_eq!(arm.gated_at_end, 0, "{}: no job stayed gated", arm.name);
        assert_eq!(arm.measured.jobs, jobs);
        assert!(arm.measured.mean_wait_s.is_finite() && arm.measured.avg_bsld >= 1.0, "{}: {:?}", arm.name, arm.measured);
        assert_eq!(arm.predicted.jobs, jobs);
    }
    assert!(ev.decided_jobs > 0, "the controller acted on the enforce arm's jobs");
    let submitted = std::fs::read_to_string(out.path().join("submitted.tsv")).unwrap();
    assert_eq!(submitted.lines().count(), 1 + 2 * jobs, "both arms' submissions recorded");
    assert!(ev.candidates.iter().any(|c| c.spec == ev.chosen));
    assert!(
        ev.notes.iter().any(|n| n.contains("Slurm alone, as the simulator models it") && n.contains("conservative-nodes")),
        "the report says how Slurm alone, as modelled, scored before the slice: {:?}",
        ev.notes
    );
    // the instances are stopped at the end
    for suffix in ["a", "e"] {
        let name = format!("{instance}{suffix}");
        assert!(!Path::new(&format!("/run/slurm-{name}/slurmctld.pid")).exists(), "instance {name} stopped");
    }
    Some((ev, out))
}

#[test]
fn a_short_ab_runs_every_job_of_both_arms_once_leaves_no_gate_and_writes_its_report() {
    short_ab(60, "abt", 6857, &[]);
}

#[test]
fn a_short_ab_enforcing_a_model_candidate_serves_the_model_trained_before_the_slice_on_compressed_time() {
    let Some((ev, out)) = short_ab(30, "abm", 6897, &["--candidates", "sjf:model"]) else { return };
    assert_eq!(ev.chosen, "sjf:model");
    assert!(out.path().join("model-prefix.json").exists(), "the model trained on the jobs before the slice");
    assert!(ev.notes.iter().any(|n| n.contains("--time-scale 2000")), "{:?}", ev.notes);
    // the controller served the trained file on the compressed clock
    let log = String::from_utf8_lossy(&std::fs::read(out.path().join("decisions.log")).unwrap()).into_owned();
    assert!(log.contains("@x2000"), "the served model's version says its time scale");
}
