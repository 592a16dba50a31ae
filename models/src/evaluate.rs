//! Training and evaluation split by time, always: a model is trained on
//! jobs that had *ended* before the split instant (the submission of the
//! first test job) and tested on the jobs submitted from then on, each
//! featurised from what was known at its own submission. An evaluation
//! also holds what a report draws: accuracy per user, hourly arrivals in
//! the test window against the demand forecasts, and the model's feature
//! importances.

use crate::ModelError;
use crate::classifier::{ClassifierMetrics, FailureModel};
use crate::demand::{DemandForecast, Quantity, forecast_after, hourly};
use crate::features::{Schema, build_rows, calendar_offset};
use crate::file::{ModelFile, TrainingWindow, WindowError};
use crate::history::JobTelemetry;
use crate::interval::{Conformal, DEFAULT_NOMINAL, IntervalCoverage, log_error};
use crate::metrics::{RuntimeMetrics, UserAccuracy, by_user};
use crate::runtime::{ModelKind, RuntimeModel};
use foresight_core::Job;
use foresight_datasets::JobTable;
use serde::{Deserialize, Serialize};

/// Where a trace is split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitOptions {
    /// Share of jobs, by submission time, before the split.
    pub train_fraction: f64,
}

impl Default for SplitOptions {
    fn default() -> Self {
        Self { train_fraction: 0.7 }
    }
}

/// A split of a trace by submission time.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSplit {
    /// The split instant: the first test job's submission (infinite when
    /// every job is before it).
    pub split_s: f64,
    /// Rows of finished jobs that ended strictly before the split.
    pub train: Vec<usize>,
    /// Rows of finished jobs submitted at or after the split.
    pub test: Vec<usize>,
}

/// Splits `jobs` so that the first `fraction` of them (by submission) come
/// before the split.
pub fn time_split(jobs: &[Job], fraction: f64) -> TimeSplit {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|&a, &b| jobs[a].submit_s.total_cmp(&jobs[b].submit_s));
    let k = ((jobs.len() as f64 * fraction.clamp(0.0, 1.0)).floor() as usize).min(jobs.len());
    let split_s = order.get(k).map_or(f64::INFINITY, |&i| jobs[i].submit_s);
    let ended = |j: &Job| j.runtime_s.is_some() && end_of(j).is_some_and(|e| e < split_s);
    let train = order.iter().copied().filter(|&i| jobs[i].submit_s < split_s && ended(&jobs[i])).collect();
    let test = order.iter().copied().filter(|&i| jobs[i].submit_s >= split_s && jobs[i].runtime_s.is_some()).collect();
    TimeSplit { split_s, train, test }
}

/// When a job ended: its end, or its start plus its runtime; `None` when
/// its start is not known.
fn end_of(j: &Job) -> Option<f64> {
    j.end_s.or(j.start_s.zip(j.runtime_s).map(|(s, r)| s + r))
}

/// Trains a model of `kind` (and the failure classifier) on the first
/// `fraction` of `table`, by time.
pub fn train(
    table: &JobTable,
    kind: ModelKind,
    telemetry: &JobTelemetry,
    opts: SplitOptions,
) -> Result<ModelFile, ModelError> {
    let split = time_split(&table.jobs, opts.train_fraction);
    let past: Vec<Job> = table.jobs.iter().filter(|j| j.submit_s < split.split_s).cloned().collect();
    let schema = Schema::from_jobs(&table.meta, &past);
    let rows = build_rows(&schema, &table.jobs, telemetry);
    train_on(table, kind, &schema, &rows, &split)
}

fn train_on(
    table: &JobTable,
    kind: ModelKind,
    schema: &Schema,
    rows: &[Vec<f64>],
    split: &TimeSplit,
) -> Result<ModelFile, ModelError> {
    if split.train.is_empty() {
        return Err(ModelError::NoTrainingData);
    }
    let x: Vec<Vec<f64>> = split.train.iter().map(|&i| rows[i].clone()).collect();
    let y: Vec<f64> = split.train.iter().map(|&i| table.jobs[i].runtime_s.unwrap_or(0.0)).collect();
    // `auto`'s pick is made once, here, so that the calibration model is
    // of the kind served (the same model `RuntimeModel::train` would give)
    let served = match kind {
        ModelKind::Auto if !x.is_empty() => RuntimeModel::auto_choice(schema, &crate::Matrix::from_rows(&x), &y),
        k => k,
    };
    let runtime = RuntimeModel::train(served, schema, &x, &y)?;
    let failure = FailureModel::train(&table.jobs, &split.train, rows);
    let interval = calibrate(table, served, schema, rows, &split.train);
    let jobs = &table.jobs;
    let first_submit_s = split.train.iter().map(|&i| jobs[i].submit_s).fold(f64::INFINITY, f64::min);
    // Trained on every job, the window ends when the last job trained on did.
    let end_s = if split.split_s.is_finite() {
        split.split_s
    } else {
        split.train.iter().filter_map(|&i| end_of(&jobs[i])).fold(f64::NEG_INFINITY, f64::max)
    };
    let unix = |t: f64| table.meta.epoch_unix_s.map(|e| e + t).filter(|u| u.is_finite());
    let window = TrainingWindow {
        trace: table.meta.source.clone(),
        first_submit_s,
        split_s: split.split_s,
        jobs: split.train.len(),
        first_submit_unix_s: unix(first_submit_s),
        end_unix_s: unix(end_s),
    };
    let mut file = ModelFile::new(kind, schema.clone(), window, runtime, failure);
    file.interval = interval;
    Ok(file)
}

/// The share of the training window, by submission, whose jobs calibrate
/// the runtime interval.
pub const CALIBRATION_FRACTION: f64 = 0.2;

/// The interval's calibration for a model of `kind` (never `auto`: the
/// kind it picked) trained on `train`
/// (rows in submission order): a calibration model of the same kind is
/// trained on the jobs of the first 80 % of the window that ended before
/// its last 20 % began, and its log errors on that last 20 % give the
/// quantiles ([`Conformal::from_errors`], nominal [`DEFAULT_NOMINAL`]).
/// The model served is trained on the whole window, as before: its point
/// predictions do not change, and the interval is that of a model trained
/// on a little less (so, if anything, a little wide). `None` when the
/// window is too small.
fn calibrate(
    table: &JobTable,
    kind: ModelKind,
    schema: &Schema,
    rows: &[Vec<f64>],
    train: &[usize],
) -> Option<Conformal> {
    let jobs = &table.jobs;
    let k = (train.len() as f64 * (1.0 - CALIBRATION_FRACTION)).floor() as usize;
    let calibration = train.get(k..).filter(|c| !c.is_empty())?;
    let from = jobs[calibration[0]].submit_s;
    let fit: Vec<usize> = train[..k].iter().copied().filter(|&i| end_of(&jobs[i]).is_some_and(|e| e < from)).collect();
    if fit.is_empty() {
        return None;
    }
    let x: Vec<Vec<f64>> = fit.iter().map(|&i| rows[i].clone()).collect();
    let y: Vec<f64> = fit.iter().map(|&i| jobs[i].runtime_s.unwrap_or(0.0)).collect();
    let model = RuntimeModel::train(kind, schema, &x, &y).ok()?;
    let floor = schema.runtime_floor_s;
    let mut errors: Vec<f64> = calibration
        .iter()
        .map(|&i| {
            let p = model.predict(schema, &rows[i]);
            log_error(jobs[i].runtime_s.unwrap_or(0.0), p, floor)
        })
        .collect();
    Conformal::from_errors(&mut errors, DEFAULT_NOMINAL)
}

/// A model's scores on the test part, with its baselines on the same jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The model evaluated.
    pub model: String,
    /// The split instant: where the model's training window ends, in the
    /// evaluated trace's seconds (negative when that trace starts after
    /// the window).
    #[serde(deserialize_with = "crate::file::null_float::infinity")]
    pub split_s: f64,
    /// Finished jobs trained on.
    pub train_jobs: usize,
    /// The model's runtime metrics on the test jobs.
    pub runtime: RuntimeMetrics,
    /// The requested time's metrics on the same jobs.
    pub requested: RuntimeMetrics,
    /// EASY++'s (mean of the user's last two runtimes).
    pub easy_plus_plus: RuntimeMetrics,
    /// The failure/time-out classifier against the user-history baseline.
    pub classifier: Option<ClassifierMetrics>,
    /// Accuracy per user, the model's and EASY++'s (the users with the most
    /// test jobs first; see [`crate::metrics::MAX_USERS`]).
    #[serde(default)]
    pub by_user: Vec<UserAccuracy>,
    /// Jobs submitted per hour in the test window against the demand
    /// forecaster and the seasonal-naive forecasts.
    #[serde(default)]
    pub demand: Option<DemandForecast>,
    /// The model's feature importances, most important first (empty for
    /// models without them).
    #[serde(default)]
    pub importances: Vec<FeatureImportance>,
    /// How often the model's runtime interval held the test jobs'
    /// runtimes (absent for a model without an interval, and in files
    /// written before intervals were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IntervalCoverage>,
}

/// How much a model relies on one feature (gain for boosted trees, the
/// absolute standardised coefficient for linear models).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureImportance {
    /// The feature's name in the schema.
    pub feature: String,
    /// Its importance (comparable only within one model).
    pub importance: f64,
}

/// `model`'s importances, finite ones only, most important first (ties by name).
fn importances(model: &ModelFile) -> Vec<FeatureImportance> {
    let mut v: Vec<FeatureImportance> = model
        .runtime
        .feature_importances(&model.schema)
        .into_iter()
        .filter(|(_, g)| g.is_finite())
        .map(|(feature, importance)| FeatureImportance { feature, importance })
        .collect();
    v.sort_by(|a, b| b.importance.total_cmp(&a.importance).then_with(|| a.feature.cmp(&b.feature)));
    v
}

/// Jobs submitted per hour from the split on, against the demand forecasts
/// trained on the hours before it.
fn demand(table: &JobTable, split_s: f64) -> Option<DemandForecast> {
    let offset = calendar_offset(&table.meta);
    let series = hourly(&table.jobs, Quantity::Jobs, offset, |_| true);
    let split_hour = ((split_s + offset) / 3600.0).floor();
    if !split_hour.is_finite() {
        return None;
    }
    let split = (split_hour as i64 - series.first_hour).max(0) as usize;
    forecast_after(&series, Quantity::Jobs, split)
}

impl std::fmt::Display for Evaluation {
    /// A table: one row per predictor, one column per metric.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A window placed from Unix time may end a rounding error before 0.
        let split_s = if self.split_s.abs() < 0.5 { 0.0 } else { self.split_s };
        writeln!(
            f,
            "split at {split_s:.0} s; trained on {} finished jobs; tested on {}",
            self.train_jobs, self.runtime.n
        )?;
        writeln!(f, "{:<16} {:>12} {:>9} {:>9} {:>8}", "predictor", "MAE s", "MdAPE %", "accuracy", "under %")?;
        for (name, m) in
            [(self.model.as_str(), &self.runtime), ("requested", &self.requested), ("easy++", &self.easy_plus_plus)]
        {
            writeln!(
                f,
                "{name:<16} {:>12.1} {:>9.1} {:>9.3} {:>8.1}",
                m.mae_s,
                m.mdape * 100.0,
                m.accuracy,
                m.under_rate * 100.0
            )?;
        }
        writeln!(f, "calibration of {} (by predicted quintile: median predicted -> median actual, s):", self.model)?;
        for b in &self.runtime.calibration {
            writeln!(f, "  {:>12.1} -> {:>12.1}  ({} jobs)", b.median_predicted_s, b.median_actual_s, b.n)?;
        }
        if let Some(c) = &self.interval {
            writeln!(
                f,
                "interval of {} (nominal {:.0} %, calibrated on {} jobs): {:.1} % of {} jobs inside, {:.1} % below, {:.1} % above; median width (hi/lo) {:.2}",
                self.model,
                c.nominal * 100.0,
                c.calibration_jobs,
                c.coverage * 100.0,
                c.n,
                c.below * 100.0,
                c.above * 100.0,
                c.median_ratio
            )?;
            writeln!(f, "  coverage by quartile of the estimate:")?;
            for b in &c.by_quartile {
                writeln!(
                    f,
                    "  {:>12.1} .. {:>12.1} s  {:>5.1} %  ({} jobs)",
                    b.min_estimate_s,
                    b.max_estimate_s,
                    b.coverage * 100.0,
                    b.n
                )?;
            }
        }
        if let Some(c) = &self.classifier {
            writeln!(
                f,
                "failure/time-out AUC {:.3} (user-history baseline {:.3}; {:.1}% of {} jobs)",
                c.auc,
                c.baseline_auc,
                c.positive_rate * 100.0,
                c.n
            )?;
        }
        Ok(())
    }
}

/// Where a model's training window falls on a trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// The window's end in the trace's seconds: jobs submitted from then
    /// on are scored.
    pub split_s: f64,
    /// Whether the trace is on the training trace's own clock (the same
    /// trace, or one with the same epoch).
    pub same_clock: bool,
    /// Finished jobs of the trace submitted before the window's end (not
    /// scored).
    pub inside: usize,
    /// Finished jobs submitted from the window's end on (scored).
    pub after: usize,
}

/// Places `model`'s training window on `table`'s clock, in Unix time (see
/// [`TrainingWindow::end_on`]), and counts the finished jobs on either side.
pub fn place_window(table: &JobTable, model: &ModelFile) -> Result<Placement, WindowError> {
    let epoch = model.schema.epoch_unix_s;
    let split_s = model.training.end_on(epoch, &table.meta)?;
    let finished = || table.jobs.iter().filter(|j| j.runtime_s.is_some());
    let after = finished().filter(|j| j.submit_s >= split_s).count();
    Ok(Placement {
        split_s,
        same_clock: epoch == table.meta.epoch_unix_s && (epoch.is_some() || model.training.trace == table.meta.source),
        inside: finished().count() - after,
        after,
    })
}

/// Evaluates `model` on the jobs of `table` submitted at or after the end
/// of its training window, placed on `table`'s clock by
/// [`place_window`]: its split instant on its own trace, its end in Unix
/// time on another. A window that cannot be placed leaves no job to score
/// ([`place_window`] says why).
pub fn evaluate(table: &JobTable, model: &ModelFile, telemetry: &JobTelemetry) -> Result<Evaluation, ModelError> {
    let rows = build_rows(&model.schema, &table.jobs, telemetry);
    let split_s = place_window(table, model).map_or(f64::INFINITY, |p| p.split_s);
    let test: Vec<usize> = (0..table.jobs.len())
        .filter(|&i| table.jobs[i].submit_s >= split_s && table.jobs[i].runtime_s.is_some())
        .collect();
    if test.is_empty() {
        return Err(ModelError::NoTestData);
    }
    let actual: Vec<f64> = test.iter().map(|&i| table.jobs[i].runtime_s.unwrap_or(0.0)).collect();
    let floor = model.schema.runtime_floor_s;
    let predict = |m: &RuntimeModel| test.iter().map(|&i| m.predict(&model.schema, &rows[i])).collect::<Vec<f64>>();
    let (p_model, p_easy) = (predict(&model.runtime), predict(&RuntimeModel::UserHistory));
    let interval = model.interval.as_ref().and_then(|c| {
        // as a runtime serves it: around the estimate clamped to the
        // request, capped there
        let limits: Vec<f64> =
            test.iter().map(|&i| table.jobs[i].req_time_s.filter(|t| *t > 0.0).unwrap_or(f64::INFINITY)).collect();
        let estimates: Vec<f64> =
            p_model.iter().zip(&limits).map(|(&p, &l)| if p.is_nan() { l } else { p.clamp(0.0, l) }).collect();
        IntervalCoverage::of(c, &estimates, &actual, &limits, floor)
    });
    let users: Vec<&str> = test.iter().map(|&i| table.jobs[i].user.as_deref().unwrap_or("(none)")).collect();
    Ok(Evaluation {
        model: model.kind.to_string(),
        split_s,
        train_jobs: model.training.jobs,
        runtime: RuntimeMetrics::of(&p_model, &actual, floor),
        requested: RuntimeMetrics::of(&predict(&RuntimeModel::Requested), &actual, floor),
        easy_plus_plus: RuntimeMetrics::of(&p_easy, &actual, floor),
        classifier: model.failure.as_ref().map(|f| f.evaluate(&model.schema, &table.jobs, &test, &rows)),
        by_user: by_user(&users, &p_model, &p_easy, &actual, floor),
        demand: demand(table, split_s),
        importances: importances(model),
        interval,
    })
}

/// Trains a model of `kind` on the first part of `table` and evaluates it
/// on the rest.
pub fn train_and_evaluate(
    table: &JobTable,
    kind: ModelKind,
    telemetry: &JobTelemetry,
    opts: SplitOptions,
) -> Result<(ModelFile, Evaluation), ModelError> {
    let mut file = train(table, kind, telemetry, opts)?;
    let eval = evaluate(table, &file, telemetry)?;
    file.metrics = Some(eval.clone());
    Ok((file, eval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_trains_only_on_jobs_ended_before_it() {
        let job = |submit: f64, runtime: f64| Job {
            submit_s: submit,
            start_s: Some(submit),
            end_s: Some(submit + runtime),
            runtime_s: Some(runtime),
            ..Job::default()
        };
        let jobs = vec![job(0.0, 1.0), job(1.0, 100.0), job(2.0, 1.0), job(3.0, 1.0), job(4.0, 1.0)];
        let s = time_split(&jobs, 0.6);
        assert_eq!(s.split_s, 3.0);
        assert_eq!(s.train, vec![0], "job 1 ends after the split, job 2 at it");
        assert_eq!(s.test, vec![3, 4]);
    }

    /// The embedded H100 log cut in two by submission time, each half on
    /// its own clock (epoch at its first submission), as two files of the
    /// same cluster would be read.
    fn halves() -> (JobTable, JobTable) {
        let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
        let mut jobs = table.jobs.clone();
        jobs.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
        let second = jobs.split_off(jobs.len() / 2);
        let half = |jobs: Vec<Job>, name: &str| {
            let mut t = JobTable { meta: table.meta.clone(), jobs };
            t.meta.source = name.into();
            t.rebase_to_first_submit();
            t
        };
        (half(jobs, "a.csv"), half(second, "b.csv"))
    }

    #[test]
    fn a_model_trained_on_all_of_one_trace_is_scored_on_the_next_in_unix_time() {
        let (a, b) = halves();
        let model = train(&a, ModelKind::Gbt, &JobTelemetry::new(), SplitOptions { train_fraction: 1.0 }).unwrap();
        assert!(model.training.split_s.is_infinite(), "no split: trained on every job of a");
        let last_end = a.jobs.iter().filter_map(end_of).fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(model.training.end_unix_s, Some(a.meta.epoch_unix_s.unwrap() + last_end));
        let placed = place_window(&b, &model).unwrap();
        assert!(!placed.same_clock);
        let finished = b.jobs.iter().filter(|j| j.runtime_s.is_some()).count();
        assert_eq!(placed.after + placed.inside, finished);
        let e = evaluate(&b, &model, &JobTelemetry::new()).unwrap();
        assert_eq!(e.runtime.n, placed.after);
        assert!(placed.after + 1 >= finished, "the jobs ran back to back: at most the first of b overlaps a's last");

        // On a itself the window holds every job: nothing to score.
        assert_eq!(place_window(&a, &model).unwrap().after, 0);
        assert!(matches!(evaluate(&a, &model, &JobTelemetry::new()), Err(ModelError::NoTestData)));
    }

    #[test]
    fn files_without_the_unix_window_derive_it_from_the_split_or_refuse() {
        let (a, b) = halves();
        let (mut model, _) =
            train_and_evaluate(&a, ModelKind::Gbt, &JobTelemetry::new(), SplitOptions::default()).unwrap();
        let stored = model.training.end_on(model.schema.epoch_unix_s, &b.meta).unwrap();
        model.training.end_unix_s = None;
        let derived = model.training.end_on(model.schema.epoch_unix_s, &b.meta).unwrap();
        assert_eq!(derived, stored, "the split instant on the schema's epoch");
        assert_eq!(
            model.training.end_on(model.schema.epoch_unix_s, &a.meta),
            Ok(model.training.split_s),
            "its own clock, exactly"
        );

        model.training.split_s = f64::INFINITY;
        let err = model.training.end_on(model.schema.epoch_unix_s, &b.meta).unwrap_err();
        assert!(err.to_string().contains("retrain it with `foresight train`"), "{err}");
        let mut no_epoch = b.clone();
        no_epoch.meta.epoch_unix_s = None;
        model.training.end_unix_s = Some(1.0);
        assert!(matches!(
            model.training.end_on(model.schema.epoch_unix_s, &no_epoch.meta),
            Err(WindowError::NoTraceEpoch { .. })
        ));
    }
}
