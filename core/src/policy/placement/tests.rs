//! Tests of placement: first fit against a plain scan, the CPU-only
//! spread against the generic one, best fit, and shares on nodes that are
//! down.

use super::*;
use crate::cluster::Cluster;

fn state(nodes: u32, cap: Resources) -> ClusterState {
    ClusterState::new(&Cluster::homogeneous("n", nodes, cap), f64::INFINITY)
}

#[test]
fn spreads_cpu_jobs_over_single_cpu_nodes() {
    let st = state(4, Resources::new(1, 0, 0));
    let mut t = Tentative::default();
    t.reset(&st);
    let d = Demand::new(Resources::new(3, 0, 0));
    let slots = t.place(&st, Placement::FirstFit, &d).unwrap();
    assert_eq!(slots.iter().map(|s| s.node).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert!(t.place(&st, Placement::FirstFit, &d).is_none());
    assert_eq!(t.free_total, Resources::new(1, 0, 0));
}

#[test]
fn gpu_jobs_stay_on_one_node_when_they_can() {
    let st = state(2, Resources::new(32, 8, 1000));
    let mut t = Tentative::default();
    t.reset(&st);
    let small = Demand::new(Resources::new(4, 2, 100));
    assert_eq!(t.place(&st, Placement::FirstFit, &small).unwrap()[0].node, 0);
    let big = Demand::new(Resources::new(48, 12, 1200));
    let slots = t.place(&st, Placement::BestFit, &big).unwrap();
    let sum = slots.iter().fold(Resources::default(), |a, s| a.saturating_add(&s.res));
    assert_eq!(sum, big.total, "a split adds up to the total");
    assert!(slots.iter().all(|s| s.res.gpus > 0));
}

/// First fit as a plain scan over the nodes, as it was before the free
/// index: the reference the indexed search must agree with. A node that
/// is down (`up[i]` false) holds nothing, not even an empty share.
fn scan_first_fit(free: &mut [Resources], up: &[bool], d: &Demand, largest: &Resources) -> Option<Vec<Slot>> {
    let fits = |free: &[Resources], r: &Resources| {
        (0..free.len() as u32).filter(|&i| up[i as usize] && r.fits_in(&free[i as usize])).collect::<Vec<_>>()
    };
    let spread = |free: &[Resources]| {
        let units = d.size().max(1);
        let t = &d.total;
        let per = Resources::new(t.cpus.div_ceil(units), t.gpus.div_ceil(units), t.mem_mb.div_ceil(units.into()));
        let mut done = 0;
        let mut slots = Vec::new();
        for (i, f) in free.iter().enumerate() {
            if !up[i] {
                continue;
            }
            let fit = units_fitting(f, &per).min(units - done);
            if fit > 0 {
                slots.push(Slot { node: i as u32, res: share(t, done, done + fit, units) });
                done += fit;
                if done == units {
                    return Some(slots);
                }
            }
        }
        None
    };
    let slots = if d.nodes > 0 {
        let mut slots = Vec::new();
        for (i, f) in free.iter().enumerate() {
            let k = slots.len() as u32;
            let res = share(&d.total, k, k + 1, d.nodes);
            if up[i] && res.fits_in(f) {
                slots.push(Slot { node: i as u32, res });
            }
            if slots.len() as u32 == d.nodes {
                break;
            }
        }
        (slots.len() as u32 == d.nodes).then_some(slots)
    } else if d.total.fits_in(largest) {
        fits(free, &d.total).first().map(|&n| vec![Slot { node: n, res: d.total }]).or_else(|| spread(free))
    } else {
        spread(free)
    }?;
    for s in &slots {
        free[s.node as usize] = free[s.node as usize].saturating_sub(&s.res);
    }
    Some(slots)
}

proptest::proptest! {
    #[test]
    fn proptest_indexed_first_fit_places_as_a_scan(
        caps in proptest::collection::vec((1u32..9, 0u32..3, 0u64..4), 1..40),
        down in proptest::collection::vec(0usize..40, 0..4),
        jobs in proptest::collection::vec((0u32..20, 0u32..4, 0u64..6, 0u32..4), 1..60),
    ) {
        let cluster = cluster_of(&caps);
        for indexed in [false, true] {
        let mut st = ClusterState::new(&cluster, f64::INFINITY);
        st.keep_free_index(indexed);
        for &d in &down {
            st.set_node_up(d as u32, false);
        }
        let mut t = Tentative::default();
        let mut free: Vec<Resources> = st.nodes().iter().map(|n| if n.up { n.free } else { Resources::default() }).collect();
        let up: Vec<bool> = st.nodes().iter().map(|n| n.up).collect();
        // some decisions in a row on a state that changes between them
        for (round, chunk) in jobs.chunks(7).enumerate() {
            t.reset(&st);
            let mut tent = free.clone();
            for (j, &(c, g, m, n)) in chunk.iter().enumerate() {
                let d = Demand { total: Resources::new(c, g, m * 100), nodes: n };
                let want = scan_first_fit(&mut tent, &up, &d, &st.largest_node());
                let got = t.place(&st, Placement::FirstFit, &d);
                proptest::prop_assert_eq!(&got, &want);
                if let (Some(slots), 0) = (got, j % 2) {
                    let key = crate::state::JobKey((round * 10 + j) as u32);
                    let info = crate::state::JobInfo { key, user: 0, group: 0, queue: 0, submit_s: 0.0, demand: d, limit_s: 1.0 };
                    st.submit(crate::state::PendingJob { info, estimate_s: 1.0 }).unwrap();
                    // every placement holds: no share, not even an
                    // empty one, lands on a node that is down
                    st.start(key, slots.clone(), 0.0, 1.0).unwrap();
                    for s in &slots {
                        free[s.node as usize] = free[s.node as usize].saturating_sub(&s.res);
                    }
                }
            }
            if round % 2 == 1
                && let Some(r) = st.running().first().map(|r| r.info.key) {
                    for s in st.finish(r).unwrap().slots {
                        if st.nodes()[s.node as usize].up {
                            free[s.node as usize] = free[s.node as usize].saturating_add(&s.res);
                        }
                    }
                }
        }
        }
    }
}

/// A cluster of nodes with these (CPUs, GPUs, hundreds of MB of memory).
fn cluster_of(caps: &[(u32, u32, u64)]) -> Cluster {
    Cluster {
        nodes: caps
            .iter()
            .enumerate()
            .map(|(i, &(c, g, m))| crate::cluster::NodeSpec { name: format!("n{i}"), capacity: Resources::new(c, g, m * 100), gpu_type: None })
            .collect(),
    }
}

/// [`Tentative::place`] with first fit as it was before the CPU-only
/// fast path: the generic spread, then the room taken slot by slot.
fn place_generic(t: &mut Tentative, st: &ClusterState, d: &Demand) -> Option<Vec<Slot>> {
    if !d.total.fits_in(&t.free_total) {
        return None;
    }
    let mut slots = Vec::new();
    let single = d.total.fits_in(&st.largest_node()) && t.single_node(st, Placement::FirstFit, d, &mut slots);
    if !single {
        slots.clear();
        if !t.spread(st, Placement::FirstFit, d, &mut slots) {
            return None;
        }
    }
    t.take(st, &slots);
    Some(slots)
}

proptest::proptest! {
    #[test]
    fn proptest_cpu_only_fast_path_places_as_the_generic_spread(
        caps in proptest::collection::vec((0u32..6, 0u32..3, 0u64..3), 1..150),
        down in proptest::collection::vec(0usize..150, 0..4),
        jobs in proptest::collection::vec((1u32..40, 0u32..2, 0u64..2, 0u32..3), 1..40),
        over in 0u32..3,
    ) {
        let cluster = cluster_of(&caps);
        let mut st = ClusterState::new(&cluster, f64::INFINITY);
        st.keep_free_index(false);
        for &d in &down {
            st.set_node_up(d as u32, false);
        }
        let (mut fast, mut generic) = (Tentative::default(), Tentative::default());
        fast.reset(&st);
        generic.reset(&st);
        let n = st.nodes().len() as u32;
        for &(c, g, m, n_) in &jobs {
            // mostly CPU-only demands, some others between them
            let d = match n_ {
                0 => Demand { total: Resources::new(c, g, m * 100), nodes: 0 },
                _ => Demand::new(Resources::new(c, 0, 0)),
            };
            let got = fast.place(&st, Placement::FirstFit, &d);
            let want = place_generic(&mut generic, &st, &d);
            proptest::prop_assert_eq!(&got, &want);
            proptest::prop_assert_eq!(fast.free_total, generic.free_total);
            proptest::prop_assert_eq!(&fast.room, &generic.room);
            for k in 0..n {
                proptest::prop_assert_eq!(fast.free(&st, k), generic.free(&st, k));
            }
        }
        // more CPUs than the nodes have: refused, and nothing is taken
        let room = fast.room.clone();
        let free: Vec<Resources> = (0..n).map(|k| fast.free(&st, k)).collect();
        let cpus: u32 = free.iter().map(|f| f.cpus).sum::<u32>() + 1 + over;
        let mut slots = Vec::new();
        proptest::prop_assert!(!fast.spread_cpus(&st, cpus, &mut slots));
        proptest::prop_assert_eq!(&fast.room, &room);
        for k in 0..n {
            proptest::prop_assert_eq!(fast.free(&st, k), free[k as usize]);
        }
    }
}

#[test]
fn an_empty_share_never_lands_on_a_node_that_is_down() {
    for indexed in [false, true] {
        let mut st = state(4, Resources::new(1, 0, 0));
        st.keep_free_index(indexed);
        st.set_node_up(0, false);
        let mut t = Tentative::default();
        t.reset(&st);
        // two CPUs over three nodes: shares of 0, 1 and 1 CPU
        let d = Demand { total: Resources::new(2, 0, 0), nodes: 3 };
        let slots = t.place(&st, Placement::FirstFit, &d).unwrap();
        assert_eq!(slots.iter().map(|s| (s.node, s.res.cpus)).collect::<Vec<_>>(), vec![(1, 0), (2, 1), (3, 1)]);
        let info = crate::state::JobInfo { key: crate::state::JobKey(0), user: 0, group: 0, queue: 0, submit_s: 0.0, demand: d, limit_s: 1.0 };
        st.submit(crate::state::PendingJob { info, estimate_s: 1.0 }).unwrap();
        st.start(info.key, slots, 0.0, 1.0).expect("the state takes the placement");
        // a job asking for nothing goes on a node that is up too
        t.reset(&st);
        let none = Demand::new(Resources::default());
        assert_eq!(t.place(&st, Placement::FirstFit, &none).unwrap()[0].node, 1, "indexed: {indexed}");
    }
}

#[test]
fn best_fit_picks_the_fullest_node() {
    let st = state(3, Resources::new(8, 0, 0));
    let mut t = Tentative::default();
    t.reset(&st);
    t.place(&st, Placement::FirstFit, &Demand::new(Resources::new(6, 0, 0))).unwrap();
    t.place(&st, Placement::FirstFit, &Demand::new(Resources::new(3, 0, 0))).unwrap();
    let two = Demand::new(Resources::new(2, 0, 0));
    assert_eq!(t.place(&st, Placement::BestFit, &two).unwrap()[0].node, 0);
    let exact = Demand { total: Resources::new(4, 0, 0), nodes: 2 };
    let slots = t.place(&st, Placement::FirstFit, &exact).unwrap();
    assert_eq!(slots.len(), 2);
    assert_eq!(slots[0].res.cpus + slots[1].res.cpus, 4);
}
