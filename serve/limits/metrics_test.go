package limits

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/ratelimit"
)

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	acme, _ := s.CreateTenant(ctx, "acme")
	rc := newRuntimeConfig(t, s)
	q := newQuotas(t, s, rc, Defaults{})
	shed := ratelimit.NewShedder(1)
	bodies := ratelimit.NewShedder(2) // one body per tenant
	budget := ratelimit.NewBudget(100)
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg, reg, MetricsSources{Shedder: shed, Bodies: bodies, Budget: budget, Config: rc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg, reg, MetricsSources{}); err == nil {
		t.Fatal("registering twice on one registry succeeded")
	}

	m.ObserveRateLimit(acme.ID, true)
	m.ObserveRateLimit(acme.ID, true)
	m.ObserveRateLimit(acme.ID, false)
	release, _ := shed.TryAcquire()
	shed.TryAcquire()
	shed.TryAcquire()
	release()
	hold, _ := shed.TryAcquire() // one request in flight at scrape time
	defer hold()
	for _, tenant := range []string{"a", "a", "b", "c"} { // a's second: its share; c: the server's bound
		_, _ = bodies.Admit(tenant)
	}
	held, _ := budget.Reserve("a", 60) // held at scrape time
	defer held.Release()
	_, _ = budget.Reserve("a", 10) // past a's share
	_, _ = budget.Reserve("b", 50) // past the budget
	if _, err := rc.UpdateRateLimit(ctx, RateLimitUpdate{DefaultQPS: ptr(10.0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Set(ctx, acme.ID, QuotaUpdate{MaxVectors: meta.SetTo[int64](200), MaxStorageBytes: meta.SetTo[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Set(ctx, meta.DefaultTenantID, QuotaUpdate{MaxCollections: meta.SetTo[int64](4)}); err != nil {
		t.Fatal(err)
	}
	usage := &fakeUsage{usage: map[string]Usage{acme.ID: {Collections: 3, Vectors: 50, StorageBytes: 0}, "other": {Vectors: 7}}}
	m.SetQuotaReporter(NewGuard(q, usage))

	want := `
# HELP akidb_body_budget_bytes The bound of akidb_body_bytes_in_flight (--max-inflight-body-bytes).
# TYPE akidb_body_budget_bytes gauge
akidb_body_budget_bytes 100
# HELP akidb_body_budget_refused_total Requests refused with unavailable (503) because the request bodies held would pass --max-inflight-body-bytes.
# TYPE akidb_body_budget_refused_total counter
akidb_body_budget_refused_total 1
# HELP akidb_body_bytes_in_flight Bytes of request bodies (REST) and messages (gRPC) held now, from the start of their reading until their answer.
# TYPE akidb_body_bytes_in_flight gauge
akidb_body_bytes_in_flight 60
# HELP akidb_body_reads_shed_total Requests refused with unavailable (503) because the server was reading its bound (--max-in-flight) of REST request bodies.
# TYPE akidb_body_reads_shed_total counter
akidb_body_reads_shed_total 1
# HELP akidb_quota_usage_ratio Tenant usage divided by its quota, for resources with a limit (collections, vectors, storage_bytes, disk_bytes); 1 or more means further growth is refused.
# TYPE akidb_quota_usage_ratio gauge
akidb_quota_usage_ratio{resource="collections",tenant="default"} 0
akidb_quota_usage_ratio{resource="storage_bytes",tenant="` + acme.ID + `"} 1
akidb_quota_usage_ratio{resource="vectors",tenant="` + acme.ID + `"} 0.25
# HELP akidb_ratelimit_allowed_total Requests the tenant's (and key's) token buckets let through.
# TYPE akidb_ratelimit_allowed_total counter
akidb_ratelimit_allowed_total{tenant="` + acme.ID + `"} 2
# HELP akidb_ratelimit_limited_total Requests refused with rate_limited (429) by the tenant's or key's token bucket.
# TYPE akidb_ratelimit_limited_total counter
akidb_ratelimit_limited_total{tenant="` + acme.ID + `"} 1
# HELP akidb_requests_in_flight Requests admitted by the in-flight bound (--max-in-flight) and not yet done, both transports.
# TYPE akidb_requests_in_flight gauge
akidb_requests_in_flight 1
# HELP akidb_runtime_config_changes_total Runtime setting updates that changed a value since the server started.
# TYPE akidb_runtime_config_changes_total counter
akidb_runtime_config_changes_total 1
# HELP akidb_shed_requests_total Requests refused with unavailable (503) because too many were in flight.
# TYPE akidb_shed_requests_total counter
akidb_shed_requests_total 2
# HELP akidb_tenant_share_refused_total Requests refused with rate_limited (429) because their tenant held its share (--tenant-in-flight-share) of a bound: in_flight (--max-in-flight), body_reads (REST bodies being read), body_bytes (--max-inflight-body-bytes).
# TYPE akidb_tenant_share_refused_total counter
akidb_tenant_share_refused_total{bound="body_bytes"} 1
akidb_tenant_share_refused_total{bound="body_reads"} 1
akidb_tenant_share_refused_total{bound="in_flight"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	m.ForgetTenant(acme.ID)
	if n := testutil.CollectAndCount(m.allowed) + testutil.CollectAndCount(m.limited); n != 0 {
		t.Fatalf("%d rate limit series left for a forgotten tenant", n)
	}
	m.SetQuotaReporter(nil)
	if n := testutil.CollectAndCount(m.quota); n != 0 {
		t.Fatalf("%d quota series without a reporter", n)
	}

	// A nil *Metrics is a no-op.
	var nilM *Metrics
	nilM.ObserveRateLimit("x", true)
	nilM.SetQuotaReporter(nil)
	nilM.ForgetTenant("x")
}

func TestUsageRatio(t *testing.T) {
	for _, c := range []struct {
		used, limit int64
		want        float64
	}{{0, 10, 0}, {5, 10, 0.5}, {12, 10, 1.2}, {0, 0, 1}, {1, 0, math.Inf(1)}} {
		if got := usageRatio(c.used, c.limit); got != c.want {
			t.Errorf("usageRatio(%d, %d) = %v, want %v", c.used, c.limit, got, c.want)
		}
	}
}
