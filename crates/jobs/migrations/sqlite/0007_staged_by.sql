-- Which agent staged each part (NULL: the job's own process), and, once an object made of
-- parts is copied, the agents that staged them (comma-separated, in name order), kept after
-- its part rows are dropped.
ALTER TABLE job_parts ADD COLUMN agent TEXT;
ALTER TABLE job_objects ADD COLUMN staged_by TEXT;
