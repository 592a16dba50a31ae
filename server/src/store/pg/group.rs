//! A group of submits in one statement: the PostgreSQL store's group
//! commit, one round trip for the lot.

use super::{Actor, JobRow, NewJob, Prepared, StoreError, corrupt, i64_of, job_of, u64_of};
use postgres::Client;
use postgres::types::ToSql;
use std::collections::HashMap;

/// A group of jobs in one statement ([`super::schema::INSERT_JOBS`]): a key that comes
/// twice from a tenant is sent once and answers its first submit's job;
/// the jobs whose key was taken before are read back in one more query.
pub(super) fn insert_many(
    c: &mut Client,
    p: &Prepared,
    jobs: &[(&NewJob, &Actor)],
) -> Result<Vec<(JobRow, bool)>, StoreError> {
    // the first submit of each (tenant, key), in order
    let mut first: HashMap<(&str, &str), usize> = HashMap::with_capacity(jobs.len());
    let mut sent: Vec<usize> = Vec::with_capacity(jobs.len());
    for (i, (job, _)) in jobs.iter().enumerate() {
        if let std::collections::hash_map::Entry::Vacant(v) = first.entry((&job.tenant, &job.idempotency_key)) {
            v.insert(i);
            sent.push(i);
        }
    }
    let col = |f: &dyn Fn(&NewJob) -> String| -> Vec<String> { sent.iter().map(|&i| f(jobs[i].0)).collect() };
    let tenant = col(&|j| j.tenant.clone());
    let key = col(&|j| j.idempotency_key.clone());
    let name = col(&|j| j.name.clone());
    let pool = col(&|j| j.pool.clone());
    let gpu_type = col(&|j| j.demand.gpu_type.clone());
    let command = col(&|j| j.command.clone());
    let mut labels = Vec::with_capacity(sent.len());
    let mut mem = Vec::with_capacity(sent.len());
    for &i in &sent {
        labels.push(serde_json::to_string(&jobs[i].0.labels).map_err(|e| corrupt(e.to_string()))?);
        mem.push(i64_of(jobs[i].0.demand.memory_mb)?);
    }
    let ints = |f: &dyn Fn(&NewJob) -> i64| -> Vec<i64> { sent.iter().map(|&i| f(jobs[i].0)).collect() };
    let cpus = ints(&|j| i64::from(j.demand.cpus));
    let gpus = ints(&|j| i64::from(j.demand.gpus));
    let priority = ints(&|j| j.priority);
    let attempts = ints(&|j| i64::from(j.max_attempts));
    let submitted = ints(&|j| j.submitted_at_ms);
    let floats =
        |f: &dyn Fn(&NewJob) -> Option<f64>| -> Vec<Option<f64>> { sent.iter().map(|&i| f(jobs[i].0)).collect() };
    let limit = floats(&|j| Some(j.time_limit_s));
    let runtime = floats(&|j| Some(j.predicted_runtime_s));
    let lo = floats(&|j| j.predicted_interval.map(|i| i.0));
    let hi = floats(&|j| j.predicted_interval.map(|i| i.1));
    let payload: Vec<&[u8]> = sent.iter().map(|&i| jobs[i].0.payload.as_slice()).collect();
    let actor_tenant: Vec<&str> = sent.iter().map(|&i| jobs[i].1.tenant.as_str()).collect();
    let actor_role: Vec<&str> = sent.iter().map(|&i| jobs[i].1.role.as_str()).collect();
    let args: [&(dyn ToSql + Sync); 20] = [
        &tenant,
        &key,
        &name,
        &pool,
        &cpus,
        &gpus,
        &gpu_type,
        &mem,
        &priority,
        &limit,
        &labels,
        &command,
        &payload,
        &attempts,
        &runtime,
        &lo,
        &hi,
        &submitted,
        &actor_tenant,
        &actor_role,
    ];
    let mut made: HashMap<(String, String), u64> = HashMap::with_capacity(sent.len());
    for r in c.query(&p.insert_many, &args)? {
        made.insert((r.try_get(1)?, r.try_get(2)?), u64_of(r.try_get(0)?, "id")?);
    }
    // the keys taken before this group: their jobs, read in one query
    let (mut old_tenant, mut old_key) = (Vec::new(), Vec::new());
    for &i in &sent {
        let j = jobs[i].0;
        if !made.contains_key(&(j.tenant.clone(), j.idempotency_key.clone())) {
            old_tenant.push(j.tenant.as_str());
            old_key.push(j.idempotency_key.as_str());
        }
    }
    let mut old: HashMap<(String, String), JobRow> = HashMap::new();
    if !old_tenant.is_empty() {
        for r in c.query(&p.by_keys, &[&old_tenant, &old_key])? {
            let j = job_of(&r)?;
            old.insert((j.spec.tenant.clone(), j.spec.idempotency_key.clone()), j);
        }
    }
    let mut out: Vec<(JobRow, bool)> = Vec::with_capacity(jobs.len());
    for (i, (job, _)) in jobs.iter().enumerate() {
        let at = (job.tenant.clone(), job.idempotency_key.clone());
        let f = first[&(job.tenant.as_str(), job.idempotency_key.as_str())];
        let answer = if f < i {
            // the same key earlier in this group: its job, not new
            (out[f].0.clone(), false)
        } else if let Some(&id) = made.get(&at) {
            (JobRow::queued(id, (*job).clone()), true)
        } else {
            let row = old
                .get(&at)
                .cloned()
                .ok_or_else(|| corrupt(format!("job of key `{}` neither inserted nor found", job.idempotency_key)))?;
            (row, false)
        };
        out.push(answer);
    }
    Ok(out)
}
