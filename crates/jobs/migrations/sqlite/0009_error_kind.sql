-- The class of the error that stopped a job's last run (`not-found`, `auth`, ...), beside its
-- message: a client of the service exits with the code a local run gives for the same cause.
ALTER TABLE jobs ADD COLUMN error_kind TEXT;
