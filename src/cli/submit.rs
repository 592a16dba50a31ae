//! `foresight submit`: send one job to `foresight serve`.

use super::BadInput;
use super::serve_client::{ClientArgs, block_on, rpc};
use clap::Args;
use foresight_server::pb;

/// Submit a job (its command after `--`) to a `foresight serve`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The idempotency key: the same key returns the same job (default: a
    /// fresh one).
    #[arg(long)]
    key: Option<String>,
    /// The job's name.
    #[arg(long, default_value = "")]
    name: String,
    /// The worker pool.
    #[arg(long, default_value = "default")]
    pool: String,
    /// CPUs.
    #[arg(long, default_value_t = 1)]
    cpus: u32,
    /// GPUs.
    #[arg(long, default_value_t = 0)]
    gpus: u32,
    /// GPU type.
    #[arg(long, default_value = "")]
    gpu_type: String,
    /// Memory, MiB.
    #[arg(long, default_value_t = 0)]
    mem_mb: u64,
    /// Priority.
    #[arg(long, default_value_t = 0)]
    priority: i64,
    /// Time limit, seconds (0: none).
    #[arg(long, default_value_t = 0.0)]
    time_limit: f64,
    /// A deadline, seconds from now: when the job should be ended (the
    /// `edf` policy orders by slack; a job that cannot meet it by
    /// prediction is reported `deadline_at_risk`).
    #[arg(long, value_name = "SECONDS")]
    deadline: Option<f64>,
    /// Acceptable pools, comma-separated (`*`: every priced pool): the
    /// server picks the cheapest that meets the deadline by prediction.
    #[arg(long, value_name = "POOL,...")]
    pools: Option<String>,
    /// A node selector `KEY=VALUE` (repeatable): only workers with this label.
    #[arg(long = "select", value_name = "KEY=VALUE")]
    select: Vec<String>,
    /// A toleration `KEY=VALUE` of a worker's taint (`KEY=` tolerates any value; repeatable).
    #[arg(long = "tolerate", value_name = "KEY=VALUE")]
    tolerate: Vec<String>,
    /// A submitted feature `KEY=VALUE` for the model (`serve --model`; a
    /// value that parses as a number is numeric; repeatable).
    #[arg(long = "feature", value_name = "KEY=VALUE")]
    feature: Vec<String>,
    /// A label `KEY=VALUE` (repeatable; `region=R` keeps the job on workers labelled `region=R`).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Attempts allowed.
    #[arg(long, default_value_t = 3)]
    attempts: u32,
    /// The tenant (an admin's token only; default the token's).
    #[arg(long, default_value = "")]
    tenant: String,
    /// Print the job as JSON.
    #[arg(long)]
    json: bool,
    /// The command, run by the worker with `sh -c`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// `KEY=VALUE` arguments of `flag` as a map.
pub fn pairs(flag: &str, args: &[String]) -> Result<std::collections::HashMap<String, String>, BadInput> {
    let mut out = std::collections::HashMap::new();
    for l in args {
        let (k, v) = l.split_once('=').ok_or_else(|| BadInput(format!("{flag} `{l}`: expected KEY=VALUE")))?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Runs `foresight submit`.
pub fn run(args: SubmitArgs) -> anyhow::Result<()> {
    let labels = pairs("--label", &args.labels)?;
    let node_selector = pairs("--select", &args.select)?;
    let tolerations = pairs("--tolerate", &args.tolerate)?;
    let features = pairs("--feature", &args.feature)?;
    let key = match args.key {
        Some(k) => k,
        None => format!("cli-{}", &foresight_server::auth::new_secret()?[..24]),
    };
    let deadline_ms = match args.deadline {
        None => 0,
        Some(s) if s.is_finite() && s > 0.0 => foresight_server::service::now_ms() + (s * 1000.0).round() as i64,
        Some(s) => return Err(BadInput(format!("--deadline {s}: expected seconds from now, > 0")).into()),
    };
    let req = pb::SubmitRequest {
        idempotency_key: key,
        tenant: args.tenant,
        name: args.name,
        pool: args.pool,
        resources: Some(pb::Resources {
            cpus: args.cpus,
            gpus: args.gpus,
            gpu_type: args.gpu_type,
            memory_mb: args.mem_mb,
        }),
        priority: args.priority,
        time_limit_s: args.time_limit,
        labels,
        command: args.command.join(" "),
        payload: Vec::new(),
        max_attempts: args.attempts,
        deadline_ms,
        node_selector,
        tolerations,
        features,
        pools: args.pools.map(|p| p.split(',').map(str::to_string).collect()).unwrap_or_default(),
    };
    let client = args.client;
    let json = args.json;
    block_on(async move {
        let (mut jobs, _) = client.connect().await?;
        let r = jobs.submit(req).await.map_err(rpc)?.into_inner();
        let j = r.job.unwrap_or_default();
        if json {
            println!("{}", super::jobs::job_json(&j));
        } else {
            let interval =
                j.predicted_interval.map(|i| format!(" [{:.0}, {:.0}] s", i.lo_s, i.hi_s)).unwrap_or_default();
            let how = if r.created { "submitted" } else { "already submitted with this key" };
            let start = j
                .predicted_start_ms
                .map(|s| format!(", predicted start in {:.0} s", (s - j.submitted_at_ms).max(0) as f64 / 1000.0))
                .unwrap_or_default();
            println!("job {} {how}: predicted runtime {:.0} s{interval}{start}", j.id, j.predicted_runtime_s);
            if j.deadline_at_risk {
                println!("job {}: cannot meet its deadline by prediction (slack {:.0} s)", j.id, j.slack_s.unwrap_or(0.0));
            }
        }
        Ok(())
    })
}
