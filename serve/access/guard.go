package access

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/ratelimit"
)

// Options configure a Guard.
type Options struct {
	// Disabled turns authentication off: every request acts as the
	// operator (see Operator). For trusted local development only.
	Disabled bool
	// Logger gets audit-write failures; nil discards.
	Logger *slog.Logger
}

// Collections is what the guard needs of the engine: deleting a tenant
// with force drops its collections first. *engine.DB implements it.
type Collections interface {
	ListCollections(tenant string) []engine.CollectionInfo
	DropCollection(ctx context.Context, tenant, name string) error
}

// Deps are the parts that exist only once the data directory is open.
type Deps struct {
	Authenticator *auth.Authenticator
	Auditor       *auth.Auditor
	// Store holds the tenants table.
	Store *meta.Store
	// Collections may be nil (offline administration): a forced tenant
	// deletion is then refused.
	Collections Collections
	// Limits, if set, rate-limits every admitted request and serves the
	// quota, key rate and runtime configuration operations; nil: none of
	// it (those operations answer unavailable).
	Limits *LimitDeps
	// Storage, if set, serves the object storage tier's status, DLQ and
	// breaker operations (storage.go); nil: they answer unavailable.
	Storage Storage
}

// Guard authenticates, authorizes and audits requests, and serves the
// administration operations. It is safe for concurrent use. Until Attach
// is called every request is unavailable, like the service itself while
// the engine recovers.
type Guard struct {
	opts Options
	log  *slog.Logger
	deps atomic.Pointer[Deps]
}

// New returns a Guard without its dependencies.
func New(opts Options) *Guard {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Guard{opts: opts, log: opts.Logger}
}

// Attach hands the guard what it works with; requests are served from now.
func (g *Guard) Attach(d Deps) error {
	if d.Authenticator == nil || d.Auditor == nil || d.Store == nil {
		return errors.New("attach access guard: authenticator, auditor and store are required")
	}
	g.deps.Store(&d)
	return nil
}

// Disabled reports whether authentication is off.
func (g *Guard) Disabled() bool { return g.opts.Disabled }

func (g *Guard) dependencies() (*Deps, error) {
	d := g.deps.Load()
	if d == nil {
		return nil, api.Errorf(api.CodeUnavailable, "the database is still recovering; retry shortly")
	}
	return d, nil
}

// Operator is the caller every request acts as when authentication is
// disabled, and the one offline administration acts as: an unrestricted
// admin of the default tenant.
func Operator() api.Caller {
	return api.Caller{TenantID: meta.DefaultTenantID, Role: string(auth.RoleAdmin), Operator: true}
}

// Request describes a request to Begin.
type Request struct {
	// Action is what the route or method maps to.
	Action auth.Action
	// Credential is the API key or JWT ("" when the request has none).
	Credential string
	// RemoteAddr is the peer ("host:port"), for throttling and the audit
	// trail. Proxy headers are not trusted.
	RemoteAddr string
	// RequestID ties the audit row to the access log.
	RequestID string
	// Target names the object (a collection, key or tenant id), if the
	// route has one; handlers may refine it with Call.SetTarget.
	Target string
	// OnRateLimit, if set, is told the rate limit decision of a request
	// that went through a bucket, allowed or refused, so the transport can
	// send its headers (X-RateLimit-*, Retry-After).
	OnRateLimit func(ratelimit.Decision)
}

// Call is one admitted request, for End to audit. It travels in the
// request's context (CallFrom).
type Call struct {
	g      *Guard
	d      *Deps
	caller api.Caller
	req    Request

	mu     sync.Mutex
	target string
	ended  bool
}

type callKey struct{}

// CallFrom returns the Call that Begin attached to ctx, if any.
func CallFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// Caller is who the call acts for.
func (c *Call) Caller() api.Caller { return c.caller }

// SetTarget names the object the call acted on (a new key's id, say), for
// the audit trail.
func (c *Call) SetTarget(target string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.target = target
	c.mu.Unlock()
}

// End records the call's outcome in the audit trail when its action is
// audited or it was refused. Call it once, after the handler, with the
// error the client got (nil for success). Later calls do nothing.
func (c *Call) End(ctx context.Context, err error) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	target := c.target
	c.mu.Unlock()
	if !Audited(c.req.Action) && auth.ResultOf(err) != auth.ResultDenied {
		return
	}
	c.g.record(ctx, c.d, c.caller, c.req, target, err)
}

// Begin admits a request: it authenticates the credential (unless
// authentication is disabled), takes a token from the caller's rate limit
// buckets (Deps.Limits) and authorizes the action, and returns ctx
// carrying the caller (api.CallerFrom) and the Call (CallFrom), which the
// transport ends with End after the handler. Refusals are *api.Error
// (unavailable, unauthenticated, rate_limited, permission_denied) and are
// audited here; other errors (the database failing) are internal.
func (g *Guard) Begin(ctx context.Context, req Request) (context.Context, *Call, error) {
	d, err := g.dependencies()
	if err != nil {
		return ctx, nil, err
	}
	caller := Operator()
	if !g.opts.Disabled {
		if caller, err = d.Authenticator.Authenticate(ctx, req.Credential, req.RemoteAddr); err != nil {
			g.recordRefusal(ctx, d, api.Caller{}, req, err)
			return ctx, nil, err
		}
	}
	if err := g.rateLimit(d, caller, req); err != nil {
		return ctx, nil, err
	}
	return g.admit(ctx, d, caller, req)
}

// BeginAs admits a request for a caller that is already known (offline
// administration acts as Operator): it authorizes the action only, and
// takes no rate limit token.
func (g *Guard) BeginAs(ctx context.Context, caller api.Caller, req Request) (context.Context, *Call, error) {
	d, err := g.dependencies()
	if err != nil {
		return ctx, nil, err
	}
	return g.admit(ctx, d, caller, req)
}

func (g *Guard) admit(ctx context.Context, d *Deps, caller api.Caller, req Request) (context.Context, *Call, error) {
	if err := auth.Authorize(caller, req.Action); err != nil {
		g.recordRefusal(ctx, d, caller, req, err)
		return ctx, nil, err
	}
	call := &Call{g: g, d: d, caller: caller, req: req, target: req.Target}
	ctx = api.WithCaller(ctx, caller)
	return context.WithValue(ctx, callKey{}, call), call, nil
}

// recordRefusal audits a refused request, except those that would let a
// flood write rows: no credential at all, and the throttle's refusals.
func (g *Guard) recordRefusal(ctx context.Context, d *Deps, caller api.Caller, req Request, err error) {
	var ae *api.Error
	if !errors.As(err, &ae) {
		return // the database failing: nothing was decided about the caller
	}
	switch {
	case ae.Code == api.CodeRateLimited:
		return
	case ae.Code == api.CodeUnauthenticated && strings.TrimSpace(req.Credential) == "":
		g.log.Debug("request without credentials", "action", req.Action, "remote", req.RemoteAddr, "request_id", req.RequestID)
		return
	}
	g.record(ctx, d, caller, req, req.Target, err)
}

// record writes one audit row; a failure is logged, never returned: the
// request's answer does not depend on its audit row.
func (g *Guard) record(ctx context.Context, d *Deps, caller api.Caller, req Request, target string, err error) {
	ctx = context.WithoutCancel(ctx) // a client hanging up does not erase its trace
	if _, rerr := d.Auditor.RecordCall(ctx, caller, req.RemoteAddr, req.Action, target, req.RequestID, err); rerr != nil {
		g.log.Warn("writing the audit trail failed", "action", req.Action, "err", rerr)
	}
}

// audited are the actions whose every outcome is audited: changes of
// shape, keys and tenants, reading the trail itself, and token issuance.
var audited = map[auth.Action]bool{
	auth.ActionCollectionCreate:     true,
	auth.ActionCollectionDelete:     true,
	auth.ActionCollectionUpdate:     true,
	auth.ActionCollectionCheckpoint: true,
	auth.ActionCollectionLoad:       true,
	auth.ActionCollectionEvict:      true,
	auth.ActionIndexCreate:          true,
	auth.ActionIndexDelete:          true,
	auth.ActionKeyCreate:            true,
	auth.ActionKeyList:              true,
	auth.ActionKeyRevoke:            true,
	auth.ActionKeyRotate:            true,
	auth.ActionTenantManage:         true,
	auth.ActionAuditRead:            true,
	auth.ActionTokenIssue:           true,
	auth.ActionQuotaWrite:           true,
	auth.ActionConfigWrite:          true,
	auth.ActionStorageAdmin:         true,
}

// Audited reports whether every outcome of action is written to the audit
// trail (refusals of any action always are, see the package doc).
func Audited(a auth.Action) bool { return audited[a] }

// callerOf returns the caller Begin attached, or unauthenticated: the
// administration methods never run without one.
func callerOf(ctx context.Context) (api.Caller, error) {
	c, ok := api.CallerFrom(ctx)
	if !ok {
		return api.Caller{}, api.Errorf(api.CodeUnauthenticated, "missing credential: send Authorization: Bearer <api-key-or-token>")
	}
	return c, nil
}
