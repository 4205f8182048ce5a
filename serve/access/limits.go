package access

import (
	"context"
	"encoding/json"
	"math"
	"runtime/debug"
	"time"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/limits"
	"github.com/akidb/akidb/serve/ratelimit"
)

// LimitDeps are the rate limits, quotas and runtime settings the guard
// applies and administers (serve/limits, serve/ratelimit).
type LimitDeps struct {
	// Quotas and Config are required: every tenant's quota and key's rate,
	// and the runtime settings.
	Quotas *limits.Quotas
	Config *limits.RuntimeConfig
	// Limiter takes a token per request, after authentication and before
	// authorization. Nil: nothing is rate limited (offline administration).
	Limiter *ratelimit.Limiter
	// Metrics counts rate limit decisions; nil counts nothing.
	Metrics *limits.Metrics
	// Usage reports usage beside a quota; nil (offline): not reported.
	Usage limits.UsageSource
	// Server describes the running server in GET /admin/config; nil
	// (offline): "server" is null.
	Server func() ServerSettings
}

// TenantQuota is the body of GET and POST /admin/tenants/{id}/quota: the
// quota as stored (null: the default), what applies now, and the usage.
type TenantQuota struct {
	limits.TenantQuota
	// Usage is the tenant's usage now (serve/limits.EngineUsage); null
	// when no server runs (offline administration reads no collection).
	Usage *limits.Usage `json:"usage"`
}

// QuotaDefaults are the storage maxima of tenants whose quota sets none
// (`akidb serve --quota-max-*`); null is unlimited.
type QuotaDefaults struct {
	MaxCollections  *int64 `json:"max_collections"`
	MaxVectors      *int64 `json:"max_vectors"`
	MaxStorageBytes *int64 `json:"max_storage_bytes"`
	MaxDiskBytes    *int64 `json:"max_disk_bytes"`
}

// RequestLimits are the per-request limits of the running server.
type RequestLimits struct {
	MaxBatch         int   `json:"max_batch"`
	MaxK             int   `json:"max_k"`
	MaxEf            int   `json:"max_ef"`
	MaxIDBytes       int   `json:"max_id_bytes"`
	MaxMetadataBytes int   `json:"max_metadata_bytes"`
	MaxDimension     int   `json:"max_dimension"`
	MaxBodyBytes     int64 `json:"max_body_bytes"`
	MaxDeleteIDs     int   `json:"max_delete_ids"`
	MaxScrollLimit   int   `json:"max_scroll_limit"`
}

// RequestLimitsOf converts api.Limits.
func RequestLimitsOf(l api.Limits) RequestLimits {
	return RequestLimits{MaxBatch: l.MaxBatch, MaxK: l.MaxK, MaxEf: l.MaxEf, MaxIDBytes: l.MaxIDBytes, MaxMetadataBytes: l.MaxMetadataBytes,
		MaxDimension: l.MaxDimension, MaxBodyBytes: l.MaxBodyBytes, MaxDeleteIDs: l.MaxDeleteIDs, MaxScrollLimit: l.MaxScrollLimit}
}

// ServerSettings are the running server's settings that are fixed at
// start (flags and config file), shown in GET /admin/config. Never a
// secret.
type ServerSettings struct {
	Version     string `json:"version"`
	AuthEnabled bool   `json:"auth_enabled"`
	TLSEnabled  bool   `json:"tls_enabled"`
	RESTAddr    string `json:"rest_addr"`
	GRPCAddr    string `json:"grpc_addr"`
	// MaxInFlight is the in-flight bound (--max-in-flight), InFlight the
	// requests admitted now.
	MaxInFlight           int     `json:"max_in_flight"`
	InFlight              int     `json:"in_flight"`
	RequestTimeoutSeconds float64 `json:"request_timeout_seconds"`
	// TenantInFlightShare is the share of the bounds one tenant may hold
	// (--tenant-in-flight-share), TenantMaxInFlight what it comes to of
	// MaxInFlight.
	TenantInFlightShare float64 `json:"tenant_in_flight_share"`
	TenantMaxInFlight   int     `json:"tenant_max_in_flight"`
	// BodyTimeoutSeconds bounds the sending of a REST body or a gRPC
	// message (--body-timeout).
	BodyTimeoutSeconds float64 `json:"body_timeout_seconds"`
	// MaxInflightBodyBytes is the body budget (--max-inflight-body-bytes),
	// InflightBodyBytes what requests hold of it now.
	MaxInflightBodyBytes int64 `json:"max_inflight_body_bytes"`
	InflightBodyBytes    int64 `json:"inflight_body_bytes"`
	// MaxResponseBytes bounds an answer (--max-response-bytes, or the
	// default the request limits give).
	MaxResponseBytes int64 `json:"max_response_bytes"`
	// MemoryLimitBytes is the Go runtime's soft memory limit in force
	// (GOMEMLIMIT or the default; null: none), MemoryLimitSource where
	// it came from.
	MemoryLimitBytes  *int64        `json:"memory_limit_bytes"`
	MemoryLimitSource string        `json:"memory_limit_source,omitempty"`
	RequestLimits     RequestLimits `json:"request_limits"`
}

// CurrentMemoryLimit is the runtime's soft memory limit in force, nil for
// none.
func CurrentMemoryLimit() *int64 {
	v := debug.SetMemoryLimit(-1) // a negative input reads without changing
	if v == math.MaxInt64 {
		return nil
	}
	return &v
}

// RuntimeConfig is the body of GET /admin/config and of the answer to
// POST /admin/config/rate-limit: the effective configuration. Only
// rate_limiting changes at run time; the rest is fixed at start.
type RuntimeConfig struct {
	RateLimiting  limits.RateLimitConfig `json:"rate_limiting"`
	QuotaDefaults QuotaDefaults          `json:"quota_defaults"`
	// Server is null offline.
	Server *ServerSettings `json:"server"`
}

// KeyRateLimit is an API key's own rate limit (GET/POST
// /admin/api-keys/{id}/rate-limit).
type KeyRateLimit struct {
	limits.KeyRate
	TenantID string `json:"tenant_id"`
	// EffectiveBurst is the key's bucket size: burst, or qps_limit × the
	// default burst multiplier when burst is null.
	EffectiveBurst int `json:"effective_burst"`
}

// KeyRateLimitCleared answers DELETE /admin/api-keys/{id}/rate-limit.
type KeyRateLimitCleared struct {
	KeyID   string `json:"key_id"`
	Cleared bool   `json:"cleared"`
}

// limitsOf returns the limit dependencies, or unavailable without them.
func limitsOf(d *Deps) (*LimitDeps, error) {
	if d.Limits == nil || d.Limits.Quotas == nil || d.Limits.Config == nil {
		return nil, api.Errorf(api.CodeUnavailable, "this server runs without rate limits and quotas")
	}
	return d.Limits, nil
}

// rateLimit takes the caller's token (tenant and key buckets) after
// authentication, tells req.OnRateLimit the decision (for the response
// headers, also on a refusal) and refuses with rate_limited (429).
// Refusals are not audited: a flood must not become database writes; the
// metrics count them.
func (g *Guard) rateLimit(d *Deps, c api.Caller, req Request) error {
	l := d.Limits
	if l == nil || l.Limiter == nil || l.Quotas == nil {
		return nil
	}
	dec := l.Limiter.Allow(c.TenantID, c.KeyID, l.Quotas.RatesFor(c.TenantID, c.KeyID))
	if !dec.Limited() {
		return nil
	}
	l.Metrics.ObserveRateLimit(c.TenantID, dec.Allowed)
	if req.OnRateLimit != nil {
		req.OnRateLimit(dec)
	}
	if e := dec.Err(c.TenantID, c.KeyID); e != nil {
		g.log.Debug("rate limited", "tenant", c.TenantID, "key", c.KeyID, "action", req.Action,
			"retry_after_s", e.RetryAfterSeconds, "request_id", req.RequestID)
		return e
	}
	return nil
}

// quotaView adds the usage to a quota.
func quotaView(l *LimitDeps, tq limits.TenantQuota) TenantQuota {
	out := TenantQuota{TenantQuota: tq}
	if l.Usage != nil {
		u := l.Usage.TenantUsage(tq.TenantID)
		out.Usage = &u
	}
	return out
}

// GetQuota returns a tenant's (id or name) quota, what applies and its
// usage. quota.read: a writer or admin of the tenant, or the operator;
// another tenant's is not_found.
func (g *Guard) GetQuota(ctx context.Context, tenant string) (TenantQuota, error) {
	d, c, l, err := g.beginLimits(ctx, auth.ActionQuotaRead)
	if err != nil {
		return TenantQuota{}, err
	}
	t, err := resolveTenant(ctx, d, tenant)
	if err != nil {
		return TenantQuota{}, err
	}
	if err := auth.AuthorizeTenant(c, auth.ActionQuotaRead, t.ID); err != nil {
		return TenantQuota{}, hidden(err, tenantWhat(tenant))
	}
	CallFrom(ctx).SetTarget(t.ID)
	tq, err := l.Quotas.Get(ctx, t.ID)
	if err != nil {
		return TenantQuota{}, err
	}
	return quotaView(l, tq), nil
}

// SetQuota changes a tenant's quota partially (absent fields stay, null
// returns a field to the default); quota.write, operator only. It applies
// from the tenant's next request and survives restarts.
func (g *Guard) SetQuota(ctx context.Context, tenant string, u limits.QuotaUpdate) (TenantQuota, error) {
	d, _, l, err := g.beginLimits(ctx, auth.ActionQuotaWrite)
	if err != nil {
		return TenantQuota{}, err
	}
	CallFrom(ctx).SetTarget(tenant)
	t, err := resolveTenant(ctx, d, tenant)
	if err != nil {
		return TenantQuota{}, err
	}
	CallFrom(ctx).SetTarget(t.ID)
	tq, err := l.Quotas.Set(ctx, t.ID, u)
	if err != nil {
		return TenantQuota{}, err
	}
	change, _ := json.Marshal(u) // the fields changed, as the API reads them
	g.log.Info("tenant quota changed", "tenant", t.ID, "change", string(change))
	return quotaView(l, tq), nil
}

func (g *Guard) runtimeConfig(l *LimitDeps) RuntimeConfig {
	def := l.Quotas.Defaults()
	out := RuntimeConfig{
		RateLimiting: l.Config.RateLimit(),
		QuotaDefaults: QuotaDefaults{MaxCollections: def.MaxCollections, MaxVectors: def.MaxVectors, MaxStorageBytes: def.MaxStorageBytes,
			MaxDiskBytes: def.MaxDiskBytes},
	}
	if l.Server != nil {
		s := l.Server()
		out.Server = &s
	}
	return out
}

// GetConfig returns the effective configuration (config.read, operator
// only).
func (g *Guard) GetConfig(ctx context.Context) (RuntimeConfig, error) {
	_, _, l, err := g.beginLimits(ctx, auth.ActionConfigRead)
	if err != nil {
		return RuntimeConfig{}, err
	}
	return g.runtimeConfig(l), nil
}

// SetRateLimit changes the rate limit defaults (config.write, operator
// only): validated (default_qps 1..10000, default_burst_multiplier
// 1..100), persisted, and in force from the next request of every tenant
// without a rate of its own.
func (g *Guard) SetRateLimit(ctx context.Context, u limits.RateLimitUpdate) (RuntimeConfig, error) {
	_, _, l, err := g.beginLimits(ctx, auth.ActionConfigWrite)
	if err != nil {
		return RuntimeConfig{}, err
	}
	CallFrom(ctx).SetTarget(limits.RateLimitKey)
	if _, err := l.Config.UpdateRateLimit(ctx, u); err != nil {
		return RuntimeConfig{}, err
	}
	return g.runtimeConfig(l), nil
}

func keyRateView(l *LimitDeps, k auth.KeyInfo, r limits.KeyRate) KeyRateLimit {
	burst := l.Config.RateLimit().BurstFor(r.QPSLimit)
	if r.Burst != nil {
		burst = int(*r.Burst)
	}
	return KeyRateLimit{KeyRate: r, TenantID: k.TenantID, EffectiveBurst: burst}
}

// GetKeyRate returns an API key's own rate limit (quota.read; another
// tenant's key is not_found). A key without one is not_found too: it
// passes its tenant's bucket only.
func (g *Guard) GetKeyRate(ctx context.Context, id string) (KeyRateLimit, error) {
	d, c, l, err := g.beginLimits(ctx, auth.ActionQuotaRead)
	if err != nil {
		return KeyRateLimit{}, err
	}
	k, err := scopedKey(ctx, d, c, auth.ActionQuotaRead, id)
	if err != nil {
		return KeyRateLimit{}, err
	}
	r, ok := l.Quotas.KeyRate(k.ID)
	if !ok {
		return KeyRateLimit{}, api.Errorf(api.CodeNotFound, "api key %s has no rate limit of its own", k.ID)
	}
	return keyRateView(l, k, r), nil
}

// SetKeyRate gives an API key a rate limit of its own, applied beside its
// tenant's (the stricter wins); quota.write, operator only.
func (g *Guard) SetKeyRate(ctx context.Context, id string, u limits.KeyRateUpdate) (KeyRateLimit, error) {
	d, c, l, err := g.beginLimits(ctx, auth.ActionQuotaWrite)
	if err != nil {
		return KeyRateLimit{}, err
	}
	k, err := scopedKey(ctx, d, c, auth.ActionQuotaWrite, id)
	if err != nil {
		return KeyRateLimit{}, err
	}
	r, err := l.Quotas.SetKeyRate(ctx, k.ID, u)
	if err != nil {
		return KeyRateLimit{}, err
	}
	g.log.Info("api key rate limit set", "key", k.ID, "tenant", k.TenantID, "qps_limit", r.QPSLimit)
	return keyRateView(l, k, r), nil
}

// ClearKeyRate removes an API key's own rate limit (quota.write, operator
// only); a key without one is not_found.
func (g *Guard) ClearKeyRate(ctx context.Context, id string) (KeyRateLimitCleared, error) {
	d, c, l, err := g.beginLimits(ctx, auth.ActionQuotaWrite)
	if err != nil {
		return KeyRateLimitCleared{}, err
	}
	k, err := scopedKey(ctx, d, c, auth.ActionQuotaWrite, id)
	if err != nil {
		return KeyRateLimitCleared{}, err
	}
	if err := l.Quotas.ClearKeyRate(ctx, k.ID); err != nil {
		return KeyRateLimitCleared{}, err
	}
	g.log.Info("api key rate limit cleared", "key", k.ID, "tenant", k.TenantID)
	return KeyRateLimitCleared{KeyID: k.ID, Cleared: true}, nil
}

// forgetTenant drops a deleted tenant's quota, its keys' rates (their rows
// went with it) and its rate limit series.
func (g *Guard) forgetTenant(ctx context.Context, d *Deps, tenantID string) {
	l := d.Limits
	if l == nil || l.Quotas == nil {
		return
	}
	l.Quotas.ForgetTenant(tenantID)
	if err := l.Quotas.Reload(ctx); err != nil {
		g.log.Warn("reloading quotas after deleting a tenant failed; key rates of its keys stay in memory until restart", "tenant", tenantID, "err", err)
	}
	l.Metrics.ForgetTenant(tenantID)
}

// ServerSettingsSources are what ServerSettingsFunc reads at each call
// (nil ones are left out).
type ServerSettingsSources struct {
	Shedder        *ratelimit.Shedder
	Budget         *ratelimit.Budget
	RequestTimeout time.Duration // <= 0: ratelimit.DefaultRequestTimeout
}

// ServerSettingsFunc is a convenience for LimitDeps.Server: fixed settings
// completed at each call with the bounds in force and what is held of
// them, and the memory limit.
func ServerSettingsFunc(fixed ServerSettings, src ServerSettingsSources) func() ServerSettings {
	return func() ServerSettings {
		s := fixed
		if src.Shedder != nil {
			s.MaxInFlight = src.Shedder.Max()
			s.InFlight = src.Shedder.InFlight()
			s.TenantInFlightShare = src.Shedder.TenantShare()
			s.TenantMaxInFlight = src.Shedder.TenantMax()
		}
		if src.Budget != nil {
			s.MaxInflightBodyBytes = src.Budget.Max()
			s.InflightBodyBytes = src.Budget.Used()
		}
		timeout := src.RequestTimeout
		if timeout <= 0 {
			timeout = ratelimit.DefaultRequestTimeout
		}
		s.RequestTimeoutSeconds = timeout.Seconds()
		s.MemoryLimitBytes = CurrentMemoryLimit()
		return s
	}
}

// beginLimits starts an administration call of the limits: the request's
// dependencies and caller, the limit services (unavailable when the server
// runs without them) and the caller's authorization for action.
func (g *Guard) beginLimits(ctx context.Context, action auth.Action) (*Deps, api.Caller, *LimitDeps, error) {
	d, c, err := g.begin(ctx)
	if err != nil {
		return nil, api.Caller{}, nil, err
	}
	l, err := limitsOf(d)
	if err != nil {
		return nil, api.Caller{}, nil, err
	}
	if err := auth.Authorize(c, action); err != nil {
		return nil, api.Caller{}, nil, err
	}
	return d, c, l, nil
}
