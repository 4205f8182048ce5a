package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/engine"
)

var _ engine.Observer = (*Metrics)(nil)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

func newTestMetrics(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// driveAll touches every metric at least once.
func driveAll(t *testing.T, m *Metrics) {
	t.Helper()
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(m.GinMiddleware())
	r.GET("/api/v1/collections/:name", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	r.POST("/api/v1/collections/:name/query", func(c *gin.Context) { c.String(http.StatusBadRequest, "bad") })
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/v1/collections/a"},
		{"GET", "/api/v1/collections/b"},
		{"POST", "/api/v1/collections/a/query"},
		{"GET", "/no/such/route/1"},
		{"GET", "/no/such/route/2"},
		{"DELETE", "/api/v1/collections/a"},
		{"BREW", "/api/v1/collections/a"},
	} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}

	ic := m.UnaryServerInterceptor()
	for _, call := range []struct {
		method string
		err    error
	}{
		{QueryMethod, nil},
		{UpsertMethod, nil},
		{QueryMethod, status.Error(codes.InvalidArgument, "k")},
		{"/akidb.v1.ManagementService/GetStatus", nil},
		{"/akidb.v1.CollectionService/Get", errors.New("plain error")},
	} {
		_, err := ic(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: call.method},
			func(context.Context, any) (any, error) { return "resp", call.err })
		if !errors.Is(err, call.err) {
			t.Fatalf("interceptor changed the error: %v", err)
		}
	}

	m.ObserveSearch(3 * time.Millisecond)
	m.ObserveUpsert(4 * time.Millisecond)
	m.WALFsync(200 * time.Microsecond)
	m.Checkpoint("c", 2*time.Second, nil)
	m.Checkpoint("c", time.Second, errors.New("disk full"))
	m.Recovered("c", 500*time.Millisecond, 42)
	m.Recovered("d", 10*time.Millisecond, 0)
	m.SetStatsSource(func() Totals {
		return Totals{Collections: 3, Vectors: 1234, IndexBacklog: 17, WALBytes: 4096, LastCheckpoint: time.Unix(1700000000, 5e8), Ready: true}
	})
}

func TestEveryMetricPassesLint(t *testing.T) {
	m, reg := newTestMetrics(t)
	driveAll(t, m)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		seen[name] = true
		if !strings.HasPrefix(name, "akidb_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("metric %s lacks the akidb_ prefix", name)
		}
	}
	for _, want := range []string{
		"akidb_http_requests_total", "akidb_http_request_duration_seconds",
		"akidb_grpc_requests_total", "akidb_grpc_request_duration_seconds",
		"akidb_search_duration_seconds", "akidb_upsert_duration_seconds",
		"akidb_wal_fsync_duration_seconds", "akidb_snapshot_duration_seconds",
		"akidb_snapshot_failures_total", "akidb_recovery_duration_seconds",
		"akidb_recovery_replayed_records_total", "akidb_collections", "akidb_vectors", "akidb_index_backlog_vectors",
		"akidb_wal_bytes", "akidb_last_checkpoint_timestamp_seconds", "akidb_ready", "go_goroutines", "process_start_time_seconds",
	} {
		if !seen[want] {
			t.Errorf("metric %s was not gathered", want)
		}
	}
}

func TestValues(t *testing.T) {
	m, reg := newTestMetrics(t)
	driveAll(t, m)
	checks := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"GET route", m.httpRequests.WithLabelValues("/api/v1/collections/:name", "GET", "200"), 2},
		{"POST 400", m.httpRequests.WithLabelValues("/api/v1/collections/:name/query", "POST", "400"), 1},
		{"404 unmatched", m.httpRequests.WithLabelValues(UnmatchedRoute, "GET", "404"), 2},
		{"405 unmatched", m.httpRequests.WithLabelValues(UnmatchedRoute, "DELETE", "405"), 1},
		{"odd method", m.httpRequests.WithLabelValues(UnmatchedRoute, "OTHER", "405"), 1},
		{"grpc ok", m.grpcRequests.WithLabelValues(QueryMethod, "OK"), 1},
		{"grpc invalid", m.grpcRequests.WithLabelValues(QueryMethod, "InvalidArgument"), 1},
		{"grpc unknown", m.grpcRequests.WithLabelValues("/akidb.v1.CollectionService/Get", "Unknown"), 1},
		{"snapshot failures", m.snapshotFails, 1},
		{"replayed", m.replayed, 42},
	}
	for _, ch := range checks {
		if got := testutil.ToFloat64(ch.c); got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, got, ch.want)
		}
	}
	// The raw paths never become labels: only two route values exist
	// for the five distinct paths requested, plus "unmatched".
	if n := testutil.CollectAndCount(m.httpRequests); n != 5 {
		t.Errorf("http_requests_total has %d series, want 5", n)
	}
	// Search: one gRPC Query that succeeded plus one direct observation;
	// the failed Query is not counted. Upsert likewise.
	for name, want := range map[string]uint64{"akidb_search_duration_seconds": 2, "akidb_upsert_duration_seconds": 2, "akidb_snapshot_duration_seconds": 2, "akidb_recovery_duration_seconds": 2, "akidb_wal_fsync_duration_seconds": 1} {
		if got := histogramCount(t, reg, name); got != want {
			t.Errorf("%s count = %d, want %d", name, got, want)
		}
	}
	for name, want := range map[string]float64{"akidb_collections": 3, "akidb_vectors": 1234, "akidb_index_backlog_vectors": 17,
		"akidb_wal_bytes": 4096, "akidb_last_checkpoint_timestamp_seconds": 1700000000.5, "akidb_ready": 1} {
		if got := gaugeValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestStatsAbsentWithoutSource(t *testing.T) {
	m, reg := newTestMetrics(t)
	n, err := testutil.GatherAndCount(reg, "akidb_collections", "akidb_vectors", "akidb_index_backlog_vectors", "akidb_wal_bytes", "akidb_last_checkpoint_timestamp_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("got %d stats series before a source was set", n)
	}
	// Without any snapshot the checkpoint time is absent, not 1970.
	m.SetStatsSource(func() Totals { return Totals{Collections: 1} })
	if n, err := testutil.GatherAndCount(reg, "akidb_last_checkpoint_timestamp_seconds"); err != nil || n != 0 {
		t.Fatalf("checkpoint time with no snapshot: %d series, %v", n, err)
	}
}

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := RegisterBuildInfo(reg, "v2.0.0-test"); err != nil {
		t.Fatal(err)
	}
	want := `# HELP akidb_build_info Always 1; the version label is the server's version.
# TYPE akidb_build_info gauge
akidb_build_info{version="v2.0.0-test"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "akidb_build_info"); err != nil {
		t.Fatal(err)
	}
}

func TestNewRefusesNilAndDoubleRegistration(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
	_, reg := newTestMetrics(t)
	if _, err := New(reg); err == nil {
		t.Fatal("registering twice on one registry succeeded")
	}
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.ObserveSearch(time.Second)
	m.ObserveUpsert(time.Second)
	m.WALFsync(time.Second)
	m.Checkpoint("c", time.Second, errors.New("x"))
	m.Recovered("c", time.Second, 1)
	m.SetStatsSource(func() Totals { return Totals{Collections: 1, Vectors: 1} })
	r := gin.New()
	r.Use(m.GinMiddleware())
	r.GET("/x", func(c *gin.Context) { c.String(http.StatusTeapot, "t") })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != http.StatusTeapot {
		t.Fatalf("status %d", w.Code)
	}
	resp, err := m.UnaryServerInterceptor()(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: QueryMethod},
		func(context.Context, any) (any, error) { return "r", nil })
	if err != nil || resp != "r" {
		t.Fatalf("got %v, %v", resp, err)
	}
}

func TestHandlerServesExposition(t *testing.T) {
	m, reg := newTestMetrics(t)
	driveAll(t, m)
	w := httptest.NewRecorder()
	Handler(reg).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`akidb_http_requests_total{method="GET",route="/api/v1/collections/:name",status="200"} 2`,
		"akidb_vectors 1234",
		"# TYPE akidb_search_duration_seconds histogram",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

func histogramCount(t *testing.T, g prometheus.Gatherer, name string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var n uint64
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
			return n
		}
	}
	t.Fatalf("%s not gathered", name)
	return 0
}

func gaugeValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not gathered", name)
	return 0
}
