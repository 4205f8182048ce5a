// Package loadtest is `akidb loadtest`: it measures what an AkiDB server
// sustains on a given machine, with a realistic request mix, and reports it
// honestly. It owns the workload generator, the load (through vegeta's
// library), the untimed preload and recall check, the report and the
// --fail-on thresholds. It talks to the server only over its REST API, so
// it measures exactly what a client sees; with no target it starts
// serve.Start in-process on 127.0.0.1 with a temporary data directory.
//
// # A run
//
//  1. Reach the server: the embedded one (after it is ready, its bootstrap
//     admin key at <data-dir>/secrets/bootstrap-admin.key, if any, is the
//     credential) or Config.Target with Config.APIKey. /readyz is asked
//     first so a wrong address fails fast and clearly.
//  2. Create the collection and preload it through POST .../insert in
//     batches (Config.PreloadBatch records, Config.PreloadWorkers requests
//     in flight). Not timed.
//  3. Scrape /metrics (process_cpu_seconds_total,
//     process_resident_memory_bytes) and getrusage, run the timed load,
//     scrape and getrusage again.
//  4. Recall check (not timed): Config.RecallSample queries, each sent as
//     the load sends it and again with "exact": true; recall@k is the mean
//     overlap (dataset.QueryRecall). A fast but wrong server cannot pass.
//  5. Clean up: drop the collection and churn collections on a target
//     (unless Config.Keep); shut the embedded server down and delete its
//     directory.
//
// # The workload
//
// Every request comes from Workload.Next, a vegeta.Targeter. Each draw
// picks an operation with a seeded PCG generator under a mutex (the draw
// order is deterministic) and then builds the body outside the lock from
// the draw's index, so the request sequence depends only on the seed and
// the configuration. Record i has id "v<i>", a vector from
// VectorSource.Record(i) and metadata {"bucket": b} with b a hash of
// (seed, i) modulo BucketCount (10000): uniform, so a filter
// {"bucket": {"$gte": lo, "$lt": lo+w}} matches w/10000 of the records
// (w = round(FilterSelectivity*10000), lo drawn per query). With
// FilterIndex the collection is created with an integer payload index on
// "bucket", which answers that filter.
//
//   - query: a fresh vector from the same distribution, k, ef, and the
//     bucket filter when FilterSelectivity > 0.
//   - insert: InsertBatch records with ids from a counter that starts after
//     the preload: every insert is a new record, a real write.
//   - get: a preloaded id below Preload-MaxDeletes; delete: the preloaded
//     ids from Preload-MaxDeletes up, each once. Gets and deletes never
//     meet, so a get never finds a record this run deleted (no spurious
//     404). MaxDeletes is the planned request count times the delete share
//     plus six standard deviations; Validate refuses a mix whose deletes
//     would need more than half the preload.
//   - list: the first scroll page (limit 100).
//   - create-drop: alternately create a collection "<coll>-churn-<n>" and
//     drop the one created churnLag (8) creates earlier.
//
// Vectors are a seeded mixture of Gaussians (Clustered) or rows of a file
// (FileVectors), record i and query j each from their own seeded stream.
//
// # Measurement
//
// The load is open-loop: vegeta's pacer sends at the asked rate whether or
// not answers have come back, up to Config.MaxWorkers requests in flight.
// Latency is from sending a request to reading its whole answer. Success
// is a 2xx/3xx answer. If the client could not keep the rate (the server
// is saturated, or MaxWorkers is reached), the report says so, because
// latencies of a slower load are not the latencies at the asked rate. A
// ramp (see Ramp) runs constant-rate steps and keeps the highest rate whose
// step met the SLO: p99 within SLO.P99, success at least SLO.SuccessPct,
// and at least 95% of the rate actually sent.
//
// With the embedded server, client and server share one process and its
// CPUs; the report says "same process" and gives that process's figures
// once (Report.Server, from the server's own /metrics), never as two
// numbers that pretend to be separate.
package loadtest
