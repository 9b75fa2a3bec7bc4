-- The gallery (issue 13): full-text search over what each job was asked (a generated
-- tsvector with English stemming and a GIN index), and share links.
ALTER TABLE jobs ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('english', prompt || ' ' || enhanced_prompt)) STORED;
CREATE INDEX jobs_search ON jobs USING GIN (search);
CREATE INDEX images_by_user_id ON images (user_id, id);
-- A public, unguessable, revocable link to one image or to a thread's images.
CREATE TABLE shares (
    token TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    image_id BIGINT REFERENCES images (id) ON DELETE CASCADE,
    thread_id BIGINT REFERENCES threads (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX shares_by_image ON shares (image_id);
CREATE INDEX shares_by_thread ON shares (thread_id);
