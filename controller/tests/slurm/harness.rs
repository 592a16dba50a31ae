//! The real single-host Slurm for these tests: started through the
//! project's `scripts/slurm-up.sh`, shared by the tests one at a time, and
//! a replay of a slice of a real trace into it as short `sleep` jobs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Set by CI: a missing Slurm fails instead of skipping.
pub const REQUIRE_ENV: &str = "FORESIGHT_REQUIRE_SLURM";

static SLURM: Mutex<()> = Mutex::new(());

/// The project's `scripts/` folder (this file is also used by the
/// workspace's end-to-end tests, one level up).
fn scripts() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [here.join("scripts"), here.join("../scripts")]
        .into_iter()
        .find(|d| d.join("slurm-up.sh").is_file())
        .expect("scripts/slurm-up.sh in the repository")
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Holds the Slurm lock for one test. Nodes are idle when it is handed out.
pub struct Slurm {
    _lock: MutexGuard<'static, ()>,
}

/// Starts (or reuses) Slurm and waits for idle nodes; `None` after printing
/// "skipped: ..." when this machine cannot run it and CI did not ask for it.
pub fn slurm_or_skip() -> Option<Slurm> {
    let lock = SLURM.lock().unwrap_or_else(|e| e.into_inner());
    let missing = ["slurmctld", "slurmd", "sbatch", "squeue", "munged"].into_iter().find(|b| !on_path(b) && !Path::new("/usr/sbin").join(b).exists());
    let why = if !is_root() {
        Some("the Slurm tests start daemons and must run as root".to_string())
    } else {
        missing.map(|b| format!("`{b}` is not installed (apt-get install slurmctld slurmd slurm-client munge slurmrestd)"))
    };
    if let Some(why) = why {
        if std::env::var_os(REQUIRE_ENV).is_some_and(|v| v == "1") {
            panic!("{why}, and {REQUIRE_ENV}=1");
        }
        eprintln!("skipped: {why}");
        return None;
    }
    let out = Command::new(scripts().join("slurm-up.sh"))
        .env("FS_SLURM_INSTALL", "0")
        .env("FS_SLURM_REST", "1")
        .output()
        .expect("run scripts/slurm-up.sh");
    assert!(out.status.success(), "slurm-up.sh failed: {}", String::from_utf8_lossy(&out.stderr));
    cancel_all();
    Some(Slurm { _lock: lock })
}

/// The slurmrestd socket `slurm-up.sh` serves with `FS_SLURM_REST=1`.
pub const REST_SOCKET: &str = "/run/slurm/slurmrestd.sock";

/// Cancels every job and waits until nothing runs.
pub fn cancel_all() {
    let _ = Command::new("scancel").args(["--full", "--user=root"]).status();
    for _ in 0..100 {
        let out = Command::new("squeue").args(["-h", "-t", "PD,R,CG", "-o", "%i"]).output();
        if out.is_ok_and(|o| o.status.success() && o.stdout.is_empty()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops slurmctld only (jobs on the slurmds go on).
pub fn stop_slurmctld() {
    let pid = std::fs::read_to_string("/run/slurm/slurmctld.pid").expect("slurmctld pid file");
    let pid = pid.trim().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{pid}")).exists() || std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| s.contains("zombie")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("slurmctld {pid} did not stop");
}

/// Starts Slurm again after [`stop_slurmctld`].
pub fn restart_slurm() {
    let out = Command::new(scripts().join("slurm-up.sh")).env("FS_SLURM_INSTALL", "0").env("FS_SLURM_REST", "1").output().unwrap();
    assert!(out.status.success(), "slurm-up.sh failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// One job to submit: when (seconds after the replay starts), how many
/// CPUs, how long it sleeps, and its time limit in minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayJob {
    /// The trace's id.
    pub trace_id: String,
    /// Submission offset, seconds.
    pub at_s: f64,
    /// CPUs.
    pub cpus: u32,
    /// Sleep, seconds.
    pub sleep_s: u32,
    /// Time limit, minutes.
    pub limit_min: u32,
}

/// A slice of the KTH SP2 trace (jobs `skip..skip+count` that ran),
/// compressed in time: arrivals `compress` times closer (the whole slice
/// within `span_s`), runtimes mapped to 1..=`max_sleep_s` seconds, CPUs
/// scaled from the SP2's 100 processors to `cluster_cpus`.
pub fn kth_slice(skip: usize, count: usize, span_s: f64, max_sleep_s: u32, cluster_cpus: u32) -> Option<Vec<ReplayJob>> {
    let path = foresight_datasets::shared::dataset_or_skip("pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz")?;
    let read = foresight_datasets::read_trace(&path, &foresight_datasets::ReadOptions::default()).expect("read KTH SP2");
    let jobs: Vec<_> = read.table.jobs.into_iter().filter(|j| j.runtime_s.is_some_and(|r| r > 0.0)).skip(skip).take(count).collect();
    assert_eq!(jobs.len(), count, "the trace has enough jobs");
    let t0 = jobs[0].submit_s;
    let span = (jobs.last().unwrap().submit_s - t0).max(1.0);
    let max_run = jobs.iter().filter_map(|j| j.runtime_s).fold(1.0f64, f64::max);
    let procs = read.table.meta.capacity.cpus.unwrap_or(100).max(1);
    Some(
        jobs.iter()
            .map(|j| {
                let run = j.runtime_s.unwrap();
                let sleep = 1 + ((run / max_run).sqrt() * f64::from(max_sleep_s - 1)).round() as u32;
                let cpus = (j.req_cpus.unwrap_or(1) * cluster_cpus).div_ceil(procs).clamp(1, cluster_cpus);
                ReplayJob { trace_id: j.job_id.clone(), at_s: (j.submit_s - t0) / span * span_s, cpus, sleep_s: sleep, limit_min: 2 }
            })
            .collect(),
    )
}

/// Submits one job; returns its Slurm id.
pub fn submit(job: &ReplayJob) -> String {
    let out = Command::new("sbatch")
        .args(["--parsable", "--chdir=/tmp", "--output=/dev/null", "--error=/dev/null"])
        .arg(format!("--job-name=kth-{}", job.trace_id))
        .arg(format!("--ntasks={}", job.cpus))
        .arg(format!("--time={}", job.limit_min))
        .arg(format!("--wrap=sleep {}", job.sleep_s))
        .output()
        .expect("run sbatch");
    assert!(out.status.success(), "sbatch: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().split(';').next().unwrap().to_string()
}

/// Submits the jobs at their offsets (blocking); returns their Slurm ids.
pub fn replay(jobs: &[ReplayJob]) -> Vec<String> {
    let start = std::time::Instant::now();
    jobs.iter()
        .map(|j| {
            let due = Duration::from_secs_f64(j.at_s);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            submit(j)
        })
        .collect()
}

/// Waits until none of `ids` is pending or running; panics after `limit`.
pub fn wait_done(ids: &[String], limit: Duration) {
    let start = std::time::Instant::now();
    let list = ids.join(",");
    while start.elapsed() < limit {
        let out = Command::new("squeue").args(["-h", "-t", "PD,R,CG", "-o", "%i", &format!("--jobs={list}")]).output();
        if out.is_ok_and(|o| o.status.success() && o.stdout.is_empty()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("jobs still queued or running after {limit:?}");
}

/// Pending jobs with their eligible time (a `BeginTime` ahead shows as
/// one in the future), from `squeue --json`.
pub fn eligible_times() -> Vec<(String, u64)> {
    let out = Command::new("squeue").arg("--json").output().expect("run squeue");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("squeue --json");
    doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["job_state"] == "PENDING")
        .map(|j| (j["job_id"].to_string(), j["eligible_time"].as_u64().unwrap_or(0)))
        .collect()
}

/// Pending jobs gated now: eligible more than a second from now.
pub fn gated_now() -> Vec<String> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    eligible_times().into_iter().filter(|(_, e)| *e > now + 1).map(|(id, _)| id).collect()
}

/// The site factor of each pending job, from `sprio`.
pub fn site_factors() -> Vec<(String, i64)> {
    let out = Command::new("sprio").args(["-h", "-o", "%i %S"]).output().expect("run sprio");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_string(), f.next()?.parse().ok()?))
        })
        .collect()
}

/// Submits a job held (`sbatch --hold`); returns its id.
pub fn submit_held(cpus: u32, sleep_s: u32) -> String {
    let out = Command::new("sbatch")
        .args(["--parsable", "--hold", "--chdir=/tmp", "--output=/dev/null", "--error=/dev/null", "--time=1"])
        .arg(format!("--ntasks={cpus}"))
        .arg(format!("--wrap=sleep {sleep_s}"))
        .output()
        .expect("run sbatch");
    assert!(out.status.success(), "sbatch: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().split(';').next().unwrap().to_string()
}

/// Waits until the job runs (or ran).
pub fn wait_running(id: &str, limit: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        let out = Command::new("squeue").args(["-h", "-o", "%T", &format!("--jobs={id}")]).output().unwrap();
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if state == "RUNNING" || state.is_empty() || state == "COMPLETING" {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("job {id} not running after {limit:?}");
}
