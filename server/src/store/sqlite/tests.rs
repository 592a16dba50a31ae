//! The embedded store's unit tests.

use super::*;

fn job(key: &str) -> NewJob {
    NewJob {
        tenant: "a".into(),
        idempotency_key: key.into(),
        name: "n".into(),
        pool: "default".into(),
        demand: Demand { cpus: 1, ..Demand::default() },
        max_attempts: 2,
        submitted_at_ms: 5,
        ..NewJob::default()
    }
}

#[test]
fn a_key_submits_once_and_everything_is_audited() {
    let mut s = SqliteStore::in_memory().unwrap();
    let who = Actor { tenant: "a".into(), role: "submitter".into() };
    let (first, new) = s.submit(&job("k"), &who).unwrap();
    let (again, new2) = s.submit(&job("k"), &who).unwrap();
    assert!(new && !new2);
    assert_eq!(first, again);
    let mut j = first.clone();
    j.state = JobState::Cancelled;
    s.apply(&[Change { job: &j, kind: "cancelled", detail: "", actor: &who, at_ms: 6 }]).unwrap();
    assert_eq!(s.get(j.id).unwrap().unwrap().state, JobState::Cancelled);
    let ev = s.events_after(0, Some("a"), None, 10).unwrap();
    assert_eq!(ev.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["submitted", "cancelled"]);
    assert!(ev[0].id < ev[1].id);
    assert!(s.events_after(0, Some("b"), None, 10).unwrap().is_empty());
    assert_eq!(s.audit_len().unwrap(), 2);
}

#[test]
fn a_batch_commits_together_and_a_key_twice_in_it_is_one_job() {
    let mut s = SqliteStore::in_memory().unwrap();
    let who = Actor { tenant: "a".into(), role: "submitter".into() };
    let (old, _) = s.submit(&job("old"), &who).unwrap();
    let (k, k2, o) = (job("k"), job("k"), job("old"));
    let mut other = job("k");
    other.tenant = "b".into();
    let out = s.submit_many(&[(&k, &who), (&o, &who), (&k2, &who), (&other, &who)]).unwrap();
    let created: Vec<bool> = out.iter().map(|(_, c)| *c).collect();
    assert_eq!(created, [true, false, false, true]);
    assert_eq!(out[0].0, out[2].0);
    assert_eq!(out[1].0, old);
    assert_ne!(out[3].0.id, out[0].0.id);
    assert_eq!(s.get(out[0].0.id).unwrap().unwrap(), out[0].0);
    let ev = s.events_after(0, None, None, 10).unwrap();
    assert_eq!(ev.len(), 3, "one submitted event per new job");
    assert_eq!(s.audit_len().unwrap(), 3);
    assert!(s.submit_many(&[]).unwrap().is_empty());
    let active = s.active_counts().unwrap();
    assert_eq!(
        active,
        [("a".into(), "default".into(), JobState::Queued, 2), ("b".into(), "default".into(), JobState::Queued, 1)]
    );
}

#[test]
fn lists_filter_and_page() {
    let mut s = SqliteStore::in_memory().unwrap();
    let who = Actor { tenant: "a".into(), role: "submitter".into() };
    for k in ["1", "2", "3"] {
        s.submit(&job(k), &who).unwrap();
    }
    let page = s.list(&JobFilter { limit: 2, ..JobFilter::default() }).unwrap();
    assert_eq!(page.iter().map(|j| j.id).collect::<Vec<_>>(), [1, 2]);
    let rest = s.list(&JobFilter { limit: 2, after_id: 2, ..JobFilter::default() }).unwrap();
    assert_eq!(rest.len(), 1);
    let none = s.list(&JobFilter { limit: 9, states: vec![JobState::Dead], ..JobFilter::default() }).unwrap();
    assert!(none.is_empty());
    let theirs = s.list(&JobFilter { limit: 9, tenant: Some("b".into()), ..JobFilter::default() }).unwrap();
    assert!(theirs.is_empty());
}

#[test]
fn tokens_and_workers_round_trip() {
    let mut s = SqliteStore::in_memory().unwrap();
    s.put_token("h", "a", "worker", 1).unwrap();
    assert_eq!(s.token("h").unwrap(), Some(("a".into(), "worker".into())));
    assert_eq!(s.token("x").unwrap(), None);
    let w = WorkerRow { id: "w".into(), pool: "p".into(), capacity: Demand::default(), seen_at_ms: 10 };
    s.put_worker(&w).unwrap();
    assert_eq!(s.workers("p", 10).unwrap(), [w]);
    assert!(s.workers("p", 11).unwrap().is_empty());
}
