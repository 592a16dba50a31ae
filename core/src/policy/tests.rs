//! Unit and property tests of the composed policies.

use super::*;
use crate::cluster::Cluster;
use crate::resources::Resources;
use crate::state::{Demand, JobInfo, JobKey, PendingJob};
use proptest::prelude::*;

fn info(key: u32, cpus: u32, limit_s: f64) -> JobInfo {
    JobInfo {
        key: JobKey(key),
        user: key % 3,
        group: 0,
        queue: 0,
        submit_s: 0.0,
        demand: Demand::new(Resources::new(cpus, 0, 0)),
        limit_s,
    }
}

/// A cluster of `nodes` × `per_node` CPUs with jobs `running` as
/// `(cpus, expected end)` started at 0 and jobs `pending` as `(cpus, estimate)`.
fn state(nodes: u32, per_node: u32, running: &[(u32, f64)], pending: &[(u32, f64)]) -> ClusterState {
    let mut st = ClusterState::new(&Cluster::homogeneous("n", nodes, Resources::new(per_node, 0, 0)), f64::INFINITY);
    let mut t = Tentative::default();
    let mut key = 0;
    for &(cpus, end) in running {
        t.reset(&st);
        let p = PendingJob { info: info(key, cpus, 1e9), estimate_s: end };
        let Some(slots) = t.place(&st, Placement::FirstFit, &p.info.demand) else { continue };
        st.submit(p).unwrap();
        st.start(JobKey(key), slots, 0.0, end).unwrap();
        key += 1;
    }
    for &(cpus, est) in pending {
        st.submit(PendingJob { info: info(key, cpus, 1e9), estimate_s: est }).unwrap();
        key += 1;
    }
    st
}

/// Applies the starts of `d` (all of them, or only those not backfilled)
/// to a copy of `st` at `now`.
fn apply(st: &ClusterState, d: &Decision, now: f64, backfills_too: bool) -> ClusterState {
    let mut after = st.clone();
    for s in d.starts.iter().filter(|s| backfills_too || !s.backfilled) {
        let est = st.pending().iter().find(|p| p.info.key == s.key).unwrap().estimate_s;
        after.start(s.key, s.slots.clone(), now, now + est).unwrap();
    }
    after
}

#[test]
fn easy_backfills_short_jobs_around_the_reservation() {
    // 4 CPUs; 2 busy until t=100. Head wants 4; a 2-CPU job of 50 s fits
    // before the shadow time, one of 200 s would delay the head.
    let st = state(4, 1, &[(2, 100.0)], &[(4, 10.0), (2, 200.0), (2, 50.0)]);
    let mut easy = "easy".parse::<PolicySpec>().unwrap().build();
    let d = easy.decide(&st, 0.0);
    assert_eq!(d.starts.len(), 1);
    assert_eq!(d.starts[0].key, JobKey(3));
    assert!(d.starts[0].backfilled);
    let mut fcfs = "fcfs".parse::<PolicySpec>().unwrap().build();
    assert!(fcfs.decide(&st, 0.0).starts.is_empty());
    let mut cons = "conservative".parse::<PolicySpec>().unwrap().build();
    assert_eq!(cons.decide(&st, 0.0).starts.iter().map(|s| s.key).collect::<Vec<_>>(), vec![JobKey(3)]);
}

#[test]
fn sjbf_tries_the_shortest_candidate_first() {
    // Room for one 2-CPU backfill before the shadow time at 100.
    let st = state(4, 1, &[(2, 100.0)], &[(4, 10.0), (2, 90.0), (2, 30.0)]);
    let mut easy = "easy".parse::<PolicySpec>().unwrap().build();
    assert_eq!(easy.decide(&st, 0.0).starts[0].key, JobKey(2));
    let mut sjbf = "sjbf".parse::<PolicySpec>().unwrap().build();
    assert_eq!(sjbf.decide(&st, 0.0).starts[0].key, JobKey(3));
}

#[test]
fn queue_orders_rank_as_named() {
    let st = state(2, 1, &[(2, 100.0)], &[(2, 50.0), (1, 500.0), (1, 20.0)]);
    let mut scratch = OrderScratch::default();
    let mut out = Vec::new();
    QueueOrder::ShortestFirst.order_into(&st, 0.0, &mut scratch, &mut out);
    assert_eq!(out, vec![2, 0, 1]);
    QueueOrder::Qssf.order_into(&st, 0.0, &mut scratch, &mut out);
    assert_eq!(out, vec![2, 0, 1], "service = estimate x size: 20, 100, 500");
    QueueOrder::Fcfs.order_into(&st, 0.0, &mut scratch, &mut out);
    assert_eq!(out, vec![0, 1, 2]);
}

#[test]
fn slack_puts_the_least_slack_first_and_jobs_without_a_deadline_last_in_arrival_order() {
    // pending keys 0..4 (no running jobs): estimates 50, 10, 10, 30, 5
    let mut st = state(1, 4, &[], &[(1, 50.0), (1, 10.0), (1, 10.0), (1, 30.0), (1, 5.0)]);
    // slack at now = 100: key 0: 400 - 100 - 50 = 250; key 2: 150 - 100 - 10 = 40;
    // key 3: 120 - 100 - 30 = -10 (late by prediction); keys 1 and 4: no deadline
    st.set_deadline(JobKey(0), 400.0);
    st.set_deadline(JobKey(2), 150.0);
    st.set_deadline(JobKey(3), 120.0);
    let mut scratch = OrderScratch::default();
    let mut out = Vec::new();
    QueueOrder::Slack.order_into(&st, 100.0, &mut scratch, &mut out);
    assert_eq!(out, vec![3, 2, 0, 1, 4]);
    assert_eq!(slack(120.0, 100.0, 30.0), -10.0);
    let edf: PolicySpec = "edf".parse().unwrap();
    assert_eq!(edf.order, QueueOrder::Slack);
    assert_eq!("foresight/slack".parse::<PolicySpec>().unwrap().order, QueueOrder::Slack);
    // the policy starts in that order: one CPU free, so the least slack runs
    let mut tight = state(1, 1, &[], &[(1, 50.0), (1, 10.0), (1, 10.0), (1, 30.0)]);
    tight.set_deadline(JobKey(3), 120.0);
    assert_eq!(edf.build().decide(&tight, 100.0).starts[0].key, JobKey(3));
}

#[test]
fn fair_share_puts_light_users_first() {
    let mut st = state(2, 1, &[], &[(1, 10.0), (1, 10.0)]);
    // Job 0 belongs to user 0, job 1 to user 1; user 0 has used a lot.
    st.usage_mut().charge(0, 0, 5000.0, 0.0);
    let mut scratch = OrderScratch::default();
    let mut out = Vec::new();
    QueueOrder::FairShare(ShareBy::User).order_into(&st, 10.0, &mut scratch, &mut out);
    assert_eq!(out, vec![1, 0]);
    QueueOrder::Priority(PriorityWeights::default()).order_into(&st, 10.0, &mut scratch, &mut out);
    assert_eq!(out, vec![1, 0]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The head's reservation (shadow time) computed after EASY's in-order
    /// starts is never later once the backfilled jobs are added.
    #[test]
    fn proptest_easy_backfill_never_delays_the_head_reservation(
        nodes in 1u32..6,
        per_node in 1u32..5,
        running in prop::collection::vec((1u32..6, 1u32..500), 0..8),
        pending in prop::collection::vec((1u32..8, 0u32..600), 1..12),
        sjbf in any::<bool>(),
        now in 0u32..50,
    ) {
        let running: Vec<(u32, f64)> = running.iter().map(|&(c, e)| (c, f64::from(e))).collect();
        let total = nodes * per_node;
        let pending: Vec<(u32, f64)> = pending.iter().map(|&(c, e)| (c.min(total), f64::from(e))).collect();
        let now = f64::from(now);
        let st = state(nodes, per_node, &running, &pending);
        let mut policy = if sjbf { "sjbf" } else { "easy" }.parse::<PolicySpec>().unwrap().build();
        let d = policy.decide(&st, now);
        let started: Vec<JobKey> = d.starts.iter().map(|s| s.key).collect();
        let Some(head) = st.pending().iter().find(|p| !started.contains(&p.info.key)) else { return Ok(()) };
        let need = head.info.demand.total;
        let in_order = apply(&st, &d, now, false);
        let all = apply(&st, &d, now, true);
        let (before, _) = easy_shadow(now, in_order.free_total(), in_order.running(), &[], &need);
        let (after, _) = easy_shadow(now, all.free_total(), all.running(), &[], &need);
        prop_assert!(after <= before, "head reservation moved from {before} to {after}");
    }
}

#[test]
fn only_the_orders_that_weigh_usage_say_they_read_it() {
    for name in PolicySpec::PRESETS {
        let p = name.parse::<PolicySpec>().unwrap().build();
        let want = name.starts_with("fairshare") || name == "priority";
        assert_eq!(p.reads_usage(), want, "{name}");
        assert_eq!(Box::new(p).reads_usage(), want, "{name}, boxed");
    }
}

#[test]
fn deciding_into_a_used_decision_decides_the_same() {
    let st = state(4, 1, &[(2, 100.0)], &[(4, 10.0), (2, 90.0), (2, 30.0), (1, 5.0)]);
    for name in PolicySpec::PRESETS {
        let mut p = name.parse::<PolicySpec>().unwrap().build();
        let want = p.decide(&st, 0.0);
        // a buffer holding an earlier decision, a preemption and a wake-up
        let mut out = p.decide(&st, 0.0);
        out.preempt.push(JobKey(9));
        out.wake_at = Some(7.0);
        // and slot lists given back, to be filled again
        let mut spare = vec![vec![crate::state::Slot { node: 3, res: Resources::new(1, 0, 0) }]; 3];
        p.recycle(&mut spare);
        assert!(spare.is_empty(), "{name}: the policy takes the spares");
        p.decide_into(&st, 0.0, &mut out);
        assert_eq!(out, want, "{name}");
    }
}

/// Running jobs as `(cpus, expected end, limit)` started at 0, pending
/// jobs as `(cpus, estimate, limit, submitted)`: the state a policy sees,
/// and the same state with every running job's end at its kill limit.
fn state_with_limits(
    nodes: u32,
    per_node: u32,
    running: &[(u32, f64, f64)],
    pending: &[(u32, f64, f64, f64)],
) -> (ClusterState, ClusterState) {
    let cluster = Cluster::homogeneous("n", nodes, Resources::new(per_node, 0, 0));
    let (mut st, mut by_limit) = (ClusterState::new(&cluster, f64::INFINITY), ClusterState::new(&cluster, f64::INFINITY));
    let mut t = Tentative::default();
    let mut key = 0;
    for &(cpus, end, limit) in running {
        t.reset(&st);
        let p = PendingJob { info: info(key, cpus, limit), estimate_s: end.min(limit) };
        let Some(slots) = t.place(&st, Placement::FirstFit, &p.info.demand) else { continue };
        for (s, e) in [(&mut st, p.estimate_s), (&mut by_limit, limit)] {
            s.submit(p).unwrap();
            s.start(JobKey(key), slots.clone(), 0.0, e).unwrap();
        }
        key += 1;
    }
    for &(cpus, est, limit, submit) in pending {
        let p = PendingJob { info: JobInfo { submit_s: submit, ..info(key, cpus, limit) }, estimate_s: est.min(limit) };
        st.submit(p).unwrap();
        by_limit.submit(p).unwrap();
        key += 1;
    }
    (st, by_limit)
}

#[test]
fn a_protected_head_is_not_passed_by_a_job_whose_limit_crosses_its_reservation() {
    // 4 CPUs, 2 busy: expected to end at 100, killed at 1000. The head
    // wants all 4; behind it, a job predicted at 50 s that may run 5000 s,
    // and one predicted at 60 s that may run 900 s.
    let pending = |head_limit| [(4, 150.0, head_limit, 0.0), (2, 50.0, 5000.0, 0.0), (2, 60.0, 900.0, 0.0)];
    let policy = || "foresight".parse::<PolicySpec>().unwrap().build();
    // At 10 s the head has waited less than its 200 s: EASY by the
    // predictions, the shortest candidate backfills before the shadow (100).
    let (st, _) = state_with_limits(4, 1, &[(2, 100.0, 1000.0)], &pending(200.0));
    let d = policy().decide(&st, 10.0);
    assert_eq!(d.starts.iter().map(|s| s.key).collect::<Vec<_>>(), vec![JobKey(2)]);
    // With a 5 s limit it has waited longer: its reservation is at the
    // running job's limit (1000), which the 5000 s job would cross and the
    // 900 s one does not.
    let (st, _) = state_with_limits(4, 1, &[(2, 100.0, 1000.0)], &pending(5.0));
    let d = policy().decide(&st, 10.0);
    assert_eq!(d.starts.iter().map(|s| s.key).collect::<Vec<_>>(), vec![JobKey(3)]);
    assert!(d.starts[0].backfilled);
    // EASY++ (unprotected) lets the 5000 s job pass whatever the wait.
    let mut easy_pp = "easy++".parse::<PolicySpec>().unwrap().build();
    assert_eq!(easy_pp.decide(&st, 10.0).starts[0].key, JobKey(2));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// With requested times (every estimate its limit), protecting the head
    /// changes no decision: EASY's guarantee already holds.
    #[test]
    fn proptest_protection_changes_nothing_with_requested_times(
        nodes in 1u32..6,
        per_node in 1u32..5,
        running in prop::collection::vec((1u32..6, 1u32..500), 0..8),
        pending in prop::collection::vec((1u32..8, 1u32..600, 0u32..100), 1..12),
        sjbf in any::<bool>(),
        now in 0u32..400,
    ) {
        let total = nodes * per_node;
        let running: Vec<(u32, f64, f64)> = running.iter().map(|&(c, e)| (c, f64::from(e), f64::from(e))).collect();
        let pending: Vec<(u32, f64, f64, f64)> =
            pending.iter().map(|&(c, l, s)| (c.min(total), f64::from(l), f64::from(l), f64::from(s))).collect();
        let (st, _) = state_with_limits(nodes, per_node, &running, &pending);
        let now = f64::from(now).max(100.0);
        let base = if sjbf { "sjbf" } else { "easy" };
        let plain = base.parse::<PolicySpec>().unwrap().build().decide(&st, now);
        let protected = format!("{base}/protected").parse::<PolicySpec>().unwrap().build().decide(&st, now);
        prop_assert_eq!(plain, protected);
    }

    /// Once the head is protected, what starts behind it never moves its
    /// reservation by kill limits later, however wrong the estimates.
    #[test]
    fn proptest_protected_head_reservation_by_limits_never_moves_later(
        nodes in 1u32..6,
        per_node in 1u32..5,
        running in prop::collection::vec((1u32..6, 1u32..500, 0u32..800), 0..8),
        pending in prop::collection::vec((1u32..8, 1u32..600, 0u32..800), 1..12),
        now in 0u32..50,
    ) {
        let total = nodes * per_node;
        // limits at or above the estimates; every pending job submitted as
        // long before 0 as its limit, so whichever is the head is protected
        let running: Vec<(u32, f64, f64)> =
            running.iter().map(|&(c, e, x)| (c, f64::from(e), f64::from(e + x))).collect();
        let pending: Vec<(u32, f64, f64, f64)> = pending
            .iter()
            .map(|&(c, e, x)| (c.min(total), f64::from(e), f64::from(e + x), -f64::from(e + x)))
            .collect();
        let (st, by_limit) = state_with_limits(nodes, per_node, &running, &pending);
        let now = f64::from(now);
        let d = "foresight".parse::<PolicySpec>().unwrap().build().decide(&st, now);
        let started: Vec<JobKey> = d.starts.iter().map(|s| s.key).collect();
        let Some(head) = st.pending().iter().find(|p| !started.contains(&p.info.key)) else { return Ok(()) };
        let need = head.info.demand.total;
        // every job's end at its limit, in-order starts only, then all
        let start_at_limits = |backfills_too: bool| {
            let mut after = by_limit.clone();
            for s in d.starts.iter().filter(|s| backfills_too || !s.backfilled) {
                let limit = st.pending().iter().find(|p| p.info.key == s.key).unwrap().info.limit_s;
                after.start(s.key, s.slots.clone(), now, now + limit).unwrap();
            }
            after
        };
        let (in_order, all) = (start_at_limits(false), start_at_limits(true));
        let (before, _) = easy_shadow(now, in_order.free_total(), in_order.running(), &[], &need);
        let (after, _) = easy_shadow(now, all.free_total(), all.running(), &[], &need);
        prop_assert!(after <= before, "protected reservation moved from {before} to {after}");
    }
}

#[test]
fn a_reservation_by_nodes_holds_its_nodes_whole_as_slurms_backfill_does() {
    // 4 nodes of 25; node 1 has 5 CPUs free until 120, the rest is busy
    // until 600. The head (24 CPUs, 300 s) is reserved at 120; a 1-CPU job
    // of 300 s fits beside it by CPUs, but not once its node is held whole.
    let st = state(4, 25, &[(20, 120.0), (25, 600.0), (25, 600.0), (25, 600.0)], &[(24, 300.0), (1, 300.0)]);
    let mut cons = "conservative".parse::<PolicySpec>().unwrap().build();
    assert_eq!(cons.decide(&st, 0.0).starts.iter().map(|s| s.key).collect::<Vec<_>>(), vec![JobKey(5)]);
    let mut by_nodes = "fcfs/conservative-nodes".parse::<PolicySpec>().unwrap().build();
    assert!(by_nodes.decide(&st, 0.0).starts.is_empty());
    // a 1-CPU job that ends by the reservation still backfills
    let st = state(4, 25, &[(20, 120.0), (25, 600.0), (25, 600.0), (25, 600.0)], &[(24, 300.0), (1, 100.0)]);
    assert_eq!(by_nodes.decide(&st, 0.0).starts.iter().map(|s| s.key).collect::<Vec<_>>(), vec![JobKey(5)]);
}

#[test]
fn whole_nodes_rounds_every_dimension_to_the_most_demanding() {
    let node = Resources::new(25, 4, 1000);
    assert_eq!(backfill::whole_nodes(&Resources::new(1, 0, 0), &node), Resources::new(25, 4, 1000));
    assert_eq!(backfill::whole_nodes(&Resources::new(30, 0, 0), &node), Resources::new(50, 8, 2000));
    assert_eq!(backfill::whole_nodes(&Resources::new(2, 9, 0), &node), Resources::new(75, 12, 3000));
    assert_eq!(backfill::whole_nodes(&Resources::new(3, 1, 0), &Resources::new(4, 0, 0)), Resources::new(4, 1, 0));
}
