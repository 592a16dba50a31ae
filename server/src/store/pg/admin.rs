//! The PostgreSQL store's side of [`AdminStore`]: policy versions, the
//! mode and the decision log, in tables of their own, written under the
//! same write lock as every other change.

use super::super::admin::{AdminStore, DecisionRow, ModeRow, PolicyRow, ids_of, ids_text};
use super::super::{Actor, StoreError, WorkerRow};
use super::{PgStore, audit, i64_of, u64_of};
use postgres::Row;

/// The administration's tables.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS policies (
    version BIGINT PRIMARY KEY,
    policy TEXT NOT NULL,
    predictor TEXT NOT NULL,
    note TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    restores BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    id BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    pool TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    candidate_policy TEXT NOT NULL,
    baseline_policy TEXT NOT NULL,
    dispatched TEXT NOT NULL,
    candidate TEXT NOT NULL
);
";

const POLICY_COLUMNS: &str = "version, policy, predictor, note, tenant, role, at_ms, restores";

fn policy_of(r: &Row) -> Result<PolicyRow, StoreError> {
    Ok(PolicyRow {
        version: u64_of(r.try_get(0)?, "version")?,
        policy: r.try_get(1)?,
        predictor: r.try_get(2)?,
        note: r.try_get(3)?,
        actor: Actor { tenant: r.try_get(4)?, role: r.try_get(5)? },
        at_ms: r.try_get(6)?,
        restores: u64_of(r.try_get(7)?, "restores")?,
    })
}

impl AdminStore for PgStore {
    fn add_policy(&mut self, p: &PolicyRow, action: &str, detail: &str) -> Result<PolicyRow, StoreError> {
        let restores = i64_of(p.restores)?;
        self.write(|c, prep| {
            let v: i64 = c.query_one("SELECT COALESCE(MAX(version), 0) + 1 FROM policies", &[])?.try_get(0)?;
            c.execute(
                &format!("INSERT INTO policies ({POLICY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
                &[&v, &p.policy, &p.predictor, &p.note, &p.actor.tenant, &p.actor.role, &p.at_ms, &restores],
            )?;
            audit(c, prep, &p.actor, action, 0, &format!("v{v}: {detail}"), p.at_ms)?;
            Ok(PolicyRow { version: u64_of(v, "version")?, ..p.clone() })
        })
    }

    fn policies(&self) -> Result<Vec<PolicyRow>, StoreError> {
        let rows = self.client()?.query(&format!("SELECT {POLICY_COLUMNS} FROM policies ORDER BY version"), &[])?;
        rows.iter().map(policy_of).collect()
    }

    fn active_policy(&self) -> Result<Option<PolicyRow>, StoreError> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM policies ORDER BY version DESC LIMIT 1");
        self.client()?.query_opt(&sql, &[])?.as_ref().map(policy_of).transpose()
    }

    fn set_mode(&mut self, m: &ModeRow, detail: &str) -> Result<(), StoreError> {
        self.write(|c, prep| {
            c.execute(
                "INSERT INTO settings (key, value, tenant, role, at_ms) VALUES ('mode', $1, $2, $3, $4) \
                 ON CONFLICT (key) DO UPDATE SET value = $1, tenant = $2, role = $3, at_ms = $4",
                &[&m.mode, &m.actor.tenant, &m.actor.role, &m.at_ms],
            )?;
            audit(c, prep, &m.actor, "mode-set", 0, detail, m.at_ms)
        })
    }

    fn mode(&self) -> Result<Option<ModeRow>, StoreError> {
        let r = self.client()?.query_opt("SELECT value, tenant, role, at_ms FROM settings WHERE key = 'mode'", &[])?;
        r.map(|r| {
            Ok(ModeRow {
                mode: r.try_get(0)?,
                actor: Actor { tenant: r.try_get(1)?, role: r.try_get(2)? },
                at_ms: r.try_get(3)?,
            })
        })
        .transpose()
    }

    fn put_decision(&mut self, d: &DecisionRow) -> Result<(), StoreError> {
        let version = i64_of(d.policy_version)?;
        let (dispatched, candidate) = (ids_text(&d.dispatched), ids_text(&d.candidate));
        self.write(|c, _| {
            c.execute(
                "INSERT INTO decisions (at_ms, pool, worker_id, mode, policy_version, candidate_policy, \
                 baseline_policy, dispatched, candidate) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &d.at_ms,
                    &d.pool,
                    &d.worker_id,
                    &d.mode,
                    &version,
                    &d.candidate_policy,
                    &d.baseline_policy,
                    &dispatched,
                    &candidate,
                ],
            )?;
            Ok(())
        })
    }

    fn decisions(&self, after_id: u64, limit: u32) -> Result<Vec<DecisionRow>, StoreError> {
        let (after, limit) = (i64_of(after_id)?, i64::from(limit));
        let rows = self.client()?.query(
            "SELECT id, at_ms, pool, worker_id, mode, policy_version, candidate_policy, baseline_policy, dispatched, \
             candidate FROM decisions WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after, &limit],
        )?;
        rows.iter()
            .map(|r| {
                Ok(DecisionRow {
                    id: u64_of(r.try_get(0)?, "id")?,
                    at_ms: r.try_get(1)?,
                    pool: r.try_get(2)?,
                    worker_id: r.try_get(3)?,
                    mode: r.try_get(4)?,
                    policy_version: u64_of(r.try_get(5)?, "policy_version")?,
                    candidate_policy: r.try_get(6)?,
                    baseline_policy: r.try_get(7)?,
                    dispatched: ids_of(&r.try_get::<_, String>(8)?)?,
                    candidate: ids_of(&r.try_get::<_, String>(9)?)?,
                })
            })
            .collect()
    }

    fn all_workers(&self, since_ms: i64) -> Result<Vec<WorkerRow>, StoreError> {
        let rows = self.client()?.query(
            "SELECT id, pool, cpus, gpus, gpu_type, memory_mb, seen_at_ms FROM workers WHERE seen_at_ms >= $1 ORDER BY id",
            &[&since_ms],
        )?;
        rows.iter().map(super::worker_of).collect()
    }
}
