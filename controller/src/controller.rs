//! The live loop of shadow mode: start the event sources, consume their
//! events one at a time, run the engine, write the decision log, keep the
//! metrics, and stop cleanly.

use crate::adapter::{ClusterView, Orchestrator};
use crate::event::{self, Event};
use crate::log::{self, Body, LogConfig, LogError, LogWriter, ModelRecord, OutageRecord, StartRecord, StopRecord};
use crate::clock::now_unix_s;
use crate::model::ServedModel;
use crate::obs::{Metrics, http};
use crate::enforce::actor::Actor;
use crate::enforce::api::{self, Board, Ops};
use crate::enforce::auth::Tokens;
use crate::enforce::gate::GateConfig;
use crate::enforce::ledger::Ledger;
use crate::enforce::Mode;
use crate::shadow::engine::{Engine, EngineConfig, Restored};
use std::sync::Mutex;
use foresight_core::policy::{PolicySpec, UnknownPolicy};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Everything shadow mode needs to know.
#[derive(Debug, Clone)]
pub struct ShadowConfig {
    /// The candidate policy's name (`easy++`, `sjbf`, ...).
    pub policy: String,
    /// The baseline policy's name (what the orchestrator is taken to do).
    pub baseline: String,
    /// The model file; `None` runs without a model (the breaker stays open).
    pub model: Option<PathBuf>,
    /// The model file's model is served on a clock this many times faster
    /// than its own ([`crate::model::load_scaled`]): 1 unless the jobs are a
    /// trace replayed compressed.
    pub model_time_scale: f64,
    /// The decision log.
    pub log: LogConfig,
    /// Where to serve `/metrics` and `/healthz`, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// How often the orchestrator is read.
    pub poll: Duration,
    /// How often a cycle runs even without a change.
    pub timer: Duration,
    /// The candidate's deadline, breaker and drift settings.
    pub engine: EngineConfig,
    /// A telemetry table to sample NVML into, and how often.
    pub telemetry: Option<(PathBuf, Duration)>,
    /// The mode it starts in (operators switch it while it runs).
    pub mode: Mode,
    /// Gates, site factors and which jobs are controlled.
    pub gate: GateConfig,
    /// Operators' and watchers' tokens; with none, every change is refused.
    pub tokens: Tokens,
    /// Where to write the cache the site's `job_submit.lua` reads.
    pub submit_cache: Option<PathBuf>,
}

impl ShadowConfig {
    /// Defaults around a candidate policy and a log path: baseline
    /// `priority`, poll every second, a timer cycle every 10 s.
    pub fn new(policy: &str, log: impl Into<PathBuf>) -> Self {
        Self {
            policy: policy.to_string(),
            baseline: "priority".to_string(),
            model: None,
            model_time_scale: 1.0,
            log: LogConfig::new(log),
            metrics_addr: None,
            poll: Duration::from_secs(1),
            timer: Duration::from_secs(10),
            engine: EngineConfig::default(),
            telemetry: None,
            mode: Mode::Shadow,
            gate: GateConfig::default(),
            tokens: Tokens::default(),
            submit_cache: None,
        }
    }
}

/// What stops the controller from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// A policy name is not one `foresight-core` knows.
    #[error("choose policy")]
    Policy(#[from] UnknownPolicy),
    /// The decision log could not be opened or written.
    #[error("keep the decision log")]
    Log(#[from] LogError),
    /// The metrics endpoint could not be bound.
    #[error("serve metrics on {addr}")]
    Metrics {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A running shadow controller.
#[derive(Debug)]
pub struct ShadowHandle {
    events: mpsc::Sender<Event>,
    /// The metrics it keeps.
    pub metrics: Arc<Metrics>,
    /// Where `/metrics` and `/healthz` are served, when they are.
    pub metrics_addr: Option<SocketAddr>,
    task: JoinHandle<Result<u64, ControllerError>>,
}

impl ShadowHandle {
    /// Asks the controller to stop and waits; returns the cycles it ran.
    pub async fn shutdown(self, reason: &str) -> Result<u64, ControllerError> {
        let _ = self.events.send(Event::Shutdown(reason.to_string())).await;
        self.wait().await
    }

    /// Asks the controller to stop after `delay`, without waiting.
    pub fn stop_after(&self, delay: Duration, reason: &str) {
        let (tx, reason) = (self.events.clone(), reason.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(Event::Shutdown(reason)).await;
        });
    }

    /// Waits until the controller stops by itself (a signal).
    pub async fn wait(self) -> Result<u64, ControllerError> {
        self.task.await.unwrap_or_else(|e| panic!("controller task failed: {e}"))
    }
}


/// Reads what an earlier run logged: finished job ids, and predictions and
/// candidate starts of the others.
fn restore_from(path: &std::path::Path) -> Result<(HashSet<String>, HashMap<String, Restored>), LogError> {
    let mut done = HashSet::new();
    let mut known: HashMap<String, Restored> = HashMap::new();
    for scan in log::read_log(path)? {
        for rec in scan.records {
            match rec.body {
                Body::Finished(f) => {
                    known.remove(&f.job_id);
                    done.insert(f.job_id);
                }
                Body::Cycle(c) => {
                    for (id, p) in c.predictions {
                        known.entry(id).or_default().prediction.get_or_insert((p, c.model_version.clone()));
                    }
                    for p in c.candidate.iter().flat_map(|d| &d.start) {
                        known.entry(p.job_id.clone()).or_default().candidate_start_unix_s.get_or_insert(c.observed_at_unix_s);
                    }
                }
                _ => {}
            }
        }
    }
    known.retain(|id, _| !done.contains(id));
    Ok((done, known))
}

/// Starts shadow mode against `adapter`, with `model` as the candidate's
/// model when given (else the one in `cfg.model`, else none). Listens to
/// SIGINT and SIGTERM when `signals` is true.
pub async fn start<O: Orchestrator + Clone + 'static>(
    adapter: O,
    cfg: ShadowConfig,
    model: Option<ServedModel>,
    signals: bool,
) -> Result<ShadowHandle, ControllerError> {
    let candidate: PolicySpec = cfg.policy.parse()?;
    let baseline: PolicySpec = cfg.baseline.parse()?;
    let metrics = Arc::new(Metrics::default());
    let (tx, rx) = mpsc::channel(64);
    let board = Arc::new(Mutex::new(Board { mode: cfg.mode, gates_open: 0, proposals: Vec::new() }));
    let metrics_addr = match cfg.metrics_addr {
        Some(addr) => {
            let ops = Ops { tokens: Arc::new(cfg.tokens.clone()), events: tx.clone(), board: board.clone() };
            let served = http::serve_beside(addr, metrics.clone(), http::STALE_AFTER, Some(api::router(ops))).await;
            Some(served.map_err(|source| ControllerError::Metrics { addr, source })?.0)
        }
        None => None,
    };
    let model = match (model, &cfg.model) {
        (Some(m), _) => Ok(m),
        (None, Some(path)) => crate::model::load_scaled(path, cfg.model_time_scale).map_err(|e| e.to_string()),
        (None, None) => Err("no model given".to_string()),
    };
    if let Err(why) = &model {
        tracing::warn!(%why, "starting without a model: the baseline decides until one loads");
    }
    let mut writer = LogWriter::open(cfg.log.clone())?;
    let (done, known) = restore_from(&cfg.log.path)?;
    let ledger = Ledger::read(log::read_log(&cfg.log.path)?.iter().flat_map(|s| &s.records));
    let (cand, base) = (candidate.clone(), baseline.clone());
    let mut engine = Engine::new(
        cfg.engine.clone(),
        move || Box::new(cand.build()),
        move || Box::new(base.build()),
        baseline.predictor.build(Vec::new),
        model,
    );
    engine.restore(done, known);
    let report = writer.open_report().clone();
    let start = StartRecord {
        mode: cfg.mode.as_str().into(),
        policy: candidate.name.clone(),
        baseline: baseline.name.clone(),
        model_version: engine.model_version().map(str::to_string),
        orchestrator: adapter.name().to_string(),
        resumed: report.resumed,
        torn_bytes_dropped: report.torn_bytes_dropped,
    };
    writer.append(now_unix_s(), Body::Start(start))?;
    tracing::info!(policy = %candidate.name, baseline = %baseline.name, resumed = report.resumed, mode = %cfg.mode, "controller started");
    let actor = Actor::new(adapter.clone(), cfg.gate.clone(), cfg.mode, ledger, board, cfg.submit_cache.clone());

    let mut sources = vec![
        tokio::spawn(event::watch(adapter, cfg.poll, tx.clone())),
        tokio::spawn(event::timer(cfg.timer, tx.clone())),
    ];
    if let Some(path) = cfg.model.clone() {
        sources.push(tokio::spawn(event::watch_model(path, cfg.model_time_scale, Duration::from_secs(2), tx.clone())));
    }
    if signals {
        sources.push(tokio::spawn(event::signals(tx.clone())));
    }
    if let Some((path, every)) = cfg.telemetry.clone() {
        sources.push(tokio::spawn(sample_telemetry(path, every)));
    }
    let task = tokio::spawn(run(engine, actor, writer, rx, metrics.clone(), sources));
    Ok(ShadowHandle { events: tx, metrics, metrics_addr, task })
}

async fn sample_telemetry(path: PathBuf, every: Duration) {
    let node = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    let sampler = match tokio::task::spawn_blocking(move || crate::nvml::Sampler::new(node, path)).await {
        Ok(s) if s.unavailable().is_none() => s,
        _ => return,
    };
    let sampler = Arc::new(sampler);
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let s = sampler.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.sample(now_unix_s())).await {
            tracing::warn!(error = %e, "telemetry sample not written");
        }
    }
}

/// The loop proper: one event at a time.
async fn run<O: Orchestrator>(
    mut engine: Engine,
    mut actor: Actor<O>,
    mut writer: LogWriter,
    mut rx: mpsc::Receiver<Event>,
    metrics: Arc<Metrics>,
    sources: Vec<JoinHandle<()>>,
) -> Result<u64, ControllerError> {
    let mut last: Option<ClusterView> = None;
    let mut down_since: Option<f64> = None;
    let write = |writer: &mut LogWriter, body: Body| -> Result<(), ControllerError> {
        writer.append(now_unix_s(), body)?;
        metrics.update(|v| v.log_records += 1);
        Ok(())
    };
    let reason = loop {
        let Some(ev) = rx.recv().await else { break "all event sources ended".to_string() };
        let trigger = ev.trigger();
        match ev {
            Event::StateChange(view) | Event::JobFinished(view) => {
                if let Some(since) = down_since.take() {
                    tracing::info!("orchestrator reachable again");
                    metrics.update(|v| v.orchestrator_up = 1);
                    let back = OutageRecord { reachable: true, error: None, down_s: Some(now_unix_s() - since) };
                    write(&mut writer, Body::Outage(back))?;
                }
                metrics.update(|v| v.orchestrator_up = 1);
                let mut cycled = engine.cycle(&view, trigger).await;
                cycled.tally.apply(&metrics);
                let (starts, stands) = (std::mem::take(&mut cycled.starts), cycled.tally.source == "candidate");
                let n = cycled.write(&mut writer, now_unix_s)?;
                metrics.update(|v| v.log_records += n as u64);
                actor.after_cycle(&view, &starts, stands, &mut writer, &metrics).await?;
                last = Some(view);
            }
            Event::Timer => {
                let Some(view) = last.as_mut().filter(|_| down_since.is_none()) else { continue };
                view.at_unix_s = now_unix_s();
                let mut cycled = engine.cycle(view, trigger).await;
                cycled.tally.apply(&metrics);
                let (starts, stands) = (std::mem::take(&mut cycled.starts), cycled.tally.source == "candidate");
                let n = cycled.write(&mut writer, now_unix_s)?;
                metrics.update(|v| v.log_records += n as u64);
                actor.after_cycle(view, &starts, stands, &mut writer, &metrics).await?;
            }
            Event::Operator { by, command, reply } => {
                let answer = actor.command(&by, command, last.as_ref(), &mut writer, &metrics).await?;
                let _ = reply.send(answer);
            }
            Event::Refused { by, what, why } => {
                tracing::warn!(%by, %what, %why, "operator command refused");
                actor.refused(&by, &what, &why, &mut writer, &metrics)?;
            }
            Event::Unreachable(error) => {
                metrics.update(|v| {
                    v.orchestrator_up = 0;
                    v.orchestrator_errors += 1;
                });
                if down_since.is_none() {
                    tracing::warn!(%error, "orchestrator unreachable");
                    down_since = Some(now_unix_s());
                    write(&mut writer, Body::Outage(OutageRecord { reachable: false, error: Some(error), down_s: None }))?;
                }
            }
            Event::ModelReloaded { path, model } => {
                let (version, error) = match &model {
                    Ok(m) => (Some(m.version.clone()), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                tracing::info!(?version, ?error, "model reloaded");
                // logged as loaded; the cycles' records name the version
                // that actually served each one
                write(&mut writer, Body::Model(ModelRecord { path: path.display().to_string(), version, error }))?;
                engine.reload(model.map_err(|e| e.to_string()));
            }
            Event::Shutdown(reason) => break reason,
        }
    };
    for s in &sources {
        s.abort();
    }
    // a candidate's call past its deadline ends before the controller does
    engine.settle().await;
    // every gate lifted, every site factor restored: Slurm's own policy runs on
    actor.shutdown(last.as_ref(), &mut writer, &metrics).await?;
    tracing::info!(%reason, cycles = engine.cycles(), "shadow mode stopped");
    write(&mut writer, Body::Stop(StopRecord { reason, cycles: engine.cycles() }))?;
    writer.sync()?;
    Ok(engine.cycles())
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod tests;
