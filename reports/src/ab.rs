//! The A/B report: the same slice of a real trace run on two Slurm
//! instances at once, one left to Slurm's own policy and one with foresight
//! enforcing its candidate, measured from `sacct`, beside the simulator's
//! prediction of each arm. Its input is [`AbEvidence`], which `foresight ab`
//! computes; this module only lays it out.

use crate::doc::{Block, Doc, Table};
use serde::{Deserialize, Serialize};

/// Waits, slowdown and utilisation of one arm, in the trace's seconds
/// (the compression undone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmMetrics {
    /// Jobs counted.
    pub jobs: usize,
    /// Mean wait, seconds.
    pub mean_wait_s: f64,
    /// 95th percentile of the wait, seconds.
    pub p95_wait_s: f64,
    /// Average bounded slowdown (10 s bound).
    pub avg_bsld: f64,
    /// CPU-seconds used over CPU-seconds available from the first
    /// submission to the last end, in [0, 1].
    pub utilisation: f64,
}

/// One arm: what ran it, what was measured, what the simulator predicted,
/// and whether its mechanics held.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Arm {
    /// The arm's name (`slurm`, `foresight`).
    pub name: String,
    /// Who decided: Slurm's configuration, or the enforced candidate.
    pub scheduler: String,
    /// The policy the simulator ran as this arm's prediction.
    pub simulated_as: String,
    /// Measured from `sacct`.
    pub measured: ArmMetrics,
    /// The simulator's prediction on the same compressed input.
    pub predicted: ArmMetrics,
    /// Jobs submitted.
    pub submitted: usize,
    /// Jobs that ran exactly once and completed.
    pub ran_once: usize,
    /// Jobs with no completed record, or with more than one record.
    pub anomalies: Vec<String>,
    /// Jobs still pending with a gate (eligible time ahead) at the end.
    pub gated_at_end: usize,
    /// Slurm's overhead per job on this host (wall seconds past each
    /// job's sleep before its CPUs serve the next), measured on this arm
    /// before the slice; the simulator holds each job's CPUs that long.
    #[serde(default)]
    pub overhead_s: f64,
}

/// A candidate the simulator scored on the trace before the slice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    /// `policy:predictor`.
    pub spec: String,
    /// Average bounded slowdown on the part before the slice.
    pub avg_bsld: f64,
    /// Mean wait there, seconds.
    pub mean_wait_s: f64,
}

/// One goal of the A/B and whether it was met.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// What is asked.
    pub goal: String,
    /// What was measured, in words.
    pub value: String,
    /// Met or not.
    pub met: bool,
}

/// Everything an A/B run showed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AbEvidence {
    /// The report's title.
    pub title: String,
    /// The trace file.
    pub trace: String,
    /// The rule that chose the slice, written before measuring.
    pub rule: String,
    /// The slice's start and end, trace seconds after its epoch.
    pub slice_from_s: f64,
    /// End of the slice window.
    pub slice_to_s: f64,
    /// Jobs in the slice.
    pub slice_jobs: usize,
    /// Their offered load on the trace's machine.
    pub offered_load: f64,
    /// Jobs before the slice (ended before it) that the choice saw.
    pub prefix_jobs: usize,
    /// Trace seconds per wall second.
    pub compress: f64,
    /// The Slurm instances' shape, in words.
    pub cluster: String,
    /// The candidates scored on the part before the slice, best first.
    pub candidates: Vec<CandidateScore>,
    /// The one chosen (lowest average bounded slowdown there).
    pub chosen: String,
    /// The overhead per job the candidates were scored with (wall
    /// seconds; Slurm's own on the enforce arm's instance, measured before
    /// the controller started).
    #[serde(default)]
    pub choice_overhead_s: f64,
    /// The two arms.
    pub arms: Vec<Arm>,
    /// The controller's poll interval, seconds.
    pub poll_s: f64,
    /// Jobs of the enforce arm foresight decided on.
    pub decided_jobs: usize,
    /// Jobs of the enforce arm no cycle saw pending (Slurm started them first).
    pub undecided_jobs: usize,
    /// From `sbatch`'s return to the enforced decision, median, seconds.
    pub decision_delay_p50_s: Option<f64>,
    /// Its 99th percentile, seconds.
    pub decision_delay_p99_s: Option<f64>,
    /// The goals.
    pub goals: Vec<Goal>,
    /// Wall time of the run, seconds.
    pub wall_s: f64,
    /// Things the reader should know about how it was run.
    pub notes: Vec<String>,
}

fn metric_row(label: &str, f: impl Fn(&ArmMetrics) -> String, arms: &[Arm]) -> Vec<String> {
    let mut row = vec![label.to_string()];
    for a in arms {
        row.push(f(&a.measured));
        row.push(f(&a.predicted));
    }
    row
}

fn opt_s(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.3} s"))
}

/// The report as a document.
pub fn doc(e: &AbEvidence) -> Doc {
    let bsld = |name: &str| e.arms.iter().find(|a| a.name == name).map(|a| a.measured.avg_bsld);
    let verdict = match (bsld("slurm"), bsld("foresight")) {
        (Some(s), Some(f)) if s > 0.0 => format!(
            "On the same {} jobs at the same time, Slurm with foresight enforcing `{}` ran them at an average bounded slowdown of {f:.1}, against {s:.1} for Slurm alone ({:+.1}%).",
            e.slice_jobs,
            e.chosen,
            100.0 * (f - s) / s
        ),
        _ => "The run measured no slowdown to compare.".into(),
    };
    let mut blocks = vec![
        Block::Verdict(verdict),
        Block::Para(format!(
            "Trace {}. Rule: {} The slice runs from {:.0} s to {:.0} s of the trace: {} jobs, offered load {:.2}. Compressed {}x (trace seconds per wall second) onto two Slurm instances of {} each, started on one host at once; every metric below is in trace seconds, the compression undone.",
            e.trace, e.rule, e.slice_from_s, e.slice_to_s, e.slice_jobs, e.offered_load, e.compress, e.cluster
        )),
        Block::Heading("Measured and predicted".into()),
    ];
    let mut header = vec!["metric".to_string()];
    for a in &e.arms {
        header.push(format!("{} measured", a.name));
        header.push(format!("{} simulated", a.name));
    }
    let mut t = Table { header, rows: Vec::new() };
    t.row(metric_row("jobs", |m| m.jobs.to_string(), &e.arms));
    t.row(metric_row("mean wait", |m| format!("{:.0} s", m.mean_wait_s), &e.arms));
    t.row(metric_row("p95 wait", |m| format!("{:.0} s", m.p95_wait_s), &e.arms));
    t.row(metric_row("avg bounded slowdown", |m| format!("{:.2}", m.avg_bsld), &e.arms));
    t.row(metric_row("utilisation", |m| format!("{:.1}%", 100.0 * m.utilisation), &e.arms));
    blocks.push(Block::Table(t));
    let mut arms =
        Table::new(&["arm", "scheduler", "simulated as", "overhead", "submitted", "ran once", "anomalies", "gated at end"]);
    for a in &e.arms {
        arms.row(vec![
            a.name.clone(),
            a.scheduler.clone(),
            a.simulated_as.clone(),
            format!("{:.2} s", a.overhead_s),
            a.submitted.to_string(),
            a.ran_once.to_string(),
            if a.anomalies.is_empty() { "none".into() } else { a.anomalies.join("; ") },
            a.gated_at_end.to_string(),
        ]);
    }
    blocks.push(Block::Heading("Mechanics".into()));
    blocks.push(Block::Table(arms));
    blocks.push(Block::Para(
        "Overhead: what Slurm took per job on this host beyond the job's sleep before its CPUs served the next (launch, end, the node's report, a scheduling pass; on the enforce arm a controller cycle and `scontrol` too), measured on each arm before the slice with back-to-back jobs that each asked for the whole cluster. The simulator holds each job's CPUs that much longer than its sleep; its waits and slowdowns are then computed from the sleeps, as Slurm records them.".into(),
    ));
    blocks.push(Block::Para(format!(
        "From a job's `sbatch` returning to foresight's enforced decision on it (the action its first cycle took for it, written to the log just before `scontrol` runs; or that cycle itself when the job needed none, being gated at submission and held): median {}, p99 {}, over {} jobs; {} jobs were never seen pending (Slurm started them before a cycle saw them). Poll interval {:.3} s.",
        opt_s(e.decision_delay_p50_s),
        opt_s(e.decision_delay_p99_s),
        e.decided_jobs,
        e.undecided_jobs,
        e.poll_s
    )));
    blocks.push(Block::Heading("Goals".into()));
    let mut goals = Table::new(&["goal", "measured", "met"]);
    for g in &e.goals {
        goals.row(vec![g.goal.clone(), g.value.clone(), if g.met { "yes".into() } else { "no".into() }]);
    }
    blocks.push(Block::Table(goals));
    blocks.push(Block::Heading("The candidate, chosen before the slice".into()));
    blocks.push(Block::Para(format!(
        "The simulator replayed the {} jobs that ended before the slice began (no job at or after its start was seen), compressed as the slice is and with an overhead of {:.2} s per job, under each candidate on the same cluster; the lowest average bounded slowdown was chosen: `{}`.",
        e.prefix_jobs, e.choice_overhead_s, e.chosen
    )));
    let mut c = Table::new(&["candidate", "avg bounded slowdown", "mean wait"]);
    for s in &e.candidates {
        c.row(vec![s.spec.clone(), format!("{:.2}", s.avg_bsld), format!("{:.0} s", s.mean_wait_s)]);
    }
    blocks.push(Block::Table(c));
    if !e.notes.is_empty() {
        blocks.push(Block::Heading("Notes".into()));
        blocks.push(Block::List(e.notes.clone()));
    }
    blocks.push(Block::Timings(format!("The run took {:.0} s of wall time.", e.wall_s)));
    Doc { title: e.title.clone(), blocks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence() -> AbEvidence {
        let m =
            |w: f64, b: f64| ArmMetrics { jobs: 3, mean_wait_s: w, p95_wait_s: 2.0 * w, avg_bsld: b, utilisation: 0.5 };
        let arm = |name: &str, b: f64| Arm {
            name: name.into(),
            scheduler: "s".into(),
            simulated_as: "priority:requested".into(),
            measured: m(100.0, b),
            predicted: m(110.0, b),
            submitted: 3,
            ran_once: 3,
            anomalies: vec![],
            gated_at_end: 0,
            overhead_s: 0.5,
        };
        AbEvidence {
            title: "A/B".into(),
            slice_jobs: 3,
            chosen: "sjf:requested".into(),
            arms: vec![arm("slurm", 20.0), arm("foresight", 15.0)],
            goals: vec![Goal { goal: "g".into(), value: "v".into(), met: true }],
            ..AbEvidence::default()
        }
    }

    #[test]
    fn the_verdict_compares_the_measured_slowdowns_and_the_json_round_trips() {
        let e = evidence();
        let r = crate::render_ab(&e).unwrap();
        assert!(
            r.markdown.contains("average bounded slowdown of 15.0, against 20.0 for Slurm alone (-25.0%)"),
            "{}",
            r.markdown
        );
        assert!(r.markdown.contains("| avg bounded slowdown | 20.00 | 20.00 | 15.00 | 15.00 |"), "{}", r.markdown);
        assert!(r.html.contains("sjf:requested"));
        let back: AbEvidence = serde_json::from_str(&r.json).unwrap();
        assert_eq!(back, e);
    }
}
