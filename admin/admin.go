package admin

import (
	"context"
	"time"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/limits"
)

// Admin manages tenants and API keys, online (Remote) or offline (Local).
// Errors the server or the catalog decided are *api.Error (code and
// message as the REST API answers them).
type Admin interface {
	CreateTenant(ctx context.Context, name string) (access.Tenant, error)
	ListTenants(ctx context.Context) ([]access.Tenant, error)
	// DeleteTenant deletes a tenant by id or name; force drops its
	// collections first (online only: that needs the engine).
	DeleteTenant(ctx context.Context, id string, force bool) (access.TenantDeleted, error)
	CreateKey(ctx context.Context, req access.CreateKeyRequest) (access.CreatedKey, error)
	// ListKeys lists a tenant's keys ("" : the caller's; an operator's:
	// every tenant's).
	ListKeys(ctx context.Context, tenant string) ([]auth.KeyInfo, error)
	RevokeKey(ctx context.Context, id string) (auth.KeyInfo, error)
	// RotateKey replaces a key; the old one keeps working for overlap
	// (0: revoked now).
	RotateKey(ctx context.Context, id string, overlap time.Duration) (access.RotatedKey, error)
	// ListAudit pages through the audit trail, newest first.
	ListAudit(ctx context.Context, tenant, cursor string, limit int) (auth.EventPage, error)

	// GetQuota returns a tenant's (id or name) quota, what applies and,
	// online, its usage (offline: Usage is nil).
	GetQuota(ctx context.Context, tenant string) (access.TenantQuota, error)
	// SetQuota changes a tenant's quota partially.
	SetQuota(ctx context.Context, tenant string, u limits.QuotaUpdate) (access.TenantQuota, error)
	// GetKeyRate, SetKeyRate and ClearKeyRate read, set and remove an API
	// key's own rate limit.
	GetKeyRate(ctx context.Context, id string) (access.KeyRateLimit, error)
	SetKeyRate(ctx context.Context, id string, u limits.KeyRateUpdate) (access.KeyRateLimit, error)
	ClearKeyRate(ctx context.Context, id string) (access.KeyRateLimitCleared, error)
	// GetConfig returns the effective configuration (offline: Server is
	// nil, and the quota defaults are the server's flags, which offline
	// administration does not know: shown as unlimited).
	GetConfig(ctx context.Context) (access.RuntimeConfig, error)
	// SetRateLimit changes the rate limit defaults.
	SetRateLimit(ctx context.Context, u limits.RateLimitUpdate) (access.RuntimeConfig, error)
	Close() error
}

// overlapString writes an overlap the way the API reads it.
func overlapString(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return d.String()
}
