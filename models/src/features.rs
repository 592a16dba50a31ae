//! The features of a job at its submission: its request, the calendar, its
//! name's tokens and submitted features (the static part, from the job row
//! alone), and what the cluster's history says by then (the dynamic part,
//! from [`History`], which learns only from jobs that have ended).
//!
//! Offline (training, evaluation) and online (inside a simulation) use the
//! same code: [`Schema::static_row`] plus [`History::fill`], so a model sees
//! the same features in both places.
//!
//! The calendar columns (hour, weekday) are the site's local time of the
//! submission. Offline, job times are trace seconds (from the trace's
//! epoch): local time is `submit + epoch + tz`. Live, the orchestrator
//! reports Unix seconds: local time is `submit + tz`. The schema keeps the
//! epoch and the zone apart so that both clocks land on the same calendar
//! ([`Calendar`]).

use crate::history::History;
use crate::invalid::{InvalidModel, MAX_SUBMITTED_FEATURES, Problem, at_most, finite};
use crate::matrix::Matrix;
use foresight_core::{FeatureValue, Job, TraceMeta};
use foresight_datasets::gpujobs::OBSERVED_COLUMNS;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Submitted-looking columns that are only known once a job starts (the
/// SWF log's allocated processors): never features.
pub const KNOWN_AT_START: [&str; 1] = ["alloc_cpus"];

/// Buckets user, queue and text values are hashed into.
pub const CATEGORY_BUCKETS: u64 = 1024;

/// Buckets the tokens of a job's name are hashed into.
pub const NAME_BUCKETS: usize = 8;

/// Names of the static features, in row order, before the submitted ones.
pub const STATIC_NAMES: [&str; 10] =
    ["log_req_time", "log_req_cpus", "log_req_gpus", "log_req_nodes", "log_req_mem", "hour", "weekday", "queue", "user", "name"];

/// What a model's rows contain: fixed columns, one column per submitted
/// feature of the training table, and the history columns. Stored in model
/// files so that a model is only ever fed the columns it was trained on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Submitted numeric features (log-scaled in rows).
    pub numeric: Vec<String>,
    /// Submitted text features (each value is hashed into
    /// [`CATEGORY_BUCKETS`], so no vocabulary depends on the table).
    pub text: Vec<String>,
    /// Unix time of the training trace's time zero
    /// ([`TraceMeta::epoch_unix_s`]); `None` when the trace did not say
    /// (the calendar then counts from its start, and cannot be served
    /// live).
    #[serde(default)]
    pub epoch_unix_s: Option<f64>,
    /// The site's offset from UTC in seconds ([`TraceMeta::tz_offset_s`]);
    /// `None` when the trace did not say (UTC is assumed, offline and
    /// live).
    #[serde(default)]
    pub tz_offset_s: Option<i32>,
    /// Only in files written before the epoch and the zone were kept
    /// apart: their sum, the seconds from trace time to local time. Such a
    /// file featurises trace times as before but cannot be served live
    /// ([`Schema::live_calendar`]). Never written.
    #[serde(default, rename = "calendar_offset_s", skip_serializing_if = "Option::is_none")]
    pub combined_offset_s: Option<f64>,
    /// The trace's runtime resolution: 1 s when every runtime is a whole
    /// number of seconds (SWF logs), else 1 ms. Shorter runtimes count as
    /// it on the log scale.
    pub runtime_floor_s: f64,
}

impl Schema {
    /// The schema of a training table: every submitted feature that is not
    /// measured during the run (`OBSERVED_COLUMNS`), numeric when all its
    /// values are numbers.
    pub fn from_jobs(meta: &TraceMeta, jobs: &[Job]) -> Schema {
        let mut numeric = BTreeSet::new();
        let mut text = BTreeSet::new();
        for job in jobs {
            for (k, v) in &job.features {
                if OBSERVED_COLUMNS.contains(&k.as_str()) || KNOWN_AT_START.contains(&k.as_str()) {
                    continue;
                }
                match v {
                    FeatureValue::Num(_) => {
                        numeric.insert(k.clone());
                    }
                    FeatureValue::Text(_) => {
                        text.insert(k.clone());
                    }
                }
            }
        }
        for k in &text {
            numeric.remove(k);
        }
        Schema {
            numeric: numeric.into_iter().collect(),
            text: text.into_iter().collect(),
            epoch_unix_s: meta.epoch_unix_s,
            tz_offset_s: meta.tz_offset_s,
            combined_offset_s: None,
            runtime_floor_s: runtime_floor(jobs),
        }
    }

    /// All column names, in row order.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = STATIC_NAMES.iter().map(|s| s.to_string()).collect();
        names.extend((0..NAME_BUCKETS).map(|i| format!("name_token_{i}")));
        names.extend(self.numeric.iter().map(|n| format!("log_{n}")));
        names.extend(self.text.iter().cloned());
        names.extend(crate::history::HISTORY_NAMES.iter().map(|s| s.to_string()));
        names
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        STATIC_NAMES.len() + NAME_BUCKETS + self.numeric.len() + self.text.len() + crate::history::HISTORY_NAMES.len()
    }

    /// The calendar of the training trace's times (trace seconds), as
    /// training and evaluation featurise them.
    pub fn trace_calendar(&self) -> Calendar {
        match self.combined_offset_s {
            Some(offset) => Calendar { to_unix_s: offset, tz_offset_s: 0.0 },
            None => Calendar {
                to_unix_s: self.epoch_unix_s.unwrap_or(0.0),
                tz_offset_s: f64::from(self.tz_offset_s.unwrap_or(0)),
            },
        }
    }

    /// The calendar of Unix times (what a live orchestrator reports) that
    /// gives a job the hour and weekday training gave a job submitted at
    /// the same instant. An error when the schema cannot say: a file
    /// holding only the combined offset of older versions, or a training
    /// trace without an epoch.
    pub fn live_calendar(&self) -> Result<Calendar, CalendarError> {
        if let Some(offset_s) = self.combined_offset_s {
            return Err(CalendarError::Combined { offset_s });
        }
        if self.epoch_unix_s.is_none() {
            return Err(CalendarError::NoEpoch);
        }
        Ok(Calendar { to_unix_s: 0.0, tz_offset_s: f64::from(self.tz_offset_s.unwrap_or(0)) })
    }

    /// The static part of a job's row on the training trace's clock (the
    /// history columns are NaN until [`History::fill`] sets them). Missing
    /// values are NaN.
    pub fn static_row(&self, job: &Job) -> Vec<f64> {
        let mut row = vec![f64::NAN; self.width()];
        self.fill_static(job, &mut row);
        row
    }

    /// Writes the static part of `job`'s row, its times on the training
    /// trace's clock, into `row` (`width` long) and NaN into its history
    /// columns.
    pub fn fill_static(&self, job: &Job, row: &mut [f64]) {
        self.fill_static_on(self.trace_calendar(), job, row);
    }

    /// [`Schema::fill_static`] with `job`'s times on `calendar`.
    pub fn fill_static_on(&self, calendar: Calendar, job: &Job, row: &mut [f64]) {
        assert_eq!(row.len(), self.width(), "a row of the schema's width");
        let log = |v: Option<f64>| v.map_or(f64::NAN, |x| x.max(0.0).ln_1p());
        let (hour, weekday) = calendar.hour_and_weekday(job.submit_s);
        row[..STATIC_NAMES.len()].copy_from_slice(&[
            log(job.req_time_s),
            log(job.req_cpus.map(f64::from)),
            log(job.req_gpus.map(f64::from)),
            log(job.req_nodes.map(f64::from)),
            log(job.req_mem_mb.map(|m| m as f64)),
            hour,
            weekday,
            category(job.queue.as_deref()),
            category(job.user.as_deref()),
            category(job.name.as_deref()),
        ]);
        let rest = &mut row[STATIC_NAMES.len()..];
        let (buckets, rest) = rest.split_at_mut(NAME_BUCKETS);
        buckets.fill(0.0);
        for token in tokens(job.name.as_deref().unwrap_or("")) {
            buckets[(fnv1a(token) % NAME_BUCKETS as u64) as usize] += 1.0;
        }
        let (numeric, rest) = rest.split_at_mut(self.numeric.len());
        for (out, n) in numeric.iter_mut().zip(&self.numeric) {
            *out = match job.features.get(n) {
                Some(FeatureValue::Num(x)) => x.max(0.0).ln_1p(),
                _ => f64::NAN,
            };
        }
        let (text, rest) = rest.split_at_mut(self.text.len());
        for (out, n) in text.iter_mut().zip(&self.text) {
            *out = match job.features.get(n) {
                Some(FeatureValue::Text(t)) => category(Some(t)),
                _ => f64::NAN,
            };
        }
        rest.fill(f64::NAN);
    }

    /// The column holding the job name's hash.
    pub const NAME_COLUMN: usize = 9;

    /// Columns holding hashed categories (queue, user, name, submitted
    /// text).
    pub fn categorical_columns(&self) -> Vec<usize> {
        let text = STATIC_NAMES.len() + NAME_BUCKETS + self.numeric.len();
        [7, 8, 9].into_iter().chain(text..text + self.text.len()).collect()
    }

    /// The offset of the history columns in a row.
    pub fn history_offset(&self) -> usize {
        self.width() - crate::history::HISTORY_NAMES.len()
    }

    /// Checks a schema read from a file: at most
    /// [`MAX_SUBMITTED_FEATURES`] submitted features (each is a column of
    /// every row kept for a waiting job), a positive finite runtime floor
    /// (the log of runtimes below it), and finite calendar offsets.
    pub(crate) fn check(&self) -> Result<(), InvalidModel> {
        let bad = |p| InvalidModel::new("schema", p);
        at_most("numeric and text", self.numeric.len() + self.text.len(), MAX_SUBMITTED_FEATURES).map_err(bad)?;
        let floor = self.runtime_floor_s;
        if !(floor.is_finite() && floor > 0.0) {
            return Err(bad(Problem::BadNumber { field: "runtime_floor_s".into(), value: floor, expected: "not a positive finite number" }));
        }
        if let Some(epoch) = self.epoch_unix_s {
            finite(|| "epoch_unix_s".into(), epoch).map_err(bad)?;
        }
        if let Some(offset) = self.combined_offset_s {
            finite(|| "calendar_offset_s".into(), offset).map_err(bad)?;
        }
        Ok(())
    }
}

/// How a job's times map onto the site's local calendar: local time is
/// `(t + to_unix_s) + tz_offset_s` (two additions, in that order, so that
/// a trace time and the Unix time computed from it land on the same local
/// time bit for bit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calendar {
    /// Seconds from the clock's times to Unix time: the trace's epoch for
    /// trace seconds, zero for Unix seconds.
    pub to_unix_s: f64,
    /// The site's offset from UTC, in seconds.
    pub tz_offset_s: f64,
}

impl Calendar {
    /// The local hour (0 to 23) and weekday (0 is Monday) of time `t`.
    pub fn hour_and_weekday(&self, t: f64) -> (f64, f64) {
        let local = (t + self.to_unix_s) + self.tz_offset_s;
        // Day 0 of the Unix epoch was a Thursday: weekday 0 is Monday.
        ((local.rem_euclid(86_400.0) / 3600.0).floor(), ((local / 86_400.0).floor() + 3.0).rem_euclid(7.0))
    }
}

/// Why a schema's calendar cannot be used on Unix times (live).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalendarError {
    /// A model file from before the epoch and the zone were stored apart.
    #[error(
        "the model file stores only a combined calendar offset ({offset_s} s, the trace's epoch plus its time zone), \
         so live Unix times cannot be given the hours and weekdays it was trained on; retrain it with `foresight train`"
    )]
    Combined {
        /// The combined offset the file holds.
        offset_s: f64,
    },
    /// The training trace had no epoch.
    #[error(
        "the model was trained on a trace with no epoch (its hours count from the trace's start), \
         so live Unix times cannot be given the hours and weekdays it was trained on"
    )]
    NoEpoch,
}

/// Seconds from trace time to local calendar time: the epoch plus the time
/// zone, or zero when the trace does not say (hours then count from its
/// start).
pub fn calendar_offset(meta: &TraceMeta) -> f64 {
    meta.epoch_unix_s.unwrap_or(0.0) + f64::from(meta.tz_offset_s.unwrap_or(0))
}

/// 1 s when every known runtime is a whole number of seconds, else 1 ms.
pub fn runtime_floor(jobs: &[Job]) -> f64 {
    let whole = jobs.iter().filter_map(|j| j.runtime_s).all(|r| r.fract() == 0.0);
    if whole { 1.0 } else { 1e-3 }
}

fn category(value: Option<&str>) -> f64 {
    value.map_or(f64::NAN, |v| (fnv1a(v) % CATEGORY_BUCKETS) as f64)
}

/// The tokens of a job name: runs of letters (digits and punctuation split
/// them), lowercased by the hash.
pub fn tokens(name: &str) -> impl Iterator<Item = &str> {
    name.split(|c: char| !c.is_alphabetic()).filter(|t| !t.is_empty())
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x100_0000_01b3))
}

/// Feature rows for every job of a table, each from what was known at its
/// submission: jobs are visited in submission order and a job's runtime
/// enters the history only once its end is before the submission being
/// featurised (an end at the same instant comes after, as in the
/// simulator). Rows are in table order.
pub fn build_rows(schema: &Schema, jobs: &[Job], telemetry: &crate::history::JobTelemetry) -> Vec<Vec<f64>> {
    build_matrix(schema, jobs, telemetry).to_rows()
}

/// [`build_rows`] into one flat matrix (row `i` is job `i`'s).
pub fn build_matrix(schema: &Schema, jobs: &[Job], telemetry: &crate::history::JobTelemetry) -> Matrix {
    let mut history = History::new(schema.history_offset(), schema.runtime_floor_s);
    let mut rows = Matrix::nan(schema.width(), jobs.len());
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|&a, &b| jobs[a].submit_s.total_cmp(&jobs[b].submit_s));
    // Departures from the queue (a start or, for a job cancelled while it
    // waited, its end: the live predictor's `forget`) and ends, in time
    // order; each is applied before the first submission strictly after it.
    let mut events: Vec<(f64, bool, usize)> = Vec::with_capacity(2 * jobs.len());
    for (i, j) in jobs.iter().enumerate() {
        if let Some(left) = j.start_s.or(j.end_s) {
            events.push((left, false, i));
        }
        if let (Some(e), Some(_)) = (j.end_s, j.runtime_s) {
            events.push((e, true, i));
        }
    }
    // Stable: equal events keep table order.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut next = 0;
    for &i in &order {
        let job = &jobs[i];
        while next < events.len() && events[next].0 < job.submit_s {
            let (t, is_end, k) = events[next];
            if is_end {
                let rt = jobs[k].runtime_s.unwrap_or(0.0);
                history.observe_end(&jobs[k], rt, telemetry.get(&jobs[k].job_id), t);
            } else if jobs[k].start_s.is_some() {
                history.observe_start(&jobs[k]);
            } else {
                history.observe_withdraw(&jobs[k]);
            }
            next += 1;
        }
        let row = rows.row_mut(i);
        schema.fill_static(job, row);
        history.fill(job, row);
        history.observe_submit(job);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_cancelled_while_pending_leaves_the_queue_at_its_end() {
        let job = |id: &str, submit_s: f64, start_s: Option<f64>, end_s: Option<f64>| Job {
            job_id: id.into(),
            submit_s,
            start_s,
            end_s,
            runtime_s: start_s.zip(end_s).map(|(s, e)| e - s),
            req_cpus: Some(4),
            req_time_s: Some(600.0),
            ..Job::default()
        };
        let cancelled = job("a", 0.0, None, Some(50.0));
        let (during, after) = (job("b", 10.0, Some(20.0), Some(30.0)), job("c", 100.0, None, None));
        let schema = Schema::from_jobs(&TraceMeta::default(), &[]);
        let queue = |rows: &Matrix, i: usize| {
            let at = schema.history_offset() + crate::history::HISTORY_NAMES.iter().position(|n| *n == "cluster_pending").unwrap();
            (rows.row(i)[at], rows.row(i)[at + 1])
        };
        let with = build_matrix(&schema, &[cancelled, during.clone(), after.clone()], &Default::default());
        let without = build_matrix(&schema, &[during, after], &Default::default());
        assert_eq!(queue(&with, 1).0, 1.0, "it waits until its cancellation");
        assert_eq!(queue(&with, 2), queue(&without, 1), "then it is gone, as if it never came");
    }

    #[test]
    fn static_rows_hold_request_calendar_and_submitted_features() {
        let mut job = Job { submit_s: 86_400.0 * 4.0 + 3.5 * 3600.0, req_time_s: Some(99.0), ..Job::default() };
        job.name = Some("train_transformer-7".into());
        job.features.insert("d_model".into(), FeatureValue::Num(511.0));
        job.features.insert("dtype".into(), FeatureValue::Text("bf16".into()));
        job.features.insert("peak_mem_mib".into(), FeatureValue::Num(9.0));
        let schema = Schema::from_jobs(&TraceMeta::default(), std::slice::from_ref(&job));
        assert_eq!(schema.numeric, vec!["d_model".to_string()], "observed columns are never features");
        let row = schema.static_row(&job);
        let names = schema.names();
        assert_eq!(row.len(), names.len());
        let at = |n: &str| row[names.iter().position(|x| x == n).unwrap()];
        assert_eq!(at("log_req_time"), 100f64.ln());
        assert_eq!(at("hour"), 3.0);
        assert_eq!(at("weekday"), 0.0, "1970-01-05 was a Monday");
        assert_eq!(at("log_d_model"), 512f64.ln());
        assert_eq!(at("dtype"), category(Some("bf16")));
        assert!(at("log_req_cpus").is_nan());
        let tokens_seen: f64 = (0..NAME_BUCKETS).map(|i| at(&format!("name_token_{i}"))).sum();
        assert_eq!(tokens_seen, 2.0);
    }
}
