package access

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
)

// The object storage tier's administration: its state (storage.read, not
// audited, tenant-scoped: a tenant's callers see their tenant's
// collections and DLQ entries, the operator all) and the DLQ and circuit
// breaker controls (storage.admin, the operator's, audited).
//
// The JSON shapes below are a stable contract: `akidb top` and
// dashboards poll them (docs/api.md, docs/openapi.yaml). Fields are only
// ever added.

// Storage is what the storage operations need of the engine; *engine.DB
// implements it.
type Storage interface {
	Tier() *tier.Tier
	ListCollections(tenant string) []engine.CollectionInfo
	Collection(tenant, name string) (*engine.Handle, error)
	ResidencyTotals() engine.ResidencyTotals
}

// StorageStatus is the body of GET /admin/storage/status.
type StorageStatus struct {
	// Enabled: an object store is configured (--s3-endpoint).
	Enabled bool `json:"enabled"`
	// Store is null when Enabled is false.
	Store *StoreStatus `json:"store"`
	// DLQ counts the caller's entries (the operator's: all).
	DLQ DLQCounts `json:"dlq"`
	// Memory is the memory budget and what the caller's collections (the
	// operator's: all) take in memory.
	Memory      MemoryStatus        `json:"memory"`
	Collections []CollectionStorage `json:"collections"`
}

// MemoryStatus is the memory budget (--tier-memory-budget), the idle time
// before eviction (--tier-evict-after), the s3-only snapshot cache
// (--s3-cache-bytes), and what the collections in memory take.
type MemoryStatus struct {
	// BudgetBytes is 0 without a budget (nothing is evicted).
	BudgetBytes       int64   `json:"budget_bytes"`
	EvictAfterSeconds float64 `json:"evict_after_seconds"`
	// ResidentBytes and ResidentCollections count the collections in
	// memory (and those loading, at their last size); Collections all.
	ResidentBytes       int64 `json:"resident_bytes"`
	ResidentCollections int   `json:"resident_collections"`
	Collections         int   `json:"collections"`
	// S3CacheLimitBytes bounds the local snapshots of s3-only collections
	// (-1: no bound); S3CacheBytes is what they take now. Server-wide.
	S3CacheLimitBytes int64 `json:"s3_cache_limit_bytes"`
	S3CacheBytes      int64 `json:"s3_cache_bytes"`
}

// StoreStatus is the object store and its circuit breaker.
type StoreStatus struct {
	Name           string        `json:"name"`
	Prefix         string        `json:"prefix"`
	CircuitBreaker BreakerStatus `json:"circuit_breaker"`
}

// BreakerStatus is a circuit breaker's state and counts.
type BreakerStatus struct {
	// State is closed, half-open or open; StateValue 0, 1 or 2 (the
	// akidb_circuit_breaker_state gauge).
	State      string    `json:"state"`
	StateValue int       `json:"state_value"`
	Since      time.Time `json:"since"`
	// OpenUntil is when an open breaker lets its next probe through.
	OpenUntil           *time.Time    `json:"open_until"`
	CooldownSeconds     float64       `json:"cooldown_seconds"`
	Successes           uint64        `json:"successes"`
	Failures            uint64        `json:"failures"`
	Rejected            uint64        `json:"rejected"`
	Opens               uint64        `json:"opens"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
	Window              BreakerWindow `json:"window"`
	LastError           string        `json:"last_error"`
	LastErrorAt         *time.Time    `json:"last_error_at"`
}

// BreakerWindow is the sliding window's counts.
type BreakerWindow struct {
	Calls    int `json:"calls"`
	Failures int `json:"failures"`
}

// DLQCounts counts DLQ entries by status.
type DLQCounts struct {
	Pending   int `json:"pending"`
	Permanent int `json:"permanent"`
}

// CollectionStorage is one collection's storage state.
type CollectionStorage struct {
	TenantID   string `json:"tenant_id"`
	Tenant     string `json:"tenant"`
	Name       string `json:"name"`
	ID         string `json:"id"`
	TierPolicy string `json:"tier_policy"`
	// DurableSeq is the last acknowledged write's log sequence number;
	// ShippedSeq what the manifest in the store reaches.
	DurableSeq uint64 `json:"durable_seq"`
	ShippedSeq uint64 `json:"shipped_seq"`
	// ShipLagSeconds is the age of the oldest acknowledged write not yet
	// in the store: 0 means everything acknowledged is there.
	ShipLagSeconds    float64            `json:"ship_lag_seconds"`
	OldestUnshippedAt *time.Time         `json:"oldest_unshipped_at"`
	PendingUploads    int                `json:"pending_uploads"`
	DLQ               DLQCounts          `json:"dlq"`
	NewestSnapshot    *ShippedSnapshot   `json:"newest_snapshot"`
	Manifest          *ManifestReference `json:"manifest"`
	LastPassAt        *time.Time         `json:"last_pass_at"`
	LastShippedAt     *time.Time         `json:"last_shipped_at"`
	LastError         string             `json:"last_error"`

	// LoadState is resident, evicting, evicted, loading or unavailable;
	// LoadReason says why it is unavailable (or why its last eviction
	// failed) and LoadRetryAt when an unavailable one is tried again.
	LoadState   string     `json:"load_state"`
	LoadReason  string     `json:"load_reason"`
	LoadRetryAt *time.Time `json:"load_retry_at"`
	// MemoryBytes is what the collection takes in memory (while it is not
	// in memory: what it took when it left); DiskBytes its local files
	// (snapshots, log, staged uploads).
	MemoryBytes int64      `json:"memory_bytes"`
	DiskBytes   int64      `json:"disk_bytes"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	LoadedAt    *time.Time `json:"loaded_at"`
	EvictedAt   *time.Time `json:"evicted_at"`
	// LoadSource is where the last load read the state (local or store)
	// and LastLoadSeconds how long it took.
	LoadSource      string  `json:"load_source"`
	LastLoadSeconds float64 `json:"last_load_seconds"`
	Loads           uint64  `json:"loads"`
	Evictions       uint64  `json:"evictions"`
	// InUse counts the requests using the collection now; Waiting those
	// waiting for it to load.
	InUse   int `json:"in_use"`
	Waiting int `json:"waiting"`
}

// ShippedSnapshot is the newest snapshot in the store.
type ShippedSnapshot struct {
	Seq    uint64 `json:"seq"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ManifestReference locates a collection's manifest.
type ManifestReference struct {
	Key        string `json:"key"`
	Generation uint64 `json:"generation"`
}

// DLQEntry is a DLQ entry as the API shows it.
type DLQEntry struct {
	ID           int64     `json:"id"`
	TenantID     string    `json:"tenant_id"`
	Collection   string    `json:"collection"`
	CollectionID string    `json:"collection_id"`
	Operation    string    `json:"operation"`
	Kind         string    `json:"kind"`
	ObjectKey    string    `json:"object_key"`
	LocalFile    string    `json:"local_file"`
	Size         int64     `json:"size"`
	SHA256       string    `json:"sha256"`
	FirstSeq     uint64    `json:"first_seq"`
	LastSeq      uint64    `json:"last_seq"`
	RetryCount   int       `json:"retry_count"`
	LastError    string    `json:"last_error"`
	CreatedAt    time.Time `json:"created_at"`
	NextAttempt  time.Time `json:"next_attempt_at"`
	Status       string    `json:"status"`
}

// DLQPage is the body of GET /admin/dlq.
type DLQPage struct {
	Entries    []DLQEntry `json:"entries"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// DLQRetried answers the retry routes.
type DLQRetried struct {
	tier.RetryResult
}

// DLQDiscarded answers DELETE /admin/dlq/{id}.
type DLQDiscarded struct {
	ID        int64 `json:"id"`
	Discarded bool  `json:"discarded"`
}

// BreakerReset answers POST /admin/storage/circuit-breaker/reset.
type BreakerReset struct {
	CircuitBreaker BreakerStatus `json:"circuit_breaker"`
}

// DefaultDLQPage is the page size of GET /admin/dlq without a limit.
const DefaultDLQPage = 100

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// BreakerStatusOf converts the tier's breaker status.
func BreakerStatusOf(b tier.BreakerStatus) BreakerStatus {
	return BreakerStatus{State: b.State.String(), StateValue: int(b.State), Since: b.Since.UTC(), OpenUntil: timePtr(b.OpenUntil),
		CooldownSeconds: b.Cooldown.Seconds(), Successes: b.Successes, Failures: b.Failures, Rejected: b.Rejected, Opens: b.Opens,
		ConsecutiveFailures: b.ConsecutiveFailures, Window: BreakerWindow{Calls: b.WindowCalls, Failures: b.WindowFailures},
		LastError: b.LastError, LastErrorAt: timePtr(b.LastErrorAt)}
}

func dlqEntryOf(e meta.DLQEntry) DLQEntry {
	return DLQEntry{ID: e.ID, TenantID: e.TenantID, Collection: e.CollectionName, CollectionID: e.CollectionID, Operation: e.Operation,
		Kind: e.Kind, ObjectKey: e.ObjectKey, LocalFile: e.LocalFile, Size: e.Size, SHA256: e.SHA256, FirstSeq: e.FirstSeq, LastSeq: e.LastSeq,
		RetryCount: e.RetryCount, LastError: e.LastError, CreatedAt: e.CreatedAt, NextAttempt: e.NextAttemptAt, Status: e.Status}
}

// storageDeps returns the storage source and the caller after checking
// action.
func (g *Guard) storageDeps(ctx context.Context, action auth.Action) (*Deps, api.Caller, error) {
	d, c, err := g.begin(ctx)
	if err != nil {
		return nil, c, err
	}
	if err := auth.Authorize(c, action); err != nil {
		return nil, c, err
	}
	if d.Storage == nil {
		return nil, c, api.Errorf(api.CodeUnavailable, "the storage state is not served by this server")
	}
	return d, c, nil
}

// scopeTenant is the tenant a storage.read caller sees ("" : all).
func scopeTenant(c api.Caller) string {
	if auth.IsOperator(c) {
		return ""
	}
	return c.TenantID
}

// StorageStatus reports the object store, its breaker, and every
// collection's policy and shipping state (storage.read).
func (g *Guard) StorageStatus(ctx context.Context) (StorageStatus, error) {
	d, c, err := g.storageDeps(ctx, auth.ActionStorageRead)
	if err != nil {
		return StorageStatus{}, err
	}
	scope := scopeTenant(c)
	out := StorageStatus{Collections: []CollectionStorage{}}
	t := d.Storage.Tier()
	shipped := map[string]tier.CollectionStatus{}
	counts := map[string]DLQCounts{}
	if t != nil {
		st, err := t.Status(ctx)
		if err != nil {
			return StorageStatus{}, fmt.Errorf("storage status: %w", err)
		}
		out.Enabled = true
		out.Store = &StoreStatus{Name: st.Store, Prefix: st.Prefix, CircuitBreaker: BreakerStatusOf(st.Breaker)}
		for _, cs := range st.Collections {
			shipped[cs.ID] = cs
		}
		for _, n := range st.DLQ {
			c := counts[n.CollectionID]
			if n.Status == meta.DLQPermanent {
				c.Permanent += n.Count
			} else {
				c.Pending += n.Count
			}
			counts[n.CollectionID] = c
		}
	}
	tot := d.Storage.ResidencyTotals()
	out.Memory = MemoryStatus{BudgetBytes: tot.Budget, EvictAfterSeconds: tot.EvictAfter.Seconds(), S3CacheLimitBytes: -1}
	if t != nil {
		out.Memory.S3CacheLimitBytes, out.Memory.S3CacheBytes = tot.CacheLimit, tot.CacheBytes
		if tot.CacheLimit < 0 {
			out.Memory.S3CacheLimitBytes = -1
		}
	}
	names := map[string]string{}
	for _, info := range d.Storage.ListCollections(scope) {
		if _, ok := names[info.TenantID]; !ok {
			names[info.TenantID] = info.TenantID
			if tn, err := d.Store.GetTenant(ctx, info.TenantID); err == nil {
				names[info.TenantID] = tn.Name
			}
		}
		cs := CollectionStorage{TenantID: info.TenantID, Tenant: names[info.TenantID], Name: info.Name, ID: info.ID, TierPolicy: info.TierPolicy,
			DLQ: counts[info.ID]}
		if h, err := d.Storage.Collection(info.TenantID, info.Name); err == nil {
			r := h.Residency()
			cs.DurableSeq = r.Facts.AppliedSeq
			cs.LoadState, cs.LoadReason, cs.LoadRetryAt = string(r.State), r.Reason, timePtr(r.RetryAt)
			cs.MemoryBytes, cs.DiskBytes, cs.LastUsedAt = r.Facts.MemoryBytes, h.DiskBytes(), timePtr(r.LastUsed)
			cs.LoadedAt, cs.EvictedAt, cs.LoadSource, cs.LastLoadSeconds = timePtr(r.LoadedAt), timePtr(r.EvictedAt), r.Source, r.LastLoad.Seconds()
			cs.Loads, cs.Evictions, cs.InUse, cs.Waiting = r.Loads, r.Evictions, r.References, r.Waiting
			out.Memory.Collections++
			switch r.State {
			case engine.LoadResident, engine.LoadEvicting:
				out.Memory.ResidentCollections++
				out.Memory.ResidentBytes += r.Facts.MemoryBytes
			case engine.LoadLoading:
				out.Memory.ResidentBytes += r.Facts.MemoryBytes
			}
		}
		if s, ok := shipped[info.ID]; ok {
			cs.DurableSeq = max(cs.DurableSeq, s.DurableSeq)
			cs.ShippedSeq, cs.ShipLagSeconds, cs.OldestUnshippedAt = s.ShippedSeq, s.ShipLag.Seconds(), timePtr(s.OldestUnshippedAt)
			cs.PendingUploads, cs.LastPassAt, cs.LastShippedAt, cs.LastError = s.PendingUploads, timePtr(s.LastPassAt), timePtr(s.LastShippedAt), s.LastError
			if n := s.NewestSnapshot; n != nil {
				cs.NewestSnapshot = &ShippedSnapshot{Seq: n.LastSeq, Key: s.Prefix + n.Key, Size: n.Size, SHA256: n.SHA256}
			}
			if s.ManifestGeneration > 0 {
				cs.Manifest = &ManifestReference{Key: s.Prefix + tier.ManifestName, Generation: s.ManifestGeneration}
			}
		}
		out.DLQ.Pending += cs.DLQ.Pending
		out.DLQ.Permanent += cs.DLQ.Permanent
		out.Collections = append(out.Collections, cs)
	}
	return out, nil
}

// ListDLQ pages through the DLQ, oldest first (storage.read): status
// pending, permanent or "" for both; cursor is the previous page's
// next_cursor.
func (g *Guard) ListDLQ(ctx context.Context, status, cursor string, limit int) (DLQPage, error) {
	d, c, err := g.storageDeps(ctx, auth.ActionStorageRead)
	if err != nil {
		return DLQPage{}, err
	}
	if status != "" && status != meta.DLQPending && status != meta.DLQPermanent {
		return DLQPage{}, &api.Error{Code: api.CodeInvalidArgument, Message: fmt.Sprintf("status %q is not pending or permanent", status), Details: map[string]any{"field": "status"}}
	}
	switch {
	case limit == 0:
		limit = DefaultDLQPage
	case limit < 0 || limit > meta.MaxDLQPage:
		return DLQPage{}, &api.Error{Code: api.CodeInvalidArgument, Message: fmt.Sprintf("limit must be between 1 and %d", meta.MaxDLQPage), Details: map[string]any{"field": "limit"}}
	}
	var after int64
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 0 {
			return DLQPage{}, &api.Error{Code: api.CodeInvalidArgument, Message: "cursor is not one this server issued", Details: map[string]any{"field": "cursor"}}
		}
		after = n
	}
	filter := meta.DLQFilter{Status: status, TenantID: scopeTenant(c)}
	rows, err := d.Store.ListDLQ(ctx, filter, after, limit)
	if err != nil {
		return DLQPage{}, metaError("list dlq", err)
	}
	out := DLQPage{Entries: make([]DLQEntry, len(rows))}
	for i, r := range rows {
		out.Entries[i] = dlqEntryOf(r)
	}
	if len(rows) == limit {
		// A full page: a cursor only if something follows (the last page
		// has none, as docs/api.md says).
		last := rows[len(rows)-1].ID
		more, err := d.Store.ListDLQ(ctx, filter, last, 1)
		if err != nil {
			return DLQPage{}, metaError("list dlq", err)
		}
		if len(more) > 0 {
			out.NextCursor = strconv.FormatInt(last, 10)
		}
	}
	return out, nil
}

// tierOf returns the tier, or failed_precondition when none is
// configured.
func tierOf(d *Deps) (*tier.Tier, error) {
	t := d.Storage.Tier()
	if t == nil {
		return nil, api.Errorf(api.CodeFailedPrecondition, "this server has no object store: start it with --s3-endpoint and --s3-bucket")
	}
	return t, nil
}

// RetryDLQ retries the oldest pending entries now, up to the batch size,
// whatever their back-off (storage.admin).
func (g *Guard) RetryDLQ(ctx context.Context) (DLQRetried, error) {
	d, _, err := g.storageDeps(ctx, auth.ActionStorageAdmin)
	if err != nil {
		return DLQRetried{}, err
	}
	t, err := tierOf(d)
	if err != nil {
		return DLQRetried{}, err
	}
	res, err := t.DLQ().RetryPending(ctx)
	if err != nil {
		return DLQRetried{}, fmt.Errorf("retry dlq: %w", err)
	}
	return DLQRetried{res}, nil
}

// RetryDLQEntry retries one entry now, pending or permanent
// (storage.admin). With the breaker open it is not tried: unavailable.
func (g *Guard) RetryDLQEntry(ctx context.Context, id int64) (DLQRetried, error) {
	d, _, err := g.storageDeps(ctx, auth.ActionStorageAdmin)
	if err != nil {
		return DLQRetried{}, err
	}
	CallFrom(ctx).SetTarget(strconv.FormatInt(id, 10))
	t, err := tierOf(d)
	if err != nil {
		return DLQRetried{}, err
	}
	res, err := t.DLQ().RetryEntry(ctx, id)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return DLQRetried{}, api.Errorf(api.CodeNotFound, "dlq entry %d not found", id)
	case errors.Is(err, tier.ErrBreakerOpen):
		return DLQRetried{}, &api.Error{Code: api.CodeUnavailable, Message: "the object store's circuit breaker is open; retry after its cool-down or reset it", RetryAfterSeconds: 30}
	case err != nil:
		return DLQRetried{}, fmt.Errorf("retry dlq entry %d: %w", id, err)
	}
	return DLQRetried{res}, nil
}

// DiscardDLQEntry removes an entry without retrying it (storage.admin).
func (g *Guard) DiscardDLQEntry(ctx context.Context, id int64) (DLQDiscarded, error) {
	d, _, err := g.storageDeps(ctx, auth.ActionStorageAdmin)
	if err != nil {
		return DLQDiscarded{}, err
	}
	CallFrom(ctx).SetTarget(strconv.FormatInt(id, 10))
	if t := d.Storage.Tier(); t != nil {
		_, err = t.DLQ().Discard(ctx, id)
	} else {
		err = d.Store.DeleteDLQEntry(ctx, id)
	}
	if errors.Is(err, meta.ErrNotFound) {
		return DLQDiscarded{}, api.Errorf(api.CodeNotFound, "dlq entry %d not found", id)
	}
	if err != nil {
		return DLQDiscarded{}, fmt.Errorf("discard dlq entry %d: %w", id, err)
	}
	return DLQDiscarded{ID: id, Discarded: true}, nil
}

// ResetBreaker closes the object store's circuit breaker (storage.admin).
func (g *Guard) ResetBreaker(ctx context.Context) (BreakerReset, error) {
	d, _, err := g.storageDeps(ctx, auth.ActionStorageAdmin)
	if err != nil {
		return BreakerReset{}, err
	}
	t, err := tierOf(d)
	if err != nil {
		return BreakerReset{}, err
	}
	t.Breaker().Reset()
	return BreakerReset{CircuitBreaker: BreakerStatusOf(t.Breaker().Status())}, nil
}
