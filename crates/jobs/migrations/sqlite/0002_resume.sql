-- What a resumed job needs: listing ranges, listed objects' metadata, uploads and their parts;
-- and the owner's start time, to tell a live owner from a reused process id.
ALTER TABLE jobs ADD COLUMN owner_started TEXT;
ALTER TABLE jobs ADD COLUMN objects_listed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN bytes_listed INTEGER NOT NULL DEFAULT 0;

-- The listing entry of an object not finished yet (state 'listed'), as JSON.
ALTER TABLE job_objects ADD COLUMN meta TEXT;

-- Key ranges of the source listing: listed up to after_key; keys from before_key on belong
-- to another range.
CREATE TABLE job_ranges (
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    range_id   INTEGER NOT NULL,
    after_key  TEXT,
    before_key TEXT,
    done       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, range_id)
);

-- Block / multipart uploads in progress, by source key.
CREATE TABLE job_uploads (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    dest_key    TEXT NOT NULL,
    upload_id   TEXT NOT NULL,
    part_size   INTEGER NOT NULL,
    source_size INTEGER NOT NULL,
    source_etag TEXT,
    PRIMARY KEY (job_id, key)
);

-- Their staged parts; crc64 is the CRC-64/NVME bit pattern as a signed 64-bit integer.
CREATE TABLE job_parts (
    job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    number  INTEGER NOT NULL,
    handle  TEXT NOT NULL,
    size    INTEGER,
    crc64   INTEGER,
    PRIMARY KEY (job_id, key, number)
);
