package top

import (
	"context"

	dto "github.com/prometheus/client_model/go"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
)

// Client is what top asks of a server. *admin.Remote implements it;
// errors the server decided are *api.Error, answers without the API's
// envelope *admin.HTTPError, and no answer at all any other error.
type Client interface {
	// Ready asks /readyz (no credentials); any HTTP answer is a result.
	Ready(ctx context.Context) (admin.HealthResult, error)
	// Status is GET /api/v1/status (the version, for a server without
	// akidb_build_info).
	Status(ctx context.Context) (api.StatusResponse, error)
	// Metrics scrapes /metrics, or /admin/metrics with tenants; names, if
	// given, are the only families wanted.
	Metrics(ctx context.Context, tenants bool, names ...string) (map[string]*dto.MetricFamily, error)
	ListTenants(ctx context.Context) ([]access.Tenant, error)
	StorageStatus(ctx context.Context) (access.StorageStatus, error)
	ListDLQ(ctx context.Context, status, cursor string, limit int) (access.DLQPage, error)
	RetryDLQ(ctx context.Context) (access.DLQRetried, error)
	RetryDLQEntry(ctx context.Context, id int64) (access.DLQRetried, error)
	DiscardDLQEntry(ctx context.Context, id int64) (access.DLQDiscarded, error)
	ResetBreaker(ctx context.Context) (access.BreakerReset, error)
}

var _ Client = (*admin.Remote)(nil)
