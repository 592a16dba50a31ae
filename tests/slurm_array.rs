//! End-to-end: `foresight sweep --slurm-array` and `foresight plan
//! --backtest --slurm-array` against the real single-host Slurm the tests
//! start give the same JSON and table as the same command run locally, bit
//! for bit; and the parts (`--shard`) refuse what they cannot do. The Slurm
//! tests skip unless root with Slurm installed (fail instead when
//! FORESIGHT_REQUIRE_SLURM=1); the backtest's skips without KTH-SP2.

#[path = "../controller/tests/slurm/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::path::Path;
use std::process::{Command, Output};

fn foresight(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foresight"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the foresight binary runs")
}

/// 300 jobs on a 16-processor, 4-node machine, busy enough for the
/// policies to differ.
fn write_trace(dir: &Path) {
    let mut text = String::from("; MaxProcs: 16\n; MaxNodes: 4\n");
    let mut t = 0u64;
    for i in 1..=300u64 {
        t += 5 + (i * 37) % 80;
        let runtime = 10 + (i * 131) % 890;
        let procs = [1, 2, 4, 8, 16][(i % 5) as usize];
        let request = runtime * [1, 2, 4, 8][(i % 4) as usize];
        text.push_str(&format!(
            "{i} {t} 0 {runtime} {procs} -1 -1 {procs} {request} -1 1 {} 1 -1 1 -1 -1 -1\n",
            i % 7 + 1
        ));
    }
    std::fs::write(dir.join("t.swf"), text).unwrap();
}

/// A grid of 12 points: 2 loads x 2 seeds x 3 policies, with node failures
/// so that the seeds matter.
fn grid() -> Vec<&'static str> {
    vec![
        "sweep",
        "t.swf",
        "--policies",
        "easy,sjbf,easy++",
        "--load-factors",
        "1,1.5",
        "--seeds",
        "1,2",
        "--mtbf",
        "20000",
    ]
}

#[test]
fn a_sweep_run_as_a_slurm_array_is_the_local_sweep_bit_for_bit() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_trace(dir.path());
    let local = foresight(dir.path(), &[&grid()[..], &["--json", "local.json"]].concat());
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
    let array = foresight(
        dir.path(),
        &[&grid()[..], &["--json", "array.json", "--slurm-array", "3", "--slurm-dir", "parts"]].concat(),
    );
    assert!(array.status.success(), "{}", String::from_utf8_lossy(&array.stderr));
    assert_eq!(String::from_utf8_lossy(&array.stdout), String::from_utf8_lossy(&local.stdout), "the same table");
    let (a, l) =
        (std::fs::read(dir.path().join("array.json")).unwrap(), std::fs::read(dir.path().join("local.json")).unwrap());
    assert!(a == l, "the array's JSON differs from the local sweep's");
    let points: serde_json::Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(points.as_array().unwrap().len(), 12, "2 loads x 2 seeds x 3 policies");
    // each of the 3 tasks computed its own 4 points
    for i in 0..3 {
        let part: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(format!("parts/part-{i}.json"))).unwrap()).unwrap();
        let positions: Vec<u64> = part.as_array().unwrap().iter().map(|p| p["position"].as_u64().unwrap()).collect();
        assert_eq!(positions, (0..12).filter(|p| p % 3 == i).collect::<Vec<u64>>());
    }
}

/// The backtest of KTH-SP2's first 7 weeks, 2 seeds, into `out`.
fn backtest(kth: &Path, out: &str) -> Vec<String> {
    let kth = kth.to_str().expect("a UTF-8 path").to_string();
    ["plan", &kth, "--backtest", "--horizon", "7d", "--dev-fraction", "0.15", "--seeds", "2", "--out", out]
        .map(String::from)
        .to_vec()
}

#[test]
fn a_backtest_run_as_a_slurm_array_is_the_local_backtest_bit_for_bit() {
    let Some(kth) = foresight_datasets::shared::dataset_or_skip("pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz") else {
        return;
    };
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = |args: Vec<String>| foresight(dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    let local = run(backtest(&kth, "local"));
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
    let array = run([backtest(&kth, "array"), vec!["--slurm-array".into(), "3".into()]].concat());
    assert!(array.status.success(), "{}", String::from_utf8_lossy(&array.stderr));
    let table = |o: &Output| String::from_utf8_lossy(&o.stdout).split("\nreport:").next().unwrap().to_string();
    assert_eq!(table(&array), table(&local), "the same table");
    assert!(table(&local).contains("| plan | 4 |"), "weeks 3 to 6 planned: {}", table(&local));
    for file in ["backtest.json", "backtest.md"] {
        let (a, l) = (
            std::fs::read(dir.path().join("array").join(file)).unwrap(),
            std::fs::read(dir.path().join("local").join(file)).unwrap(),
        );
        assert!(a == l, "the array's {file} differs from the local backtest's");
    }
    // each of the 3 tasks planned its own periods, in `parts` under --out
    for i in 0..3 {
        let part: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(format!("array/parts/part-{i}.json"))).unwrap())
                .unwrap();
        let periods: Vec<u64> = part.as_array().unwrap().iter().map(|p| p["index"].as_u64().unwrap()).collect();
        assert_eq!(periods, (0..7).filter(|p| p % 3 == i).collect::<Vec<u64>>());
    }
}

#[test]
fn a_part_needs_a_file_and_an_array_a_task() {
    let dir = tempfile::tempdir().unwrap();
    write_trace(dir.path());
    let out = foresight(dir.path(), &[&grid()[..], &["--shard", "1/4"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shard writes its part to --json FILE"));
    let out = foresight(dir.path(), &[&grid()[..], &["--shard", "4/4", "--json", "p.json"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`4/4` is not a shard"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = foresight(dir.path(), &[&grid()[..], &["--slurm-array", "0"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least one task"));
    // a plan's array runs a backtest's periods: a single plan has none
    let out = foresight(dir.path(), &["plan", "t.swf", "--slurm-array", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--backtest"), "{}", String::from_utf8_lossy(&out.stderr));
    // a part run here holds the points its index names
    let out = foresight(dir.path(), &[&grid()[..], &["--shard", "1/5", "--json", "p.json"]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let part: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("p.json")).unwrap()).unwrap();
    let positions: Vec<u64> = part.as_array().unwrap().iter().map(|p| p["position"].as_u64().unwrap()).collect();
    assert_eq!(positions, vec![1, 6, 11]);
}
