//! The `Admin` gRPC service (`proto/foresight/v1/admin.proto`): the
//! dispatch policy's versions, the mode, tenants' limits and the decision
//! log, each call under the queue's lock as the other services' calls.

use crate::pb;
use crate::queue::{Mode, QueueError, over_budget_of};
use crate::service::{Shared, bearer, now_ms, status};
use crate::store::TenantLimits;
use crate::store::admin::{DecisionRow, ModeRow, PolicyRow};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The `Admin` service.
#[derive(Debug, Clone)]
pub struct AdminApi(pub Arc<Shared>);

fn version_to_pb(p: &PolicyRow, active: u64) -> pb::PolicyVersion {
    pb::PolicyVersion {
        version: p.version,
        policy: p.policy.clone(),
        predictor: p.predictor.clone(),
        note: p.note.clone(),
        by_tenant: p.actor.tenant.clone(),
        by_role: p.actor.role.clone(),
        at_ms: p.at_ms,
        restores: p.restores,
        active: p.version == active,
    }
}

/// A mode as the protocol's.
pub fn mode_to_pb(m: Mode) -> pb::Mode {
    match m {
        Mode::Enforce => pb::Mode::Enforce,
        Mode::Shadow => pb::Mode::Shadow,
        Mode::Advise => pb::Mode::Advise,
    }
}

fn mode_state(m: Option<ModeRow>) -> pb::ModeState {
    let mode = m.as_ref().and_then(|m| Mode::parse(&m.mode)).unwrap_or_default();
    pb::ModeState {
        mode: mode_to_pb(mode) as i32,
        baseline: crate::queue::BASELINE.to_string(),
        by_tenant: m.as_ref().map(|m| m.actor.tenant.clone()).unwrap_or_default(),
        by_role: m.as_ref().map(|m| m.actor.role.clone()).unwrap_or_default(),
        at_ms: m.map_or(0, |m| m.at_ms),
    }
}

/// Tenants' limits as the protocol's.
pub fn limits_to_pb(l: &TenantLimits) -> pb::TenantLimits {
    pb::TenantLimits {
        tenant: l.tenant.clone(),
        rate_per_s: l.rate_per_s,
        burst: l.burst,
        gpu_hours_per_day: l.gpu_hours_per_day,
        over_budget: l.over_budget.as_str().to_string(),
    }
}

fn decision_to_pb(d: &DecisionRow) -> pb::Decision {
    pb::Decision {
        id: d.id,
        at_ms: d.at_ms,
        pool: d.pool.clone(),
        worker_id: d.worker_id.clone(),
        mode: mode_to_pb(Mode::parse(&d.mode).unwrap_or_default()) as i32,
        policy_version: d.policy_version,
        candidate_policy: d.candidate_policy.clone(),
        baseline_policy: d.baseline_policy.clone(),
        dispatched: d.dispatched.clone(),
        candidate: d.candidate.clone(),
        differs: d.differs(),
    }
}

#[tonic::async_trait]
impl pb::admin_server::Admin for AdminApi {
    async fn update_policy(
        &self,
        req: Request<pb::UpdatePolicyRequest>,
    ) -> Result<Response<pb::PolicyVersion>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        let p = self
            .0
            .run(secret, false, move |q, c| q.update_policy(c, &r.policy, &r.predictor, &r.note, now_ms()))
            .await?;
        Ok(Response::new(version_to_pb(&p, p.version)))
    }

    async fn get_policy(&self, req: Request<pb::GetPolicyRequest>) -> Result<Response<pb::PolicyVersion>, Status> {
        let secret = bearer(&req)?;
        let all = self.0.run(secret, false, move |q, c| q.policies(c)).await?;
        let p = all.last().ok_or_else(|| Status::not_found("no policy version yet"))?;
        Ok(Response::new(version_to_pb(p, p.version)))
    }

    async fn list_policies(
        &self,
        req: Request<pb::ListPoliciesRequest>,
    ) -> Result<Response<pb::ListPoliciesResponse>, Status> {
        let secret = bearer(&req)?;
        let all = self.0.run(secret, false, move |q, c| q.policies(c)).await?;
        let active = all.last().map_or(0, |p| p.version);
        Ok(Response::new(pb::ListPoliciesResponse { versions: all.iter().map(|p| version_to_pb(p, active)).collect() }))
    }

    async fn rollback_policy(
        &self,
        req: Request<pb::RollbackPolicyRequest>,
    ) -> Result<Response<pb::PolicyVersion>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        let p = self.0.run(secret, false, move |q, c| q.rollback_policy(c, r.version, &r.note, now_ms())).await?;
        Ok(Response::new(version_to_pb(&p, p.version)))
    }

    async fn set_mode(&self, req: Request<pb::SetModeRequest>) -> Result<Response<pb::ModeState>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        let mode = match pb::Mode::try_from(r.mode) {
            Ok(pb::Mode::Enforce) => Mode::Enforce,
            Ok(pb::Mode::Shadow) => Mode::Shadow,
            Ok(pb::Mode::Advise) => Mode::Advise,
            _ => {
                return Err(status(QueueError::invalid(
                    "mode",
                    format!("{}: expected enforce, shadow or advise", r.mode),
                )));
            }
        };
        let m = self.0.run(secret, false, move |q, c| q.set_mode(c, mode, &r.note, now_ms())).await?;
        Ok(Response::new(mode_state(Some(m))))
    }

    async fn get_mode(&self, req: Request<pb::GetModeRequest>) -> Result<Response<pb::ModeState>, Status> {
        let secret = bearer(&req)?;
        let m = self.0.run(secret, false, move |q, c| q.mode(c)).await?;
        Ok(Response::new(mode_state(m)))
    }

    async fn set_tenant(&self, req: Request<pb::TenantLimits>) -> Result<Response<pb::TenantLimits>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        let over_budget = over_budget_of(&r.over_budget).map_err(status)?;
        let l = TenantLimits {
            tenant: r.tenant,
            rate_per_s: r.rate_per_s,
            burst: r.burst,
            gpu_hours_per_day: r.gpu_hours_per_day,
            over_budget,
        };
        let l = self.0.run(secret, true, move |q, c| q.set_tenant(c, l, now_ms())).await?;
        Ok(Response::new(limits_to_pb(&l)))
    }

    async fn get_tenant(&self, req: Request<pb::GetTenantRequest>) -> Result<Response<pb::TenantLimits>, Status> {
        let secret = bearer(&req)?;
        let t = req.into_inner().tenant;
        let all = self.0.run(secret, false, move |q, c| q.tenant_limits(c)).await?;
        let l = all
            .iter()
            .find(|l| l.tenant == t)
            .ok_or_else(|| Status::not_found(format!("tenant `{t}` has no limits set")))?;
        Ok(Response::new(limits_to_pb(l)))
    }

    async fn list_tenants(
        &self,
        req: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let secret = bearer(&req)?;
        let all = self.0.run(secret, false, move |q, c| q.tenant_limits(c)).await?;
        Ok(Response::new(pb::ListTenantsResponse { tenants: all.iter().map(limits_to_pb).collect() }))
    }

    async fn list_decisions(
        &self,
        req: Request<pb::ListDecisionsRequest>,
    ) -> Result<Response<pb::ListDecisionsResponse>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        let all = self.0.run(secret, false, move |q, c| q.decisions(c, r.after_id, r.limit)).await?;
        Ok(Response::new(pb::ListDecisionsResponse { decisions: all.iter().map(decision_to_pb).collect() }))
    }

    async fn list_workers(
        &self,
        req: Request<pb::ListWorkersRequest>,
    ) -> Result<Response<pb::ListWorkersResponse>, Status> {
        let secret = bearer(&req)?;
        let pool = req.into_inner().pool;
        let all = self.0.run(secret, false, move |q, c| q.live_workers(c, &pool, now_ms())).await?;
        let workers = all
            .into_iter()
            .map(|w| pb::Worker {
                id: w.id,
                pool: w.pool,
                cpus: w.capacity.cpus,
                gpus: w.capacity.gpus,
                gpu_type: w.capacity.gpu_type,
                memory_mb: w.capacity.memory_mb,
                seen_at_ms: w.seen_at_ms,
            })
            .collect();
        Ok(Response::new(pb::ListWorkersResponse { workers }))
    }

    async fn gate(&self, req: Request<pb::GateRequest>) -> Result<Response<pb::GateResponse>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        if r.lease_s == 0 {
            return Err(status(QueueError::invalid("lease_s", "must be at least 1 (Lift lifts a gate)")));
        }
        let until = now_ms() + (r.lease_s.min(86_400 * 365) * 1000) as i64;
        let ids = self.0.run(secret, true, move |q, c| q.gate(c, &r.job_ids, until, now_ms())).await?;
        Ok(Response::new(pb::GateResponse { job_ids: ids }))
    }

    async fn lift(&self, req: Request<pb::LiftRequest>) -> Result<Response<pb::GateResponse>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        let ids = self.0.run(secret, true, move |q, c| q.gate(c, &r.job_ids, 0, now_ms())).await?;
        Ok(Response::new(pb::GateResponse { job_ids: ids }))
    }
}
