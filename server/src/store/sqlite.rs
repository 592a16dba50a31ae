//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`,
//! so that a committed transaction survives a crash of the process or the
//! machine.

use super::{
    Actor, Change, Demand, EventRow, JobFilter, JobRow, JobState, NewJob, OverBudget, Store, StoreError, TenantLimits,
    WorkerRow,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::path::Path;

mod admin;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    name TEXT NOT NULL,
    pool TEXT NOT NULL,
    cpus INTEGER NOT NULL,
    gpus INTEGER NOT NULL,
    gpu_type TEXT NOT NULL,
    memory_mb INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    time_limit_s REAL NOT NULL,
    labels TEXT NOT NULL,
    command TEXT NOT NULL,
    payload BLOB NOT NULL,
    max_attempts INTEGER NOT NULL,
    predicted_runtime_s REAL NOT NULL,
    interval_lo_s REAL,
    interval_hi_s REAL,
    submitted_at_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    not_before_ms INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    lease_expires_at_ms INTEGER NOT NULL,
    exit_code INTEGER,
    error TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL,
    ended_at_ms INTEGER NOT NULL,
    UNIQUE (tenant, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, pool);
CREATE INDEX IF NOT EXISTS jobs_lease_expiry ON jobs (lease_expires_at_ms) WHERE state = 'leased';
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    job_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    granted_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    ended_at_ms INTEGER,
    outcome TEXT,
    PRIMARY KEY (job_id, attempt)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    job_id INTEGER,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    pool TEXT NOT NULL,
    cpus INTEGER NOT NULL,
    gpus INTEGER NOT NULL,
    gpu_type TEXT NOT NULL,
    memory_mb INTEGER NOT NULL,
    seen_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tenants (
    tenant TEXT PRIMARY KEY,
    rate_per_s REAL NOT NULL,
    burst INTEGER NOT NULL,
    gpu_hours_per_day REAL NOT NULL,
    over_budget TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
";

const JOB_COLUMNS: &str = "id, tenant, idempotency_key, name, pool, cpus, gpus, gpu_type, memory_mb, priority, \
    time_limit_s, labels, command, payload, max_attempts, predicted_runtime_s, interval_lo_s, interval_hi_s, \
    submitted_at_ms, state, attempts, not_before_ms, worker_id, lease_expires_at_ms, exit_code, error, \
    started_at_ms, ended_at_ms";

/// The embedded SQLite store (see the module's doc).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

fn corrupt(what: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(StoreError::Corrupt(what.into())) as Box<dyn std::error::Error + Send + Sync>,
    )
}

/// A worker from a row of `id, pool, cpus, gpus, gpu_type, memory_mb,
/// seen_at_ms`.
fn worker_of(r: &Row<'_>) -> rusqlite::Result<WorkerRow> {
    Ok(WorkerRow {
        id: r.get(0)?,
        pool: r.get(1)?,
        capacity: Demand { cpus: r.get(2)?, gpus: r.get(3)?, gpu_type: r.get(4)?, memory_mb: r.get(5)? },
        seen_at_ms: r.get(6)?,
    })
}

fn state_of(s: &str) -> rusqlite::Result<JobState> {
    JobState::parse(s).ok_or_else(|| corrupt(format!("job state `{s}`")))
}

fn job_of(r: &Row<'_>) -> rusqlite::Result<JobRow> {
    let labels: String = r.get(11)?;
    let lo: Option<f64> = r.get(16)?;
    let hi: Option<f64> = r.get(17)?;
    let state: String = r.get(19)?;
    Ok(JobRow {
        id: r.get(0)?,
        spec: NewJob {
            tenant: r.get(1)?,
            idempotency_key: r.get(2)?,
            name: r.get(3)?,
            pool: r.get(4)?,
            demand: Demand { cpus: r.get(5)?, gpus: r.get(6)?, gpu_type: r.get(7)?, memory_mb: r.get(8)? },
            priority: r.get(9)?,
            time_limit_s: r.get(10)?,
            labels: serde_json::from_str(&labels).map_err(|e| corrupt(format!("labels: {e}")))?,
            command: r.get(12)?,
            payload: r.get(13)?,
            max_attempts: r.get(14)?,
            predicted_runtime_s: r.get(15)?,
            predicted_interval: lo.zip(hi),
            submitted_at_ms: r.get(18)?,
        },
        state: state_of(&state)?,
        attempts: r.get(20)?,
        not_before_ms: r.get(21)?,
        worker_id: r.get(22)?,
        lease_expires_at_ms: r.get(23)?,
        exit_code: r.get(24)?,
        error: r.get(25)?,
        started_at_ms: r.get(26)?,
        ended_at_ms: r.get(27)?,
    })
}

fn audit(tx: &Connection, actor: &Actor, action: &str, job_id: u64, detail: &str, at_ms: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit (at_ms, tenant, role, action, job_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![at_ms, actor.tenant, actor.role, action, job_id, detail])?;
    Ok(())
}

fn event(tx: &Connection, job: &JobRow, kind: &str, detail: &str, at_ms: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO events (job_id, tenant, kind, state, at_ms, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![job.id, job.spec.tenant, kind, job.state.as_str(), at_ms, detail])?;
    Ok(())
}

/// Inserts `job` in the open transaction `tx` unless its tenant already has
/// a job with its key (committed, or inserted earlier in `tx`): the job,
/// and whether it is new.
fn insert(tx: &Connection, job: &NewJob, actor: &Actor) -> Result<(JobRow, bool), StoreError> {
    static BY_KEY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ?1 AND idempotency_key = ?2")
    });
    let old = tx
        .prepare_cached(&BY_KEY)?
        .query_row(params![job.tenant, job.idempotency_key], job_of)
        .optional()?;
    if let Some(old) = old {
        return Ok((old, false));
    }
    let labels = serde_json::to_string(&job.labels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO jobs (tenant, idempotency_key, name, pool, cpus, gpus, gpu_type, memory_mb, priority, \
         time_limit_s, labels, command, payload, max_attempts, predicted_runtime_s, interval_lo_s, interval_hi_s, \
         submitted_at_ms, state, attempts, not_before_ms, worker_id, lease_expires_at_ms, exit_code, error, \
         started_at_ms, ended_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
         ?16, ?17, ?18, 'queued', 0, 0, '', 0, NULL, '', 0, 0)",
    )?
    .execute(params![
        job.tenant,
        job.idempotency_key,
        job.name,
        job.pool,
        job.demand.cpus,
        job.demand.gpus,
        job.demand.gpu_type,
        job.demand.memory_mb,
        job.priority,
        job.time_limit_s,
        labels,
        job.command,
        job.payload,
        job.max_attempts,
        job.predicted_runtime_s,
        job.predicted_interval.map(|i| i.0),
        job.predicted_interval.map(|i| i.1),
        job.submitted_at_ms,
    ])?;
    let id = tx.last_insert_rowid() as u64;
    let row = JobRow::queued(id, job.clone());
    event(tx, &row, "submitted", &job.name, job.submitted_at_ms)?;
    audit(tx, actor, "submit", id, &job.idempotency_key, job.submitted_at_ms)?;
    Ok((row, true))
}

impl SqliteStore {
    /// Opens (creating) `dir/foresight.db`, making `dir` if needed.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| StoreError::Folder { path: dir.display().to_string(), source })?;
        let conn = Connection::open(dir.join("foresight.db"))?;
        Self::init(conn)
    }

    /// A store in memory (for tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // the submit, lease and cache statements all stay prepared
        conn.set_prepared_statement_cache_capacity(64);
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(admin::SCHEMA)?;
        Ok(Self { conn })
    }

    /// The number of audit rows (for tests and the docs' promise).
    pub fn audit_len(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))?)
    }
}

impl Store for SqliteStore {
    fn put_tenant(&mut self, t: &TenantLimits, actor: &Actor, at_ms: i64) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO tenants (tenant, rate_per_s, burst, gpu_hours_per_day, over_budget, updated_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![t.tenant, t.rate_per_s, t.burst, t.gpu_hours_per_day, t.over_budget.as_str(), at_ms],
        )?;
        audit(&tx, actor, "tenant-set", 0, &super::tenant_detail(t), at_ms)?;
        tx.commit()?;
        Ok(())
    }

    fn tenants(&self) -> Result<Vec<TenantLimits>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT tenant, rate_per_s, burst, gpu_hours_per_day, over_budget FROM tenants ORDER BY tenant",
        )?;
        let rows = st.query_map([], |r| {
            let over: String = r.get(4)?;
            Ok(TenantLimits {
                tenant: r.get(0)?,
                rate_per_s: r.get(1)?,
                burst: r.get(2)?,
                gpu_hours_per_day: r.get(3)?,
                over_budget: OverBudget::parse(&over).ok_or_else(|| corrupt(format!("over_budget `{over}`")))?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn gpu_seconds(&self, since_ms: i64, now_ms: i64) -> Result<Vec<(String, f64)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT tenant, SUM(gpus * CASE WHEN state = 'leased' \
                 THEN MAX(predicted_runtime_s, (?2 - started_at_ms) / 1000.0) \
                 ELSE (ended_at_ms - started_at_ms) / 1000.0 END) \
             FROM jobs WHERE gpus > 0 AND started_at_ms >= ?1 AND started_at_ms > 0 \
                 AND (state = 'leased' OR ended_at_ms >= started_at_ms) \
             GROUP BY tenant ORDER BY tenant",
        )?;
        let rows = st.query_map(params![since_ms, now_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn submit(&mut self, job: &NewJob, actor: &Actor) -> Result<(JobRow, bool), StoreError> {
        let mut out = self.submit_many(&[(job, actor)])?;
        out.pop().ok_or_else(|| StoreError::Corrupt("a submit without its answer".into()))
    }

    fn submit_many(&mut self, jobs: &[(&NewJob, &Actor)]) -> Result<Vec<(JobRow, bool)>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(jobs.len());
        for (job, actor) in jobs {
            out.push(insert(&tx, job, actor)?);
        }
        tx.commit()?;
        Ok(out)
    }

    fn get(&self, id: u64) -> Result<Option<JobRow>, StoreError> {
        // a cached statement: the dispatcher's cache reads each changed job
        static BY_ID: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"));
        let mut st = self.conn.prepare_cached(&BY_ID)?;
        Ok(st.query_row(params![id], job_of).optional()?)
    }

    fn list(&self, f: &JobFilter) -> Result<Vec<JobRow>, StoreError> {
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id > ?1");
        let mut args: Vec<rusqlite::types::Value> = vec![(f.after_id as i64).into()];
        if let Some(t) = &f.tenant {
            args.push(t.clone().into());
            sql.push_str(&format!(" AND tenant = ?{}", args.len()));
        }
        if let Some(p) = &f.pool {
            args.push(p.clone().into());
            sql.push_str(&format!(" AND pool = ?{}", args.len()));
        }
        if !f.states.is_empty() {
            let names: Vec<String> = f.states.iter().map(|s| format!("'{}'", s.as_str())).collect();
            sql.push_str(&format!(" AND state IN ({})", names.join(", ")));
        }
        args.push(i64::from(f.limit).into());
        sql.push_str(&format!(" ORDER BY id LIMIT ?{}", args.len()));
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), job_of)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn apply(&mut self, changes: &[Change<'_>]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for c in changes {
            let j = c.job;
            tx.prepare_cached(
                "UPDATE jobs SET state = ?2, attempts = ?3, not_before_ms = ?4, worker_id = ?5, \
                 lease_expires_at_ms = ?6, exit_code = ?7, error = ?8, started_at_ms = ?9, ended_at_ms = ?10, \
                 max_attempts = ?11 WHERE id = ?1",
            )?
            .execute(params![
                j.id,
                j.state.as_str(),
                j.attempts,
                j.not_before_ms,
                j.worker_id,
                j.lease_expires_at_ms,
                j.exit_code,
                j.error,
                j.started_at_ms,
                j.ended_at_ms,
                j.spec.max_attempts,
            ])?;
            match c.kind {
                "leased" => {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO leases (job_id, attempt, worker_id, granted_at_ms, expires_at_ms) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![j.id, j.attempts, j.worker_id, c.at_ms, j.lease_expires_at_ms])?;
                }
                "heartbeat" => {
                    tx.prepare_cached("UPDATE leases SET expires_at_ms = ?3 WHERE job_id = ?1 AND attempt = ?2")?
                    .execute(params![j.id, j.attempts, j.lease_expires_at_ms])?;
                }
                _ => {
                    tx.prepare_cached(
                        "UPDATE leases SET ended_at_ms = ?3, outcome = ?4 \
                         WHERE job_id = ?1 AND attempt = ?2 AND outcome IS NULL",
                    )?
                    .execute(params![j.id, j.attempts, c.at_ms, c.kind])?;
                }
            }
            // a heartbeat is audited, not streamed
            if c.kind != "heartbeat" {
                event(&tx, j, c.kind, c.detail, c.at_ms)?;
            }
            audit(&tx, c.actor, c.kind, j.id, c.detail, c.at_ms)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn purge(&mut self, job: &JobRow, actor: &Actor, at_ms: i64) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM jobs WHERE id = ?1", params![job.id])?;
        event(&tx, job, "purged", "", at_ms)?;
        audit(&tx, actor, "purge", job.id, "", at_ms)?;
        tx.commit()?;
        Ok(())
    }

    fn events_after(
        &self,
        after_id: u64,
        tenant: Option<&str>,
        job_id: Option<u64>,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, job_id, tenant, kind, state, at_ms, detail FROM events WHERE id > ?1 \
             AND (?2 IS NULL OR tenant = ?2) AND (?3 IS NULL OR job_id = ?3) ORDER BY id LIMIT ?4",
        )?;
        let rows = st.query_map(params![after_id, tenant, job_id, limit], |r| {
            let state: String = r.get(4)?;
            Ok(EventRow {
                id: r.get(0)?,
                job_id: r.get(1)?,
                tenant: r.get(2)?,
                kind: r.get(3)?,
                state: state_of(&state)?,
                at_ms: r.get(5)?,
                detail: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn last_event_id(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))?)
    }

    fn expired_leases(&self, now_ms: i64) -> Result<Vec<JobRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'leased' AND lease_expires_at_ms < ?1 ORDER BY id"
        ))?;
        let rows = st.query_map(params![now_ms], job_of)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn active_counts(&self) -> Result<Vec<(String, String, JobState, u64)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT tenant, pool, state, COUNT(*) FROM jobs WHERE state IN ('queued', 'leased') \
             GROUP BY tenant, pool, state ORDER BY tenant, pool, state",
        )?;
        let rows = st.query_map([], |r| {
            let state: String = r.get(2)?;
            Ok((r.get(0)?, r.get(1)?, state_of(&state)?, r.get(3)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_worker(&mut self, w: &WorkerRow) -> Result<(), StoreError> {
        self.conn.prepare_cached(
            "INSERT OR REPLACE INTO workers (id, pool, cpus, gpus, gpu_type, memory_mb, seen_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            w.id,
            w.pool,
            w.capacity.cpus,
            w.capacity.gpus,
            w.capacity.gpu_type,
            w.capacity.memory_mb,
            w.seen_at_ms
        ])?;
        Ok(())
    }

    fn workers(&self, pool: &str, since_ms: i64) -> Result<Vec<WorkerRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, pool, cpus, gpus, gpu_type, memory_mb, seen_at_ms FROM workers \
             WHERE pool = ?1 AND seen_at_ms >= ?2 ORDER BY id",
        )?;
        let rows = st.query_map(params![pool, since_ms], worker_of)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_token(&mut self, hash: &str, tenant: &str, role: &str, at_ms: i64) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO tokens (hash, tenant, role, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![hash, tenant, role, at_ms],
        )?;
        let admin = Actor { tenant: "-".into(), role: "local".into() };
        audit(&tx, &admin, "token-add", 0, &format!("{tenant}:{role}"), at_ms)?;
        tx.commit()?;
        Ok(())
    }

    fn token(&self, hash: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT tenant, role FROM tokens WHERE hash = ?1", params![hash], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }
}

#[cfg(test)]
mod tests;
