-- 0005: a tenant's disk quota: the bytes its collections' files may hold
-- (log segments and snapshots). NULL: the server default applies, as for
-- the other maxima of 0003.
ALTER TABLE tenant_quotas ADD COLUMN max_disk_bytes INTEGER CHECK (max_disk_bytes >= 0);
