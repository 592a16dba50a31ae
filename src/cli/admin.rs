//! `foresight admin`: administer a running `foresight serve` over gRPC:
//! the dispatch policy's versions, the mode, tenants' limits and the
//! decision log. Each command prints JSON, one object a line.

use super::BadInput;
use super::serve_client::{ClientArgs, block_on, rpc};
use clap::{Args, Subcommand};
use foresight_server::pb;

/// Administer a running `foresight serve`: policy versions, mode, tenants'
/// limits, the decision log (an admin's token; an operator's may read and
/// set the mode).
#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    action: AdminAction,
}

/// What `admin` does.
#[derive(Debug, Subcommand)]
enum AdminAction {
    /// The dispatch policy: versioned, audited, reversible.
    #[command(subcommand)]
    Policy(PolicyAction),
    /// The dispatcher's mode: enforce (the policy dispatches), shadow (the
    /// baseline, fcfs, dispatches and every decision of the policy is
    /// logged), advise (the baseline dispatches and the policy's differing
    /// choices are logged as proposals).
    #[command(subcommand)]
    Mode(ModeAction),
    /// Tenants' rate limits and GPU budgets (as `serve tenant`, through
    /// the server).
    #[command(subcommand)]
    Tenant(TenantAction),
    /// The decision log of shadow and advise, one entry a line.
    Decisions {
        /// Entries after this id.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many (at most 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Policy commands.
#[derive(Debug, Subcommand)]
enum PolicyAction {
    /// The active version.
    Show {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Every version, oldest first.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Make a new version, active from the next dispatch on.
    Set {
        /// The policy (as `simulate --policy`: foresight, edf, sjf,
        /// QSSF/conservative/best-fit, ...).
        #[arg(long)]
        policy: String,
        /// The predictor (easy++, requested, or `model:PATH`: a trained model
        /// file the server loads); default: the policy's own.
        #[arg(long, default_value = "")]
        predictor: String,
        /// Why (kept with the version and in the audit).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Restore an earlier version (as a new version).
    Rollback {
        /// The version to restore.
        #[arg(value_name = "VERSION")]
        to: u64,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Mode commands.
#[derive(Debug, Subcommand)]
enum ModeAction {
    /// The mode, who set it and when.
    Show {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Set the mode: enforce, shadow or advise.
    Set {
        /// enforce, shadow or advise.
        mode: String,
        /// Why (kept in the audit).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Tenant commands.
#[derive(Debug, Subcommand)]
enum TenantAction {
    /// Set a tenant's limits; each option left out is 0: no limit.
    Set {
        #[command(flatten)]
        limits: super::serve::LimitsArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// One tenant's limits.
    Get {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Every tenant's limits.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn mode_name(m: i32) -> &'static str {
    match pb::Mode::try_from(m).unwrap_or(pb::Mode::Unspecified) {
        pb::Mode::Enforce => "enforce",
        pb::Mode::Shadow => "shadow",
        pb::Mode::Advise => "advise",
        pb::Mode::Unspecified => "?",
    }
}

fn version_json(p: &pb::PolicyVersion) -> serde_json::Value {
    serde_json::json!({
        "version": p.version, "policy": p.policy, "predictor": p.predictor, "note": p.note,
        "by_tenant": p.by_tenant, "by_role": p.by_role, "at_ms": p.at_ms, "restores": p.restores,
        "active": p.active,
    })
}

fn mode_json(m: &pb::ModeState) -> serde_json::Value {
    serde_json::json!({
        "mode": mode_name(m.mode), "baseline": m.baseline, "by_tenant": m.by_tenant, "by_role": m.by_role,
        "at_ms": m.at_ms,
    })
}

fn tenant_json(l: &pb::TenantLimits) -> serde_json::Value {
    serde_json::json!({
        "tenant": l.tenant, "rate_per_s": l.rate_per_s, "burst": l.burst,
        "gpu_hours_per_day": l.gpu_hours_per_day, "over_budget": l.over_budget,
    })
}

fn decision_json(d: &pb::Decision) -> serde_json::Value {
    serde_json::json!({
        "id": d.id, "at_ms": d.at_ms, "pool": d.pool, "worker_id": d.worker_id, "mode": mode_name(d.mode),
        "policy_version": d.policy_version, "candidate_policy": d.candidate_policy,
        "baseline_policy": d.baseline_policy, "dispatched": d.dispatched, "candidate": d.candidate,
        "differs": d.differs,
    })
}

/// Runs `foresight admin`.
pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    block_on(async move {
        let out: Vec<serde_json::Value> = match args.action {
            AdminAction::Policy(PolicyAction::Show { client }) => {
                let p = client.connect_admin().await?.get_policy(pb::GetPolicyRequest {}).await.map_err(rpc)?;
                vec![version_json(p.get_ref())]
            }
            AdminAction::Policy(PolicyAction::List { client }) => {
                let r = client.connect_admin().await?.list_policies(pb::ListPoliciesRequest {}).await.map_err(rpc)?;
                r.get_ref().versions.iter().map(version_json).collect()
            }
            AdminAction::Policy(PolicyAction::Set { policy, predictor, note, client }) => {
                let req = pb::UpdatePolicyRequest { policy, predictor, note };
                let p = client.connect_admin().await?.update_policy(req).await.map_err(rpc)?;
                vec![version_json(p.get_ref())]
            }
            AdminAction::Policy(PolicyAction::Rollback { to, note, client }) => {
                let req = pb::RollbackPolicyRequest { version: to, note };
                let p = client.connect_admin().await?.rollback_policy(req).await.map_err(rpc)?;
                vec![version_json(p.get_ref())]
            }
            AdminAction::Mode(ModeAction::Show { client }) => {
                let m = client.connect_admin().await?.get_mode(pb::GetModeRequest {}).await.map_err(rpc)?;
                vec![mode_json(m.get_ref())]
            }
            AdminAction::Mode(ModeAction::Set { mode, note, client }) => {
                let m = match mode.as_str() {
                    "enforce" => pb::Mode::Enforce,
                    "shadow" => pb::Mode::Shadow,
                    "advise" => pb::Mode::Advise,
                    _ => return Err(BadInput(format!("mode `{mode}`: expected enforce, shadow or advise")).into()),
                };
                let req = pb::SetModeRequest { mode: m as i32, note };
                let m = client.connect_admin().await?.set_mode(req).await.map_err(rpc)?;
                vec![mode_json(m.get_ref())]
            }
            AdminAction::Tenant(TenantAction::Set { limits: l, client }) => {
                let (tenant, rate_per_s, burst, gpu_hours_per_day) = (l.tenant, l.rate, l.burst, l.gpu_hours_per_day);
                let req = pb::TenantLimits { tenant, rate_per_s, burst, gpu_hours_per_day, over_budget: l.over_budget };
                let l = client.connect_admin().await?.set_tenant(req).await.map_err(rpc)?;
                vec![tenant_json(l.get_ref())]
            }
            AdminAction::Tenant(TenantAction::Get { tenant, client }) => {
                let l = client.connect_admin().await?.get_tenant(pb::GetTenantRequest { tenant }).await.map_err(rpc)?;
                vec![tenant_json(l.get_ref())]
            }
            AdminAction::Tenant(TenantAction::List { client }) => {
                let r = client.connect_admin().await?.list_tenants(pb::ListTenantsRequest {}).await.map_err(rpc)?;
                r.get_ref().tenants.iter().map(tenant_json).collect()
            }
            AdminAction::Decisions { after, limit, client } => {
                let req = pb::ListDecisionsRequest { after_id: after, limit };
                let r = client.connect_admin().await?.list_decisions(req).await.map_err(rpc)?;
                r.get_ref().decisions.iter().map(decision_json).collect()
            }
        };
        for v in out {
            println!("{v}");
        }
        Ok(())
    })
}
