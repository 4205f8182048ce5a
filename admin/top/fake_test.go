package top

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
)

// base is the fake clock's start; the fake server started three hours
// before it.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeServer is a Client whose answers the test sets. Its counters grow
// with the fake clock at the rates of the traffic field, so consecutive
// scrapes see believable deltas; it records every call.
type fakeServer struct {
	mu    sync.Mutex
	clock *fakeClock
	// down, if set, is the error every call fails with (no answer).
	down error
	// ready is /readyz's status and body.
	readyStatus int
	readyBody   string
	// Refusals: the key is refused, a route forbidden, an old server.
	keyRefused, metricsForbidden, storageForbidden, storageMissing bool
	noBuildInfo                                                    bool
	// noReadyGauge: an older server, without akidb_ready.
	noReadyGauge bool
	// The counters: requests per op (query, insert, get, delete, admin)
	// and their latency, 429s and 503s per second, per tenant decisions.
	perSecond        [numOps]float64
	latency          [numOps]float64
	r429, r503, r4xx float64
	tenants          []fakeTenant
	uploads          [3]float64 // success, failure, breaker_open per second
	storage          access.StorageStatus
	dlq              []access.DLQEntry
	resident         *float64
	// Action answers.
	retried    access.DLQRetried
	retryFails bool
	actionErr  error

	last   time.Time
	counts [numOps]float64
	errs   [3]float64
	ups    [3]float64
	shipB  float64
	allow  map[string]float64
	limit  map[string]float64

	calls []string
	// asked are the families each metrics call asked for; rss, when set,
	// is process_resident_memory_bytes.
	asked [][]string
	rss   float64
}

type fakeTenant struct {
	id, name          string
	allowed, limited  float64 // per second
	vectors, storageB *float64
	collections       *float64
}

func (f *fakeServer) call(name string) error {
	f.calls = append(f.calls, name)
	return f.down
}

// Calls returns the calls so far and forgets them.
func (f *fakeServer) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeServer) Ready(context.Context) (admin.HealthResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ready"); err != nil {
		return admin.HealthResult{}, err
	}
	st, body := f.readyStatus, f.readyBody
	if st == 0 {
		st, body = 200, `{"status":"ok"}`
	}
	return admin.HealthResult{URL: "fake/readyz", Status: st, Body: body}, nil
}

func (f *fakeServer) credentialed(name string) error {
	if err := f.call(name); err != nil {
		return err
	}
	if f.keyRefused {
		return &api.Error{Code: api.CodeUnauthenticated, Message: "invalid API key"}
	}
	return nil
}

func (f *fakeServer) Status(context.Context) (api.StatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.credentialed("status"); err != nil {
		return api.StatusResponse{}, err
	}
	return api.StatusResponse{Version: "v1.9.0", Ready: true}, nil
}

func (f *fakeServer) ListTenants(context.Context) ([]access.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.credentialed("tenants"); err != nil {
		return nil, err
	}
	var out []access.Tenant
	for _, t := range f.tenants {
		out = append(out, access.Tenant{ID: t.id, Name: t.name})
	}
	return out, nil
}

func (f *fakeServer) StorageStatus(context.Context) (access.StorageStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.credentialed("storage"); err != nil {
		return access.StorageStatus{}, err
	}
	switch {
	case f.storageMissing:
		return access.StorageStatus{}, &api.Error{Code: api.CodeNotFound, Message: "no route GET /admin/storage/status"}
	case f.storageForbidden:
		return access.StorageStatus{}, &api.Error{Code: api.CodePermissionDenied, Message: "role reader may not storage.read"}
	}
	st := f.storage
	st.DLQ = access.DLQCounts{}
	for _, e := range f.dlq {
		if e.Status == "permanent" {
			st.DLQ.Permanent++
		} else {
			st.DLQ.Pending++
		}
	}
	return st, nil
}

func (f *fakeServer) ListDLQ(_ context.Context, status, cursor string, limit int) (access.DLQPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.credentialed(fmt.Sprintf("dlq %q %q %d", status, cursor, limit)); err != nil {
		return access.DLQPage{}, err
	}
	return access.DLQPage{Entries: append([]access.DLQEntry{}, f.dlq...)}, nil
}

// RetryDLQ retries a batch of two pending entries, as the server retries
// --dlq-batch; with retryFails they fail and stay.
func (f *fakeServer) RetryDLQ(context.Context) (access.DLQRetried, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.credentialed("retry all"); err != nil {
		return access.DLQRetried{}, err
	}
	if f.actionErr != nil {
		return access.DLQRetried{}, f.actionErr
	}
	var res access.DLQRetried
	var kept []access.DLQEntry
	for _, e := range f.dlq {
		if e.Status != "pending" || res.Attempted == 2 {
			kept = append(kept, e)
			continue
		}
		res.Attempted++
		if f.retryFails {
			res.Failed++
			kept = append(kept, e)
		} else {
			res.Succeeded++
		}
	}
	f.dlq = kept
	return res, nil
}

func (f *fakeServer) RetryDLQEntry(_ context.Context, id int64) (access.DLQRetried, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.credentialed(fmt.Sprintf("retry %d", id)); err != nil {
		return access.DLQRetried{}, err
	}
	return f.retried, f.actionErr
}

func (f *fakeServer) DiscardDLQEntry(_ context.Context, id int64) (access.DLQDiscarded, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.credentialed(fmt.Sprintf("discard %d", id)); err != nil {
		return access.DLQDiscarded{}, err
	}
	if f.actionErr != nil {
		return access.DLQDiscarded{}, f.actionErr
	}
	for i, e := range f.dlq {
		if e.ID == id {
			f.dlq = append(f.dlq[:i], f.dlq[i+1:]...)
			break
		}
	}
	return access.DLQDiscarded{ID: id, Discarded: true}, nil
}

func (f *fakeServer) ResetBreaker(context.Context) (access.BreakerReset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.credentialed("reset breaker"); err != nil {
		return access.BreakerReset{}, err
	}
	if f.actionErr != nil {
		return access.BreakerReset{}, f.actionErr
	}
	if f.storage.Store != nil {
		f.storage.Store.CircuitBreaker.State, f.storage.Store.CircuitBreaker.StateValue = "closed", 0
		f.storage.Store.CircuitBreaker.OpenUntil = nil
	}
	return access.BreakerReset{CircuitBreaker: access.BreakerStatus{State: "closed"}}, nil
}

// advance grows the counters to the clock's time.
func (f *fakeServer) advance() {
	now := f.clock.Now()
	if f.last.IsZero() {
		// Counters of a server up for three hours at a tenth of the rates.
		f.last = now.Add(-3 * time.Hour / 10)
	}
	dt := now.Sub(f.last).Seconds()
	f.last = now
	// A slow wave, so sparklines have a shape.
	wave := 1 + 0.5*math.Sin(float64(now.Unix())/20)
	for i := range f.counts {
		f.counts[i] += f.perSecond[i] * wave * dt
	}
	for i, r := range []float64{f.r4xx, f.r429, f.r503} {
		f.errs[i] += r * dt
	}
	for i := range f.ups {
		f.ups[i] += f.uploads[i] * dt
	}
	f.shipB += f.uploads[0] * dt * 65536
	if f.allow == nil {
		f.allow, f.limit = map[string]float64{}, map[string]float64{}
	}
	for _, t := range f.tenants {
		f.allow[t.id] += t.allowed * wave * dt
		f.limit[t.id] += t.limited * dt
	}
}

// routes are the REST routes each op's requests are counted under.
var fakeRoutes = [numOps]struct{ route, method string }{
	{"/api/v1/collections/:name/query", "POST"},
	{"/api/v1/collections/:name/insert", "POST"},
	{"/api/v1/collections/:name/vectors/:id", "GET"},
	{"/api/v1/collections/:name/delete", "POST"},
	{"/api/v1/collections", "POST"},
}

// Metrics filters by names as promhttp does, so a family the scraper
// reads but does not ask for is missing in the tests too.
func (f *fakeServer) Metrics(_ context.Context, tenants bool, names ...string) (map[string]*dto.MetricFamily, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := "metrics"
	if tenants {
		name = "admin metrics"
	}
	if err := f.call(name); err != nil {
		return nil, err
	}
	if tenants && f.keyRefused {
		return nil, &api.Error{Code: api.CodeUnauthenticated, Message: "invalid API key"}
	}
	if tenants && f.metricsForbidden {
		return nil, &api.Error{Code: api.CodePermissionDenied, Message: "metrics.read is the operator's"}
	}
	f.asked = append(f.asked, slices.Clone(names))
	f.advance()
	reg := prometheus.NewRegistry()
	c := &constCollector{}
	gauge := func(name string, v float64, labels ...string) {
		c.add(name, prometheus.GaugeValue, v, labels...)
	}
	gauge("process_start_time_seconds", float64(base.Add(-3*time.Hour).Unix()))
	rss := 142.3 * 1024 * 1024
	if f.rss != 0 {
		rss = f.rss
	}
	gauge("process_resident_memory_bytes", rss)
	gauge("go_memstats_heap_alloc_bytes", 61*1024*1024)
	if !f.noBuildInfo {
		gauge("akidb_build_info", 1, "version", "v2.0.0")
	}
	if !f.noReadyGauge {
		ready := 0.0
		if f.readyStatus == 0 || f.readyStatus == 200 {
			ready = 1
		}
		gauge("akidb_ready", ready)
	}
	gauge("akidb_collections", 12)
	gauge("akidb_vectors", 1204331)
	gauge("akidb_index_backlog_vectors", 17)
	gauge("akidb_wal_bytes", 18.2*1024*1024)
	gauge("akidb_last_checkpoint_timestamp_seconds", float64(f.clock.Now().Add(-42*time.Second).Unix()))
	if st := f.storage.Store; st != nil {
		gauge("akidb_circuit_breaker_state", float64(st.CircuitBreaker.StateValue), "store", st.Name)
		pending, permanent, lag := 0.0, 0.0, 0.0
		for _, e := range f.dlq {
			if e.Status == "permanent" {
				permanent++
			} else {
				pending++
			}
		}
		for _, c := range f.storage.Collections {
			lag = max(lag, c.ShipLagSeconds)
		}
		gauge("akidb_dlq_entries", pending, "status", "pending")
		gauge("akidb_dlq_entries", permanent, "status", "permanent")
		gauge("akidb_tier_ship_lag_seconds", lag)
	}
	if f.resident != nil {
		gauge("akidb_collections_resident", *f.resident)
	}
	for op, r := range fakeRoutes {
		n := f.counts[op]
		c.hist("akidb_http_request_duration_seconds", n, f.latency[op], "route", r.route, "method", r.method)
		c.add("akidb_http_requests_total", prometheus.CounterValue, n, "route", r.route, "method", r.method, "status", "200")
	}
	// Top's own reads, which the traffic pane leaves out.
	c.hist("akidb_http_request_duration_seconds", 9999, .001, "route", "/admin/storage/status", "method", "GET")
	c.add("akidb_http_requests_total", prometheus.CounterValue, f.errs[0], "route", "/api/v1/collections/:name/query", "method", "POST", "status", "400")
	c.add("akidb_http_requests_total", prometheus.CounterValue, f.errs[1], "route", "/api/v1/collections/:name/insert", "method", "POST", "status", "429")
	c.add("akidb_http_requests_total", prometheus.CounterValue, f.errs[2], "route", "/api/v1/collections/:name/query", "method", "POST", "status", "503")
	c.hist("akidb_wal_fsync_duration_seconds", f.counts[opInsert], .0012)
	for i, res := range []string{"success", "failure", "breaker_open"} {
		c.add("akidb_tier_uploads_total", prometheus.CounterValue, f.ups[i], "kind", "log", "result", res)
	}
	c.add("akidb_tier_bytes_shipped_total", prometheus.CounterValue, f.shipB)
	if tenants {
		for _, t := range f.tenants {
			c.add("akidb_ratelimit_allowed_total", prometheus.CounterValue, f.allow[t.id], "tenant", t.id)
			c.add("akidb_ratelimit_limited_total", prometheus.CounterValue, f.limit[t.id], "tenant", t.id)
			for _, q := range []struct {
				res string
				v   *float64
			}{{"vectors", t.vectors}, {"storage_bytes", t.storageB}, {"collections", t.collections}} {
				if q.v != nil {
					gauge("akidb_quota_usage_ratio", *q.v, "tenant", t.id, "resource", q.res)
				}
			}
		}
	}
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		if len(names) == 0 || slices.Contains(names, mf.GetName()) {
			out[mf.GetName()] = mf
		}
	}
	return out, nil
}

// constCollector emits the metrics it was given.
type constCollector struct{ ms []prometheus.Metric }

func (c *constCollector) add(name string, t prometheus.ValueType, v float64, labels ...string) {
	names, values := split(labels)
	c.ms = append(c.ms, prometheus.MustNewConstMetric(prometheus.NewDesc(name, "h", names, nil), t, v, values...))
}

// hist adds a histogram of n observations, all of latency seconds, in
// the server's latency buckets.
func (c *constCollector) hist(name string, n, latency float64, labels ...string) {
	names, values := split(labels)
	buckets := map[float64]uint64{}
	for _, b := range latencyBuckets {
		if latency <= b {
			buckets[b] = uint64(n)
		} else {
			buckets[b] = 0
		}
	}
	c.ms = append(c.ms, prometheus.MustNewConstHistogram(prometheus.NewDesc(name, "h", names, nil), uint64(n), n*latency, buckets, values...))
}

func split(labels []string) (names, values []string) {
	for i := 0; i+1 < len(labels); i += 2 {
		names, values = append(names, labels[i]), append(values, labels[i+1])
	}
	return names, values
}

func (c *constCollector) Describe(chan<- *prometheus.Desc) {}

func (c *constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.ms {
		ch <- m
	}
}

// latencyBuckets are serve/metrics' latency buckets.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

var errRefused = errors.New("dial tcp 127.0.0.1:8080: connect: connection refused")

func sinT(at time.Time) float64 { return math.Sin(float64(at.Unix()) / 20) }

func abs(v float64) float64 { return math.Abs(v) }
