//! `foresight shadow`: watch a live Slurm, say what the candidate policy
//! would do, measure it against what Slurm did; with `--mode advise` or
//! `--mode enforce` (or an operator's switch while it runs), propose or
//! carry out the candidate's decisions (docs/enforce.md).

use clap::Args;
use foresight_controller::adapter::slurm::{SlurmAdapter, SlurmSource};
use foresight_controller::controller::ShadowConfig;
use foresight_controller::log::FsyncPolicy;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Run a candidate policy in shadow mode beside a real Slurm.
#[derive(Debug, Args)]
pub struct ShadowArgs {
    /// How to read Slurm: `cmd` (squeue/sinfo/sacct on PATH), `cmd:DIR`, or
    /// `unix:SOCKET` for slurmrestd.
    #[arg(long, value_name = "SOURCE", default_value = "cmd")]
    slurm: String,
    /// The Slurm instance's `slurm.conf`, given to every Slurm command as
    /// `SLURM_CONF` (for a host with several instances, as `foresight ab`
    /// runs); by default the commands' own (`/etc/slurm/slurm.conf`).
    #[arg(long, value_name = "FILE")]
    slurm_conf: Option<PathBuf>,
    /// Read `foresight serve` at this address instead of Slurm (`host:port`
    /// or a URL), with an operator's token (`--serve-token`, else
    /// `FORESIGHT_TOKEN`). In advise and enforce, foresight gates serve's
    /// queued jobs (a not-before time with the lease) and lifts those the
    /// candidate starts; `--control-partition POOL` picks the pools.
    #[arg(long, value_name = "ADDR")]
    serve: Option<String>,
    /// The token for `--serve` (an operator's or an admin's).
    #[arg(long, value_name = "TOKEN")]
    serve_token: Option<String>,
    /// Trust this certificate authority (PEM) for a `--serve` over TLS.
    #[arg(long, value_name = "FILE")]
    serve_ca: Option<PathBuf>,
    /// The candidate's model file: a trained model from `foresight train`,
    /// or a built-in predictor (`{"predictor": "easy++", "version": "..."}`);
    /// without one the baseline decides.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Serve `--model` on a clock this many times faster than its own: the
    /// model sees every time (submissions, limits, runtimes, now) multiplied
    /// by it and its estimates are divided by it. For a model trained on a
    /// trace that is replayed compressed this many times (`foresight ab`
    /// passes its `--compress`); 1 serves the model as it is.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    time_scale: f64,
    /// The candidate policy: by default `foresight` (EASY++ with a protected
    /// head, which `robustness` finds never much worse than EASY with
    /// requested times), deciding with the model given by `--model`.
    #[arg(long, default_value = "foresight")]
    policy: String,
    /// The baseline policy: what Slurm is taken to do, and the fallback.
    #[arg(long, default_value = "priority")]
    baseline: String,
    /// The decision log (append-only; resumed if it exists).
    #[arg(long, value_name = "FILE")]
    log: PathBuf,
    /// Serve Prometheus metrics and /healthz on this address.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Read Slurm every this many milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// Decide at least every this many seconds.
    #[arg(long, default_value_t = 10.0)]
    timer_s: f64,
    /// The model's deadline per cycle, milliseconds.
    #[arg(long, default_value_t = 250)]
    deadline_ms: u64,
    /// Seconds the breaker stays open before trying the model again.
    #[arg(long, default_value_t = 30.0)]
    cooldown_s: f64,
    /// Rolling median relative error (over the last 50 finished jobs) that
    /// opens the breaker.
    #[arg(long, default_value_t = 5.0)]
    drift_threshold: f64,
    /// Half-life of the fair-share usage the baseline's and the candidate's
    /// runtimes charge, seconds (as `simulate --usage-half-life`).
    #[arg(long, value_name = "SECONDS", default_value_t = foresight_core::runtime::USAGE_HALF_LIFE_S)]
    usage_half_life: f64,
    /// Rotate the log at this many MiB.
    #[arg(long, default_value_t = 64)]
    log_max_mib: u64,
    /// fsync after every record (`always`), every N records (`N`), or `never`.
    #[arg(long, default_value = "always")]
    fsync: String,
    /// Sample NVML telemetry into this table (wide CSV).
    #[arg(long, value_name = "FILE")]
    telemetry: Option<PathBuf>,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    duration_s: Option<f64>,
    /// Log level on standard error.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// The mode to start in: `shadow` (never act), `advise` (publish
    /// proposals; act on an operator's approval) or `enforce` (carry out
    /// the candidate's decisions). Operators switch it while it runs
    /// (`foresight mode`).
    #[arg(long, default_value = "shadow")]
    mode: String,
    /// Operators' tokens, one a line: `operator NAME TOKEN` or `watch NAME
    /// TOKEN`. Without it every change through the API is refused.
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// A gate's lease, seconds: a job foresight holds back becomes eligible
    /// this long after the gate was last renewed, foresight alive or not.
    #[arg(long, default_value_t = 60)]
    lease_s: u64,
    /// Control the jobs of this partition (repeatable); jobs marked by the
    /// site's job_submit.lua are controlled in any case.
    #[arg(long, value_name = "PARTITION")]
    control_partition: Vec<String>,
    /// Control the jobs of this QOS (repeatable).
    #[arg(long, value_name = "QOS")]
    control_qos: Vec<String>,
    /// The site factor of the first job the candidate starts in a cycle.
    #[arg(long, default_value_t = 10_000)]
    top_site_factor: i64,
    /// Write the cache the site's job_submit.lua reads here.
    #[arg(long, value_name = "FILE")]
    submit_cache: Option<PathBuf>,
}

fn fsync_policy(s: &str) -> anyhow::Result<FsyncPolicy> {
    Ok(match s {
        "always" => FsyncPolicy::Always,
        "never" => FsyncPolicy::Never,
        n => FsyncPolicy::Every(n.parse().map_err(|_| anyhow::anyhow!("--fsync takes always, never or a count, not `{n}`"))?),
    })
}

/// Runs `shadow`.
pub fn run(args: ShadowArgs) -> anyhow::Result<()> {
    foresight_controller::run::init_tracing(&args.log_level);
    let mut cfg = ShadowConfig::new(&args.policy, &args.log);
    cfg.baseline = args.baseline;
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        return Err(super::BadInput(format!("--time-scale {} must be a positive number", args.time_scale)).into());
    }
    cfg.model = args.model;
    cfg.model_time_scale = args.time_scale;
    cfg.metrics_addr = args.metrics;
    cfg.poll = Duration::from_millis(args.poll_ms.max(10));
    cfg.timer = Duration::from_secs_f64(args.timer_s.max(0.1));
    cfg.engine.deadline = Duration::from_millis(args.deadline_ms);
    cfg.engine.cooldown = Duration::from_secs_f64(args.cooldown_s.max(0.0));
    cfg.engine.drift_threshold = args.drift_threshold;
    cfg.engine.usage_half_life_s = args.usage_half_life;
    cfg.log.max_bytes = args.log_max_mib.max(1) << 20;
    cfg.log.fsync = fsync_policy(&args.fsync)?;
    cfg.telemetry = args.telemetry.map(|p| (p, Duration::from_secs(5)));
    cfg.mode = args.mode.parse().map_err(|e: foresight_controller::enforce::UnknownMode| super::BadInput(e.to_string()))?;
    if let Some(path) = &args.tokens {
        cfg.tokens = foresight_controller::enforce::auth::Tokens::load(path).map_err(|e| super::BadInput(format!("{e:#}")))?;
    }
    // a gate is renewed when half its lease is left; a cycle must come before
    if (args.lease_s as f64) < 2.0 * args.timer_s.max(0.1) + 1.0 {
        return Err(super::BadInput(format!(
            "--lease-s {} must be more than twice --timer-s ({}): gates are renewed at the timer's cycles",
            args.lease_s, args.timer_s
        ))
        .into());
    }
    cfg.gate.lease_s = args.lease_s;
    cfg.gate.renew_s = args.lease_s / 2;
    cfg.gate.top_site_factor = args.top_site_factor;
    cfg.gate.control.partitions = args.control_partition;
    cfg.gate.control.qos = args.control_qos;
    cfg.submit_cache = args.submit_cache;
    let limit = args.duration_s.map(|s| Duration::from_secs_f64(s.max(0.0)));
    let cycles = match &args.serve {
        Some(addr) => {
            let token = match &args.serve_token {
                Some(t) => t.clone(),
                None => std::env::var("FORESIGHT_TOKEN").map_err(|_| {
                    super::BadInput("--serve: no token: pass --serve-token or set FORESIGHT_TOKEN".into())
                })?,
            };
            let ca = args.serve_ca.as_ref().map(std::fs::read).transpose()?;
            let adapter = super::serve_adapter::ServeAdapter::new(addr.clone(), token, ca);
            foresight_controller::run::shadow_with(adapter, cfg, limit)?
        }
        None => {
            let mut adapter = SlurmAdapter::new(SlurmSource::parse(&args.slurm));
            if let Some(conf) = &args.slurm_conf {
                adapter = adapter.with_env("SLURM_CONF", &conf.to_string_lossy());
            }
            foresight_controller::run::shadow_slurm(adapter, cfg, limit)?
        }
    };
    eprintln!("controller stopped after {cycles} cycles; decisions in {}", args.log.display());
    Ok(())
}
