//! The predicted start of a job at its submission: each pool's free
//! capacity as a step function of time (core's `Profile`, as conservative
//! backfilling builds it): its live workers' room, freed as its leased jobs
//! end at their predicted runtimes, with its queued jobs reserved in queue
//! order; each job submitted since is reserved in turn. This is the model
//! cost-aware placement uses (`Dispatcher::predicted_start`), kept between
//! submits so that a group of submits reads the pool once: a pool's
//! profile is built again after any change of a job (a lease, an end, a
//! retry, a cancel) and when it is older than [`FORECAST_TTL_MS`] (workers
//! come and go without a change of a job).

use super::Queue;
use crate::store::{JobFilter, JobRow, JobState, NewJob, Store, StoreError};
use foresight_core::Resources;
use foresight_core::policy::Profile;
use std::collections::HashMap;

/// The reserved label that keeps a job's predicted start at submission,
/// Unix ms.
pub const PREDICTED_START_LABEL: &str = "foresight/predicted-start-ms";

/// How long a pool's profile is used before it is built again, ms.
pub const FORECAST_TTL_MS: i64 = 1_000;

/// The most queued jobs a pool's profile reserves: past it a submit gets
/// no predicted start (each reservation splits the profile, and deeper
/// queues would make each build quadratic).
pub const FORECAST_QUEUE_MAX: usize = 2_000;

/// One pool's profile.
#[derive(Debug, Clone)]
struct PoolForecast {
    built_ms: i64,
    profile: Profile,
    /// The live workers' capacities (GPU type with each).
    shapes: Vec<(Resources, String)>,
}

/// Every pool's profile, as last built.
#[derive(Debug, Clone, Default)]
pub(super) struct Forecasts {
    pools: HashMap<String, PoolForecast>,
}

impl Forecasts {
    /// Forgets every profile (after a change of a job).
    pub(super) fn forget(&mut self) {
        self.pools.clear();
    }
}

fn demand(j: &NewJob) -> Resources {
    Resources::new(j.demand.cpus, j.demand.gpus, j.demand.memory_mb)
}

/// A job's predicted start at submission, Unix ms, when it was given one.
pub fn predicted_start_ms(j: &NewJob) -> Option<i64> {
    j.labels.get(PREDICTED_START_LABEL).and_then(|v| v.parse().ok())
}

impl<S: Store> Queue<S> {
    /// Builds pool `pool`'s profile at `now_ms` from the store: `None`
    /// when the pool has no live worker (nothing more is read) or more
    /// than [`FORECAST_QUEUE_MAX`] queued jobs.
    fn build_forecast(&self, pool: &str, now_ms: i64) -> Result<Option<PoolForecast>, StoreError> {
        let workers = self.store.workers(pool, now_ms - self.cfg.lease_ttl_ms)?;
        if workers.is_empty() {
            return Ok(None);
        }
        let all = |state, limit| JobFilter {
            states: vec![state],
            pool: Some(pool.to_string()),
            limit,
            ..JobFilter::default()
        };
        let queued: Vec<JobRow> = self.store.list(&all(JobState::Queued, FORECAST_QUEUE_MAX as u32 + 1))?;
        if queued.len() > FORECAST_QUEUE_MAX {
            return Ok(None);
        }
        let leased = self.store.list(&all(JobState::Leased, u32::MAX))?;
        let shapes: Vec<(Resources, String)> = workers
            .iter()
            .map(|w| {
                (Resources::new(w.capacity.cpus, w.capacity.gpus, w.capacity.memory_mb), w.capacity.gpu_type.clone())
            })
            .collect();
        let total = shapes.iter().fold(Resources::default(), |t, s| t.saturating_add(&s.0));
        let now = now_ms as f64 / 1000.0;
        let mut used = Resources::default();
        let mut releases: Vec<(f64, Resources)> = Vec::new();
        for l in &leased {
            used = used.saturating_add(&demand(&l.spec));
            releases.push((l.started_at_ms as f64 / 1000.0 + l.spec.predicted_runtime_s, demand(&l.spec)));
        }
        releases.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut profile = Profile::default();
        profile.rebuild(now, total.saturating_sub(&used), releases);
        for q in &queued {
            let need = demand(&q.spec);
            if let Some(s) = profile.earliest(&need, q.spec.predicted_runtime_s) {
                profile.reserve(s, q.spec.predicted_runtime_s, &need);
            }
        }
        Ok(Some(PoolForecast { built_ms: now_ms, profile, shapes }))
    }

    /// Predicts `job`'s start in its pool (after its runtime was
    /// predicted) and keeps it in its reserved label; reserves it in the
    /// pool's profile, so that the next submit starts after it. No label
    /// when no live worker of the pool could run it.
    pub(super) fn predict_start(&mut self, job: &mut NewJob) -> Result<(), StoreError> {
        let now_ms = job.submitted_at_ms;
        let fresh = self.side.forecasts.pools.get(&job.pool).is_some_and(|f| now_ms - f.built_ms < FORECAST_TTL_MS);
        if !fresh {
            // without one, the pool is asked again after the same time
            let f = self.build_forecast(&job.pool, now_ms)?;
            let f = f.unwrap_or(PoolForecast { built_ms: now_ms, profile: Profile::default(), shapes: Vec::new() });
            self.side.forecasts.pools.insert(job.pool.clone(), f);
        }
        let Some(f) = self.side.forecasts.pools.get_mut(&job.pool) else { return Ok(()) };
        let need = demand(job);
        let gpu_type = &job.demand.gpu_type;
        if !f.shapes.iter().any(|(cap, t)| need.fits_in(cap) && (gpu_type.is_empty() || gpu_type == t)) {
            return Ok(());
        }
        let est = job.predicted_runtime_s;
        let Some(start) = f.profile.earliest(&need, est) else { return Ok(()) };
        f.profile.reserve(start, est, &need);
        let start_ms = ((start * 1000.0).round() as i64).max(now_ms);
        job.labels.insert(PREDICTED_START_LABEL.to_string(), start_ms.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Caller, Role};
    use crate::dispatch::Dispatcher;
    use crate::queue::QueueConfig;
    use crate::store::{Demand, SqliteStore, WorkerRow};
    use foresight_core::predictor::PredictorKind;

    fn job(key: &str, deadline_ms: Option<i64>, at_ms: i64) -> NewJob {
        let mut labels = std::collections::BTreeMap::new();
        if let Some(d) = deadline_ms {
            labels.insert(crate::convert::DEADLINE_LABEL.to_string(), d.to_string());
        }
        NewJob {
            idempotency_key: key.into(),
            pool: "p".into(),
            demand: Demand { cpus: 1, ..Demand::default() },
            time_limit_s: 60.0,
            labels,
            max_attempts: 1,
            submitted_at_ms: at_ms,
            ..NewJob::default()
        }
    }

    #[test]
    fn the_predicted_start_waits_for_the_leased_and_queued_jobs_ahead_and_sets_the_slack() {
        let cfg = QueueConfig { lease_ttl_ms: 600_000, ..QueueConfig::default() };
        let d = Dispatcher::new("fcfs".parse().unwrap(), Some(PredictorKind::Requested));
        let mut q = Queue::new(SqliteStore::in_memory().unwrap(), d, cfg);
        let (a, w) =
            (Caller { tenant: "a".into(), role: Role::Submitter }, Caller { tenant: "w".into(), role: Role::Worker });
        let (j1, _) = q.submit(&a, job("1", None, 0)).unwrap();
        assert_eq!(predicted_start_ms(&j1.spec), None, "no live worker: no prediction");
        let offer = WorkerRow {
            id: "w1".into(),
            pool: "p".into(),
            capacity: Demand { cpus: 1, ..Demand::default() },
            seen_at_ms: 0,
        };
        assert_eq!(q.lease(&w, offer, 0).unwrap().len(), 1);
        // j1 holds the worker's one CPU for a predicted 60 s; j2 waits for it, j3 for both
        let (j2, _) = q.submit(&a, job("2", Some(100_000), 1_000)).unwrap();
        let (j3, _) = q.submit(&a, job("3", None, 1_000)).unwrap();
        assert_eq!((predicted_start_ms(&j2.spec), predicted_start_ms(&j3.spec)), (Some(60_000), Some(120_000)));
        // slack from the predicted start: 100 - 60 - 60 s, not 100 - 1 - 60 s from now
        let p = crate::convert::job_to_pb_at(&j2, 1_000);
        assert_eq!((p.slack_s, p.deadline_at_risk, p.predicted_start_ms), (Some(-20.0), true, Some(60_000)));
        // once the start has passed, from now
        assert_eq!(crate::convert::job_to_pb_at(&j2, 70_000).slack_s, Some(-30.0));
        // an end is a change: the profile is built again (j2 and j3 reserved from now)
        q.complete(&w, "w1", j1.id, 1, 0, 2_000).unwrap();
        let (j4, _) = q.submit(&a, job("4", None, 2_000)).unwrap();
        assert_eq!(predicted_start_ms(&j4.spec), Some(122_000));
    }
}
