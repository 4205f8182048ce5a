package rest

import (
	"github.com/akidb/akidb/serve/auth"
)

// routeActions maps every route that needs credentials, by method and
// route template, to the one auth.Action it performs: the table the guard
// authorizes against. A test walks the registered routes and fails on one
// that is in neither this table nor publicRoutes.
var routeActions = map[string]auth.Action{
	"POST /api/v1/collections":                        auth.ActionCollectionCreate,
	"GET /api/v1/collections":                         auth.ActionCollectionList,
	"GET /api/v1/collections/:name":                   auth.ActionCollectionRead,
	"DELETE /api/v1/collections/:name":                auth.ActionCollectionDelete,
	"PATCH /api/v1/collections/:name":                 auth.ActionCollectionUpdate,
	"POST /api/v1/collections/:name/indexes":          auth.ActionIndexCreate,
	"GET /api/v1/collections/:name/indexes":           auth.ActionCollectionRead,
	"DELETE /api/v1/collections/:name/indexes/:field": auth.ActionIndexDelete,
	"POST /api/v1/collections/:name/insert":           auth.ActionVectorUpsert,
	"POST /api/v1/collections/:name/query":            auth.ActionVectorQuery,
	"POST /api/v1/collections/:name/delete":           auth.ActionVectorDelete,
	"GET /api/v1/collections/:name/vectors":           auth.ActionVectorRead,
	"GET /api/v1/collections/:name/vectors/:id":       auth.ActionVectorRead,
	"DELETE /api/v1/collections/:name/vectors/:id":    auth.ActionVectorDelete,
	"GET /api/v1/status":                              auth.ActionStatusRead,
	"GET /api/v1/openapi.yaml":                        auth.ActionStatusRead,
	"POST /api/v1/auth/token":                         auth.ActionTokenIssue,
	"POST /admin/tenants":                             auth.ActionTenantManage,
	"GET /admin/tenants":                              auth.ActionTenantManage,
	"DELETE /admin/tenants/:id":                       auth.ActionTenantManage,
	"POST /admin/api-keys":                            auth.ActionKeyCreate,
	"GET /admin/api-keys":                             auth.ActionKeyList,
	"DELETE /admin/api-keys/:id":                      auth.ActionKeyRevoke,
	"POST /admin/api-keys/:id/rotate":                 auth.ActionKeyRotate,
	"GET /admin/audit":                                auth.ActionAuditRead,
	"GET /admin/tenants/:id/quota":                    auth.ActionQuotaRead,
	"POST /admin/tenants/:id/quota":                   auth.ActionQuotaWrite,
	"GET /admin/api-keys/:id/rate-limit":              auth.ActionQuotaRead,
	"POST /admin/api-keys/:id/rate-limit":             auth.ActionQuotaWrite,
	"DELETE /admin/api-keys/:id/rate-limit":           auth.ActionQuotaWrite,
	"GET /admin/config":                               auth.ActionConfigRead,
	"POST /admin/config/rate-limit":                   auth.ActionConfigWrite,
	"POST /admin/collections/:name/checkpoint":        auth.ActionCollectionCheckpoint,
	"POST /admin/collections/:name/load":              auth.ActionCollectionLoad,
	"POST /admin/collections/:name/evict":             auth.ActionCollectionEvict,
	"GET /admin/storage/status":                       auth.ActionStorageRead,
	"POST /admin/storage/circuit-breaker/reset":       auth.ActionStorageAdmin,
	"GET /admin/dlq":                                  auth.ActionStorageRead,
	"POST /admin/dlq/retry":                           auth.ActionStorageAdmin,
	"POST /admin/dlq/:id/retry":                       auth.ActionStorageAdmin,
	"DELETE /admin/dlq/:id":                           auth.ActionStorageAdmin,
	"GET /admin/metrics":                              auth.ActionMetricsRead,
}

// publicRoutes need no credentials and map to no action: the probes, which
// carry no data, and the Prometheus exposition, which carries totals only
// (the series labelled with tenant ids are at /admin/metrics).
var publicRoutes = map[string]bool{
	"GET /livez":    true,
	"GET /readyz":   true,
	"GET /healthz":  true,
	"GET /startupz": true,
	"GET /metrics":  true,
}

func routeKey(method, path string) string { return method + " " + path }

// RouteAction returns the action of a route (Gin template, as Routes
// lists it); false for a public route or an unknown one.
func RouteAction(method, path string) (auth.Action, bool) {
	a, ok := routeActions[routeKey(method, path)]
	return a, ok
}

// PublicRoute reports whether a route is served without credentials.
func PublicRoute(method, path string) bool { return publicRoutes[routeKey(method, path)] }
