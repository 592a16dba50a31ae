//! The PostgreSQL store against a real PostgreSQL (`scripts/pg-up.sh`).

use super::*;

/// A fresh database on the PostgreSQL that `scripts/pg-up.sh` starts
/// (or `FORESIGHT_PG_URL` names); `None`, said on stderr, when there is
/// none and `FORESIGHT_REQUIRE_POSTGRES` is not 1.
pub(crate) fn fresh_db(name: &str) -> Option<String> {
    let base = match std::env::var("FORESIGHT_PG_URL") {
        Ok(u) => u,
        Err(_) => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg-up.sh");
            let o = std::process::Command::new("bash").arg(script).env("FS_PG_INSTALL", "0").output();
            match o {
                Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
                o => {
                    let why = match o {
                        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                        Err(e) => e.to_string(),
                    };
                    assert!(
                        std::env::var("FORESIGHT_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                        "no PostgreSQL: {why}"
                    );
                    eprintln!("skipped: no PostgreSQL ({why})");
                    return None;
                }
            }
        }
    };
    let db = format!("fs_unit_{name}_{}", std::process::id());
    let mut admin = Client::connect(&format!("{base}/postgres"), NoTls).unwrap();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    Some(format!("{base}/{db}"))
}

fn job(key: &str) -> NewJob {
    NewJob {
        tenant: "a".into(),
        idempotency_key: key.into(),
        name: "n".into(),
        pool: "default".into(),
        demand: Demand { cpus: 1, gpus: 2, ..Demand::default() },
        max_attempts: 2,
        predicted_runtime_s: 10.0,
        predicted_interval: Some((5.0, 20.0)),
        labels: [("team".to_string(), "x".to_string())].into(),
        payload: vec![0, 1, 2],
        submitted_at_ms: 5,
        ..NewJob::default()
    }
}

#[test]
fn a_key_submits_once_a_batch_commits_together_and_everything_is_audited() {
    let Some(url) = fresh_db("keys") else { return };
    let mut s = PgStore::connect(&url).unwrap();
    let who = Actor { tenant: "a".into(), role: "submitter".into() };
    let (first, new) = s.submit(&job("k"), &who).unwrap();
    let (again, new2) = s.submit(&job("k"), &who).unwrap();
    assert!(new && !new2);
    assert_eq!(first, again, "what is read back is what was written");
    let (k, k2, o) = (job("k2"), job("k2"), job("k"));
    let mut other = job("k2");
    other.tenant = "b".into();
    let out = s.submit_many(&[(&k, &who), (&o, &who), (&k2, &who), (&other, &who)]).unwrap();
    assert_eq!(out.iter().map(|(_, c)| *c).collect::<Vec<_>>(), [true, false, false, true]);
    assert_eq!(out[0].0, out[2].0);
    assert_eq!(out[1].0, first);
    let mut j = first.clone();
    j.state = JobState::Cancelled;
    j.exit_code = Some(-3);
    s.apply(&[Change { job: &j, kind: "cancelled", detail: "", actor: &who, at_ms: 6 }]).unwrap();
    assert_eq!(s.get(j.id).unwrap().unwrap(), j);
    let ev = s.events_after(0, Some("a"), None, 10).unwrap();
    assert_eq!(ev.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["submitted", "submitted", "cancelled"]);
    assert_eq!(s.events_after(0, None, Some(j.id), 10).unwrap().len(), 2);
    assert_eq!(s.audit_len().unwrap(), 4, "three submits and a cancel");
    let page = s.list(&JobFilter { limit: 2, ..JobFilter::default() }).unwrap();
    assert_eq!(page.len(), 2);
    let queued =
        JobFilter { limit: 9, states: vec![JobState::Queued], tenant: Some("b".into()), ..JobFilter::default() };
    assert_eq!(s.list(&queued).unwrap().len(), 1);
    assert_eq!(s.active_counts().unwrap().len(), 2);
    s.purge(&j, &who, 7).unwrap();
    assert_eq!(s.get(j.id).unwrap(), None);
}

#[test]
fn tokens_workers_tenants_and_gpu_use_round_trip() {
    let Some(url) = fresh_db("rows") else { return };
    let mut s = PgStore::connect(&url).unwrap();
    s.put_token("h", "a", "worker", 1).unwrap();
    assert_eq!(s.token("h").unwrap(), Some(("a".into(), "worker".into())));
    assert_eq!(s.token("x").unwrap(), None);
    let w = WorkerRow { id: "w".into(), pool: "p".into(), capacity: Demand::default(), seen_at_ms: 10 };
    s.put_worker(&w).unwrap();
    s.put_worker(&w).unwrap();
    assert_eq!(s.workers("p", 10).unwrap(), [w]);
    assert!(s.workers("p", 11).unwrap().is_empty());
    let who = Actor { tenant: "-".into(), role: "local".into() };
    let l = TenantLimits {
        tenant: "a".into(),
        rate_per_s: 2.5,
        burst: 3,
        gpu_hours_per_day: 1.0,
        over_budget: OverBudget::Refuse,
    };
    s.put_tenant(&l, &who, 1).unwrap();
    assert_eq!(s.tenants().unwrap(), [l]);
    // a job of 2 GPUs leased at 1 000 ms, predicted 10 s: 20 GPU-seconds until it runs longer
    let (mut j, _) = s.submit(&job("g"), &who).unwrap();
    j.state = JobState::Leased;
    j.started_at_ms = 1000;
    s.apply(&[Change { job: &j, kind: "leased", detail: "", actor: &who, at_ms: 1000 }]).unwrap();
    assert_eq!(s.gpu_seconds(0, 2000).unwrap(), [("a".to_string(), 20.0)]);
    assert_eq!(s.gpu_seconds(0, 31_000).unwrap(), [("a".to_string(), 60.0)]);
    assert!(s.gpu_seconds(1001, 2000).unwrap().is_empty(), "started before the day");
}

#[test]
fn one_replica_leads_until_its_session_ends_and_sections_serialize_writes() {
    let Some(url) = fresh_db("lead") else { return };
    let mut a = PgStore::connect(&url).unwrap();
    let mut b = PgStore::connect(&url).unwrap();
    assert!(a.lead().unwrap());
    assert!(a.lead().unwrap(), "and stays so");
    assert!(!b.lead().unwrap(), "one active dispatcher");
    // a section of `a` holds the write lock: `b`'s submit waits for its commit
    let who = Actor { tenant: "a".into(), role: "submitter".into() };
    let (j, _) = a.submit(&job("k"), &who).unwrap();
    a.begin().unwrap();
    let mut seen = a.get(j.id).unwrap().unwrap();
    let waiter = std::thread::spawn(move || {
        b.submit(&job("k2"), &who).unwrap();
        b
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    seen.state = JobState::Cancelled;
    let op = Actor { tenant: "o".into(), role: "operator".into() };
    a.apply(&[Change { job: &seen, kind: "cancelled", detail: "", actor: &op, at_ms: 9 }]).unwrap();
    a.commit().unwrap();
    let mut b = waiter.join().unwrap();
    // had `b` not waited, its event would have taken the id before the cancel's
    let kinds: Vec<String> = b.events_after(0, None, None, 10).unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["submitted", "cancelled", "submitted"], "event ids in commit order");
    // a rolled back section leaves nothing
    b.begin().unwrap();
    b.put_worker(&WorkerRow { id: "w".into(), pool: "p".into(), capacity: Demand::default(), seen_at_ms: 1 })
        .unwrap();
    b.rollback();
    assert!(b.workers("p", 0).unwrap().is_empty());
    drop(a);
    let t0 = std::time::Instant::now();
    while !b.lead().unwrap() {
        assert!(t0.elapsed() < std::time::Duration::from_secs(10), "the lock was never freed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
