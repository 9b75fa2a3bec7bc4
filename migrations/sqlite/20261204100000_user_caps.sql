-- Per-user caps (D2): what each image keeps on disk, summed per user for the storage cap,
-- and the indexes that make the caps' counts cheap.
ALTER TABLE images ADD COLUMN stored_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE images SET stored_bytes = (SELECT COALESCE(SUM(length(bytes)), 0) FROM image_variants WHERE image_id = images.id);
CREATE INDEX images_by_user ON images (user_id);
CREATE INDEX messages_by_user_created ON messages (user_id, created_at);
-- Messages a user sent on one UTC day (`messages_day`, days since 1970): counted when sent,
-- so deleting threads does not give the day's allowance back.
ALTER TABLE users ADD COLUMN messages_day BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN messages_today BIGINT NOT NULL DEFAULT 0;
