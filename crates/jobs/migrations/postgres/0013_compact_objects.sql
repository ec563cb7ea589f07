-- A job's objects in little more than their key and outcome: SQLite's migration 0013, whose
-- comments say why. Here it also means each object's row is written once: an object listed is
-- a row of job_listing_entries, deleted when its outcome is written to job_objects (a row
-- written listed, then updated, was two versions of it in the table and in its key's index
-- until a vacuum: 510 bytes an object at a million objects).

-- Jobs are numbered in the order they are created; the number is never shown.
ALTER TABLE jobs ADD COLUMN number BIGSERIAL UNIQUE;

-- Each object's latest outcome: copied, kept, skipped, failed; or listed again (a failed
-- object queued by `jobs retry`).
CREATE TABLE objects (
    job_number BIGINT NOT NULL,
    size       BIGINT,
    key        TEXT COLLATE "C" NOT NULL,
    state      TEXT NOT NULL,
    staged_by  TEXT,
    PRIMARY KEY (job_number, key)
);
INSERT INTO objects (job_number, size, key, state, staged_by)
    SELECT j.number, o.size, o.key, o.state, o.staged_by
    FROM job_objects o JOIN jobs j ON j.id = o.job_id WHERE o.state <> 'listed';

-- Objects listed and not copied or left yet, or failed (a retry copies them from here); keyed
-- by key first (see SQLite's 0013).
CREATE TABLE job_listing_entries (
    job_number BIGINT NOT NULL,
    size       BIGINT NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    meta       TEXT,
    PRIMARY KEY (key, job_number)
);
-- Rows come and go by the hundred thousand: vacuumed after every 10,000 gone, not after a fifth
-- of the table (the default), so the space of those gone is soon used again.
ALTER TABLE job_listing_entries SET (autovacuum_vacuum_scale_factor = 0,
                                     autovacuum_vacuum_threshold = 10000);
INSERT INTO job_listing_entries (job_number, size, key, meta)
    SELECT j.number, COALESCE(o.size, 0), o.key, o.meta
    FROM job_objects o JOIN jobs j ON j.id = o.job_id
    WHERE o.state = 'listed' OR o.meta IS NOT NULL;

-- Every object that ever failed (a failure stays on record once its retry copies it; the
-- object's state says whether it is failed now).
CREATE TABLE job_failures (
    job_number BIGINT NOT NULL,
    attempts   BIGINT NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    error      TEXT NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (job_number, key)
);
INSERT INTO job_failures (job_number, attempts, key, error, updated_at)
    SELECT j.number, o.attempts, o.key, COALESCE(o.error, ''), o.updated_at
    FROM job_objects o JOIN jobs j ON j.id = o.job_id WHERE o.state = 'failed';

-- With it go its index of failed objects and its triggers; the counters they kept are in jobs.
DROP TABLE job_objects;
ALTER TABLE objects RENAME TO job_objects;
ALTER TABLE job_objects RENAME CONSTRAINT objects_pkey TO job_objects_pkey;

-- The counters, kept as the objects are written: an object is listed once, when its entry or
-- (for one never listed: a single object, a retry's) its first outcome is written.
CREATE FUNCTION job_listing_entries_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs SET
        objects_listed = jobs.objects_listed + n.listed,
        bytes_listed   = jobs.bytes_listed + n.bytes
    FROM (SELECT job_number, COUNT(*) AS listed, SUM(size) AS bytes
          FROM inserted GROUP BY job_number) AS n
    WHERE jobs.number = n.job_number;
    RETURN NULL;
END $$;

CREATE TRIGGER job_listing_entries_counted AFTER INSERT ON job_listing_entries
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION job_listing_entries_counted();

CREATE OR REPLACE FUNCTION job_objects_counted_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs SET
        objects_listed  = jobs.objects_listed + n.listed,
        bytes_listed    = jobs.bytes_listed + n.bytes,
        objects_copied  = jobs.objects_copied + n.copied,
        bytes_copied    = jobs.bytes_copied + n.bytes_copied,
        objects_skipped = jobs.objects_skipped + n.skipped,
        objects_failed  = jobs.objects_failed + n.failed
    FROM (SELECT job_number,
                 COUNT(*) FILTER (WHERE unlisted) AS listed,
                 COALESCE(SUM(size) FILTER (WHERE unlisted), 0) AS bytes,
                 COUNT(*) FILTER (WHERE state = 'copied') AS copied,
                 COALESCE(SUM(size) FILTER (WHERE state = 'copied'), 0) AS bytes_copied,
                 COUNT(*) FILTER (WHERE state IN ('skipped', 'kept')) AS skipped,
                 COUNT(*) FILTER (WHERE state = 'failed') AS failed
          -- One look into the entries' key for each row (a LIMIT keeps the planner from
          -- hashing the whole table of entries instead, dead rows and all, per statement).
          FROM (SELECT i.*, (SELECT 1 FROM job_listing_entries e
                             WHERE e.key = i.key AND e.job_number = i.job_number LIMIT 1)
                            IS NULL AS unlisted
                FROM inserted i) AS i
          GROUP BY job_number) AS n
    WHERE jobs.number = n.job_number;
    RETURN NULL;
END $$;

CREATE TRIGGER job_objects_counted_on_insert AFTER INSERT ON job_objects
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION job_objects_counted_on_insert();

CREATE OR REPLACE FUNCTION job_objects_counted_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs SET
        objects_copied  = jobs.objects_copied + d.copied,
        bytes_copied    = jobs.bytes_copied + d.bytes_copied,
        objects_skipped = jobs.objects_skipped + d.skipped,
        objects_failed  = jobs.objects_failed + d.failed
    FROM (SELECT n.job_number,
                 SUM((n.state = 'copied')::int - (o.state = 'copied')::int) AS copied,
                 SUM(CASE WHEN n.state = 'copied' THEN COALESCE(n.size, 0) ELSE 0 END
                   - CASE WHEN o.state = 'copied' THEN COALESCE(o.size, 0) ELSE 0 END)
                   AS bytes_copied,
                 SUM((n.state IN ('skipped', 'kept'))::int - (o.state IN ('skipped', 'kept'))::int)
                   AS skipped,
                 SUM((n.state = 'failed')::int - (o.state = 'failed')::int) AS failed
          FROM updated AS n JOIN before_update AS o
            ON o.job_number = n.job_number AND o.key = n.key
          GROUP BY n.job_number) AS d
    WHERE jobs.number = d.job_number;
    RETURN NULL;
END $$;

CREATE TRIGGER job_objects_counted_on_update AFTER UPDATE ON job_objects
    REFERENCING OLD TABLE AS before_update NEW TABLE AS updated
    FOR EACH STATEMENT EXECUTE FUNCTION job_objects_counted_on_update();
