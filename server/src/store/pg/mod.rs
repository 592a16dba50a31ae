//! The PostgreSQL store (`foresight serve --store postgres://...`), for
//! teams that outgrow one machine: several `serve` replicas on one
//! database, one of them the active dispatcher.
//!
//! The schema is the embedded store's, in PostgreSQL's types. Each
//! acknowledged change is committed with PostgreSQL's defaults
//! (`synchronous_commit = on`, `fsync = on`): the WAL is flushed before
//! the commit returns.
//!
//! Replicas agree through two advisory locks:
//! - every transaction that writes takes the transaction-scoped
//!   [`WRITE_LOCK`] first, so writes are serialized across replicas, as
//!   SQLite's one writer is: a read-modify-write of a job inside
//!   [`Store::begin`] ... [`Store::commit`] cannot interleave with another
//!   replica's, and event ids are handed out in commit order (a `Watch`
//!   that resumes after id N misses nothing committed later);
//! - the replica whose connection holds the session-scoped
//!   [`DISPATCH_LOCK`] is the active dispatcher ([`Store::lead`]); when it
//!   dies its session ends, the lock is free, and the next replica that
//!   asks takes it.
//!
//! The client is rust-postgres' blocking `postgres` crate: the [`Store`]
//! trait is synchronous and called from blocking threads under the queue's
//! lock, as the SQLite store is.

use super::{
    Actor, Change, Demand, EventRow, JobFilter, JobRow, JobState, NewJob, OverBudget, Store, StoreError, TenantLimits,
    WorkerRow,
};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};
use std::cell::{RefCell, RefMut};

/// The transaction-scoped advisory lock every writing transaction takes.
pub const WRITE_LOCK: i64 = 0x666f_7265_0001;
/// The session-scoped advisory lock the active dispatcher holds.
pub const DISPATCH_LOCK: i64 = 0x666f_7265_0002;
/// Held while one replica creates the tables.
const SCHEMA_LOCK: i64 = 0x666f_7265_0003;

mod admin;
mod schema;
use schema::{INSERT_JOB, INSERT_JOBS, JOB_COLUMNS, SCHEMA};

mod group;
use group::insert_many;

/// Statements prepared once per connection.
struct Prepared {
    insert: Statement,
    by_key: Statement,
    by_id: Statement,
    event: Statement,
    audit: Statement,
    /// [`INSERT_JOBS`].
    insert_many: Statement,
    /// Jobs by arrays of tenants and keys.
    by_keys: Statement,
}

/// The PostgreSQL store (see the module's doc).
pub struct PgStore {
    /// `None` only once dropped.
    client: RefCell<Option<Client>>,
    prepared: Prepared,
    /// Inside [`Store::begin`] ... [`Store::commit`].
    in_section: bool,
    /// Holds [`DISPATCH_LOCK`].
    leader: bool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("in_section", &self.in_section).field("leader", &self.leader).finish()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // the blocking client closes its connection on a runtime of its own,
        // which cannot start on an async thread: close it on a thread of its own
        if let Some(client) = self.client.get_mut().take()
            && let Ok(h) = std::thread::Builder::new().name("foresight-pg-close".into()).spawn(move || drop(client))
        {
            let _ = h.join();
        }
    }
}

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// A worker from a row of `id, pool, cpus, gpus, gpu_type, memory_mb,
/// seen_at_ms`.
fn worker_of(r: &Row) -> Result<WorkerRow, StoreError> {
    Ok(WorkerRow {
        id: r.try_get(0)?,
        pool: r.try_get(1)?,
        capacity: Demand {
            cpus: u32_of(r.try_get(2)?, "cpus")?,
            gpus: u32_of(r.try_get(3)?, "gpus")?,
            gpu_type: r.try_get(4)?,
            memory_mb: u64_of(r.try_get(5)?, "memory_mb")?,
        },
        seen_at_ms: r.try_get(6)?,
    })
}

fn u32_of(v: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(format!("{what} = {v}")))
}

fn u64_of(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(format!("{what} = {v}")))
}

fn i64_of(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| corrupt(format!("{v} does not fit a BIGINT")))
}

fn state_of(s: &str) -> Result<JobState, StoreError> {
    JobState::parse(s).ok_or_else(|| corrupt(format!("job state `{s}`")))
}

fn job_of(r: &Row) -> Result<JobRow, StoreError> {
    let labels: String = r.try_get(11)?;
    let lo: Option<f64> = r.try_get(16)?;
    let hi: Option<f64> = r.try_get(17)?;
    let state: String = r.try_get(19)?;
    let exit: Option<i64> = r.try_get(24)?;
    Ok(JobRow {
        id: u64_of(r.try_get(0)?, "id")?,
        spec: NewJob {
            tenant: r.try_get(1)?,
            idempotency_key: r.try_get(2)?,
            name: r.try_get(3)?,
            pool: r.try_get(4)?,
            demand: Demand {
                cpus: u32_of(r.try_get(5)?, "cpus")?,
                gpus: u32_of(r.try_get(6)?, "gpus")?,
                gpu_type: r.try_get(7)?,
                memory_mb: u64_of(r.try_get(8)?, "memory_mb")?,
            },
            priority: r.try_get(9)?,
            time_limit_s: r.try_get(10)?,
            labels: serde_json::from_str(&labels).map_err(|e| corrupt(format!("labels: {e}")))?,
            command: r.try_get(12)?,
            payload: r.try_get(13)?,
            max_attempts: u32_of(r.try_get(14)?, "max_attempts")?,
            predicted_runtime_s: r.try_get(15)?,
            predicted_interval: lo.zip(hi),
            submitted_at_ms: r.try_get(18)?,
        },
        state: state_of(&state)?,
        attempts: u32_of(r.try_get(20)?, "attempts")?,
        not_before_ms: r.try_get(21)?,
        worker_id: r.try_get(22)?,
        lease_expires_at_ms: r.try_get(23)?,
        exit_code: exit.map(|c| i32::try_from(c).map_err(|_| corrupt(format!("exit_code = {c}")))).transpose()?,
        error: r.try_get(25)?,
        started_at_ms: r.try_get(26)?,
        ended_at_ms: r.try_get(27)?,
    })
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`)
    /// and creates the tables it lacks.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let mut client = Client::connect(url, NoTls)?;
        client.execute("SELECT pg_advisory_lock($1)", &[&SCHEMA_LOCK])?;
        let made = client.batch_execute(SCHEMA).and_then(|()| client.batch_execute(admin::SCHEMA));
        client.execute("SELECT pg_advisory_unlock($1)", &[&SCHEMA_LOCK])?;
        made?;
        let prepared = Prepared {
            insert: client.prepare(INSERT_JOB)?,
            by_key: client
                .prepare(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = $1 AND idempotency_key = $2"))?,
            by_id: client.prepare(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))?,
            insert_many: client.prepare(INSERT_JOBS)?,
            by_keys: client.prepare(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE (tenant, idempotency_key) IN \
                 (SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[]))"
            ))?,
            event: client.prepare(
                "INSERT INTO events (job_id, tenant, kind, state, at_ms, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            )?,
            audit: client.prepare(
                "INSERT INTO audit (at_ms, tenant, role, action, job_id, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            )?,
        };
        Ok(Self { client: RefCell::new(Some(client)), prepared, in_section: false, leader: false })
    }

    /// The connection.
    fn client(&self) -> Result<RefMut<'_, Client>, StoreError> {
        RefMut::filter_map(self.client.borrow_mut(), Option::as_mut).map_err(|_| corrupt("the connection is closed"))
    }

    /// The number of audit rows (for tests and the docs' promise).
    pub fn audit_len(&self) -> Result<u64, StoreError> {
        let n: i64 = self.client()?.query_one("SELECT COUNT(*) FROM audit", &[])?.try_get(0)?;
        u64_of(n, "count")
    }

    /// Runs `f` in a writing transaction: the open section's, or one of its
    /// own (with [`WRITE_LOCK`], committed before this returns, rolled back
    /// if `f` fails).
    fn write<T>(&mut self, f: impl FnOnce(&mut Client, &Prepared) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let own = !self.in_section;
        let mut client = self.client()?;
        if own {
            client.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"))?;
        }
        match f(&mut client, &self.prepared) {
            Ok(v) => {
                if own {
                    client.batch_execute("COMMIT")?;
                }
                Ok(v)
            }
            Err(e) => {
                if own {
                    let _ = client.batch_execute("ROLLBACK");
                }
                Err(e)
            }
        }
    }
}

fn audit(
    c: &mut Client,
    p: &Prepared,
    actor: &Actor,
    action: &str,
    job_id: u64,
    detail: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    let id = i64_of(job_id)?;
    c.execute(&p.audit, &[&at_ms, &actor.tenant, &actor.role, &action, &id, &detail])?;
    Ok(())
}

fn event(c: &mut Client, p: &Prepared, job: &JobRow, kind: &str, detail: &str, at_ms: i64) -> Result<(), StoreError> {
    let id = i64_of(job.id)?;
    c.execute(&p.event, &[&id, &job.spec.tenant, &kind, &job.state.as_str(), &at_ms, &detail])?;
    Ok(())
}

/// Inserts `job` unless its tenant already has a job with its key
/// (committed, or inserted earlier in this transaction).
fn insert(c: &mut Client, p: &Prepared, job: &NewJob, actor: &Actor) -> Result<(JobRow, bool), StoreError> {
    let labels = serde_json::to_string(&job.labels).map_err(|e| corrupt(e.to_string()))?;
    let (cpus, gpus) = (i64::from(job.demand.cpus), i64::from(job.demand.gpus));
    let (mem, attempts) = (i64_of(job.demand.memory_mb)?, i64::from(job.max_attempts));
    let (lo, hi) = (job.predicted_interval.map(|i| i.0), job.predicted_interval.map(|i| i.1));
    let args: [&(dyn ToSql + Sync); 20] = [
        &job.tenant,
        &job.idempotency_key,
        &job.name,
        &job.pool,
        &cpus,
        &gpus,
        &job.demand.gpu_type,
        &mem,
        &job.priority,
        &job.time_limit_s,
        &labels,
        &job.command,
        &job.payload,
        &attempts,
        &job.predicted_runtime_s,
        &lo,
        &hi,
        &job.submitted_at_ms,
        &actor.tenant,
        &actor.role,
    ];
    if let Some(r) = c.query_opt(&p.insert, &args)? {
        let id = u64_of(r.try_get(0)?, "id")?;
        let row = JobRow::queued(id, job.clone());
        return Ok((row, true));
    }
    let old = c.query_one(&p.by_key, &[&job.tenant, &job.idempotency_key])?;
    Ok((job_of(&old)?, false))
}

impl Store for PgStore {
    fn begin(&mut self) -> Result<(), StoreError> {
        if !self.in_section {
            self.client()?.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"))?;
            self.in_section = true;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if self.in_section {
            self.in_section = false;
            self.client()?.batch_execute("COMMIT")?;
        }
        Ok(())
    }

    fn rollback(&mut self) {
        if self.in_section {
            self.in_section = false;
            if let Ok(mut c) = self.client() {
                let _ = c.batch_execute("ROLLBACK");
            }
        }
    }

    fn lead(&mut self) -> Result<bool, StoreError> {
        if !self.leader {
            let got: bool =
                self.client()?.query_one("SELECT pg_try_advisory_lock($1)", &[&DISPATCH_LOCK])?.try_get(0)?;
            self.leader = got;
        }
        Ok(self.leader)
    }

    fn put_tenant(&mut self, t: &TenantLimits, actor: &Actor, at_ms: i64) -> Result<(), StoreError> {
        self.write(|c, p| {
            c.execute(
                "INSERT INTO tenants (tenant, rate_per_s, burst, gpu_hours_per_day, over_budget, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant) DO UPDATE SET rate_per_s = EXCLUDED.rate_per_s, \
                 burst = EXCLUDED.burst, gpu_hours_per_day = EXCLUDED.gpu_hours_per_day, \
                 over_budget = EXCLUDED.over_budget, updated_at_ms = EXCLUDED.updated_at_ms",
                &[&t.tenant, &t.rate_per_s, &i64::from(t.burst), &t.gpu_hours_per_day, &t.over_budget.as_str(), &at_ms],
            )?;
            audit(c, p, actor, "tenant-set", 0, &super::tenant_detail(t), at_ms)
        })
    }

    fn tenants(&self) -> Result<Vec<TenantLimits>, StoreError> {
        let rows = self.client()?.query(
            "SELECT tenant, rate_per_s, burst, gpu_hours_per_day, over_budget FROM tenants ORDER BY tenant",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                let over: String = r.try_get(4)?;
                Ok(TenantLimits {
                    tenant: r.try_get(0)?,
                    rate_per_s: r.try_get(1)?,
                    burst: u32_of(r.try_get(2)?, "burst")?,
                    gpu_hours_per_day: r.try_get(3)?,
                    over_budget: OverBudget::parse(&over).ok_or_else(|| corrupt(format!("over_budget `{over}`")))?,
                })
            })
            .collect()
    }

    fn gpu_seconds(&self, since_ms: i64, now_ms: i64) -> Result<Vec<(String, f64)>, StoreError> {
        let rows = self.client()?.query(
            "SELECT tenant, SUM(gpus * CASE WHEN state = 'leased' \
                 THEN GREATEST(predicted_runtime_s, ($2 - started_at_ms) / 1000.0) \
                 ELSE (ended_at_ms - started_at_ms) / 1000.0 END)::DOUBLE PRECISION \
             FROM jobs WHERE gpus > 0 AND started_at_ms >= $1 AND started_at_ms > 0 \
                 AND (state = 'leased' OR ended_at_ms >= started_at_ms) \
             GROUP BY tenant ORDER BY tenant",
            &[&since_ms, &now_ms],
        )?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    fn submit(&mut self, job: &NewJob, actor: &Actor) -> Result<(JobRow, bool), StoreError> {
        let mut out = self.submit_many(&[(job, actor)])?;
        out.pop().ok_or_else(|| corrupt("a submit without its answer"))
    }

    fn submit_many(&mut self, jobs: &[(&NewJob, &Actor)]) -> Result<Vec<(JobRow, bool)>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        if jobs.len() == 1 {
            return self.write(|c, p| jobs.iter().map(|(job, actor)| insert(c, p, job, actor)).collect());
        }
        self.write(|c, p| insert_many(c, p, jobs))
    }

    fn get(&self, id: u64) -> Result<Option<JobRow>, StoreError> {
        let id = i64_of(id)?;
        let row = self.client()?.query_opt(&self.prepared.by_id, &[&id])?;
        row.as_ref().map(job_of).transpose()
    }

    fn list(&self, f: &JobFilter) -> Result<Vec<JobRow>, StoreError> {
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id > $1");
        let after = i64_of(f.after_id)?;
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&after];
        if let Some(t) = &f.tenant {
            args.push(t);
            sql.push_str(&format!(" AND tenant = ${}", args.len()));
        }
        if let Some(p) = &f.pool {
            args.push(p);
            sql.push_str(&format!(" AND pool = ${}", args.len()));
        }
        if !f.states.is_empty() {
            let names: Vec<String> = f.states.iter().map(|s| format!("'{}'", s.as_str())).collect();
            sql.push_str(&format!(" AND state IN ({})", names.join(", ")));
        }
        let limit = i64::from(f.limit);
        args.push(&limit);
        sql.push_str(&format!(" ORDER BY id LIMIT ${}", args.len()));
        let rows = self.client()?.query(&sql, &args)?;
        rows.iter().map(job_of).collect()
    }

    fn apply(&mut self, changes: &[Change<'_>]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.write(|c, p| {
            for ch in changes {
                let j = ch.job;
                let id = i64_of(j.id)?;
                let (attempts, max) = (i64::from(j.attempts), i64::from(j.spec.max_attempts));
                let exit = j.exit_code.map(i64::from);
                c.execute(
                    "UPDATE jobs SET state = $2, attempts = $3, not_before_ms = $4, worker_id = $5, \
                     lease_expires_at_ms = $6, exit_code = $7, error = $8, started_at_ms = $9, ended_at_ms = $10, \
                     max_attempts = $11 WHERE id = $1",
                    &[
                        &id,
                        &j.state.as_str(),
                        &attempts,
                        &j.not_before_ms,
                        &j.worker_id,
                        &j.lease_expires_at_ms,
                        &exit,
                        &j.error,
                        &j.started_at_ms,
                        &j.ended_at_ms,
                        &max,
                    ],
                )?;
                match ch.kind {
                    "leased" => {
                        c.execute(
                            "INSERT INTO leases (job_id, attempt, worker_id, granted_at_ms, expires_at_ms) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id, attempt) DO UPDATE SET \
                             worker_id = EXCLUDED.worker_id, granted_at_ms = EXCLUDED.granted_at_ms, \
                             expires_at_ms = EXCLUDED.expires_at_ms, ended_at_ms = NULL, outcome = NULL",
                            &[&id, &attempts, &j.worker_id, &ch.at_ms, &j.lease_expires_at_ms],
                        )?;
                    }
                    "heartbeat" => {
                        c.execute(
                            "UPDATE leases SET expires_at_ms = $3 WHERE job_id = $1 AND attempt = $2",
                            &[&id, &attempts, &j.lease_expires_at_ms],
                        )?;
                    }
                    _ => {
                        c.execute(
                            "UPDATE leases SET ended_at_ms = $3, outcome = $4 \
                             WHERE job_id = $1 AND attempt = $2 AND outcome IS NULL",
                            &[&id, &attempts, &ch.at_ms, &ch.kind],
                        )?;
                    }
                }
                // a heartbeat is audited, not streamed
                if ch.kind != "heartbeat" {
                    event(c, p, j, ch.kind, ch.detail, ch.at_ms)?;
                }
                audit(c, p, ch.actor, ch.kind, j.id, ch.detail, ch.at_ms)?;
            }
            Ok(())
        })
    }

    fn purge(&mut self, job: &JobRow, actor: &Actor, at_ms: i64) -> Result<(), StoreError> {
        self.write(|c, p| {
            c.execute("DELETE FROM jobs WHERE id = $1", &[&i64_of(job.id)?])?;
            event(c, p, job, "purged", "", at_ms)?;
            audit(c, p, actor, "purge", job.id, "", at_ms)
        })
    }

    fn events_after(
        &self,
        after_id: u64,
        tenant: Option<&str>,
        job_id: Option<u64>,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        let (after, job) = (i64_of(after_id)?, job_id.map(i64_of).transpose()?);
        let rows = self.client()?.query(
            "SELECT id, job_id, tenant, kind, state, at_ms, detail FROM events WHERE id > $1 \
             AND ($2::TEXT IS NULL OR tenant = $2) AND ($3::BIGINT IS NULL OR job_id = $3) ORDER BY id LIMIT $4",
            &[&after, &tenant, &job, &i64::from(limit)],
        )?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get(4)?;
                Ok(EventRow {
                    id: u64_of(r.try_get(0)?, "event id")?,
                    job_id: u64_of(r.try_get(1)?, "job_id")?,
                    tenant: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    state: state_of(&state)?,
                    at_ms: r.try_get(5)?,
                    detail: r.try_get(6)?,
                })
            })
            .collect()
    }

    fn last_event_id(&self) -> Result<u64, StoreError> {
        let n: i64 = self.client()?.query_one("SELECT COALESCE(MAX(id), 0)::BIGINT FROM events", &[])?.try_get(0)?;
        u64_of(n, "event id")
    }

    fn expired_leases(&self, now_ms: i64) -> Result<Vec<JobRow>, StoreError> {
        let rows = self.client()?.query(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'leased' AND lease_expires_at_ms < $1 ORDER BY id"),
            &[&now_ms],
        )?;
        rows.iter().map(job_of).collect()
    }

    fn active_counts(&self) -> Result<Vec<(String, String, JobState, u64)>, StoreError> {
        let rows = self.client()?.query(
            "SELECT tenant, pool, state, COUNT(*) FROM jobs WHERE state IN ('queued', 'leased') \
             GROUP BY tenant, pool, state ORDER BY tenant, pool, state",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get(2)?;
                Ok((r.try_get(0)?, r.try_get(1)?, state_of(&state)?, u64_of(r.try_get(3)?, "count")?))
            })
            .collect()
    }

    fn put_worker(&mut self, w: &WorkerRow) -> Result<(), StoreError> {
        let (cpus, gpus, mem) = (i64::from(w.capacity.cpus), i64::from(w.capacity.gpus), i64_of(w.capacity.memory_mb)?);
        self.write(|c, _| {
            c.execute(
                "INSERT INTO workers (id, pool, cpus, gpus, gpu_type, memory_mb, seen_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET pool = EXCLUDED.pool, \
                 cpus = EXCLUDED.cpus, gpus = EXCLUDED.gpus, gpu_type = EXCLUDED.gpu_type, \
                 memory_mb = EXCLUDED.memory_mb, seen_at_ms = EXCLUDED.seen_at_ms",
                &[&w.id, &w.pool, &cpus, &gpus, &w.capacity.gpu_type, &mem, &w.seen_at_ms],
            )?;
            Ok(())
        })
    }

    fn workers(&self, pool: &str, since_ms: i64) -> Result<Vec<WorkerRow>, StoreError> {
        let rows = self.client()?.query(
            "SELECT id, pool, cpus, gpus, gpu_type, memory_mb, seen_at_ms FROM workers \
             WHERE pool = $1 AND seen_at_ms >= $2 ORDER BY id",
            &[&pool, &since_ms],
        )?;
        rows.iter().map(worker_of).collect()
    }

    fn put_token(&mut self, hash: &str, tenant: &str, role: &str, at_ms: i64) -> Result<(), StoreError> {
        self.write(|c, p| {
            c.execute(
                "INSERT INTO tokens (hash, tenant, role, created_at_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (hash) DO UPDATE SET tenant = EXCLUDED.tenant, role = EXCLUDED.role, \
                 created_at_ms = EXCLUDED.created_at_ms",
                &[&hash, &tenant, &role, &at_ms],
            )?;
            let admin = Actor { tenant: "-".into(), role: "local".into() };
            audit(c, p, &admin, "token-add", 0, &format!("{tenant}:{role}"), at_ms)
        })
    }

    fn token(&self, hash: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = self.client()?.query_opt("SELECT tenant, role FROM tokens WHERE hash = $1", &[&hash])?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }
}

#[cfg(test)]
pub(crate) mod tests;
