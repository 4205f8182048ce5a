// Package limits owns what each tenant is allowed and the server-wide
// settings behind it: tenant quotas and API key rates (persisted in the
// metadata database, migrations 0003_limits and 0005_disk_quota), the runtime configuration
// (rate limit defaults, changeable without a restart), the quota checks
// before writes, the process memory limit, and the metrics of all of it.
// The token buckets and the in-flight bound themselves are serve/ratelimit.
//
// # Quotas
//
// A tenant's quota has six fields, each either set for the tenant or
// NULL, meaning "the server default":
//
//	field              range        NULL means
//	qps_limit          1..10000     the runtime default_qps (100)
//	burst              1..1000000   qps_limit x default_burst_multiplier, rounded up (200)
//	max_collections    >= 0         Defaults.MaxCollections (nil: unlimited)
//	max_vectors        >= 0         Defaults.MaxVectors (nil: unlimited)
//	max_storage_bytes  >= 0         Defaults.MaxStorageBytes (nil: unlimited)
//	max_disk_bytes     >= 0         Defaults.MaxDiskBytes (nil: unlimited)
//
// A maximum of 0 allows nothing (no collections: a frozen tenant). An
// update is partial: an absent field stays, null returns it to the
// default, a value sets it; a value out of range refuses the whole update
// with invalid_argument naming the field and the reason. Quotas holds every
// quota in memory (the server is the only writer of its data directory)
// and writes through, so a change applies from the tenant's next request
// and requests never read SQLite. Rows go with their tenant (ON DELETE
// CASCADE); call ForgetTenant after deleting one.
//
// An API key may have a rate of its own (qps_limit, optional burst;
// KeyRate). A request then needs a token from both buckets; the stricter
// wins.
//
// # Quota checks
//
// Usage is the engine's: per collection, count (live records), memory_bytes
// and disk_bytes, summed per tenant by EngineUsage (a UsageSource). A write
// is checked before anything is written and refused whole (a batch is all
// or nothing) with 403 quota_exceeded, with details {resource, limit,
// current, requested}:
//
//	upsert:            current + added > max_vectors, max_storage_bytes or max_disk_bytes
//	create collection: current + 1 > max_collections, or + 64 KiB > max_disk_bytes
//
// What an upsert adds is the engine's own account (engine.Handle.UpsertCost,
// through serve/api): new ids; memory, a node for every record (a
// replacement's old node stays, tombstoned, until a vacuum) plus ids,
// overhead and metadata; and the log's growth (0 while the record fits in
// its segment's allocated space). Memory grows in steps of 256 nodes, so
// usage can end slightly above max_storage_bytes after the write that
// reaches it. A write that adds nothing to a resource passes on it, so a
// tenant whose quota was lowered below its usage can still delete. The
// service asks the collection for a compaction (vacuum and checkpoint)
// when it refuses a write for memory or disk. Guard counts admitted writes
// still running, so concurrent writes cannot each pass and together exceed
// a quota; with no maximum set (the default) it does not compute usage at
// all.
//
// # Runtime configuration
//
// RuntimeConfig holds RateLimitConfig {enabled, default_qps,
// default_burst_multiplier} (defaults true, 100, 2), stored as JSON under
// the key "rate_limit" of the runtime_config table and reloaded on start.
// An update is validated (default_qps 1..10000, multiplier 1..100; else
// invalid_argument with the field and reason), written, then put in force
// with an atomic pointer swap: every request reads it without a lock, so
// it applies to the next request of every tenant without its own rate and
// to new tenants. Changes() counts updates that changed something. A
// stored value that does not decode or is out of range is logged as an
// error and the defaults are used, because the server must start for an
// administrator to fix it through the API. enabled=false switches all
// rate limiting off (tenant and key rates included); quotas on storage
// still apply.
//
// # Memory limit
//
// ApplyMemoryLimit, called once by `akidb serve` at startup: if the
// GOMEMLIMIT environment variable is set the Go runtime has applied it and
// it is left alone; otherwise the soft limit is set to 75% of the memory
// available to the process, the smallest of the cgroup v2 memory.max of
// its cgroup and each ancestor (through /proc/self/cgroup; "max" is no
// limit), the cgroup v1 memory.limit_in_bytes, and /proc/meminfo MemTotal.
// The other 25% is for what the Go heap does not count (SQLite, stacks)
// and for the collector to act before the OOM killer. If nothing can be
// detected it returns an error, which the server logs, and runs without.
//
// # Metrics
//
// NewMetrics registers on the given prometheus.Registerer (no globals):
// akidb_ratelimit_allowed_total{tenant}, akidb_ratelimit_limited_total{tenant},
// akidb_shed_requests_total, akidb_requests_in_flight,
// akidb_runtime_config_changes_total and
// akidb_quota_usage_ratio{tenant,resource} (usage / limit, for limited
// resources only, computed at scrape time from SetQuotaReporter's Guard;
// a limit of 0 reads 1 when nothing is used and +Inf otherwise).
//
// # Wiring
//
// As serve/server.go does it, once the engine's catalog is open:
//
//	rc, _ := limits.NewRuntimeConfig(ctx, db.Meta(), logger)
//	quotas, _ := limits.NewQuotas(ctx, db.Meta(), rc, cfg.Limiting.QuotaDefaults) // --quota-max-*
//	usage := limits.NewEngineUsage(db)          // per tenant: sum of collection Stats
//	guard := limits.NewGuard(quotas, usage)
//	svc.SetQuotaGuard(guard)                    // serve/api checks writes with it
//	m.SetQuotaReporter(guard)                   // m: NewMetrics(reg, tenantReg, {Shedder, Config}) made at Start
//	access.LimitDeps{Quotas: quotas, Config: rc, Limiter: limiter, Metrics: m, Usage: usage}
//
// Per request (serve/access): limiter.Allow(tenant, keyID,
// quotas.RatesFor(tenant, keyID)). In the service, before writes, through
// serve/api.QuotaGuard (serve/api cannot import this package, which
// imports serve/api for api.Error): Guard.StorageLimited, then
// BeginUpsert / BeginCreateCollection.
//
// Usage (EngineUsage) is the engine's: collections, live records
// (Stats.Count), storage_bytes = Stats.MemoryBytes, the in-memory size,
// which grows in steps of 256 nodes (the index's allocation unit), and
// disk_bytes = Stats.DiskBytes, the log segments and snapshots.
//
// Admin API (serve/access, serve/rest, serve/grpc): GET/POST
// /admin/tenants/{id}/quota (Quotas.Get / Quotas.Set with a QuotaUpdate
// body), GET/POST/DELETE /admin/api-keys/{id}/rate-limit (KeyRate,
// SetKeyRate, ClearKeyRate), GET /admin/config (Settings as
// "rate_limiting", beside the server's fixed settings), POST
// /admin/config/rate-limit (a RateLimitUpdate body); actions
// quota.read/quota.write and config.read/config.write.
package limits
