//! `foresight ab`'s measurement: each arm's jobs as they ran from the
//! completion records (every job exactly once), the enforce arm's decision
//! delays from the decision log, the goals and the summary printed.

use super::ab_input::{AbJob, Ran};
use super::ab_slurm::Completed;
use anyhow::Context;
use foresight_reports::ab::{AbEvidence, Goal};
use std::collections::HashMap;
use std::path::Path;

/// Each job of `jobs` as it ran (times from the first submission), the
/// jobs that ran exactly once and completed, and the others, in words.
pub fn ran_of(records: &[Completed], jobs: &[AbJob]) -> (Vec<Ran>, usize, Vec<String>) {
    let mut by_name: HashMap<&str, Vec<&Completed>> = HashMap::new();
    for r in records {
        by_name.entry(r.name.as_str()).or_default().push(r);
    }
    let (mut ran, mut once, mut anomalies) = (Vec::new(), 0, Vec::new());
    for (row, j) in jobs.iter().enumerate() {
        let name = format!("kth-{}", j.trace_id);
        match by_name.get(name.as_str()).map(Vec::as_slice) {
            Some([r]) if r.state == "COMPLETED" => {
                once += 1;
                ran.push(Ran { row, submit_s: r.submit_s, start_s: r.start_s, end_s: r.end_s, cpus: r.cpus });
            }
            Some(rs) => {
                anomalies.push(format!("{name}: {}", rs.iter().map(|r| r.state.as_str()).collect::<Vec<_>>().join(",")))
            }
            None => anomalies.push(format!("{name}: no record")),
        }
    }
    // times from the first of these jobs' submissions (the calibration's
    // jobs, before them, are not among them)
    let t0 = ran.iter().map(|r| r.submit_s).fold(f64::INFINITY, f64::min);
    for r in &mut ran {
        (r.submit_s, r.start_s, r.end_s) = (r.submit_s - t0, r.start_s - t0, r.end_s - t0);
    }
    (ran, once, anomalies)
}

/// Per job of the enforce arm, from `sbatch`'s return to foresight's
/// enforced decision on it: the first cycle that saw it pending decides on
/// it, and the decision is in force when the action that cycle took for
/// it (gate, lift, site factor) was written, or, when it needed none (a
/// job the lua gated at submission and the candidate holds), at that
/// cycle. The delays, and the jobs no cycle saw pending (Slurm started
/// them first).
pub fn decision_delays(log: &Path, submitted: &HashMap<String, f64>) -> anyhow::Result<(Vec<f64>, usize)> {
    use foresight_controller::log::{Body, ChangeKind, read_log};
    let mut decided: HashMap<String, f64> = HashMap::new();
    // jobs first seen in the latest cycle, not yet acted on
    let mut open: Vec<(String, f64)> = Vec::new();
    for scan in read_log(log).context("read the decision log")? {
        for r in scan.records {
            match &r.body {
                Body::Cycle(c) => {
                    for (j, at) in open.drain(..) {
                        decided.entry(j).or_insert(at);
                    }
                    // a job Slurm started before any cycle saw it pending
                    // appears submitted and started at once: not foresight's
                    let started = |j: &str| c.changes.iter().any(|ch| ch.job_id == j && ch.what == ChangeKind::Started);
                    let seen = c.changes.iter().filter(|ch| ch.what == ChangeKind::Submitted && !started(&ch.job_id));
                    open.extend(
                        seen.filter(|ch| !decided.contains_key(&ch.job_id)).map(|ch| (ch.job_id.clone(), r.ts_unix_s)),
                    );
                }
                Body::Action(a) => {
                    for j in &a.job_ids {
                        if let Some(i) = open.iter().position(|(o, _)| o == j) {
                            open.swap_remove(i);
                            decided.entry(j.clone()).or_insert(r.ts_unix_s);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for (j, at) in open {
        decided.entry(j).or_insert(at);
    }
    let mut delays: Vec<f64> =
        submitted.iter().filter_map(|(id, at)| decided.get(id).map(|f| (f - at).max(0.0))).collect();
    delays.sort_by(f64::total_cmp);
    let none = submitted.len() - delays.len();
    Ok((delays, none))
}

/// The A/B's goals, each met or not.
pub fn goals(e: &AbEvidence) -> Vec<Goal> {
    let mut g = Vec::new();
    if let [s, f] = e.arms.as_slice() {
        let cut = 1.0 - f.measured.avg_bsld / s.measured.avg_bsld.max(1e-9);
        g.push(Goal {
            goal: "the enforce arm's average bounded slowdown at least 20% lower than Slurm's alone".into(),
            value: format!(
                "{:.2} against {:.2}: {:.1}% {}",
                f.measured.avg_bsld,
                s.measured.avg_bsld,
                100.0 * cut.abs(),
                if cut >= 0.0 { "lower" } else { "higher" }
            ),
            met: cut >= 0.2,
        });
        for a in [s, f] {
            let err = (a.measured.mean_wait_s > 0.0)
                .then(|| (a.predicted.mean_wait_s - a.measured.mean_wait_s) / a.measured.mean_wait_s);
            g.push(Goal {
                goal: format!("the simulator's mean wait of the {} arm within 15% of the measured", a.name),
                value: format!(
                    "{:.0} s simulated, {:.0} s measured: {}",
                    a.predicted.mean_wait_s,
                    a.measured.mean_wait_s,
                    err.map_or("n/a".into(), |e| format!("{:+.1}%", 100.0 * e))
                ),
                met: err.is_some_and(|e| e.abs() <= 0.15),
            });
        }
    }
    let bound = e.poll_s + 0.1;
    g.push(Goal {
        goal: format!("decision delay p99 under one poll interval plus 100 ms ({bound:.3} s)"),
        value: e.decision_delay_p99_s.map_or("n/a".into(), |p| format!("{p:.3} s")),
        met: e.decision_delay_p99_s.is_some_and(|p| p < bound),
    });
    g
}

/// The lines `ab` prints.
pub fn summary(e: &AbEvidence) -> String {
    let mut s =
        format!("{:<10} {:>10} {:>10} {:>10} {:>10} {:>8}\n", "arm", "", "mean wait", "p95 wait", "avg bsld", "util");
    for a in &e.arms {
        for (what, m) in [("measured", &a.measured), ("simulated", &a.predicted)] {
            s += &format!(
                "{:<10} {:>10} {:>9.0}s {:>9.0}s {:>10.2} {:>7.1}%\n",
                a.name,
                what,
                m.mean_wait_s,
                m.p95_wait_s,
                m.avg_bsld,
                100.0 * m.utilisation
            );
        }
        s += &format!(
            "{:<10} ran once {}/{}, anomalies {}, gated at end {}\n",
            a.name,
            a.ran_once,
            a.submitted,
            a.anomalies.len(),
            a.gated_at_end
        );
    }
    let f = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.3} s"));
    s += &format!(
        "decision delay: p50 {}, p99 {} over {} jobs ({} never seen pending)\n",
        f(e.decision_delay_p50_s),
        f(e.decision_delay_p99_s),
        e.decided_jobs,
        e.undecided_jobs
    );
    for g in &e.goals {
        s += &format!("goal {}: {} -> {}\n", g.goal, g.value, if g.met { "met" } else { "NOT met" });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use foresight_controller::log::{Act, ActionRecord, Body, CycleRecord, LogConfig, LogWriter};

    fn cycle(n: u64, changes: &[(&str, &str)]) -> Body {
        let changes: Vec<_> = changes.iter().map(|(j, w)| serde_json::json!({"job_id": j, "what": w})).collect();
        let c: CycleRecord = serde_json::from_value(serde_json::json!({
            "cycle": n, "trigger": "timer", "observed_at_unix_s": 0.0,
            "observed": {"nodes": 1, "pending": 0, "running": 0, "free_cpus": 0},
            "changes": changes, "actual": null, "baseline": null, "candidate": null,
            "source": "candidate", "fallback_reason": null, "predictions": {},
            "model_version": null, "latency_us": 0
        }))
        .unwrap();
        Body::Cycle(c)
    }

    fn action(id: u64, jobs: &[&str]) -> Body {
        let job_ids = jobs.iter().map(|j| j.to_string()).collect();
        Body::Action(ActionRecord { id, act: Act::Gate { lease_s: 60 }, job_ids, why: "enforce".into() })
    }

    #[test]
    fn a_decision_is_its_first_cycles_action_or_that_cycle_when_none_was_needed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.log");
        let mut w = LogWriter::open(LogConfig::new(&path)).unwrap();
        // job 1 gated by its first cycle; job 2 held by the lua (no action
        // until a renewal much later); job 3 started by Slurm first
        w.append(100.5, cycle(1, &[("1", "submitted"), ("2", "submitted"), ("3", "submitted"), ("3", "started")])).unwrap();
        w.append(100.6, action(0, &["1"])).unwrap();
        w.append(101.0, cycle(2, &[])).unwrap();
        w.append(130.0, action(1, &["2", "3"])).unwrap();
        w.sync().unwrap();
        drop(w);
        let submitted: HashMap<String, f64> = [("1", 100.0), ("2", 100.25), ("3", 100.0), ("4", 100.0)]
            .into_iter()
            .map(|(j, t)| (j.to_string(), t))
            .collect();
        let (delays, never) = decision_delays(&path, &submitted).unwrap();
        assert_eq!(never, 2, "job 3 (Slurm's) and job 4 (never seen)");
        assert_eq!(delays.len(), 2);
        assert!((delays[0] - 0.25).abs() < 1e-9 && (delays[1] - 0.6).abs() < 1e-9, "{delays:?}");
    }
}
