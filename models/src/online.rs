//! Predictors for a simulation or a live controller. In a simulation they
//! are built on the job table the run replays: [`FilePredictor`] applies a
//! trained model file, [`OnlinePredictor`] retrains a model on a sliding
//! window of the jobs that have *finished* as time advances. Live, there is
//! no table: [`FilePredictor::try_live`] applies a model file to job records
//! the caller registers one by one as the orchestrator reports them. All keep
//! the history columns up to date from the starts and ends they are told
//! about, featurise a job when it is submitted (the same code, so the same
//! job after the same history gets the same row), and correct an outlived
//! estimate as EASY++ does.

use crate::ModelError;
use crate::features::{Calendar, Schema};
use crate::file::ModelFile;
use crate::history::{History, JobTelemetry};
use crate::interval::{Conformal, DEFAULT_NOMINAL, Residuals, log_error};
use crate::runtime::{ModelKind, RuntimeModel};
use crate::shift::QuantileShift;
use foresight_core::Job;
use foresight_core::predictor::{Interval, Outlived, Predictor, UserHistory};
use foresight_core::state::{JobInfo, JobKey};
use foresight_datasets::JobTable;
use std::collections::{HashMap, VecDeque};
use std::path::Path;

/// Where a featurizer finds a job's record: the run's table by key, or the
/// records registered so far (live, until the job ends).
#[derive(Debug, Clone)]
enum Jobs {
    Table(Vec<Job>),
    Live(HashMap<u32, Job>),
}

impl Jobs {
    fn get(&self, key: u32) -> Option<&Job> {
        match self {
            Jobs::Table(jobs) => jobs.get(key as usize),
            Jobs::Live(jobs) => jobs.get(&key),
        }
    }
}

/// The jobs of a run by key, and the history they build.
#[derive(Debug, Clone)]
struct Featurizer {
    schema: Schema,
    /// The calendar of the jobs' times: the trace's over a table, Unix
    /// time's live.
    calendar: Calendar,
    jobs: Jobs,
    telemetry: JobTelemetry,
    history: History,
    /// Each waiting or running job's row at submission and the model's
    /// prediction then (NaN without a model).
    rows: HashMap<u32, (Vec<f64>, f64)>,
}

impl Featurizer {
    fn new(schema: Schema, table: &JobTable, source_rows: &[u32]) -> Self {
        let jobs = source_rows.iter().map(|&r| table.jobs[r as usize].clone()).collect();
        let calendar = schema.trace_calendar();
        Self::with_jobs(schema, calendar, Jobs::Table(jobs))
    }

    fn with_jobs(schema: Schema, calendar: Calendar, jobs: Jobs) -> Self {
        let history = History::new(schema.history_offset(), schema.runtime_floor_s);
        Self { schema, calendar, jobs, telemetry: JobTelemetry::new(), history, rows: HashMap::new() }
    }

    /// Featurises the job as of now (it joins the queue) and predicts with
    /// `model`, if any.
    fn submit(&mut self, info: &JobInfo, model: Option<&RuntimeModel>) -> Option<f64> {
        let job = self.jobs.get(info.key.0)?;
        let mut row = vec![f64::NAN; self.schema.width()];
        self.schema.fill_static_on(self.calendar, job, &mut row);
        self.history.fill(job, &mut row);
        self.history.observe_submit(job);
        let p = model.map(|m| m.predict(&self.schema, &row));
        self.rows.insert(info.key.0, (row, p.unwrap_or(f64::NAN)));
        p
    }

    /// The model's prediction at the job's submission, if a model made one.
    fn predicted(&self, info: &JobInfo) -> Option<f64> {
        self.rows.get(&info.key.0).map(|r| r.1).filter(|p| !p.is_nan())
    }

    fn start(&mut self, info: &JobInfo) {
        if let Some(job) = self.jobs.get(info.key.0) {
            self.history.observe_start(job);
        }
    }

    /// Learns the end; returns the job's row at submission and the model's
    /// prediction then (NaN without a model). A live record is dropped:
    /// the job is over.
    fn end(&mut self, info: &JobInfo, runtime_s: f64, now: f64) -> Option<(Vec<f64>, f64)> {
        let job = self.jobs.get(info.key.0)?;
        self.history.observe_end(job, runtime_s, self.telemetry.get(&job.job_id), now);
        if let Jobs::Live(jobs) = &mut self.jobs {
            jobs.remove(&info.key.0);
        }
        self.rows.remove(&info.key.0)
    }

    fn easy_plus_plus(&self, info: &JobInfo) -> f64 {
        self.jobs.get(info.key.0).and_then(|j| self.history.last_two_mean(j)).unwrap_or(info.limit_s)
    }
}

/// A trained model file applied to a run. Its interval is the file's
/// calibration ([`ModelFile::interval`]) around the estimate, capped at the
/// job's limit; none for a file without one.
#[derive(Debug, Clone)]
pub struct FilePredictor {
    features: Featurizer,
    model: RuntimeModel,
    interval: Option<Conformal>,
}

impl FilePredictor {
    /// Applies `file` to the jobs of `table`; `source_rows[key]` is the
    /// table row of the run's job `key`. The file is taken as it is
    /// ([`ModelFile::load`] has validated a file it read): one that fails
    /// [`ModelFile::validate`] still never panics, a tree that cannot be
    /// walked giving the requested time.
    pub fn new(file: ModelFile, table: &JobTable, source_rows: &[u32]) -> Self {
        Self {
            features: Featurizer::new(file.schema, table, source_rows),
            model: file.runtime,
            interval: file.interval,
        }
    }
}

impl Predictor for FilePredictor {
    fn name(&self) -> &'static str {
        "model"
    }

    fn predict(&mut self, job: &JobInfo) -> f64 {
        self.features.submit(job, Some(&self.model)).unwrap_or(job.limit_s)
    }

    fn observe_start(&mut self, job: &JobInfo, _now: f64) {
        self.features.start(job);
    }

    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, now: f64) {
        self.features.end(job, runtime_s, now);
    }

    fn correct(&mut self, job: &JobInfo, outlived: &Outlived) -> f64 {
        UserHistory::default().correct(job, outlived)
    }

    fn interval(&mut self, job: &JobInfo, estimate_s: f64) -> Option<Interval> {
        let floor = self.features.schema.runtime_floor_s;
        self.interval?.around(estimate_s, floor, job.limit_s)
    }
}

impl FilePredictor {
    /// Applies `file` live, without a table: the caller registers each
    /// job's record (as the orchestrator reported it, times in Unix
    /// seconds) before it asks for a prediction or reports the job's start
    /// or end, under the key it then uses in the [`JobInfo`].
    /// Featurisation and history are those of a predictor over a table: the
    /// same jobs in the same order give the same predictions, a job
    /// submitted at the same instant getting the same hour and weekday
    /// (see [`Schema::live_calendar`]). A record is kept until the job ends
    /// or is forgotten.
    ///
    /// Refuses a file that fails [`ModelFile::validate`]
    /// ([`ModelError::Invalid`]; [`ModelFile::load`] has already checked a
    /// file it read), and one whose calendar cannot be put on Unix time
    /// (written before the epoch and the zone were stored apart, or trained
    /// on a trace without an epoch): [`ModelError::Calendar`].
    pub fn try_live(file: ModelFile) -> Result<Self, ModelError> {
        file.validate()?;
        let calendar = file.schema.live_calendar()?;
        Ok(Self {
            features: Featurizer::with_jobs(file.schema, calendar, Jobs::Live(HashMap::new())),
            model: file.runtime,
            interval: file.interval,
        })
    }

    /// The record of the job with handle `key` as the orchestrator reports
    /// it now: at its submission what it asks for (user, group, queue,
    /// name, request, submitted features), at its end also how it ended
    /// (the history learns failures from it). A later record replaces an
    /// earlier one.
    pub fn register(&mut self, key: JobKey, job: &Job) {
        if let Jobs::Live(jobs) = &mut self.features.jobs {
            match jobs.get_mut(&key.0) {
                Some(old) => old.clone_from(job),
                None => {
                    jobs.insert(key.0, job.clone());
                }
            }
        }
    }

    /// A job left the queue without running (withdrawn, cancelled while
    /// pending): its record is dropped and, if it was predicted (it joined
    /// the queue then), it leaves the queue's size and work that later
    /// jobs' rows see. Not for a job that started: its end does that.
    pub fn forget(&mut self, key: JobKey) {
        let queued = self.features.rows.remove(&key.0).is_some();
        if let Jobs::Live(jobs) = &mut self.features.jobs
            && let Some(job) = jobs.remove(&key.0)
            && queued
        {
            self.features.history.observe_withdraw(&job);
        }
    }

    /// Records held (jobs registered that have not ended).
    pub fn records(&self) -> usize {
        match &self.features.jobs {
            Jobs::Live(jobs) => jobs.len(),
            Jobs::Table(_) => 0,
        }
    }
}

/// What the online predictor does when a job outlives its estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correction {
    /// Tsafrir's ladder, as EASY++: the initial estimate plus 1 min, 5 min,
    /// 15 min, ... (see `TSAFRIR_CORRECTIONS_S`).
    Ladder,
    /// Twice the estimate just outlived.
    Double,
}

/// How much each finished job counts in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighting {
    /// Every job once.
    None,
    /// A job on `c` processors counts `1 + floor(log2 c)` times (its row
    /// repeated): wide jobs, whose errors cost the schedule most, weigh
    /// more.
    LogCores,
}

/// How the online predictor learns. The window and first-model size were
/// fixed a priori, and so was the retraining period (250, 500 and 2,000
/// jobs were worse on the development part below). The model kind and the correction
/// were chosen on the first quarter of KTH-SP2's jobs only (7,120 jobs
/// after the predictsim filter; `cargo run -p foresight-models --example
/// online_dev` replays them): EASY++'s average bounded slowdown there is
/// 84.95 with the user history, 63.76 clairvoyant, 64.99 with `gbt` and
/// doubling, against 71.20 with `gbt` and Tsafrir's ladder, 83.54 and
/// 86.74 with `gbt-median`, 73.89 with `gbt-under` and 72.54 with `linear`
/// (doubling); weighting wide jobs more was worse (70.86 with doubling,
/// 78.44 with the ladder).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnlineParams {
    /// The model retrained.
    pub kind: ModelKind,
    /// Finished jobs in the sliding window.
    pub window: usize,
    /// Retrain after this many new finished jobs (or sooner, while the
    /// window is small: whenever it has doubled).
    pub retrain_every: usize,
    /// Finished jobs needed before the first model; EASY++ until then.
    pub min_train: usize,
    /// The correction of an outlived estimate.
    pub correction: Correction,
    /// The weight of a finished job in training.
    pub weighting: Weighting,
    /// The interval's calibration window: the log errors of the model's
    /// predictions of the last this many jobs that ended.
    pub calibration_window: usize,
    /// The interval's nominal coverage.
    pub nominal: f64,
    /// Move each estimate to this quantile of the model's recent errors in
    /// its magnitude band ([`QuantileShift`]); `None` keeps the model's
    /// own estimate.
    pub point_quantile: Option<f64>,
    /// Choose, for each new job, between the model and the users' history
    /// by which erred less, by this loss, on the last
    /// [`OnlineParams::calibration_window`] jobs that ended; `None` always
    /// takes the model once there is one.
    pub select: Option<SelectLoss>,
    /// The jobs, most recent that ended, the selection compares on.
    pub select_window: usize,
}

/// The loss by which [`OnlineParams::select`] compares the model and the
/// users' history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectLoss {
    /// One minus Tsafrir's accuracy, `min(p, a) / max(p, a)`: every job
    /// weighs the same.
    Accuracy,
    /// The absolute error in seconds: long jobs weigh more.
    Absolute,
    /// The absolute log error, `|ln(p / a)|`: every job weighs the same and
    /// a gross error more than under [`SelectLoss::Accuracy`].
    Log,
    /// The log error of under-predictions only, `max(0, ln(a / p))`: an
    /// estimate that ends before the job is what delays a reservation.
    Under,
}

impl SelectLoss {
    fn of(self, estimate_s: f64, actual_s: f64) -> f64 {
        match self {
            SelectLoss::Accuracy => {
                let (p, a) = (estimate_s.max(1.0), actual_s.max(1.0));
                1.0 - p.min(a) / p.max(a)
            }
            SelectLoss::Absolute => (estimate_s - actual_s).abs(),
            SelectLoss::Log => (estimate_s.max(1.0).ln() - actual_s.max(1.0).ln()).abs(),
            SelectLoss::Under => (actual_s.max(1.0).ln() - estimate_s.max(1.0).ln()).max(0.0),
        }
    }
}

/// The selection's running record: each waiting or running job's two
/// estimates, and the losses of both over the last jobs that ended.
#[derive(Debug, Clone, Default)]
struct Selection {
    open: HashMap<u32, (f64, f64)>,
    losses: VecDeque<(f64, f64)>,
    sums: (f64, f64),
}

impl Default for OnlineParams {
    fn default() -> Self {
        Self {
            kind: ModelKind::Gbt,
            window: 20_000,
            retrain_every: 1_000,
            min_train: 200,
            correction: Correction::Double,
            weighting: Weighting::None,
            calibration_window: 2_000,
            nominal: DEFAULT_NOMINAL,
            point_quantile: None,
            select: None,
            select_window: 500,
        }
    }
}

/// A runtime model retrained on a sliding window of finished jobs. Its
/// interval is calibrated causally: from the log errors of the predictions
/// it made (with whichever model it had then) of the last
/// [`OnlineParams::calibration_window`] jobs that have ended, so it never
/// sees a runtime before the job ends. A job estimated by EASY++ (before
/// the first model) has none, nor has any job until 20 errors are known.
#[derive(Debug, Clone)]
pub struct OnlinePredictor {
    features: Featurizer,
    params: OnlineParams,
    window: VecDeque<(Vec<f64>, f64, u32)>,
    since_train: usize,
    model: Option<RuntimeModel>,
    retrains: usize,
    residuals: Residuals,
    shift: Option<QuantileShift>,
    selection: Selection,
}

impl OnlinePredictor {
    /// An online predictor over the jobs of `table` (`source_rows[key]` is
    /// the table row of the run's job `key`). The schema's column types
    /// come from the table's submitted features; no value of the table is
    /// read before its job is submitted or ends in the run.
    pub fn new(table: &JobTable, source_rows: &[u32], params: OnlineParams) -> Self {
        let schema = Schema::from_jobs(&table.meta, &table.jobs);
        Self {
            features: Featurizer::new(schema, table, source_rows),
            params,
            window: VecDeque::new(),
            since_train: 0,
            model: None,
            retrains: 0,
            residuals: Residuals::new(params.calibration_window, params.nominal),
            shift: params.point_quantile.map(|q| QuantileShift::new(q, params.calibration_window)),
            selection: Selection::default(),
        }
    }

    /// Times the model was retrained so far.
    pub fn retrains(&self) -> usize {
        self.retrains
    }

    fn retrain(&mut self) {
        let (x, y): (Vec<Vec<f64>>, Vec<f64>) = self
            .window
            .iter()
            .flat_map(|(row, rt, times)| std::iter::repeat_n((row, *rt), *times as usize))
            .map(|(row, rt)| (row.clone(), rt))
            .unzip();
        if let Ok(m) = RuntimeModel::train(self.params.kind, &self.features.schema, &x, &y) {
            self.model = Some(m);
            self.retrains += 1;
        }
        self.since_train = 0;
    }
}

impl Predictor for OnlinePredictor {
    fn name(&self) -> &'static str {
        "online"
    }

    fn predict(&mut self, job: &JobInfo) -> f64 {
        let fallback = self.features.easy_plus_plus(job);
        let Some(p) = self.features.submit(job, self.model.as_ref()) else { return fallback };
        let p = self.shift.as_mut().map_or(p, |s| s.apply(p));
        if self.params.select.is_none() {
            return p;
        }
        let (model, history) = (p.min(job.limit_s), fallback.min(job.limit_s));
        let history_wins = self.selection.sums.1 < self.selection.sums.0;
        self.selection.open.insert(job.key.0, (model, history));
        if history_wins { fallback } else { p }
    }

    fn forget(&mut self, job: &JobInfo) {
        self.selection.open.remove(&job.key.0);
    }

    fn observe_start(&mut self, job: &JobInfo, _now: f64) {
        self.features.start(job);
    }

    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, now: f64) {
        let Some((row, predicted)) = self.features.end(job, runtime_s, now) else {
            return;
        };
        if !predicted.is_nan() {
            let floor = self.features.schema.runtime_floor_s;
            let error = log_error(runtime_s, predicted, floor);
            self.residuals.push(error);
            if let Some(s) = &mut self.shift {
                s.observe(predicted, error);
            }
        }
        if let (Some(loss), Some((model, history))) = (self.params.select, self.selection.open.remove(&job.key.0)) {
            let l = (loss.of(model, runtime_s), loss.of(history, runtime_s));
            let sel = &mut self.selection;
            sel.losses.push_back(l);
            sel.sums = (sel.sums.0 + l.0, sel.sums.1 + l.1);
            if sel.losses.len() > self.params.select_window {
                let (a, b) = sel.losses.pop_front().expect("longer than the window");
                sel.sums = (sel.sums.0 - a, sel.sums.1 - b);
            }
        }
        let times = match self.params.weighting {
            Weighting::None => 1,
            Weighting::LogCores => 1 + job.demand.total.cpus.max(1).ilog2(),
        };
        self.window.push_back((row, runtime_s, times));
        if self.window.len() > self.params.window {
            self.window.pop_front();
        }
        self.since_train += 1;
        let due = self.since_train >= self.params.retrain_every.min(self.window.len() / 2);
        if self.window.len() >= self.params.min_train && due {
            self.retrain();
        }
    }

    fn correct(&mut self, job: &JobInfo, outlived: &Outlived) -> f64 {
        // a job the users' history estimated is corrected as the model's
        // are: Tsafrir's ladder for those was worse on the development
        // parts (docs/robustness.md)
        match self.params.correction {
            Correction::Ladder => UserHistory::default().correct(job, outlived),
            Correction::Double => outlived.estimate_s * 2.0,
        }
    }

    fn interval(&mut self, job: &JobInfo, estimate_s: f64) -> Option<Interval> {
        let raw = self.features.predicted(job)?;
        let floor = self.features.schema.runtime_floor_s;
        // the errors are the model's own: a shifted estimate's interval is
        // still taken around what the model said
        let at = if self.shift.is_some() { raw } else { estimate_s };
        self.residuals.conformal()?.around(at, floor, job.limit_s)
    }
}

/// The online predictor foresight's own candidate (`foresight`) runs: the
/// model, or the users' history while it has erred less lately by
/// Tsafrir's accuracy over the last 500 jobs that ended (chosen on the
/// logs' first quarters: docs/robustness.md).
pub const FORESIGHT_ONLINE: &str = "online@acc";

/// A predictor from a spec: `online` for an online model, with a model
/// kind after a colon (`online:gbt-under`) and options after `@`, each
/// optional: `@0.6` moves each estimate to that quantile of the model's
/// recent errors ([`OnlineParams::point_quantile`]); `@acc`, `@mae`,
/// `@log` or `@under` choose between the model and the users' history by
/// that loss ([`OnlineParams::select`]), over the last `@w<N>` jobs (500).
/// Any other spec is the path of a model file. `source_rows[key]` is the
/// table row of the run's job `key`.
pub fn predictor_from_spec(
    spec: &str,
    table: &JobTable,
    source_rows: &[u32],
) -> Result<Box<dyn Predictor>, ModelError> {
    if let Some(rest) = spec.strip_prefix("online") {
        let unknown = || ModelError::UnknownModel(spec.to_string());
        let mut parts = rest.split('@');
        let kind = match parts.next().unwrap_or("") {
            "" => ModelKind::Gbt,
            k => k.strip_prefix(':').ok_or_else(unknown)?.parse()?,
        };
        let mut params = OnlineParams { kind, ..OnlineParams::default() };
        for opt in parts {
            let window = opt.strip_prefix('w').and_then(|w| w.parse::<usize>().ok()).filter(|&w| w > 0);
            match (opt, window, opt.parse::<f64>()) {
                ("acc", ..) => params.select = Some(SelectLoss::Accuracy),
                ("mae", ..) => params.select = Some(SelectLoss::Absolute),
                ("log", ..) => params.select = Some(SelectLoss::Log),
                ("under", ..) => params.select = Some(SelectLoss::Under),
                (_, Some(w), _) => params.select_window = w,
                (_, None, Ok(q)) if q > 0.0 && q < 1.0 => params.point_quantile = Some(q),
                _ => return Err(unknown()),
            }
        }
        return Ok(Box::new(OnlinePredictor::new(table, source_rows, params)));
    }
    let file = ModelFile::load(Path::new(spec))?;
    Ok(Box::new(FilePredictor::new(file, table, source_rows)))
}

#[cfg(test)]
#[path = "online_tests.rs"]
mod tests;
