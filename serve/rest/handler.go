package rest

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/metrics"
)

// Options configure the REST handler.
type Options struct {
	Logger *slog.Logger
	// Metrics, if not nil, counts and times requests and records search
	// and upsert latency.
	Metrics *metrics.Metrics
	// MetricsHandler serves GET /metrics; nil answers 404.
	MetricsHandler http.Handler
	// Limits: the REST layer enforces MaxBodyBytes itself (the service
	// enforces the rest). The zero value means the service's limits.
	Limits api.Limits
	// Authenticate, if set, runs before every /api/v1 route (never the
	// probes or /metrics) and returns the caller the request acts for, or
	// the error to answer with.
	Authenticate func(*http.Request) (api.Caller, *api.Error)
}

// Route is a registered method and path (Gin syntax: /collections/:name).
type Route struct {
	Method string
	Path   string
}

type routeDef struct {
	method, path string
	handle       func(*server, *gin.Context)
	// api routes are under /api/v1 and go through Authenticate.
	api bool
}

// routeTable is every route the handler serves.
var routeTable = []routeDef{
	{http.MethodPost, "/api/v1/collections", (*server).createCollection, true},
	{http.MethodGet, "/api/v1/collections", (*server).listCollections, true},
	{http.MethodGet, "/api/v1/collections/:name", (*server).getCollection, true},
	{http.MethodDelete, "/api/v1/collections/:name", (*server).deleteCollection, true},
	{http.MethodPost, "/api/v1/collections/:name/insert", (*server).upsert, true},
	{http.MethodPost, "/api/v1/collections/:name/query", (*server).query, true},
	{http.MethodPost, "/api/v1/collections/:name/delete", (*server).deleteVectors, true},
	{http.MethodGet, "/api/v1/collections/:name/vectors", (*server).scroll, true},
	{http.MethodGet, "/api/v1/collections/:name/vectors/:id", (*server).getVector, true},
	{http.MethodDelete, "/api/v1/collections/:name/vectors/:id", (*server).deleteVector, true},
	{http.MethodGet, "/api/v1/status", (*server).status, true},
	{http.MethodGet, "/api/v1/openapi.yaml", (*server).openAPI, true},
	{http.MethodGet, "/livez", (*server).livez, false},
	{http.MethodGet, "/readyz", (*server).readyz, false},
	{http.MethodGet, "/healthz", (*server).readyz, false},
	{http.MethodGet, "/startupz", (*server).startupz, false},
	{http.MethodGet, "/metrics", (*server).serveMetrics, false},
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
	maxBody  int64
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
	s := &server{svc: svc, log: opts.Logger, metrics: opts.Metrics, metricsH: opts.MetricsHandler, maxBody: lim.MaxBodyBytes}

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

	e.Use(s.requestID, s.accessLog, opts.Metrics.GinMiddleware(), s.recoverPanics)
	e.NoRoute(s.noRoute)
	e.NoMethod(s.noMethod)
	for _, r := range routeTable {
		handle := r.handle
		chain := []gin.HandlerFunc{func(c *gin.Context) { handle(s, c) }}
		if r.api && opts.Authenticate != nil {
			chain = append([]gin.HandlerFunc{authenticate(opts.Authenticate)}, chain...)
		}
		e.Handle(r.method, r.path, chain...)
	}
	return e
}
