//! The dispatcher: the queue's state mapped onto `foresight-core`'s one
//! scheduler runtime, and a core policy asked which jobs start where.
//!
//! Each pool is a cluster of its own. At each `Lease` the pool's live
//! workers become the cluster's nodes (in worker-id order, each with the
//! capacity it offers), its leased jobs are running jobs on their workers
//! and its queued jobs (past their backoff) are pending, each with the
//! estimate it was given at submission; the policy decides once, and the
//! asking worker gets the starts the policy put on it. Starts on other
//! workers are left for those workers' own calls. The predictor lives on,
//! per pool, and learns from every end.
//!
//! The queue (the store) is the state of record. [`Dispatcher::place`]
//! builds the runtime anew from the rows for one decision; the queue's
//! `Lease` instead keeps each pool's runtime between calls ([`cache`]),
//! changed job by job as the store's event log says, and builds it anew
//! from the store when it cannot be trusted.

use crate::convert::record_of;
use crate::governance::{WorkerTerms, check, has_terms};
use crate::store::{JobRow, NewJob, WorkerRow};
use foresight_core::policy::{Policy, PolicySpec};
use foresight_core::predictor::{Predictor, PredictorKind, clamp_estimate};
use foresight_core::runtime::{Alloc, Observed, Runtime, RuntimeConfig};
use foresight_core::state::{Demand, JobInfo, JobKey, UsageLedger};
use foresight_core::{Cluster, NameTables, NodeSpec, Resources};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

pub mod cache;

/// The limit the policies assume for a job that asks for no time (a day);
/// such a job is never killed at it.
pub const ASSUMED_LIMIT_S: f64 = 86_400.0;

/// Where the dispatcher's predictor comes from.
pub type PredictorFactory = Box<dyn Fn() -> Box<dyn Predictor> + Send>;

/// A policy version's predictor that names a model file: `model:PATH`.
pub const MODEL_PREDICTOR_PREFIX: &str = "model:";

/// Loads a model file (its path) into a predictor factory, or says why it
/// cannot; the binary gives one (the server crate reads no model files).
pub type ModelLoader = Box<dyn Fn(&str) -> Result<PredictorFactory, String> + Send>;

/// A pool's predictor, shared by the estimates at submission, the
/// learning at each end and the pool's kept runtime.
#[derive(Clone)]
pub struct SharedPredictor(Arc<Mutex<Box<dyn Predictor>>>);

impl SharedPredictor {
    fn lock(&self) -> MutexGuard<'_, Box<dyn Predictor>> {
        // a predictor that panicked mid-call is still the best one there is
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Predictor for SharedPredictor {
    fn name(&self) -> &'static str {
        self.lock().name()
    }
    fn predict(&mut self, job: &JobInfo) -> f64 {
        self.lock().predict(job)
    }
    fn observe_start(&mut self, job: &JobInfo, now: f64) {
        self.lock().observe_start(job, now)
    }
    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, now: f64) {
        self.lock().observe_end(job, runtime_s, now)
    }
    fn correct(&mut self, job: &JobInfo, outlived: &foresight_core::predictor::Outlived) -> f64 {
        self.lock().correct(job, outlived)
    }
    fn observe_record(&mut self, job: &JobInfo, record: &foresight_core::Job) {
        self.lock().observe_record(job, record)
    }
    fn forget(&mut self, job: &JobInfo) {
        self.lock().forget(job)
    }
    fn interval(&mut self, job: &JobInfo, estimate_s: f64) -> Option<foresight_core::predictor::Interval> {
        self.lock().interval(job, estimate_s)
    }
}

/// A pool's runtime: its policy, its shared predictor.
pub(crate) type PoolRuntime = Runtime<Box<dyn Policy>, SharedPredictor>;

/// The dispatcher (see the module's doc).
pub struct Dispatcher {
    spec: PolicySpec,
    make_predictor: PredictorFactory,
    predictors: BTreeMap<String, SharedPredictor>,
    /// Each pool's kept runtime and the event the cache has read up to.
    cache: cache::Cache,
    cache_stats: cache::CacheStats,
    /// Per pool: the fair-share usage of the jobs that ended there, handed
    /// to each runtime built anew, and the pool's capacity at its last
    /// decision (what a job's share is measured against).
    usage: BTreeMap<String, (UsageLedger, Resources)>,
    /// Each worker's labels and taints, as its last `Lease` offered them.
    terms: HashMap<String, WorkerTerms>,
    /// Why each queued job no live worker may take waits (last decision).
    waiting: HashMap<u64, String>,
    /// Each pool's price per GPU-hour (per CPU-hour for CPU jobs).
    prices: BTreeMap<String, f64>,
    names: NameTables,
    load_model: Option<ModelLoader>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("policy", &self.spec.name).finish()
    }
}

fn demand_of(j: &NewJob) -> Resources {
    Resources::new(j.demand.cpus, j.demand.gpus, j.demand.memory_mb)
}

fn capacity_of(w: &WorkerRow) -> Resources {
    Resources::new(w.capacity.cpus, w.capacity.gpus, w.capacity.memory_mb)
}

/// Whether worker `w` could ever run `j`: room and GPU type.
fn could_run(w: &WorkerRow, j: &NewJob) -> bool {
    demand_of(j).fits_in(&capacity_of(w)) && (j.demand.gpu_type.is_empty() || j.demand.gpu_type == w.capacity.gpu_type)
}

impl Dispatcher {
    /// A dispatcher for `spec`, with the predictor `kind` (the policy's own
    /// when `None`), one instance per pool.
    pub fn new(spec: PolicySpec, kind: Option<PredictorKind>) -> Self {
        let kind = kind.unwrap_or(spec.predictor);
        Self::with_predictor(spec, Box::new(move || kind.build(Vec::new)))
    }

    /// A dispatcher for `spec` whose pools' predictors `make` builds (a
    /// model file served live, say).
    pub fn with_predictor(spec: PolicySpec, make: PredictorFactory) -> Self {
        Self {
            spec,
            make_predictor: make,
            predictors: BTreeMap::new(),
            cache: cache::Cache::default(),
            cache_stats: cache::CacheStats::default(),
            usage: BTreeMap::new(),
            terms: HashMap::new(),
            waiting: HashMap::new(),
            prices: BTreeMap::new(),
            names: NameTables::default(),
            load_model: None,
        }
    }

    /// Lets policy versions name a model file as their predictor
    /// (`model:PATH`), loaded by `load`.
    pub fn set_model_loader(&mut self, load: ModelLoader) {
        self.load_model = Some(load);
    }

    /// The predictor factory of model file `path`, by the loader
    /// ([`Dispatcher::set_model_loader`]); `INVALID_ARGUMENT` on `predictor`
    /// without a loader or when the file cannot be loaded.
    pub fn load_model(&self, path: &str) -> Result<PredictorFactory, crate::queue::QueueError> {
        let load = self.load_model.as_ref().ok_or_else(|| {
            crate::queue::QueueError::invalid("predictor", "this server takes no model files (the binary's `serve` does)")
        })?;
        load(path).map_err(|e| crate::queue::QueueError::invalid("predictor", format!("model `{path}`: {e}")))
    }

    /// Each pool's predictor starts afresh from `make` (a model file a
    /// policy version names).
    pub fn set_predictor_factory(&mut self, make: PredictorFactory) {
        self.make_predictor = make;
        self.predictors.clear();
        self.cache_drop();
    }

    /// The policy's name.
    pub fn policy_name(&self) -> &str {
        &self.spec.name
    }

    /// Dispatches with `spec` from the next decision on (`UpdatePolicy`);
    /// with `new_predictor`, each pool's predictor starts afresh from
    /// `kind` (the policy's own when `None`).
    pub fn set_policy(&mut self, spec: PolicySpec, kind: Option<PredictorKind>, new_predictor: bool) {
        if new_predictor {
            let kind = kind.unwrap_or(spec.predictor);
            self.make_predictor = Box::new(move || kind.build(Vec::new));
            self.predictors.clear();
        }
        self.spec = spec;
        // the kept runtimes ran the old policy (and predictor)
        self.cache_drop();
    }

    fn info(&mut self, id: u64, j: &NewJob) -> JobInfo {
        JobInfo {
            key: JobKey(id as u32),
            user: self.names.users.intern(&j.tenant),
            group: self.names.groups.intern(&j.tenant),
            queue: self.names.queues.intern(&j.pool),
            submit_s: j.submitted_at_ms as f64 / 1000.0,
            demand: Demand { total: demand_of(j), nodes: 1 },
            limit_s: if j.time_limit_s > 0.0 { j.time_limit_s } else { ASSUMED_LIMIT_S },
        }
    }

    fn predictor(&mut self, pool: &str) -> SharedPredictor {
        if let Some(p) = self.predictors.get(pool) {
            return p.clone();
        }
        let p = SharedPredictor(Arc::new(Mutex::new((self.make_predictor)())));
        self.predictors.insert(pool.to_string(), p.clone());
        p
    }

    /// The runtime estimate of a job being submitted (clamped to its limit
    /// as the runtime clamps) and its interval when the predictor gives one.
    /// The predictor is shown the job's record first ([`record_of`]), as
    /// the runtime shows a submitted job's: a trained model featurises it.
    pub fn estimate(&mut self, j: &NewJob) -> (f64, Option<(f64, f64)>) {
        let info = self.info(0, j);
        let shared = self.predictor(&j.pool);
        let mut p = shared.lock();
        // key 0 is the job being submitted; the next submission's record replaces it
        p.observe_record(&info, &record_of(0, j));
        let est = clamp_estimate(&info, p.predict(&info));
        let interval = p.interval(&info, est).map(|i| (i.lo_s, i.hi_s));
        (est, interval)
    }

    /// A job ended after running `runtime_s`: its pool's predictor learns
    /// it, and, for policies that read fair-share usage, its tenant is
    /// charged its dominant share of the pool (as of the pool's last
    /// decision) times the time it ran, as the runtime charges a job that
    /// ends.
    pub fn observe_end(&mut self, j: &JobRow, runtime_s: f64, now_ms: i64) {
        let info = self.info(j.id, &j.spec);
        let now_s = now_ms as f64 / 1000.0;
        {
            let shared = self.predictor(&j.spec.pool);
            let mut p = shared.lock();
            // its record, so that a model's history learns the job's own features
            p.observe_record(&info, &record_of(j.id, &j.spec));
            p.observe_end(&info, runtime_s.max(0.0), now_s);
        }
        if self.spec.order.reads_usage() {
            let (ledger, capacity) = self.usage_of(&j.spec.pool);
            // before the pool's first decision, the job is its own pool
            let cap = if capacity.cpus == 0 { info.demand.total } else { *capacity };
            let amount = info.demand.dominant_share(&cap) * runtime_s.max(0.0);
            ledger.charge(info.user, info.group, amount, now_s);
        }
    }

    /// Sets the pools' prices per GPU-hour, for cost-aware placement.
    pub fn set_prices(&mut self, prices: BTreeMap<String, f64>) {
        self.prices = prices;
    }

    /// The pools' prices per GPU-hour.
    pub fn prices(&self) -> &BTreeMap<String, f64> {
        &self.prices
    }

    /// When job `j` (estimated `est` s) would start in a pool, by
    /// prediction: its live `workers`' room after its `leased` jobs end at
    /// their estimates, with its `queued` jobs reserved first in queue
    /// order (as conservative backfilling reserves); `None` when no worker
    /// of the pool could run it. Seconds on the Unix clock.
    pub fn predicted_start(
        workers: &[WorkerRow],
        leased: &[JobRow],
        queued: &[JobRow],
        j: &NewJob,
        est: f64,
        now_ms: i64,
    ) -> Option<f64> {
        if !workers.iter().any(|w| could_run(w, j)) {
            return None;
        }
        let now = now_ms as f64 / 1000.0;
        let total = workers.iter().fold(Resources::default(), |t, w| t.saturating_add(&capacity_of(w)));
        let mut used = Resources::default();
        let mut releases: Vec<(f64, Resources)> = Vec::new();
        for l in leased {
            used = used.saturating_add(&demand_of(&l.spec));
            releases.push((l.started_at_ms as f64 / 1000.0 + l.spec.predicted_runtime_s, demand_of(&l.spec)));
        }
        releases.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut profile = foresight_core::policy::Profile::default();
        profile.rebuild(now, total.saturating_sub(&used), releases);
        for q in queued {
            let need = demand_of(&q.spec);
            if let Some(s) = profile.earliest(&need, q.spec.predicted_runtime_s) {
                profile.reserve(s, q.spec.predicted_runtime_s, &need);
            }
        }
        profile.earliest(&demand_of(j), est)
    }

    /// Worker `id`'s labels and taints (from its `Lease`).
    pub fn set_terms(&mut self, id: &str, terms: WorkerTerms) {
        if self.terms.get(id) != Some(&terms) {
            self.terms.insert(id.to_string(), terms);
        }
    }

    /// Why queued job `id` waits, when the last decision in its pool found
    /// no live worker that may take it.
    pub fn wait_reason(&self, id: u64) -> Option<&str> {
        self.waiting.get(&id).map(String::as_str)
    }

    /// Why worker `id` may take job `j` (for the decision log), or the term
    /// it breaks.
    pub fn admission(&self, id: &str, j: &NewJob) -> String {
        let none = WorkerTerms::default();
        match check(&j.labels, self.terms.get(id).unwrap_or(&none)) {
            Ok(why) => why,
            Err(e) => format!("refused: {e}"),
        }
    }

    /// Whether worker `w` may take job `j` by the governance terms.
    fn admits(&self, w: &WorkerRow, j: &NewJob) -> Result<String, String> {
        let none = WorkerTerms::default();
        check(&j.labels, self.terms.get(&w.id).unwrap_or(&none))
    }

    /// Why no worker of `workers` may take `j`, or `None` when one may.
    fn why_waits(&self, workers: &[WorkerRow], j: &NewJob, tainted: bool) -> Option<String> {
        if !tainted && !has_terms(&j.labels) {
            // the common case: only room and GPU type matter, asked of shapes
            return None;
        }
        let mut reasons = Vec::new();
        for w in workers {
            if !could_run(w, j) {
                continue;
            }
            match self.admits(w, j) {
                Ok(_) => return None,
                Err(e) => {
                    if reasons.len() < 3 {
                        reasons.push(format!("worker `{}`: {e}", w.id));
                    }
                }
            }
        }
        Some(if reasons.is_empty() {
            "no live worker has the room or GPU type it asks for".into()
        } else {
            format!("no live worker may take it: {}", reasons.join("; "))
        })
    }

    fn usage_of(&mut self, pool: &str) -> &mut (UsageLedger, Resources) {
        if !self.usage.contains_key(pool) {
            let fresh = (UsageLedger::new(RuntimeConfig::default().usage_half_life_s), Resources::default());
            self.usage.insert(pool.to_string(), fresh);
        }
        self.usage.get_mut(pool).expect("just inserted")
    }

    /// The ids of the queued jobs the policy starts on worker `asking` now
    /// (`now_ms`), given the pool's live `workers` (the asking one among
    /// them), its `leased` jobs and its `queued` ones.
    pub fn place(
        &mut self,
        asking: &str,
        workers: &[WorkerRow],
        leased: &[JobRow],
        queued: &[JobRow],
        now_ms: i64,
    ) -> Vec<u64> {
        let Some(me) = workers.iter().position(|w| w.id == asking) else { return Vec::new() };
        let shapes = shapes_of(workers);
        let tainted = workers.iter().any(|w| self.terms.get(&w.id).is_some_and(|t| !t.taints.is_empty()));
        // governance before placement: a job no live worker may take is not
        // offered to the policy, and says why
        let mut waits: Vec<(u64, String)> = Vec::new();
        for j in leased {
            self.waiting.remove(&j.id);
        }
        for j in queued {
            self.waiting.remove(&j.id);
            if j.not_before_ms > now_ms {
                continue;
            }
            if !shapes.iter().any(|w| could_run(w, &j.spec)) {
                waits.push((j.id, "no live worker has the room or GPU type it asks for".into()));
            } else if let Some(why) = self.why_waits(workers, &j.spec, tainted) {
                waits.push((j.id, why));
            }
        }
        let barred: std::collections::HashSet<u64> = waits.iter().map(|(id, _)| *id).collect();
        self.waiting.extend(waits);
        let governed = tainted || queued.iter().any(|j| has_terms(&j.spec.labels));
        if governed {
            // the core policies place on any node that fits: where terms
            // are in play, the asking worker's decision is made over it
            // alone, its own leases and the jobs it may take
            let mine = &workers[me];
            let held: Vec<JobRow> = leased.iter().filter(|j| j.worker_id == mine.id).cloned().collect();
            let may: Vec<JobRow> = queued
                .iter()
                .filter(|j| !barred.contains(&j.id) && could_run(mine, &j.spec) && self.admits(mine, &j.spec).is_ok())
                .cloned()
                .collect();
            return self.decide(std::slice::from_ref(mine), 0, &held, &may, now_ms, &Default::default());
        }
        self.decide(workers, me, leased, queued, now_ms, &barred)
    }

    /// The policy's starts on worker `me` of `workers`, the jobs in
    /// `barred` (no live worker may take them) left out.
    fn decide(
        &mut self,
        workers: &[WorkerRow],
        me: usize,
        leased: &[JobRow],
        queued: &[JobRow],
        now_ms: i64,
        barred: &std::collections::HashSet<u64>,
    ) -> Vec<u64> {
        let (mut rt, starts_left, _) = self.build(workers, leased, queued, now_ms, barred);
        let now_s = now_ms as f64 / 1000.0;
        let Some(decision) = rt.decide(now_s, &Observed) else { return Vec::new() };
        let mine = &workers[me];
        // the asking worker's starts (few), in the decision's order, found
        // in one pass over the queue
        let keys = starts_on(decision, me as u32);
        let mut rows: Vec<Option<&JobRow>> = vec![None; keys.len()];
        for (k, j) in &starts_left {
            if let Some(i) = keys.iter().position(|x| x == k) {
                rows[i] = Some(*j);
            }
        }
        rows.into_iter()
            .flatten()
            .filter(|j| could_run(mine, &j.spec) && self.admits(mine, &j.spec).is_ok())
            .map(|j| j.id)
            .collect()
    }

    /// The pool's runtime built anew from the rows: `workers` as its nodes,
    /// `leased` jobs running on theirs, `queued` ones past their backoff
    /// and not in `barred` pending. Also the pending jobs' rows, and
    /// whether a leased job got less than it asks (its worker came back
    /// smaller: it holds what fits).
    fn build<'r>(
        &mut self,
        workers: &[WorkerRow],
        leased: &'r [JobRow],
        queued: &'r [JobRow],
        now_ms: i64,
        barred: &std::collections::HashSet<u64>,
    ) -> (PoolRuntime, Vec<(JobKey, &'r JobRow)>, bool) {
        let node_of: HashMap<&str, u32> = workers.iter().enumerate().map(|(i, w)| (w.id.as_str(), i as u32)).collect();
        let cluster = cluster_of(workers);
        let pool = workers.first().map(|w| w.pool.clone()).unwrap_or_default();
        let infos: Vec<(JobInfo, &JobRow)> =
            leased.iter().chain(queued).map(|j| (self.info(j.id, &j.spec), j)).collect();
        let ledger = self.ledger_for(&pool, &cluster);
        let predictor = self.predictor(&pool);
        let mut rt: PoolRuntime =
            Runtime::new(&cluster, Box::new(self.spec.build()) as Box<dyn Policy>, predictor, RuntimeConfig::default());
        if let Some(ledger) = ledger {
            // the tenants' history: what their ended jobs used (running
            // jobs' usage so far the order adds itself)
            *rt.usage_mut() = ledger;
        }
        let mut starts_left = Vec::new();
        let mut clamped = false;
        for (info, j) in &infos {
            let est = j.spec.predicted_runtime_s;
            if j.state == crate::store::JobState::Leased {
                let Some(&node) = node_of.get(j.worker_id.as_str()) else { continue };
                if rt.submit_estimated(*info, est).is_err() {
                    clamped = true;
                    continue;
                }
                clamped |= !fits_now(&rt, node, &info.demand.total);
                // a worker that came back smaller holds what fits of it
                if rt.start(info.key, j.started_at_ms as f64 / 1000.0, Alloc::Nodes(vec![node])).is_err() {
                    clamped = true;
                    let _ = rt.withdraw(info.key);
                }
            } else if j.not_before_ms <= now_ms && !barred.contains(&j.id) {
                if rt.submit_estimated(*info, est).is_ok()
                    && let Some(d) = crate::convert::deadline_ms(&j.spec)
                {
                    // read by deadline-aware orders (`edf`), ignored by the others
                    rt.set_deadline(info.key, d as f64 / 1000.0);
                }
                starts_left.push((info.key, *j));
            }
        }
        (rt, starts_left, clamped)
    }

    /// For orders that read fair-share usage: the pool's ledger of ended
    /// jobs, its capacity set to `cluster`'s (what a job's share is
    /// measured against).
    fn ledger_for(&mut self, pool: &str, cluster: &Cluster) -> Option<UsageLedger> {
        if !self.spec.order.reads_usage() {
            return None;
        }
        let total = cluster.total();
        let (ledger, capacity) = self.usage_of(pool);
        *capacity = total;
        Some(ledger.clone())
    }

    /// The whole decision of a runtime built anew from the rows (as
    /// [`Dispatcher::place`] builds it, without governance), for tests that
    /// compare it with the kept runtime's.
    pub fn decision_rebuilt(
        &mut self,
        workers: &[WorkerRow],
        leased: &[JobRow],
        queued: &[JobRow],
        now_ms: i64,
    ) -> Option<foresight_core::policy::Decision> {
        let shapes = shapes_of(workers);
        let barred: std::collections::HashSet<u64> =
            queued.iter().filter(|j| !shapes.iter().any(|w| could_run(w, &j.spec))).map(|j| j.id).collect();
        let (mut rt, _, _) = self.build(workers, leased, queued, now_ms, &barred);
        rt.decide(now_ms as f64 / 1000.0, &Observed).cloned()
    }
}

/// The cluster of a pool's live workers, in their order.
fn cluster_of(workers: &[WorkerRow]) -> Cluster {
    Cluster {
        nodes: workers
            .iter()
            .map(|w| NodeSpec {
                name: w.id.clone(),
                capacity: capacity_of(w),
                gpu_type: Some(w.capacity.gpu_type.clone()).filter(|t| !t.is_empty()),
            })
            .collect(),
    }
}

/// The workers' distinct shapes: whether any worker could ever run a job
/// is asked of each queued job, and pools have few shapes.
fn shapes_of(workers: &[WorkerRow]) -> Vec<&WorkerRow> {
    let mut shapes: Vec<&WorkerRow> = Vec::new();
    for w in workers {
        if !shapes.iter().any(|s| s.capacity == w.capacity) {
            shapes.push(w);
        }
    }
    shapes
}

/// Whether node `node` of the runtime is up with `need` free.
fn fits_now(rt: &PoolRuntime, node: u32, need: &Resources) -> bool {
    rt.state().nodes().get(node as usize).is_some_and(|n| n.up && need.fits_in(&n.free))
}

/// The keys of a decision's starts wholly on node `me`, in its order.
fn starts_on(decision: &foresight_core::policy::Decision, me: u32) -> Vec<JobKey> {
    decision
        .starts
        .iter()
        .filter(|s| !s.slots.is_empty() && s.slots.iter().all(|sl| sl.node == me))
        .map(|s| s.key)
        .collect()
}

#[cfg(test)]
mod tests;
