-- 0006: payload indexes: the metadata fields of a collection that are
-- indexed, and with which type. The engine keeps the indexes themselves (in
-- memory and in the collection's snapshots); this table is what they
-- should be, so that an index whose build a crash interrupted is built
-- again when the collection opens, and one dropped is not brought back by
-- an older snapshot. Rows go with their collection (ON DELETE CASCADE).

CREATE TABLE payload_indexes (
    collection_id TEXT    NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    field         TEXT    NOT NULL CHECK (field <> '' AND length(CAST(field AS BLOB)) <= 256),
    type          TEXT    NOT NULL CHECK (type IN ('keyword', 'integer', 'float')),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (collection_id, field)
) STRICT;
