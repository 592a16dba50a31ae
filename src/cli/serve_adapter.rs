//! The controller's orchestrator adapter for `foresight serve`: `foresight
//! shadow --serve ADDR` reads serve's queue over gRPC as it reads Slurm.
//! Live workers (`Admin.ListWorkers`) are the nodes; queued jobs are
//! pending, leased jobs running on their worker (`Jobs.List`, every
//! page); a job that left the view is looked up with `Jobs.Get`. The token
//! must be an operator's or an admin's (they see every tenant's jobs).
//!
//! In advise and enforce, a gate is a queued job's not-before time
//! (`Admin.Gate` with the lease, `Admin.Lift`), which serve's dispatcher
//! already honours: a gate not renewed lapses by itself. Site factors are
//! accepted and change nothing (serve has no such term).
//!
//! It lives in the binary because the controller's crate may not depend on
//! the server's (tests/tidy.rs): the binary joins them.

use foresight_controller::adapter::{
    Action, AdapterError, ClusterView, ControlInfo, JobView, NodeView, Orchestrator, Phase,
};
use foresight_core::{Job, JobStatus, NodeSpec, Resources};
use foresight_server::client::{self, Admin, Jobs};
use foresight_server::pb;
use std::collections::HashMap;

/// `foresight serve` seen through its gRPC API (see the module's doc).
#[derive(Debug, Clone)]
pub struct ServeAdapter {
    addr: String,
    token: String,
    ca: Option<Vec<u8>>,
    /// Connected at the first call (the runtime is the controller's), and
    /// again after a failed one.
    clients: Option<(Jobs, Admin)>,
}

fn rpc_error(what: &str, s: client::Status) -> AdapterError {
    AdapterError::Rest { endpoint: what.to_string(), detail: format!("{:?}: {}", s.code(), s.message()) }
}

/// Unix ms as Unix seconds (`None` for 0: not yet).
fn secs(ms: i64) -> Option<f64> {
    (ms > 0).then_some(ms as f64 / 1000.0)
}

/// A serve job as the controller's view of one.
pub fn job_view(j: &pb::Job) -> JobView {
    let r = j.resources.clone().unwrap_or_default();
    let state = pb::JobState::try_from(j.state).unwrap_or(pb::JobState::Unspecified);
    let (phase, status) = match state {
        pb::JobState::Queued | pb::JobState::Unspecified => (Phase::Pending, JobStatus::Unknown),
        pb::JobState::Leased => (Phase::Running, JobStatus::Unknown),
        pb::JobState::Succeeded => (Phase::Finished, JobStatus::Completed),
        pb::JobState::Cancelled => (Phase::Finished, JobStatus::Cancelled),
        pb::JobState::Dead => (Phase::Finished, JobStatus::Failed),
    };
    let (start_s, end_s) = (secs(j.started_at_ms), secs(j.ended_at_ms).filter(|_| phase == Phase::Finished));
    let job = Job {
        job_id: j.id.to_string(),
        user: Some(j.tenant.clone()),
        group: Some(j.tenant.clone()),
        queue: Some(j.pool.clone()),
        name: Some(j.name.clone()).filter(|n| !n.is_empty()),
        submit_s: j.submitted_at_ms as f64 / 1000.0,
        start_s: start_s.filter(|_| phase != Phase::Pending),
        end_s,
        runtime_s: start_s.zip(end_s).map(|(s, e)| (e - s).max(0.0)),
        req_gpus: Some(r.gpus),
        req_cpus: Some(r.cpus),
        req_nodes: Some(1),
        req_mem_mb: Some(r.memory_mb).filter(|&m| m > 0),
        req_time_s: Some(j.time_limit_s).filter(|&t| t > 0.0),
        status,
        priority: Some(j.priority),
        gpu_type: Some(r.gpu_type.clone()).filter(|t| !t.is_empty()),
        labels: j.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ..Job::default()
    };
    let nodes = if phase == Phase::Pending || j.worker_id.is_empty() { Vec::new() } else { vec![j.worker_id.clone()] };
    // a gate (or a retry's backoff) holds it back until then
    let eligible_s = secs(j.not_before_ms).filter(|_| phase == Phase::Pending);
    let control = ControlInfo { eligible_s, ..ControlInfo::default() };
    JobView { job, phase, nodes, node_cpus: Vec::new(), held: false, control }
}

impl ServeAdapter {
    /// An adapter for the server at `addr` with `token` (an operator's),
    /// over TLS trusting `ca` when given.
    pub fn new(addr: String, token: String, ca: Option<Vec<u8>>) -> Self {
        Self { addr, token, ca, clients: None }
    }

    async fn clients(&mut self) -> Result<(Jobs, Admin), AdapterError> {
        if let Some(c) = &self.clients {
            return Ok(c.clone());
        }
        let fail = |e: client::ClientError| AdapterError::Rest { endpoint: self.addr.clone(), detail: e.to_string() };
        let (jobs, _) = client::connect_with(&self.addr, &self.token, self.ca.as_deref()).await.map_err(fail)?;
        let admin = client::connect_admin(&self.addr, &self.token, self.ca.as_deref()).await.map_err(fail)?;
        self.clients = Some((jobs.clone(), admin.clone()));
        Ok((jobs, admin))
    }

    async fn read(&mut self) -> Result<ClusterView, AdapterError> {
        let (mut jobs, mut admin) = self.clients().await?;
        let at_unix_s = foresight_server::service::now_ms() as f64 / 1000.0;
        let workers = admin
            .list_workers(pb::ListWorkersRequest::default())
            .await
            .map_err(|s| rpc_error("Admin.ListWorkers", s))?
            .into_inner()
            .workers;
        let mut views = Vec::new();
        let mut page_token = String::new();
        loop {
            let states = vec![pb::JobState::Queued as i32, pb::JobState::Leased as i32];
            let req = pb::ListJobsRequest { states, page_size: 1000, page_token, ..Default::default() };
            let page = jobs.list(req).await.map_err(|s| rpc_error("Jobs.List", s))?.into_inner();
            views.extend(page.jobs.iter().map(job_view));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        let mut allocated: HashMap<&str, Resources> = HashMap::new();
        for v in views.iter().filter(|v| v.phase == Phase::Running) {
            if let Some(w) = v.nodes.first() {
                let a = allocated.entry(w.as_str()).or_default();
                *a = a.saturating_add(&v.job.requested());
            }
        }
        let nodes = workers
            .iter()
            .map(|w| {
                let used = allocated.get(w.id.as_str()).copied().unwrap_or_default();
                let capacity = Resources::new(w.cpus, w.gpus, w.memory_mb);
                let state = if used == Resources::default() { "idle" } else { "mixed" };
                NodeView {
                    spec: NodeSpec {
                        name: w.id.clone(),
                        capacity,
                        gpu_type: Some(w.gpu_type.clone()).filter(|t| !t.is_empty()),
                    },
                    state: state.to_string(),
                    usable: true,
                    allocated: used,
                }
            })
            .collect();
        Ok(ClusterView { at_unix_s, nodes, jobs: views })
    }
}

impl Orchestrator for ServeAdapter {
    fn name(&self) -> &'static str {
        "foresight-serve"
    }

    async fn observe(&mut self) -> Result<ClusterView, AdapterError> {
        let out = self.read().await;
        if out.is_err() {
            // connect again next time
            self.clients = None;
        }
        out
    }

    async fn lookup(&mut self, job_ids: &[String]) -> Result<Vec<JobView>, AdapterError> {
        let (mut jobs, _) = self.clients().await?;
        let mut out = Vec::new();
        for id in job_ids {
            let Ok(id) = id.parse::<u64>() else { continue };
            match jobs.get(pb::GetJobRequest { id }).await {
                Ok(j) => out.push(job_view(j.get_ref())),
                // purged: the controller no longer learns how it ended
                Err(s) if s.code() == client::Code::NotFound => {}
                Err(s) => return Err(rpc_error("Jobs.Get", s)),
            }
        }
        Ok(out)
    }

    async fn act(&mut self, action: &Action) -> Result<(), AdapterError> {
        let ids = |job_ids: &[String]| -> Vec<u64> { job_ids.iter().filter_map(|i| i.parse().ok()).collect() };
        let (_, mut admin) = self.clients().await?;
        match action {
            Action::Gate { job_ids, lease_s } => {
                let req = pb::GateRequest { job_ids: ids(job_ids), lease_s: (*lease_s).max(1) };
                admin.gate(req).await.map_err(|s| rpc_error("Admin.Gate", s))?;
            }
            Action::Lift { job_ids } => {
                admin.lift(pb::LiftRequest { job_ids: ids(job_ids) }).await.map_err(|s| rpc_error("Admin.Lift", s))?;
            }
            // serve has no site's term of priority: the jobs lifted are
            // those that may start, in serve's own policy's order
            Action::SiteFactor { .. } => {}
            other => {
                return Err(AdapterError::Command {
                    command: format!("{other:?}"),
                    detail: "foresight serve's adapter gates and lifts only".into(),
                });
            }
        }
        Ok(())
    }

    async fn site_factors(&mut self, _: &[String]) -> Result<HashMap<String, i64>, AdapterError> {
        Ok(HashMap::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leased_job_runs_on_its_worker_and_an_ended_one_has_its_runtime() {
        let mut j = pb::Job {
            id: 7,
            tenant: "acme".into(),
            pool: "gpu".into(),
            resources: Some(pb::Resources { cpus: 2, gpus: 1, ..Default::default() }),
            time_limit_s: 600.0,
            state: pb::JobState::Leased as i32,
            submitted_at_ms: 1_000,
            started_at_ms: 3_000,
            worker_id: "w1".into(),
            ..Default::default()
        };
        let v = job_view(&j);
        assert_eq!(
            (v.phase, v.nodes.as_slice(), v.job.start_s, v.job.end_s),
            (Phase::Running, &["w1".to_string()][..], Some(3.0), None)
        );
        assert_eq!((v.job.job_id.as_str(), v.job.user.as_deref(), v.job.req_time_s), ("7", Some("acme"), Some(600.0)));
        j.state = pb::JobState::Succeeded as i32;
        j.ended_at_ms = 13_000;
        let v = job_view(&j);
        assert_eq!((v.phase, v.job.status, v.job.runtime_s), (Phase::Finished, JobStatus::Completed, Some(10.0)));
        j.state = pb::JobState::Queued as i32;
        let v = job_view(&j);
        assert_eq!((v.phase, v.nodes.len(), v.job.start_s), (Phase::Pending, 0, None));
    }
}
