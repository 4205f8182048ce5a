package rest

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/metrics"
	"github.com/akidb/akidb/serve/ratelimit"
)

// Options configure the REST handler.
type Options struct {
	Logger *slog.Logger
	// Metrics, if not nil, counts and times requests and records search
	// and upsert latency.
	Metrics *metrics.Metrics
	// MetricsHandler serves GET /metrics, public: totals, no tenant ids;
	// nil answers 404.
	MetricsHandler http.Handler
	// TenantMetricsHandler serves GET /admin/metrics (action
	// metrics.read, the operator's): every series, those labelled with
	// tenant ids included. Nil: MetricsHandler.
	TenantMetricsHandler http.Handler
	// Limits: the REST layer enforces MaxBodyBytes itself (the service
	// enforces the rest). The zero value means the service's limits.
	Limits api.Limits
	// Guard, if set, admits every route that is not public (see
	// RouteAction and PublicRoute): it authenticates the credential,
	// authorizes the route's action, attaches the caller and audits the
	// outcome; it also serves the /admin routes and POST
	// /api/v1/auth/token. Nil means no authentication at all (tests of
	// the data plane); the admin and token routes then answer
	// unavailable. `akidb serve` always sets it.
	Guard *access.Guard
	// Authenticate is a simpler hook for tests and embedders: if set (and
	// Guard is not), it runs before every route that is not public and
	// returns the caller the request acts for, or the error to answer
	// with. It neither authorizes actions nor audits.
	Authenticate func(*http.Request) (api.Caller, *api.Error)
	// Shedder, if set, bounds the requests in flight on every route that
	// is not public, before authentication: past the bound a request is
	// answered 503 unavailable with Retry-After: 1. `akidb serve` shares
	// one with the gRPC server.
	Shedder *ratelimit.Shedder
	// RequestTimeout bounds each admitted request's context (<= 0:
	// ratelimit.DefaultRequestTimeout); used with Shedder. A request the
	// bound stops is answered 503 unavailable with Retry-After: 1.
	RequestTimeout time.Duration
	// Now is the clock of the log's summaries of refused requests (nil:
	// time.Now).
	Now func() time.Time
	// ReadyWarnings are shown in the body of /readyz and /healthz (for
	// example that the server runs without TLS on a reachable address).
	ReadyWarnings []string
}

// Route is a registered method and path (Gin syntax: /collections/:name).
type Route struct {
	Method string
	Path   string
}

type routeDef struct {
	method, path string
	handle       func(*server, *gin.Context)
}

// needsGuard wraps a handler of the security layer's own routes (keys,
// tenants, tokens, quotas, runtime config, audit): without a guard they
// answer unavailable instead of running.
func needsGuard(h func(*server, *gin.Context)) func(*server, *gin.Context) {
	return func(s *server, c *gin.Context) {
		if s.guard == nil {
			noGuard(c)
			return
		}
		h(s, c)
	}
}

// routeTable is every route the handler serves. Its actions (or its being
// public) are in actions.go.
var routeTable = []routeDef{
	{http.MethodPost, "/api/v1/collections", (*server).createCollection},
	{http.MethodGet, "/api/v1/collections", (*server).listCollections},
	{http.MethodGet, "/api/v1/collections/:name", (*server).getCollection},
	{http.MethodDelete, "/api/v1/collections/:name", (*server).deleteCollection},
	{http.MethodPatch, "/api/v1/collections/:name", (*server).updateCollection},
	{http.MethodPost, "/api/v1/collections/:name/insert", (*server).upsert},
	{http.MethodPost, "/api/v1/collections/:name/query", (*server).query},
	{http.MethodPost, "/api/v1/collections/:name/delete", (*server).deleteVectors},
	{http.MethodGet, "/api/v1/collections/:name/vectors", (*server).scroll},
	{http.MethodGet, "/api/v1/collections/:name/vectors/:id", (*server).getVector},
	{http.MethodDelete, "/api/v1/collections/:name/vectors/:id", (*server).deleteVector},
	{http.MethodGet, "/api/v1/status", (*server).status},
	{http.MethodGet, "/api/v1/openapi.yaml", (*server).openAPI},
	{http.MethodPost, "/api/v1/auth/token", needsGuard((*server).issueToken)},
	{http.MethodPost, "/admin/tenants", needsGuard((*server).createTenant)},
	{http.MethodGet, "/admin/tenants", needsGuard((*server).listTenants)},
	{http.MethodDelete, "/admin/tenants/:id", needsGuard((*server).deleteTenant)},
	{http.MethodPost, "/admin/api-keys", needsGuard((*server).createKey)},
	{http.MethodGet, "/admin/api-keys", needsGuard((*server).listKeys)},
	{http.MethodDelete, "/admin/api-keys/:id", needsGuard((*server).revokeKey)},
	{http.MethodPost, "/admin/api-keys/:id/rotate", needsGuard((*server).rotateKey)},
	{http.MethodGet, "/admin/audit", needsGuard((*server).listAudit)},
	{http.MethodGet, "/admin/metrics", (*server).serveTenantMetrics},
	{http.MethodGet, "/admin/tenants/:id/quota", needsGuard((*server).getQuota)},
	{http.MethodPost, "/admin/tenants/:id/quota", needsGuard((*server).setQuota)},
	{http.MethodGet, "/admin/api-keys/:id/rate-limit", needsGuard((*server).getKeyRate)},
	{http.MethodPost, "/admin/api-keys/:id/rate-limit", needsGuard((*server).setKeyRate)},
	{http.MethodDelete, "/admin/api-keys/:id/rate-limit", needsGuard((*server).clearKeyRate)},
	{http.MethodGet, "/admin/config", needsGuard((*server).getConfig)},
	{http.MethodPost, "/admin/config/rate-limit", needsGuard((*server).setRateLimit)},
	{http.MethodPost, "/admin/collections/:name/checkpoint", (*server).checkpointCollection},
	{http.MethodGet, "/admin/storage/status", needsGuard((*server).storageStatus)},
	{http.MethodPost, "/admin/storage/circuit-breaker/reset", needsGuard((*server).resetBreaker)},
	{http.MethodGet, "/admin/dlq", needsGuard((*server).listDLQ)},
	{http.MethodPost, "/admin/dlq/retry", needsGuard((*server).retryDLQ)},
	{http.MethodPost, "/admin/dlq/:id/retry", needsGuard((*server).retryDLQEntry)},
	{http.MethodDelete, "/admin/dlq/:id", needsGuard((*server).discardDLQEntry)},
	{http.MethodGet, "/livez", (*server).livez},
	{http.MethodGet, "/readyz", (*server).readyz},
	{http.MethodGet, "/healthz", (*server).readyz},
	{http.MethodGet, "/startupz", (*server).startupz},
	{http.MethodGet, "/metrics", (*server).serveMetrics},
}

// Routes lists every route NewHandler registers.
func Routes() []Route {
	out := make([]Route, len(routeTable))
	for i, r := range routeTable {
		out[i] = Route{Method: r.method, Path: r.path}
	}
	return out
}

type server struct {
	svc      *api.Service
	log      *slog.Logger
	metrics  *metrics.Metrics
	metricsH http.Handler
	tenantH  http.Handler
	maxBody  int64
	guard    *access.Guard
	shedder  *ratelimit.Shedder
	timeout  time.Duration
	warnings []string
	refusals *refusalLog
}

// NewHandler returns the REST API over svc.
func NewHandler(svc *api.Service, opts Options) http.Handler {
	return newEngine(svc, opts)
}

func newEngine(svc *api.Service, opts Options) *gin.Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	lim := opts.Limits
	if lim == (api.Limits{}) {
		lim = svc.Limits()
	}
	if lim.MaxBodyBytes <= 0 {
		lim.MaxBodyBytes = api.DefaultLimits().MaxBodyBytes
	}
	s := &server{svc: svc, log: opts.Logger, metrics: opts.Metrics, metricsH: opts.MetricsHandler, tenantH: opts.TenantMetricsHandler, maxBody: lim.MaxBodyBytes, guard: opts.Guard,
		shedder: opts.Shedder, timeout: opts.RequestTimeout, warnings: opts.ReadyWarnings,
		refusals: newRefusalLog(opts.Logger, opts.Now)}

	// Release mode keeps Gin from printing routes and warnings to stdout;
	// it is process-wide in Gin, and idempotent.
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.UseEscapedPath = true
	e.UnescapePathValues = false // pathParam unescapes, keeping "+"
	e.ForwardedByClientIP = false

	e.Use(s.requestID, hsts, s.accessLog, opts.Metrics.GinMiddleware(), s.recoverPanics)
	e.NoRoute(s.noRoute)
	e.NoMethod(s.noMethod)
	for _, r := range routeTable {
		handle := r.handle
		chain := []gin.HandlerFunc{func(c *gin.Context) { handle(s, c) }}
		action, needsCredentials := RouteAction(r.method, r.path)
		switch {
		case !needsCredentials:
			// Public (or, by a bug that a test catches, unmapped: such a
			// route is refused below rather than served openly).
			if !PublicRoute(r.method, r.path) {
				chain = []gin.HandlerFunc{unmapped}
			}
		case action == auth.ActionTokenIssue:
			// The handler authenticates the key it exchanges.
		case opts.Guard != nil:
			chain = append([]gin.HandlerFunc{s.admit(action)}, chain...)
		case opts.Authenticate != nil:
			chain = append([]gin.HandlerFunc{authenticate(opts.Authenticate)}, chain...)
		}
		if needsCredentials && opts.Shedder != nil {
			// Before authentication: an overloaded server spends nothing
			// on a request it cannot take. Public routes are never shed.
			chain = append([]gin.HandlerFunc{s.shed}, chain...)
		}
		e.Handle(r.method, r.path, chain...)
	}
	return e
}
