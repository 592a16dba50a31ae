//! The Slurm adapter: reads state through the Slurm commands (`squeue
//! --json`, `sinfo --json`, `sacct -P`) or through `slurmrestd` on a Unix
//! socket, and acts through `scontrol`.

pub mod parse;
mod rest;

use super::{Action, AdapterError, ClusterView, JobView, Orchestrator};
use std::path::PathBuf;
use std::time::Duration;
use tokio::process::Command;

/// How the adapter reads Slurm's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlurmSource {
    /// The client commands, found on `PATH` or in `bin_dir`.
    Commands {
        /// Where `squeue`, `sinfo`, `sacct` and `scontrol` live, if not on `PATH`.
        bin_dir: Option<PathBuf>,
    },
    /// `slurmrestd` listening on a Unix socket (data format v0.0.38).
    Rest {
        /// The socket.
        socket: PathBuf,
    },
}

impl SlurmSource {
    /// Parses a `--slurm` argument: `cmd` (commands on `PATH`), `cmd:DIR`,
    /// or `unix:SOCKET` / a path to a socket.
    pub fn parse(arg: &str) -> Self {
        if arg == "cmd" || arg == "commands" {
            SlurmSource::Commands { bin_dir: None }
        } else if let Some(dir) = arg.strip_prefix("cmd:") {
            SlurmSource::Commands { bin_dir: Some(dir.into()) }
        } else {
            SlurmSource::Rest { socket: arg.strip_prefix("unix:").unwrap_or(arg).into() }
        }
    }
}

/// A Slurm cluster seen through its commands or its REST daemon.
///
/// Memory counts as a resource only where Slurm schedules it
/// (`SelectTypeParameters` with `MEMORY`): elsewhere every job would seem
/// to ask for a whole node's memory. By default this is read once from
/// `scontrol show config`.
#[derive(Debug, Clone)]
pub struct SlurmAdapter {
    source: SlurmSource,
    timeout: Duration,
    memory: Option<bool>,
    env: Vec<(String, String)>,
}

impl SlurmAdapter {
    /// An adapter reading from `source`, giving each call 10 s.
    pub fn new(source: SlurmSource) -> Self {
        Self { source, timeout: Duration::from_secs(10), memory: None, env: Vec::new() }
    }

    /// Runs every Slurm command with `key=value` in its environment: with
    /// `SLURM_CONF` it reaches one of several Slurm instances on a host
    /// (each with its own `slurm.conf`, ports and state), as `foresight ab`
    /// runs two.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Says whether memory is scheduled, instead of asking Slurm.
    pub fn with_memory(mut self, scheduled: bool) -> Self {
        self.memory = Some(scheduled);
        self
    }

    async fn memory_scheduled(&mut self) -> bool {
        if let Some(m) = self.memory {
            return m;
        }
        match self.run("scontrol", &["show", "config"]).await {
            Ok(out) => {
                let m = parse::memory_scheduled(&out);
                self.memory = Some(m);
                m
            }
            // ask again next time; meanwhile count memory
            Err(_) => true,
        }
    }

    /// Changes the time each call may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn program(&self, name: &str) -> PathBuf {
        match &self.source {
            SlurmSource::Commands { bin_dir: Some(dir) } => dir.join(name),
            _ => PathBuf::from(name),
        }
    }

    /// Runs a Slurm command and returns its standard output.
    async fn run(&self, name: &str, args: &[&str]) -> Result<String, AdapterError> {
        let command = format!("{name} {}", args.join(" "));
        let fail = |detail: String| AdapterError::Command { command: command.clone(), detail };
        let mut cmd = Command::new(self.program(name));
        cmd.args(args).envs(self.env.iter().map(|(k, v)| (k, v))).env("SLURM_TIME_FORMAT", "%s").kill_on_drop(true);
        let out = tokio::time::timeout(self.timeout, cmd.output())
            .await
            .map_err(|_| AdapterError::Timeout(command.clone()))?
            .map_err(|e| fail(e.to_string()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(fail(format!("{}: {}", out.status, err.trim())));
        }
        String::from_utf8(out.stdout).map_err(|e| fail(e.to_string()))
    }

    async fn json(&self, name: &str, args: &[&str], rest_path: &str) -> Result<serde_json::Value, AdapterError> {
        let body = match &self.source {
            SlurmSource::Commands { .. } => self.run(name, args).await?,
            SlurmSource::Rest { socket } => {
                tokio::time::timeout(self.timeout, rest::get(socket, rest_path))
                    .await
                    .map_err(|_| AdapterError::Timeout(rest_path.to_string()))??
            }
        };
        serde_json::from_str(&body).map_err(|e| AdapterError::Parse { what: name.to_string(), detail: e.to_string() })
    }
}

use crate::clock::now_unix_s;

impl Orchestrator for SlurmAdapter {
    fn name(&self) -> &'static str {
        "slurm"
    }

    async fn observe(&mut self) -> Result<ClusterView, AdapterError> {
        let at_unix_s = now_unix_s();
        let mut nodes = parse::nodes(&self.json("sinfo", &["--json"], "/slurm/v0.0.38/nodes").await?)?;
        let mut jobs = parse::jobs(&self.json("squeue", &["--json"], "/slurm/v0.0.38/jobs").await?)?;
        if !self.memory_scheduled().await {
            nodes.iter_mut().for_each(|n| (n.spec.capacity.mem_mb, n.allocated.mem_mb) = (0, 0));
            jobs.iter_mut().for_each(|j| j.job.req_mem_mb = None);
        }
        Ok(ClusterView { at_unix_s, nodes, jobs })
    }

    async fn lookup(&mut self, job_ids: &[String]) -> Result<Vec<JobView>, AdapterError> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        let jobs = format!("--jobs={}", job_ids.join(","));
        let out = self.run("sacct", &["-c", "-P", "-o", parse::SACCT_FIELDS, &jobs]).await?;
        parse::sacct(&out)
    }

    async fn act(&mut self, action: &Action) -> Result<(), AdapterError> {
        match action {
            Action::SetPriority { job_id, priority } => {
                self.run("scontrol", &["update", &format!("JobId={job_id}"), &format!("Priority={priority}")]).await?;
            }
            Action::Hold { job_id } => {
                self.run("scontrol", &["hold", job_id]).await?;
            }
            Action::Release { job_id } => {
                self.run("scontrol", &["release", job_id]).await?;
            }
            // one `scontrol update` per batch: JobId takes a list, so a
            // cycle's gates cost one command, not one per job
            Action::Gate { job_ids, lease_s } => {
                self.update(job_ids, &format!("StartTime=now+{lease_s}")).await?;
            }
            Action::Lift { job_ids } => {
                self.update(job_ids, "StartTime=now").await?;
            }
            Action::SiteFactor { job_ids, value } => {
                self.update(job_ids, &format!("SiteFactor={value}")).await?;
            }
            Action::Start { job_id, nodes } => {
                let id = format!("JobId={job_id}");
                self.run("scontrol", &["update", &id, &format!("ReqNodeList={}", nodes.join(","))]).await?;
                self.run("scontrol", &["top", job_id]).await?;
            }
        }
        Ok(())
    }

    async fn site_factors(&mut self, job_ids: &[String]) -> Result<std::collections::HashMap<String, i64>, AdapterError> {
        if job_ids.is_empty() {
            return Ok(Default::default());
        }
        let jobs = format!("--jobs={}", job_ids.join(","));
        // sprio answers with an error when none of the jobs is pending (or,
        // in 22.05, says so on standard output)
        let out = match self.run("sprio", &["-h", "-o", "%i %S", &jobs]).await {
            Ok(out) => out,
            Err(AdapterError::Command { detail, .. }) if detail.contains("Unable to find jobs") => return Ok(Default::default()),
            Err(e) => return Err(e),
        };
        parse::sprio_site(&out)
    }
}

impl SlurmAdapter {
    /// `scontrol update JobId=A,B,.. what`.
    async fn update(&self, job_ids: &[String], what: &str) -> Result<(), AdapterError> {
        if job_ids.is_empty() {
            return Ok(());
        }
        self.run("scontrol", &["update", &format!("JobId={}", job_ids.join(",")), what]).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_source_arguments() {
        assert_eq!(SlurmSource::parse("cmd"), SlurmSource::Commands { bin_dir: None });
        assert_eq!(SlurmSource::parse("cmd:/opt/slurm/bin"), SlurmSource::Commands { bin_dir: Some("/opt/slurm/bin".into()) });
        assert_eq!(SlurmSource::parse("unix:/run/s.sock"), SlurmSource::Rest { socket: "/run/s.sock".into() });
    }

    #[tokio::test]
    async fn a_missing_command_is_an_error_not_a_panic() {
        let mut a = SlurmAdapter::new(SlurmSource::Commands { bin_dir: Some("/nonexistent".into()) });
        let err = a.observe().await.unwrap_err().to_string();
        assert!(err.contains("sinfo --json"), "{err}");
    }
}
