-- Image jobs and stored images. Image bytes live in image_variants as raw bytes (never base64):
-- 'full' is the provider's PNG, '256' / '512' / '1024' are WebP variants for srcset.
CREATE TABLE images (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE image_variants (
    image_id BIGINT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    variant TEXT NOT NULL,
    mime TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (image_id, variant)
);

CREATE TABLE jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    thread_id BIGINT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    stage TEXT NOT NULL,
    prompt TEXT NOT NULL,
    enhanced_prompt TEXT NOT NULL,
    revised_prompt TEXT,
    subject TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    error_message TEXT,
    retryable BIGINT NOT NULL DEFAULT 0,
    image_id BIGINT REFERENCES images (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_by_status ON jobs (status);
CREATE INDEX jobs_by_thread ON jobs (thread_id);
