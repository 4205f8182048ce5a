package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/ratelimit"
)

// Defaults are the storage limits of tenants whose quota leaves a field
// unset (NULL). A nil field is unlimited. Rates are not here: they are
// runtime settings (RuntimeConfig), changeable without a restart.
type Defaults struct {
	MaxCollections  *int64
	MaxVectors      *int64
	MaxStorageBytes *int64
	MaxDiskBytes    *int64
}

// StoredQuota is a tenant's quota as stored: null fields take the server
// default.
type StoredQuota struct {
	QPSLimit        *float64   `json:"qps_limit"`
	Burst           *int64     `json:"burst"`
	MaxCollections  *int64     `json:"max_collections"`
	MaxVectors      *int64     `json:"max_vectors"`
	MaxStorageBytes *int64     `json:"max_storage_bytes"`
	MaxDiskBytes    *int64     `json:"max_disk_bytes"`
	UpdatedAt       *time.Time `json:"updated_at,omitempty"` // absent: never set
}

// Effective is what applies to a tenant now: its own values, else the
// server's. A null maximum is unlimited.
type Effective struct {
	// RateLimitEnabled is the server-wide switch; when false QPS and Burst
	// are what would apply, and nothing is rate limited.
	RateLimitEnabled bool    `json:"rate_limit_enabled"`
	QPS              float64 `json:"qps_limit"`
	Burst            int     `json:"burst"`
	MaxCollections   *int64  `json:"max_collections"`
	MaxVectors       *int64  `json:"max_vectors"`
	MaxStorageBytes  *int64  `json:"max_storage_bytes"`
	MaxDiskBytes     *int64  `json:"max_disk_bytes"`
}

// Rate is the tenant's token bucket (the zero Rate when rate limiting is
// disabled).
func (e Effective) Rate() ratelimit.Rate {
	if !e.RateLimitEnabled {
		return ratelimit.Rate{}
	}
	return ratelimit.Rate{QPS: e.QPS, Burst: e.Burst}
}

// TenantQuota is the body of GET /admin/tenants/{id}/quota.
type TenantQuota struct {
	TenantID  string      `json:"tenant_id"`
	Quota     StoredQuota `json:"quota"`
	Effective Effective   `json:"effective"`
}

// QuotaUpdate is a partial change of a tenant's quota, the body of POST
// /admin/tenants/{id}/quota: an absent field stays, null returns it to the
// server default, a value sets it.
type QuotaUpdate struct {
	QPSLimit        meta.Patch[float64] `json:"qps_limit"`
	Burst           meta.Patch[int64]   `json:"burst"`
	MaxCollections  meta.Patch[int64]   `json:"max_collections"`
	MaxVectors      meta.Patch[int64]   `json:"max_vectors"`
	MaxStorageBytes meta.Patch[int64]   `json:"max_storage_bytes"`
	MaxDiskBytes    meta.Patch[int64]   `json:"max_disk_bytes"`
}

// MarshalJSON writes the fields the update changes: a value, or null for
// a field returned to the default; a field left as it is is absent. It is
// the inverse of decoding, so a client can send what it was given.
func (u QuotaUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if u.QPSLimit.Set {
		m["qps_limit"] = u.QPSLimit.Value
	}
	for _, f := range []struct {
		name string
		p    meta.Patch[int64]
	}{{"burst", u.Burst}, {"max_collections", u.MaxCollections}, {"max_vectors", u.MaxVectors}, {"max_storage_bytes", u.MaxStorageBytes}, {"max_disk_bytes", u.MaxDiskBytes}} {
		if f.p.Set {
			m[f.name] = f.p.Value
		}
	}
	return json.Marshal(m)
}

// Empty reports whether the update changes nothing.
func (u QuotaUpdate) Empty() bool {
	return !u.QPSLimit.Set && !u.Burst.Set && !u.MaxCollections.Set && !u.MaxVectors.Set && !u.MaxStorageBytes.Set && !u.MaxDiskBytes.Set
}

// Validate refuses values outside the policy ranges (qps_limit 1..10000,
// burst 1..MaxBurst, maxima >= 0) with invalid_argument naming the field.
// Returning a field to its default (null) is always valid.
func (u QuotaUpdate) Validate() *api.Error {
	if v := u.QPSLimit.Value; u.QPSLimit.Set && v != nil {
		if e := checkQPS("qps_limit", *v); e != nil {
			return e
		}
	}
	if v := u.Burst.Value; u.Burst.Set && v != nil {
		if e := checkBurst("burst", *v); e != nil {
			return e
		}
	}
	for _, f := range []struct {
		name string
		p    meta.Patch[int64]
	}{{"max_collections", u.MaxCollections}, {"max_vectors", u.MaxVectors}, {"max_storage_bytes", u.MaxStorageBytes}, {"max_disk_bytes", u.MaxDiskBytes}} {
		if f.p.Set && f.p.Value != nil && *f.p.Value < 0 {
			return invalidField(f.name, fmt.Sprintf("must not be negative, got %d", *f.p.Value))
		}
	}
	return nil
}

func checkBurst(field string, b int64) *api.Error {
	if b < 1 || b > MaxBurst {
		return invalidField(field, fmt.Sprintf("must be between 1 and %d, got %d", MaxBurst, b))
	}
	return nil
}

// KeyRate is an API key's own rate limit.
type KeyRate struct {
	KeyID     string    `json:"key_id"`
	QPSLimit  float64   `json:"qps_limit"`
	Burst     *int64    `json:"burst"` // null: qps_limit × the default burst multiplier
	UpdatedAt time.Time `json:"updated_at"`
}

// KeyRateUpdate sets an API key's own rate limit.
type KeyRateUpdate struct {
	QPSLimit float64 `json:"qps_limit"`
	Burst    *int64  `json:"burst,omitempty"`
}

// Validate refuses a rate outside 1..10000 or a burst outside 1..MaxBurst.
func (u KeyRateUpdate) Validate() *api.Error {
	if e := checkQPS("qps_limit", u.QPSLimit); e != nil {
		return e
	}
	if u.Burst != nil {
		return checkBurst("burst", *u.Burst)
	}
	return nil
}

// QuotaStore is where quotas persist; *meta.Store is one.
type QuotaStore interface {
	GetQuota(ctx context.Context, tenantID string) (meta.Quota, error)
	UpdateQuota(ctx context.Context, tenantID string, u meta.QuotaUpdate) (meta.Quota, error)
	ListQuotas(ctx context.Context) ([]meta.Quota, error)
	SetKeyRateLimit(ctx context.Context, l meta.KeyRateLimit) (meta.KeyRateLimit, error)
	DeleteKeyRateLimit(ctx context.Context, keyID string) error
	ListKeyRateLimits(ctx context.Context) ([]meta.KeyRateLimit, error)
}

// Quotas holds every tenant's quota and every key's rate in memory, so a
// request reads no SQLite, and writes changes through to the store. The
// server is the only writer (the data directory is locked, and the CLI
// goes through the admin API), so the memory copy stays exact. It is safe
// for concurrent use.
type Quotas struct {
	store    QuotaStore
	config   *RuntimeConfig
	defaults Defaults

	writeMu sync.Mutex // serializes writes, so memory follows the order of the commits
	mu      sync.RWMutex
	tenants map[string]meta.Quota // tenants with a row only
	keys    map[string]meta.KeyRateLimit
}

// NewQuotas loads every quota and key rate from store. config supplies the
// default rates; defaults the default storage limits.
func NewQuotas(ctx context.Context, store QuotaStore, config *RuntimeConfig, defaults Defaults) (*Quotas, error) {
	q := &Quotas{store: store, config: config, defaults: defaults}
	if err := q.Reload(ctx); err != nil {
		return nil, err
	}
	return q, nil
}

// Reload reads every quota and key rate from the store again. Call it
// after deleting a tenant (its rows go with it) or ForgetTenant.
func (q *Quotas) Reload(ctx context.Context) error {
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	rows, err := q.store.ListQuotas(ctx)
	if err != nil {
		return fmt.Errorf("load quotas: %w", err)
	}
	keyRows, err := q.store.ListKeyRateLimits(ctx)
	if err != nil {
		return fmt.Errorf("load key rate limits: %w", err)
	}
	tenants := make(map[string]meta.Quota)
	for _, r := range rows {
		if !r.UpdatedAt.IsZero() {
			tenants[r.TenantID] = r
		}
	}
	keys := make(map[string]meta.KeyRateLimit, len(keyRows))
	for _, k := range keyRows {
		keys[k.KeyID] = k
	}
	q.mu.Lock()
	q.tenants, q.keys = tenants, keys
	q.mu.Unlock()
	return nil
}

// Defaults are the storage limits of tenants whose quota leaves a field
// unset.
func (q *Quotas) Defaults() Defaults {
	return Defaults{MaxCollections: pick(nil, q.defaults.MaxCollections), MaxVectors: pick(nil, q.defaults.MaxVectors),
		MaxStorageBytes: pick(nil, q.defaults.MaxStorageBytes), MaxDiskBytes: pick(nil, q.defaults.MaxDiskBytes)}
}

// ForgetTenant drops a deleted tenant's quota from memory.
func (q *Quotas) ForgetTenant(tenantID string) {
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	q.mu.Lock()
	delete(q.tenants, tenantID)
	q.mu.Unlock()
}

// Effective is what applies to the tenant now, from memory (any tenant id
// is accepted; one without a quota gets the defaults).
func (q *Quotas) Effective(tenantID string) Effective {
	q.mu.RLock()
	row := q.tenants[tenantID]
	q.mu.RUnlock()
	return q.effective(row)
}

func (q *Quotas) effective(row meta.Quota) Effective {
	rc := q.config.RateLimit()
	e := Effective{
		RateLimitEnabled: rc.Enabled,
		QPS:              rc.DefaultQPS,
		MaxCollections:   pick(row.MaxCollections, q.defaults.MaxCollections),
		MaxVectors:       pick(row.MaxVectors, q.defaults.MaxVectors),
		MaxStorageBytes:  pick(row.MaxStorageBytes, q.defaults.MaxStorageBytes),
		MaxDiskBytes:     pick(row.MaxDiskBytes, q.defaults.MaxDiskBytes),
	}
	if row.QPSLimit != nil {
		e.QPS = *row.QPSLimit
	}
	if row.Burst != nil {
		e.Burst = int(*row.Burst)
	} else {
		e.Burst = rc.BurstFor(e.QPS)
	}
	return e
}

// pick returns a copy of own if set, else of def.
func pick(own, def *int64) *int64 {
	p := own
	if p == nil {
		p = def
	}
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// RatesFor is the buckets a request of tenantID with API key keyID must
// pass (read from memory; cheap enough for every request): the tenant's
// rate, and the key's if it has one. Everything is zero (not limited)
// when rate limiting is disabled.
func (q *Quotas) RatesFor(tenantID, keyID string) ratelimit.Rates {
	rc := q.config.RateLimit()
	if !rc.Enabled {
		return ratelimit.Rates{}
	}
	q.mu.RLock()
	row := q.tenants[tenantID]
	key, hasKey := q.keys[keyID]
	q.mu.RUnlock()
	var r ratelimit.Rates
	r.Tenant = q.effective(row).Rate()
	r.TenantSource = ratelimit.SourceTenantDefault
	if row.QPSLimit != nil || row.Burst != nil {
		r.TenantSource = ratelimit.SourceTenantQuota
	}
	if hasKey && keyID != "" {
		r.Key = ratelimit.Rate{QPS: key.QPSLimit, Burst: rc.BurstFor(key.QPSLimit)}
		if key.Burst != nil {
			r.Key.Burst = int(*key.Burst)
		}
	}
	return r
}

// Get returns the tenant's quota as stored and in effect. An unknown
// tenant is not_found.
func (q *Quotas) Get(ctx context.Context, tenantID string) (TenantQuota, error) {
	row, err := q.store.GetQuota(ctx, tenantID)
	if err != nil {
		return TenantQuota{}, storeError(err, tenantID)
	}
	return q.view(row), nil
}

// List returns the quota of every tenant, ordered by tenant id.
func (q *Quotas) List(ctx context.Context) ([]TenantQuota, error) {
	rows, err := q.store.ListQuotas(ctx)
	if err != nil {
		return nil, fmt.Errorf("list quotas: %w", err)
	}
	out := make([]TenantQuota, len(rows))
	for i, r := range rows {
		out[i] = q.view(r)
	}
	return out, nil
}

// Set applies a partial update to the tenant's quota, persists it and
// puts it in force for the tenant's next request. Values out of range are
// refused with invalid_argument naming the field, an unknown tenant with
// not_found; either way nothing changes.
func (q *Quotas) Set(ctx context.Context, tenantID string, u QuotaUpdate) (TenantQuota, error) {
	if e := u.Validate(); e != nil {
		return TenantQuota{}, e
	}
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	row, err := q.store.UpdateQuota(ctx, tenantID, meta.QuotaUpdate(u))
	if err != nil {
		return TenantQuota{}, storeError(err, tenantID)
	}
	q.mu.Lock()
	q.tenants[tenantID] = row
	q.mu.Unlock()
	return q.view(row), nil
}

// KeyRate returns the key's own rate limit, if it has one.
func (q *Quotas) KeyRate(keyID string) (KeyRate, bool) {
	q.mu.RLock()
	k, ok := q.keys[keyID]
	q.mu.RUnlock()
	if !ok {
		return KeyRate{}, false
	}
	return KeyRate{KeyID: k.KeyID, QPSLimit: k.QPSLimit, Burst: k.Burst, UpdatedAt: k.UpdatedAt}, true
}

// SetKeyRate gives an API key a rate limit of its own, taken beside its
// tenant's (the stricter wins). An unknown key is not_found.
func (q *Quotas) SetKeyRate(ctx context.Context, keyID string, u KeyRateUpdate) (KeyRate, error) {
	if e := u.Validate(); e != nil {
		return KeyRate{}, e
	}
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	row, err := q.store.SetKeyRateLimit(ctx, meta.KeyRateLimit{KeyID: keyID, QPSLimit: u.QPSLimit, Burst: u.Burst})
	if err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return KeyRate{}, api.Errorf(api.CodeNotFound, "api key %s not found", keyID)
		}
		return KeyRate{}, fmt.Errorf("set rate limit of api key %s: %w", keyID, err)
	}
	q.mu.Lock()
	q.keys[keyID] = row
	q.mu.Unlock()
	return KeyRate{KeyID: row.KeyID, QPSLimit: row.QPSLimit, Burst: row.Burst, UpdatedAt: row.UpdatedAt}, nil
}

// ClearKeyRate removes an API key's own rate limit. A key without one is
// not_found.
func (q *Quotas) ClearKeyRate(ctx context.Context, keyID string) error {
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	if err := q.store.DeleteKeyRateLimit(ctx, keyID); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return api.Errorf(api.CodeNotFound, "api key %s has no rate limit of its own", keyID)
		}
		return fmt.Errorf("clear rate limit of api key %s: %w", keyID, err)
	}
	q.mu.Lock()
	delete(q.keys, keyID)
	q.mu.Unlock()
	return nil
}

func (q *Quotas) view(row meta.Quota) TenantQuota {
	tq := TenantQuota{
		TenantID: row.TenantID,
		Quota: StoredQuota{QPSLimit: row.QPSLimit, Burst: row.Burst, MaxCollections: row.MaxCollections,
			MaxVectors: row.MaxVectors, MaxStorageBytes: row.MaxStorageBytes, MaxDiskBytes: row.MaxDiskBytes},
		Effective: q.effective(row),
	}
	if !row.UpdatedAt.IsZero() {
		t := row.UpdatedAt
		tq.Quota.UpdatedAt = &t
	}
	return tq
}

// storeError maps the store's sentinels onto API errors; anything else
// stays an error (internal to the caller).
func storeError(err error, tenantID string) error {
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return api.Errorf(api.CodeNotFound, "tenant %s not found", tenantID)
	case errors.Is(err, meta.ErrInvalidArgument):
		return &api.Error{Code: api.CodeInvalidArgument, Message: err.Error()}
	}
	return fmt.Errorf("quota of tenant %s: %w", tenantID, err)
}
