-- A job's counters kept up to date by triggers as its objects are written: one small update
-- per object written, where recounting all of a job's objects every few seconds cost a scan
-- that grew with the job (16 ms at 100,000 objects, every 2 s, and linear in the count).
-- objects_listed / bytes_listed count every object on record, whatever its state;
-- objects_skipped counts both 'skipped' (filters, policies) and 'kept' (already there).
-- Objects are only ever deleted with their job, so deletes need no trigger.

UPDATE jobs SET
    objects_listed  = (SELECT COUNT(*) FROM job_objects o WHERE o.job_id = jobs.id),
    bytes_listed    = (SELECT COALESCE(SUM(size), 0) FROM job_objects o WHERE o.job_id = jobs.id),
    objects_copied  = (SELECT COUNT(*) FROM job_objects o
                       WHERE o.job_id = jobs.id AND o.state = 'copied'),
    bytes_copied    = (SELECT COALESCE(SUM(size), 0) FROM job_objects o
                       WHERE o.job_id = jobs.id AND o.state = 'copied'),
    objects_skipped = (SELECT COUNT(*) FROM job_objects o
                       WHERE o.job_id = jobs.id AND o.state IN ('skipped', 'kept')),
    objects_failed  = (SELECT COUNT(*) FROM job_objects o
                       WHERE o.job_id = jobs.id AND o.state = 'failed');

CREATE TRIGGER job_objects_counted_on_insert AFTER INSERT ON job_objects BEGIN
    UPDATE jobs SET
        objects_listed  = objects_listed + 1,
        bytes_listed    = bytes_listed + COALESCE(NEW.size, 0),
        objects_copied  = objects_copied + (NEW.state = 'copied'),
        bytes_copied    = bytes_copied + (NEW.state = 'copied') * COALESCE(NEW.size, 0),
        objects_skipped = objects_skipped + (NEW.state IN ('skipped', 'kept')),
        objects_failed  = objects_failed + (NEW.state = 'failed')
    WHERE id = NEW.job_id;
END;

CREATE TRIGGER job_objects_counted_on_update AFTER UPDATE OF state, size ON job_objects BEGIN
    UPDATE jobs SET
        bytes_listed    = bytes_listed + COALESCE(NEW.size, 0) - COALESCE(OLD.size, 0),
        objects_copied  = objects_copied + (NEW.state = 'copied') - (OLD.state = 'copied'),
        bytes_copied    = bytes_copied + (NEW.state = 'copied') * COALESCE(NEW.size, 0)
                                       - (OLD.state = 'copied') * COALESCE(OLD.size, 0),
        objects_skipped = objects_skipped + (NEW.state IN ('skipped', 'kept'))
                                          - (OLD.state IN ('skipped', 'kept')),
        objects_failed  = objects_failed + (NEW.state = 'failed') - (OLD.state = 'failed')
    WHERE id = NEW.job_id;
END;
