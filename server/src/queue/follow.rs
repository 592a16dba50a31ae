//! The queue's side of the dispatcher's kept runtimes
//! (`crate::dispatch::cache`): following the store's event log, building a
//! pool's runtime from the store, and leasing from it.

use super::{Queue, QueueError};
use crate::dispatch::Dispatcher;
use crate::store::{JobFilter, JobRow, JobState, Store, WorkerRow};

/// How many events one read of the log takes.
const PAGE: u32 = 1000;

impl<S: Store> Queue<S> {
    /// Brings the dispatcher's kept runtimes up to the store: every job
    /// changed since the last event followed is read as the store holds it
    /// now and handed to the dispatcher. Whatever fails drops the cache
    /// (built anew from the store at the next call).
    pub(super) fn follow(&mut self, now_ms: i64) -> Result<(), QueueError> {
        let r = self.follow_log(now_ms);
        if r.is_err() {
            self.dispatcher.cache_drop();
        }
        r
    }

    fn follow_log(&mut self, now_ms: i64) -> Result<(), QueueError> {
        let Some(mut seen) = self.dispatcher.cache_seen() else {
            // nothing kept: follow from the log's end; pools are built from
            // the rows when asked
            let last = self.store.last_event_id()?;
            self.dispatcher.cache_follow(last);
            return Ok(());
        };
        loop {
            let events = self.store.events_after(seen, None, None, PAGE)?;
            let Some(last) = events.last().map(|e| e.id) else { return Ok(()) };
            if self.dispatcher.cache_holds_pools() {
                let mut ids: Vec<u64> = events.iter().map(|e| e.job_id).collect();
                ids.sort_unstable();
                ids.dedup();
                let mut rows: Vec<(u64, Option<JobRow>)> = Vec::with_capacity(ids.len());
                for id in ids {
                    rows.push((id, self.store.get(id)?));
                }
                // every changed job out first, then in: a worker whose job
                // ended and that took another in the same batch has room
                let mut kept =
                    rows.iter().try_for_each(|(id, row)| self.dispatcher.cache_untrack(*id, row.as_ref(), now_ms));
                if kept.is_ok() {
                    kept = rows.iter().flat_map(|(_, r)| r).try_for_each(|j| self.dispatcher.cache_add(j, now_ms));
                }
                if kept.is_err() {
                    // built anew from the store when next asked
                    self.dispatcher.cache_drop();
                    self.dispatcher.cache_follow(self.store.last_event_id()?);
                    return Ok(());
                }
            }
            seen = last;
            self.dispatcher.cache_follow(seen);
            if events.len() < PAGE as usize {
                return Ok(());
            }
        }
    }

    /// The jobs the policy starts on worker `asking` now, decided on its
    /// pool's kept runtime (built from the store first if need be), read
    /// back from the store in id order; `None` where the decision must be
    /// made from the rows (governance terms in play, a pool the cache
    /// cannot keep).
    pub(super) fn place_kept(
        &mut self,
        asking: &str,
        pool: &str,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<Option<Vec<JobRow>>, QueueError> {
        if !self.dispatcher.cache_fits_live(pool, since_ms) {
            let workers = self.pool_live_workers(pool, since_ms)?;
            if workers.is_empty() {
                return Ok(None);
            }
            let (leased, queued) = self.pool_rows(pool)?;
            if self.dispatcher.cache_build(&workers, &leased, &queued, now_ms).is_err() {
                return Ok(None);
            }
        }
        let ids = match self.dispatcher.place_cached(pool, asking, now_ms) {
            Ok(Some(ids)) => ids,
            Ok(None) => return Ok(None),
            Err(_) => {
                self.dispatcher.cache_drop();
                return Ok(None);
            }
        };
        let mut granted = Vec::with_capacity(ids.len());
        for id in ids {
            match self.store.get(id)? {
                Some(j) if j.state == JobState::Queued && j.spec.pool == pool && j.not_before_ms <= now_ms => {
                    granted.push(j)
                }
                // the cache and the store disagree: the store is right
                _ => {
                    self.dispatcher.cache_drop();
                    return Ok(None);
                }
            }
        }
        granted.sort_by_key(|j| j.id);
        Ok(Some(granted))
    }

    /// The dispatcher.
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// Worker `offer` was just recorded in the store: the dispatcher's
    /// copy of its pool's workers is updated in place, or read anew from
    /// the store when the worker is new to it (so that the copy keeps the
    /// store's order, the runtime's node order).
    pub(super) fn keep_worker(&mut self, offer: &WorkerRow) -> Result<(), QueueError> {
        if !self.dispatcher.cache_worker_seen(offer) {
            let all = self.store.workers(&offer.pool, i64::MIN)?;
            self.dispatcher.cache_set_workers(&offer.pool, all);
        }
        Ok(())
    }

    /// The workers of `pool` seen at or after `since_ms`, by id: from the
    /// dispatcher's copy, or the store.
    pub(super) fn pool_live_workers(&self, pool: &str, since_ms: i64) -> Result<Vec<WorkerRow>, QueueError> {
        match self.dispatcher.cache_live_workers(pool, since_ms) {
            Some(w) => Ok(w),
            None => Ok(self.store.workers(pool, since_ms)?),
        }
    }

    /// Whether the dispatcher's copy of `pool`'s workers seen at or after
    /// `since_ms`, if it keeps one, is what the store holds (for tests).
    #[doc(hidden)]
    pub fn workers_kept_match_the_store(&self, pool: &str, since_ms: i64) -> Result<bool, QueueError> {
        Ok(match self.dispatcher.cache_live_workers(pool, since_ms) {
            Some(kept) => kept == self.store.workers(pool, since_ms)?,
            None => true,
        })
    }

    /// Every leased and every queued job of `pool`, by id.
    pub(super) fn pool_rows(&self, pool: &str) -> Result<(Vec<JobRow>, Vec<JobRow>), QueueError> {
        let all = |state| JobFilter {
            states: vec![state],
            pool: Some(pool.to_string()),
            limit: u32::MAX,
            ..JobFilter::default()
        };
        Ok((self.store.list(&all(JobState::Leased))?, self.store.list(&all(JobState::Queued))?))
    }

    /// Whether this replica is the active dispatcher; on becoming it, the
    /// dispatcher's kept runtimes are dropped (built anew from the store).
    pub(super) fn leads(&mut self) -> Result<bool, QueueError> {
        let lead = self.store.lead()?;
        if lead && !self.leading {
            self.dispatcher.cache_drop();
        }
        self.leading = lead;
        Ok(lead)
    }

    /// The whole decision for pool `pool` of its kept runtime and of one
    /// built anew from the store's rows, at `now_ms` (after following the
    /// log): equal while the cache holds its invariant. `None` for the
    /// kept one when the pool cannot be kept.
    #[doc(hidden)]
    pub fn decisions_kept_and_rebuilt(
        &mut self,
        pool: &str,
        now_ms: i64,
    ) -> Result<(Option<Option<foresight_core::policy::Decision>>, Option<foresight_core::policy::Decision>), QueueError>
    {
        self.follow(now_ms)?;
        let workers = self.store.workers(pool, now_ms - self.cfg.lease_ttl_ms)?;
        let (leased, queued) = self.pool_rows(pool)?;
        let rebuilt = self.dispatcher.decision_rebuilt(&workers, &leased, &queued, now_ms);
        if workers.is_empty() {
            return Ok((None, rebuilt));
        }
        if !self.dispatcher.cache_fits(pool, &workers)
            && self.dispatcher.cache_build(&workers, &leased, &queued, now_ms).is_err()
        {
            return Ok((None, rebuilt));
        }
        let kept = self.dispatcher.decision_cached(pool, now_ms).ok();
        Ok((kept, rebuilt))
    }
}
