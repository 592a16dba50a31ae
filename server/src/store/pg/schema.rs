//! The PostgreSQL store's tables (the embedded store's, in PostgreSQL's
//! types) and its submit statement.

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    name TEXT NOT NULL,
    pool TEXT NOT NULL,
    cpus BIGINT NOT NULL,
    gpus BIGINT NOT NULL,
    gpu_type TEXT NOT NULL,
    memory_mb BIGINT NOT NULL,
    priority BIGINT NOT NULL,
    time_limit_s DOUBLE PRECISION NOT NULL,
    labels TEXT NOT NULL,
    command TEXT NOT NULL,
    payload BYTEA NOT NULL,
    max_attempts BIGINT NOT NULL,
    predicted_runtime_s DOUBLE PRECISION NOT NULL,
    interval_lo_s DOUBLE PRECISION,
    interval_hi_s DOUBLE PRECISION,
    submitted_at_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    not_before_ms BIGINT NOT NULL,
    worker_id TEXT NOT NULL,
    lease_expires_at_ms BIGINT NOT NULL,
    exit_code BIGINT,
    error TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    ended_at_ms BIGINT NOT NULL,
    UNIQUE (tenant, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, pool);
CREATE INDEX IF NOT EXISTS jobs_lease_expiry ON jobs (lease_expires_at_ms) WHERE state = 'leased';
CREATE TABLE IF NOT EXISTS events (
    id BIGSERIAL PRIMARY KEY,
    job_id BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    job_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    worker_id TEXT NOT NULL,
    granted_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    ended_at_ms BIGINT,
    outcome TEXT,
    PRIMARY KEY (job_id, attempt)
);
CREATE TABLE IF NOT EXISTS audit (
    id BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    job_id BIGINT,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    pool TEXT NOT NULL,
    cpus BIGINT NOT NULL,
    gpus BIGINT NOT NULL,
    gpu_type TEXT NOT NULL,
    memory_mb BIGINT NOT NULL,
    seen_at_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenants (
    tenant TEXT PRIMARY KEY,
    rate_per_s DOUBLE PRECISION NOT NULL,
    burst BIGINT NOT NULL,
    gpu_hours_per_day DOUBLE PRECISION NOT NULL,
    over_budget TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
";

pub(super) const JOB_COLUMNS: &str = "id, tenant, idempotency_key, name, pool, cpus, gpus, gpu_type, memory_mb, priority, \
    time_limit_s, labels, command, payload, max_attempts, predicted_runtime_s, interval_lo_s, interval_hi_s, \
    submitted_at_ms, state, attempts, not_before_ms, worker_id, lease_expires_at_ms, exit_code, error, \
    started_at_ms, ended_at_ms";

/// One submitted job: the job, unless its key is taken, with its
/// `submitted` event and its audit row (a group of one; a larger group is
/// [`INSERT_JOBS`]).
pub(super) const INSERT_JOB: &str = "WITH ins AS (
    INSERT INTO jobs (tenant, idempotency_key, name, pool, cpus, gpus, gpu_type, memory_mb, priority,
        time_limit_s, labels, command, payload, max_attempts, predicted_runtime_s, interval_lo_s, interval_hi_s,
        submitted_at_ms, state, attempts, not_before_ms, worker_id, lease_expires_at_ms, exit_code, error,
        started_at_ms, ended_at_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        'queued', 0, 0, '', 0, NULL, '', 0, 0)
    ON CONFLICT (tenant, idempotency_key) DO NOTHING
    RETURNING id),
ev AS (INSERT INTO events (job_id, tenant, kind, state, at_ms, detail)
    SELECT id, $1, 'submitted', 'queued', $18, $3 FROM ins),
au AS (INSERT INTO audit (at_ms, tenant, role, action, job_id, detail)
    SELECT $18, $19, $20, 'submit', id, $2 FROM ins)
SELECT id FROM ins";

/// A group of submitted jobs in one statement, one round trip: each
/// parameter is an array with one element per job (distinct keys), the
/// jobs inserted in the arrays' order unless their key is taken, each with
/// its `submitted` event and its audit row; returns the ids of the jobs
/// inserted with their tenant and key.
pub(super) const INSERT_JOBS: &str = "WITH input AS (
    SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::TEXT[],
        $8::BIGINT[], $9::BIGINT[], $10::DOUBLE PRECISION[], $11::TEXT[], $12::TEXT[], $13::BYTEA[], $14::BIGINT[],
        $15::DOUBLE PRECISION[], $16::DOUBLE PRECISION[], $17::DOUBLE PRECISION[], $18::BIGINT[], $19::TEXT[],
        $20::TEXT[])
        WITH ORDINALITY AS t(tenant, idempotency_key, name, pool, cpus, gpus, gpu_type, memory_mb, priority,
            time_limit_s, labels, command, payload, max_attempts, predicted_runtime_s, interval_lo_s,
            interval_hi_s, submitted_at_ms, actor_tenant, actor_role, ord)),
ins AS (
    INSERT INTO jobs (tenant, idempotency_key, name, pool, cpus, gpus, gpu_type, memory_mb, priority,
        time_limit_s, labels, command, payload, max_attempts, predicted_runtime_s, interval_lo_s, interval_hi_s,
        submitted_at_ms, state, attempts, not_before_ms, worker_id, lease_expires_at_ms, exit_code, error,
        started_at_ms, ended_at_ms)
    SELECT tenant, idempotency_key, name, pool, cpus, gpus, gpu_type, memory_mb, priority, time_limit_s, labels,
        command, payload, max_attempts, predicted_runtime_s, interval_lo_s, interval_hi_s, submitted_at_ms,
        'queued', 0, 0, '', 0, NULL, '', 0, 0
    FROM input ORDER BY ord
    ON CONFLICT (tenant, idempotency_key) DO NOTHING
    RETURNING id, tenant, idempotency_key),
made AS (
    SELECT ins.id, input.* FROM ins JOIN input
        ON input.tenant = ins.tenant AND input.idempotency_key = ins.idempotency_key),
ev AS (INSERT INTO events (job_id, tenant, kind, state, at_ms, detail)
    SELECT id, tenant, 'submitted', 'queued', submitted_at_ms, name FROM made ORDER BY id),
au AS (INSERT INTO audit (at_ms, tenant, role, action, job_id, detail)
    SELECT submitted_at_ms, actor_tenant, actor_role, 'submit', id, idempotency_key FROM made ORDER BY id)
SELECT id, tenant, idempotency_key FROM ins";
