//! Entry points for the binary: install a `tracing` subscriber, and run
//! shadow mode against Slurm on a runtime of its own until a signal or a
//! time limit.

use crate::adapter::Orchestrator;
use crate::adapter::slurm::SlurmAdapter;
use crate::controller::{self, ControllerError, ShadowConfig};
use std::time::Duration;

/// Writes `tracing` events to standard error at `level` (`error`, `warn`,
/// `info`, `debug`, `trace`; `info` when unknown). Does nothing when a
/// subscriber is already installed.
pub fn init_tracing(level: &str) {
    let level = level.parse().unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).with_target(false).try_init();
}

/// What stopped a shadow run that could not start or keep going.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The runtime could not be built.
    #[error("start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The controller failed.
    #[error(transparent)]
    Controller(#[from] ControllerError),
}

/// Runs shadow mode against the Slurm `adapter` reads until SIGINT/SIGTERM, or
/// for `limit` when given. Returns the cycles run.
pub fn shadow_slurm(adapter: SlurmAdapter, cfg: ShadowConfig, limit: Option<Duration>) -> Result<u64, RunError> {
    shadow_with(adapter, cfg, limit)
}

/// Runs shadow mode against any orchestrator (`foresight serve`'s adapter
/// in the binary) as [`shadow_slurm`] does against Slurm.
pub fn shadow_with<O: Orchestrator + Clone + 'static>(
    adapter: O,
    cfg: ShadowConfig,
    limit: Option<Duration>,
) -> Result<u64, RunError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    rt.block_on(async move {
        let handle = controller::start(adapter, cfg, None, true).await?;
        if let Some(addr) = handle.metrics_addr {
            eprintln!("metrics on http://{addr}/metrics, health on http://{addr}/healthz");
        }
        if let Some(limit) = limit {
            handle.stop_after(limit, "time limit reached");
        }
        Ok(handle.wait().await?)
    })
}
