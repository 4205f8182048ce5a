package meta

// Quotas and rate limits (migration 0003_limits):
//
//	tenant_quotas(tenant_id TEXT PK REFERENCES tenants ON DELETE CASCADE,
//	              qps_limit REAL NULL (> 0), burst INTEGER NULL (>= 1),
//	              max_collections, max_vectors, max_storage_bytes INTEGER NULL (>= 0),
//	              updated_at INTEGER,
//	              max_disk_bytes INTEGER NULL (>= 0))  -- migration 0005_disk_quota
//	api_key_rate_limits(key_id TEXT PK REFERENCES api_keys ON DELETE CASCADE,
//	              qps_limit REAL (> 0), burst INTEGER NULL (>= 1), updated_at INTEGER)
//
// NULL means "not set for this tenant (key)": the server default applies.
// What the defaults are, and the policy ranges (at most 10000 requests per
// second, ...), belong to serve/limits; the catalog refuses only values no
// policy could mean (a rate of zero, a negative maximum).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Quota is a tenant's limits as stored. A nil field is NULL: the server
// default applies.
type Quota struct {
	TenantID        string
	QPSLimit        *float64 // requests per second
	Burst           *int64   // token bucket size
	MaxCollections  *int64
	MaxVectors      *int64
	MaxStorageBytes *int64
	MaxDiskBytes    *int64
	// UpdatedAt is when the row was last written; zero when the tenant has
	// no row (every field is the default).
	UpdatedAt time.Time
}

// Patch is a change to one nullable column: leave it (the zero Patch),
// set it to NULL (Set with a nil Value), or set it to *Value.
//
// As JSON (a field of a request body), an absent field leaves the column,
// null clears it and a value sets it: see UnmarshalJSON.
type Patch[T any] struct {
	Set   bool // false: leave the column as it is
	Value *T   // with Set: the new value, nil for NULL
}

// SetTo is the Patch that sets a column to v.
func SetTo[T any](v T) Patch[T] { return Patch[T]{Set: true, Value: &v} }

// SetNull is the Patch that sets a column to NULL (back to the default).
func SetNull[T any]() Patch[T] { return Patch[T]{Set: true} }

// UnmarshalJSON makes a present field a change: null clears the column,
// anything else must decode as T. encoding/json calls it only for fields
// present in the input, so an absent field stays the zero Patch (leave).
func (p *Patch[T]) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*p = Patch[T]{Set: true}
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Patch[T]{Set: true, Value: &v}
	return nil
}

// apply returns the column's value after the patch.
func (p Patch[T]) apply(cur *T) *T {
	if !p.Set {
		return cur
	}
	return p.Value
}

// QuotaUpdate is a partial change of a tenant's quota: zero Patches leave
// their columns as they are.
type QuotaUpdate struct {
	QPSLimit        Patch[float64]
	Burst           Patch[int64]
	MaxCollections  Patch[int64]
	MaxVectors      Patch[int64]
	MaxStorageBytes Patch[int64]
	MaxDiskBytes    Patch[int64]
}

// validateQuota refuses values no policy could mean. Ranges beyond these
// are serve/limits' business.
func validateQuota(q Quota) error {
	if q.QPSLimit != nil {
		if err := validateQPS("qps_limit", *q.QPSLimit); err != nil {
			return err
		}
	}
	if q.Burst != nil && *q.Burst < 1 {
		return fmt.Errorf("burst is %d, it must be at least 1: %w", *q.Burst, ErrInvalidArgument)
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"max_collections", q.MaxCollections}, {"max_vectors", q.MaxVectors}, {"max_storage_bytes", q.MaxStorageBytes}, {"max_disk_bytes", q.MaxDiskBytes}} {
		if f.v != nil && *f.v < 0 {
			return fmt.Errorf("%s is %d, it must not be negative: %w", f.name, *f.v, ErrInvalidArgument)
		}
	}
	return nil
}

func validateQPS(field string, qps float64) error {
	if !(qps > 0) || math.IsInf(qps, 0) { // !(> 0) also catches NaN
		return fmt.Errorf("%s is %v, it must be a positive finite number: %w", field, qps, ErrInvalidArgument)
	}
	return nil
}

const quotaColumns = `qps_limit, burst, max_collections, max_vectors, max_storage_bytes, max_disk_bytes, updated_at`

// selectQuota reads a tenant and its quota row; the LEFT JOIN tells "no
// such tenant" (no row at all) from "tenant without a quota row" (NULLs).
const selectQuota = `SELECT t.id, q.qps_limit, q.burst, q.max_collections, q.max_vectors, q.max_storage_bytes, q.max_disk_bytes, q.updated_at
	FROM tenants t LEFT JOIN tenant_quotas q ON q.tenant_id = t.id`

// GetQuota returns the tenant's quota; a tenant without a row gets one
// with every field nil. An unknown tenant fails with ErrNotFound.
func (s *Store) GetQuota(ctx context.Context, tenantID string) (Quota, error) {
	q, err := getQuota(ctx, s.db, tenantID)
	if err != nil {
		return Quota{}, fmt.Errorf("quota of tenant %s: %w", tenantID, err)
	}
	return q, nil
}

// rowQuerier is a *sql.DB or a *sql.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getQuota(ctx context.Context, db rowQuerier, tenantID string) (Quota, error) {
	return scanQuota(db.QueryRowContext(ctx, selectQuota+` WHERE t.id = ?`, tenantID))
}

// UpdateQuota applies u to the tenant's quota in one transaction and
// returns the quota as stored. An unknown tenant fails with ErrNotFound,
// a value no policy could mean (a rate that is not positive, a burst
// below 1, a negative maximum) with ErrInvalidArgument.
func (s *Store) UpdateQuota(ctx context.Context, tenantID string, u QuotaUpdate) (q Quota, err error) {
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: read-modify-write under the lock
	if err != nil {
		return Quota{}, fmt.Errorf("update quota of tenant %s: begin: %w", tenantID, TranslateError(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	q, err = getQuota(ctx, tx, tenantID)
	if err != nil {
		return Quota{}, fmt.Errorf("update quota of tenant %s: %w", tenantID, err)
	}
	q.QPSLimit = u.QPSLimit.apply(q.QPSLimit)
	q.Burst = u.Burst.apply(q.Burst)
	q.MaxCollections = u.MaxCollections.apply(q.MaxCollections)
	q.MaxVectors = u.MaxVectors.apply(q.MaxVectors)
	q.MaxStorageBytes = u.MaxStorageBytes.apply(q.MaxStorageBytes)
	q.MaxDiskBytes = u.MaxDiskBytes.apply(q.MaxDiskBytes)
	if err = validateQuota(q); err != nil {
		return Quota{}, fmt.Errorf("update quota of tenant %s: %w", tenantID, err)
	}
	q.UpdatedAt = fromMillis(s.now().UnixMilli())
	_, err = tx.ExecContext(ctx, `INSERT INTO tenant_quotas (tenant_id, `+quotaColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET qps_limit = excluded.qps_limit, burst = excluded.burst,
			max_collections = excluded.max_collections, max_vectors = excluded.max_vectors,
			max_storage_bytes = excluded.max_storage_bytes, max_disk_bytes = excluded.max_disk_bytes,
			updated_at = excluded.updated_at`,
		tenantID, q.QPSLimit, q.Burst, q.MaxCollections, q.MaxVectors, q.MaxStorageBytes, q.MaxDiskBytes, q.UpdatedAt.UnixMilli())
	if err != nil {
		return Quota{}, fmt.Errorf("update quota of tenant %s: %w", tenantID, TranslateError(err))
	}
	if err = tx.Commit(); err != nil {
		return Quota{}, fmt.Errorf("update quota of tenant %s: commit: %w", tenantID, TranslateError(err))
	}
	return q, nil
}

// ListQuotas returns the quota of every tenant, tenants without a row
// included (every field nil), ordered by tenant id.
func (s *Store) ListQuotas(ctx context.Context) ([]Quota, error) {
	out, err := queryAll(ctx, s.db, scanQuota, selectQuota+` ORDER BY t.id`)
	if err != nil {
		return nil, fmt.Errorf("list quotas: %w", err)
	}
	return out, nil
}

func scanQuota(sc scanner) (Quota, error) {
	var (
		q                             Quota
		qps                           sql.NullFloat64
		burst, maxC, maxV, maxS, maxD sql.NullInt64
		updated                       sql.NullInt64
	)
	if err := sc.Scan(&q.TenantID, &qps, &burst, &maxC, &maxV, &maxS, &maxD, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Quota{}, ErrNotFound
		}
		return Quota{}, TranslateError(err)
	}
	if qps.Valid {
		q.QPSLimit = &qps.Float64
	}
	q.Burst, q.MaxCollections, q.MaxVectors, q.MaxStorageBytes, q.MaxDiskBytes = nullInt(burst), nullInt(maxC), nullInt(maxV), nullInt(maxS), nullInt(maxD)
	if updated.Valid {
		q.UpdatedAt = fromMillis(updated.Int64)
	}
	return q, nil
}

func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

// KeyRateLimit is an API key's own rate limit, taken beside its tenant's.
type KeyRateLimit struct {
	KeyID     string
	QPSLimit  float64 // requests per second, > 0
	Burst     *int64  // nil: QPSLimit times the default burst multiplier
	UpdatedAt time.Time
}

// SetKeyRateLimit creates or replaces the key's rate limit and returns it
// as stored. An unknown key fails with ErrNotFound, a rate that is not
// positive or a burst below 1 with ErrInvalidArgument.
func (s *Store) SetKeyRateLimit(ctx context.Context, l KeyRateLimit) (KeyRateLimit, error) {
	if err := validateQPS("qps_limit", l.QPSLimit); err != nil {
		return KeyRateLimit{}, fmt.Errorf("set rate limit of api key %s: %w", l.KeyID, err)
	}
	if l.Burst != nil && *l.Burst < 1 {
		return KeyRateLimit{}, fmt.Errorf("set rate limit of api key %s: burst is %d, it must be at least 1: %w",
			l.KeyID, *l.Burst, ErrInvalidArgument)
	}
	l.UpdatedAt = fromMillis(s.now().UnixMilli())
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_key_rate_limits (key_id, qps_limit, burst, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key_id) DO UPDATE SET qps_limit = excluded.qps_limit, burst = excluded.burst, updated_at = excluded.updated_at`,
		l.KeyID, l.QPSLimit, l.Burst, l.UpdatedAt.UnixMilli())
	if IsForeignKeyViolation(err) {
		return KeyRateLimit{}, fmt.Errorf("set rate limit of api key %s: key: %w", l.KeyID, ErrNotFound)
	}
	if err != nil {
		return KeyRateLimit{}, fmt.Errorf("set rate limit of api key %s: %w", l.KeyID, TranslateError(err))
	}
	return l, nil
}

// GetKeyRateLimit returns the key's rate limit, or ErrNotFound when it has
// none (or there is no such key).
func (s *Store) GetKeyRateLimit(ctx context.Context, keyID string) (KeyRateLimit, error) {
	l, err := scanKeyRateLimit(s.db.QueryRowContext(ctx,
		`SELECT key_id, qps_limit, burst, updated_at FROM api_key_rate_limits WHERE key_id = ?`, keyID))
	if err != nil {
		return KeyRateLimit{}, fmt.Errorf("rate limit of api key %s: %w", keyID, err)
	}
	return l, nil
}

// DeleteKeyRateLimit removes the key's rate limit (the key is then limited
// by its tenant's bucket only). A key without one fails with ErrNotFound.
func (s *Store) DeleteKeyRateLimit(ctx context.Context, keyID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM api_key_rate_limits WHERE key_id = ?`, keyID)
	if err != nil {
		return fmt.Errorf("delete rate limit of api key %s: %w", keyID, TranslateError(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete rate limit of api key %s: %w", keyID, err)
	} else if n == 0 {
		return fmt.Errorf("delete rate limit of api key %s: %w", keyID, ErrNotFound)
	}
	return nil
}

// ListKeyRateLimits returns every key's rate limit, ordered by key id.
func (s *Store) ListKeyRateLimits(ctx context.Context) ([]KeyRateLimit, error) {
	out, err := queryAll(ctx, s.db, scanKeyRateLimit, `SELECT key_id, qps_limit, burst, updated_at FROM api_key_rate_limits ORDER BY key_id`)
	if err != nil {
		return nil, fmt.Errorf("list key rate limits: %w", err)
	}
	return out, nil
}

func scanKeyRateLimit(sc scanner) (KeyRateLimit, error) {
	var (
		l       KeyRateLimit
		burst   sql.NullInt64
		updated int64
	)
	if err := sc.Scan(&l.KeyID, &l.QPSLimit, &burst, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return KeyRateLimit{}, ErrNotFound
		}
		return KeyRateLimit{}, TranslateError(err)
	}
	l.Burst = nullInt(burst)
	l.UpdatedAt = fromMillis(updated)
	return l, nil
}
