//! Tests of the cluster state, and a job helper the other core tests share.

use super::*;

pub(crate) fn info(key: u32, cpus: u32, submit_s: f64, limit_s: f64) -> JobInfo {
    JobInfo {
        key: JobKey(key),
        user: key % 3,
        group: 0,
        queue: 0,
        submit_s,
        demand: Demand::new(Resources::new(cpus, 0, 0)),
        limit_s,
    }
}

fn slot(node: u32, cpus: u32) -> Slot {
    Slot { node, res: Resources::new(cpus, 0, 0) }
}

#[test]
fn start_and_finish_move_resources() {
    let mut st = ClusterState::new(&Cluster::homogeneous("n", 2, Resources::new(4, 0, 0)), f64::INFINITY);
    st.submit(PendingJob { info: info(1, 6, 0.0, 100.0), estimate_s: 50.0 }).unwrap();
    st.submit(PendingJob { info: info(0, 1, 0.0, 100.0), estimate_s: 50.0 }).unwrap();
    assert_eq!(st.pending()[0].info.key, JobKey(0), "pending stays in key order");
    assert!(st.submit(PendingJob { info: info(1, 6, 0.0, 100.0), estimate_s: 50.0 }).is_err());

    let err = st.start(JobKey(1), vec![slot(0, 4), slot(1, 5)], 1.0, 51.0).unwrap_err();
    assert_eq!(err, StateError::NoRoom { key: JobKey(1), node: 1 });
    assert_eq!(st.free_total(), Resources::new(8, 0, 0), "a refused start changes nothing");

    st.start(JobKey(1), vec![slot(0, 4), slot(1, 2)], 1.0, 51.0).unwrap();
    st.start(JobKey(0), vec![slot(1, 1)], 1.0, 20.0).unwrap();
    assert_eq!(st.free_total(), Resources::new(1, 0, 0));
    assert_eq!(st.running()[0].info.key, JobKey(0), "running sorted by expected end");
    st.set_expected_end(JobKey(0), 90.0).unwrap();
    assert_eq!(st.running()[1].info.key, JobKey(0));
    assert_eq!(st.jobs_on_node(1), vec![JobKey(0), JobKey(1)]);

    let done = st.finish(JobKey(1)).unwrap();
    assert_eq!(done.start_s, 1.0);
    assert_eq!(st.free_total(), Resources::new(7, 0, 0));
    assert!(st.finish(JobKey(1)).is_err());
}

#[test]
fn down_nodes_leave_the_free_total() {
    let mut st = ClusterState::new(&Cluster::homogeneous("n", 2, Resources::new(4, 0, 0)), f64::INFINITY);
    st.submit(PendingJob { info: info(0, 2, 0.0, 10.0), estimate_s: 10.0 }).unwrap();
    st.start(JobKey(0), vec![slot(0, 2)], 0.0, 10.0).unwrap();
    assert!(st.set_node_up(0, false));
    assert!(!st.set_node_up(0, false));
    assert_eq!(st.free_total(), Resources::new(4, 0, 0));
    assert_eq!(st.up_total(), Resources::new(4, 0, 0));
    st.finish(JobKey(0)).unwrap();
    assert_eq!(st.free_total(), Resources::new(4, 0, 0), "freeing onto a down node adds nothing");
    st.set_node_up(0, true);
    assert_eq!(st.free_total(), Resources::new(8, 0, 0));
}

proptest::proptest! {
    /// Starting, re-estimating and finishing jobs in any order keeps
    /// `running` sorted by `(expected end, key)` and holding exactly the
    /// jobs started and not finished.
    #[test]
    fn proptest_running_stays_sorted(ops in proptest::collection::vec((0u32..12, 0u8..3, 0u32..6), 1..80)) {
        let mut st = ClusterState::new(&Cluster::homogeneous("n", 4, Resources::new(64, 0, 0)), f64::INFINITY);
        let mut model: Vec<(u32, f64)> = Vec::new();
        for (k, op, t) in ops {
            let end = f64::from(t) * 10.0;
            let live = model.iter().position(|m| m.0 == k);
            match (op, live) {
                (0, None) => {
                    st.submit(PendingJob { info: info(k, 1, 0.0, 100.0), estimate_s: end }).unwrap();
                    st.start(JobKey(k), vec![slot(k % 4, 1)], 0.0, end).unwrap();
                    model.push((k, end));
                }
                (1, Some(i)) => {
                    st.set_expected_end(JobKey(k), end).unwrap();
                    model[i].1 = end;
                }
                (2, Some(i)) => {
                    st.finish(JobKey(k)).unwrap();
                    model.remove(i);
                }
                (1, None) => proptest::prop_assert!(st.set_expected_end(JobKey(k), end).is_err()),
                _ => {}
            }
            model.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            let got: Vec<(u32, f64)> = st.running().iter().map(|r| (r.info.key.0, r.expected_end_s)).collect();
            proptest::prop_assert_eq!(got, model.clone());
            let back: Vec<u32> = st.running().iter().rev().map(|r| r.info.key.0).collect();
            proptest::prop_assert!(back.iter().rev().eq(model.iter().map(|m| &m.0)));
            proptest::prop_assert_eq!(st.running().len(), model.len());
            for (i, m) in model.iter().enumerate() {
                proptest::prop_assert_eq!(st.running()[i].info.key.0, m.0);
            }
        }
    }
}
