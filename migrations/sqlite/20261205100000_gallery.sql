-- The gallery (issue 13): full-text search over what each job was asked (FTS5, English
-- stemming, kept in step with `jobs` by triggers), and share links.
CREATE VIRTUAL TABLE jobs_search USING fts5(
    prompt, enhanced_prompt, content = 'jobs', content_rowid = 'id', tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO jobs_search (rowid, prompt, enhanced_prompt) SELECT id, prompt, enhanced_prompt FROM jobs;
CREATE TRIGGER jobs_search_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO jobs_search (rowid, prompt, enhanced_prompt) VALUES (new.id, new.prompt, new.enhanced_prompt);
END;
CREATE TRIGGER jobs_search_delete AFTER DELETE ON jobs BEGIN
    INSERT INTO jobs_search (jobs_search, rowid, prompt, enhanced_prompt) VALUES ('delete', old.id, old.prompt, old.enhanced_prompt);
END;
CREATE TRIGGER jobs_search_update AFTER UPDATE OF prompt, enhanced_prompt ON jobs BEGIN
    INSERT INTO jobs_search (jobs_search, rowid, prompt, enhanced_prompt) VALUES ('delete', old.id, old.prompt, old.enhanced_prompt);
    INSERT INTO jobs_search (rowid, prompt, enhanced_prompt) VALUES (new.id, new.prompt, new.enhanced_prompt);
END;
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
