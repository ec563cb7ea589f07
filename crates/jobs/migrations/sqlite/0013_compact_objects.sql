-- A job's objects in little more than their key and outcome (was ~270 bytes an object at a
-- million objects, most of it repeated in every row):
-- * a row names its job by the job's number, a small integer, not by its 36-character id;
-- * the tables are their primary keys' indexes (WITHOUT ROWID): a key is stored once, not once
--   in the table and again in its index;
-- * an object listed and not done yet is a row of job_listing_entries (its size and listing
--   entry, what a resumed run copies it from), deleted once the object is copied or left as it
--   was; job_objects holds an object's outcome, written once: a row that was written listed,
--   then rewritten smaller without its entry, had left three quarters of its page empty;
-- * a failure's message, attempts and time are in job_failures, a row only for an object that
--   failed (every row carried a 24-character time; a copied object needs none);
-- * the destination's key is not kept: nothing read it, and the job's source and destination
--   give it again;
-- * no foreign keys on these three tables: a check for each row written (a look into jobs,
--   two thirds of an insert's cost in PostgreSQL) for what only the deletion of a job needs,
--   which deletes their rows itself.

-- Jobs are numbered in the order they are created; the number is never shown.
ALTER TABLE jobs ADD COLUMN number INTEGER;
UPDATE jobs SET number = rowid;
CREATE UNIQUE INDEX jobs_by_number ON jobs (number);
CREATE TRIGGER jobs_numbered AFTER INSERT ON jobs WHEN NEW.number IS NULL BEGIN
    UPDATE jobs SET number = (SELECT COALESCE(MAX(number), 0) + 1 FROM jobs) WHERE id = NEW.id;
END;

-- Each object's latest outcome: copied, kept, skipped, failed; or listed again (a failed
-- object queued by `jobs retry`).
CREATE TABLE objects (
    job_number INTEGER NOT NULL,
    key        TEXT NOT NULL,
    size       INTEGER,
    state      TEXT NOT NULL,
    staged_by  TEXT,
    PRIMARY KEY (job_number, key)
) WITHOUT ROWID;
INSERT INTO objects (job_number, key, size, state, staged_by)
    SELECT j.number, o.key, o.size, o.state, o.staged_by
    FROM job_objects o JOIN jobs j ON j.id = o.job_id WHERE o.state <> 'listed';

-- Objects listed and not copied or left yet, or failed (a retry copies them from here).
-- Keyed by key first: entries are deleted by the hundred, named by key, and a planner reads
-- `key IN (...)` on the leading column as one probe per key, where after (job, key) it may
-- walk all the job's entries, those deleted but not vacuumed yet among them (PostgreSQL did:
-- 126 us per entry deleted at 300,000 objects).
CREATE TABLE job_listing_entries (
    key        TEXT NOT NULL,
    job_number INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    meta       TEXT,
    PRIMARY KEY (key, job_number)
) WITHOUT ROWID;
INSERT INTO job_listing_entries (key, job_number, size, meta)
    SELECT o.key, j.number, COALESCE(o.size, 0), o.meta
    FROM job_objects o JOIN jobs j ON j.id = o.job_id
    WHERE o.state = 'listed' OR o.meta IS NOT NULL;

-- Every object that ever failed (a failure stays on record once its retry copies it; the
-- object's state says whether it is failed now).
CREATE TABLE job_failures (
    job_number INTEGER NOT NULL,
    key        TEXT NOT NULL,
    error      TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (job_number, key)
) WITHOUT ROWID;
INSERT INTO job_failures (job_number, key, error, attempts, updated_at)
    SELECT j.number, o.key, COALESCE(o.error, ''), o.attempts, o.updated_at
    FROM job_objects o JOIN jobs j ON j.id = o.job_id WHERE o.state = 'failed';

-- With it go its index of failed objects and its triggers; the counters they kept are in jobs.
DROP TABLE job_objects;
ALTER TABLE objects RENAME TO job_objects;

-- The counters, kept as the objects are written: an object is listed once, when its entry or
-- (for one never listed: a single object, a retry's) its first outcome is written.
CREATE TRIGGER job_listing_entries_counted AFTER INSERT ON job_listing_entries BEGIN
    UPDATE jobs SET
        objects_listed = objects_listed + 1,
        bytes_listed   = bytes_listed + NEW.size
    WHERE number = NEW.job_number;
END;

CREATE TRIGGER job_objects_counted_on_insert AFTER INSERT ON job_objects BEGIN
    UPDATE jobs SET
        objects_copied  = objects_copied + (NEW.state = 'copied'),
        bytes_copied    = bytes_copied + (NEW.state = 'copied') * COALESCE(NEW.size, 0),
        objects_skipped = objects_skipped + (NEW.state IN ('skipped', 'kept')),
        objects_failed  = objects_failed + (NEW.state = 'failed')
    WHERE number = NEW.job_number;
END;

CREATE TRIGGER job_objects_listed_on_insert AFTER INSERT ON job_objects
WHEN NOT EXISTS (SELECT 1 FROM job_listing_entries e
                 WHERE e.key = NEW.key AND e.job_number = NEW.job_number) BEGIN
    UPDATE jobs SET
        objects_listed = objects_listed + 1,
        bytes_listed   = bytes_listed + COALESCE(NEW.size, 0)
    WHERE number = NEW.job_number;
END;

CREATE TRIGGER job_objects_counted_on_update AFTER UPDATE OF state, size ON job_objects BEGIN
    UPDATE jobs SET
        objects_copied  = objects_copied + (NEW.state = 'copied') - (OLD.state = 'copied'),
        bytes_copied    = bytes_copied + (NEW.state = 'copied') * COALESCE(NEW.size, 0)
                                       - (OLD.state = 'copied') * COALESCE(OLD.size, 0),
        objects_skipped = objects_skipped + (NEW.state IN ('skipped', 'kept'))
                                          - (OLD.state IN ('skipped', 'kept')),
        objects_failed  = objects_failed + (NEW.state = 'failed') - (OLD.state = 'failed')
    WHERE number = NEW.job_number;
END;
