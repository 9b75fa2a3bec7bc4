-- A stored message advances its thread itself, so that storing one is a single statement
-- (`INSERT … SELECT last_seq + 1 FROM threads …`, see `store::messages`): one round trip to
-- SQLite's worker thread instead of four (BEGIN, UPDATE, INSERT, COMMIT). SQLite has one
-- writer at a time, so two inserts never read the same last_seq. Inserts that took their
-- number by `UPDATE … RETURNING` first set the same value again.
CREATE TRIGGER messages_advance_thread AFTER INSERT ON messages
BEGIN
    UPDATE threads SET last_seq = NEW.seq, updated_at = NEW.created_at WHERE id = NEW.thread_id;
END;
