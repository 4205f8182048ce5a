package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/ratelimit"
)

// Policy ranges, shared by tenant quotas, key rates and the runtime
// defaults.
const (
	MinQPS = 1.0
	MaxQPS = 10000.0
	// MaxBurstMultiplier bounds default_burst_multiplier: a bucket that
	// holds more than 100 seconds of traffic is no longer a rate limit.
	MaxBurstMultiplier = 100.0
	// MaxBurst is MaxQPS × MaxBurstMultiplier, the largest bucket.
	MaxBurst = 1_000_000
)

// RateLimitKey is the runtime_config key of the rate limit settings.
const RateLimitKey = "rate_limit"

// RateLimitConfig is the server-wide rate limit setting: whether rate
// limiting is on at all, and the rate of tenants whose quota does not set
// their own. A tenant's burst, when its quota does not set one, is its
// rate times DefaultBurstMultiplier, rounded up.
type RateLimitConfig struct {
	Enabled                bool    `json:"enabled"`
	DefaultQPS             float64 `json:"default_qps"`
	DefaultBurstMultiplier float64 `json:"default_burst_multiplier"`
}

// DefaultRateLimitConfig is the setting of a new server: enabled, 100
// requests per second, bursts of twice that (200).
func DefaultRateLimitConfig() RateLimitConfig {
	return RateLimitConfig{Enabled: true, DefaultQPS: 100, DefaultBurstMultiplier: 2}
}

// Validate refuses a setting outside the policy ranges with
// invalid_argument naming the field and the reason.
func (c RateLimitConfig) Validate() *api.Error {
	if e := checkQPS("default_qps", c.DefaultQPS); e != nil {
		return e
	}
	if !(c.DefaultBurstMultiplier >= 1 && c.DefaultBurstMultiplier <= MaxBurstMultiplier) {
		return invalidField("default_burst_multiplier", fmt.Sprintf("must be between 1 and %g, got %g", MaxBurstMultiplier, c.DefaultBurstMultiplier))
	}
	return nil
}

// BurstFor is the burst of a bucket of qps requests per second whose
// burst is not set: qps × DefaultBurstMultiplier rounded up, within
// 1..MaxBurst.
func (c RateLimitConfig) BurstFor(qps float64) int {
	b := math.Ceil(qps * c.DefaultBurstMultiplier)
	if !(b >= 1) { // also NaN
		return 1
	}
	return int(min(b, MaxBurst))
}

// RateLimitUpdate is a partial change of RateLimitConfig, the body of
// POST /admin/config/rate-limit: absent (nil) fields stay as they are.
type RateLimitUpdate struct {
	Enabled                *bool    `json:"enabled,omitempty"`
	DefaultQPS             *float64 `json:"default_qps,omitempty"`
	DefaultBurstMultiplier *float64 `json:"default_burst_multiplier,omitempty"`
}

// Settings is every runtime setting: the "rate_limiting" object of GET
// /admin/config (serve/access adds the static server settings beside it).
type Settings struct {
	RateLimit RateLimitConfig `json:"rate_limiting"`
}

// ConfigStore is where runtime settings persist; *meta.Store is one.
type ConfigStore interface {
	GetRuntimeSetting(ctx context.Context, key string) (meta.RuntimeSetting, error)
	PutRuntimeSetting(ctx context.Context, key string, value []byte) (meta.RuntimeSetting, error)
}

// RuntimeConfig holds the runtime settings: read on every request without
// a lock (an atomic pointer), changed by an administrator, persisted in
// SQLite and reloaded on start. It is safe for concurrent use.
type RuntimeConfig struct {
	store  ConfigStore
	logger *slog.Logger

	mu        sync.Mutex // serializes updates, so memory follows the order of the writes
	rateLimit atomic.Pointer[RateLimitConfig]
	changes   atomic.Uint64
}

// NewRuntimeConfig loads the settings from store. A setting never written
// takes its default. A stored setting that does not decode or is out of
// range (written by hand, say) is not fatal: the server must start for
// an administrator to fix it through the API, so it is logged as an error
// and the default is used until the next update. A nil logger discards.
func NewRuntimeConfig(ctx context.Context, store ConfigStore, logger *slog.Logger) (*RuntimeConfig, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &RuntimeConfig{store: store, logger: logger}
	rl := DefaultRateLimitConfig()
	row, err := store.GetRuntimeSetting(ctx, RateLimitKey)
	switch {
	case errors.Is(err, meta.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("load runtime config: %w", err)
	default:
		stored := DefaultRateLimitConfig() // fields missing from the document keep their defaults
		if err := json.Unmarshal(row.Value, &stored); err != nil {
			logger.Error("stored rate limit setting does not decode; using the defaults until it is updated",
				"key", RateLimitKey, "value", string(row.Value), "err", err)
		} else if e := stored.Validate(); e != nil {
			logger.Error("stored rate limit setting is out of range; using the defaults until it is updated",
				"key", RateLimitKey, "value", string(row.Value), "err", e.Message)
		} else {
			rl = stored
		}
	}
	r.rateLimit.Store(&rl)
	return r, nil
}

// RateLimit is the rate limit setting in force. It is cheap enough to
// call on every request.
func (r *RuntimeConfig) RateLimit() RateLimitConfig { return *r.rateLimit.Load() }

// Settings is every runtime setting in force.
func (r *RuntimeConfig) Settings() Settings { return Settings{RateLimit: r.RateLimit()} }

// DefaultRate is the bucket of a tenant whose quota sets no rate (the
// zero Rate when rate limiting is disabled).
func (r *RuntimeConfig) DefaultRate() ratelimit.Rate {
	c := r.RateLimit()
	if !c.Enabled {
		return ratelimit.Rate{}
	}
	return ratelimit.Rate{QPS: c.DefaultQPS, Burst: c.BurstFor(c.DefaultQPS)}
}

// UpdateRateLimit applies u, persists the result and puts it in force for
// the next request of every tenant without a rate of its own. A result
// outside the policy ranges is refused with invalid_argument (an
// *api.Error) and changes nothing; so does a failed write.
func (r *RuntimeConfig) UpdateRateLimit(ctx context.Context, u RateLimitUpdate) (RateLimitConfig, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.RateLimit()
	next := cur
	if u.Enabled != nil {
		next.Enabled = *u.Enabled
	}
	if u.DefaultQPS != nil {
		next.DefaultQPS = *u.DefaultQPS
	}
	if u.DefaultBurstMultiplier != nil {
		next.DefaultBurstMultiplier = *u.DefaultBurstMultiplier
	}
	if e := next.Validate(); e != nil {
		return cur, e
	}
	if next == cur {
		return cur, nil
	}
	raw, err := json.Marshal(next)
	if err != nil {
		return cur, fmt.Errorf("update rate limit setting: %w", err)
	}
	if _, err := r.store.PutRuntimeSetting(ctx, RateLimitKey, raw); err != nil {
		return cur, fmt.Errorf("update rate limit setting: %w", err)
	}
	r.rateLimit.Store(&next)
	r.changes.Add(1)
	r.logger.Info("rate limit setting changed", "enabled", next.Enabled, "default_qps", next.DefaultQPS,
		"default_burst_multiplier", next.DefaultBurstMultiplier)
	return next, nil
}

// Changes counts the updates that changed a setting since the server
// started (akidb_runtime_config_changes_total).
func (r *RuntimeConfig) Changes() uint64 { return r.changes.Load() }

// checkQPS refuses a rate outside MinQPS..MaxQPS (NaN included).
func checkQPS(field string, qps float64) *api.Error {
	if !(qps >= MinQPS && qps <= MaxQPS) {
		return invalidField(field, fmt.Sprintf("must be between %g and %g requests per second, got %g", MinQPS, MaxQPS, qps))
	}
	return nil
}

// invalidField is invalid_argument for one field, with the reason in the
// message and in the details.
func invalidField(field, reason string) *api.Error {
	return &api.Error{Code: api.CodeInvalidArgument, Message: field + ": " + reason,
		Details: map[string]any{"field": field, "reason": reason}}
}
