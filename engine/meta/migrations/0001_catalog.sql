-- 0001: the catalog: tenants and their collections.
--
-- Times are INTEGER Unix milliseconds (UTC). Tables are STRICT so a wrong
-- type is an error instead of a silent conversion.

CREATE TABLE tenants (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE CHECK (name <> ''),
    created_at INTEGER NOT NULL
) STRICT;

-- A collection's row and its directory collections/<id>/ change together:
-- 'creating' (row first, then the directory), 'ready', 'dropping' (row
-- marked, then the directory removed, then the row deleted). On startup the
-- engine finishes or undoes any row not 'ready'.
CREATE TABLE collections (
    id              TEXT    NOT NULL PRIMARY KEY,
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    name            TEXT    NOT NULL CHECK (name <> ''),
    dimension       INTEGER NOT NULL CHECK (dimension > 0),
    metric          TEXT    NOT NULL,
    m               INTEGER NOT NULL,
    ef_construction INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('creating', 'ready', 'dropping')),
    created_at      INTEGER NOT NULL,
    -- Also the index the tenants foreign key is checked with.
    UNIQUE (tenant_id, name)
) STRICT;

INSERT INTO tenants (id, name, created_at)
VALUES ('default', 'default', CAST(unixepoch('subsec') * 1000 AS INTEGER));
