-- Quota emails (issue 13): the address a user gave (optional), and the notices already
-- sent, one per kind and window period, so every instance sends each at most once.
ALTER TABLE users ADD COLUMN email TEXT;
CREATE TABLE quota_notices (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    period BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind, period)
);
