-- Why a job's last run failed, when it did (one line, secret-free).
ALTER TABLE jobs ADD COLUMN error TEXT;

-- Schedules: a job template run every so often (or by a cron expression), on or off, each run
-- copying what changed since the previous successful run began (less an overlap). A run is a
-- normal job, linked to its schedule in schedule_runs.
CREATE TABLE schedules (
    id                   TEXT PRIMARY KEY,
    user_name            TEXT NOT NULL,
    name                 TEXT,
    template             TEXT NOT NULL,
    every_secs           INTEGER,
    cron                 TEXT,
    enabled              INTEGER NOT NULL DEFAULT 1,
    modified_since       TEXT,
    overlap_secs         INTEGER NOT NULL,
    max_failures         INTEGER NOT NULL,
    failures_in_a_row    INTEGER NOT NULL DEFAULT 0,
    watermark            TEXT,
    next_run             TEXT,
    disabled_reason      TEXT,
    created_at           TEXT NOT NULL
);
CREATE TABLE schedule_runs (
    schedule_id TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    job_id      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    PRIMARY KEY (schedule_id, job_id)
);
CREATE INDEX schedule_runs_by_job ON schedule_runs (job_id);
