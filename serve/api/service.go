package api

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/akidb/akidb/engine"
)

// Options configure a Service.
type Options struct {
	Limits  Limits
	Logger  *slog.Logger
	Version string
	DataDir string
	Now     func() time.Time
}

// Service implements every operation of the API over an engine.DB. It is
// not ready until SetDB is called (the engine recovers in the
// background while probes already answer), and stops being ready when
// shutdown begins.
type Service struct {
	db       atomic.Pointer[engine.DB]
	quota    atomic.Pointer[quotaHolder]
	stopping atomic.Bool
	opts     Options
	started  time.Time
}

// New returns a Service with no database yet.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits()
	}
	return &Service{opts: opts, started: opts.Now()}
}

// Limits returns the limits in force.
func (s *Service) Limits() Limits { return s.opts.Limits }

// SetDB hands the recovered database to the service; it is ready from now.
func (s *Service) SetDB(db *engine.DB) { s.db.Store(db) }

// BeginShutdown makes the service unready; requests in flight finish.
func (s *Service) BeginShutdown() { s.stopping.Store(true) }

// Started reports whether the engine finished recovering.
func (s *Service) Started() bool { return s.db.Load() != nil }

// Ready reports whether the service accepts requests.
func (s *Service) Ready() bool { return s.Started() && !s.stopping.Load() }

func (s *Service) database() (*engine.DB, error) {
	db := s.db.Load()
	if db == nil {
		return nil, Errorf(CodeUnavailable, "the database is still recovering; retry shortly")
	}
	return db, nil
}

// Caller is who a request acts for. The tenant always comes from the
// caller's credential, never from the request.
type Caller struct {
	TenantID string
	KeyID    string
	Role     string
	// Collections, if not empty, limits the caller to these collections.
	Collections []string
	// Operator is set by the authenticator when the caller speaks for the
	// whole server (auth.IsOperator): only it sees server-wide details
	// such as the data directory.
	Operator bool
}

type callerKey struct{}

// WithCaller attaches the authenticated caller to ctx.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller attached to ctx, if any.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// tenant is the tenant the request acts for: the caller's, or the default
// tenant when the server runs without authentication.
func tenant(ctx context.Context) string {
	if c, ok := CallerFrom(ctx); ok && c.TenantID != "" {
		return c.TenantID
	}
	return engine.DefaultTenant
}

// Status reports readiness and totals.
func (s *Service) Status(ctx context.Context) (StatusResponse, error) {
	st := StatusResponse{Version: s.opts.Version, Ready: s.Ready(), UptimeS: int64(s.opts.Now().Sub(s.started).Seconds())}
	if c, ok := CallerFrom(ctx); ok && c.Operator {
		// Where the data lives is the operator's business, not a tenant's.
		st.DataDir = s.opts.DataDir
	}
	if db := s.db.Load(); db != nil {
		for _, info := range db.ListCollections(tenant(ctx)) {
			st.Collections++
			if h, err := db.Collection(info.TenantID, info.Name); err == nil {
				st.Vectors += h.Count()
			}
		}
	}
	return st, nil
}
