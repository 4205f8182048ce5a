package grpc

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// The object storage tier's RPCs: convert, call the service or the
// guard's administration (what REST's routes call), convert back.

func (c *collectionServer) UpdateCollection(ctx context.Context, req *akidbv1.UpdateCollectionRequest) (*akidbv1.Collection, error) {
	col, err := c.s.svc.UpdateCollection(ctx, req.GetName(), api.UpdateCollectionRequest{TierPolicy: req.TierPolicy, Quantization: quantizationIn(req.GetQuantization())})
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	return collectionOut(col), nil
}

func (m *managementServer) CheckpointCollection(ctx context.Context, req *akidbv1.CheckpointCollectionRequest) (*akidbv1.CheckpointCollectionResponse, error) {
	res, err := m.s.svc.CheckpointCollection(ctx, req.GetName())
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return &akidbv1.CheckpointCollectionResponse{Collection: res.Collection, SnapshotSeq: res.SnapshotSeq, TierPolicy: res.TierPolicy, UploadQueued: res.UploadQueued}, nil
}

func (m *managementServer) LoadCollection(ctx context.Context, req *akidbv1.LoadCollectionRequest) (*akidbv1.CollectionResidency, error) {
	res, err := m.s.svc.LoadCollection(ctx, req.GetName())
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return residencyOut(res), nil
}

func (m *managementServer) EvictCollection(ctx context.Context, req *akidbv1.EvictCollectionRequest) (*akidbv1.CollectionResidency, error) {
	res, err := m.s.svc.EvictCollection(ctx, req.GetName())
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return residencyOut(res), nil
}

func residencyOut(r api.ResidencyResponse) *akidbv1.CollectionResidency {
	return &akidbv1.CollectionResidency{Collection: r.Collection, TierPolicy: r.TierPolicy, LoadState: r.LoadState, MemoryBytes: r.MemoryBytes,
		LastUsedAt: timePtrOut(r.LastUsedAt), LoadSource: r.LoadSource, LoadSeconds: r.LoadSeconds, Loads: r.Loads, Evictions: r.Evictions}
}

// timePtrOut converts an optional time (nil: unset).
func timePtrOut(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timeOut(*t)
}

func breakerOut(b access.BreakerStatus) *akidbv1.CircuitBreakerStatus {
	out := &akidbv1.CircuitBreakerStatus{State: b.State, StateValue: int32(b.StateValue), Since: timeOut(b.Since), CooldownSeconds: b.CooldownSeconds,
		Successes: b.Successes, Failures: b.Failures, Rejected: b.Rejected, Opens: b.Opens, ConsecutiveFailures: int32(b.ConsecutiveFailures),
		WindowCalls: int32(b.Window.Calls), WindowFailures: int32(b.Window.Failures), LastError: b.LastError}
	if b.OpenUntil != nil {
		out.OpenUntil = timeOut(*b.OpenUntil)
	}
	if b.LastErrorAt != nil {
		out.LastErrorAt = timeOut(*b.LastErrorAt)
	}
	return out
}

func countsOut(c access.DLQCounts) *akidbv1.DLQCounts {
	return &akidbv1.DLQCounts{Pending: int64(c.Pending), Permanent: int64(c.Permanent)}
}

func (m *managementServer) GetStorageStatus(ctx context.Context, _ *akidbv1.GetStorageStatusRequest) (*akidbv1.StorageStatus, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	st, err := m.s.guard.StorageStatus(ctx)
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	mem := st.Memory
	out := &akidbv1.StorageStatus{Enabled: st.Enabled, Dlq: countsOut(st.DLQ), Collections: make([]*akidbv1.CollectionStorage, len(st.Collections)),
		Memory: &akidbv1.MemoryStatus{BudgetBytes: mem.BudgetBytes, EvictAfterSeconds: mem.EvictAfterSeconds, ResidentBytes: mem.ResidentBytes,
			ResidentCollections: int32(mem.ResidentCollections), Collections: int32(mem.Collections), S3CacheLimitBytes: mem.S3CacheLimitBytes,
			S3CacheBytes: mem.S3CacheBytes}}
	if st.Store != nil {
		out.Store = &akidbv1.StoreStatus{Name: st.Store.Name, Prefix: st.Store.Prefix, CircuitBreaker: breakerOut(st.Store.CircuitBreaker)}
	}
	for i, c := range st.Collections {
		cs := &akidbv1.CollectionStorage{TenantId: c.TenantID, Tenant: c.Tenant, Name: c.Name, Id: c.ID, TierPolicy: c.TierPolicy,
			DurableSeq: c.DurableSeq, ShippedSeq: c.ShippedSeq, ShipLagSeconds: c.ShipLagSeconds, PendingUploads: int64(c.PendingUploads),
			Dlq: countsOut(c.DLQ), LastError: c.LastError,
			LoadState: c.LoadState, LoadReason: c.LoadReason, LoadRetryAt: timePtrOut(c.LoadRetryAt), MemoryBytes: c.MemoryBytes, DiskBytes: c.DiskBytes,
			LastUsedAt: timePtrOut(c.LastUsedAt), LoadedAt: timePtrOut(c.LoadedAt), EvictedAt: timePtrOut(c.EvictedAt), LoadSource: c.LoadSource,
			LastLoadSeconds: c.LastLoadSeconds, Loads: c.Loads, Evictions: c.Evictions, InUse: int32(c.InUse), Waiting: int32(c.Waiting)}
		if c.OldestUnshippedAt != nil {
			cs.OldestUnshippedAt = timeOut(*c.OldestUnshippedAt)
		}
		if c.LastPassAt != nil {
			cs.LastPassAt = timeOut(*c.LastPassAt)
		}
		if c.LastShippedAt != nil {
			cs.LastShippedAt = timeOut(*c.LastShippedAt)
		}
		if n := c.NewestSnapshot; n != nil {
			cs.NewestSnapshot = &akidbv1.ShippedSnapshot{Seq: n.Seq, Key: n.Key, Size: n.Size, Sha256: n.SHA256}
		}
		if c.Manifest != nil {
			cs.ManifestKey, cs.ManifestGeneration = c.Manifest.Key, c.Manifest.Generation
		}
		out.Collections[i] = cs
	}
	return out, nil
}

func (m *managementServer) ListDLQ(ctx context.Context, req *akidbv1.ListDLQRequest) (*akidbv1.ListDLQResponse, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	if req.GetLimit() < 0 {
		return nil, ErrorStatus(&api.Error{Code: api.CodeInvalidArgument, Message: "limit: must not be negative", Details: map[string]any{"field": "limit"}}).Err()
	}
	page, err := m.s.guard.ListDLQ(ctx, req.GetStatus(), req.GetCursor(), int(req.GetLimit()))
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	out := &akidbv1.ListDLQResponse{Entries: make([]*akidbv1.DLQEntry, len(page.Entries)), NextCursor: page.NextCursor}
	for i, e := range page.Entries {
		out.Entries[i] = &akidbv1.DLQEntry{Id: e.ID, TenantId: e.TenantID, Collection: e.Collection, CollectionId: e.CollectionID,
			Operation: e.Operation, Kind: e.Kind, ObjectKey: e.ObjectKey, LocalFile: e.LocalFile, Size: e.Size, Sha256: e.SHA256,
			FirstSeq: e.FirstSeq, LastSeq: e.LastSeq, RetryCount: int32(e.RetryCount), LastError: e.LastError,
			CreatedAt: timeOut(e.CreatedAt), NextAttemptAt: timeOut(e.NextAttempt), Status: e.Status}
	}
	return out, nil
}

func retriedOut(r access.DLQRetried) *akidbv1.DLQRetryResult {
	return &akidbv1.DLQRetryResult{Attempted: int32(r.Attempted), Succeeded: int32(r.Succeeded), Obsolete: int32(r.Obsolete),
		Failed: int32(r.Failed), Permanent: int32(r.Permanent), Deferred: int32(r.Deferred)}
}

func (m *managementServer) RetryDLQ(ctx context.Context, _ *akidbv1.RetryDLQRequest) (*akidbv1.DLQRetryResult, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	res, err := m.s.guard.RetryDLQ(ctx)
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return retriedOut(res), nil
}

// dlqIDIn checks a DLQ entry id.
func dlqIDIn(id int64) error {
	if id < 1 {
		return ErrorStatus(&api.Error{Code: api.CodeInvalidArgument, Message: "id: a DLQ entry id is a positive integer", Details: map[string]any{"field": "id"}}).Err()
	}
	return nil
}

func (m *managementServer) RetryDLQEntry(ctx context.Context, req *akidbv1.RetryDLQEntryRequest) (*akidbv1.DLQRetryResult, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	if err := dlqIDIn(req.GetId()); err != nil {
		return nil, err
	}
	res, err := m.s.guard.RetryDLQEntry(ctx, req.GetId())
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return retriedOut(res), nil
}

func (m *managementServer) DiscardDLQEntry(ctx context.Context, req *akidbv1.DiscardDLQEntryRequest) (*akidbv1.DiscardDLQEntryResponse, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	if err := dlqIDIn(req.GetId()); err != nil {
		return nil, err
	}
	res, err := m.s.guard.DiscardDLQEntry(ctx, req.GetId())
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return &akidbv1.DiscardDLQEntryResponse{Id: res.ID, Discarded: res.Discarded}, nil
}

func (m *managementServer) ResetCircuitBreaker(ctx context.Context, _ *akidbv1.ResetCircuitBreakerRequest) (*akidbv1.ResetCircuitBreakerResponse, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	res, err := m.s.guard.ResetBreaker(ctx)
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return &akidbv1.ResetCircuitBreakerResponse{CircuitBreaker: breakerOut(res.CircuitBreaker)}, nil
}
