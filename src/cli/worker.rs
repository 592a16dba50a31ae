//! `foresight worker`: a real worker for `foresight serve`. It leases the
//! jobs the policy starts on it, runs each job's command with the runner
//! (`sh -c` unless given after `--`), heartbeats while it runs, and reports
//! the exit code: `Complete` for 0, `Fail` otherwise. A job cancelled
//! meanwhile, or whose lease was lost, is killed.

use super::serve_client::{ClientArgs, block_on, rpc};
use clap::Args;
use foresight_server::client::{Code, Workers};
use foresight_server::pb;
use std::time::Duration;

/// Run jobs from a `foresight serve`, leasing them for a pool.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The pool this worker serves.
    #[arg(long, default_value = "default")]
    pool: String,
    /// This worker's name (default `worker-PID`).
    #[arg(long)]
    id: Option<String>,
    /// CPUs offered (default: this machine's).
    #[arg(long)]
    cpus: Option<u32>,
    /// GPUs offered.
    #[arg(long, default_value_t = 0)]
    gpus: u32,
    /// The GPUs' type.
    #[arg(long, default_value = "")]
    gpu_type: String,
    /// Memory offered, MiB (0: not counted).
    #[arg(long, default_value_t = 0)]
    mem_mb: u64,
    /// A label `KEY=VALUE` this worker offers (repeatable): `region=eu`
    /// for data residency, others for jobs' node selectors.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// A taint `KEY=VALUE` (repeatable): only jobs that tolerate it come here.
    #[arg(long = "taint", value_name = "KEY=VALUE")]
    taints: Vec<String>,
    /// Ask for work every this many milliseconds.
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
    /// Heartbeat a running job every this many milliseconds (well under the
    /// server's lease time).
    #[arg(long, default_value_t = 5_000)]
    heartbeat_ms: u64,
    /// Exit after this many jobs ended.
    #[arg(long)]
    max_jobs: Option<u64>,
    /// The runner the job's command is appended to (default `sh -c`).
    #[arg(last = true, value_name = "RUNNER")]
    runner: Vec<String>,
}

/// Runs `foresight worker`.
pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    block_on(work(args))
}

async fn work(args: WorkerArgs) -> anyhow::Result<()> {
    let id = args.id.clone().unwrap_or_else(|| format!("worker-{}", std::process::id()));
    let cpus = args.cpus.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1));
    let runner = if args.runner.is_empty() { vec!["sh".to_string(), "-c".to_string()] } else { args.runner.clone() };
    let (_, mut workers) = args.client.connect().await?;
    let offer = pb::LeaseRequest {
        worker_id: id.clone(),
        pool: args.pool.clone(),
        cpus,
        gpus: args.gpus,
        gpu_type: args.gpu_type.clone(),
        memory_mb: args.mem_mb,
        labels: super::submit::pairs("--label", &args.labels)?,
        taints: super::submit::pairs("--taint", &args.taints)?,
    };
    eprintln!("worker {id}: pool {}, {cpus} CPUs, {} GPUs; runner {runner:?}", args.pool, args.gpus);
    let mut running = tokio::task::JoinSet::new();
    let (mut leased, mut ended) = (0u64, 0u64);
    loop {
        let room = args.max_jobs.is_none_or(|m| leased < m);
        if room {
            match workers.lease(offer.clone()).await {
                Ok(r) => {
                    for l in r.into_inner().leases {
                        leased += 1;
                        let job = l.job.unwrap_or_default();
                        let ctx = Run {
                            workers: workers.clone(),
                            worker: id.clone(),
                            runner: runner.clone(),
                            heartbeat: Duration::from_millis(args.heartbeat_ms.max(10)),
                        };
                        running.spawn(ctx.run(job, l.attempt));
                    }
                }
                Err(s) if s.code() == Code::Unavailable => {
                    eprintln!("worker {id}: server unavailable: {}", s.message())
                }
                Err(s) => return Err(rpc(s)),
            }
        }
        while let Some(done) = running.try_join_next() {
            ended += 1;
            if let Err(e) = done {
                eprintln!("worker {id}: a job's task failed: {e}");
            }
        }
        if args.max_jobs.is_some_and(|m| ended >= m) {
            eprintln!("worker {id}: {ended} jobs ended, exiting");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(args.poll_ms.max(10))).await;
    }
}

/// What running one job needs.
struct Run {
    workers: Workers,
    worker: String,
    runner: Vec<String>,
    heartbeat: Duration,
}

impl Run {
    async fn run(mut self, job: pb::Job, attempt: u32) {
        let (w, id) = (self.worker.clone(), job.id);
        eprintln!("worker {w}: job {id} attempt {attempt}: {}", job.command);
        let mut cmd = tokio::process::Command::new(&self.runner[0]);
        cmd.args(&self.runner[1..])
            .arg(&job.command)
            .env("FORESIGHT_JOB_ID", id.to_string())
            .env("FORESIGHT_ATTEMPT", attempt.to_string())
            .env("FORESIGHT_TENANT", &job.tenant)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let req = pb::FailRequest {
                    worker_id: w.clone(),
                    job_id: id,
                    attempt,
                    exit_code: -1,
                    error: format!("cannot start the runner: {e}"),
                    permanent: false,
                };
                if let Err(s) = self.workers.fail(req).await {
                    eprintln!("worker {w}: job {id}: fail: {}", s.message());
                }
                return;
            }
        };
        let mut tick = tokio::time::interval(self.heartbeat);
        tick.tick().await;
        let status = loop {
            tokio::select! {
                s = child.wait() => break s,
                _ = tick.tick() => {
                    let hb = pb::HeartbeatRequest { worker_id: w.clone(), job_id: id, attempt };
                    match self.workers.heartbeat(hb).await {
                        Ok(r) if r.get_ref().cancelled => {
                            eprintln!("worker {w}: job {id} cancelled, stopping it");
                            let _ = child.kill().await;
                            return;
                        }
                        Ok(_) => {}
                        Err(s) if s.code() == Code::FailedPrecondition => {
                            eprintln!("worker {w}: job {id}: lease lost ({}), stopping it", s.message());
                            let _ = child.kill().await;
                            return;
                        }
                        Err(s) => eprintln!("worker {w}: job {id}: heartbeat: {}", s.message()),
                    }
                }
            }
        };
        let code = match status {
            Ok(s) => s.code().unwrap_or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                128 + s.signal().unwrap_or(0)
            }),
            Err(e) => {
                eprintln!("worker {w}: job {id}: wait: {e}");
                -1
            }
        };
        eprintln!("worker {w}: job {id} attempt {attempt} exited {code}");
        let result = if code == 0 {
            self.workers
                .complete(pb::CompleteRequest { worker_id: w.clone(), job_id: id, attempt, exit_code: 0 })
                .await
                .map(|_| ())
        } else {
            let req = pb::FailRequest {
                worker_id: w.clone(),
                job_id: id,
                attempt,
                exit_code: code,
                error: format!("exit {code}"),
                permanent: false,
            };
            self.workers.fail(req).await.map(|_| ())
        };
        if let Err(s) = result {
            eprintln!("worker {w}: job {id}: report: {}", s.message());
        }
    }
}
