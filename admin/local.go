package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/akidb/akidb/engine/dirlock"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/limits"
)

// OfflineRemoteAddr is the remote address of offline changes in the audit
// trail.
const OfflineRemoteAddr = "offline"

// LocalConfig configures OpenLocal.
type LocalConfig struct {
	// DataDir is the data directory; it must exist.
	DataDir string
	// Logger; nil discards. Key changes are logged at info, never a secret.
	Logger *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Local administers a data directory that no server has open.
type Local struct {
	lock  *dirlock.Lock
	store *meta.Store
	guard *access.Guard
}

var _ Admin = (*Local)(nil)

// ErrServerRunning wraps the refusal to open a data directory that a
// server holds.
var ErrServerRunning = errors.New("a server has the data directory open")

// OpenLocal takes the data directory's lock and opens its catalog. When a
// server holds the directory it fails with an error wrapping both
// ErrServerRunning and the *dirlock.HeldError that names the server's pid.
func OpenLocal(ctx context.Context, cfg LocalConfig) (*Local, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	fi, err := os.Stat(cfg.DataDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("no data directory at %s: start `akidb serve --data-dir %s` once, or pass the right --data-dir", cfg.DataDir, cfg.DataDir)
	case err != nil:
		return nil, fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("data directory %s: not a directory", cfg.DataDir)
	}
	lock, err := dirlock.Acquire(cfg.DataDir)
	if err != nil {
		var held *dirlock.HeldError
		if errors.As(err, &held) {
			return nil, fmt.Errorf("%w: %w; while it runs, use it instead: --server URL --api-key KEY (or AKIDB_API_KEY)", ErrServerRunning, err)
		}
		return nil, fmt.Errorf("lock data directory %s: %w", cfg.DataDir, err)
	}
	l := &Local{lock: lock}
	ok := false
	defer func() {
		if !ok {
			_ = l.Close()
		}
	}()
	if l.store, err = meta.Open(ctx, filepath.Join(cfg.DataDir, meta.FileName), cfg.Logger, meta.WithClock(clock(cfg.Now))); err != nil {
		return nil, err
	}
	authn, err := auth.New(l.store, auth.Config{DataDir: cfg.DataDir, Logger: cfg.Logger, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	auditor := auth.NewAuditor(l.store, auth.AuditConfig{Logger: cfg.Logger, Now: cfg.Now})
	rc, err := limits.NewRuntimeConfig(ctx, l.store, cfg.Logger)
	if err != nil {
		return nil, err
	}
	// The server's default storage maxima are its flags, unknown here:
	// the effective maxima shown offline leave them out.
	quotas, err := limits.NewQuotas(ctx, l.store, rc, limits.Defaults{})
	if err != nil {
		return nil, err
	}
	l.guard = access.New(access.Options{Logger: cfg.Logger})
	if err := l.guard.Attach(access.Deps{Authenticator: authn, Auditor: auditor, Store: l.store,
		Limits: &access.LimitDeps{Quotas: quotas, Config: rc}}); err != nil {
		return nil, err
	}
	ok = true
	return l, nil
}

func clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// Close closes the catalog and releases the lock.
func (l *Local) Close() error {
	var errs []error
	if l.store != nil {
		errs = append(errs, l.store.Close())
		l.store = nil
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Release())
		l.lock = nil
	}
	return errors.Join(errs...)
}

// do runs one operation as the operator, audited like a request.
func do[T any](ctx context.Context, l *Local, action auth.Action, target string, op func(context.Context) (T, error)) (T, error) {
	var zero T
	ctx, call, err := l.guard.BeginAs(ctx, access.Operator(), access.Request{Action: action, RemoteAddr: OfflineRemoteAddr, Target: target})
	if err != nil {
		return zero, err
	}
	v, err := op(ctx)
	call.End(ctx, err)
	return v, err
}

func (l *Local) CreateTenant(ctx context.Context, name string) (access.Tenant, error) {
	return do(ctx, l, auth.ActionTenantManage, name, func(ctx context.Context) (access.Tenant, error) {
		return l.guard.CreateTenant(ctx, access.CreateTenantRequest{Name: name})
	})
}

func (l *Local) ListTenants(ctx context.Context) ([]access.Tenant, error) {
	list, err := do(ctx, l, auth.ActionTenantManage, "", l.guard.ListTenants)
	return list.Tenants, err
}

func (l *Local) DeleteTenant(ctx context.Context, id string, force bool) (access.TenantDeleted, error) {
	return do(ctx, l, auth.ActionTenantManage, id, func(ctx context.Context) (access.TenantDeleted, error) {
		return l.guard.DeleteTenant(ctx, id, force)
	})
}

func (l *Local) CreateKey(ctx context.Context, req access.CreateKeyRequest) (access.CreatedKey, error) {
	return do(ctx, l, auth.ActionKeyCreate, "", func(ctx context.Context) (access.CreatedKey, error) {
		return l.guard.CreateKey(ctx, req)
	})
}

func (l *Local) ListKeys(ctx context.Context, tenant string) ([]auth.KeyInfo, error) {
	list, err := do(ctx, l, auth.ActionKeyList, tenant, func(ctx context.Context) (access.KeyList, error) {
		return l.guard.ListKeys(ctx, tenant)
	})
	return list.Keys, err
}

func (l *Local) RevokeKey(ctx context.Context, id string) (auth.KeyInfo, error) {
	return do(ctx, l, auth.ActionKeyRevoke, id, func(ctx context.Context) (auth.KeyInfo, error) {
		return l.guard.RevokeKey(ctx, id)
	})
}

func (l *Local) RotateKey(ctx context.Context, id string, overlap time.Duration) (access.RotatedKey, error) {
	return do(ctx, l, auth.ActionKeyRotate, id, func(ctx context.Context) (access.RotatedKey, error) {
		return l.guard.RotateKey(ctx, id, access.RotateKeyRequest{Overlap: overlapString(overlap)})
	})
}

func (l *Local) ListAudit(ctx context.Context, tenant, cursor string, limit int) (auth.EventPage, error) {
	return do(ctx, l, auth.ActionAuditRead, tenant, func(ctx context.Context) (auth.EventPage, error) {
		return l.guard.ListAudit(ctx, tenant, cursor, limit)
	})
}

func (l *Local) GetQuota(ctx context.Context, tenant string) (access.TenantQuota, error) {
	return do(ctx, l, auth.ActionQuotaRead, tenant, func(ctx context.Context) (access.TenantQuota, error) {
		return l.guard.GetQuota(ctx, tenant)
	})
}

func (l *Local) SetQuota(ctx context.Context, tenant string, u limits.QuotaUpdate) (access.TenantQuota, error) {
	return do(ctx, l, auth.ActionQuotaWrite, tenant, func(ctx context.Context) (access.TenantQuota, error) {
		return l.guard.SetQuota(ctx, tenant, u)
	})
}

func (l *Local) GetKeyRate(ctx context.Context, id string) (access.KeyRateLimit, error) {
	return do(ctx, l, auth.ActionQuotaRead, id, func(ctx context.Context) (access.KeyRateLimit, error) {
		return l.guard.GetKeyRate(ctx, id)
	})
}

func (l *Local) SetKeyRate(ctx context.Context, id string, u limits.KeyRateUpdate) (access.KeyRateLimit, error) {
	return do(ctx, l, auth.ActionQuotaWrite, id, func(ctx context.Context) (access.KeyRateLimit, error) {
		return l.guard.SetKeyRate(ctx, id, u)
	})
}

func (l *Local) ClearKeyRate(ctx context.Context, id string) (access.KeyRateLimitCleared, error) {
	return do(ctx, l, auth.ActionQuotaWrite, id, func(ctx context.Context) (access.KeyRateLimitCleared, error) {
		return l.guard.ClearKeyRate(ctx, id)
	})
}

func (l *Local) GetConfig(ctx context.Context) (access.RuntimeConfig, error) {
	return do(ctx, l, auth.ActionConfigRead, "", l.guard.GetConfig)
}

func (l *Local) SetRateLimit(ctx context.Context, u limits.RateLimitUpdate) (access.RuntimeConfig, error) {
	return do(ctx, l, auth.ActionConfigWrite, limits.RateLimitKey, func(ctx context.Context) (access.RuntimeConfig, error) {
		return l.guard.SetRateLimit(ctx, u)
	})
}
