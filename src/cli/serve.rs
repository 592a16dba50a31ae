//! `foresight serve`: run the gRPC task queue (and `serve token add`, which
//! makes a bearer token in its store; `serve tenant set|list`, a tenant's
//! rate limit and GPU budget).

use super::BadInput;
use super::serve_client::block_on;
use anyhow::Context;
use clap::{Args, Subcommand};
use foresight_core::policy::PolicySpec;
use foresight_core::predictor::PredictorKind;
use foresight_server::dispatch::Dispatcher;
use foresight_server::queue::QueueConfig;
use foresight_server::server::{
    Bound, ServeConfig, ServeError, TlsIdentity, add_token, over_budget, seed_policy, serve, set_tenant, tenants,
};
use foresight_server::store::{StoreAt, TenantLimits};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Run foresight's own task queue with a gRPC API.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    /// Manage tokens instead of serving.
    #[command(subcommand)]
    action: Option<ServeAction>,
    /// Where to listen (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// The data folder (the SQLite store, when there is no --store).
    #[arg(long, value_name = "DIR", default_value = "./foresight-data")]
    data: PathBuf,
    /// Keep the data in PostgreSQL instead (`postgres://user:pw@host:port/db`);
    /// several `serve` on one database are replicas, one of them the
    /// active dispatcher.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// The dispatch policy (as `simulate --policy`; default `foresight`).
    /// It makes version 1 of a store that has no policy version yet; a
    /// store that has one dispatches with its active version (`foresight
    /// admin policy` changes it).
    #[arg(long)]
    policy: Option<String>,
    /// The predictor (`easy++`: the users' history; `requested`); by
    /// default the policy's own, the users' history for `foresight`.
    #[arg(long)]
    predictor: Option<String>,
    /// Predict with this trained model file (`foresight train -o FILE`)
    /// instead: each job featurised from its record (tenant, name, pool,
    /// request, submission time and the features it was submitted with),
    /// the predictions the simulator's `--model` gives.
    #[arg(long, value_name = "FILE", conflicts_with = "predictor")]
    model: Option<PathBuf>,
    /// How long a lease lasts without a heartbeat, milliseconds.
    #[arg(long, default_value_t = 30_000)]
    lease_ttl_ms: u64,
    /// The first retry's backoff, milliseconds (doubled per attempt).
    #[arg(long, default_value_t = 1_000)]
    backoff_ms: u64,
    /// The longest backoff, milliseconds.
    #[arg(long, default_value_t = 300_000)]
    backoff_cap_ms: u64,
    /// Pools' prices per GPU-hour (CPU-hour for CPU jobs), `POOL=PRICE,...`:
    /// a job naming several pools goes to the cheapest that meets its
    /// deadline by prediction.
    #[arg(long, value_name = "POOL=PRICE,...")]
    pool_price: Option<String>,
    /// The seed of the backoff's jitter.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Serve Prometheus metrics on this address (`GET /metrics`; port 0:
    /// any free port, printed at start).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Serve gRPC over TLS with this certificate chain (PEM); with
    /// `--tls-key`.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The log on standard error: `text` or `json` (one object a line).
    /// `RUST_LOG` filters it (default `info`; `foresight_server=debug`
    /// adds a span per RPC and per dispatch decision, written as each
    /// closes with its time).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

/// Installs the log: `RUST_LOG` (default `info`), in `format` (`text` or
/// `json`), on standard error, each span written as it closes.
fn init_log(format: &str) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::format::FmtSpan;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::try_new(&v).map_err(|e| BadInput(format!("RUST_LOG `{v}`: {e}")))?,
        _ => EnvFilter::new("info"),
    };
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::CLOSE)
        .with_target(false);
    // a subscriber installed before (by a test harness) is kept
    let _ = if format == "json" { log.json().try_init() } else { log.try_init() };
    Ok(())
}

/// What `serve` can do besides serving.
#[derive(Debug, Subcommand)]
enum ServeAction {
    /// Tokens.
    #[command(subcommand)]
    Token(TokenAction),
    /// Tenants' rate limits and GPU budgets.
    #[command(subcommand)]
    Tenant(TenantAction),
}

/// Where a subcommand finds the store.
#[derive(Debug, Args)]
struct StoreArgs {
    /// The data folder (SQLite).
    #[arg(long, value_name = "DIR", default_value = "./foresight-data")]
    data: PathBuf,
    /// PostgreSQL instead (as `serve --store`).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

impl StoreArgs {
    fn at(&self) -> anyhow::Result<StoreAt> {
        StoreAt::parse(self.store.as_deref(), self.data.clone()).map_err(|e| BadInput(e.to_string()).into())
    }
}

/// A tenant's limits, as `serve tenant set` and `admin tenant set` take
/// them.
#[derive(Debug, clap::Args)]
pub(super) struct LimitsArgs {
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// Submits per second (a token bucket); a submit over it is refused
    /// with RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Submits allowed at once (the bucket's size; default: the rate,
    /// rounded up).
    #[arg(long, default_value_t = 0)]
    pub burst: u32,
    /// GPU-hours per UTC day (GPUs times predicted runtime of the jobs
    /// started today).
    #[arg(long, default_value_t = 0.0)]
    pub gpu_hours_per_day: f64,
    /// What a job over the budget does: `wait` (for the next day) or
    /// `refuse` (RESOURCE_EXHAUSTED at submit).
    #[arg(long, default_value = "wait")]
    pub over_budget: String,
}

/// Tenant commands.
#[derive(Debug, Subcommand)]
enum TenantAction {
    /// Set a tenant's limits (audited; running servers apply them at the
    /// next submit or lease). Each option left out is 0: no limit.
    Set {
        #[command(flatten)]
        limits: LimitsArgs,
        #[command(flatten)]
        at: StoreArgs,
    },
    /// Print every tenant's limits, one JSON object a line.
    List {
        #[command(flatten)]
        at: StoreArgs,
    },
}

/// Token commands.
#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Create a token for a tenant and role; prints its secret once (the
    /// store keeps only its SHA-256).
    Add {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// submitter, worker, operator or admin.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        at: StoreArgs,
    },
}

/// Runs `foresight serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let refused = |e: ServeError| match e {
        e @ (ServeError::Role(_) | ServeError::Tenant(_) | ServeError::Limit(_) | ServeError::Policy(_)) => {
            BadInput(e.to_string()).into()
        }
        e => anyhow::Error::from(e),
    };
    match args.action {
        Some(ServeAction::Token(TokenAction::Add { tenant, role, at })) => {
            let secret = add_token(&at.at()?, &tenant, &role).map_err(refused)?;
            println!("{secret}");
            return Ok(());
        }
        Some(ServeAction::Tenant(TenantAction::Set { limits: l, at })) => {
            let over_budget = over_budget(&l.over_budget).map_err(refused)?;
            let (tenant, rate_per_s, burst, gpu_hours_per_day) = (l.tenant, l.rate, l.burst, l.gpu_hours_per_day);
            let l = TenantLimits { tenant, rate_per_s, burst, gpu_hours_per_day, over_budget };
            let l = set_tenant(&at.at()?, l).map_err(refused)?;
            println!("{}", tenant_json(&l));
            return Ok(());
        }
        Some(ServeAction::Tenant(TenantAction::List { at })) => {
            for l in tenants(&at.at()?).map_err(refused)? {
                println!("{}", tenant_json(&l));
            }
            return Ok(());
        }
        None => {}
    }
    init_log(&args.log_format)?;
    let flag: PolicySpec = args.policy.as_deref().unwrap_or("foresight").parse()?;
    let kind: Option<PredictorKind> = args.predictor.as_deref().map(str::parse).transpose()?;
    if kind == Some(PredictorKind::Clairvoyant) {
        return Err(BadInput("--predictor clairvoyant: a live queue does not know runtimes".into()).into());
    }
    let store = StoreAt::parse(args.store.as_deref(), args.data).map_err(|e| BadInput(e.to_string()))?;
    // the store's active policy version wins over the flags once there is one
    let active = seed_policy(&store, &flag.name, args.predictor.as_deref().unwrap_or("")).map_err(refused)?;
    let spec: PolicySpec = active.policy.parse()?;
    let kind: Option<PredictorKind> =
        Some(active.predictor.as_str()).filter(|p| !p.is_empty()).map(str::parse).transpose()?;
    let flags = (flag.name.as_str(), args.predictor.as_deref().unwrap_or(""));
    if args.policy.is_some() && (active.policy.as_str(), active.predictor.as_str()) != flags {
        eprintln!(
            "foresight serve: --policy/--predictor ignored: the store's active policy is v{} (`{}`); \
             change it with `foresight admin policy set`",
            active.version, active.policy
        );
    }
    let mut dispatcher = match &args.model {
        None => Dispatcher::new(spec, kind),
        Some(path) => {
            if !active.predictor.is_empty() {
                return Err(BadInput(format!(
                    "--model: the store's active policy v{} names predictor `{}`, which would replace the model; \
                     set one without a predictor first (`foresight admin policy set`)",
                    active.version, active.predictor
                ))
                .into());
            }
            let served = foresight_controller::model::load(path).map_err(|e| BadInput(format!("--model: {e}")))?;
            eprintln!("foresight serve: predicting with model {} ({})", served.version, path.display());
            Dispatcher::with_predictor(spec, Box::new(move || served.instantiate()))
        }
    };
    let mut prices = std::collections::BTreeMap::new();
    for p in args.pool_price.as_deref().unwrap_or("").split(',').filter(|p| !p.is_empty()) {
        let bad = || BadInput(format!("--pool-price `{p}`: expected POOL=PRICE with a price >= 0"));
        let (pool, price) = p.split_once('=').ok_or_else(bad)?;
        let price: f64 = price.trim().parse().map_err(|_| bad())?;
        if !price.is_finite() || price < 0.0 || pool.is_empty() {
            return Err(bad().into());
        }
        prices.insert(pool.trim().to_string(), price);
    }
    dispatcher.set_prices(prices);
    dispatcher.set_model_loader(Box::new(|path: &str| {
        let served = foresight_controller::model::load(std::path::Path::new(path)).map_err(|e| e.to_string())?;
        eprintln!("foresight serve: model {} loaded ({path})", served.version);
        let make: foresight_server::dispatch::PredictorFactory = Box::new(move || served.instantiate());
        Ok(make)
    }));
    let policy = format!("{} v{}", dispatcher.policy_name(), active.version);
    let queue = QueueConfig {
        lease_ttl_ms: args.lease_ttl_ms.max(1) as i64,
        backoff_base_ms: args.backoff_ms as i64,
        backoff_cap_ms: args.backoff_cap_ms.max(args.backoff_ms) as i64,
        seed: args.seed,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let read = |f: &PathBuf, what: &str| {
                std::fs::read(f).with_context(|| format!("cannot read the TLS {what} {}", f.display()))
            };
            Some(TlsIdentity { cert_pem: read(cert, "certificate")?, key_pem: read(key, "key")? })
        }
        _ => None,
    };
    let data = store.to_string();
    let cfg = ServeConfig { listen: args.listen, store, queue, metrics: args.metrics, tls };
    block_on(async move {
        let on_bound = |at: Bound| {
            let role = if at.dispatching { "active dispatcher" } else { "standby replica" };
            println!("foresight serve: listening on {} (policy {policy}, data {data}, {role})", at.grpc);
            if let Some(m) = at.metrics {
                println!("foresight serve: metrics on http://{m}/metrics");
            }
            let _ = std::io::stdout().flush();
        };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        serve(cfg, dispatcher, on_bound, shutdown).await.context("foresight serve")
    })
}

/// A tenant's limits as one JSON line.
fn tenant_json(l: &TenantLimits) -> serde_json::Value {
    serde_json::json!({
        "tenant": l.tenant,
        "rate_per_s": l.rate_per_s,
        "burst": l.burst,
        "gpu_hours_per_day": l.gpu_hours_per_day,
        "over_budget": l.over_budget.as_str(),
    })
}
