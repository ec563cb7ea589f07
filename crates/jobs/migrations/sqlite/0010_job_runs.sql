-- Every run of a job (its submission or a schedule's run, each resume, each retry): what
-- started it, when it started and ended, how it ended and why, and the job's copied counters
-- when it started (a run copied what the next run's, or the job's, counters add to them).
-- `jobs.started_at` stays the first run's start.
CREATE TABLE job_runs (
    job_id           TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    number           INTEGER NOT NULL,
    started_by       TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    status           TEXT,
    error            TEXT,
    objects_at_start INTEGER NOT NULL DEFAULT 0,
    bytes_at_start   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, number)
);

-- Jobs recorded before: one run each, from their last start (the earlier ones were not kept).
INSERT INTO job_runs (job_id, number, started_by, started_at, finished_at, status, error)
SELECT id, 1, 'submit', COALESCE(started_at, created_at), finished_at,
       CASE WHEN status = 'running' THEN NULL ELSE status END, error
FROM jobs;
