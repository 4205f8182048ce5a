-- 0004: the object storage tier (engine/tier): each collection's tiering
-- policy and the dead-letter queue of failed uploads and deletes.
--
-- 'memory': local only. 'memory-s3': local, and every checkpoint's
-- snapshot and the durable log shipped to object storage. 's3-only' is
-- accepted here so that the cold-collection work needs no new migration;
-- the engine refuses it until that work exists.
ALTER TABLE collections ADD COLUMN tier_policy TEXT NOT NULL DEFAULT 'memory'
    CHECK (tier_policy IN ('memory', 'memory-s3', 's3-only'));

-- A failed upload or delete of one object. The retry worker takes the
-- oldest due 'pending' rows, retries each, deletes the row on success and
-- otherwise counts the retry and backs off, until the row turns
-- 'permanent' (it then waits for an operator to retry or discard it).
-- Rows go with their collection (ON DELETE CASCADE), so dropping a
-- collection is never blocked by its queue.
CREATE TABLE tier_dlq (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    collection_id   TEXT    NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    tenant_id       TEXT    NOT NULL,
    collection_name TEXT    NOT NULL,
    operation       TEXT    NOT NULL CHECK (operation IN ('upload', 'delete')),
    kind            TEXT    NOT NULL CHECK (kind IN ('snapshot', 'log', 'parquet', 'manifest')),
    object_key      TEXT    NOT NULL CHECK (object_key <> ''),
    -- The file an upload sends ('' for a delete); it is not deleted while
    -- the row exists.
    local_file      TEXT    NOT NULL,
    size            INTEGER NOT NULL CHECK (size >= 0),
    sha256          TEXT    NOT NULL,  -- lowercase hex; '' for a delete
    -- The log sequence numbers the object covers (a snapshot: first = last
    -- = its sequence number).
    first_seq       INTEGER NOT NULL DEFAULT 0 CHECK (first_seq >= 0),
    last_seq        INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= first_seq),
    retry_count     INTEGER NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'permanent')),
    UNIQUE (collection_id, operation, object_key)
) STRICT;

-- The worker's query: the oldest due pending rows.
CREATE INDEX tier_dlq_due ON tier_dlq (status, next_attempt_at, id);
