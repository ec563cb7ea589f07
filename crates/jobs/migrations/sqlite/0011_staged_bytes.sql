-- The bytes of blocks staged for objects not yet copied, kept by triggers as parts are
-- recorded and deleted (an object's parts go in the transaction that records it copied, or
-- when its upload is given up): a job's bytes done are its copied objects' and these, as a
-- running copy counts them, so a paused job does not seem to lose what it staged.
ALTER TABLE jobs ADD COLUMN bytes_staged INTEGER NOT NULL DEFAULT 0;

UPDATE jobs SET bytes_staged =
    (SELECT COALESCE(SUM(size), 0) FROM job_parts p WHERE p.job_id = jobs.id);

CREATE TRIGGER job_parts_staged_on_insert AFTER INSERT ON job_parts BEGIN
    UPDATE jobs SET bytes_staged = bytes_staged + COALESCE(NEW.size, 0) WHERE id = NEW.job_id;
END;

CREATE TRIGGER job_parts_staged_on_update AFTER UPDATE OF size ON job_parts BEGIN
    UPDATE jobs SET bytes_staged = bytes_staged + COALESCE(NEW.size, 0) - COALESCE(OLD.size, 0)
    WHERE id = NEW.job_id;
END;

CREATE TRIGGER job_parts_staged_on_delete AFTER DELETE ON job_parts BEGIN
    UPDATE jobs SET bytes_staged = bytes_staged - COALESCE(OLD.size, 0) WHERE id = OLD.job_id;
END;
