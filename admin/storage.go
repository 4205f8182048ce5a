package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
)

// The object storage tier's operations are online only: they need the
// running server's tier (its store, breaker and retry worker).

// StorageStatus calls GET /admin/storage/status.
func (r *Remote) StorageStatus(ctx context.Context) (access.StorageStatus, error) {
	var st access.StorageStatus
	err := r.call(ctx, http.MethodGet, "/admin/storage/status", nil, nil, &st)
	return st, err
}

// ListDLQ calls GET /admin/dlq.
func (r *Remote) ListDLQ(ctx context.Context, status, cursor string, limit int) (access.DLQPage, error) {
	var page access.DLQPage
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	err := r.call(ctx, http.MethodGet, "/admin/dlq", q, nil, &page)
	return page, err
}

// RetryDLQ calls POST /admin/dlq/retry.
func (r *Remote) RetryDLQ(ctx context.Context) (access.DLQRetried, error) {
	var res access.DLQRetried
	err := r.call(ctx, http.MethodPost, "/admin/dlq/retry", nil, nil, &res)
	return res, err
}

// RetryDLQEntry calls POST /admin/dlq/{id}/retry.
func (r *Remote) RetryDLQEntry(ctx context.Context, id int64) (access.DLQRetried, error) {
	var res access.DLQRetried
	err := r.call(ctx, http.MethodPost, "/admin/dlq/"+strconv.FormatInt(id, 10)+"/retry", nil, nil, &res)
	return res, err
}

// DiscardDLQEntry calls DELETE /admin/dlq/{id}.
func (r *Remote) DiscardDLQEntry(ctx context.Context, id int64) (access.DLQDiscarded, error) {
	var res access.DLQDiscarded
	err := r.call(ctx, http.MethodDelete, "/admin/dlq/"+strconv.FormatInt(id, 10), nil, nil, &res)
	return res, err
}

// ResetBreaker calls POST /admin/storage/circuit-breaker/reset.
func (r *Remote) ResetBreaker(ctx context.Context) (access.BreakerReset, error) {
	var res access.BreakerReset
	err := r.call(ctx, http.MethodPost, "/admin/storage/circuit-breaker/reset", nil, nil, &res)
	return res, err
}

// Checkpoint calls POST /admin/collections/{name}/checkpoint.
func (r *Remote) Checkpoint(ctx context.Context, name string) (api.CheckpointResponse, error) {
	var res api.CheckpointResponse
	err := r.call(ctx, http.MethodPost, "/admin/collections/"+esc(name)+"/checkpoint", nil, nil, &res)
	return res, err
}

// LoadCollection loads an evicted collection into memory now
// (POST /admin/collections/{name}/load).
func (r *Remote) LoadCollection(ctx context.Context, name string) (api.ResidencyResponse, error) {
	var res api.ResidencyResponse
	err := r.call(ctx, http.MethodPost, "/admin/collections/"+esc(name)+"/load", nil, nil, &res)
	return res, err
}

// EvictCollection evicts a memory-s3 or s3-only collection from memory
// now (POST /admin/collections/{name}/evict).
func (r *Remote) EvictCollection(ctx context.Context, name string) (api.ResidencyResponse, error) {
	var res api.ResidencyResponse
	err := r.call(ctx, http.MethodPost, "/admin/collections/"+esc(name)+"/evict", nil, nil, &res)
	return res, err
}
