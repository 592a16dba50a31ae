//! The dispatcher's decisions from the rows.

use super::*;
use crate::store::{Demand as Ask, JobState};

fn worker(id: &str, cpus: u32) -> WorkerRow {
    WorkerRow { id: id.into(), pool: "p".into(), capacity: Ask { cpus, ..Ask::default() }, seen_at_ms: 0 }
}

fn job(id: u64, cpus: u32, est: f64, limit: f64) -> JobRow {
    JobRow::queued(
        id,
        NewJob {
            tenant: "t".into(),
            pool: "p".into(),
            demand: Ask { cpus, ..Ask::default() },
            time_limit_s: limit,
            predicted_runtime_s: est,
            submitted_at_ms: id as i64,
            max_attempts: 1,
            ..NewJob::default()
        },
    )
}

#[test]
fn the_policy_fills_the_asking_worker_in_queue_order() {
    let mut d = Dispatcher::new("foresight".parse().unwrap(), None);
    let ws = [worker("a", 4)];
    let q = [job(1, 2, 10.0, 10.0), job(2, 2, 10.0, 10.0), job(3, 2, 10.0, 10.0)];
    assert_eq!(d.place("a", &ws, &[], &q, 1000), [1, 2]);
    assert!(d.place("b", &ws, &[], &q, 1000).is_empty(), "an unknown worker gets nothing");
}

#[test]
fn leased_jobs_hold_their_room_and_backfill_respects_the_head() {
    let mut d = Dispatcher::new("foresight".parse().unwrap(), None);
    let ws = [worker("a", 4)];
    let mut running = job(1, 3, 100.0, 100.0);
    running.state = JobState::Leased;
    running.worker_id = "a".into();
    // the head needs the whole worker; a short job fits before the
    // running one ends, a long one would delay the head
    let q = [job(2, 4, 50.0, 50.0), job(3, 1, 500.0, 500.0), job(4, 1, 20.0, 20.0)];
    assert_eq!(d.place("a", &ws, &[running], &q, 1000), [4]);
}

#[test]
fn backoff_and_impossible_jobs_wait() {
    let mut d = Dispatcher::new("fcfs".parse().unwrap(), None);
    let ws = [worker("a", 2)];
    let mut later = job(1, 1, 1.0, 1.0);
    later.not_before_ms = 5000;
    let q = [job(0, 8, 1.0, 1.0), later, job(2, 1, 1.0, 1.0)];
    assert_eq!(d.place("a", &ws, &[], &q, 1000), [2]);
}

#[test]
fn edf_starts_the_least_slack_first_and_jobs_without_a_deadline_last() {
    let mut d = Dispatcher::new("edf".parse().unwrap(), None);
    let ws = [worker("a", 1)];
    let due = |id, est, deadline_ms: i64| {
        let mut j = job(id, 1, est, est);
        j.spec.labels.insert(crate::convert::DEADLINE_LABEL.into(), deadline_ms.to_string());
        j
    };
    // at 1 s: job 2's slack 100 - 1 - 10 = 89 s, job 3's 50 - 1 - 40 = 9 s
    let q = [job(1, 1, 5.0, 5.0), due(2, 10.0, 100_000), due(3, 40.0, 50_000)];
    assert_eq!(d.place("a", &ws, &[], &q, 1000), [3]);
    assert_eq!(d.place("a", &ws, &[], &q[..2], 1000), [2]);
    assert_eq!(d.place("a", &ws, &[], &q[..1], 1000), [1]);
    let mut fcfs = Dispatcher::new("fcfs".parse().unwrap(), None);
    assert_eq!(fcfs.place("a", &ws, &[], &q, 1000), [1], "other orders ignore deadlines");
}

#[test]
fn fair_share_serves_the_tenant_with_less_history_first() {
    let mut d = Dispatcher::new("fairshare".parse().unwrap(), None);
    let ws = [worker("a", 1)];
    let of = |id, tenant: &str| {
        let mut j = job(id, 1, 10.0, 10.0);
        j.spec.tenant = tenant.into();
        j
    };
    // heavy has run a lot; light little; heavy's job arrived first
    d.observe_end(&of(1, "heavy"), 5000.0, 1000);
    d.observe_end(&of(2, "light"), 10.0, 1000);
    let q = [of(3, "heavy"), of(4, "light")];
    assert_eq!(d.place("a", &ws, &[], &q, 2000), [4]);
    let mut fcfs = Dispatcher::new("easy".parse().unwrap(), None);
    fcfs.observe_end(&of(1, "heavy"), 5000.0, 1000);
    assert_eq!(fcfs.place("a", &ws, &[], &q, 2000), [3], "an order that reads no usage keeps arrival order");
}

#[test]
fn governance_bars_a_job_before_placement_and_keeps_why() {
    let mut d = Dispatcher::new("fcfs".parse().unwrap(), None);
    let ws = [worker("a", 1), worker("b", 1)];
    let eu = |labels: &[(&str, &str)]| crate::governance::WorkerTerms {
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        taints: Default::default(),
    };
    d.set_terms("a", eu(&[("region", "eu")]));
    d.set_terms("b", eu(&[("region", "us")]));
    let mut ap = job(1, 1, 1.0, 1.0);
    ap.spec.labels.insert("region".into(), "ap".into());
    let mut us = job(2, 1, 1.0, 1.0);
    us.spec.labels.insert("region".into(), "us".into());
    // FCFS without backfill: were the barred head offered to the policy, nothing would start
    assert!(d.place("a", &ws, &[], &[ap.clone(), us.clone()], 1000).is_empty(), "a is in eu");
    assert_eq!(d.place("b", &ws, &[], &[ap, us], 1000), [2]);
    assert!(d.wait_reason(1).unwrap().contains("data residency"), "{:?}", d.wait_reason(1));
    assert_eq!(d.wait_reason(2), None);
    assert_eq!(d.admission("b", &job(2, 1, 1.0, 1.0).spec), "no governance terms");
}

#[test]
fn the_predicted_start_waits_for_running_and_queued_jobs_ahead() {
    let ws = [worker("a", 2)];
    let mut running = job(1, 2, 100.0, 100.0);
    running.state = JobState::Leased;
    running.worker_id = "a".into();
    running.started_at_ms = 0;
    let ahead = job(2, 2, 50.0, 50.0);
    let new = job(3, 1, 10.0, 10.0).spec;
    // the worker is full until 100 s, then the job ahead holds it until 150 s
    assert_eq!(Dispatcher::predicted_start(&ws, &[running.clone()], &[ahead], &new, 10.0, 0), Some(150.0));
    assert_eq!(Dispatcher::predicted_start(&ws, &[running], &[], &new, 10.0, 0), Some(100.0));
    assert_eq!(Dispatcher::predicted_start(&ws, &[], &[], &new, 10.0, 5000), Some(5.0));
    assert_eq!(Dispatcher::predicted_start(&ws, &[], &[], &job(4, 3, 1.0, 1.0).spec, 1.0, 0), None, "never fits");
    assert_eq!(Dispatcher::predicted_start(&[], &[], &[], &new, 10.0, 0), None, "no live worker");
}

#[test]
fn the_predictor_learns_from_ends() {
    let mut d = Dispatcher::new("easy++".parse().unwrap(), None);
    let j = job(1, 1, 0.0, 1000.0);
    assert_eq!(d.estimate(&j.spec).0, 1000.0, "no history: the request");
    d.observe_end(&j, 100.0, 0);
    d.observe_end(&j, 100.0, 0);
    assert_eq!(d.estimate(&j.spec).0, 100.0);
}

/// A predictor that reads records: a job's `minutes` feature, in seconds;
/// its limit without a record. It counts the records it learned from at an end.
#[derive(Default)]
struct ByFeature {
    records: HashMap<u32, foresight_core::Job>,
    ended_with_record: Arc<Mutex<u32>>,
}

impl Predictor for ByFeature {
    fn name(&self) -> &'static str {
        "by-feature"
    }
    fn predict(&mut self, job: &JobInfo) -> f64 {
        match self.records.get(&job.key.0).and_then(|r| r.features.get("minutes")) {
            Some(foresight_core::FeatureValue::Num(m)) => m * 60.0,
            _ => job.limit_s,
        }
    }
    fn observe_record(&mut self, job: &JobInfo, record: &foresight_core::Job) {
        self.records.insert(job.key.0, record.clone());
    }
    fn observe_end(&mut self, job: &JobInfo, _runtime_s: f64, _now: f64) {
        if self.records.remove(&job.key.0).is_some() {
            *self.ended_with_record.lock().unwrap() += 1;
        }
    }
}

#[test]
fn a_callers_predictor_is_shown_each_jobs_record_at_submission_and_at_its_end() {
    let ended = Arc::new(Mutex::new(0));
    let counter = ended.clone();
    let make: PredictorFactory =
        Box::new(move || Box::new(ByFeature { ended_with_record: counter.clone(), ..ByFeature::default() }));
    let mut d = Dispatcher::with_predictor("fcfs".parse().unwrap(), make);
    let mut j = job(1, 1, 0.0, 3600.0);
    j.spec.labels.insert(format!("{}minutes", crate::convert::FEATURE_PREFIX), "5".into());
    assert_eq!(d.estimate(&j.spec).0, 300.0, "the submitted feature, through the record");
    let plain = job(2, 1, 0.0, 3600.0);
    assert_eq!(d.estimate(&plain.spec).0, 3600.0, "no feature: the limit");
    d.observe_end(&j, 290.0, 10_000);
    assert_eq!(*ended.lock().unwrap(), 1, "the end came with the job's record");
}
