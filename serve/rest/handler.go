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
	// is not public, per server and per tenant (ratelimit.Shedder.Admit):
	// a request takes its slot after authentication and after its body is
	// read (enter). Past the bound it is answered 503 unavailable, past
	// its tenant's share 429, both with Retry-After: 1. `akidb serve`
	// shares one with the gRPC server.
	Shedder *ratelimit.Shedder
	// Bodies, if set, bounds the request bodies being read at once, per
	// server and per tenant, the same way: a body arriving slowly holds one
	// of these, never an in-flight slot.
	Bodies *ratelimit.Shedder
	// Budget, if set, bounds the bytes of request bodies held at once, per
	// server (503) and per tenant (429): a body takes its declared length
	// before it is read (or its bytes as they arrive, without a
	// Content-Length) and holds them until its request is answered.
	// `akidb serve` shares one with the gRPC server.
	Budget *ratelimit.Budget
	// BodyTimeout bounds the time to send a request body (<= 0:
	// DefaultBodyTimeout); a slower one is answered 408 request_timeout.
	BodyTimeout time.Duration
	// RequestTimeout bounds each admitted request's context (<= 0:
	// ratelimit.DefaultRequestTimeout); used with Shedder. A request the
	// bound stops is answered 503 unavailable with Retry-After: 1.
	RequestTimeout time.Duration
	// MaxResponseBytes bounds a response body (<= 0:
	// api.DefaultMaxResponseBytes of the limits); a larger one is answered
	// 400 response_too_large instead.
	MaxResponseBytes int64
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
	body         bodySpec
}

// bodySpec says whether and how a route reads a request body (readBody).
type bodySpec struct {
	has bool
	// optional: a request without a body (Content-Length 0) skips it.
	optional bool
	// stream decodes the body as it arrives; nil reads it whole for the
	// handler's decodeBody.
	stream streamDecoder
}

var (
	noBody       = bodySpec{}
	smallBody    = bodySpec{has: true}
	optionalBody = bodySpec{has: true, optional: true}
)

func streamBody(d streamDecoder) bodySpec { return bodySpec{has: true, stream: d} }

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
	{http.MethodPost, "/api/v1/collections", (*server).createCollection, smallBody},
	{http.MethodGet, "/api/v1/collections", (*server).listCollections, noBody},
	{http.MethodGet, "/api/v1/collections/:name", (*server).getCollection, noBody},
	{http.MethodDelete, "/api/v1/collections/:name", (*server).deleteCollection, noBody},
	{http.MethodPost, "/api/v1/collections/:name/indexes", (*server).createIndex, smallBody},
	{http.MethodGet, "/api/v1/collections/:name/indexes", (*server).listIndexes, noBody},
	{http.MethodDelete, "/api/v1/collections/:name/indexes/:field", (*server).deleteIndex, noBody},
	{http.MethodPatch, "/api/v1/collections/:name", (*server).updateCollection, smallBody},
	{http.MethodPost, "/api/v1/collections/:name/insert", (*server).upsert, streamBody(decodeUpsert)},
	{http.MethodPost, "/api/v1/collections/:name/query", (*server).query, streamBody(decodeQuery)},
	{http.MethodPost, "/api/v1/collections/:name/delete", (*server).deleteVectors, streamBody(decodeDelete)},
	{http.MethodGet, "/api/v1/collections/:name/vectors", (*server).scroll, noBody},
	{http.MethodGet, "/api/v1/collections/:name/vectors/:id", (*server).getVector, noBody},
	{http.MethodDelete, "/api/v1/collections/:name/vectors/:id", (*server).deleteVector, noBody},
	{http.MethodGet, "/api/v1/status", (*server).status, noBody},
	{http.MethodGet, "/api/v1/openapi.yaml", (*server).openAPI, noBody},
	{http.MethodPost, "/api/v1/auth/token", needsGuard((*server).issueToken), noBody},
	{http.MethodPost, "/admin/tenants", needsGuard((*server).createTenant), smallBody},
	{http.MethodGet, "/admin/tenants", needsGuard((*server).listTenants), noBody},
	{http.MethodDelete, "/admin/tenants/:id", needsGuard((*server).deleteTenant), noBody},
	{http.MethodPost, "/admin/api-keys", needsGuard((*server).createKey), smallBody},
	{http.MethodGet, "/admin/api-keys", needsGuard((*server).listKeys), noBody},
	{http.MethodDelete, "/admin/api-keys/:id", needsGuard((*server).revokeKey), noBody},
	{http.MethodPost, "/admin/api-keys/:id/rotate", needsGuard((*server).rotateKey), optionalBody},
	{http.MethodGet, "/admin/audit", needsGuard((*server).listAudit), noBody},
	{http.MethodGet, "/admin/metrics", (*server).serveTenantMetrics, noBody},
	{http.MethodGet, "/admin/tenants/:id/quota", needsGuard((*server).getQuota), noBody},
	{http.MethodPost, "/admin/tenants/:id/quota", needsGuard((*server).setQuota), smallBody},
	{http.MethodGet, "/admin/api-keys/:id/rate-limit", needsGuard((*server).getKeyRate), noBody},
	{http.MethodPost, "/admin/api-keys/:id/rate-limit", needsGuard((*server).setKeyRate), smallBody},
	{http.MethodDelete, "/admin/api-keys/:id/rate-limit", needsGuard((*server).clearKeyRate), noBody},
	{http.MethodGet, "/admin/config", needsGuard((*server).getConfig), noBody},
	{http.MethodPost, "/admin/config/rate-limit", needsGuard((*server).setRateLimit), smallBody},
	{http.MethodPost, "/admin/collections/:name/checkpoint", (*server).checkpointCollection, noBody},
	{http.MethodPost, "/admin/collections/:name/load", (*server).loadCollection, noBody},
	{http.MethodPost, "/admin/collections/:name/evict", (*server).evictCollection, noBody},
	{http.MethodGet, "/admin/storage/status", needsGuard((*server).storageStatus), noBody},
	{http.MethodPost, "/admin/storage/circuit-breaker/reset", needsGuard((*server).resetBreaker), noBody},
	{http.MethodGet, "/admin/dlq", needsGuard((*server).listDLQ), noBody},
	{http.MethodPost, "/admin/dlq/retry", needsGuard((*server).retryDLQ), noBody},
	{http.MethodPost, "/admin/dlq/:id/retry", needsGuard((*server).retryDLQEntry), noBody},
	{http.MethodDelete, "/admin/dlq/:id", needsGuard((*server).discardDLQEntry), noBody},
	{http.MethodGet, "/livez", (*server).livez, noBody},
	{http.MethodGet, "/readyz", (*server).readyz, noBody},
	{http.MethodGet, "/healthz", (*server).readyz, noBody},
	{http.MethodGet, "/startupz", (*server).startupz, noBody},
	{http.MethodGet, "/metrics", (*server).serveMetrics, noBody},
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
	svc         *api.Service
	log         *slog.Logger
	metrics     *metrics.Metrics
	metricsH    http.Handler
	tenantH     http.Handler
	maxBody     int64
	maxResponse int64
	guard       *access.Guard
	shedder     *ratelimit.Shedder
	bodies      *ratelimit.Shedder
	budget      *ratelimit.Budget
	bodyTimeout time.Duration
	timeout     time.Duration
	warnings    []string
	refusals    *refusalLog
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
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = lim.MaxResponse()
	}
	s := &server{svc: svc, log: opts.Logger, metrics: opts.Metrics, metricsH: opts.MetricsHandler, tenantH: opts.TenantMetricsHandler, maxBody: lim.MaxBodyBytes, guard: opts.Guard,
		shedder: opts.Shedder, bodies: opts.Bodies, budget: opts.Budget, bodyTimeout: opts.BodyTimeout, timeout: opts.RequestTimeout, maxResponse: opts.MaxResponseBytes,
		warnings: opts.ReadyWarnings, refusals: newRefusalLog(opts.Logger, opts.Now)}

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

	e.Use(s.requestID, hsts, s.accessLog, opts.Metrics.GinMiddleware(), s.recoverPanics, s.responseBound)
	e.NoRoute(s.noRoute)
	e.NoMethod(s.noMethod)
	for _, r := range routeTable {
		e.Handle(r.method, r.path, s.chain(r, opts)...)
	}
	return e
}

// responseBound tells writeJSON the response bound.
func (s *server) responseBound(c *gin.Context) {
	c.Set(maxResponseKey, s.maxResponse)
	c.Next()
}

// chain is a route's handlers in the order of docs/limits.md: authenticate
// (and rate limit, authorize), read the body, take the in-flight slot,
// serve. Public routes get none of the first three.
func (s *server) chain(r routeDef, opts Options) []gin.HandlerFunc {
	handle := r.handle
	serve := func(c *gin.Context) { handle(s, c) }
	action, needsCredentials := RouteAction(r.method, r.path)
	if !needsCredentials {
		// Public (or, by a bug that a test catches, unmapped: such a
		// route is refused rather than served openly).
		if !PublicRoute(r.method, r.path) {
			return []gin.HandlerFunc{unmapped}
		}
		return []gin.HandlerFunc{serve}
	}
	var chain []gin.HandlerFunc
	switch {
	case action == auth.ActionTokenIssue:
		// The handler authenticates the key it exchanges.
	case opts.Guard != nil:
		chain = append(chain, s.admit(action))
	case opts.Authenticate != nil:
		chain = append(chain, authenticate(opts.Authenticate))
	}
	if r.body.has {
		chain = append(chain, s.readBody(r.body))
	}
	if s.shedder != nil {
		chain = append(chain, s.enter)
	}
	return append(chain, serve)
}
