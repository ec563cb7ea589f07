-- Replications: continuous copies driven by the clouds' change events (S3 -> SQS, Azure Event
-- Grid -> Storage Queue). A replication reads its queue while it is on, on the one service
-- replica holding its lease; its counters are the sums of the rounds it recorded; its
-- reconcile run is a schedule (schedule_id) syncing the same source to the same destination.
CREATE TABLE replications (
    id              TEXT COLLATE "C" PRIMARY KEY,
    user_name       TEXT COLLATE "C" NOT NULL,
    name            TEXT COLLATE "C",
    spec            TEXT COLLATE "C" NOT NULL,
    queue           TEXT COLLATE "C" NOT NULL,
    deletions       BIGINT NOT NULL DEFAULT 0,
    enabled         BIGINT NOT NULL DEFAULT 1,
    reconcile_secs  BIGINT NOT NULL,
    schedule_id     TEXT COLLATE "C",
    created_at      TEXT COLLATE "C" NOT NULL,
    events_received BIGINT NOT NULL DEFAULT 0,
    events_applied  BIGINT NOT NULL DEFAULT 0,
    events_ignored  BIGINT NOT NULL DEFAULT 0,
    events_failed   BIGINT NOT NULL DEFAULT 0,
    objects_copied  BIGINT NOT NULL DEFAULT 0,
    bytes_copied    BIGINT NOT NULL DEFAULT 0,
    objects_deleted BIGINT NOT NULL DEFAULT 0,
    pending_since   TEXT COLLATE "C",
    last_applied_at TEXT COLLATE "C",
    queue_depth     BIGINT,
    error           TEXT COLLATE "C",
    lease_holder    TEXT COLLATE "C",
    lease_host      TEXT COLLATE "C",
    lease_pid       BIGINT,
    lease_started   TEXT COLLATE "C",
    lease_expires   TEXT COLLATE "C"
);
-- What a replication wrote at its destination, by source key: the source's ETag it copied (a
-- source with another is new) and the destination's it wrote (a deletion at the source deletes
-- the destination object only while it is still this one).
CREATE TABLE replication_objects (
    replication_id TEXT COLLATE "C" NOT NULL,
    key            TEXT COLLATE "C" NOT NULL,
    source_etag    TEXT COLLATE "C",
    dest_etag      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (replication_id, key)
);
-- Changes a replication gave up on (after the queue delivered them too many times), and
-- messages it could not read: the replication's dead letters.
CREATE TABLE replication_failures (
    replication_id TEXT COLLATE "C" NOT NULL,
    key            TEXT COLLATE "C" NOT NULL,
    error          TEXT COLLATE "C" NOT NULL,
    updated_at     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (replication_id, key)
);
