-- What a deleted thread's jobs counted and cost is kept when the thread goes, so spend, the
-- alert and quota reseeding stay true. `job_ledger` is every job's accounting, live or deleted,
-- and what the spend and quota queries read.
CREATE TABLE deleted_jobs (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    counted_at BIGINT,
    cost_usd_micros BIGINT,
    exempt BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX deleted_jobs_by_user_counted ON deleted_jobs (user_id, counted_at);
CREATE INDEX deleted_jobs_by_counted ON deleted_jobs (counted_at);
CREATE VIEW job_ledger AS
    SELECT id, user_id, counted_at, cost_usd_micros, exempt FROM jobs
    UNION ALL
    SELECT id, user_id, counted_at, cost_usd_micros, exempt FROM deleted_jobs;
