//! Running the server: the store opened (SQLite in the data folder, or
//! PostgreSQL), the services with gRPC health and reflection, and the
//! reaper that sends back expired leases (on the active dispatcher; on a
//! standby replica it tries to become it).

use crate::admin::AdminApi;
use crate::dispatch::Dispatcher;
use crate::pb;
use crate::queue::{Queue, QueueConfig};
use crate::service::{JobsApi, Shared, WorkersApi, now_ms};
use crate::store::{Actor, OverBudget, StoreAt, StoreError, TenantLimits};
use std::net::SocketAddr;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The transport failed.
    #[error("grpc: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Reflection could not be built.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// A role that is none of submitter, worker, operator, admin.
    #[error("unknown role `{0}` (expected submitter, worker, operator or admin)")]
    Role(String),
    /// A tenant name that is not one.
    #[error("{0}")]
    Tenant(String),
    /// The commit thread could not be started.
    #[error("cannot start the commit thread: {0}")]
    Thread(std::io::Error),
    /// The token could not be made.
    #[error("token: {0}")]
    Io(#[from] std::io::Error),
    /// A tenant's limit that is not one.
    #[error("{0}")]
    Limit(String),
    /// The store could not be opened.
    #[error("store: {0}")]
    Open(String),
    /// A policy or predictor that is not one.
    #[error("{0}")]
    Policy(String),
}

/// How the server runs.
#[derive(Debug)]
pub struct ServeConfig {
    /// Where to listen (port 0: any free port; the bound address is
    /// reported through `on_bound`).
    pub listen: SocketAddr,
    /// Where the data is kept.
    pub store: StoreAt,
    /// The queue's timings and seed.
    pub queue: QueueConfig,
    /// Where to serve Prometheus metrics (`GET /metrics`), if anywhere.
    pub metrics: Option<SocketAddr>,
    /// Serve gRPC over TLS with this certificate and key; plain text
    /// (for loopback) when `None`.
    pub tls: Option<TlsIdentity>,
}

/// A server's certificate chain and private key, PEM-encoded.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The certificate chain.
    pub cert_pem: Vec<u8>,
    /// The private key.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the key
        f.debug_struct("TlsIdentity").field("cert_pem", &format_args!("{} bytes", self.cert_pem.len())).finish()
    }
}

/// Where the server listens, once bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The gRPC services.
    pub grpc: SocketAddr,
    /// The metrics endpoint, when asked for.
    pub metrics: Option<SocketAddr>,
    /// Whether this replica started as the active dispatcher (always with
    /// SQLite; with PostgreSQL, the first replica on the database).
    pub dispatching: bool,
}

/// Creates a token for `tenant` with `role` in the store of `data`;
/// returns its secret (shown once: only its hash is kept).
pub fn add_token(at: &StoreAt, tenant: &str, role: &str) -> Result<String, ServeError> {
    crate::convert::check_name("tenant", tenant).map_err(|e| ServeError::Tenant(e.to_string()))?;
    if crate::auth::Role::parse(role).is_none() {
        return Err(ServeError::Role(role.to_string()));
    }
    let mut store = at.open()?;
    let secret = crate::auth::new_secret()?;
    store.put_token(&crate::auth::hash_token(&secret), tenant, role, now_ms())?;
    Ok(secret)
}

/// Sets a tenant's rate limit and GPU budget in the store at `at` (the
/// change is audited; running servers read it at their next submit or
/// lease). `rate_per_s` 0 lifts the rate limit, `gpu_hours_per_day` 0 the
/// budget; `burst` 0 means the rate rounded up (at least 1).
pub fn set_tenant(at: &StoreAt, limits: TenantLimits) -> Result<TenantLimits, ServeError> {
    let mut l = limits;
    crate::convert::check_name("tenant", &l.tenant).map_err(|e| ServeError::Tenant(e.to_string()))?;
    if !l.rate_per_s.is_finite() || l.rate_per_s < 0.0 {
        return Err(ServeError::Limit(format!(
            "--rate {}: must be a number of submits per second, 0 or more",
            l.rate_per_s
        )));
    }
    if !l.gpu_hours_per_day.is_finite() || l.gpu_hours_per_day < 0.0 {
        return Err(ServeError::Limit(format!(
            "--gpu-hours-per-day {}: must be a number of GPU-hours, 0 or more",
            l.gpu_hours_per_day
        )));
    }
    if l.burst == 0 && l.rate_per_s > 0.0 {
        l.burst = (l.rate_per_s.ceil() as u32).max(1);
    }
    let mut store = at.open()?;
    let admin = Actor { tenant: "-".into(), role: "local".into() };
    store.put_tenant(&l, &admin, now_ms())?;
    Ok(l)
}

/// The active policy version in the store at `at`, after making version 1
/// of `policy` and `predictor` (the server's flags) in a store without one:
/// the server dispatches with what this returns.
pub fn seed_policy(
    at: &StoreAt,
    policy: &str,
    predictor: &str,
) -> Result<crate::store::admin::PolicyRow, ServeError> {
    let mut store = at.open()?;
    crate::queue::seed_policy(&mut store, policy, predictor, now_ms()).map_err(|e| match e {
        crate::queue::QueueError::Store(e) => ServeError::Store(e),
        e => ServeError::Policy(e.to_string()),
    })
}

/// Every tenant's limits in the store at `at`.
pub fn tenants(at: &StoreAt) -> Result<Vec<TenantLimits>, ServeError> {
    Ok(at.open()?.tenants()?)
}

/// `wait` or `refuse`, as `--over-budget` takes it.
pub fn over_budget(s: &str) -> Result<OverBudget, ServeError> {
    OverBudget::parse(s).ok_or_else(|| ServeError::Limit(format!("--over-budget `{s}`: expected wait or refuse")))
}

/// Serves until `shutdown` resolves; `on_bound` is told the addresses once
/// it is listening.
pub async fn serve(
    cfg: ServeConfig,
    dispatcher: Dispatcher,
    on_bound: impl FnOnce(Bound),
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    // the blocking PostgreSQL client may not start its runtime on an async thread
    let at = cfg.store.clone();
    // and the first replica on a database is its active dispatcher
    let (store, dispatching) = tokio::task::spawn_blocking(move || {
        let mut store = at.open()?;
        let lead = store.lead()?;
        Ok::<_, StoreError>((store, lead))
    })
    .await
    .map_err(|e| ServeError::Open(e.to_string()))??;
    let shared = Shared::start(Queue::new(store, dispatcher, cfg.queue)).map_err(ServeError::Thread)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: cfg.listen, source })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Bind { addr: cfg.listen, source })?;

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<pb::jobs_server::JobsServer<JobsApi>>().await;
    health.set_serving::<pb::workers_server::WorkersServer<WorkersApi>>().await;
    health.set_serving::<pb::admin_server::AdminServer<AdminApi>>().await;
    // v1 and, for older grpcurl, v1alpha
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let (reflection, reflection_alpha) = (reflection().build_v1()?, reflection().build_v1alpha()?);

    let reaper = {
        let shared = shared.clone();
        let every = std::time::Duration::from_millis((cfg.queue.lease_ttl_ms / 4).clamp(50, 5000) as u64);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let s = shared.clone();
                let n = tokio::task::spawn_blocking(move || {
                    let mut q = s.queue.lock().unwrap_or_else(|p| p.into_inner());
                    // a policy or mode changed through another replica
                    let _ = q.sync_admin();
                    q.expire(now_ms()).unwrap_or(0)
                })
                .await
                .unwrap_or(0);
                if n > 0 {
                    shared.changed.notify_waiters();
                }
            }
        })
    };

    let metrics = match cfg.metrics {
        Some(addr) => {
            let (at, task) = crate::metrics::serve_metrics(addr, shared.clone())
                .await
                .map_err(|source| ServeError::Bind { addr, source })?;
            Some((at, task))
        }
        None => None,
    };
    on_bound(Bound { grpc: bound, metrics: metrics.as_ref().map(|m| m.0), dispatching });
    let mut builder = tonic::transport::Server::builder().trace_fn(crate::spans::rpc_span);
    if let Some(tls) = &cfg.tls {
        let identity = tonic::transport::Identity::from_pem(&tls.cert_pem, &tls.key_pem);
        builder = builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
    }
    let result = builder
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(pb::jobs_server::JobsServer::new(JobsApi(shared.clone())))
        .add_service(pb::admin_server::AdminServer::new(AdminApi(shared.clone())))
        .add_service(pb::workers_server::WorkersServer::new(WorkersApi(shared)))
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
        .await;
    reaper.abort();
    if let Some((_, task)) = metrics {
        task.abort();
    }
    Ok(result?)
}
