//! The shadow report: what a shadow run's decision log showed, as the
//! controller's summary counted it. Its input is [`ShadowEvidence`], a
//! plain copy of that summary (this crate does not depend on the
//! controller; the `foresight log` command converts): decision cycles and
//! agreement with the baseline, prediction error over time, and the
//! counterfactual starts (how much earlier or later the candidate would
//! have started each job) as a CDF.

use crate::chart::axis::{Axis, time_unit};
use crate::chart::{Series, bar, line};
use crate::doc::{Block, Doc, Table};
use serde::{Deserialize, Serialize};

/// One time bucket of finished jobs' prediction errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBucket {
    /// Start of the bucket, Unix seconds.
    pub from_unix_s: f64,
    /// Finished jobs with a prediction in it.
    pub jobs: usize,
    /// Mean absolute error, seconds.
    pub mean_abs_error_s: f64,
    /// Mean signed error (positive: overestimates), seconds.
    pub mean_error_s: f64,
}

/// One point of a distribution: the share of jobs at or below a value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CdfPoint {
    /// The value, seconds.
    pub value_s: f64,
    /// Share of jobs at or below it, in [0, 1].
    pub fraction: f64,
}

/// What a shadow run showed: the numbers the report draws.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowEvidence {
    /// The report's title.
    pub title: String,
    /// The decision log read.
    pub log: String,
    /// Decision cycles.
    pub cycles: usize,
    /// Cycles where the candidate's decision stood.
    pub candidate_cycles: usize,
    /// Cycles decided by the baseline (breaker open or model failure).
    pub fallback_cycles: usize,
    /// Cycles where both decided and started the same jobs.
    pub agreeing_cycles: usize,
    /// Agreeing cycles over the cycles where both decided.
    pub agreement: Option<f64>,
    /// Finished jobs seen.
    pub finished_jobs: usize,
    /// Finished jobs with a prediction.
    pub predicted_jobs: usize,
    /// Mean absolute prediction error, seconds.
    pub mean_abs_error_s: Option<f64>,
    /// Width of the error buckets, seconds.
    pub bucket_s: f64,
    /// Prediction error over time.
    pub error_over_time: Vec<ErrorBucket>,
    /// Counterfactual start deltas (candidate minus actual), seconds, by job.
    pub counterfactual_s: Vec<(String, f64)>,
    /// The distribution of those deltas, ascending.
    pub counterfactual_cdf: Vec<CdfPoint>,
    /// Quantiles of those deltas (`fraction` is the quantile's level).
    pub counterfactual_quantiles: Vec<CdfPoint>,
    /// Mean of the deltas (negative: the candidate starts earlier).
    pub mean_counterfactual_s: Option<f64>,
    /// Circuit-breaker openings.
    pub breaker_openings: usize,
    /// Orchestrator outages.
    pub outages: usize,
    /// Finished jobs whose prediction came with an interval.
    #[serde(default)]
    pub interval_jobs: usize,
    /// The share of those that ran within their interval.
    #[serde(default)]
    pub interval_coverage: Option<f64>,
    /// What the controller did in advise and enforce modes, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting: Option<ActingEvidence>,
}

/// The acting side of a controller's run (advise and enforce modes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActingEvidence {
    /// Actions on Slurm that took effect.
    pub actions_taken: usize,
    /// Actions that failed.
    pub actions_failed: usize,
    /// Actions with no outcome in the log.
    pub actions_unresolved: usize,
    /// Accepted mode switches.
    pub mode_switches: usize,
    /// Changes refused for want of an operator's credential.
    pub refused: usize,
    /// Jobs proposed in advise mode.
    pub proposals: usize,
    /// Proposals approved.
    pub approvals: usize,
    /// Proposals overridden.
    pub overrides: usize,
    /// Mean wait of the approved jobs, seconds.
    pub approved_mean_wait_s: Option<f64>,
    /// Mean wait of the overridden jobs, seconds.
    pub overridden_mean_wait_s: Option<f64>,
    /// Finished jobs foresight decided on.
    pub decided_jobs: usize,
    /// Median time from submission to foresight's first decision, seconds.
    pub decision_delay_p50_s: Option<f64>,
    /// Its 99th percentile, seconds.
    pub decision_delay_p99_s: Option<f64>,
}

/// `v` seconds in words, or `n/a`.
fn seconds(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.1} s"))
}

/// The report as a document.
pub fn doc(e: &ShadowEvidence) -> Doc {
    let agreement = e.agreement.map_or("n/a".into(), |a| format!("{:.1}%", 100.0 * a));
    let starts = match e.mean_counterfactual_s {
        Some(d) if d < 0.0 => format!("would have started jobs {:.1} s earlier on average", -d),
        Some(d) if d > 0.0 => format!("would have started jobs {d:.1} s later on average"),
        Some(_) => "would have started jobs when they started, on average".into(),
        None => "has no counterfactual starts".into(),
    };
    let mut blocks = vec![
        Block::Verdict(format!(
            "Over {} decision cycles the candidate agreed with the baseline in {agreement} of the cycles both decided; its predictions missed {} finished jobs' runtimes by {} on average, and it {starts}.",
            e.cycles,
            e.predicted_jobs,
            seconds(e.mean_abs_error_s)
        )),
        Block::Para(format!(
            "Decision log {}: {} cycles ({} decided by the candidate, {} by the baseline as a fallback), {} finished jobs ({} with a prediction), the circuit breaker opened {} times, {} orchestrator outages. Shadow mode acts on nothing: these are what the candidate would have done.",
            e.log, e.cycles, e.candidate_cycles, e.fallback_cycles, e.finished_jobs, e.predicted_jobs, e.breaker_openings, e.outages
        )),
        Block::Heading("Decisions".into()),
        decisions(e),
        Block::Heading("Prediction error over time".into()),
    ];
    blocks.extend(errors(e));
    if let Some(c) = e.interval_coverage.filter(|_| e.interval_jobs > 0) {
        blocks.push(Block::Para(format!(
            "{} finished jobs' predictions came with an interval; {:.1}% of them ran within it (compare with the model's nominal level, in its file and in `evaluate`).",
            e.interval_jobs,
            100.0 * c
        )));
    }
    blocks.push(Block::Heading("Counterfactual starts".into()));
    blocks.extend(counterfactual(e));
    if let Some(a) = &e.acting {
        blocks.push(Block::Heading("Acting: advise and enforce".into()));
        blocks.push(Block::Para(format!(
            "{} actions on Slurm took effect, {} failed, {} were left without an outcome; {} mode switches, {} changes refused for want of an operator's token. Advise mode: {} proposals, {} approved (mean wait {}), {} overridden (mean wait {}). From a job's submission to foresight's first decision on it, over {} finished jobs: median {}, p99 {}.",
            a.actions_taken,
            a.actions_failed,
            a.actions_unresolved,
            a.mode_switches,
            a.refused,
            a.proposals,
            a.approvals,
            seconds(a.approved_mean_wait_s),
            a.overrides,
            seconds(a.overridden_mean_wait_s),
            a.decided_jobs,
            seconds(a.decision_delay_p50_s),
            seconds(a.decision_delay_p99_s)
        )));
    }
    Doc { title: e.title.clone(), blocks }
}

fn decisions(e: &ShadowEvidence) -> Block {
    let caption = format!("Decision cycles: who decided, and how often the candidate agreed with the baseline ({})", e.agreement.map_or("n/a".into(), |a| format!("{:.1}%", 100.0 * a)));
    let rows = [
        ("all cycles", e.cycles),
        ("candidate decided", e.candidate_cycles),
        ("baseline fallback", e.fallback_cycles),
        ("agreed with baseline", e.agreeing_cycles),
    ];
    let series = [Series { name: "cycles".into(), points: rows.iter().enumerate().map(|(i, r)| (i as f64, r.1 as f64)).collect() }];
    let svg = bar::render(&caption, "decision cycles", rows.iter().map(|r| r.0.to_string()).collect(), "cycles", &series);
    let mut t = Table::new(&["cycles", "count"]);
    for (name, n) in rows {
        t.row(vec![name.into(), n.to_string()]);
    }
    t.row(vec!["agreement (%)".into(), e.agreement.map_or("n/a".into(), |a| format!("{:.1}", 100.0 * a))]);
    Block::Figure { caption, svg, table: t }
}

fn errors(e: &ShadowEvidence) -> Vec<Block> {
    let mut t = Table::new(&["from (Unix s)", "jobs", "mean abs error (s)", "mean error (s)"]);
    for b in &e.error_over_time {
        t.row(vec![format!("{:.0}", b.from_unix_s), b.jobs.to_string(), format!("{:.1}", b.mean_abs_error_s), format!("{:.1}", b.mean_error_s)]);
    }
    if e.error_over_time.len() < 2 {
        let why = format!("{} bucket(s) of {:.0} s with finished, predicted jobs: too few to draw.", e.error_over_time.len(), e.bucket_s);
        return vec![Block::Para(why), Block::Table(t)];
    }
    let first = e.error_over_time[0].from_unix_s;
    let end = e.error_over_time.last().map_or(0.0, |b| b.from_unix_s - first);
    let (div, unit) = time_unit(end);
    let point = |f: fn(&ErrorBucket) -> f64| e.error_over_time.iter().map(|b| ((b.from_unix_s - first) / div, f(b))).collect::<Vec<_>>();
    let series = vec![
        Series { name: "mean absolute error".into(), points: point(|b| b.mean_abs_error_s) },
        Series { name: "mean signed error (+: over-estimate)".into(), points: point(|b| b.mean_error_s) },
    ];
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (lo, hi) = values.fold((0.0f64, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let caption = format!("Prediction error of finished jobs over time, per {:.0} s bucket", e.bucket_s);
    let x = Axis::linear(&format!("time since the first bucket ({unit})"), 0.0, end / div);
    let svg = line::render(&caption, x, Axis::linear("error (s)", lo, hi), &series);
    vec![Block::Figure { caption, svg, table: t }]
}

fn counterfactual(e: &ShadowEvidence) -> Vec<Block> {
    let mut t = Table::new(&["quantile", "candidate minus actual start"]);
    for q in &e.counterfactual_quantiles {
        let name = if q.fraction >= 1.0 { "max".to_string() } else if q.fraction <= 0.0 { "min".to_string() } else { format!("p{:.0}", 100.0 * q.fraction) };
        t.row(vec![name, format!("{:+.1} s", q.value_s)]);
    }
    t.row(vec!["mean".into(), e.mean_counterfactual_s.map_or("n/a".into(), |m| format!("{m:+.1} s"))]);
    if e.counterfactual_cdf.is_empty() {
        return vec![Block::Para("No finished job has a counterfactual start: nothing to draw.".into()), Block::Table(t)];
    }
    let (lo, hi) = e.counterfactual_cdf.iter().fold((0.0f64, 0.0f64), |(lo, hi), p| (lo.min(p.value_s), hi.max(p.value_s)));
    let (div, unit) = time_unit(lo.abs().max(hi.abs()));
    let series = [Series { name: "candidate minus actual".into(), points: e.counterfactual_cdf.iter().map(|p| (p.value_s / div, 100.0 * p.fraction)).collect() }];
    let caption = format!(
        "Counterfactual starts of {} jobs: share of jobs the candidate would have started at most this much later (negative: earlier)",
        e.counterfactual_s.len()
    );
    let x = Axis::linear(&format!("candidate start minus actual start ({unit})"), lo / div, hi / div);
    let svg = line::render(&caption, x, Axis::linear("jobs (%)", 0.0, 100.0), &series);
    vec![Block::Figure { caption, svg, table: t }]
}
