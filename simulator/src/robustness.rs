//! The robustness matrix: one candidate (a policy with predictions) against
//! the same policy with requested times, against the users' history and
//! against a clairvoyant bound, on several logs at several loads; and the
//! verdict of each cell.
//!
//! The promise it checks: with predictions, a policy is never much worse
//! than with requested times, on average or for its worst-treated job. In a
//! cell, the candidate's average bounded slowdown must be no higher than the
//! better of the baseline (EASY with requested times) and the reference
//! (EASY++ with the users' history), and its maximum no higher than
//! [`MAX_BSLD_FACTOR`] times the baseline's. The aim, beyond the promise:
//! an average within [`AIM_FACTOR`] of the clairvoyant bound.

use crate::metrics::{Report, Summary};
use crate::workload::Workload;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// How many times the baseline's maximum bounded slowdown the candidate's
/// may reach.
pub const MAX_BSLD_FACTOR: f64 = 2.0;

/// The aim: the candidate's average bounded slowdown within this many times
/// the clairvoyant bound's.
pub const AIM_FACTOR: f64 = 1.5;

/// The four runs of a cell, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The policy with requested times (EASY).
    Baseline,
    /// The policy with the users' history (EASY++).
    Reference,
    /// The policy with foresight's predictions.
    Candidate,
    /// The policy with true runtimes: a bound, not a contender.
    Bound,
}

impl Role {
    /// The roles in column order.
    pub const ALL: [Role; 4] = [Role::Baseline, Role::Reference, Role::Candidate, Role::Bound];
}

/// One log at one load, and its four runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// The log's name.
    pub log: String,
    /// The load factor (inter-arrival times divided by it).
    pub load_factor: f64,
    /// Work offered per unit of capacity over the log's span, at this
    /// load factor.
    pub offered_load: f64,
    /// Jobs replayed.
    pub jobs: usize,
    /// The runs, in [`Role::ALL`] order.
    pub reports: Vec<Report>,
}

/// What a cell says of the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The candidate's average over the better of baseline and reference
    /// (at most 1 keeps the promise).
    pub avg_ratio: f64,
    /// The candidate's maximum over the baseline's (at most
    /// [`MAX_BSLD_FACTOR`] keeps the promise).
    pub max_ratio: f64,
    /// The candidate's average over the bound's (the aim: at most
    /// [`AIM_FACTOR`]).
    pub bound_ratio: f64,
}

impl Verdict {
    /// True when the cell keeps the promise on average and at the worst.
    pub fn holds(&self) -> bool {
        self.avg_ratio <= 1.0 && self.max_ratio <= MAX_BSLD_FACTOR
    }

    /// True when the candidate is within the aim of the bound.
    pub fn meets_aim(&self) -> bool {
        self.bound_ratio <= AIM_FACTOR
    }
}

impl Cell {
    /// The summary of the run in `role`.
    pub fn summary(&self, role: Role) -> &Summary {
        &self.reports[role as usize].summary
    }

    /// The cell's verdict.
    pub fn verdict(&self) -> Verdict {
        let [b, r, c, o] = Role::ALL.map(|role| self.summary(role));
        Verdict {
            avg_ratio: c.avg_bsld / b.avg_bsld.min(r.avg_bsld),
            max_ratio: c.max_bsld / b.max_bsld,
            bound_ratio: c.avg_bsld / o.avg_bsld,
        }
    }
}

/// The work a workload offers per unit of its cluster's capacity over its
/// span (first submission to last submission plus that job's runtime): the
/// larger of the CPU and GPU loads. 0 for an empty workload.
pub fn offered_load(workload: &Workload, capacity: foresight_core::Resources) -> f64 {
    let (Some(first), Some(last)) = (workload.jobs.first(), workload.jobs.last()) else { return 0.0 };
    let span = (last.info.submit_s + last.actual_s() - first.info.submit_s).max(1.0);
    let (mut cpu, mut gpu) = (0.0, 0.0);
    for j in &workload.jobs {
        cpu += f64::from(j.info.demand.total.cpus) * j.actual_s();
        gpu += f64::from(j.info.demand.total.gpus) * j.actual_s();
    }
    let load = |work: f64, cap: u32| if cap == 0 { 0.0 } else { work / (f64::from(cap) * span) };
    load(cpu, capacity.cpus).max(load(gpu, capacity.gpus))
}

/// The matrix as a Markdown table: a row per cell, a column per role with
/// the average and maximum bounded slowdown and the mean and p99 wait in
/// hours, and the verdict.
pub fn markdown(cells: &[Cell]) -> String {
    let mut out = String::new();
    let names: Vec<String> = match cells.first() {
        Some(c) => c.reports.iter().map(|r| format!("{} / {}", r.policy, r.predictor)).collect(),
        None => Role::ALL.iter().map(|r| format!("{r:?}")).collect(),
    };
    let _ = writeln!(out, "| log | load | offered | {} | promise | aim |", names.join(" | "));
    let _ = writeln!(out, "|---|---|---|{}---|---|", "---|".repeat(names.len()));
    for c in cells {
        let v = c.verdict();
        let runs: Vec<String> = c
            .reports
            .iter()
            .map(|r| {
                let s = &r.summary;
                format!(
                    "{} ({}); {:.1} h, {:.0} h",
                    fmt_bsld(s.avg_bsld),
                    fmt_bsld(s.max_bsld),
                    s.mean_wait_s / 3600.0,
                    s.p99_wait_s / 3600.0
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {}x | {:.2} | {} | {} avg {:.2}, max {:.2} | {} {:.2} |",
            c.log,
            c.load_factor,
            c.offered_load,
            runs.join(" | "),
            if v.holds() { "kept" } else { "broken" },
            v.avg_ratio,
            v.max_ratio,
            if v.meets_aim() { "met" } else { "missed" },
            v.bound_ratio,
        );
    }
    out
}

/// A bounded slowdown as a table shows it: two decimals under 10, one
/// under 1,000, none above, with thousands separated.
fn fmt_bsld(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}")
    } else if x < 1000.0 {
        format!("{x:.1}")
    } else {
        let digits = format!("{x:.0}");
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineStats;
    use crate::workload::Dropped;

    fn report(avg: f64, max: f64) -> Report {
        Report {
            policy: "p".into(),
            predictor: "q".into(),
            summary: Summary { avg_bsld: avg, max_bsld: max, ..Summary::default() },
            by_user: Default::default(),
            by_group: Default::default(),
            by_queue: Default::default(),
            stats: EngineStats::default(),
            dropped: Dropped::default(),
        }
    }

    fn cell(runs: [(f64, f64); 4]) -> Cell {
        Cell { log: "l".into(), load_factor: 1.0, offered_load: 0.7, jobs: 10, reports: runs.map(|(a, m)| report(a, m)).to_vec() }
    }

    #[test]
    fn verdict_holds_only_when_the_candidate_beats_both_on_average_and_stays_within_twice_the_baseline_max() {
        let kept = cell([(100.0, 1000.0), (80.0, 3000.0), (70.0, 1900.0), (50.0, 900.0)]);
        assert!(kept.verdict().holds());
        assert!(kept.verdict().meets_aim());
        // worse than the reference on average
        assert!(!cell([(100.0, 1000.0), (80.0, 3000.0), (81.0, 1000.0), (50.0, 900.0)]).verdict().holds());
        // its worst job more than twice the baseline's
        assert!(!cell([(100.0, 1000.0), (80.0, 3000.0), (70.0, 2001.0), (50.0, 900.0)]).verdict().holds());
        // kept, but more than 1.5 times the bound
        assert!(!cell([(100.0, 1000.0), (80.0, 3000.0), (79.0, 1000.0), (50.0, 900.0)]).verdict().meets_aim());
    }

    #[test]
    fn markdown_has_a_row_per_cell_with_its_verdict() {
        let md = markdown(&[cell([(100.0, 14_805.0), (80.0, 3000.0), (70.0, 1900.0), (50.0, 900.0)])]);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[2].contains("100.0 (14,805)"), "{md}");
        assert!(lines[2].contains("kept avg 0.88, max 0.13"), "{md}");
    }

    #[test]
    fn fmt_bsld_groups_thousands() {
        assert_eq!(fmt_bsld(5.071), "5.07");
        assert_eq!(fmt_bsld(417.53), "417.5");
        assert_eq!(fmt_bsld(1_234_567.0), "1,234,567");
    }
}
