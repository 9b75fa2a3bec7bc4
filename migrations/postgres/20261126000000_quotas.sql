-- Quotas: each account has a tier (free or premium) and may be marked as a test account;
-- a job counts against its user's windows from counted_at (NULL when it was refunded:
-- cancelled before the provider was called, failed, or blocked), and an exempt job (made by
-- an admin or a test account) can be left out of the admin's spend totals.
ALTER TABLE users ADD COLUMN tier TEXT NOT NULL DEFAULT 'free';
ALTER TABLE users ADD COLUMN test_account BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN counted_at BIGINT;
ALTER TABLE jobs ADD COLUMN exempt BIGINT NOT NULL DEFAULT 0;
UPDATE jobs SET counted_at = created_at WHERE status = 'complete';
CREATE INDEX jobs_by_user_counted ON jobs (user_id, counted_at);
CREATE INDEX jobs_by_counted ON jobs (counted_at);
