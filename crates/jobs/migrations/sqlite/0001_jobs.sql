-- Portable SQL (SQLite today, PostgreSQL later): text ids and times, integer counters.
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL,
    name        TEXT,
    command     TEXT NOT NULL,
    source      TEXT NOT NULL,
    dest        TEXT NOT NULL,
    spec        TEXT NOT NULL,
    status      TEXT NOT NULL,
    owner_pid   INTEGER,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    objects_copied  INTEGER NOT NULL DEFAULT 0,
    bytes_copied    INTEGER NOT NULL DEFAULT 0,
    objects_skipped INTEGER NOT NULL DEFAULT 0,
    objects_failed  INTEGER NOT NULL DEFAULT 0,
    objects_mapped  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_status ON jobs (status);

-- The latest outcome of each object of a job.
CREATE TABLE job_objects (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    dest_key    TEXT,
    size        INTEGER,
    state       TEXT NOT NULL,
    error       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 1,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (job_id, key)
);
CREATE INDEX job_objects_by_state ON job_objects (job_id, state);
