//! The acting side of the loop: after each cycle, bring what foresight
//! keeps in the orchestrator to what the mode asks (enforce the
//! candidate's decision, publish it as proposals, or let go of
//! everything), carry out operators' commands, and write every action to
//! the log before it is taken and its outcome after.

use super::Mode;
use super::api::{Board, Command, Proposal};
use super::gate::{GateConfig, Planned};
use super::ledger::Ledger;
use crate::adapter::{Action, ClusterView, Orchestrator, Phase};
use crate::clock::now_unix_s;
use crate::log::{Act, ActionRecord, AdviceRecord, Body, LogError, LogWriter, ModeRecord, OutcomeRecord, Verdict};
use crate::obs::Metrics;
use crate::obs::metrics::bump;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The acting side: its own handle on the orchestrator, the mode, and
/// what the log says foresight holds.
pub struct Actor<O> {
    adapter: O,
    cfg: GateConfig,
    mode: Mode,
    ledger: Ledger,
    board: Arc<Mutex<Board>>,
    cache: Option<PathBuf>,
    reconciled: bool,
    /// Proposals of advise mode, by job: when first proposed.
    proposed_at: HashMap<String, f64>,
    proposals: Vec<Proposal>,
}

fn action_of(p: &Planned) -> Action {
    let job_ids = p.job_ids.clone();
    match p.act {
        Act::Gate { lease_s } => Action::Gate { job_ids, lease_s },
        Act::Lift => Action::Lift { job_ids },
        Act::SiteFactor { value } => Action::SiteFactor { job_ids, value },
    }
}

fn append(writer: &mut LogWriter, metrics: &Metrics, body: Body) -> Result<(), LogError> {
    writer.append(now_unix_s(), body)?;
    metrics.update(|v| v.log_records += 1);
    Ok(())
}

impl<O: Orchestrator> Actor<O> {
    /// An actor in `mode` acting through `adapter`, resuming what `ledger`
    /// read from the log; it publishes on `board`, and writes the
    /// `job_submit.lua` cache to `cache` when given.
    pub fn new(
        adapter: O,
        cfg: GateConfig,
        mode: Mode,
        ledger: Ledger,
        board: Arc<Mutex<Board>>,
        cache: Option<PathBuf>,
    ) -> Self {
        let a = Self {
            adapter,
            cfg,
            mode,
            ledger,
            board,
            cache,
            reconciled: false,
            proposed_at: HashMap::new(),
            proposals: Vec::new(),
        };
        a.write_cache();
        a
    }

    /// The mode now.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Writes the cache `job_submit.lua` reads (atomically: a rename); a
    /// failure is logged and otherwise ignored (the lua then finds a stale
    /// or no cache and leaves jobs alone).
    fn write_cache(&self) {
        let Some(path) = &self.cache else { return };
        let text =
            format!("mode={}\nlease_s={}\nwritten_unix_s={}\n", self.mode, self.cfg.lease_s, now_unix_s().floor());
        let tmp = path.with_extension("tmp");
        if let Err(e) = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, path)) {
            tracing::warn!(error = %e, path = %path.display(), "job_submit cache not written");
        }
    }

    fn publish(&self, view: Option<&ClusterView>, metrics: &Metrics) {
        let open = view.map_or(0, |v| self.ledger.gates.open(v));
        let mut b = self.board.lock().unwrap_or_else(|e| e.into_inner());
        b.mode = self.mode;
        b.gates_open = open;
        b.proposals = self.proposals.clone();
        metrics.update(|v| {
            v.mode = self.mode.gauge();
            v.gates_open = open as i64;
        });
    }

    /// Logs, takes and logs the outcome of each planned action, in order.
    async fn carry_out(
        &mut self,
        plan: Vec<Planned>,
        why: &str,
        view: &ClusterView,
        writer: &mut LogWriter,
        metrics: &Metrics,
    ) -> Result<(), LogError> {
        let submitted: HashMap<&str, f64> = view.jobs.iter().map(|j| (j.job.job_id.as_str(), j.job.submit_s)).collect();
        for p in plan {
            let id = self.ledger.next_id;
            self.ledger.next_id += 1;
            let rec = ActionRecord { id, act: p.act, job_ids: p.job_ids.clone(), why: why.to_string() };
            append(writer, metrics, Body::Action(rec.clone()))?;
            let at = now_unix_s();
            let result = self.adapter.act(&action_of(&p)).await;
            let error = result.err().map(|e| e.to_string());
            let ok = error.is_none();
            if let Some(e) = &error {
                tracing::warn!(id, act = p.act.name(), error = %e, "action failed");
            }
            append(writer, metrics, Body::Outcome(OutcomeRecord { id, ok, error, reconciled: false }))?;
            self.ledger.note(&rec, at, ok);
            let done = now_unix_s();
            metrics.update(|v| {
                bump(if ok { &mut v.actions_taken } else { &mut v.actions_failed }, p.act.name());
                for j in &p.job_ids {
                    if ok
                        && self.ledger.decided.insert(j.clone())
                        && let Some(s) = submitted.get(j.as_str()).filter(|s| **s > 0.0)
                    {
                        v.decision_delay.observe((done - s).max(0.0));
                    }
                }
            });
        }
        Ok(())
    }

    /// Settles the actions a killed run left without an outcome, once, on
    /// the first observation.
    async fn reconcile(
        &mut self,
        view: &ClusterView,
        writer: &mut LogWriter,
        metrics: &Metrics,
    ) -> Result<(), LogError> {
        if self.reconciled {
            return Ok(());
        }
        let factors = match self.adapter.site_factors(&self.ledger.factor_jobs()).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read site factors to reconcile the log; trying again next cycle");
                return Ok(());
            }
        };
        for (a, ok) in self.ledger.reconcile(view, &factors) {
            tracing::info!(
                id = a.id,
                act = a.act.name(),
                ok,
                "reconciled an action the last run left without an outcome"
            );
            let error =
                (!ok).then(|| "not in effect in the orchestrator when the controller started again".to_string());
            append(writer, metrics, Body::Outcome(OutcomeRecord { id: a.id, ok, error, reconciled: true }))?;
        }
        self.reconciled = true;
        Ok(())
    }

    /// After a cycle on `view`: enforce `starts` (the candidate's, in its
    /// order, when `stands`), publish them as proposals, or let go,
    /// as the mode asks.
    pub async fn after_cycle(
        &mut self,
        view: &ClusterView,
        starts: &[String],
        stands: bool,
        writer: &mut LogWriter,
        metrics: &Metrics,
    ) -> Result<(), LogError> {
        self.reconcile(view, writer, metrics).await?;
        self.ledger.gates.forget_settled(view);
        self.write_cache();
        match self.mode {
            Mode::Enforce if stands => {
                let plan = self.ledger.gates.plan_enforce(view, starts, &self.cfg);
                self.carry_out(plan, "enforce", view, writer, metrics).await?;
            }
            Mode::Enforce => self.release(view, "fallback", writer, metrics).await?,
            Mode::Advise => {
                self.release(view, "advise", writer, metrics).await?;
                self.propose(view, if stands { starts } else { &[] }, writer, metrics)?;
            }
            Mode::Shadow => self.release(view, "shadow", writer, metrics).await?,
        }
        self.publish(Some(view), metrics);
        Ok(())
    }

    /// Lifts every gate and restores every site factor (but approved
    /// jobs' in advise mode) on the pending jobs of `view`.
    pub async fn release(
        &mut self,
        view: &ClusterView,
        why: &str,
        writer: &mut LogWriter,
        metrics: &Metrics,
    ) -> Result<(), LogError> {
        let keep: HashSet<String> =
            if self.mode == Mode::Advise { self.ledger.approved.clone() } else { HashSet::new() };
        let plan = self.ledger.gates.plan_release(view, &keep, &self.cfg);
        self.carry_out(plan, why, view, writer, metrics).await?;
        self.publish(Some(view), metrics);
        Ok(())
    }

    /// Lets go of everything at shutdown, on a fresh observation when one
    /// can be had (else on `last`), and tells `job_submit.lua` to stop
    /// gating.
    pub async fn shutdown(
        &mut self,
        last: Option<&ClusterView>,
        writer: &mut LogWriter,
        metrics: &Metrics,
    ) -> Result<(), LogError> {
        let was = std::mem::replace(&mut self.mode, Mode::Shadow);
        self.write_cache();
        // in shadow mode, holding nothing, there is nothing to let go: Slurm
        // is not asked again (it may be the reason for the stop)
        if was == Mode::Shadow && self.ledger.gates.iter().next().is_none() {
            return Ok(());
        }
        let fresh = self.adapter.observe().await.ok();
        if let Some(view) = fresh.as_ref().or(last) {
            self.release(view, "shutdown", writer, metrics).await?;
        }
        Ok(())
    }

    fn propose(
        &mut self,
        view: &ClusterView,
        starts: &[String],
        writer: &mut LogWriter,
        metrics: &Metrics,
    ) -> Result<(), LogError> {
        let now = view.at_unix_s;
        let pending: HashMap<&str, &crate::adapter::JobView> =
            view.in_phase(Phase::Pending).map(|j| (j.job.job_id.as_str(), j)).collect();
        self.proposals.clear();
        for id in starts {
            let Some(j) = pending.get(id.as_str()) else { continue };
            if !self.cfg.control.controls(j) || self.ledger.approved.contains(id) || self.ledger.overridden.contains(id)
            {
                continue;
            }
            if self.ledger.proposed.insert(id.clone()) {
                append(
                    writer,
                    metrics,
                    Body::Advice(AdviceRecord { job_id: id.clone(), verdict: Verdict::Proposed, by: None }),
                )?;
                let delay = (now_unix_s() - j.job.submit_s).max(0.0);
                metrics.update(|v| {
                    bump(&mut v.advice, "proposed");
                    if self.ledger.decided.insert(id.clone()) && j.job.submit_s > 0.0 {
                        v.decision_delay.observe(delay);
                    }
                });
            }
            let since = *self.proposed_at.entry(id.clone()).or_insert(now);
            self.proposals.push(Proposal {
                job_id: id.clone(),
                rank: self.proposals.len(),
                since_unix_s: since,
                submit_unix_s: j.job.submit_s,
            });
        }
        Ok(())
    }

    /// A change refused for want of a credential: logged and counted.
    pub fn refused(
        &self,
        by: &str,
        what: &str,
        why: &str,
        writer: &mut LogWriter,
        metrics: &Metrics,
    ) -> Result<(), LogError> {
        let to = what.strip_prefix("mode ").unwrap_or(what).to_string();
        let rec = ModeRecord {
            from: self.mode.to_string(),
            to,
            by: by.to_string(),
            accepted: false,
            reason: Some(why.to_string()),
        };
        append(writer, metrics, Body::Mode(rec))?;
        metrics.update(|v| v.refused += 1);
        Ok(())
    }

    /// Carries out an operator's command; the answer for the operator.
    pub async fn command(
        &mut self,
        by: &str,
        command: Command,
        last: Option<&ClusterView>,
        writer: &mut LogWriter,
        metrics: &Metrics,
    ) -> Result<Result<String, String>, LogError> {
        match command {
            Command::SetMode(to) => {
                let from = self.mode;
                if to == from {
                    return Ok(Ok(format!("already in {to} mode")));
                }
                append(
                    writer,
                    metrics,
                    Body::Mode(ModeRecord {
                        from: from.to_string(),
                        to: to.to_string(),
                        by: by.to_string(),
                        accepted: true,
                        reason: None,
                    }),
                )?;
                tracing::warn!(%from, %to, by, "mode switched");
                self.mode = to;
                self.proposals.clear();
                metrics.update(|v| v.mode_switches += 1);
                self.write_cache();
                if to != Mode::Enforce
                    && let Some(view) = last
                {
                    let mut view = view.clone();
                    view.at_unix_s = now_unix_s();
                    self.release(&view, "mode", writer, metrics).await?;
                }
                self.publish(last, metrics);
                Ok(Ok(format!("{from} -> {to}")))
            }
            Command::Approve(job) | Command::Override(job) if !self.proposals.iter().any(|p| p.job_id == job) => {
                Ok(Err(format!("job {job} has no proposal waiting (mode {})", self.mode)))
            }
            Command::Approve(job) => {
                append(
                    writer,
                    metrics,
                    Body::Advice(AdviceRecord {
                        job_id: job.clone(),
                        verdict: Verdict::Approved,
                        by: Some(by.to_string()),
                    }),
                )?;
                metrics.update(|v| bump(&mut v.advice, "approved"));
                self.ledger.approved.insert(job.clone());
                self.proposals.retain(|p| p.job_id != job);
                let mut plan = vec![Planned {
                    act: Act::SiteFactor { value: self.cfg.top_site_factor },
                    job_ids: vec![job.clone()],
                }];
                if let Some(view) = last
                    && view.jobs.iter().any(|j| j.job.job_id == job && self.ledger.gates.gated(j, now_unix_s()))
                {
                    plan.push(Planned { act: Act::Lift, job_ids: vec![job.clone()] });
                }
                let empty = ClusterView::default();
                self.carry_out(plan, "approved", last.unwrap_or(&empty), writer, metrics).await?;
                self.publish(last, metrics);
                Ok(Ok(format!("job {job}: approved and carried out")))
            }
            Command::Override(job) => {
                append(
                    writer,
                    metrics,
                    Body::Advice(AdviceRecord {
                        job_id: job.clone(),
                        verdict: Verdict::Overridden,
                        by: Some(by.to_string()),
                    }),
                )?;
                metrics.update(|v| bump(&mut v.advice, "overridden"));
                self.ledger.overridden.insert(job.clone());
                self.proposals.retain(|p| p.job_id != job);
                self.publish(last, metrics);
                Ok(Ok(format!("job {job}: overridden; Slurm's own order stands")))
            }
        }
    }
}
