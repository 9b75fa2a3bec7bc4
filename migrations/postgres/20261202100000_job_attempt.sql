-- Which attempt of a job its runner owns: Retry starts the next one, and a runner writes its
-- job's row only while the row is still at its attempt and running, so a stale runner (a
-- partitioned instance whose job was closed and retried elsewhere) cannot overwrite it.
ALTER TABLE jobs ADD COLUMN attempt BIGINT NOT NULL DEFAULT 1;
