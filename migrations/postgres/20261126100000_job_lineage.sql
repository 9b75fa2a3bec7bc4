-- A refinement records the job whose image it changes, so a thread can show the lineage.
ALTER TABLE jobs ADD COLUMN refines_job_id BIGINT REFERENCES jobs (id) ON DELETE SET NULL;
