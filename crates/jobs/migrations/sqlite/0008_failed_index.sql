-- Objects are looked up by state only to find a job's failed ones (`jobs show`, `jobs retry`):
-- index those alone. The index of every object's state cost an index write each time an
-- object was listed and two each time it finished, and ~59 bytes per object on disk.
DROP INDEX job_objects_by_state;
CREATE INDEX job_objects_failed ON job_objects (job_id, key) WHERE state = 'failed';
