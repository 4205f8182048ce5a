-- 0003: limits: per-tenant quotas, per-key rate limits, runtime configuration.
--
-- A NULL limit column means "not set here": the server default applies
-- (serve/limits decides what the defaults are). Rows go with their tenant
-- or key (ON DELETE CASCADE), so deleting a tenant needs no extra step.

CREATE TABLE tenant_quotas (
    tenant_id         TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    qps_limit         REAL    CHECK (qps_limit > 0),          -- requests per second
    burst             INTEGER CHECK (burst >= 1),             -- token bucket size
    max_collections   INTEGER CHECK (max_collections >= 0),
    max_vectors       INTEGER CHECK (max_vectors >= 0),
    max_storage_bytes INTEGER CHECK (max_storage_bytes >= 0),
    updated_at        INTEGER NOT NULL
) STRICT;

-- An API key's own bucket, taken beside its tenant's: the stricter wins.
-- Keys are never deleted except with their tenant, which cascades here.
CREATE TABLE api_key_rate_limits (
    key_id     TEXT    NOT NULL PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
    qps_limit  REAL    NOT NULL CHECK (qps_limit > 0),
    burst      INTEGER CHECK (burst >= 1),  -- NULL: qps_limit x the default burst multiplier
    updated_at INTEGER NOT NULL
) STRICT;

-- Server-wide settings changed at runtime (POST /admin/config/...): one
-- JSON document per key, e.g. 'rate_limit'. serve/limits owns the
-- documents' shapes; the table only insists on valid JSON.
CREATE TABLE runtime_config (
    key        TEXT    NOT NULL PRIMARY KEY CHECK (key <> ''),
    value      TEXT    NOT NULL CHECK (json_valid(value)),
    updated_at INTEGER NOT NULL
) STRICT;
