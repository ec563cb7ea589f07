-- The service processes (replicas) sharing this catalogue: each records that it lives every few
-- seconds. The jobs one runs are those whose lease it holds (jobs.lease_holder = replicas.id).
CREATE TABLE replicas (
    id         TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    version    TEXT NOT NULL,
    started_at TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);
CREATE INDEX jobs_by_lease_holder ON jobs (lease_holder) WHERE lease_holder IS NOT NULL;
