-- Creative controls (issue 13). A job records what it was asked to make (`params`, the
-- composer row's settings resolved, as JSON) and how many images it counts against the
-- windows; its images point back at it in order, so one request can make several.
ALTER TABLE jobs ADD COLUMN params TEXT;
ALTER TABLE jobs ADD COLUMN image_count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE images ADD COLUMN job_id BIGINT REFERENCES jobs (id) ON DELETE SET NULL;
ALTER TABLE images ADD COLUMN ordinal BIGINT NOT NULL DEFAULT 0;
UPDATE images SET job_id = (SELECT j.id FROM jobs j WHERE j.image_id = images.id);
CREATE INDEX images_by_job ON images (job_id, ordinal);
ALTER TABLE deleted_jobs ADD COLUMN image_count BIGINT NOT NULL DEFAULT 1;
DROP VIEW job_ledger;
CREATE VIEW job_ledger AS
    SELECT id, user_id, counted_at, cost_usd_micros, exempt, image_count FROM jobs
    UNION ALL
    SELECT id, user_id, counted_at, cost_usd_micros, exempt, image_count FROM deleted_jobs;
-- The row's settings a message was sent with, for the answer given later (a chat model's
-- turn, a resend whose first answer was lost).
ALTER TABLE messages ADD COLUMN options TEXT;
-- A user's defaults (the settings page).
ALTER TABLE users ADD COLUMN pref_aspect TEXT NOT NULL DEFAULT 'square';
ALTER TABLE users ADD COLUMN pref_quality TEXT;
