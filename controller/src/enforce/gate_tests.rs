//! Tests of the gate planner: what is gated, lifted, renewed, restored
//! and left alone, and how the commands are batched.

use super::*;
use crate::adapter::{ControlInfo, JobView};
use foresight_core::Job;

fn pending(id: &str, eligible: f64, comment: Option<&str>) -> JobView {
    JobView {
        job: Job { job_id: id.into(), queue: Some("batch".into()), submit_s: 90.0, ..Job::default() },
        phase: Phase::Pending,
        nodes: vec![],
        node_cpus: vec![],
        held: false,
        control: ControlInfo { qos: None, admin_comment: comment.map(str::to_string), eligible_s: Some(eligible) },
    }
}

fn view(now: f64, jobs: Vec<JobView>) -> ClusterView {
    ClusterView { at_unix_s: now, nodes: vec![], jobs }
}

fn cfg() -> GateConfig {
    GateConfig {
        lease_s: 60,
        renew_s: 30,
        control: Control { partitions: vec!["batch".into()], qos: vec![] },
        ..GateConfig::default()
    }
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn jobs_not_started_are_gated_and_started_ones_lifted_in_order() {
    let g = Gates::default();
    let v = view(100.0, vec![pending("1", 90.0, None), pending("2", 90.0, None), pending("3", 90.0, None)]);
    let plan = g.plan_enforce(&v, &ids(&["3", "2"]), &cfg());
    assert_eq!(
        plan,
        vec![
            Planned { act: Act::SiteFactor { value: 10_000 }, job_ids: ids(&["3"]) },
            Planned { act: Act::SiteFactor { value: 9_999 }, job_ids: ids(&["2"]) },
            Planned { act: Act::Gate { lease_s: 60 }, job_ids: ids(&["1"]) },
        ]
    );
}

#[test]
fn a_gate_is_renewed_only_when_its_lease_runs_low_and_a_lua_gate_counts() {
    let mut g = Gates::default();
    g.applied("1", Act::Gate { lease_s: 60 }, 100.0);
    let c = cfg();
    // 50 s left: kept; a lua gate (marked, begin time ahead) is one too
    let v = view(110.0, vec![pending("1", 160.0, None), pending("2", 150.0, Some("foresight"))]);
    assert!(g.plan_enforce(&v, &[], &c).is_empty());
    // 20 s left: renewed, both in one command
    let v = view(140.0, vec![pending("1", 160.0, None), pending("2", 150.0, Some("foresight"))]);
    assert_eq!(
        g.plan_enforce(&v, &[], &c),
        vec![Planned { act: Act::Gate { lease_s: 60 }, job_ids: ids(&["1", "2"]) }]
    );
    // started: lifted, with its factor
    let v = view(140.0, vec![pending("2", 150.0, Some("foresight"))]);
    assert_eq!(
        g.plan_enforce(&v, &ids(&["2"]), &c),
        vec![
            Planned { act: Act::SiteFactor { value: 10_000 }, job_ids: ids(&["2"]) },
            Planned { act: Act::Lift, job_ids: ids(&["2"]) },
        ]
    );
}

#[test]
fn release_lifts_every_gate_and_restores_every_factor_but_kept_ones() {
    let mut g = Gates::default();
    g.applied("1", Act::Gate { lease_s: 60 }, 100.0);
    g.applied("2", Act::SiteFactor { value: 10_000 }, 100.0);
    g.applied("3", Act::SiteFactor { value: 9_999 }, 100.0);
    let v = view(
        101.0,
        vec![
            pending("1", 160.0, None),
            pending("2", 90.0, None),
            pending("3", 90.0, None),
            pending("4", 150.0, Some("foresight")),
        ],
    );
    let keep: HashSet<String> = ["3".to_string()].into();
    assert_eq!(
        g.plan_release(&v, &keep, &cfg()),
        vec![
            Planned { act: Act::Lift, job_ids: ids(&["1", "4"]) },
            Planned { act: Act::SiteFactor { value: 0 }, job_ids: ids(&["2"]) },
        ]
    );
    assert_eq!(g.open(&v), 2);
}

#[test]
fn a_begin_time_the_user_asked_for_is_left_alone_and_uncontrolled_jobs_too() {
    let g = Gates::default();
    let mut other = pending("9", 90.0, None);
    other.job.queue = Some("other".into());
    let v = view(100.0, vec![pending("1", 5000.0, None), other]);
    assert!(g.plan_enforce(&v, &ids(&["1"]), &cfg()).is_empty());
    assert!(g.plan_release(&v, &HashSet::new(), &cfg()).is_empty());
}

#[test]
fn batches_are_cut_at_the_limit_and_settled_jobs_forgotten() {
    let c = GateConfig { batch: 2, ..cfg() };
    let v = view(100.0, (1..=5).map(|i| pending(&i.to_string(), 90.0, None)).collect());
    let plan = Gates::default().plan_enforce(&v, &[], &c);
    assert_eq!(plan.iter().map(|p| p.job_ids.len()).collect::<Vec<_>>(), [2, 2, 1]);
    let mut g = Gates::default();
    for p in &plan {
        for id in &p.job_ids {
            g.applied(id, p.act, 100.0);
        }
    }
    g.forget_settled(&view(100.0, vec![pending("1", 160.0, None)]));
    assert_eq!(g.iter().map(|(id, _)| id).collect::<Vec<_>>(), ["1"]);
    g.forget_settled(&view(200.0, vec![pending("1", 160.0, None)]));
    assert_eq!(g.iter().count(), 0, "a lapsed lease is no gate");
}
