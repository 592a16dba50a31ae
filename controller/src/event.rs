//! The closed set of events the controller loop consumes, and the tasks
//! that produce them. Only the watcher talks to the orchestrator; the loop
//! shares no state with the sources, only these messages.

use crate::adapter::{ClusterView, Orchestrator, Phase};
use crate::model::{self, ModelError, ServedModel};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc::Sender;

/// Something the loop must react to.
pub enum Event {
    /// The orchestrator's state changed (jobs submitted, started, nodes).
    StateChange(ClusterView),
    /// Jobs finished (the view includes their final state).
    JobFinished(ClusterView),
    /// The periodic timer: decide again even if nothing changed.
    Timer,
    /// The orchestrator could not be read.
    Unreachable(String),
    /// The model file changed and was read again.
    ModelReloaded {
        /// The file.
        path: PathBuf,
        /// The new model, or why it could not be loaded.
        model: Result<ServedModel, ModelError>,
    },
    /// Stop cleanly.
    Shutdown(String),
    /// An authenticated operator's command; the loop answers on `reply`.
    Operator {
        /// The token's name.
        by: String,
        /// What to do.
        command: crate::enforce::api::Command,
        /// The answer: what was done, or why not.
        reply: tokio::sync::oneshot::Sender<Result<String, String>>,
    },
    /// A change refused for want of an operator's credential.
    Refused {
        /// The token's name, or `unauthenticated`.
        by: String,
        /// What was asked.
        what: String,
        /// Why it was refused.
        why: String,
    },
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::StateChange(v) => write!(f, "StateChange({} jobs)", v.jobs.len()),
            Event::JobFinished(v) => write!(f, "JobFinished({} jobs)", v.jobs.len()),
            Event::Timer => f.write_str("Timer"),
            Event::Unreachable(e) => write!(f, "Unreachable({e})"),
            Event::ModelReloaded { path, model } => write!(f, "ModelReloaded({}, ok={})", path.display(), model.is_ok()),
            Event::Shutdown(r) => write!(f, "Shutdown({r})"),
            Event::Operator { by, command, .. } => write!(f, "Operator({by}: {command:?})"),
            Event::Refused { by, what, .. } => write!(f, "Refused({by}: {what})"),
        }
    }
}

impl Event {
    /// The trigger name written in cycle records.
    pub fn trigger(&self) -> &'static str {
        match self {
            Event::StateChange(_) => "state_change",
            Event::JobFinished(_) => "job_finished",
            Event::Timer => "timer",
            Event::Unreachable(_) => "unreachable",
            Event::ModelReloaded { .. } => "model_reloaded",
            Event::Shutdown(_) => "shutdown",
            Event::Operator { .. } => "operator",
            Event::Refused { .. } => "refused",
        }
    }
}

/// Job ids with their phases, and node names with their states and
/// usability: what identifies a state for change detection.
type Fingerprint = (BTreeSet<(String, u8)>, Vec<(String, String, bool)>);

/// What identifies a state for change detection: job phases and node states.
fn fingerprint(view: &ClusterView) -> Fingerprint {
    let jobs = view.jobs.iter().map(|j| (j.job.job_id.clone(), j.phase as u8)).collect();
    let nodes = view.nodes.iter().map(|n| (n.spec.name.clone(), n.state.clone(), n.usable)).collect();
    (jobs, nodes)
}

/// Polls the orchestrator every `every`; sends a state change when the
/// fingerprint moves, job-finished when a job ended, and unreachable on
/// every failed read. Jobs that vanish between two polls are looked up so
/// their end is not lost. Ends when the loop is gone.
pub async fn watch<O: Orchestrator>(mut adapter: O, every: Duration, tx: Sender<Event>) {
    let mut last = None;
    let mut live: BTreeSet<String> = BTreeSet::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let event = match adapter.observe().await {
            Err(e) => Event::Unreachable(e.to_string()),
            Ok(mut view) => {
                let shown: BTreeSet<&str> = view.jobs.iter().map(|j| j.job.job_id.as_str()).collect();
                let vanished: Vec<String> = live.iter().filter(|id| !shown.contains(id.as_str())).cloned().collect();
                match adapter.lookup(&vanished).await {
                    Ok(found) => view.jobs.extend(found),
                    Err(e) => tracing::warn!(error = %e, "looking up vanished jobs failed"),
                }
                let ended = view.jobs.iter().any(|j| j.phase == Phase::Finished && live.contains(&j.job.job_id));
                live = view.jobs.iter().filter(|j| j.phase != Phase::Finished).map(|j| j.job.job_id.clone()).collect();
                let fp = fingerprint(&view);
                if last.as_ref() == Some(&fp) {
                    continue;
                }
                last = Some(fp);
                if ended { Event::JobFinished(view) } else { Event::StateChange(view) }
            }
        };
        if tx.send(event).await.is_err() {
            return;
        }
    }
}

/// Sends a timer event every `every`.
pub async fn timer(every: Duration, tx: Sender<Event>) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        if tx.send(Event::Timer).await.is_err() {
            return;
        }
    }
}

/// Watches the model file's modification time every `every` and reloads it
/// when it changes (served on `time_scale`, as [`model::load_scaled`]).
pub async fn watch_model(path: PathBuf, time_scale: f64, every: Duration, tx: Sender<Event>) {
    let mtime = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut seen: Option<SystemTime> = mtime(&path);
    loop {
        tokio::time::sleep(every).await;
        let now = mtime(&path);
        if now == seen {
            continue;
        }
        seen = now;
        let model = model::load_scaled(&path, time_scale);
        if tx.send(Event::ModelReloaded { path: path.clone(), model }).await.is_err() {
            return;
        }
    }
}

/// Sends a shutdown on SIGINT or SIGTERM.
pub async fn signals(tx: Sender<Event>) {
    let reason = {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => tokio::select! {
                    _ = tokio::signal::ctrl_c() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                },
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    "SIGINT"
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupt"
        }
    };
    let _ = tx.send(Event::Shutdown(reason.to_string())).await;
}
