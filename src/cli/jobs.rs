//! `foresight jobs`: list a `foresight serve`'s jobs, and cancel, requeue
//! or purge one.

use super::BadInput;
use super::serve_client::{ClientArgs, block_on, rpc};
use clap::{Args, Subcommand};
use foresight_server::pb;

/// List jobs (all pages), or act on one.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct JobsArgs {
    #[command(subcommand)]
    action: Option<JobsAction>,
    #[command(flatten)]
    client: ClientArgs,
    /// Only jobs in this state: queued, leased, succeeded, cancelled, dead
    /// (repeatable).
    #[arg(long)]
    state: Vec<String>,
    /// Only this pool.
    #[arg(long, default_value = "")]
    pool: String,
    /// Only this tenant (an operator's or admin's token may name any).
    #[arg(long, default_value = "")]
    tenant: String,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

/// One job's actions.
#[derive(Debug, Subcommand)]
enum JobsAction {
    /// Show one job as JSON.
    Get(One),
    /// Cancel a queued or leased job.
    Cancel(One),
    /// Send a dead-lettered job back to the queue with fresh attempts.
    Requeue(One),
    /// Delete a finished or dead job.
    Purge(One),
}

/// A job id and the server.
#[derive(Debug, Args)]
struct One {
    /// The job.
    id: u64,
    #[command(flatten)]
    client: ClientArgs,
}

fn state_name(s: i32) -> &'static str {
    match pb::JobState::try_from(s).unwrap_or(pb::JobState::Unspecified) {
        pb::JobState::Unspecified => "?",
        pb::JobState::Queued => "queued",
        pb::JobState::Leased => "leased",
        pb::JobState::Succeeded => "succeeded",
        pb::JobState::Cancelled => "cancelled",
        pb::JobState::Dead => "dead",
    }
}

/// A job as one JSON object.
pub fn job_json(j: &pb::Job) -> serde_json::Value {
    let r = j.resources.clone().unwrap_or_default();
    let labels: std::collections::BTreeMap<_, _> = j.labels.iter().collect();
    serde_json::json!({
        "id": j.id, "tenant": j.tenant, "name": j.name, "pool": j.pool, "state": state_name(j.state),
        "cpus": r.cpus, "gpus": r.gpus, "gpu_type": r.gpu_type, "memory_mb": r.memory_mb,
        "priority": j.priority, "time_limit_s": j.time_limit_s, "labels": labels, "command": j.command,
        "attempts": j.attempts, "max_attempts": j.max_attempts, "predicted_runtime_s": j.predicted_runtime_s,
        "predicted_interval": j.predicted_interval.map(|i| [i.lo_s, i.hi_s]),
        "submitted_at_ms": j.submitted_at_ms, "started_at_ms": j.started_at_ms, "ended_at_ms": j.ended_at_ms,
        "not_before_ms": j.not_before_ms, "worker_id": j.worker_id, "exit_code": j.exit_code, "error": j.error,
        "idempotency_key": j.idempotency_key,
        "deadline_ms": j.deadline_ms, "slack_s": j.slack_s, "deadline_at_risk": j.deadline_at_risk,
        "node_selector": j.node_selector.iter().collect::<std::collections::BTreeMap<_, _>>(),
        "tolerations": j.tolerations.iter().collect::<std::collections::BTreeMap<_, _>>(),
        "features": j.features.iter().collect::<std::collections::BTreeMap<_, _>>(), "wait_reason": j.wait_reason,
        "placement_reason": j.placement_reason, "predicted_start_ms": j.predicted_start_ms,
    })
}

/// Runs `foresight jobs`.
pub fn run(args: JobsArgs) -> anyhow::Result<()> {
    if let Some(action) = args.action {
        return block_on(async move {
            let (verb, one) = match &action {
                JobsAction::Get(o) => ("get", o),
                JobsAction::Cancel(o) => ("cancel", o),
                JobsAction::Requeue(o) => ("requeue", o),
                JobsAction::Purge(o) => ("purge", o),
            };
            let (mut c, _) = one.client.connect().await?;
            let id = one.id;
            let job = match verb {
                "get" => c.get(pb::GetJobRequest { id }).await.map_err(rpc)?.into_inner(),
                "cancel" => c.cancel(pb::CancelJobRequest { id }).await.map_err(rpc)?.into_inner(),
                "requeue" => c.requeue(pb::RequeueJobRequest { id }).await.map_err(rpc)?.into_inner(),
                _ => {
                    c.purge(pb::PurgeJobRequest { id }).await.map_err(rpc)?;
                    println!("job {id} purged");
                    return Ok(());
                }
            };
            println!("{}", job_json(&job));
            Ok(())
        });
    }
    let mut states = Vec::new();
    for s in &args.state {
        let v = pb::JobState::from_str_name(&format!("JOB_STATE_{}", s.to_ascii_uppercase()))
            .filter(|v| *v != pb::JobState::Unspecified)
            .ok_or_else(|| BadInput(format!("--state `{s}`: expected queued, leased, succeeded, cancelled or dead")))?;
        states.push(v as i32);
    }
    block_on(async move {
        let (mut c, _) = args.client.connect().await?;
        let mut token = String::new();
        if !args.json {
            println!(
                "{:>6}  {:<10} {:<12} {:<10} {:>8} {:>10}  NAME",
                "ID", "STATE", "TENANT", "POOL", "ATTEMPTS", "PREDICTED"
            );
        }
        loop {
            let req = pb::ListJobsRequest {
                states: states.clone(),
                pool: args.pool.clone(),
                tenant: args.tenant.clone(),
                page_size: 500,
                page_token: token.clone(),
            };
            let page = c.list(req).await.map_err(rpc)?.into_inner();
            for j in &page.jobs {
                if args.json {
                    println!("{}", job_json(j));
                } else {
                    let name = if j.name.is_empty() { &j.command } else { &j.name };
                    let attempts = format!("{}/{}", j.attempts, j.max_attempts);
                    let predicted = format!("{:.0} s", j.predicted_runtime_s);
                    println!(
                        "{:>6}  {:<10} {:<12} {:<10} {attempts:>8} {predicted:>10}  {name}",
                        j.id,
                        state_name(j.state),
                        j.tenant,
                        j.pool
                    );
                }
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        Ok(())
    })
}
