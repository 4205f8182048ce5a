// Package metrics owns AkiDB's Prometheus metrics: the collectors, their
// names and label sets, and the adapters that feed them (a Gin middleware,
// a gRPC unary interceptor, and engine.Observer for the write-ahead log,
// checkpoints and recovery).
//
// Nothing is registered globally: New registers everything on the
// prometheus.Registerer it is given, and Handler serves a Gatherer. No
// metric here has a tenant label; the server keeps the ones that do
// (serve/limits) on a registry of their own, served at /admin/metrics to
// the operator only, while /metrics is public.
//
// Cardinality is bounded by construction:
//   - HTTP metrics are labelled with the Gin route template
//     (/api/v1/collections/:name), never the raw path; requests that match
//     no route share the route label "unmatched", and methods outside the
//     standard set are reported as "OTHER".
//   - gRPC metrics are labelled with the full method name of a registered
//     RPC (unknown services never reach interceptors) and the status code.
//   - Latency histograms carry no collection or tenant label.
//   - akidb_collections, akidb_vectors and akidb_index_backlog_vectors are
//     computed at scrape time from the function given to SetStatsSource,
//     without labels.
//
// Search and upsert latency (akidb_search_duration_seconds,
// akidb_upsert_duration_seconds) are the service time of successful calls
// only (a refused request says nothing about the index). The REST handlers
// call ObserveSearch and ObserveUpsert around api.Service.Query and
// api.Service.Upsert; on gRPC the unary interceptor does it by method name
// (QueryMethod, UpsertMethod), so the gRPC server must not call them itself.
//
// Every method of *Metrics is safe on a nil receiver, so callers that run
// without metrics need no checks.
package metrics
