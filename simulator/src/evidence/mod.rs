//! Evidence for a policy comparison: every number a report shows, computed
//! here from the runs' per-job outcomes so that `foresight-reports` only
//! renders. A baseline and a candidate run are named; the verdict says by
//! how much the candidate changes the mean wait and for how many users.
//!
//! The [`Evidence`] value is what `compare --report` and `demo` write as
//! `RESULTS.json` and what `foresight report` reads back, so every field is
//! finite (no NaN reaches the JSON).

mod predictions;
mod series;

pub use predictions::{FactorBin, PredictionEvidence, UserAccuracy};
pub use series::{CLASS_QUANTILES, ClassStat, CdfPoint, Timeline};

use crate::engine::SimResult;
use crate::metrics::Report;
use crate::run::{RunSpec, SimError, run};
use crate::workload::Workload;
use foresight_core::Cluster;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Relative change in a user's mean wait below which the user counts as
/// unchanged (5%), unless the absolute change is also under one second.
pub const SAME_WITHIN: f64 = 0.05;

/// Everything a policy comparison report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What was compared, in a few words.
    pub title: String,
    /// The trace, as the user named it.
    pub trace: String,
    /// The cluster it was replayed on, in words.
    pub cluster: String,
    /// Jobs replayed.
    pub jobs: u64,
    /// The resource utilisation counts ("GPUs" or "CPUs").
    pub resource: String,
    /// One entry per run, in the order asked.
    pub runs: Vec<RunEvidence>,
    /// Index of the baseline in `runs`.
    pub baseline: usize,
    /// Index of the candidate in `runs`.
    pub candidate: usize,
    /// The headline.
    pub verdict: Verdict,
    /// Per user: baseline against candidate, sorted by name.
    pub users: Vec<GroupDelta>,
    /// Caveats and context, one sentence each.
    pub notes: Vec<String>,
    /// Wall-clock time of the steps that produced this (filled by the CLI).
    pub timings: Vec<StepTiming>,
}

/// One run's evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvidence {
    /// "POLICY with PREDICTOR", for legends.
    pub label: String,
    /// The simulator's report (summary and per user, group and queue).
    pub report: Report,
    /// The wait-time CDF: fraction of all jobs that waited at most `wait_s`.
    pub wait_cdf: Vec<CdfPoint>,
    /// Waits at [`CLASS_QUANTILES`].
    pub wait_quantiles: Vec<CdfPoint>,
    /// Bounded slowdown by job size (GPUs, or CPUs without GPUs).
    pub bsld_by_size: Vec<ClassStat>,
    /// Bounded slowdown by runtime class.
    pub bsld_by_runtime: Vec<ClassStat>,
    /// Utilisation and queue length over time.
    pub timeline: Timeline,
    /// How good the run's runtime estimates were.
    pub predictions: PredictionEvidence,
}

/// The headline comparison of the candidate against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// One sentence, as the report's first line.
    pub sentence: String,
    /// Baseline mean wait, seconds.
    pub baseline_mean_wait_s: f64,
    /// Candidate mean wait, seconds.
    pub candidate_mean_wait_s: f64,
    /// Relative change of the mean wait, percent (negative: shorter waits);
    /// 0 when the baseline mean wait is 0.
    pub mean_wait_change_pct: f64,
    /// Relative change of the average bounded slowdown, percent.
    pub avg_bsld_change_pct: f64,
    /// Users whose mean wait fell.
    pub better: u32,
    /// Users whose mean wait rose.
    pub worse: u32,
    /// Users with about the same mean wait.
    pub unchanged: u32,
}

/// Whether a user is better off under the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Shorter mean wait.
    Better,
    /// Longer mean wait.
    Worse,
    /// Within [`SAME_WITHIN`] or under a second.
    Unchanged,
}

/// One user's mean wait under the baseline and the candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDelta {
    /// User name.
    pub name: String,
    /// Their jobs.
    pub jobs: u64,
    /// Mean wait under the baseline, seconds.
    pub baseline_mean_wait_s: f64,
    /// Mean wait under the candidate, seconds.
    pub candidate_mean_wait_s: f64,
    /// Relative change, percent (0 when the baseline mean wait is 0).
    pub change_pct: f64,
    /// Better, worse or unchanged.
    pub outcome: Outcome,
}

/// How long one step of the pipeline took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    /// The step ("ingest", "train", "compare", ...).
    pub step: String,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// What the evidence is about, besides the runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvidenceMeta {
    /// Title.
    pub title: String,
    /// Trace name.
    pub trace: String,
    /// Notes to carry into the report.
    pub notes: Vec<String>,
}

/// Builds the evidence from finished runs (each its report and result over
/// `workload` on `cluster`), naming the baseline and candidate by index.
pub fn build(
    meta: EvidenceMeta,
    workload: &Workload,
    cluster: &Cluster,
    runs: &[(Report, SimResult)],
    baseline: usize,
    candidate: usize,
) -> Result<Evidence, SimError> {
    if baseline >= runs.len() || candidate >= runs.len() {
        return Err(SimError::Spec(format!("baseline {baseline} or candidate {candidate} is not one of {} runs", runs.len())));
    }
    let ctx = series::Ctx::new(workload, cluster);
    let runs: Vec<RunEvidence> = runs
        .iter()
        .map(|(report, result)| RunEvidence {
            label: label(&report.policy, &report.predictor),
            report: report.clone(),
            wait_cdf: ctx.wait_cdf(result),
            wait_quantiles: ctx.wait_quantiles(result),
            bsld_by_size: ctx.by_size(result),
            bsld_by_runtime: ctx.by_runtime(result),
            timeline: ctx.timeline(result),
            predictions: predictions::predictions(workload, result),
        })
        .collect();
    let users = user_deltas(&runs[baseline].report, &runs[candidate].report);
    let verdict = verdict(&runs[baseline], &runs[candidate], &users);
    let total = cluster.total();
    let cores = if total.gpus > 0 { total.gpus } else { total.cpus };
    Ok(Evidence {
        title: meta.title,
        trace: meta.trace,
        cluster: format!(
            "{} node{}, {cores} {}",
            cluster.len(),
            if cluster.len() == 1 { "" } else { "s" },
            if cores == 1 { ctx.resource().trim_end_matches('s') } else { ctx.resource() }
        ),
        jobs: workload.len() as u64,
        resource: ctx.resource().to_string(),
        runs,
        baseline,
        candidate,
        verdict,
        users,
        notes: meta.notes,
        timings: Vec::new(),
    })
}

/// Runs every spec in parallel, keeping per-job outcomes, and builds the
/// evidence.
pub fn compare_evidence(
    meta: EvidenceMeta,
    workload: &Workload,
    cluster: &Cluster,
    specs: &[RunSpec],
    baseline: usize,
    candidate: usize,
) -> Result<Evidence, SimError> {
    let runs = specs
        .par_iter()
        .map(|s| run(workload, cluster, s).map(|(result, report)| (report, result)))
        .collect::<Result<Vec<_>, _>>()?;
    build(meta, workload, cluster, &runs, baseline, candidate)
}

/// "POLICY with PREDICTOR" in words.
pub fn label(policy: &str, predictor: &str) -> String {
    let what = match predictor {
        "requested" => "user estimates".to_string(),
        "easy++" => "user-history predictions".to_string(),
        "clairvoyant" => "true runtimes (oracle)".to_string(),
        other => format!("{other} predictions"),
    };
    format!("{} with {what}", policy.to_uppercase())
}

fn change_pct(base: f64, cand: f64) -> f64 {
    if base > 0.0 { 100.0 * (cand - base) / base } else { 0.0 }
}

fn user_deltas(base: &Report, cand: &Report) -> Vec<GroupDelta> {
    base.by_user
        .iter()
        .filter_map(|(name, b)| {
            let c = cand.by_user.get(name)?;
            let (bw, cw) = (b.mean_wait_s, c.mean_wait_s);
            let outcome = if (cw - bw).abs() < 1.0 || (cw - bw).abs() <= SAME_WITHIN * bw {
                Outcome::Unchanged
            } else if cw < bw {
                Outcome::Better
            } else {
                Outcome::Worse
            };
            let delta = GroupDelta { name: name.clone(), jobs: b.jobs, baseline_mean_wait_s: bw, candidate_mean_wait_s: cw, change_pct: 0.0, outcome };
            Some(GroupDelta { change_pct: change_pct(bw, cw), ..delta })
        })
        .collect()
}

fn verdict(base: &RunEvidence, cand: &RunEvidence, users: &[GroupDelta]) -> Verdict {
    let (b, c) = (&base.report.summary, &cand.report.summary);
    let count = |o: Outcome| users.iter().filter(|u| u.outcome == o).count() as u32;
    let (better, worse, unchanged) = (count(Outcome::Better), count(Outcome::Worse), count(Outcome::Unchanged));
    let pct = change_pct(b.mean_wait_s, c.mean_wait_s);
    let how = if pct < -0.5 {
        format!("cuts mean wait by {:.0}%", -pct)
    } else if pct > 0.5 {
        format!("raises mean wait by {pct:.0}%")
    } else {
        "leaves mean wait unchanged".to_string()
    };
    let plural = |n: u32, one: &str, many: &str| if n == 1 { format!("{n} {one}") } else { format!("{n} {many}") };
    let sentence = format!(
        "{} {how} ({} to {}) against {}; {} better off, {} worse.",
        cand.label,
        human_duration(b.mean_wait_s),
        human_duration(c.mean_wait_s),
        base.label,
        plural(better, "user", "users"),
        worse,
    );
    Verdict {
        sentence,
        baseline_mean_wait_s: b.mean_wait_s,
        candidate_mean_wait_s: c.mean_wait_s,
        mean_wait_change_pct: pct,
        avg_bsld_change_pct: change_pct(b.avg_bsld, c.avg_bsld),
        better,
        worse,
        unchanged,
    }
}

/// A duration in the largest unit that keeps it readable: `45 s`,
/// `2.5 min`, `3.1 h`, `2.0 days`.
pub fn human_duration(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{:.1} min", s / 60.0)
    } else if s < 86_400.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} days", s / 86_400.0)
    }
}

#[cfg(test)]
mod tests;
