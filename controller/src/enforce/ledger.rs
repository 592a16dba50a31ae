//! What the acting side reads back from the decision log when it starts
//! again, and how it reconciles that with what the orchestrator shows: no
//! action repeated, none forgotten.
//!
//! Every action is logged before it is taken and its outcome after. On a
//! restart, the actions with an outcome rebuild the gates and site
//! factors foresight holds; an action with no outcome (the run was killed
//! between the two) is looked up in the orchestrator: if its effect is
//! there, it is recorded as taken and not taken again; if not, as not
//! taken, and the next plan decides afresh.

use super::gate::Gates;
use crate::adapter::{ClusterView, Phase};
use crate::log::{Act, ActionRecord, Body, Record, Verdict};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The acting side's memory, as the log holds it.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Gates and site factors of actions that took effect.
    pub gates: Gates,
    /// The next action's id.
    pub next_id: u64,
    /// Actions with no outcome, with when they were written.
    pub unresolved: Vec<(ActionRecord, f64)>,
    /// Jobs that already had a decision carried out or proposed.
    pub decided: HashSet<String>,
    /// Jobs proposed in advise mode.
    pub proposed: HashSet<String>,
    /// Jobs whose proposal was approved.
    pub approved: HashSet<String>,
    /// Jobs whose proposal was overridden.
    pub overridden: HashSet<String>,
}

/// What the orchestrator shows of an action on one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The job started or left: the action no longer matters.
    Moot,
    /// Its effect is there.
    Yes,
    /// Its effect is not there.
    No,
    /// It cannot be read back (Slurm shows no site factor for a job that
    /// is not eligible).
    Unknown,
}

/// Whether an action took effect: for a job still pending, what the
/// orchestrator shows must be what it set.
fn shows(act: Act, at: f64, job: Option<&crate::adapter::JobView>, factors: &HashMap<String, i64>) -> Seen {
    let Some(j) = job.filter(|j| j.phase == Phase::Pending) else { return Seen::Moot };
    let eligible = j.control.eligible_s.unwrap_or(0.0);
    let yes = match act {
        Act::Gate { lease_s } => eligible >= at + lease_s as f64 - 2.0,
        Act::Lift => eligible <= at + 2.0,
        Act::SiteFactor { value } => match factors.get(&j.job.job_id) {
            Some(&v) => v == value,
            None => return Seen::Unknown,
        },
    };
    if yes { Seen::Yes } else { Seen::No }
}

impl Ledger {
    /// Reads the acting side's records of a log, in order.
    pub fn read<'a>(records: impl IntoIterator<Item = &'a Record>) -> Self {
        let mut l = Ledger::default();
        let mut open: BTreeMap<u64, (ActionRecord, f64)> = BTreeMap::new();
        for r in records {
            match &r.body {
                Body::Action(a) => {
                    l.next_id = l.next_id.max(a.id + 1);
                    l.decided.extend(a.job_ids.iter().cloned());
                    open.insert(a.id, (a.clone(), r.ts_unix_s));
                }
                Body::Outcome(o) => {
                    if let Some((a, at)) = open.remove(&o.id) {
                        l.note(&a, at, o.ok);
                    }
                }
                Body::Advice(a) => {
                    l.decided.insert(a.job_id.clone());
                    match a.verdict {
                        Verdict::Proposed => l.proposed.insert(a.job_id.clone()),
                        Verdict::Approved => l.approved.insert(a.job_id.clone()),
                        Verdict::Overridden => l.overridden.insert(a.job_id.clone()),
                    };
                }
                _ => {}
            }
        }
        l.unresolved = open.into_values().collect();
        l
    }

    /// Notes an action's outcome in the gates. A failed action is taken
    /// the cautious way: a gate or a site factor that may have been set is
    /// kept (so that letting go lifts it again); a lift or a restore that
    /// failed leaves what was there.
    pub fn note(&mut self, a: &ActionRecord, at: f64, ok: bool) {
        let cautious = matches!(a.act, Act::Gate { .. }) || matches!(a.act, Act::SiteFactor { value } if value != 0);
        if ok || cautious {
            for id in &a.job_ids {
                self.gates.applied(id, a.act, at);
            }
        }
    }

    /// Looks up each unresolved action in `view` (and the pending jobs'
    /// site factors, `factors`): the outcome to log for each, true when
    /// its effect is seen on every job it still matters to. A site factor
    /// that cannot be read back is not taken as seen, but is kept (as a
    /// failed action is) so that letting go restores it. Clears them.
    pub fn reconcile(&mut self, view: &ClusterView, factors: &HashMap<String, i64>) -> Vec<(ActionRecord, bool)> {
        let by_id: HashMap<&str, &crate::adapter::JobView> =
            view.jobs.iter().map(|j| (j.job.job_id.as_str(), j)).collect();
        let mut out = Vec::new();
        for (a, at) in std::mem::take(&mut self.unresolved) {
            let mut all = true;
            for id in &a.job_ids {
                match shows(a.act, at, by_id.get(id.as_str()).copied(), factors) {
                    Seen::Yes => self.gates.applied(id, a.act, at),
                    Seen::No => all = false,
                    Seen::Unknown => {
                        all = false;
                        if matches!(a.act, Act::SiteFactor { value } if value != 0) {
                            self.gates.applied(id, a.act, at);
                        }
                    }
                    Seen::Moot => {}
                }
            }
            out.push((a, all));
        }
        out
    }

    /// The jobs of unresolved actions whose site factor must be read to
    /// reconcile them.
    pub fn factor_jobs(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .unresolved
            .iter()
            .filter(|(a, _)| matches!(a.act, Act::SiteFactor { .. }))
            .flat_map(|(a, _)| a.job_ids.iter().cloned())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{ControlInfo, JobView};
    use crate::log::OutcomeRecord;
    use foresight_core::Job;

    fn rec(seq: u64, ts: f64, body: Body) -> Record {
        Record { seq, ts_unix_s: ts, body }
    }

    fn action(id: u64, act: Act, jobs: &[&str]) -> Body {
        Body::Action(ActionRecord {
            id,
            act,
            job_ids: jobs.iter().map(|s| s.to_string()).collect(),
            why: "enforce".into(),
        })
    }

    fn outcome(id: u64, ok: bool) -> Body {
        Body::Outcome(OutcomeRecord { id, ok, error: None, reconciled: false })
    }

    fn pending(id: &str, eligible: f64) -> JobView {
        JobView {
            job: Job { job_id: id.into(), ..Job::default() },
            phase: Phase::Pending,
            nodes: vec![],
            node_cpus: vec![],
            held: false,
            control: ControlInfo { eligible_s: Some(eligible), ..ControlInfo::default() },
        }
    }

    #[test]
    fn outcomes_rebuild_the_gates_and_unresolved_actions_are_looked_up() {
        let recs = vec![
            rec(0, 100.0, action(0, Act::Gate { lease_s: 60 }, &["1", "2"])),
            rec(1, 100.1, outcome(0, true)),
            rec(2, 101.0, action(1, Act::SiteFactor { value: 500 }, &["3"])),
            rec(3, 101.0, action(2, Act::Gate { lease_s: 60 }, &["4"])),
            rec(4, 101.0, action(3, Act::Lift, &["5"])),
        ];
        let mut l = Ledger::read(&recs);
        assert_eq!(l.next_id, 4);
        assert_eq!(l.gates.get("1").gated_until, Some(160.0));
        assert_eq!(l.unresolved.len(), 3);
        assert_eq!(l.factor_jobs(), ["3"]);
        // 3 has its factor; 4 was never gated (eligible now); 5 started
        let view = ClusterView { at_unix_s: 110.0, nodes: vec![], jobs: vec![pending("3", 90.0), pending("4", 100.0)] };
        let factors: HashMap<String, i64> = [("3".to_string(), 500)].into();
        let got: Vec<(u64, bool)> = l.reconcile(&view, &factors).into_iter().map(|(a, ok)| (a.id, ok)).collect();
        assert_eq!(got, [(1, true), (2, false), (3, true)]);
        assert_eq!(l.gates.get("3").site_factor, 500);
        assert_eq!(l.gates.get("4").gated_until, None, "a gate that never took is not taken for one");
        assert!(l.unresolved.is_empty());

        // a factor Slurm cannot show (the job is gated) is not taken as
        // set, but kept to be restored
        let recs = vec![rec(0, 100.0, action(0, Act::SiteFactor { value: 77 }, &["6"]))];
        let mut l = Ledger::read(&recs);
        let view = ClusterView { at_unix_s: 110.0, nodes: vec![], jobs: vec![pending("6", 150.0)] };
        assert_eq!(
            l.reconcile(&view, &HashMap::new()).into_iter().map(|(a, ok)| (a.id, ok)).collect::<Vec<_>>(),
            [(0, false)]
        );
        assert_eq!(l.gates.get("6").site_factor, 77);
    }

    #[test]
    fn a_failed_gate_is_kept_to_be_lifted_and_a_failed_lift_leaves_the_gate() {
        let recs = vec![
            rec(0, 100.0, action(0, Act::Gate { lease_s: 60 }, &["1"])),
            rec(1, 100.0, outcome(0, false)),
            rec(2, 100.0, action(1, Act::Gate { lease_s: 60 }, &["2"])),
            rec(3, 100.0, outcome(1, true)),
            rec(4, 101.0, action(2, Act::Lift, &["2"])),
            rec(5, 101.0, outcome(2, false)),
        ];
        let l = Ledger::read(&recs);
        assert_eq!(l.gates.get("1").gated_until, Some(160.0));
        assert_eq!(l.gates.get("2").gated_until, Some(160.0));
    }
}
