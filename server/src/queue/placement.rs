//! Cost-aware placement: the pool a job names among several is chosen once,
//! at submission, by price and predicted start (the choice is core's
//! `cheapest_meeting`).

use super::{Queue, QueueError};
use crate::dispatch::Dispatcher;
use crate::store::{JobFilter, JobState, NewJob, Store};

impl<S: Store> Queue<S> {
    /// Cost-aware placement: puts `job` in the cheapest of `pools`
    /// (comma-separated; `*` every priced pool) whose predicted start plus
    /// predicted runtime meets its deadline (core's `cheapest_meeting`),
    /// and keeps why in its placement label. A pool without a price costs
    /// nothing.
    pub(super) fn choose_pool(&mut self, job: &mut NewJob, pools: &str) -> Result<(), QueueError> {
        use foresight_core::policy::{CostChoice, PoolOffer, cheapest_meeting};
        let mut names: Vec<String> = pools.split(',').map(str::to_string).collect();
        if names.iter().any(|p| p == "*") {
            names = self.dispatcher.prices().keys().cloned().collect();
        }
        let now_ms = job.submitted_at_ms;
        let mut offers = Vec::new();
        for pool in &names {
            let workers = self.store.workers(pool, now_ms - self.cfg.lease_ttl_ms)?;
            let all = |state| JobFilter {
                states: vec![state],
                pool: Some(pool.clone()),
                limit: u32::MAX,
                ..JobFilter::default()
            };
            let leased = self.store.list(&all(JobState::Leased))?;
            let queued = self.store.list(&all(JobState::Queued))?;
            let there = NewJob { pool: pool.clone(), ..job.clone() };
            let (est, _) = self.dispatcher.estimate(&there);
            let start = Dispatcher::predicted_start(&workers, &leased, &queued, &there, est, now_ms);
            let price = self.dispatcher.prices().get(pool).copied().unwrap_or(0.0);
            offers.push(PoolOffer { price_per_hour: price, start_s: start, runtime_s: est });
        }
        let deadline = crate::convert::deadline_ms(job).map(|d| d as f64 / 1000.0);
        let Some((i, why)) = cheapest_meeting(deadline, &offers) else {
            return Err(QueueError::invalid("pools", format!("no live worker in `{pools}` could run it")));
        };
        let o = offers[i];
        let start_in = o.start_s.unwrap_or(0.0) - now_ms as f64 / 1000.0;
        let why = match why {
            CostChoice::MeetsDeadline => "the cheapest that meets the deadline",
            CostChoice::Cheapest => "the cheapest (no deadline)",
            CostChoice::NoneMeetsDeadline => "none meets the deadline: the earliest end",
        };
        let mut reason = format!(
            "pool `{}`: {why}; {:.2}/h, start in {start_in:.0} s, runtime {:.0} s (of {} pools)",
            names[i],
            o.price_per_hour,
            o.runtime_s,
            names.len()
        );
        reason.truncate(crate::convert::NAME_MAX);
        job.pool = names[i].clone();
        job.labels.insert(crate::convert::PLACEMENT_LABEL.to_string(), reason);
        Ok(())
    }
}
