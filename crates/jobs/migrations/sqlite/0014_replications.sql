-- Replications: continuous copies driven by the clouds' change events (S3 -> SQS, Azure Event
-- Grid -> Storage Queue). A replication reads its queue while it is on, on the one service
-- replica holding its lease; its counters are the sums of the rounds it recorded; its
-- reconcile run is a schedule (schedule_id) syncing the same source to the same destination.
CREATE TABLE replications (
    id              TEXT PRIMARY KEY,
    user_name       TEXT NOT NULL,
    name            TEXT,
    spec            TEXT NOT NULL,
    queue           TEXT NOT NULL,
    deletions       INTEGER NOT NULL DEFAULT 0,
    enabled         INTEGER NOT NULL DEFAULT 1,
    reconcile_secs  INTEGER NOT NULL,
    schedule_id     TEXT,
    created_at      TEXT NOT NULL,
    events_received INTEGER NOT NULL DEFAULT 0,
    events_applied  INTEGER NOT NULL DEFAULT 0,
    events_ignored  INTEGER NOT NULL DEFAULT 0,
    events_failed   INTEGER NOT NULL DEFAULT 0,
    objects_copied  INTEGER NOT NULL DEFAULT 0,
    bytes_copied    INTEGER NOT NULL DEFAULT 0,
    objects_deleted INTEGER NOT NULL DEFAULT 0,
    pending_since   TEXT,
    last_applied_at TEXT,
    queue_depth     INTEGER,
    error           TEXT,
    lease_holder    TEXT,
    lease_host      TEXT,
    lease_pid       INTEGER,
    lease_started   TEXT,
    lease_expires   TEXT
);
-- What a replication wrote at its destination, by source key: the source's ETag it copied (a
-- source with another is new) and the destination's it wrote (a deletion at the source deletes
-- the destination object only while it is still this one).
CREATE TABLE replication_objects (
    replication_id TEXT NOT NULL,
    key            TEXT NOT NULL,
    source_etag    TEXT,
    dest_etag      TEXT NOT NULL,
    PRIMARY KEY (replication_id, key)
) WITHOUT ROWID;
-- Changes a replication gave up on (after the queue delivered them too many times), and
-- messages it could not read: the replication's dead letters.
CREATE TABLE replication_failures (
    replication_id TEXT NOT NULL,
    key            TEXT NOT NULL,
    error          TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (replication_id, key)
) WITHOUT ROWID;
