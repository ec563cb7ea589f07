-- The service processes (replicas) sharing this catalogue: each records that it lives every few
-- seconds. The jobs one runs are those whose lease it holds (jobs.lease_holder = replicas.id).
CREATE TABLE replicas (
    id         TEXT COLLATE "C" PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        BIGINT NOT NULL,
    version    TEXT NOT NULL,
    started_at TEXT COLLATE "C" NOT NULL,
    last_seen  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX jobs_by_lease_holder ON jobs (lease_holder) WHERE lease_holder IS NOT NULL;
