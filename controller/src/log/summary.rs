//! The shadow section of a report, computed from a decision log: prediction
//! error over time, agreement of the candidate with the baseline, and the
//! counterfactual waits (how much earlier or later the candidate would have
//! started each job). The reports crate renders it; this only counts.

use super::record::{Body, Record, Source};
use serde::{Deserialize, Serialize};

/// One time bucket of finished jobs.
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

/// What a shadow run showed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowSummary {
    /// Decision cycles.
    pub cycles: usize,
    /// Cycles where the candidate's decision stood.
    pub candidate_cycles: usize,
    /// Cycles decided by the baseline (breaker open or model failure).
    pub fallback_cycles: usize,
    /// Cycles where both decided and started the same jobs.
    pub agreeing_cycles: usize,
    /// `agreeing / (cycles where both decided)`.
    pub agreement: Option<f64>,
    /// Finished jobs seen.
    pub finished_jobs: usize,
    /// Finished jobs with a prediction.
    pub predicted_jobs: usize,
    /// Mean absolute prediction error, seconds.
    pub mean_abs_error_s: Option<f64>,
    /// Finished jobs whose prediction had an interval.
    #[serde(default)]
    pub interval_jobs: usize,
    /// Share of those whose runtime fell in it.
    #[serde(default)]
    pub interval_coverage: Option<f64>,
    /// Prediction error over time.
    pub error_over_time: Vec<ErrorBucket>,
    /// Counterfactual start deltas (candidate minus actual), seconds, by job.
    pub counterfactual_s: Vec<(String, f64)>,
    /// Mean of the counterfactual deltas (negative: the candidate starts earlier).
    pub mean_counterfactual_s: Option<f64>,
    /// Circuit-breaker openings.
    pub breaker_openings: usize,
    /// Orchestrator outages.
    pub outages: usize,
    /// The acting side (advise and enforce modes); absent from shadow-only
    /// logs and from logs written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting: Option<ActingSummary>,
}

/// What the controller did to the orchestrator, and what operators did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActingSummary {
    /// Actions whose outcome was a success.
    pub actions_taken: usize,
    /// Actions that failed (or that a restart found had not taken effect).
    pub actions_failed: usize,
    /// Actions with no outcome in the log (a run killed between the two,
    /// not yet reconciled by a restart).
    pub actions_unresolved: usize,
    /// Accepted mode switches.
    pub mode_switches: usize,
    /// Refused mode switches and verdicts (no or a read-only credential).
    pub refused: usize,
    /// Jobs proposed in advise mode.
    pub proposals: usize,
    /// Proposals approved.
    pub approvals: usize,
    /// Proposals overridden.
    pub overrides: usize,
    /// Mean wait (start minus submit) of approved jobs that finished, seconds.
    pub approved_mean_wait_s: Option<f64>,
    /// Mean wait of overridden jobs that finished, seconds.
    pub overridden_mean_wait_s: Option<f64>,
    /// Finished jobs on which foresight decided (an action or a proposal).
    #[serde(default)]
    pub decided_jobs: usize,
    /// Median time from those jobs' submission to the first decision on
    /// them written to the log (an action's intent, or a proposal), seconds.
    #[serde(default)]
    pub decision_delay_p50_s: Option<f64>,
    /// Its 99th percentile, seconds.
    #[serde(default)]
    pub decision_delay_p99_s: Option<f64>,
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, s) = v.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    (n > 0).then(|| s / n as f64)
}

/// Summarises records, with prediction errors bucketed by `bucket_s`.
pub fn summarise<'a>(records: impl IntoIterator<Item = &'a Record>, bucket_s: f64) -> ShadowSummary {
    let mut s = ShadowSummary::default();
    let mut errors: Vec<(f64, f64)> = Vec::new();
    let mut both = 0;
    let mut inside = 0usize;
    let mut acting = ActingSummary::default();
    let mut any_acting = false;
    let mut open_actions = std::collections::HashSet::new();
    let mut verdicts: std::collections::HashMap<String, super::Verdict> = std::collections::HashMap::new();
    let mut waits: Vec<(String, f64)> = Vec::new();
    let mut first_decision: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
    let mut delays: Vec<f64> = Vec::new();
    for r in records {
        match &r.body {
            Body::Cycle(c) => {
                s.cycles += 1;
                match c.source {
                    Source::Candidate => s.candidate_cycles += 1,
                    Source::Fallback => s.fallback_cycles += 1,
                }
                if let (Some(cand), Some(base)) = (&c.candidate, &c.baseline) {
                    both += 1;
                    let (mut a, mut b) = (cand.started_ids(), base.started_ids());
                    a.sort_unstable();
                    b.sort_unstable();
                    s.agreeing_cycles += usize::from(a == b);
                }
            }
            Body::Finished(f) => {
                waits.push((f.job_id.clone(), f.start_unix_s - f.submit_unix_s));
                if let Some(t) = first_decision.get(&f.job_id) {
                    delays.push((t - f.submit_unix_s).max(0.0));
                }
                s.finished_jobs += 1;
                if let Some(e) = f.error_s {
                    s.predicted_jobs += 1;
                    errors.push((f.end_unix_s, e));
                }
                if let Some(i) = f.predicted_interval {
                    s.interval_jobs += 1;
                    inside += usize::from(i.contains(f.runtime_s));
                }
                if let Some(d) = f.counterfactual_delta_s {
                    s.counterfactual_s.push((f.job_id.clone(), d));
                }
            }
            Body::Breaker(b) if b.to == "open" => s.breaker_openings += 1,
            Body::Outage(o) if !o.reachable => s.outages += 1,
            Body::Start(st) if st.mode != "shadow" => any_acting = true,
            Body::Mode(m) => {
                any_acting = true;
                if m.accepted { acting.mode_switches += 1 } else { acting.refused += 1 }
            }
            Body::Action(a) => {
                any_acting = true;
                open_actions.insert(a.id);
                for j in &a.job_ids {
                    first_decision.entry(j.clone()).or_insert(r.ts_unix_s);
                }
            }
            Body::Outcome(o) if open_actions.remove(&o.id) => {
                if o.ok { acting.actions_taken += 1 } else { acting.actions_failed += 1 }
            }
            Body::Advice(a) => {
                any_acting = true;
                match a.verdict {
                    super::Verdict::Proposed => acting.proposals += 1,
                    super::Verdict::Approved => acting.approvals += 1,
                    super::Verdict::Overridden => acting.overrides += 1,
                }
                if a.verdict != super::Verdict::Proposed {
                    verdicts.insert(a.job_id.clone(), a.verdict);
                } else {
                    first_decision.entry(a.job_id.clone()).or_insert(r.ts_unix_s);
                }
            }
            _ => {}
        }
    }
    if any_acting {
        acting.actions_unresolved = open_actions.len();
        let wait_of = |v: super::Verdict| {
            mean(waits.iter().filter(|(id, _)| verdicts.get(id) == Some(&v)).map(|(_, w)| *w))
        };
        acting.approved_mean_wait_s = wait_of(super::Verdict::Approved);
        acting.overridden_mean_wait_s = wait_of(super::Verdict::Overridden);
        delays.sort_by(f64::total_cmp);
        let q = |p: f64| (!delays.is_empty()).then(|| delays[((p * delays.len() as f64).ceil() as usize).clamp(1, delays.len()) - 1]);
        (acting.decided_jobs, acting.decision_delay_p50_s, acting.decision_delay_p99_s) = (delays.len(), q(0.5), q(0.99));
        s.acting = Some(acting);
    }
    s.agreement = (both > 0).then(|| s.agreeing_cycles as f64 / f64::from(both));
    s.mean_abs_error_s = mean(errors.iter().map(|e| e.1.abs()));
    s.interval_coverage = (s.interval_jobs > 0).then(|| inside as f64 / s.interval_jobs as f64);
    s.mean_counterfactual_s = mean(s.counterfactual_s.iter().map(|c| c.1));
    errors.sort_by(|a, b| a.0.total_cmp(&b.0));
    let bucket_s = bucket_s.max(1e-9);
    for chunk in errors.chunk_by(|a, b| (a.0 / bucket_s).floor() == (b.0 / bucket_s).floor()) {
        s.error_over_time.push(ErrorBucket {
            from_unix_s: (chunk[0].0 / bucket_s).floor() * bucket_s,
            jobs: chunk.len(),
            mean_abs_error_s: mean(chunk.iter().map(|e| e.1.abs())).unwrap_or(0.0),
            mean_error_s: mean(chunk.iter().map(|e| e.1)).unwrap_or(0.0),
        });
    }
    s
}

impl ShadowSummary {
    /// The summary as Markdown, the shadow section of a report.
    pub fn markdown(&self) -> String {
        let opt = |v: Option<f64>, unit: &str| v.map_or("n/a".to_string(), |v| format!("{v:.1}{unit}"));
        let mut out = String::from("## Shadow mode\n\n");
        out += &format!(
            "- cycles: {} ({} candidate, {} fallback); breaker opened {} times; {} orchestrator outages\n",
            self.cycles, self.candidate_cycles, self.fallback_cycles, self.breaker_openings, self.outages
        );
        out += &format!("- agreement with the baseline: {}\n", opt(self.agreement.map(|a| a * 100.0), " %"));
        out += &format!(
            "- finished jobs: {} ({} with a prediction); mean absolute error {}\n",
            self.finished_jobs,
            self.predicted_jobs,
            opt(self.mean_abs_error_s, " s")
        );
        if self.interval_jobs > 0 {
            out += &format!(
                "- intervals: {} finished jobs had one; {} of them ran within it\n",
                self.interval_jobs,
                opt(self.interval_coverage.map(|c| c * 100.0), " %")
            );
        }
        out += &format!(
            "- counterfactual start (candidate minus actual) over {} jobs: mean {}\n\n",
            self.counterfactual_s.len(),
            opt(self.mean_counterfactual_s, " s")
        );
        if let Some(a) = &self.acting {
            out += &format!(
                "- acting: {} actions taken, {} failed, {} unresolved; {} mode switches, {} refused\n",
                a.actions_taken, a.actions_failed, a.actions_unresolved, a.mode_switches, a.refused
            );
            out += &format!(
                "- advise: {} proposals, {} approved (mean wait {}), {} overridden (mean wait {})\n\n",
                a.proposals,
                a.approvals,
                opt(a.approved_mean_wait_s, " s"),
                a.overrides,
                opt(a.overridden_mean_wait_s, " s")
            );
            if a.decided_jobs > 0 {
                out.pop();
                out += &format!(
                    "- from submission to foresight's first decision, over {} finished jobs: median {}, p99 {}\n\n",
                    a.decided_jobs,
                    opt(a.decision_delay_p50_s, " s"),
                    opt(a.decision_delay_p99_s, " s")
                );
            }
        }
        out += "| from (Unix s) | jobs | mean abs error (s) | mean error (s) |\n|---:|---:|---:|---:|\n";
        for b in &self.error_over_time {
            out +=
                &format!("| {:.0} | {} | {:.1} | {:.1} |\n", b.from_unix_s, b.jobs, b.mean_abs_error_s, b.mean_error_s);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::record::{CycleRecord, DecisionSummary, FinishedRecord, Observed, Placement};

    fn cycle(cand: &[&str], base: &[&str], source: Source) -> Record {
        let d = |ids: &[&str]| DecisionSummary {
            start: ids.iter().map(|i| Placement { job_id: i.to_string(), nodes: vec![] }).collect(),
            preempt: vec![],
        };
        Record {
            seq: 0,
            ts_unix_s: 0.0,
            body: Body::Cycle(CycleRecord {
                cycle: 1,
                trigger: "timer".into(),
                observed_at_unix_s: 0.0,
                observed: Observed::default(),
                changes: vec![],
                actual: None,
                baseline: Some(d(base)),
                candidate: (source == Source::Candidate).then(|| d(cand)),
                source,
                fallback_reason: None,
                predictions: Default::default(),
                intervals: Default::default(),
                model_version: None,
                latency_us: 1,
            }),
        }
    }

    fn finished(id: &str, end: f64, error: f64, delta: f64) -> Record {
        Record {
            seq: 0,
            ts_unix_s: end,
            body: Body::Finished(FinishedRecord {
                job_id: id.into(),
                submit_unix_s: 0.0,
                start_unix_s: 0.0,
                end_unix_s: end,
                runtime_s: 10.0,
                predicted_runtime_s: Some(10.0 + error),
                predicted_interval: None,
                error_s: Some(error),
                candidate_start_unix_s: None,
                counterfactual_delta_s: Some(delta),
                model_version: None,
            }),
        }
    }

    #[test]
    fn counts_agreement_errors_over_time_and_counterfactuals() {
        let recs = [
            cycle(&["1", "2"], &["2", "1"], Source::Candidate),
            cycle(&["3"], &["4"], Source::Candidate),
            cycle(&[], &["5"], Source::Fallback),
            finished("1", 5.0, 4.0, -2.0),
            finished("2", 8.0, -2.0, 0.0),
            finished("3", 15.0, 6.0, 1.0),
        ];
        let s = summarise(&recs, 10.0);
        assert_eq!((s.cycles, s.candidate_cycles, s.fallback_cycles), (3, 2, 1));
        assert_eq!(s.agreement, Some(0.5));
        assert_eq!(s.mean_abs_error_s, Some(4.0));
        assert_eq!(s.error_over_time.len(), 2);
        assert_eq!((s.error_over_time[0].jobs, s.error_over_time[0].mean_error_s), (2, 1.0));
        assert_eq!(s.mean_counterfactual_s, Some(-1.0 / 3.0));
        assert!(s.markdown().contains("agreement with the baseline: 50.0 %"));
        assert_eq!((s.interval_jobs, s.interval_coverage), (0, None));
        assert!(!s.markdown().contains("intervals"), "said only when there are some");
    }

    #[test]
    fn counts_the_finished_jobs_that_ran_within_their_interval() {
        let with = |id: &str, lo: f64, hi: f64| {
            let mut r = finished(id, 5.0, 0.0, 0.0);
            if let Body::Finished(f) = &mut r.body {
                f.predicted_interval = foresight_core::predictor::Interval::new(lo, hi);
            }
            r
        };
        // each ran 10 s
        let recs = [with("1", 5.0, 20.0), with("2", 10.0, 10.0), with("3", 11.0, 30.0), finished("4", 5.0, 1.0, 0.0)];
        let s = summarise(&recs, 10.0);
        assert_eq!(s.interval_jobs, 3);
        assert_eq!(s.interval_coverage, Some(2.0 / 3.0));
        assert!(
            s.markdown().contains("- intervals: 3 finished jobs had one; 66.7 % of them ran within it"),
            "{}",
            s.markdown()
        );
        // a summary written before intervals were counted still reads
        let mut old = serde_json::to_value(&s).unwrap();
        old.as_object_mut().unwrap().retain(|k, _| !k.starts_with("interval"));
        let back: ShadowSummary = serde_json::from_value(old).unwrap();
        assert_eq!((back.interval_jobs, back.interval_coverage), (0, None));
    }
}
