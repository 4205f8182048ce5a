package grpc

import (
	"context"
	"fmt"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
	"github.com/akidb/akidb/serve/limits"
)

// The ManagementService's quota, key rate and runtime configuration RPCs:
// convert, call the guard (as REST's /admin routes do), convert back.

func tenantQuotaOut(q access.TenantQuota) *akidbv1.TenantQuota {
	out := &akidbv1.TenantQuota{
		TenantId: q.TenantID,
		Quota: &akidbv1.QuotaLimits{QpsLimit: q.Quota.QPSLimit, Burst: q.Quota.Burst, MaxCollections: q.Quota.MaxCollections,
			MaxVectors: q.Quota.MaxVectors, MaxStorageBytes: q.Quota.MaxStorageBytes, MaxDiskBytes: q.Quota.MaxDiskBytes},
		Effective: &akidbv1.EffectiveQuota{RateLimitEnabled: q.Effective.RateLimitEnabled, QpsLimit: q.Effective.QPS, Burst: int64(q.Effective.Burst),
			MaxCollections: q.Effective.MaxCollections, MaxVectors: q.Effective.MaxVectors, MaxStorageBytes: q.Effective.MaxStorageBytes,
			MaxDiskBytes: q.Effective.MaxDiskBytes},
	}
	if q.Quota.UpdatedAt != nil {
		out.Quota.UpdatedAt = timeOut(*q.Quota.UpdatedAt)
	}
	if q.Usage != nil {
		out.Usage = &akidbv1.QuotaUsage{Collections: q.Usage.Collections, Vectors: q.Usage.Vectors, StorageBytes: q.Usage.StorageBytes,
			DiskBytes: q.Usage.DiskBytes}
	}
	return out
}

// quotaUpdateIn turns a SetTenantQuotaRequest into the partial update REST
// decodes from JSON: a set field sets, a field named in reset returns to
// the default (JSON null), the others stay.
func quotaUpdateIn(req *akidbv1.SetTenantQuotaRequest) (limits.QuotaUpdate, error) {
	var u limits.QuotaUpdate
	if req.QpsLimit != nil {
		u.QPSLimit = meta.SetTo(req.GetQpsLimit())
	}
	for _, f := range []struct {
		v *int64
		p *meta.Patch[int64]
	}{{req.Burst, &u.Burst}, {req.MaxCollections, &u.MaxCollections}, {req.MaxVectors, &u.MaxVectors}, {req.MaxStorageBytes, &u.MaxStorageBytes},
		{req.MaxDiskBytes, &u.MaxDiskBytes}} {
		if f.v != nil {
			*f.p = meta.SetTo(*f.v)
		}
	}
	for _, name := range req.GetResetFields() {
		var set bool
		switch name {
		case "qps_limit":
			set, u.QPSLimit = u.QPSLimit.Set, meta.SetNull[float64]()
		case "burst":
			set, u.Burst = u.Burst.Set, meta.SetNull[int64]()
		case "max_collections":
			set, u.MaxCollections = u.MaxCollections.Set, meta.SetNull[int64]()
		case "max_vectors":
			set, u.MaxVectors = u.MaxVectors.Set, meta.SetNull[int64]()
		case "max_storage_bytes":
			set, u.MaxStorageBytes = u.MaxStorageBytes.Set, meta.SetNull[int64]()
		case "max_disk_bytes":
			set, u.MaxDiskBytes = u.MaxDiskBytes.Set, meta.SetNull[int64]()
		default:
			return u, &api.Error{Code: api.CodeInvalidArgument, Message: fmt.Sprintf("reset_fields: %q is not one of qps_limit, burst, max_collections, max_vectors, max_storage_bytes, max_disk_bytes", clipString(name, 64)),
				Details: map[string]any{"field": "reset_fields"}}
		}
		if set {
			return u, &api.Error{Code: api.CodeInvalidArgument, Message: fmt.Sprintf("reset_fields: %s is both set and reset, or reset twice", name),
				Details: map[string]any{"field": name}}
		}
	}
	return u, nil
}

func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func keyRateOut(k access.KeyRateLimit) *akidbv1.KeyRateLimit {
	return &akidbv1.KeyRateLimit{KeyId: k.KeyID, TenantId: k.TenantID, QpsLimit: k.QPSLimit, Burst: k.Burst,
		EffectiveBurst: int64(k.EffectiveBurst), UpdatedAt: timeOut(k.UpdatedAt)}
}

func runtimeConfigOut(c access.RuntimeConfig) *akidbv1.RuntimeConfig {
	out := &akidbv1.RuntimeConfig{
		RateLimiting: &akidbv1.RateLimitConfig{Enabled: c.RateLimiting.Enabled, DefaultQps: c.RateLimiting.DefaultQPS,
			DefaultBurstMultiplier: c.RateLimiting.DefaultBurstMultiplier},
		QuotaDefaults: &akidbv1.QuotaDefaults{MaxCollections: c.QuotaDefaults.MaxCollections, MaxVectors: c.QuotaDefaults.MaxVectors,
			MaxStorageBytes: c.QuotaDefaults.MaxStorageBytes, MaxDiskBytes: c.QuotaDefaults.MaxDiskBytes},
	}
	if s := c.Server; s != nil {
		l := s.RequestLimits
		out.Server = &akidbv1.ServerSettings{Version: s.Version, AuthEnabled: s.AuthEnabled, TlsEnabled: s.TLSEnabled, RestAddr: s.RESTAddr,
			GrpcAddr: s.GRPCAddr, MaxInFlight: int64(s.MaxInFlight), InFlight: int64(s.InFlight), RequestTimeoutSeconds: s.RequestTimeoutSeconds,
			MemoryLimitBytes: s.MemoryLimitBytes, MemoryLimitSource: s.MemoryLimitSource,
			TenantInFlightShare: s.TenantInFlightShare, TenantMaxInFlight: int64(s.TenantMaxInFlight), BodyTimeoutSeconds: s.BodyTimeoutSeconds,
			MaxInflightBodyBytes: s.MaxInflightBodyBytes, InflightBodyBytes: s.InflightBodyBytes, MaxResponseBytes: s.MaxResponseBytes,
			RequestLimits: &akidbv1.RequestLimits{MaxBatch: int64(l.MaxBatch), MaxK: int64(l.MaxK), MaxEf: int64(l.MaxEf), MaxIdBytes: int64(l.MaxIDBytes),
				MaxMetadataBytes: int64(l.MaxMetadataBytes), MaxDimension: int64(l.MaxDimension), MaxBodyBytes: l.MaxBodyBytes,
				MaxDeleteIds: int64(l.MaxDeleteIDs), MaxScrollLimit: int64(l.MaxScrollLimit)}}
	}
	return out
}

func (m *managementServer) GetTenantQuota(ctx context.Context, req *akidbv1.GetTenantQuotaRequest) (*akidbv1.TenantQuota, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	q, err := m.s.guard.GetQuota(ctx, req.GetTenant())
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return tenantQuotaOut(q), nil
}

func (m *managementServer) SetTenantQuota(ctx context.Context, req *akidbv1.SetTenantQuotaRequest) (*akidbv1.TenantQuota, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	u, err := quotaUpdateIn(req)
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	q, err := m.s.guard.SetQuota(ctx, req.GetTenant(), u)
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return tenantQuotaOut(q), nil
}

func (m *managementServer) GetKeyRateLimit(ctx context.Context, req *akidbv1.GetKeyRateLimitRequest) (*akidbv1.KeyRateLimit, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	k, err := m.s.guard.GetKeyRate(ctx, req.GetId())
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return keyRateOut(k), nil
}

func (m *managementServer) SetKeyRateLimit(ctx context.Context, req *akidbv1.SetKeyRateLimitRequest) (*akidbv1.KeyRateLimit, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	k, err := m.s.guard.SetKeyRate(ctx, req.GetId(), limits.KeyRateUpdate{QPSLimit: req.GetQpsLimit(), Burst: req.Burst})
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return keyRateOut(k), nil
}

func (m *managementServer) ClearKeyRateLimit(ctx context.Context, req *akidbv1.ClearKeyRateLimitRequest) (*akidbv1.ClearKeyRateLimitResponse, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	r, err := m.s.guard.ClearKeyRate(ctx, req.GetId())
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return &akidbv1.ClearKeyRateLimitResponse{KeyId: r.KeyID, Cleared: r.Cleared}, nil
}

func (m *managementServer) GetRuntimeConfig(ctx context.Context, _ *akidbv1.GetRuntimeConfigRequest) (*akidbv1.RuntimeConfig, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	c, err := m.s.guard.GetConfig(ctx)
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return runtimeConfigOut(c), nil
}

func (m *managementServer) SetRateLimitConfig(ctx context.Context, req *akidbv1.SetRateLimitConfigRequest) (*akidbv1.RuntimeConfig, error) {
	if m.s.guard == nil {
		return nil, noGuard()
	}
	c, err := m.s.guard.SetRateLimit(ctx, limits.RateLimitUpdate{Enabled: req.Enabled, DefaultQPS: req.DefaultQps, DefaultBurstMultiplier: req.DefaultBurstMultiplier})
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return runtimeConfigOut(c), nil
}
