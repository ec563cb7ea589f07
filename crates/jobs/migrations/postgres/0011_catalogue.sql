-- The catalogue in PostgreSQL: the schema SQLite's migrations 0001-0011 build, in one step
-- numbered as their last, so that a later change is migration 0012 in both folders. Written
-- to read and compare as SQLite's does:
-- * integers are BIGINT (SQLite's INTEGER is 64 bits), flags are 0 or 1, times are RFC 3339
--   text of one width (sqlx's Any driver reads these alike from both databases);
-- * ids, keys and times compare byte by byte (COLLATE "C", SQLite's BINARY): key order is
--   listing order whatever the database's locale, and a prefix is a range of the index;
-- * counters kept by triggers, as SQLite's are, but once per statement, over its transition
--   tables: a 500-row insert updates its job's row once, not 500 times (each update of a row
--   is a new version of it in PostgreSQL).

CREATE TABLE jobs (
    id                      TEXT COLLATE "C" PRIMARY KEY,
    user_name               TEXT COLLATE "C" NOT NULL,
    name                    TEXT,
    command                 TEXT NOT NULL,
    source                  TEXT COLLATE "C" NOT NULL,
    dest                    TEXT COLLATE "C" NOT NULL,
    spec                    TEXT NOT NULL,
    status                  TEXT NOT NULL,
    owner_pid               BIGINT,
    created_at              TEXT COLLATE "C" NOT NULL,
    started_at              TEXT COLLATE "C",
    finished_at             TEXT COLLATE "C",
    objects_copied          BIGINT NOT NULL DEFAULT 0,
    bytes_copied            BIGINT NOT NULL DEFAULT 0,
    objects_skipped         BIGINT NOT NULL DEFAULT 0,
    objects_failed          BIGINT NOT NULL DEFAULT 0,
    objects_mapped          BIGINT NOT NULL DEFAULT 0,
    owner_started           TEXT,
    objects_listed          BIGINT NOT NULL DEFAULT 0,
    bytes_listed            BIGINT NOT NULL DEFAULT 0,
    copy_source_unreachable TEXT,
    lease_holder            TEXT,
    lease_host              TEXT,
    lease_expires           TEXT COLLATE "C",
    requested               TEXT,
    error                   TEXT,
    error_kind              TEXT,
    bytes_staged            BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_status ON jobs (status);

CREATE TABLE job_objects (
    job_id     TEXT COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    key        TEXT COLLATE "C" NOT NULL,
    dest_key   TEXT,
    size       BIGINT,
    state      TEXT NOT NULL,
    error      TEXT,
    attempts   BIGINT NOT NULL DEFAULT 1,
    updated_at TEXT COLLATE "C" NOT NULL,
    meta       TEXT,
    staged_by  TEXT,
    PRIMARY KEY (job_id, key)
);
CREATE INDEX job_objects_failed ON job_objects (job_id, key) WHERE state = 'failed';

CREATE TABLE job_ranges (
    job_id     TEXT COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    range_id   BIGINT NOT NULL,
    after_key  TEXT COLLATE "C",
    before_key TEXT COLLATE "C",
    done       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, range_id)
);

CREATE TABLE job_uploads (
    job_id      TEXT COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    key         TEXT COLLATE "C" NOT NULL,
    dest_key    TEXT NOT NULL,
    upload_id   TEXT NOT NULL,
    part_size   BIGINT NOT NULL,
    source_size BIGINT NOT NULL,
    source_etag TEXT,
    PRIMARY KEY (job_id, key)
);

CREATE TABLE job_parts (
    job_id TEXT COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    key    TEXT COLLATE "C" NOT NULL,
    number BIGINT NOT NULL,
    handle TEXT NOT NULL,
    size   BIGINT,
    crc64  BIGINT,
    agent  TEXT COLLATE "C",
    PRIMARY KEY (job_id, key, number)
);

CREATE TABLE schedules (
    id                TEXT COLLATE "C" PRIMARY KEY,
    user_name         TEXT COLLATE "C" NOT NULL,
    name              TEXT,
    template          TEXT NOT NULL,
    every_secs        BIGINT,
    cron              TEXT,
    enabled           BIGINT NOT NULL DEFAULT 1,
    modified_since    TEXT COLLATE "C",
    overlap_secs      BIGINT NOT NULL,
    max_failures      BIGINT NOT NULL,
    failures_in_a_row BIGINT NOT NULL DEFAULT 0,
    watermark         TEXT COLLATE "C",
    next_run          TEXT COLLATE "C",
    disabled_reason   TEXT,
    created_at        TEXT COLLATE "C" NOT NULL
);
CREATE TABLE schedule_runs (
    schedule_id TEXT COLLATE "C" NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    job_id      TEXT COLLATE "C" NOT NULL,
    started_at  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (schedule_id, job_id)
);
CREATE INDEX schedule_runs_by_job ON schedule_runs (job_id);

CREATE TABLE job_runs (
    job_id           TEXT COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    number           BIGINT NOT NULL,
    started_by       TEXT NOT NULL,
    started_at       TEXT COLLATE "C" NOT NULL,
    finished_at      TEXT COLLATE "C",
    status           TEXT,
    error            TEXT,
    objects_at_start BIGINT NOT NULL DEFAULT 0,
    bytes_at_start   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, number)
);

-- A job's counters as its objects are written (SQLite's migration 0003): objects_listed /
-- bytes_listed count every object on record, objects_skipped both 'skipped' and 'kept'.
CREATE FUNCTION job_objects_counted_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs SET
        objects_listed  = jobs.objects_listed + n.listed,
        bytes_listed    = jobs.bytes_listed + n.bytes,
        objects_copied  = jobs.objects_copied + n.copied,
        bytes_copied    = jobs.bytes_copied + n.bytes_copied,
        objects_skipped = jobs.objects_skipped + n.skipped,
        objects_failed  = jobs.objects_failed + n.failed
    FROM (SELECT job_id,
                 COUNT(*) AS listed,
                 COALESCE(SUM(size), 0) AS bytes,
                 COUNT(*) FILTER (WHERE state = 'copied') AS copied,
                 COALESCE(SUM(size) FILTER (WHERE state = 'copied'), 0) AS bytes_copied,
                 COUNT(*) FILTER (WHERE state IN ('skipped', 'kept')) AS skipped,
                 COUNT(*) FILTER (WHERE state = 'failed') AS failed
          FROM inserted GROUP BY job_id) AS n
    WHERE jobs.id = n.job_id;
    RETURN NULL;
END $$;

CREATE TRIGGER job_objects_counted_on_insert AFTER INSERT ON job_objects
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION job_objects_counted_on_insert();

CREATE FUNCTION job_objects_counted_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs SET
        bytes_listed    = jobs.bytes_listed + d.bytes,
        objects_copied  = jobs.objects_copied + d.copied,
        bytes_copied    = jobs.bytes_copied + d.bytes_copied,
        objects_skipped = jobs.objects_skipped + d.skipped,
        objects_failed  = jobs.objects_failed + d.failed
    FROM (SELECT n.job_id,
                 SUM(COALESCE(n.size, 0) - COALESCE(o.size, 0)) AS bytes,
                 SUM((n.state = 'copied')::int - (o.state = 'copied')::int) AS copied,
                 SUM(CASE WHEN n.state = 'copied' THEN COALESCE(n.size, 0) ELSE 0 END
                   - CASE WHEN o.state = 'copied' THEN COALESCE(o.size, 0) ELSE 0 END)
                   AS bytes_copied,
                 SUM((n.state IN ('skipped', 'kept'))::int - (o.state IN ('skipped', 'kept'))::int)
                   AS skipped,
                 SUM((n.state = 'failed')::int - (o.state = 'failed')::int) AS failed
          FROM updated AS n JOIN before_update AS o ON o.job_id = n.job_id AND o.key = n.key
          GROUP BY n.job_id) AS d
    WHERE jobs.id = d.job_id;
    RETURN NULL;
END $$;

CREATE TRIGGER job_objects_counted_on_update AFTER UPDATE ON job_objects
    REFERENCING OLD TABLE AS before_update NEW TABLE AS updated
    FOR EACH STATEMENT EXECUTE FUNCTION job_objects_counted_on_update();

-- The bytes of blocks staged for objects not yet copied (SQLite's migration 0011).
CREATE FUNCTION job_parts_staged_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs SET bytes_staged = jobs.bytes_staged + n.bytes
    FROM (SELECT job_id, COALESCE(SUM(size), 0) AS bytes FROM inserted GROUP BY job_id) AS n
    WHERE jobs.id = n.job_id;
    RETURN NULL;
END $$;

CREATE TRIGGER job_parts_staged_on_insert AFTER INSERT ON job_parts
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION job_parts_staged_on_insert();

CREATE FUNCTION job_parts_staged_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs SET bytes_staged = jobs.bytes_staged + d.bytes
    FROM (SELECT n.job_id, SUM(COALESCE(n.size, 0) - COALESCE(o.size, 0)) AS bytes
          FROM updated AS n JOIN before_update AS o
            ON o.job_id = n.job_id AND o.key = n.key AND o.number = n.number
          GROUP BY n.job_id) AS d
    WHERE jobs.id = d.job_id;
    RETURN NULL;
END $$;

CREATE TRIGGER job_parts_staged_on_update AFTER UPDATE ON job_parts
    REFERENCING OLD TABLE AS before_update NEW TABLE AS updated
    FOR EACH STATEMENT EXECUTE FUNCTION job_parts_staged_on_update();

CREATE FUNCTION job_parts_staged_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs SET bytes_staged = jobs.bytes_staged - d.bytes
    FROM (SELECT job_id, COALESCE(SUM(size), 0) AS bytes FROM deleted GROUP BY job_id) AS d
    WHERE jobs.id = d.job_id;
    RETURN NULL;
END $$;

CREATE TRIGGER job_parts_staged_on_delete AFTER DELETE ON job_parts
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION job_parts_staged_on_delete();
