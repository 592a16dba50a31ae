//! Between the protocol's messages and the queue's rows, with the checks
//! that turn bad input into `INVALID_ARGUMENT` naming the field.

use crate::pb;
use crate::queue::QueueError;
use crate::store::{Demand, EventRow, JobRow, JobState, NewJob, WorkerRow};

/// The longest name, key, pool, label or tenant accepted.
pub const NAME_MAX: usize = 256;
/// The largest command or payload accepted, bytes.
pub const BODY_MAX: usize = 1 << 20;
/// The most attempts a job may ask for.
pub const ATTEMPTS_MAX: u32 = 100;

/// Labels under this prefix are the server's own (a job's deadline, until
/// the store has a column for it); a submitter may not set them.
pub const RESERVED_LABEL_PREFIX: &str = "foresight/";
/// The reserved label that keeps a job's acceptable pools, comma-separated.
pub const POOLS_LABEL: &str = "foresight/pools";
/// The reserved label that keeps why a job's pool was chosen.
pub const PLACEMENT_LABEL: &str = "foresight/placement";
/// The reserved labels that keep a job's submitted features for the model
/// (`foresight/feature/KEY` = value).
pub const FEATURE_PREFIX: &str = "foresight/feature/";
/// A job's submitted features, the prefix taken off.
pub fn features(j: &NewJob) -> std::collections::HashMap<String, String> {
    reserved(j, FEATURE_PREFIX)
}
/// A job's record as `foresight-core` keeps one, for a predictor that reads
/// records (a trained model, `serve --model`): its tenant as user and
/// account, its name, its pool as queue, its request on one node (CPUs,
/// GPUs and their type, memory when asked, its time limit when it has one),
/// its submission time in Unix seconds and its submitted features (a value
/// that parses as a finite number is numeric, any other text).
pub fn record_of(id: u64, j: &NewJob) -> foresight_core::Job {
    use foresight_core::job::FeatureValue;
    let features = crate::convert::features(j)
        .into_iter()
        .map(|(k, v)| {
            let value = match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => FeatureValue::Num(x),
                _ => FeatureValue::Text(v),
            };
            (k, value)
        })
        .collect();
    foresight_core::Job {
        job_id: id.to_string(),
        user: Some(j.tenant.clone()),
        group: Some(j.tenant.clone()),
        queue: Some(j.pool.clone()),
        name: Some(j.name.clone()).filter(|n| !n.is_empty()),
        submit_s: j.submitted_at_ms as f64 / 1000.0,
        req_cpus: Some(j.demand.cpus),
        req_gpus: Some(j.demand.gpus),
        req_nodes: Some(1),
        req_mem_mb: Some(j.demand.memory_mb).filter(|m| *m > 0),
        req_time_s: Some(j.time_limit_s).filter(|t| *t > 0.0),
        gpu_type: Some(j.demand.gpu_type.clone()).filter(|g| !g.is_empty()),
        features,
        ..foresight_core::Job::default()
    }
}

/// The reserved label that keeps a job's deadline, Unix ms.
pub const DEADLINE_LABEL: &str = "foresight/deadline-ms";

/// A job's deadline, Unix ms, when it was given one.
pub fn deadline_ms(j: &NewJob) -> Option<i64> {
    j.labels.get(DEADLINE_LABEL).and_then(|v| v.parse().ok()).filter(|&d: &i64| d > 0)
}

/// A job's slack by prediction at `now_ms`, seconds: its deadline minus
/// its predicted end (its predicted start at submission, or now once that
/// has passed, or its start while leased; plus its predicted runtime);
/// `None` without a deadline or once it ended.
pub fn slack_s(j: &JobRow, now_ms: i64) -> Option<f64> {
    let d = deadline_ms(&j.spec)?;
    let from_ms = match j.state {
        JobState::Queued => crate::queue::predicted_start_ms(&j.spec).map_or(now_ms, |s| s.max(now_ms)),
        JobState::Leased => j.started_at_ms,
        _ => return None,
    };
    Some((d - from_ms) as f64 / 1000.0 - j.spec.predicted_runtime_s)
}

/// Whether a job cannot meet its deadline by prediction at `now_ms`
/// (negative slack), or ended after it.
pub fn deadline_at_risk(j: &JobRow, now_ms: i64) -> bool {
    match (deadline_ms(&j.spec), j.state) {
        (Some(d), JobState::Succeeded) => j.ended_at_ms > d,
        _ => slack_s(j, now_ms).is_some_and(|s| s < 0.0),
    }
}

/// The protocol's state for a row's.
pub fn state_to_pb(s: JobState) -> pb::JobState {
    match s {
        JobState::Queued => pb::JobState::Queued,
        JobState::Leased => pb::JobState::Leased,
        JobState::Succeeded => pb::JobState::Succeeded,
        JobState::Cancelled => pb::JobState::Cancelled,
        JobState::Dead => pb::JobState::Dead,
    }
}

/// A row's state for the protocol's (`None` for unspecified or unknown).
pub fn state_from_pb(v: i32) -> Option<JobState> {
    match pb::JobState::try_from(v).ok()? {
        pb::JobState::Unspecified => None,
        pb::JobState::Queued => Some(JobState::Queued),
        pb::JobState::Leased => Some(JobState::Leased),
        pb::JobState::Succeeded => Some(JobState::Succeeded),
        pb::JobState::Cancelled => Some(JobState::Cancelled),
        pb::JobState::Dead => Some(JobState::Dead),
    }
}

/// A row as the protocol's job (its slack as of now).
pub fn job_to_pb(j: &JobRow) -> pb::Job {
    job_to_pb_at(j, crate::service::now_ms())
}

/// A row as the protocol's job, its slack as of `now_ms`.
pub fn job_to_pb_at(j: &JobRow, now_ms: i64) -> pb::Job {
    let s = &j.spec;
    pb::Job {
        id: j.id,
        tenant: s.tenant.clone(),
        name: s.name.clone(),
        pool: s.pool.clone(),
        resources: Some(pb::Resources {
            cpus: s.demand.cpus,
            gpus: s.demand.gpus,
            gpu_type: s.demand.gpu_type.clone(),
            memory_mb: s.demand.memory_mb,
        }),
        priority: s.priority,
        time_limit_s: s.time_limit_s,
        labels: s
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with(RESERVED_LABEL_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        command: s.command.clone(),
        payload: s.payload.clone(),
        max_attempts: s.max_attempts,
        attempts: j.attempts,
        state: state_to_pb(j.state) as i32,
        predicted_runtime_s: s.predicted_runtime_s,
        predicted_interval: s.predicted_interval.map(|(lo_s, hi_s)| pb::Interval { lo_s, hi_s }),
        submitted_at_ms: s.submitted_at_ms,
        not_before_ms: j.not_before_ms,
        worker_id: j.worker_id.clone(),
        lease_expires_at_ms: j.lease_expires_at_ms,
        exit_code: j.exit_code,
        error: j.error.clone(),
        idempotency_key: s.idempotency_key.clone(),
        started_at_ms: j.started_at_ms,
        ended_at_ms: j.ended_at_ms,
        deadline_ms: deadline_ms(s).unwrap_or(0),
        slack_s: slack_s(j, now_ms),
        deadline_at_risk: deadline_at_risk(j, now_ms),
        node_selector: reserved(s, crate::governance::SELECT_PREFIX),
        tolerations: reserved(s, crate::governance::TOLERATE_PREFIX),
        features: reserved(s, FEATURE_PREFIX),
        wait_reason: String::new(),
        placement_reason: s.labels.get(PLACEMENT_LABEL).cloned().unwrap_or_default(),
        predicted_start_ms: crate::queue::predicted_start_ms(s),
    }
}

/// A job's reserved labels under `prefix`, the prefix taken off.
fn reserved(j: &NewJob, prefix: &str) -> std::collections::HashMap<String, String> {
    j.labels.iter().filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v.clone()))).collect()
}

/// An event as the protocol's.
pub fn event_to_pb(e: &EventRow) -> pb::JobEvent {
    pb::JobEvent {
        id: e.id,
        job_id: e.job_id,
        tenant: e.tenant.clone(),
        kind: e.kind.clone(),
        state: state_to_pb(e.state) as i32,
        at_ms: e.at_ms,
        detail: e.detail.clone(),
    }
}

/// `Err` naming `field` unless `s` is a name: 1 to [`NAME_MAX`] bytes of
/// letters, digits and `-_.:/@`.
pub fn check_name(field: &str, s: &str) -> Result<(), QueueError> {
    if s.is_empty() {
        return Err(QueueError::invalid(field, "must not be empty"));
    }
    if s.len() > NAME_MAX {
        return Err(QueueError::invalid(field, format!("longer than {NAME_MAX} bytes")));
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || "-_.:/@".contains(*c))) {
        return Err(QueueError::invalid(field, format!("character `{c}` (letters, digits and -_.:/@ only)")));
    }
    Ok(())
}

/// A submission checked field by field, the tenant left as asked (the
/// queue fills it from the token).
pub fn new_job(r: pb::SubmitRequest, now_ms: i64) -> Result<NewJob, QueueError> {
    check_name("idempotency_key", &r.idempotency_key)?;
    if !r.tenant.is_empty() {
        check_name("tenant", &r.tenant)?;
    }
    if r.name.len() > NAME_MAX {
        return Err(QueueError::invalid("name", format!("longer than {NAME_MAX} bytes")));
    }
    let pool = if r.pool.is_empty() { "default".to_string() } else { r.pool };
    check_name("pool", &pool)?;
    let res = r.resources.ok_or_else(|| QueueError::invalid("resources", "missing (cpus at least 1)"))?;
    if res.cpus == 0 {
        return Err(QueueError::invalid("resources.cpus", "must be at least 1"));
    }
    if !res.gpu_type.is_empty() {
        check_name("resources.gpu_type", &res.gpu_type)?;
    }
    if !r.time_limit_s.is_finite() || r.time_limit_s < 0.0 {
        return Err(QueueError::invalid(
            "time_limit_s",
            format!("must be a finite number of seconds >= 0, got {}", r.time_limit_s),
        ));
    }
    if r.command.is_empty() && r.payload.is_empty() {
        return Err(QueueError::invalid("command", "empty, and no payload either"));
    }
    if r.command.len() > BODY_MAX {
        return Err(QueueError::invalid("command", format!("longer than {BODY_MAX} bytes")));
    }
    if r.payload.len() > BODY_MAX {
        return Err(QueueError::invalid("payload", format!("longer than {BODY_MAX} bytes")));
    }
    if r.max_attempts > ATTEMPTS_MAX {
        return Err(QueueError::invalid("max_attempts", format!("at most {ATTEMPTS_MAX}, got {}", r.max_attempts)));
    }
    if r.deadline_ms < 0 {
        return Err(QueueError::invalid("deadline_ms", format!("must be Unix ms >= 0 (0: none), got {}", r.deadline_ms)));
    }
    for (k, v) in &r.labels {
        check_name("labels", k)?;
        if k.starts_with(RESERVED_LABEL_PREFIX) {
            return Err(QueueError::invalid(&format!("labels[{k}]"), format!("`{RESERVED_LABEL_PREFIX}` is reserved")));
        }
        if v.len() > NAME_MAX {
            return Err(QueueError::invalid(&format!("labels[{k}]"), format!("longer than {NAME_MAX} bytes")));
        }
    }
    let mut labels: std::collections::BTreeMap<String, String> = r.labels.into_iter().collect();
    for (field, prefix, terms) in [
        ("node_selector", crate::governance::SELECT_PREFIX, r.node_selector),
        ("tolerations", crate::governance::TOLERATE_PREFIX, r.tolerations),
        ("features", FEATURE_PREFIX, r.features),
    ] {
        for (k, v) in terms {
            check_name(field, &k)?;
            if v.len() > NAME_MAX {
                return Err(QueueError::invalid(&format!("{field}[{k}]"), format!("longer than {NAME_MAX} bytes")));
            }
            labels.insert(format!("{prefix}{k}"), v);
        }
    }
    if !r.pools.is_empty() {
        for p in &r.pools {
            if p != "*" {
                check_name("pools", p)?;
            }
        }
        labels.insert(POOLS_LABEL.to_string(), r.pools.join(","));
    }
    if r.deadline_ms > 0 {
        labels.insert(DEADLINE_LABEL.to_string(), r.deadline_ms.to_string());
    }
    Ok(NewJob {
        tenant: r.tenant,
        idempotency_key: r.idempotency_key,
        name: r.name,
        pool,
        demand: Demand { cpus: res.cpus, gpus: res.gpus, gpu_type: res.gpu_type, memory_mb: res.memory_mb },
        priority: r.priority,
        time_limit_s: r.time_limit_s,
        labels,
        command: r.command,
        payload: r.payload,
        max_attempts: r.max_attempts.max(1),
        predicted_runtime_s: 0.0,
        predicted_interval: None,
        submitted_at_ms: now_ms,
    })
}

/// A worker's offer, checked, with its labels and taints.
pub fn offer_terms(mut r: pb::LeaseRequest) -> Result<(WorkerRow, crate::governance::WorkerTerms), QueueError> {
    let mut terms = crate::governance::WorkerTerms::default();
    for (field, from, to) in [("labels", &mut r.labels, &mut terms.labels), ("taints", &mut r.taints, &mut terms.taints)] {
        for (k, v) in from.drain() {
            check_name(field, &k)?;
            if v.len() > NAME_MAX {
                return Err(QueueError::invalid(&format!("{field}[{k}]"), format!("longer than {NAME_MAX} bytes")));
            }
            to.insert(k, v);
        }
    }
    Ok((offer(r)?, terms))
}

/// A worker's offer, checked (its labels and taints left out).
pub fn offer(r: pb::LeaseRequest) -> Result<WorkerRow, QueueError> {
    check_name("worker_id", &r.worker_id)?;
    let pool = if r.pool.is_empty() { "default".to_string() } else { r.pool };
    check_name("pool", &pool)?;
    if r.cpus == 0 {
        return Err(QueueError::invalid("cpus", "must be at least 1"));
    }
    if !r.gpu_type.is_empty() {
        check_name("gpu_type", &r.gpu_type)?;
    }
    Ok(WorkerRow {
        id: r.worker_id,
        pool,
        capacity: Demand { cpus: r.cpus, gpus: r.gpus, gpu_type: r.gpu_type, memory_mb: r.memory_mb },
        seen_at_ms: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> pb::SubmitRequest {
        pb::SubmitRequest {
            idempotency_key: "k1".into(),
            resources: Some(pb::Resources { cpus: 1, ..Default::default() }),
            command: "true".into(),
            ..Default::default()
        }
    }

    fn field(r: pb::SubmitRequest) -> String {
        match new_job(r, 0) {
            Err(QueueError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let j = new_job(ok(), 9).unwrap();
        assert_eq!((j.pool.as_str(), j.max_attempts, j.submitted_at_ms), ("default", 1, 9));
        assert_eq!(field(pb::SubmitRequest { idempotency_key: String::new(), ..ok() }), "idempotency_key");
        assert_eq!(field(pb::SubmitRequest { resources: None, ..ok() }), "resources");
        assert_eq!(field(pb::SubmitRequest { resources: Some(pb::Resources::default()), ..ok() }), "resources.cpus");
        assert_eq!(field(pb::SubmitRequest { time_limit_s: f64::NAN, ..ok() }), "time_limit_s");
        assert_eq!(field(pb::SubmitRequest { time_limit_s: -1.0, ..ok() }), "time_limit_s");
        assert_eq!(field(pb::SubmitRequest { command: String::new(), ..ok() }), "command");
        assert_eq!(field(pb::SubmitRequest { pool: "a b".into(), ..ok() }), "pool");
        assert_eq!(field(pb::SubmitRequest { max_attempts: 101, ..ok() }), "max_attempts");
        assert_eq!(field(pb::SubmitRequest { tenant: "x".repeat(300), ..ok() }), "tenant");
        assert_eq!(field(pb::SubmitRequest { deadline_ms: -1, ..ok() }), "deadline_ms");
        let reserved = [(DEADLINE_LABEL.to_string(), "1".to_string())].into();
        assert_eq!(field(pb::SubmitRequest { labels: reserved, ..ok() }), "labels[foresight/deadline-ms]");
    }

    #[test]
    fn a_deadline_is_kept_reported_with_its_slack_and_hidden_from_the_labels() {
        let j = new_job(pb::SubmitRequest { deadline_ms: 100_000, ..ok() }, 0).unwrap();
        assert_eq!(deadline_ms(&j), Some(100_000));
        let mut row = JobRow::queued(1, NewJob { predicted_runtime_s: 30.0, ..j });
        let p = job_to_pb_at(&row, 60_000);
        assert_eq!((p.deadline_ms, p.slack_s, p.deadline_at_risk), (100_000, Some(10.0), false));
        assert!(p.labels.is_empty(), "the reserved label is the server's");
        // at 80 s the job cannot end by 100 s if it runs its predicted 30 s
        assert_eq!(job_to_pb_at(&row, 80_000).slack_s, Some(-10.0));
        assert!(job_to_pb_at(&row, 80_000).deadline_at_risk);
        row.state = JobState::Succeeded;
        row.ended_at_ms = 90_000;
        assert_eq!(job_to_pb_at(&row, 200_000).slack_s, None);
        assert!(!job_to_pb_at(&row, 200_000).deadline_at_risk, "it ended in time");
        let none = new_job(ok(), 0).unwrap();
        assert_eq!(deadline_ms(&none), None);
    }

    #[test]
    fn features_are_kept_returned_apart_from_the_labels_and_read_into_the_record() {
        let features = [("d_model".to_string(), "2048".to_string()), ("dtype".to_string(), "bf16".to_string())];
        let r = pb::SubmitRequest { features: features.clone().into(), name: "train".into(), ..ok() };
        let j = new_job(r, 5_000).unwrap();
        let p = job_to_pb_at(&JobRow::queued(1, j.clone()), 0);
        assert_eq!(p.features, features.into());
        assert!(p.labels.is_empty(), "features are not labels");
        let rec = record_of(7, &j);
        assert_eq!(rec.features["d_model"], foresight_core::FeatureValue::Num(2048.0));
        assert_eq!(rec.features["dtype"], foresight_core::FeatureValue::Text("bf16".into()));
        assert_eq!((rec.user.as_deref(), rec.queue.as_deref(), rec.name.as_deref()), (Some(""), Some("default"), Some("train")));
        assert_eq!((rec.submit_s, rec.req_cpus, rec.req_time_s), (5.0, Some(1), None));
        let bad = |k: &str, v: &str| pb::SubmitRequest { features: [(k.to_string(), v.to_string())].into(), ..ok() };
        assert_eq!(field(bad("a b", "1")), "features");
        assert_eq!(field(bad("", "1")), "features");
        assert_eq!(field(bad("k", &"x".repeat(300))), "features[k]");
    }

    #[test]
    fn rows_and_states_round_trip() {
        for s in JobState::ALL {
            assert_eq!(state_from_pb(state_to_pb(s) as i32), Some(s));
        }
        assert_eq!(state_from_pb(0), None);
        assert_eq!(state_from_pb(99), None);
        assert!(
            matches!(offer(pb::LeaseRequest { worker_id: "w".into(), ..Default::default() }), Err(QueueError::Invalid { field, .. }) if field == "cpus")
        );
    }
}
