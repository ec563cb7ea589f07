-- Why the job's destination cannot copy from its source server-side, once a run found it
-- (NULL until then): resumes stream from the start instead of asking again.
ALTER TABLE jobs ADD COLUMN copy_source_unreachable TEXT;
