//! The queue's rules on an in-memory SQLite store, told the time.

use super::*;
use crate::store::{Demand, SqliteStore};

fn caller(tenant: &str, role: Role) -> Caller {
    Caller { tenant: tenant.into(), role }
}

fn queue() -> Queue<SqliteStore> {
    let cfg = QueueConfig { lease_ttl_ms: 1000, backoff_base_ms: 100, backoff_cap_ms: 10_000, seed: 7 };
    Queue::new(SqliteStore::in_memory().unwrap(), Dispatcher::new("foresight".parse().unwrap(), None), cfg)
}

fn job(key: &str, attempts: u32) -> NewJob {
    NewJob {
        idempotency_key: key.into(),
        pool: "p".into(),
        demand: Demand { cpus: 1, ..Demand::default() },
        time_limit_s: 60.0,
        command: "true".into(),
        max_attempts: attempts,
        ..NewJob::default()
    }
}

fn offer(id: &str) -> WorkerRow {
    WorkerRow { id: id.into(), pool: "p".into(), capacity: Demand { cpus: 1, ..Demand::default() }, seen_at_ms: 0 }
}

#[test]
fn backoff_doubles_with_seeded_jitter() {
    let cfg = QueueConfig { backoff_base_ms: 1000, backoff_cap_ms: 5000, ..QueueConfig::default() };
    let b: Vec<i64> = (1..=4).map(|a| backoff_ms(&cfg, 3, a)).collect();
    assert!((500..=1000).contains(&b[0]) && (1000..=2000).contains(&b[1]) && (2000..=4000).contains(&b[2]));
    assert!((2500..=5000).contains(&b[3]), "capped");
    assert_eq!(b, (1..=4).map(|a| backoff_ms(&cfg, 3, a)).collect::<Vec<_>>(), "deterministic");
    assert_ne!(backoff_ms(&cfg, 3, 2), backoff_ms(&cfg, 4, 2), "jittered per job");
}

#[test]
fn expiry_retries_then_dead_letters_then_requeues() {
    let mut q = queue();
    let (a, w, op) = (caller("a", Role::Submitter), caller("w", Role::Worker), caller("o", Role::Operator));
    let (j, _) = q.submit(&a, job("k", 2)).unwrap();
    let g = q.lease(&w, offer("w1"), 0).unwrap();
    assert_eq!(g.len(), 1);
    assert!(q.lease(&w, offer("w1"), 10).unwrap().is_empty(), "the worker is full");
    assert_eq!(q.expire(2000).unwrap(), 1);
    let back = q.get(&a, j.id).unwrap();
    assert_eq!((back.state, back.attempts), (JobState::Queued, 1));
    assert!(back.not_before_ms >= 2050 && back.not_before_ms <= 2100, "{}", back.not_before_ms);
    assert!(q.lease(&w, offer("w1"), 2001).unwrap().is_empty(), "still backing off");
    assert_eq!(q.lease(&w, offer("w1"), 2200).unwrap().len(), 1);
    q.expire(4000).unwrap();
    assert_eq!(q.get(&a, j.id).unwrap().state, JobState::Dead);
    let dead = q.list(&op, JobFilter { states: vec![JobState::Dead], ..JobFilter::default() }).unwrap();
    assert_eq!(dead.len(), 1);
    assert!(matches!(q.requeue(&a, j.id, 5000), Err(QueueError::Denied(_))));
    assert_eq!(q.requeue(&op, j.id, 5000).unwrap().state, JobState::Queued);
    let g = q.lease(&w, offer("w1"), 5000).unwrap();
    let done = q.complete(&w, "w1", j.id, g[0].job.attempts, 0, 6000).unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    q.purge(&op, j.id, 7000).unwrap();
    assert!(matches!(q.get(&op, j.id), Err(QueueError::NotFound(_))));
}

#[test]
fn a_stale_lease_cannot_complete_and_failures_retry() {
    let mut q = queue();
    let (a, w) = (caller("a", Role::Submitter), caller("w", Role::Worker));
    let (j, _) = q.submit(&a, job("k", 2)).unwrap();
    q.lease(&w, offer("w1"), 0).unwrap();
    assert!(matches!(q.complete(&w, "w2", j.id, 1, 0, 10), Err(QueueError::Precondition(_))));
    assert!(matches!(q.heartbeat(&w, "w1", j.id, 2, 10), Err(QueueError::Precondition(_))));
    assert_eq!(q.heartbeat(&w, "w1", j.id, 1, 900).unwrap().lease_expires_at_ms, 1900);
    assert_eq!(q.expire(1500).unwrap(), 0, "the heartbeat extended it");
    let f = q.fail(&w, "w1", j.id, 1, 3, "boom", false, 1600).unwrap();
    assert_eq!((f.state, f.exit_code), (JobState::Queued, Some(3)));
    q.lease(&w, offer("w1"), 5000).unwrap();
    assert_eq!(q.fail(&w, "w1", j.id, 2, 3, "boom", false, 5100).unwrap().state, JobState::Dead);
}

#[test]
fn a_batch_answers_each_submit_in_order() {
    let mut q = queue();
    let (a, b, w) = (caller("a", Role::Submitter), caller("b", Role::Submitter), caller("w", Role::Worker));
    let out = q
        .submit_many(vec![
            (a.clone(), job("k", 1)),
            (w.clone(), job("k", 1)),
            (a.clone(), job("k", 1)),
            (b.clone(), job("k", 1)),
        ])
        .unwrap();
    let (first, new) = out[0].as_ref().unwrap();
    assert!(*new && first.spec.predicted_runtime_s > 0.0, "predicted before it is kept");
    assert!(matches!(out[1], Err(QueueError::Denied(_))), "a refusal stops only its own submit");
    assert_eq!(out[2].as_ref().map(|(j, new)| (j.id, *new)).unwrap(), (first.id, false));
    let (theirs, new) = out[3].as_ref().unwrap();
    assert!(*new && theirs.id != first.id && theirs.spec.tenant == "b");
    assert!(q.submit_many(Vec::new()).unwrap().is_empty());
}

#[test]
fn tenants_are_apart() {
    let mut q = queue();
    let (a, b) = (caller("a", Role::Submitter), caller("b", Role::Submitter));
    let (j, new) = q.submit(&a, job("k", 1)).unwrap();
    assert!(new);
    let (again, new) = q.submit(&a, job("k", 1)).unwrap();
    assert_eq!((again.id, new), (j.id, false));
    let (other, new) = q.submit(&b, job("k", 1)).unwrap();
    assert!(new && other.id != j.id, "keys are per tenant");
    assert!(matches!(q.get(&b, j.id), Err(QueueError::NotFound(_))));
    assert!(matches!(q.cancel(&b, j.id, 1), Err(QueueError::NotFound(_))));
    assert_eq!(q.list(&b, JobFilter::default()).unwrap().len(), 1);
    assert!(matches!(
        q.list(&b, JobFilter { tenant: Some("a".into()), ..JobFilter::default() }),
        Err(QueueError::Denied(_))
    ));
    let mut theirs = job("x", 1);
    theirs.tenant = "a".into();
    assert!(matches!(q.submit(&b, theirs), Err(QueueError::Denied(_))));
    assert!(matches!(q.lease(&a, offer("w"), 0), Err(QueueError::Denied(_))));
    assert_eq!(q.cancel(&a, j.id, 1).unwrap().state, JobState::Cancelled);
    assert!(q.events(&b, 0, None).unwrap().iter().all(|e| e.tenant == "b"));
}
