//! Each pool's runtime kept between `Lease` calls, so that a call does the
//! policy's decision and not the rebuilding of the runtime from every row
//! of the pool.
//!
//! The store stays the state of record. The queue follows the store's
//! event log (every change of a job writes an event, in commit order, on
//! every replica) and hands the dispatcher each changed job's row as the
//! store has it now ([`Dispatcher::cache_track`]); the kept runtime is
//! changed to match: a queued job past its backoff is pending, a leased
//! job runs on its worker from its start, any other leaves. A pool's
//! runtime is built from the store's rows when first needed, when its live
//! workers change (they are the runtime's nodes), and after anything the
//! cache cannot follow exactly (an error of the runtime, a worker holding
//! more than it offers): then every pool's runtime is dropped and built
//! anew. The queue drops them too when this replica becomes the active
//! dispatcher.
//!
//! The invariant, which a property test checks after random sequences of
//! changes: the kept runtime decides exactly as one built anew from the
//! store would (the same starts on the same nodes, the same wake-up). It
//! rests on what the runtime holds being a function of the rows: pending
//! jobs in key order, running jobs by expected end and key, corrections
//! (pure functions of the job and its elapsed time for the core
//! predictors) made lazily up to the decision; and fair-share usage, the
//! pool's ledger with the tenants of the jobs held registered in it, set
//! before each decision.
//!
//! Decisions that involve governance terms (a tainted worker, a queued job
//! with terms) or GPU budgets are made by [`Dispatcher::place`] from the
//! rows, as before: the cache is kept meanwhile but not asked.

use super::{Dispatcher, Observed, PoolRuntime, WorkerRow, could_run, fits_now, shapes_of, starts_on};
use crate::governance::has_terms;
use crate::store::{Demand, JobRow, JobState};
use foresight_core::policy::Decision;
use foresight_core::runtime::Alloc;
use foresight_core::state::JobInfo;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Why the cache cannot be trusted (it is then dropped and built anew).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the dispatcher's cache cannot follow: {0}")]
pub struct Untrusted(pub String);

/// What of a job's row the kept runtime depends on: a row whose signature
/// did not change needs nothing.
#[derive(Debug, Clone, PartialEq)]
struct Sig {
    state: JobState,
    worker: String,
    started_at_ms: i64,
    not_before_ms: i64,
    attempts: u32,
    estimate_bits: u64,
}

impl Sig {
    fn of(j: &JobRow) -> Self {
        Self {
            state: j.state,
            worker: j.worker_id.clone(),
            started_at_ms: j.started_at_ms,
            not_before_ms: j.not_before_ms,
            attempts: j.attempts,
            estimate_bits: j.spec.predicted_runtime_s.to_bits(),
        }
    }
}

/// Where a job of the pool is in the kept runtime.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    /// Queued past its backoff: pending.
    Pending,
    /// Leased to a live worker: running on it.
    Running,
    /// Queued in its backoff, until the time (ms): out of the runtime.
    Sleeping(i64),
    /// Queued past its backoff, but no live worker could ever run it.
    Barred,
    /// Leased to a worker that is not live: out of the runtime, as a
    /// runtime built anew leaves it out.
    Skipped,
}

#[derive(Debug, Clone)]
struct Entry {
    sig: Sig,
    place: Place,
    info: JobInfo,
    ask: Demand,
    termed: bool,
    deadline_ms: Option<i64>,
    queued: bool,
}

/// One pool's kept runtime.
pub(crate) struct PoolCache {
    rt: PoolRuntime,
    /// The live workers it was built on (id and capacity, in id order).
    workers: Vec<(String, Demand)>,
    rows: Vec<WorkerRow>,
    node_of: HashMap<String, u32>,
    jobs: HashMap<u64, Entry>,
    sleeping: BTreeSet<(i64, u64)>,
    /// The jobs in the runtime by tenant (user and group ids), registered
    /// in the fair-share ledger before each decision, as a runtime built
    /// anew registers them.
    members: BTreeMap<(u32, u32), usize>,
    /// Queued jobs with governance terms.
    termed: usize,
}

/// Every pool's kept runtime and the event read up to.
#[derive(Default)]
pub(crate) struct Cache {
    /// The last event followed; `None`: not following (the first call
    /// reads where the log ends).
    seen: Option<u64>,
    pools: HashMap<String, PoolCache>,
    /// Each pool's workers as the store holds them (any `seen_at_ms`), in
    /// the store's order, with each one's place: the active dispatcher is
    /// the only writer of the workers, so its copy stays exact.
    workers: HashMap<String, (Vec<WorkerRow>, HashMap<String, usize>)>,
}

/// How often pools' runtimes were built from the rows and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Pools' runtimes built from the store's rows.
    pub builds: u64,
    /// Times every kept runtime was dropped (an error, a new dispatcher).
    pub drops: u64,
}

/// Whether a job asking `ask` could ever run on a worker offering `cap`
/// (as `could_run`).
fn runs_on(ask: &Demand, cap: &Demand) -> bool {
    let need = foresight_core::Resources::new(ask.cpus, ask.gpus, ask.memory_mb);
    let room = foresight_core::Resources::new(cap.cpus, cap.gpus, cap.memory_mb);
    need.fits_in(&room) && (ask.gpu_type.is_empty() || ask.gpu_type == cap.gpu_type)
}

fn same_workers(kept: &[(String, Demand)], live: &[WorkerRow]) -> bool {
    kept.len() == live.len() && kept.iter().zip(live).all(|((id, cap), w)| *id == w.id && *cap == w.capacity)
}

impl Dispatcher {
    /// The last event of the store's log the cache has followed, `None`
    /// when it follows none yet.
    pub fn cache_seen(&self) -> Option<u64> {
        self.cache.seen
    }

    /// The cache has followed the log up to event `id`.
    pub fn cache_follow(&mut self, id: u64) {
        self.cache.seen = Some(id);
    }

    /// Whether any pool's runtime is kept (else the log's jobs need not be
    /// read).
    pub fn cache_holds_pools(&self) -> bool {
        !self.cache.pools.is_empty()
    }

    /// Drops every kept runtime and stops following the log: the next
    /// `Lease` reads where the log ends and builds its pool anew.
    pub fn cache_drop(&mut self) {
        if self.cache.seen.is_some() {
            self.cache_stats.drops += 1;
        }
        self.cache = Cache::default();
    }

    /// How often pools' runtimes were built and dropped.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache_stats
    }

    /// Worker `offer` was recorded in the store: true when the copy of its
    /// pool's workers knew it (now updated); false when the copy must be
    /// read anew (none kept, or a worker new to it; a worker that moved
    /// from another pool drops that pool's copy).
    pub fn cache_worker_seen(&mut self, offer: &WorkerRow) -> bool {
        let moved: Vec<String> = self
            .cache
            .workers
            .iter()
            .filter(|(pool, (_, at))| **pool != offer.pool && at.contains_key(&offer.id))
            .map(|(pool, _)| pool.clone())
            .collect();
        for pool in moved {
            self.cache.workers.remove(&pool);
        }
        let Some((rows, at)) = self.cache.workers.get_mut(&offer.pool) else { return false };
        let Some(&i) = at.get(&offer.id) else { return false };
        rows[i].clone_from(offer);
        true
    }

    /// The workers of `pool` as the store holds them now, in its order.
    pub fn cache_set_workers(&mut self, pool: &str, rows: Vec<WorkerRow>) {
        let at = rows.iter().enumerate().map(|(i, w)| (w.id.clone(), i)).collect();
        self.cache.workers.insert(pool.to_string(), (rows, at));
    }

    /// The workers of `pool` seen at or after `since_ms` (the store's
    /// `workers`), when the copy is kept.
    pub fn cache_live_workers(&self, pool: &str, since_ms: i64) -> Option<Vec<WorkerRow>> {
        let (rows, _) = self.cache.workers.get(pool)?;
        Some(rows.iter().filter(|w| w.seen_at_ms >= since_ms).cloned().collect())
    }

    /// Whether pool `pool`'s runtime is kept and built on its workers seen
    /// at or after `since_ms`, as the copy of its workers has them.
    pub fn cache_fits_live(&self, pool: &str, since_ms: i64) -> bool {
        let (Some(kept), Some((rows, _))) = (self.cache.pools.get(pool), self.cache.workers.get(pool)) else {
            return false;
        };
        let mut live = rows.iter().filter(|w| w.seen_at_ms >= since_ms);
        kept.workers.iter().all(|(id, cap)| live.next().is_some_and(|w| w.id == *id && w.capacity == *cap))
            && live.next().is_none()
    }

    /// Whether pool `pool`'s runtime is kept, built on these live `workers`.
    pub fn cache_fits(&self, pool: &str, workers: &[WorkerRow]) -> bool {
        self.cache.pools.get(pool).is_some_and(|p| same_workers(&p.workers, workers))
    }

    /// Builds the runtime of `workers`' pool from its `leased` and `queued`
    /// rows (all of them) and keeps it. `Untrusted` (nothing kept) where a
    /// leased job holds more than its worker offers: such a pool is
    /// decided from the rows.
    pub fn cache_build(
        &mut self,
        workers: &[WorkerRow],
        leased: &[JobRow],
        queued: &[JobRow],
        now_ms: i64,
    ) -> Result<(), Untrusted> {
        let Some(first) = workers.first() else { return Err(Untrusted("a pool without live workers".into())) };
        let pool = first.pool.clone();
        self.cache.pools.remove(&pool);
        let shapes: Vec<WorkerRow> = shapes_of(workers).into_iter().cloned().collect();
        let barred: std::collections::HashSet<u64> =
            queued.iter().filter(|j| !shapes.iter().any(|w| could_run(w, &j.spec))).map(|j| j.id).collect();
        let (rt, _, clamped) = self.build(workers, leased, queued, now_ms, &barred);
        self.cache_stats.builds += 1;
        if clamped {
            return Err(Untrusted(format!("pool `{pool}`: a worker holds more than it offers")));
        }
        let node_of: HashMap<String, u32> = workers.iter().enumerate().map(|(i, w)| (w.id.clone(), i as u32)).collect();
        let mut cache = PoolCache {
            rt,
            workers: workers.iter().map(|w| (w.id.clone(), w.capacity.clone())).collect(),
            rows: workers.to_vec(),
            node_of,
            jobs: HashMap::with_capacity(leased.len() + queued.len()),
            sleeping: BTreeSet::new(),
            members: BTreeMap::new(),
            termed: 0,
        };
        for j in leased.iter().chain(queued) {
            let mut e = self.entry(j);
            e.place = if j.state == JobState::Leased {
                if cache.node_of.contains_key(&j.worker_id) { Place::Running } else { Place::Skipped }
            } else if j.not_before_ms > now_ms {
                cache.sleeping.insert((j.not_before_ms, j.id));
                Place::Sleeping(j.not_before_ms)
            } else if barred.contains(&j.id) {
                Place::Barred
            } else {
                Place::Pending
            };
            self.note(&mut cache, j.id, &e, true);
            cache.jobs.insert(j.id, e);
        }
        self.cache.pools.insert(pool, cache);
        Ok(())
    }

    fn entry(&mut self, j: &JobRow) -> Entry {
        let info = self.info(j.id, &j.spec);
        Entry {
            sig: Sig::of(j),
            place: Place::Skipped,
            info,
            ask: j.spec.demand.clone(),
            termed: has_terms(&j.spec.labels),
            deadline_ms: crate::convert::deadline_ms(&j.spec),
            queued: j.state == JobState::Queued,
        }
    }

    /// Counts entry `e` of job `id` in (`add`) or out of the pool's
    /// bookkeeping: members, terms, wait reasons.
    fn note(&mut self, cache: &mut PoolCache, id: u64, e: &Entry, add: bool) {
        if matches!(e.place, Place::Pending | Place::Running) {
            let users = (e.info.user, e.info.group);
            let n = cache.members.entry(users).or_insert(0);
            if add {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    cache.members.remove(&users);
                }
            }
        }
        if e.queued && e.termed {
            if add {
                cache.termed += 1;
            } else {
                cache.termed = cache.termed.saturating_sub(1);
            }
        }
        if add && e.place == Place::Barred {
            self.waiting.insert(id, "no live worker has the room or GPU type it asks for".into());
        } else {
            self.waiting.remove(&id);
        }
    }

    /// Job `id` changed: `row` is what the store holds now (`None`: purged).
    /// The pool's kept runtime, if any, is changed to match. `Untrusted`:
    /// drop the cache.
    pub fn cache_track(&mut self, id: u64, row: Option<&JobRow>, now_ms: i64) -> Result<(), Untrusted> {
        self.cache_untrack(id, row, now_ms)?;
        match row {
            Some(j) => self.cache_add(j, now_ms),
            None => Ok(()),
        }
    }

    /// The first half of [`Dispatcher::cache_track`]: takes job `id` out of
    /// its pool's runtime unless `row` leaves it where it is. Taking every
    /// changed job out before putting any in keeps a worker from looking
    /// full with a job that ended in the same batch.
    pub fn cache_untrack(&mut self, id: u64, row: Option<&JobRow>, now_ms: i64) -> Result<(), Untrusted> {
        let pool = match row {
            Some(j) => j.spec.pool.as_str(),
            None => match self.cache.pools.iter().find(|(_, p)| p.jobs.contains_key(&id)) {
                Some((name, _)) => name.as_str(),
                None => return Ok(()),
            },
        }
        .to_string();
        let Some(mut cache) = self.cache.pools.remove(&pool) else { return Ok(()) };
        let result = self.untrack_in(&mut cache, id, row, now_ms);
        self.cache.pools.insert(pool, cache);
        result
    }

    fn untrack_in(
        &mut self,
        cache: &mut PoolCache,
        id: u64,
        row: Option<&JobRow>,
        now_ms: i64,
    ) -> Result<(), Untrusted> {
        let Some(old) = cache.jobs.get(&id) else { return Ok(()) };
        if row.is_some_and(|j| Sig::of(j) == old.sig) {
            return Ok(());
        }
        let old = cache.jobs.remove(&id).expect("just found");
        self.note(cache, id, &old, false);
        let now_s = now_ms as f64 / 1000.0;
        match old.place {
            Place::Pending => {
                cache.rt.withdraw(old.info.key).map_err(|e| Untrusted(format!("job {id}: {e}")))?;
            }
            Place::Running => {
                cache
                    .rt
                    .interrupt(old.info.key, now_s, false, &Observed)
                    .map_err(|e| Untrusted(format!("job {id}: {e}")))?;
            }
            Place::Sleeping(t) => {
                cache.sleeping.remove(&(t, id));
            }
            Place::Barred | Place::Skipped => {}
        }
        Ok(())
    }

    /// The second half of [`Dispatcher::cache_track`]: puts job `j` (as the
    /// store holds it now) in its pool's runtime, if the pool's is kept
    /// and the job is not there already.
    pub fn cache_add(&mut self, j: &JobRow, now_ms: i64) -> Result<(), Untrusted> {
        if !matches!(j.state, JobState::Queued | JobState::Leased) {
            return Ok(());
        }
        let Some(mut cache) = self.cache.pools.remove(&j.spec.pool) else { return Ok(()) };
        let result = if cache.jobs.contains_key(&j.id) { Ok(()) } else { self.add_in(&mut cache, j, now_ms) };
        self.cache.pools.insert(j.spec.pool.clone(), cache);
        result
    }

    fn add_in(&mut self, cache: &mut PoolCache, j: &JobRow, now_ms: i64) -> Result<(), Untrusted> {
        let mut e = self.entry(j);
        let info = e.info;
        let untrusted = |e: foresight_core::state::StateError| Untrusted(format!("job {}: {e}", j.id));
        if j.state == JobState::Leased {
            match cache.node_of.get(&j.worker_id) {
                None => e.place = Place::Skipped,
                Some(&node) => {
                    if !fits_now(&cache.rt, node, &info.demand.total) {
                        return Err(Untrusted(format!(
                            "job {}: worker `{}` holds more than it offers",
                            j.id, j.worker_id
                        )));
                    }
                    cache.rt.submit_estimated(info, j.spec.predicted_runtime_s).map_err(untrusted)?;
                    cache
                        .rt
                        .start(info.key, j.started_at_ms as f64 / 1000.0, Alloc::Nodes(vec![node]))
                        .map_err(untrusted)?;
                    e.place = Place::Running;
                }
            }
        } else if j.not_before_ms > now_ms {
            cache.sleeping.insert((j.not_before_ms, j.id));
            e.place = Place::Sleeping(j.not_before_ms);
        } else {
            e.place = Self::enqueue(cache, &e).map_err(untrusted)?;
        }
        self.note(cache, j.id, &e, true);
        cache.jobs.insert(j.id, e);
        Ok(())
    }

    /// A queued job past its backoff joins the runtime as pending, or is
    /// barred when no live worker could ever run it.
    fn enqueue(cache: &mut PoolCache, e: &Entry) -> Result<Place, foresight_core::state::StateError> {
        if !shapes_of(&cache.rows).iter().any(|w| runs_on(&e.ask, &w.capacity)) {
            return Ok(Place::Barred);
        }
        cache.rt.submit_estimated(e.info, f64::from_bits(e.sig.estimate_bits))?;
        if let Some(d) = e.deadline_ms {
            cache.rt.set_deadline(e.info.key, d as f64 / 1000.0);
        }
        Ok(Place::Pending)
    }

    /// The pool's kept runtime brought to `now_ms`: the queued jobs whose
    /// backoff ended join it, and the fair-share ledger is set.
    fn cache_wake(&mut self, pool: &str, now_ms: i64) -> Result<(), Untrusted> {
        let Some(mut cache) = self.cache.pools.remove(pool) else {
            return Err(Untrusted(format!("pool `{pool}` is not kept")));
        };
        let mut result = Ok(());
        while let Some(&(t, id)) = cache.sleeping.first() {
            if t > now_ms {
                break;
            }
            cache.sleeping.pop_first();
            let Some(mut e) = cache.jobs.remove(&id) else { continue };
            self.note(&mut cache, id, &e, false);
            match Self::enqueue(&mut cache, &e) {
                Ok(place) => e.place = place,
                Err(err) => result = Err(Untrusted(format!("job {id}: {err}"))),
            }
            self.note(&mut cache, id, &e, true);
            cache.jobs.insert(id, e);
        }
        let cluster = super::cluster_of(&cache.rows);
        if let Some(mut ledger) = self.ledger_for(pool, &cluster) {
            for &(user, group) in cache.members.keys() {
                ledger.register(user, group);
            }
            *cache.rt.usage_mut() = ledger;
        }
        self.cache.pools.insert(pool.to_string(), cache);
        result
    }

    /// The policy's starts on worker `asking` of its pool's kept runtime at
    /// `now_ms` (as [`Dispatcher::place`] would give them from the rows);
    /// `None` where the pool's decision must be made from the rows
    /// (governance terms in play) or the pool is not kept. `Untrusted`:
    /// drop the cache.
    pub fn place_cached(&mut self, pool: &str, asking: &str, now_ms: i64) -> Result<Option<Vec<u64>>, Untrusted> {
        let Some(cache) = self.cache.pools.get(pool).filter(|p| p.node_of.contains_key(asking)) else {
            return Ok(None);
        };
        let tainted = self.terms.iter().any(|(id, t)| !t.taints.is_empty() && cache.node_of.contains_key(id));
        if tainted || cache.termed > 0 {
            return Ok(None);
        }
        self.cache_wake(pool, now_ms)?;
        let cache = self.cache.pools.get_mut(pool).expect("woken");
        let me = cache.node_of[asking];
        let Some(decision) = cache.rt.decide(now_ms as f64 / 1000.0, &Observed) else { return Ok(Some(Vec::new())) };
        let keys = starts_on(decision, me);
        let mine = &cache.rows[me as usize];
        // a job's key is its id (see `Dispatcher::info`)
        Ok(Some(
            keys.iter()
                .map(|k| u64::from(k.0))
                .filter(|id| {
                    cache.jobs.get(id).is_some_and(|e| e.place == Place::Pending && runs_on(&e.ask, &mine.capacity))
                })
                .collect(),
        ))
    }

    /// The whole decision of pool `pool`'s kept runtime at `now_ms` (for
    /// tests that compare it with one built anew).
    pub fn decision_cached(&mut self, pool: &str, now_ms: i64) -> Result<Option<Decision>, Untrusted> {
        self.cache_wake(pool, now_ms)?;
        let cache = self.cache.pools.get_mut(pool).expect("woken");
        Ok(cache.rt.decide(now_ms as f64 / 1000.0, &Observed).cloned())
    }
}
