-- A user's message is answered once. `reply_claimed_at`: since when a request has been
-- answering it (set when it is stored); `answered_at`: when the answer was given (a reply, a
-- job, a refusal, or nothing to say). A message left unanswered with a stale claim (its
-- process died, or the answer failed) is answered by the next resend or by the sweep.
ALTER TABLE messages ADD COLUMN reply_claimed_at BIGINT;
ALTER TABLE messages ADD COLUMN answered_at BIGINT;
UPDATE messages SET answered_at = created_at;
CREATE INDEX messages_unanswered ON messages (created_at) WHERE answered_at IS NULL;
