-- A job is owned by a lease: its holder (one id per process), the host it runs on and when the
-- lease ends unless renewed (owner_pid / owner_started stay: on its own host a lease whose
-- process is gone is void at once). `requested` is how another process asks the holder to
-- stop: 'pause' or 'cancel'; the holder polls it.
ALTER TABLE jobs ADD COLUMN lease_holder TEXT;
ALTER TABLE jobs ADD COLUMN lease_host TEXT;
ALTER TABLE jobs ADD COLUMN lease_expires TEXT;
ALTER TABLE jobs ADD COLUMN requested TEXT;
