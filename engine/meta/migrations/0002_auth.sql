-- 0002: authentication: API keys and the audit trail.
--
-- An API key is ak_<id>_<secret>. Only the public id and the SHA-256 of
-- the secret are stored, so this file never holds a usable key.

CREATE TABLE api_keys (
    -- 16 characters of lowercase RFC 4648 base32 (a-z, 2-7).
    id          TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    -- Deleting a tenant deletes its keys.
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'writer', 'reader')),
    name        TEXT    NOT NULL,
    -- SHA-256 of the secret's 32 bytes.
    secret_hash BLOB    NOT NULL CHECK (length(secret_hash) = 32),
    -- JSON array of collection names the key is limited to; [] = all.
    collections TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(collections) AND json_type(collections) = 'array'),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,          -- NULL: never expires
    revoked_at  INTEGER           -- NULL: not revoked
) STRICT;

-- Listing one tenant's keys, and the index the tenants foreign key is
-- checked with on tenant delete.
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

-- The audit trail. No foreign keys: the trail outlives tenants and keys.
-- AUTOINCREMENT keeps ids increasing even after pruning empties the table,
-- so a paging cursor (an id) never points at a newer event.
CREATE TABLE audit_events (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    tenant_id   TEXT    NOT NULL,   -- '' when the caller is unknown
    key_id      TEXT    NOT NULL,   -- '' when the caller is unknown
    remote_addr TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    result      TEXT    NOT NULL CHECK (result IN ('ok', 'denied', 'failed')),
    request_id  TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);
CREATE INDEX audit_events_at ON audit_events (at);
