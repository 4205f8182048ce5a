package top

import "strings"

// The operations the traffic pane shows, in order.
const (
	opQuery = iota
	opInsert
	opGet
	opDelete
	opAdmin
	numOps
)

var opNames = [numOps]string{"query", "insert", "get", "delete", "admin"}

// monitoringRoutes are the reads a monitor makes (top itself, Prometheus,
// probes): they are left out of the traffic, so top does not watch
// itself.
var monitoringRoutes = map[string]bool{
	"GET /metrics": true, "GET /admin/metrics": true,
	"GET /livez": true, "GET /readyz": true, "GET /healthz": true, "GET /startupz": true,
	"GET /admin/storage/status": true, "GET /admin/dlq": true, "GET /api/v1/status": true,
}

// restOps maps the data plane's REST routes to their operation; every
// other matched route is admin.
var restOps = map[string]int{
	"POST /api/v1/collections/:name/query":         opQuery,
	"POST /api/v1/collections/:name/insert":        opInsert,
	"GET /api/v1/collections/:name/vectors/:id":    opGet,
	"GET /api/v1/collections/:name/vectors":        opGet,
	"DELETE /api/v1/collections/:name/vectors/:id": opDelete,
	"POST /api/v1/collections/:name/delete":        opDelete,
}

// unmatchedRoute is the route label of requests that matched no route
// (serve/metrics.UnmatchedRoute).
const unmatchedRoute = "unmatched"

// restOp returns the operation of a REST route; ok is false for the
// monitoring reads and for requests that matched no route (404, 405).
func restOp(route, method string) (op int, ok bool) {
	key := method + " " + route
	if route == unmatchedRoute || monitoringRoutes[key] {
		return 0, false
	}
	if op, found := restOps[key]; found {
		return op, true
	}
	return opAdmin, true
}

// grpcOps maps the data plane's RPCs to their operation.
var grpcOps = map[string]int{
	"/akidb.v1.CollectionService/Query":  opQuery,
	"/akidb.v1.CollectionService/Upsert": opInsert,
	"/akidb.v1.CollectionService/Get":    opGet,
	"/akidb.v1.CollectionService/Scroll": opGet,
	"/akidb.v1.CollectionService/Delete": opDelete,
}

// grpcMonitoring are the RPCs a monitor makes.
var grpcMonitoring = map[string]bool{
	"/akidb.v1.ManagementService/GetStatus":        true,
	"/akidb.v1.ManagementService/GetStorageStatus": true,
	"/akidb.v1.ManagementService/ListDLQ":          true,
}

// grpcOp returns the operation of a gRPC method; ok is false for the
// monitoring RPCs and for health and reflection.
func grpcOp(method string) (op int, ok bool) {
	if grpcMonitoring[method] || !strings.HasPrefix(method, "/akidb.") {
		return 0, false
	}
	if op, found := grpcOps[method]; found {
		return op, true
	}
	return opAdmin, true
}

// statusClass sorts an HTTP status into the error counts the traffic
// pane shows: 429, 503, or any other 4xx ("" for the rest).
func statusClass(code string) string {
	switch {
	case code == "429":
		return "429"
	case code == "503":
		return "503"
	case len(code) == 3 && code[0] == '4':
		return "4xx"
	}
	return ""
}

// grpcClass does the same for a gRPC status code, as the REST status
// table maps them (docs/api.md).
func grpcClass(code string) string {
	switch code {
	case "ResourceExhausted":
		return "429"
	case "Unavailable":
		return "503"
	case "InvalidArgument", "NotFound", "AlreadyExists", "PermissionDenied", "Unauthenticated", "FailedPrecondition", "OutOfRange":
		return "4xx"
	}
	return ""
}
