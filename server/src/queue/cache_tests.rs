//! The dispatcher's kept runtimes against runtimes built anew from the
//! store, after random sequences of the queue's changes.

use super::*;
use crate::store::{Actor, Demand, SqliteStore, TenantLimits};
use proptest::prelude::*;

/// One change to the queue, with the indices it picks resolved against
/// what exists when it runs.
#[derive(Debug, Clone)]
enum Op {
    Submit { tenant: u8, cpus: u32, gpu: u8, limit_s: u16, deadline: bool, backoff: bool },
    Lease { worker: u8 },
    Heartbeat { job: u8 },
    Complete { job: u8 },
    Fail { job: u8, permanent: bool },
    Cancel { job: u8 },
    Requeue { job: u8 },
    Purge { job: u8 },
    Expire,
    Advance { ms: u16 },
    Budget { tenant: u8, gpu_hours: u8 },
    Shrink { worker: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, 1u32..6, 0u8..3, 1u16..300, any::<bool>(), any::<bool>()).prop_map(
            |(tenant, cpus, gpu, limit_s, deadline, backoff)| Op::Submit { tenant, cpus, gpu, limit_s, deadline, backoff }
        ),
        4 => (0u8..4).prop_map(|worker| Op::Lease { worker }),
        1 => any::<u8>().prop_map(|job| Op::Heartbeat { job }),
        2 => any::<u8>().prop_map(|job| Op::Complete { job }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(job, permanent)| Op::Fail { job, permanent }),
        1 => any::<u8>().prop_map(|job| Op::Cancel { job }),
        1 => any::<u8>().prop_map(|job| Op::Requeue { job }),
        1 => any::<u8>().prop_map(|job| Op::Purge { job }),
        1 => Just(Op::Expire),
        2 => (0u16..1500).prop_map(|ms| Op::Advance { ms }),
        1 => (0u8..3, 0u8..3).prop_map(|(tenant, gpu_hours)| Op::Budget { tenant, gpu_hours }),
        1 => (0u8..4).prop_map(|worker| Op::Shrink { worker }),
    ]
}

fn worker(i: u8, small: bool) -> WorkerRow {
    // two CPU workers, two GPU workers of two types
    let capacity = match i {
        0 => Demand { cpus: if small { 2 } else { 4 }, ..Demand::default() },
        1 => Demand { cpus: 8, memory_mb: 1024, ..Demand::default() },
        2 => Demand { cpus: 4, gpus: 1, gpu_type: "a".into(), ..Demand::default() },
        _ => Demand { cpus: 4, gpus: 2, gpu_type: "b".into(), ..Demand::default() },
    };
    WorkerRow { id: format!("w{i}"), pool: "p".into(), capacity, seen_at_ms: 0 }
}

fn who(tenant: &str, role: Role) -> Caller {
    Caller { tenant: tenant.into(), role }
}

/// Runs `ops` under policy `policy`, comparing the kept runtime's decision
/// with a rebuilt one's after each; returns how many were compared.
fn run(policy: &str, ops: &[Op]) -> Result<usize, TestCaseError> {
    run_on(SqliteStore::in_memory().unwrap(), policy, ops)
}

/// [`run`] on `store`.
fn run_on<S: Store>(store: S, policy: &str, ops: &[Op]) -> Result<usize, TestCaseError> {
    let cfg = QueueConfig { lease_ttl_ms: 2000, backoff_base_ms: 300, backoff_cap_ms: 5000, seed: 3 };
    let mut q = Queue::new(store, Dispatcher::new(policy.parse().unwrap(), None), cfg);
    let (w, op_) = (who("-", Role::Worker), who("-", Role::Operator));
    let mut now = 1_000_000i64;
    let mut ids: Vec<u64> = Vec::new();
    let mut small = [false; 4];
    let mut compared = 0;
    let pick = |ids: &[u64], i: u8| (!ids.is_empty()).then(|| ids[i as usize % ids.len()]);
    for (n, o) in ops.iter().enumerate() {
        match o {
            Op::Submit { tenant, cpus, gpu, limit_s, deadline, backoff } => {
                let t = format!("t{tenant}");
                let mut j = NewJob {
                    tenant: t.clone(),
                    idempotency_key: format!("k{n}"),
                    pool: "p".into(),
                    demand: Demand {
                        cpus: *cpus,
                        gpus: u32::from(*gpu > 0),
                        gpu_type: ["", "a", "b"][*gpu as usize].into(),
                        ..Demand::default()
                    },
                    time_limit_s: f64::from(*limit_s),
                    max_attempts: 2,
                    submitted_at_ms: now,
                    ..NewJob::default()
                };
                if *deadline {
                    j.labels.insert(crate::convert::DEADLINE_LABEL.into(), (now + 200_000).to_string());
                }
                if let Ok((row, _)) = q.submit(&who(&t, Role::Submitter), j) {
                    ids.push(row.id);
                    if *backoff {
                        // a job back from a failed attempt, in its backoff
                        let mut r = row.clone();
                        r.not_before_ms = now + 700;
                        q.apply(&[Change { job: &r, kind: "retry", detail: "", actor: &op_.actor(), at_ms: now }])
                            .unwrap();
                    }
                }
            }
            Op::Lease { worker: i } => {
                let _ = q.lease(&w, worker(*i, small[*i as usize]), now);
            }
            Op::Heartbeat { job } | Op::Complete { job } | Op::Fail { job, .. } => {
                let Some(id) = pick(&ids, *job) else { continue };
                let Some(r) = q.store().get(id).unwrap() else { continue };
                let _ = match o {
                    Op::Heartbeat { .. } => q.heartbeat(&w, &r.worker_id, id, r.attempts, now).map(|_| ()),
                    Op::Complete { .. } => q.complete(&w, &r.worker_id, id, r.attempts, 0, now).map(|_| ()),
                    Op::Fail { permanent, .. } => {
                        q.fail(&w, &r.worker_id, id, r.attempts, 1, "boom", *permanent, now).map(|_| ())
                    }
                    _ => unreachable!(),
                };
            }
            Op::Cancel { job } => {
                if let Some(id) = pick(&ids, *job) {
                    let _ = q.cancel(&op_, id, now);
                }
            }
            Op::Requeue { job } => {
                if let Some(id) = pick(&ids, *job) {
                    let _ = q.requeue(&op_, id, now);
                }
            }
            Op::Purge { job } => {
                if let Some(id) = pick(&ids, *job) {
                    let _ = q.purge(&op_, id, now);
                }
            }
            Op::Expire => {
                q.expire(now).unwrap();
            }
            Op::Advance { ms } => now += i64::from(*ms),
            Op::Budget { tenant, gpu_hours } => {
                let limits = TenantLimits {
                    tenant: format!("t{tenant}"),
                    gpu_hours_per_day: f64::from(*gpu_hours) * 0.01,
                    ..TenantLimits::default()
                };
                q.store().put_tenant(&limits, &Actor { tenant: "-".into(), role: "admin".into() }, now).unwrap();
            }
            Op::Shrink { worker: i } => small[*i as usize] = !small[*i as usize],
        }
        prop_assert!(q.workers_kept_match_the_store("p", now - cfg.lease_ttl_ms).unwrap(), "after op {}", n);
        prop_assert!(q.workers_kept_match_the_store("p", i64::MIN).unwrap(), "after op {}", n);
        let (kept, rebuilt) = q.decisions_kept_and_rebuilt("p", now).unwrap();
        if let Some(kept) = kept {
            prop_assert_eq!(&kept, &rebuilt, "after op {} ({:?}) at {} under {}", n, o, now, policy);
            compared += 1;
        }
    }
    Ok(compared)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// After any sequence of submits, leases, heartbeats, completions,
    /// failures, cancels, requeues, purges, expiries, budget changes and
    /// workers coming and going, the runtime the dispatcher keeps decides
    /// exactly as one built anew from the store.
    #[test]
    fn the_kept_runtime_decides_exactly_as_one_rebuilt_from_the_store(
        policy in prop::sample::select(vec!["foresight", "easy", "fcfs", "fairshare", "edf", "easy++", "conservative"]),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        run(policy, &ops)?;
    }
}

/// A fixed sequence, so that the comparison is known to happen.
fn fixed_ops() -> Vec<Op> {
    (0..40)
        .flat_map(|i| {
            [
                Op::Submit {
                    tenant: i % 3,
                    cpus: 1 + u32::from(i % 4),
                    gpu: i % 3,
                    limit_s: 100,
                    deadline: i % 2 == 0,
                    backoff: i % 5 == 0,
                },
                Op::Lease { worker: i % 4 },
                Op::Advance { ms: 150 },
                Op::Complete { job: i / 2 },
            ]
        })
        .collect()
}

#[test]
fn the_kept_runtime_is_compared_and_leases_what_a_rebuilt_one_would() {
    for policy in ["foresight", "fairshare", "edf"] {
        let compared = run(policy, &fixed_ops()).unwrap();
        assert!(compared > 100, "{policy}: {compared} decisions compared");
    }
}

#[test]
fn on_postgresql_the_kept_runtime_decides_as_one_rebuilt_from_the_store() {
    // the store's order of workers (PostgreSQL's collation) and its event
    // log, through the same sequence
    let Some(url) = crate::store::pg::tests::fresh_db("kept_runtime") else { return };
    let store = crate::store::PgStore::connect(&url).unwrap();
    let compared = run_on(store, "foresight", &fixed_ops()).unwrap();
    assert!(compared > 100, "{compared} decisions compared");
}
