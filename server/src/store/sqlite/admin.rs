//! The embedded store's side of [`AdminStore`]: policy versions, the mode
//! and the decision log, in tables of their own.

use super::super::admin::{AdminStore, DecisionRow, ModeRow, PolicyRow, ids_of, ids_text};
use super::super::{Actor, StoreError, WorkerRow};
use super::{SqliteStore, audit};
use rusqlite::{OptionalExtension, Row, params};

/// The administration's tables.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS policies (
    version INTEGER PRIMARY KEY,
    policy TEXT NOT NULL,
    predictor TEXT NOT NULL,
    note TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    restores INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    pool TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    policy_version INTEGER NOT NULL,
    candidate_policy TEXT NOT NULL,
    baseline_policy TEXT NOT NULL,
    dispatched TEXT NOT NULL,
    candidate TEXT NOT NULL
);
";

const POLICY_COLUMNS: &str = "version, policy, predictor, note, tenant, role, at_ms, restores";

fn policy_of(r: &Row<'_>) -> rusqlite::Result<PolicyRow> {
    Ok(PolicyRow {
        version: r.get(0)?,
        policy: r.get(1)?,
        predictor: r.get(2)?,
        note: r.get(3)?,
        actor: Actor { tenant: r.get(4)?, role: r.get(5)? },
        at_ms: r.get(6)?,
        restores: r.get(7)?,
    })
}

impl AdminStore for SqliteStore {
    fn add_policy(&mut self, p: &PolicyRow, action: &str, detail: &str) -> Result<PolicyRow, StoreError> {
        let tx = self.conn.transaction()?;
        let version: u64 = tx.query_row("SELECT COALESCE(MAX(version), 0) + 1 FROM policies", [], |r| r.get(0))?;
        tx.execute(
            &format!("INSERT INTO policies ({POLICY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![version, p.policy, p.predictor, p.note, p.actor.tenant, p.actor.role, p.at_ms, p.restores],
        )?;
        audit(&tx, &p.actor, action, 0, &format!("v{version}: {detail}"), p.at_ms)?;
        tx.commit()?;
        Ok(PolicyRow { version, ..p.clone() })
    }

    fn policies(&self) -> Result<Vec<PolicyRow>, StoreError> {
        let mut st = self.conn.prepare(&format!("SELECT {POLICY_COLUMNS} FROM policies ORDER BY version"))?;
        let rows = st.query_map([], policy_of)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn active_policy(&self) -> Result<Option<PolicyRow>, StoreError> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM policies ORDER BY version DESC LIMIT 1");
        Ok(self.conn.query_row(&sql, [], policy_of).optional()?)
    }

    fn set_mode(&mut self, m: &ModeRow, detail: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO settings (key, value, tenant, role, at_ms) VALUES ('mode', ?1, ?2, ?3, ?4)",
            params![m.mode, m.actor.tenant, m.actor.role, m.at_ms],
        )?;
        audit(&tx, &m.actor, "mode-set", 0, detail, m.at_ms)?;
        tx.commit()?;
        Ok(())
    }

    fn mode(&self) -> Result<Option<ModeRow>, StoreError> {
        let row = self
            .conn
            .query_row("SELECT value, tenant, role, at_ms FROM settings WHERE key = 'mode'", [], |r| {
                Ok(ModeRow { mode: r.get(0)?, actor: Actor { tenant: r.get(1)?, role: r.get(2)? }, at_ms: r.get(3)? })
            })
            .optional()?;
        Ok(row)
    }

    fn put_decision(&mut self, d: &DecisionRow) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO decisions (at_ms, pool, worker_id, mode, policy_version, candidate_policy, baseline_policy, \
             dispatched, candidate) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                d.at_ms,
                d.pool,
                d.worker_id,
                d.mode,
                d.policy_version,
                d.candidate_policy,
                d.baseline_policy,
                ids_text(&d.dispatched),
                ids_text(&d.candidate)
            ],
        )?;
        Ok(())
    }

    fn decisions(&self, after_id: u64, limit: u32) -> Result<Vec<DecisionRow>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT id, at_ms, pool, worker_id, mode, policy_version, candidate_policy, baseline_policy, dispatched, \
             candidate FROM decisions WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let raw = st
            .query_map(params![after_id, limit], |r| {
                let d = DecisionRow {
                    id: r.get(0)?,
                    at_ms: r.get(1)?,
                    pool: r.get(2)?,
                    worker_id: r.get(3)?,
                    mode: r.get(4)?,
                    policy_version: r.get(5)?,
                    candidate_policy: r.get(6)?,
                    baseline_policy: r.get(7)?,
                    ..DecisionRow::default()
                };
                Ok((d, r.get::<_, String>(8)?, r.get::<_, String>(9)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        raw.into_iter()
            .map(|(d, a, b)| Ok(DecisionRow { dispatched: ids_of(&a)?, candidate: ids_of(&b)?, ..d }))
            .collect()
    }

    fn all_workers(&self, since_ms: i64) -> Result<Vec<WorkerRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, pool, cpus, gpus, gpu_type, memory_mb, seen_at_ms FROM workers WHERE seen_at_ms >= ?1 ORDER BY id",
        )?;
        let rows = st.query_map(params![since_ms], super::worker_of)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
