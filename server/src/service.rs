//! The gRPC services: each call authenticates its bearer token, then runs
//! the queue's rule on a blocking thread under the one lock (SQLite is
//! written by one connection), and maps [`QueueError`] to a status.
//!
//! Submits are group-committed: each is handed to one commit thread, which
//! takes every submit waiting, commits them in one transaction (one fsync
//! for all) and only then answers each. While it commits, the next submits
//! gather; under load a batch is as large as the submits that arrived
//! during the last commit, and alone a submit waits for no one.

use crate::auth::{Caller, Role, hash_token};
use crate::convert;
use crate::pb;
use crate::queue::{Queue, QueueError};
use crate::store::{JobFilter, JobRow, NewJob, Store};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{Notify, mpsc, oneshot};
use tonic::{Request, Response, Status};

/// The most submits committed in one transaction.
pub const BATCH_MAX: usize = 4096;

/// A submit waiting for the commit thread: the hash of its token, the job,
/// and where its answer goes.
#[derive(Debug)]
struct Pending {
    token_hash: String,
    job: NewJob,
    answer: oneshot::Sender<Result<(JobRow, bool), Status>>,
}

/// What every call shares: the queue under its lock, the signal that
/// something changed (for `Watch`), and the way to the commit thread.
#[derive(Debug)]
pub struct Shared {
    /// The queue.
    pub queue: Mutex<Queue<Box<dyn Store>>>,
    /// Woken after each mutation.
    pub changed: Notify,
    /// The Prometheus metrics.
    pub metrics: crate::metrics::Metrics,
    submits: mpsc::Sender<Pending>,
}

/// The time now, Unix ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The status for a queue error.
pub fn status(e: QueueError) -> Status {
    match e {
        QueueError::Invalid { .. } => Status::invalid_argument(e.to_string()),
        QueueError::NotFound(_) => Status::not_found(e.to_string()),
        QueueError::Denied(_) => Status::permission_denied(e.to_string()),
        QueueError::Precondition(_) => Status::failed_precondition(e.to_string()),
        QueueError::Exhausted(_) => Status::resource_exhausted(e.to_string()),
        QueueError::Unavailable(_) => Status::unavailable(e.to_string()),
        QueueError::Store(_) => Status::internal(e.to_string()),
    }
}

/// The bearer secret of a request.
pub(crate) fn bearer<T>(req: &Request<T>) -> Result<String, Status> {
    let v = req.metadata().get("authorization").ok_or_else(|| Status::unauthenticated("no bearer token"))?;
    let v = v.to_str().map_err(|_| Status::unauthenticated("authorization: not text"))?;
    v.strip_prefix("Bearer ")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Status::unauthenticated("authorization: expected `Bearer TOKEN`"))
}

/// The caller whose token hashes to `hash`.
fn caller_of(q: &mut Queue<Box<dyn Store>>, hash: &str) -> Result<Caller, Status> {
    let (tenant, role) =
        q.store().token(hash).map_err(|e| status(e.into()))?.ok_or_else(|| Status::unauthenticated("unknown token"))?;
    let role = Role::parse(&role).ok_or_else(|| Status::internal(format!("token with unknown role `{role}`")))?;
    Ok(Caller { tenant, role })
}

/// The commit thread: takes every submit waiting (at most [`BATCH_MAX`]),
/// authenticates each, commits those admitted in one transaction, then
/// answers each. Ends when the last [`Shared`] is dropped.
fn commit_loop(shared: Weak<Shared>, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let Some(shared) = shared.upgrade() else { return };
        shared.metrics.commit_batch.observe(batch.len() as f64);
        let mut answers: Vec<Option<Result<(JobRow, bool), Status>>> = Vec::with_capacity(batch.len());
        let mut admitted = Vec::with_capacity(batch.len());
        {
            let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            let mut jobs = Vec::with_capacity(batch.len());
            // a token is looked up once a batch (clients submit many jobs with one)
            let mut callers: std::collections::HashMap<String, Result<Caller, Status>> =
                std::collections::HashMap::new();
            for (i, p) in batch.iter_mut().enumerate() {
                let caller = match callers.get(&p.token_hash) {
                    Some(c) => c.clone(),
                    None => {
                        let c = caller_of(&mut q, &p.token_hash);
                        callers.insert(std::mem::take(&mut p.token_hash), c.clone());
                        c
                    }
                };
                match caller {
                    Ok(c) => {
                        jobs.push((c, std::mem::take(&mut p.job)));
                        admitted.push(i);
                        answers.push(None);
                    }
                    Err(e) => answers.push(Some(Err(e))),
                }
            }
            match q.submit_many(jobs) {
                Ok(out) => {
                    for (&i, a) in admitted.iter().zip(out) {
                        answers[i] = Some(a.map_err(status));
                    }
                }
                Err(e) => {
                    let e = status(e.into());
                    for &i in &admitted {
                        answers[i] = Some(Err(e.clone()));
                    }
                }
            }
        }
        // the lock is released and the batch committed (or not) before anyone hears
        let mut any = false;
        for (p, a) in batch.into_iter().zip(answers) {
            let a = a.unwrap_or_else(|| Err(Status::internal("a submit without its answer")));
            any |= a.is_ok();
            let _ = p.answer.send(a);
        }
        if any {
            shared.changed.notify_waiters();
        }
    }
}

impl Shared {
    /// Shares `queue` and starts its commit thread (which ends when the
    /// returned `Arc` and its clones are all dropped).
    pub fn start(queue: Queue<Box<dyn Store>>) -> std::io::Result<Arc<Shared>> {
        let (tx, rx) = mpsc::channel(BATCH_MAX * 4);
        let shared = Arc::new(Shared {
            queue: Mutex::new(queue),
            changed: Notify::new(),
            metrics: Default::default(),
            submits: tx,
        });
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new().name("foresight-commit".into()).spawn(move || commit_loop(weak, rx))?;
        Ok(shared)
    }

    /// Submits `job` for the token `secret` through the commit thread:
    /// answered once its batch is committed.
    async fn submit(&self, secret: &str, job: NewJob) -> Result<(JobRow, bool), Status> {
        let (answer, rx) = oneshot::channel();
        let p = Pending { token_hash: hash_token(secret), job, answer };
        self.submits.send(p).await.map_err(|_| Status::unavailable("the commit thread has stopped"))?;
        rx.await.map_err(|_| Status::internal("the commit thread dropped a submit"))?
    }

    /// Runs `f` on a blocking thread with the caller of `secret`.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        secret: String,
        mutates: bool,
        f: impl FnOnce(&mut Queue<Box<dyn Store>>, &Caller) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, Status> {
        let me = self.clone();
        let span = tracing::Span::current();
        let out = tokio::task::spawn_blocking(move || {
            let _in = span.enter();
            let mut q = me.queue.lock().unwrap_or_else(|p| p.into_inner());
            let caller = caller_of(&mut q, &hash_token(&secret))?;
            crate::spans::record_tenant(&caller.tenant);
            f(&mut q, &caller).map_err(status)
        })
        .await
        .map_err(|e| Status::internal(format!("queue task: {e}")))?;
        if mutates && out.is_ok() {
            self.changed.notify_waiters();
        }
        out
    }
}

/// The `Jobs` service.
#[derive(Debug, Clone)]
pub struct JobsApi(pub Arc<Shared>);

/// The `Workers` service.
#[derive(Debug, Clone)]
pub struct WorkersApi(pub Arc<Shared>);

type EventStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::JobEvent, Status>> + Send>>;

#[tonic::async_trait]
impl pb::jobs_server::Jobs for JobsApi {
    async fn submit(&self, req: Request<pb::SubmitRequest>) -> Result<Response<pb::SubmitResponse>, Status> {
        let t0 = std::time::Instant::now();
        let secret = bearer(&req)?;
        let now = now_ms();
        let job = convert::new_job(req.into_inner(), now).map_err(status)?;
        let (row, created) = self.0.submit(&secret, job).await?;
        crate::spans::record_tenant(&row.spec.tenant);
        crate::spans::record_job(row.id);
        self.0.metrics.submit_latency.observe(t0.elapsed().as_secs_f64());
        Ok(Response::new(pb::SubmitResponse { job: Some(convert::job_to_pb(&row)), created }))
    }

    async fn get(&self, req: Request<pb::GetJobRequest>) -> Result<Response<pb::Job>, Status> {
        let secret = bearer(&req)?;
        let id = req.into_inner().id;
        crate::spans::record_job(id);
        let (row, why) = self.0.run(secret, false, move |q, c| Ok((q.get(c, id)?, q.wait_reason(id)))).await?;
        let mut job = convert::job_to_pb(&row);
        if row.state == crate::store::JobState::Queued {
            job.wait_reason = why.unwrap_or_default();
        }
        Ok(Response::new(job))
    }

    async fn cancel(&self, req: Request<pb::CancelJobRequest>) -> Result<Response<pb::Job>, Status> {
        let secret = bearer(&req)?;
        let id = req.into_inner().id;
        crate::spans::record_job(id);
        let row = self.0.run(secret, true, move |q, c| q.cancel(c, id, now_ms())).await?;
        Ok(Response::new(convert::job_to_pb(&row)))
    }

    async fn list(&self, req: Request<pb::ListJobsRequest>) -> Result<Response<pb::ListJobsResponse>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        let mut states = Vec::new();
        for &s in &r.states {
            states.push(
                convert::state_from_pb(s)
                    .ok_or_else(|| status(QueueError::invalid("states", format!("unknown state {s}"))))?,
            );
        }
        let after_id = if r.page_token.is_empty() {
            0
        } else {
            r.page_token
                .parse()
                .map_err(|_| status(QueueError::invalid("page_token", "not a token this server gave")))?
        };
        let filter = JobFilter {
            states,
            tenant: Some(r.tenant).filter(|t| !t.is_empty()),
            pool: Some(r.pool).filter(|p| !p.is_empty()),
            after_id,
            limit: r.page_size,
        };
        let asked = if r.page_size == 0 { 100 } else { r.page_size.min(crate::queue::PAGE_MAX) } as usize;
        let rows = self.0.run(secret, false, move |q, c| q.list(c, filter)).await?;
        let next =
            if rows.len() == asked { rows.last().map(|j| j.id.to_string()).unwrap_or_default() } else { String::new() };
        Ok(Response::new(pb::ListJobsResponse {
            jobs: rows.iter().map(convert::job_to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn requeue(&self, req: Request<pb::RequeueJobRequest>) -> Result<Response<pb::Job>, Status> {
        let secret = bearer(&req)?;
        let id = req.into_inner().id;
        crate::spans::record_job(id);
        let row = self.0.run(secret, true, move |q, c| q.requeue(c, id, now_ms())).await?;
        Ok(Response::new(convert::job_to_pb(&row)))
    }

    async fn purge(&self, req: Request<pb::PurgeJobRequest>) -> Result<Response<pb::PurgeJobResponse>, Status> {
        let secret = bearer(&req)?;
        let id = req.into_inner().id;
        crate::spans::record_job(id);
        self.0.run(secret, true, move |q, c| q.purge(c, id, now_ms())).await?;
        Ok(Response::new(pb::PurgeJobResponse {}))
    }

    type WatchStream = EventStream;

    async fn watch(&self, req: Request<pb::WatchRequest>) -> Result<Response<EventStream>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        let job = (r.job_id != 0).then_some(r.job_id);
        crate::spans::record_job(r.job_id);
        // the first read checks the token and the job before the stream opens
        let first = {
            let s = secret.clone();
            self.0.run(s, false, move |q, c| q.events(c, r.after_event_id, job)).await?
        };
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let shared = self.0.clone();
        tokio::spawn(async move {
            let mut batch = first;
            let mut last = r.after_event_id;
            loop {
                for e in &batch {
                    last = e.id;
                    if tx.send(Ok(convert::event_to_pb(e))).await.is_err() {
                        return;
                    }
                }
                if batch.is_empty() {
                    let woken = shared.changed.notified();
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                        _ = tx.closed() => return,
                    }
                }
                let s = secret.clone();
                batch = match shared.run(s, false, move |q, c| q.events(c, last, job)).await {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }
}

fn lease_of(j: &crate::store::JobRow) -> pb::Lease {
    pb::Lease { job: Some(convert::job_to_pb(j)), attempt: j.attempts, expires_at_ms: j.lease_expires_at_ms }
}

#[tonic::async_trait]
impl pb::workers_server::Workers for WorkersApi {
    async fn lease(&self, req: Request<pb::LeaseRequest>) -> Result<Response<pb::LeaseResponse>, Status> {
        let t0 = std::time::Instant::now();
        let secret = bearer(&req)?;
        let (offer, terms) = convert::offer_terms(req.into_inner()).map_err(status)?;
        let granted = self.0.run(secret, true, move |q, c| q.lease_with(c, offer, terms, now_ms())).await?;
        self.0.metrics.dispatch_latency.observe(t0.elapsed().as_secs_f64());
        Ok(Response::new(pb::LeaseResponse { leases: granted.iter().map(|g| lease_of(&g.job)).collect() }))
    }

    async fn heartbeat(&self, req: Request<pb::HeartbeatRequest>) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        crate::spans::record_job(r.job_id);
        let j =
            self.0.run(secret, false, move |q, c| q.heartbeat(c, &r.worker_id, r.job_id, r.attempt, now_ms())).await?;
        Ok(Response::new(pb::HeartbeatResponse {
            expires_at_ms: j.lease_expires_at_ms,
            cancelled: j.state == crate::store::JobState::Cancelled,
        }))
    }

    async fn complete(&self, req: Request<pb::CompleteRequest>) -> Result<Response<pb::Job>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        crate::spans::record_job(r.job_id);
        let j = self
            .0
            .run(secret, true, move |q, c| q.complete(c, &r.worker_id, r.job_id, r.attempt, r.exit_code, now_ms()))
            .await?;
        Ok(Response::new(convert::job_to_pb(&j)))
    }

    async fn fail(&self, req: Request<pb::FailRequest>) -> Result<Response<pb::Job>, Status> {
        let secret = bearer(&req)?;
        let r = req.into_inner();
        crate::spans::record_job(r.job_id);
        let j = self
            .0
            .run(secret, true, move |q, c| {
                q.fail(c, &r.worker_id, r.job_id, r.attempt, r.exit_code, &r.error, r.permanent, now_ms())
            })
            .await?;
        Ok(Response::new(convert::job_to_pb(&j)))
    }
}
