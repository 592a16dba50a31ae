//! `foresight ab`'s two Slurm instances: started and stopped through the
//! project's `scripts/slurm-up.sh` and `slurm-down.sh` (each instance with
//! its own `slurm.conf`, ports, state and job completion file), reached by
//! their clients through `SLURM_CONF`; submission as `sleep` jobs, the
//! queue, the gates left, and the completion records `sacct -c` reads.

use super::ab_input::AbJob;
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Slurm's default backfill resolution, seconds (`bf_resolution`).
pub const SLURM_BF_RESOLUTION_S: f64 = 60.0;

/// The backfill resolution that stands for Slurm's default on time
/// compressed `compress` times: 60 s divided by it, a whole second at least.
/// Slurm rounds a reservation's start down and a backfilled job's end up to
/// this grain, so at 60 s wall on 180x time every reservation would move by
/// up to three trace hours, which no site's Slurm does to its jobs.
pub fn bf_resolution_s(compress: f64) -> u32 {
    (SLURM_BF_RESOLUTION_S / compress).round().clamp(1.0, SLURM_BF_RESOLUTION_S) as u32
}

/// One Slurm instance of `scripts/slurm-up.sh` (`FS_SLURM_INSTANCE`).
#[derive(Debug, Clone)]
pub struct Instance {
    /// Its name (ClusterName; lower-case letters and digits).
    pub name: String,
    /// SlurmctldPort (SlurmdPort is one more).
    pub ctld_port: u16,
    /// The first node's port.
    pub node_port: u16,
    /// Node name prefix.
    pub prefix: String,
}

impl Instance {
    /// Its `slurm.conf`.
    pub fn conf(&self) -> PathBuf {
        PathBuf::from(format!("/etc/slurm-{}/slurm.conf", self.name))
    }

    /// A Slurm client command for this instance.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", self.conf()).env("SLURM_TIME_FORMAT", "%s");
        c
    }

    /// Starts it afresh (job ids from 1, no earlier jobs) with `nodes` nodes
    /// of `cpus` CPUs each and the backfill's resolution `bf_resolution_s`
    /// (see [`bf_resolution_s`]), and waits for idle nodes.
    pub fn up(&self, scripts: &Path, nodes: u32, cpus: u32, bf_resolution_s: u32) -> anyhow::Result<()> {
        let out = Command::new("bash")
            .arg(scripts.join("slurm-up.sh"))
            .env("FS_SLURM_INSTANCE", &self.name)
            .env("FS_SLURM_CTLD_PORT", self.ctld_port.to_string())
            .env("FS_SLURM_NODE_PORT", self.node_port.to_string())
            .env("FS_SLURM_NODE_PREFIX", &self.prefix)
            .env("FS_SLURM_NODES", nodes.to_string())
            .env("FS_SLURM_CPUS", cpus.to_string())
            .env("FS_SLURM_BF_RESOLUTION", bf_resolution_s.to_string())
            .env("FS_SLURM_FRESH", "1")
            .env("FS_SLURM_INSTALL", "0")
            .output()
            .with_context(|| format!("run {}", scripts.join("slurm-up.sh").display()))?;
        if !out.status.success() {
            bail!("slurm-up.sh for instance {} failed: {}", self.name, String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }

    /// Stops it (its jobs cancelled); munged is left running.
    pub fn down(&self, scripts: &Path) {
        let _ = Command::new("bash").arg(scripts.join("slurm-down.sh")).env("FS_SLURM_INSTANCE", &self.name).output();
    }

    /// Submits one job to `partition`; its Slurm id, and the Unix time
    /// `sbatch` returned.
    pub fn submit(&self, job: &AbJob, partition: &str) -> anyhow::Result<(String, f64)> {
        let mut c = self.cmd("sbatch");
        c.args(["--parsable", "--chdir=/tmp", "--output=/dev/null", "--error=/dev/null"])
            .arg(format!("--partition={partition}"))
            .arg(format!("--job-name=kth-{}", job.trace_id))
            .arg(format!("--ntasks={}", job.cpus))
            .arg(format!("--time={}", job.limit_min))
            .arg(format!("--wrap=sleep {}", job.sleep_s));
        if job.user != "root" {
            c.arg(format!("--uid={}", job.user));
        }
        let out = c.output().context("run sbatch")?;
        let at = now();
        if !out.status.success() {
            bail!(
                "sbatch on {} for trace job {}: {}",
                self.name,
                job.trace_id,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let id = String::from_utf8_lossy(&out.stdout).trim().split(';').next().unwrap_or_default().to_string();
        Ok((id, at))
    }

    /// Jobs pending, running or completing.
    pub fn queued(&self) -> anyhow::Result<usize> {
        let out = self.cmd("squeue").args(["-h", "-t", "PD,R,CG", "-o", "%i"]).output().context("run squeue")?;
        if !out.status.success() {
            bail!("squeue on {}: {}", self.name, String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).count())
    }

    /// Pending jobs gated now (eligible more than a second from now).
    pub fn gated(&self) -> anyhow::Result<Vec<String>> {
        let out = self.cmd("squeue").arg("--json").output().context("run squeue --json")?;
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).context("parse squeue --json")?;
        let now = now() as u64;
        Ok(doc["jobs"]
            .as_array()
            .map(|jobs| {
                jobs.iter()
                    .filter(|j| j["job_state"] == "PENDING" && j["eligible_time"].as_u64().unwrap_or(0) > now + 1)
                    .map(|j| j["job_id"].to_string())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The job completion file (`JobCompLoc`) `slurm-up.sh` gives it.
    pub fn jobcomp(&self) -> PathBuf {
        PathBuf::from(format!("/var/log/slurm-{}/jobcomp.txt", self.name))
    }

    /// Every finished job's record, from `sacct -c` (the instance's job
    /// completion file; it needs no daemon). Slurm 22.05's `sacct -c`
    /// prints the start time as `Submit` (and the eligible time as
    /// `Eligible`), so the submission is taken from the file's own
    /// `SubmitTime`, as an offset before its `StartTime` (both in the same
    /// local time, whatever the zone).
    pub fn sacct(&self) -> anyhow::Result<Vec<Completed>> {
        let out = self
            .cmd("sacct")
            .args(["-c", "-n", "-P", "-o", "JobID,JobName,Submit,Start,End,State,AllocCPUS"])
            .output()
            .context("run sacct -c")?;
        if !out.status.success() {
            bail!("sacct -c on {}: {}", self.name, String::from_utf8_lossy(&out.stderr).trim());
        }
        let file =
            std::fs::read_to_string(self.jobcomp()).with_context(|| format!("read {}", self.jobcomp().display()))?;
        let queued = queued_before_start(&file);
        let mut records: Vec<Completed> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(Completed::parse)
            .collect::<anyhow::Result<_>>()?;
        for r in &mut records {
            match queued.get(r.id.as_str()) {
                Some(q) if r.start_s.is_finite() => r.submit_s = r.start_s - q,
                _ => r.submit_s = f64::NAN,
            }
        }
        Ok(records)
    }
}

/// Per job id of a job completion file, the seconds from its `SubmitTime`
/// to its `StartTime` (jobs that never started are left out).
pub fn queued_before_start(file: &str) -> HashMap<&str, f64> {
    let mut out = HashMap::new();
    for line in file.lines() {
        let field = |k: &str| line.split_whitespace().find_map(|f| f.strip_prefix(k));
        if let (Some(id), Some(start), Some(submit)) =
            (field("JobId="), field("StartTime=").and_then(naive_s), field("SubmitTime=").and_then(naive_s))
        {
            out.insert(id, start - submit);
        }
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SS` as seconds since 1970 read as UTC (only
/// differences of two are used).
fn naive_s(t: &str) -> Option<f64> {
    let (date, time) = t.split_once('T')?;
    let d: Vec<i64> = date.split('-').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let h: Vec<i64> = time.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let ([y, m, day], [hh, mm, ss]) = (d.as_slice(), h.as_slice()) else { return None };
    // days from the civil date (Howard Hinnant's algorithm)
    let y = if *m <= 2 { y - 1 } else { *y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss) as f64)
}

/// One line of `sacct -c`.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    /// Slurm's id.
    pub id: String,
    /// The job name (`kth-` and the trace's id).
    pub name: String,
    /// Submission, Unix seconds.
    pub submit_s: f64,
    /// Start (NaN when it never started).
    pub start_s: f64,
    /// End (NaN when it never started).
    pub end_s: f64,
    /// COMPLETED, FAILED, TIMEOUT, CANCELLED...
    pub state: String,
    /// CPUs allocated.
    pub cpus: u32,
}

impl Completed {
    fn parse(line: &str) -> anyhow::Result<Self> {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() < 7 {
            bail!("sacct -c line `{line}` has {} fields, not 7", f.len());
        }
        let num = |i: usize| f[i].trim().parse::<f64>().with_context(|| format!("field {i} of sacct -c line `{line}`"));
        // a job that never started has no start or end (`Unknown`)
        let time = |i: usize| f[i].trim().parse::<f64>().unwrap_or(f64::NAN);
        Ok(Self {
            id: f[0].to_string(),
            name: f[1].to_string(),
            submit_s: num(2)?,
            start_s: time(3),
            end_s: time(4),
            state: f[5].to_string(),
            cpus: f[6].trim().parse().with_context(|| format!("CPUs of sacct -c line `{line}`"))?,
        })
    }
}

/// The Linux users the jobs run as (`fsab` and the trace's user id), made
/// when missing: system users with no home and no shell, so that Slurm
/// sees the trace's users apart (fair share, users' history) as the
/// simulator does.
pub fn ensure_users(jobs: &[AbJob]) -> anyhow::Result<usize> {
    let mut users: Vec<&str> = jobs.iter().map(|j| j.user.as_str()).filter(|u| *u != "root").collect();
    users.sort_unstable();
    users.dedup();
    let mut made = 0;
    for u in users {
        if Command::new("id").args(["-u", u]).output().is_ok_and(|o| o.status.success()) {
            continue;
        }
        let out = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", u])
            .output()
            .context("run useradd")?;
        if !out.status.success() {
            bail!("useradd {u}: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        made += 1;
    }
    Ok(made)
}

/// Now, Unix seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sacct_line_and_refuses_a_short_one() {
        let c = Completed::parse("12|kth-5|1796534949|1796534950|1796534953|COMPLETED|3").unwrap();
        assert_eq!((c.id.as_str(), c.name.as_str(), c.start_s, c.cpus), ("12", "kth-5", 1796534950.0, 3));
        assert!(Completed::parse("12|kth-5|x").unwrap_err().to_string().contains("3 fields"));
        assert!(Completed::parse("12|kth-5|1|Unknown|Unknown|CANCELLED|3").unwrap().start_s.is_nan());
        assert!(Completed::parse("12|kth-5|never|1|3|FAILED|3").is_err());
    }

    #[test]
    fn the_backfill_resolution_is_slurms_default_on_compressed_time() {
        assert_eq!(bf_resolution_s(1.0), 60);
        assert_eq!(bf_resolution_s(2.0), 30);
        assert_eq!(bf_resolution_s(180.0), 1);
        assert_eq!(bf_resolution_s(0.5), 60, "never coarser than Slurm's default");
        let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/slurm-up.sh")).unwrap();
        assert!(script.contains("bf_resolution=$bf_resolution"), "slurm-up.sh sets bf_resolution");
        assert!(script.contains("FS_SLURM_BF_RESOLUTION:-1}"), "and defaults it to the tests' compressed time");
    }

    #[test]
    fn the_submission_comes_from_the_completion_file() {
        let file = "JobId=210 UserId=fsab3(980) Name=kth-10463 JobState=COMPLETED StartTime=2026-12-06T06:03:26 EndTime=2026-12-06T06:03:43 SubmitTime=2026-12-06T05:50:10 EligibleTime=2026-12-06T06:03:26\n\
                    JobId=211 StartTime=Unknown SubmitTime=2026-12-06T05:50:10\n";
        let q = queued_before_start(file);
        assert_eq!(q.get("210"), Some(&796.0));
        assert_eq!(q.get("211"), None);
        assert_eq!(naive_s("1970-01-02T00:00:01"), Some(86_401.0));
        assert_eq!(naive_s("2026-03-01T00:00:00").unwrap() - naive_s("2026-02-28T00:00:00").unwrap(), 86_400.0);
    }
}
