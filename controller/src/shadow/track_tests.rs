//! Tests of the job tracker, and view builders shared with other tests.

use super::*;
use foresight_core::{JobStatus, NodeSpec, Resources};

pub(crate) fn node(name: &str, cpus: u32) -> NodeView {
    NodeView {
        spec: NodeSpec { name: name.into(), capacity: Resources::new(cpus, 0, 0), gpu_type: None },
        state: "idle".into(),
        usable: true,
        allocated: Resources::default(),
    }
}

pub(crate) fn job(id: &str, phase: Phase, cpus: u32, submit: f64, start: Option<f64>, end: Option<f64>) -> JobView {
    let status = if phase == Phase::Finished { JobStatus::Completed } else { JobStatus::Unknown };
    JobView {
        job: Job {
            job_id: id.into(),
            user: Some("u".into()),
            submit_s: submit,
            start_s: start,
            end_s: end,
            runtime_s: start.zip(end).map(|(s, e)| e - s),
            req_cpus: Some(cpus),
            req_time_s: Some(600.0),
            status,
            ..Job::default()
        },
        phase,
        nodes: if start.is_some() { vec!["n1".into()] } else { vec![] },
        node_cpus: Vec::new(),
        held: false,
        control: Default::default(),
    }
}

fn view(at: f64, jobs: Vec<JobView>) -> ClusterView {
    ClusterView { at_unix_s: at, nodes: vec![node("n1", 4), node("n2", 4)], jobs }
}

fn kinds(diff: &Diff) -> Vec<(String, ChangeKind)> {
    diff.changes.iter().map(|c| (c.job_id.clone(), c.what)).collect()
}

#[test]
fn follows_a_job_from_submission_to_its_end() {
    let mut t = Tracker::new();
    let d = t.apply(&view(10.0, vec![job("5", Phase::Pending, 2, 9.0, None, None)]));
    assert_eq!(kinds(&d), [("5".into(), ChangeKind::Submitted)]);
    assert_eq!(d.new_jobs, [JobKey(5)]);
    assert_eq!(t.by_id("5").unwrap().info.limit_s, 600.0);
    let d = t.apply(&view(11.0, vec![job("5", Phase::Running, 2, 9.0, Some(11.0), None)]));
    assert_eq!(kinds(&d), [("5".into(), ChangeKind::Started)]);
    assert_eq!(d.started[0].nodes, ["n1"]);
    let d = t.apply(&view(12.0, vec![job("5", Phase::Running, 2, 9.0, Some(11.0), None)]));
    assert!(d.changes.is_empty());
    let d = t.apply(&view(14.0, vec![job("5", Phase::Finished, 2, 9.0, Some(11.0), Some(14.0))]));
    assert_eq!(kinds(&d), [("5".into(), ChangeKind::Finished)]);
    assert_eq!(d.finished[0].view.job.runtime_s, Some(3.0));
    let d = t.apply(&view(15.0, vec![job("5", Phase::Finished, 2, 9.0, Some(11.0), Some(14.0))]));
    assert!(d.changes.is_empty(), "reported once");
    assert_eq!(t.live().count(), 0);
}

#[test]
fn a_job_seen_only_finished_is_submitted_started_and_finished_at_once() {
    let mut t = Tracker::new();
    let d = t.apply(&view(10.0, vec![job("7", Phase::Finished, 1, 5.0, Some(6.0), Some(8.0))]));
    let k: Vec<ChangeKind> = d.changes.iter().map(|c| c.what).collect();
    assert_eq!(k, [ChangeKind::Submitted, ChangeKind::Started, ChangeKind::Finished]);
    assert_eq!(d.new_jobs.len(), 1);
    assert_eq!(d.finished.len(), 1);
}

#[test]
fn vanished_jobs_end_or_are_withdrawn_and_resumed_ones_are_not_repeated() {
    let mut t = Tracker::new();
    t.mark_done(["1".to_string()]);
    t.apply(&view(
        10.0,
        vec![
            job("1", Phase::Finished, 1, 1.0, Some(2.0), Some(3.0)),
            job("2", Phase::Pending, 1, 9.0, None, None),
            job("3", Phase::Running, 1, 9.0, Some(9.5), None),
        ],
    ));
    assert_eq!(t.vanished(&view(11.0, vec![])), ["2", "3"]);
    let d = t.apply(&view(12.0, vec![]));
    assert_eq!(kinds(&d), [("2".into(), ChangeKind::Withdrawn), ("3".into(), ChangeKind::Finished)]);
    assert_eq!(d.finished[0].view.job.end_s, Some(12.0));
}

/// Views whose jobs move about, vanish and repeat: the tracker must report
/// the same changes whatever the order the orchestrator lists them in (the
/// last view's order only saves look-ups).
#[test]
fn changes_do_not_depend_on_the_order_of_the_view() {
    let mut rng = foresight_core::rng::SplitMix64::derive(7, 0);
    let mut a = Tracker::new();
    let mut b = Tracker::new();
    let mut jobs: Vec<JobView> = Vec::new();
    let mut next = 1;
    for step in 0..200 {
        let at = f64::from(step) * 10.0;
        // a few arrive, start, end or vanish
        for _ in 0..3 {
            jobs.push(job(&next.to_string(), Phase::Pending, 1, at, None, None));
            next += 1;
        }
        for _ in 0..4 {
            let i = rng.below(jobs.len() as u64) as usize;
            let j = &mut jobs[i];
            match (j.phase, rng.below(4)) {
                (Phase::Pending, 0 | 1) => *j = job(&j.job.job_id, Phase::Running, 1, j.job.submit_s, Some(at), None),
                (Phase::Running, 0) => *j = job(&j.job.job_id, Phase::Finished, 1, j.job.submit_s, j.job.start_s, Some(at)),
                (_, 2) => {
                    jobs.remove(i);
                }
                _ => {}
            }
        }
        // the first tracker sees the list in order, the second shuffled,
        // now and then with a job listed twice
        let mut shuffled = jobs.clone();
        for i in (1..shuffled.len()).rev() {
            let k = rng.below(i as u64 + 1) as usize;
            if rng.below(3) == 0 {
                shuffled.swap(i, k);
            }
        }
        if step % 7 == 0 && !shuffled.is_empty() {
            let dup = shuffled[0].clone();
            shuffled.push(dup);
        }
        let da = a.apply(&view(at, jobs.clone()));
        let db = b.apply(&view(at, shuffled));
        let sorted = |d: &Diff| {
            let mut k: Vec<String> = kinds(d).iter().map(|(id, what)| format!("{id} {what:?}")).collect();
            k.sort();
            k
        };
        assert_eq!(sorted(&da), sorted(&db), "step {step}");
        assert_eq!(a.live().map(|t| t.info.key).collect::<Vec<_>>(), b.live().map(|t| t.info.key).collect::<Vec<_>>());
    }
}

#[test]
fn ids_that_spell_the_same_number_differently_are_different_jobs() {
    let mut t = Tracker::new();
    let ids = ["123", "0123", "+123", "00", "0"];
    let d = t.apply(&view(10.0, ids.iter().map(|id| job(id, Phase::Pending, 1, 9.0, None, None)).collect()));
    assert_eq!(d.new_jobs.len(), ids.len());
    let keys: HashSet<JobKey> = d.new_jobs.iter().copied().collect();
    assert_eq!(keys.len(), ids.len(), "one handle per id: {:?}", d.new_jobs);
    for id in ids {
        assert_eq!(t.id_of(t.by_id(id).unwrap().info.key), Some(id));
    }
    assert_eq!(t.by_id("123").unwrap().info.key, JobKey(123), "a plain number keeps its number (arrival order)");
    assert_eq!(t.by_id("0").unwrap().info.key, JobKey(0));
    // one of them ends: the others are untouched
    let rest: Vec<JobView> = ids[1..].iter().map(|id| job(id, Phase::Pending, 1, 9.0, None, None)).collect();
    let d = t.apply(&view(11.0, rest));
    assert_eq!(kinds(&d), [("123".into(), ChangeKind::Withdrawn)]);
    assert_eq!(t.live_count(), ids.len() - 1);
}

#[test]
fn short_ids_and_node_lists_hash_apart() {
    // every string of up to 5 bytes over a few bytes, zero included, and
    // two 9-byte ones: no two share a hash
    let alphabet = [0u8, b'1', b'a', 0xff];
    let mut all: Vec<Vec<u8>> = vec![Vec::new()];
    let mut last = vec![Vec::new()];
    for _ in 0..5 {
        last = last.iter().flat_map(|s| alphabet.iter().map(move |&b| [s.as_slice(), &[b]].concat())).collect();
        all.extend(last.iter().cloned());
    }
    all.push(b"123456789".to_vec());
    all.push(b"123456780".to_vec());
    let hashes: HashSet<u64> = all.iter().map(|s| id_hash(s)).collect();
    assert_eq!(hashes.len(), all.len());
    // node lists that run together the same bytes differ
    let on = |nodes: &[&str]| {
        let mut jv = job("1", Phase::Running, 1, 0.0, Some(1.0), None);
        jv.nodes = nodes.iter().map(|n| n.to_string()).collect();
        state_hash(&jv)
    };
    assert_ne!(on(&["n1", "2"]), on(&["n12"]));
    assert_ne!(on(&["n1", ""]), on(&["n1"]));
}
