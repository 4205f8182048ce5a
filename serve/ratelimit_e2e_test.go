package serve

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// These tests run a real server on loopback with the rate limit buckets on
// a fake clock: every count and header value is exact.

// TestRateLimitBurstThenExactRefill: a tenant with the default rate (100
// requests/s, burst 200) gets exactly 200 requests at once, then 429 with
// truthful headers, then exactly what the elapsed time refilled.
func TestRateLimitBurstThenExactRefill(t *testing.T) {
	s, clock, boot := limitedServer(t, testConfig(t))
	client := newClient(t)
	tenant, key, _ := tenantKey(t, s, client, boot, "acme", "reader")
	list := s.restURL("/api/v1/collections")

	for i := range 200 {
		r := mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusOK, "")
		// Reset: the 200-(199-i) tokens taken refill at 100/s, rounded up.
		if got, w := headersOf(r), wantHeaders(100, 200, 199-i, (i+1+99)/100, -1); got != w {
			t.Fatalf("request %d: headers %+v, want %+v", i, got, w)
		}
	}
	r := mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusTooManyRequests, api.CodeRateLimited)
	if got, w := headersOf(r), wantHeaders(100, 200, 0, 2, 1); got != w {
		t.Fatalf("refused: headers %+v, want %+v", got, w)
	}
	env := decodeJSON[struct {
		Error api.Error `json:"error"`
	}](t, r)
	if env.Error.Details["retry_after_seconds"] != float64(1) || env.Error.Details["limit"] != "tenant_default" ||
		env.Error.Details["qps"] != float64(100) || env.Error.Details["burst"] != float64(200) {
		t.Fatalf("refusal details %v", env.Error.Details)
	}
	// The message says which limit, its rate, and how to raise it.
	for _, want := range []string{"the default limit of 100 requests/s (burst 200)", "akidb quota set --tenant " + tenant + " --qps N", "akidb config set --default-qps N"} {
		if !strings.Contains(env.Error.Message, want) {
			t.Fatalf("refusal message %q lacks %q", env.Error.Message, want)
		}
	}

	// 10 ms refill exactly one token at 100/s: one request, then 429.
	clock.Advance(10 * time.Millisecond)
	r = mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusOK, "")
	if got, w := headersOf(r), wantHeaders(100, 200, 0, 2, -1); got != w {
		t.Fatalf("after 10ms: headers %+v, want %+v", got, w)
	}
	r = mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusTooManyRequests, api.CodeRateLimited)
	// Retry-After is truthful: waiting it is enough.
	clock.Advance(time.Duration(atoi(t, r.header.Get("Retry-After"))) * time.Second)

	// One second refilled exactly 100 tokens.
	for i := range 100 {
		r := mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusOK, "")
		if got := headersOf(r).remaining; got != fmt.Sprint(99-i) {
			t.Fatalf("after 1s, request %d: remaining %s, want %d", i, got, 99-i)
		}
	}
	mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusTooManyRequests, api.CodeRateLimited)

	// Another tenant is untouched by acme's empty bucket.
	_, other, _ := tenantKey(t, s, client, boot, "beta", "reader")
	if got, w := headersOf(mustStatus(t, do(t, client, "GET", list, other, nil), http.StatusOK, "")), wantHeaders(100, 200, 199, 1, -1); got != w {
		t.Fatalf("another tenant: headers %+v, want %+v", got, w)
	}

	// The counters say the same, per tenant.
	if v := metricValue(t, s, client, `akidb_ratelimit_allowed_total{tenant="`+tenant+`"}`); v != 301 {
		t.Errorf("allowed_total = %v, want 301", v)
	}
	if v := metricValue(t, s, client, `akidb_ratelimit_limited_total{tenant="`+tenant+`"}`); v != 3 {
		t.Errorf("limited_total = %v, want 3", v)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}

// TestRateLimitPerKeyAndPerTenant: a key with a rate of its own passes
// its bucket and its tenant's, the stricter wins, and a refusal by one
// bucket charges neither.
func TestRateLimitPerKeyAndPerTenant(t *testing.T) {
	s, clock, boot := limitedServer(t, testConfig(t))
	client := newClient(t)
	tenant, batch, batchID := tenantKey(t, s, client, boot, "acme", "reader")
	_, inter, _ := tenantKey(t, s, client, boot, "acme", "reader")
	list := s.restURL("/api/v1/collections")

	r := mustStatus(t, do(t, client, "POST", s.restURL("/admin/api-keys/"+batchID+"/rate-limit"), boot, map[string]any{"qps_limit": 1, "burst": 3}), http.StatusOK, "")
	if k := decodeJSON[access.KeyRateLimit](t, r); k.QPSLimit != 1 || k.EffectiveBurst != 3 || k.TenantID != tenant {
		t.Fatalf("key rate %+v", k)
	}
	// The batch key: its own bucket (3) binds, not the tenant's (200).
	for i := range 3 {
		r := mustStatus(t, do(t, client, "GET", list, batch, nil), http.StatusOK, "")
		if got, w := headersOf(r), wantHeaders(1, 3, 2-i, i+1, -1); got != w {
			t.Fatalf("batch key request %d: %+v, want %+v", i, got, w)
		}
	}
	r = mustStatus(t, do(t, client, "GET", list, batch, nil), http.StatusTooManyRequests, api.CodeRateLimited)
	if got, w := headersOf(r), wantHeaders(1, 3, 0, 3, 1); got != w {
		t.Fatalf("batch key refused: %+v, want %+v", got, w)
	}
	// The interactive key of the same tenant sees the tenant's bucket: 3
	// taken by the batch key, none by its refusal.
	r = mustStatus(t, do(t, client, "GET", list, inter, nil), http.StatusOK, "")
	if got, w := headersOf(r), wantHeaders(100, 200, 196, 1, -1); got != w {
		t.Fatalf("interactive key: %+v, want %+v", got, w)
	}

	// A tenant quota stricter than the key: from the next request the
	// tenant's bucket (burst 2) binds for both keys.
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/tenants/acme/quota"), boot, map[string]any{"qps_limit": 1, "burst": 2}), http.StatusOK, "")
	for i := range 2 {
		r := mustStatus(t, do(t, client, "GET", list, inter, nil), http.StatusOK, "")
		if got := headersOf(r); got.burst != "2" || got.remaining != fmt.Sprint(1-i) {
			t.Fatalf("after the tenant quota, request %d: %+v", i, got)
		}
	}
	mustStatus(t, do(t, client, "GET", list, inter, nil), http.StatusTooManyRequests, api.CodeRateLimited)
	mustStatus(t, do(t, client, "GET", list, batch, nil), http.StatusTooManyRequests, api.CodeRateLimited)
	// One second: one token in each bucket; the batch key takes the
	// tenant's only token, so the interactive key waits.
	clock.Advance(time.Second)
	mustStatus(t, do(t, client, "GET", list, batch, nil), http.StatusOK, "")
	mustStatus(t, do(t, client, "GET", list, inter, nil), http.StatusTooManyRequests, api.CodeRateLimited)

	// Cleared, the key has no rate of its own.
	r = mustStatus(t, do(t, client, "DELETE", s.restURL("/admin/api-keys/"+batchID+"/rate-limit"), boot, nil), http.StatusOK, "")
	if c := decodeJSON[access.KeyRateLimitCleared](t, r); !c.Cleared || c.KeyID != batchID {
		t.Fatalf("cleared %+v", c)
	}
	mustStatus(t, do(t, client, "GET", s.restURL("/admin/api-keys/"+batchID+"/rate-limit"), boot, nil), http.StatusNotFound, api.CodeNotFound)
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/api-keys/"+batchID+"/rate-limit"), boot, map[string]any{"qps_limit": 0}), http.StatusBadRequest, api.CodeInvalidArgument)
}

// TestRuntimeConfigChange: a change of the default rate applies from the
// next request of every tenant without a rate of its own, and of new
// tenants; invalid values are refused with the reason and change nothing.
func TestRuntimeConfigChange(t *testing.T) {
	s, _, boot := limitedServer(t, testConfig(t))
	client := newClient(t)
	_, key, _ := tenantKey(t, s, client, boot, "acme", "reader")
	_, own, _ := tenantKey(t, s, client, boot, "gamma", "reader")
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/tenants/gamma/quota"), boot, map[string]any{"qps_limit": 50, "burst": 80}), http.StatusOK, "")
	// The operator's own tenant keeps a rate of its own, so the lower
	// default below does not stop the test's administration.
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/tenants/default/quota"), boot, map[string]any{"qps_limit": 10000}), http.StatusOK, "")
	list := s.restURL("/api/v1/collections")
	if got := headersOf(mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusOK, "")); got.burst != "200" || got.remaining != "199" {
		t.Fatalf("before: %+v", got)
	}

	r := mustStatus(t, do(t, client, "POST", s.restURL("/admin/config/rate-limit"), boot, map[string]any{"default_qps": 5, "default_burst_multiplier": 1}), http.StatusOK, "")
	cfg := decodeJSON[access.RuntimeConfig](t, r)
	if !cfg.RateLimiting.Enabled || cfg.RateLimiting.DefaultQPS != 5 || cfg.RateLimiting.DefaultBurstMultiplier != 1 || cfg.Server == nil {
		t.Fatalf("config after the change %+v", cfg)
	}
	// The very next request: the 199 tokens are capped at the new burst.
	if got, w := headersOf(mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusOK, "")), wantHeaders(5, 5, 4, 1, -1); got != w {
		t.Fatalf("next request: %+v, want %+v", got, w)
	}
	_, fresh, _ := tenantKey(t, s, client, boot, "newco", "reader")
	if got, w := headersOf(mustStatus(t, do(t, client, "GET", list, fresh, nil), http.StatusOK, "")), wantHeaders(5, 5, 4, 1, -1); got != w {
		t.Fatalf("new tenant: %+v, want %+v", got, w)
	}
	if got := headersOf(mustStatus(t, do(t, client, "GET", list, own, nil), http.StatusOK, "")); got.burst != "80" {
		t.Fatalf("a tenant with its own rate: %+v", got)
	}

	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"default_qps": 0}, "default_qps"},
		{map[string]any{"default_qps": 10001}, "default_qps"},
		{map[string]any{"default_qps": -3}, "default_qps"},
		{map[string]any{"default_burst_multiplier": 0.5}, "default_burst_multiplier"},
		{map[string]any{"default_qps": "fast"}, ""},
		{map[string]any{"qps": 10}, ""},
	} {
		r := mustStatus(t, do(t, client, "POST", s.restURL("/admin/config/rate-limit"), boot, bad.body), http.StatusBadRequest, api.CodeInvalidArgument)
		env := decodeJSON[struct {
			Error api.Error `json:"error"`
		}](t, r)
		if bad.field != "" && (env.Error.Details["field"] != bad.field || env.Error.Details["reason"] == nil) {
			t.Errorf("%v: details %v, want the field %s and a reason", bad.body, env.Error.Details, bad.field)
		}
	}
	cfg = decodeJSON[access.RuntimeConfig](t, mustStatus(t, do(t, client, "GET", s.restURL("/admin/config"), boot, nil), http.StatusOK, ""))
	if cfg.RateLimiting.DefaultQPS != 5 || cfg.RateLimiting.DefaultBurstMultiplier != 1 {
		t.Fatalf("refused updates changed the config: %+v", cfg.RateLimiting)
	}
	if v := metricValue(t, s, client, "akidb_runtime_config_changes_total"); v != 1 {
		t.Errorf("runtime_config_changes_total = %v, want 1", v)
	}

	// Off: no bucket, no headers; a tenant admin may not switch it back.
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/config/rate-limit"), boot, map[string]any{"enabled": false}), http.StatusOK, "")
	if got := headersOf(mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusOK, "")); got != (rateHeaders{}) {
		t.Fatalf("rate limiting off, yet headers %+v", got)
	}
	_, acmeAdmin, _ := tenantKey(t, s, client, boot, "acme", "admin")
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/config/rate-limit"), acmeAdmin, map[string]any{"enabled": true}), http.StatusForbidden, api.CodePermissionDenied)
	mustStatus(t, do(t, client, "GET", s.restURL("/admin/config"), acmeAdmin, nil), http.StatusForbidden, api.CodePermissionDenied)
}

// TestLimitsSurviveRestart: quotas, key rates and the runtime config are
// in the data directory; a restarted server enforces them.
func TestLimitsSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	s, _, boot := limitedServer(t, cfg)
	client := newClient(t)
	_, key, keyID := tenantKey(t, s, client, boot, "acme", "writer")
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/tenants/acme/quota"), boot, map[string]any{"qps_limit": 7, "burst": 9, "max_vectors": 100}), http.StatusOK, "")
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/config/rate-limit"), boot, map[string]any{"default_qps": 42, "default_burst_multiplier": 3}), http.StatusOK, "")
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/api-keys/"+keyID+"/rate-limit"), boot, map[string]any{"qps_limit": 2}), http.StatusOK, "")
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	cfg.RESTAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	s2, _, _ := limitedServer(t, cfg)
	q := decodeJSON[access.TenantQuota](t, mustStatus(t, do(t, client, "GET", s2.restURL("/admin/tenants/acme/quota"), boot, nil), http.StatusOK, ""))
	if q.Quota.QPSLimit == nil || *q.Quota.QPSLimit != 7 || q.Quota.Burst == nil || *q.Quota.Burst != 9 ||
		q.Effective.MaxVectors == nil || *q.Effective.MaxVectors != 100 || q.Usage == nil {
		t.Fatalf("quota after restart %+v", q)
	}
	c := decodeJSON[access.RuntimeConfig](t, mustStatus(t, do(t, client, "GET", s2.restURL("/admin/config"), boot, nil), http.StatusOK, ""))
	if c.RateLimiting.DefaultQPS != 42 || c.RateLimiting.DefaultBurstMultiplier != 3 {
		t.Fatalf("config after restart %+v", c.RateLimiting)
	}
	k := decodeJSON[access.KeyRateLimit](t, mustStatus(t, do(t, client, "GET", s2.restURL("/admin/api-keys/"+keyID+"/rate-limit"), boot, nil), http.StatusOK, ""))
	if k.QPSLimit != 2 || k.EffectiveBurst != 6 { // 2 × the stored multiplier 3
		t.Fatalf("key rate after restart %+v", k)
	}
	// Enforced: the key's bucket (6) binds over the tenant's (9); the
	// operator's tenant has the stored default, 42 × 3.
	if got := headersOf(mustStatus(t, do(t, client, "GET", s2.restURL("/api/v1/collections"), key, nil), http.StatusOK, "")); got.burst != "6" || got.remaining != "5" {
		t.Fatalf("acme after restart: %+v", got)
	}
	if got := headersOf(mustStatus(t, do(t, client, "GET", s2.restURL("/api/v1/collections"), boot, nil), http.StatusOK, "")); got.burst != "126" {
		t.Fatalf("default tenant after restart: %+v", got)
	}
}

// TestRESTAndGRPCShareTheBucket: one bucket per tenant whatever the
// transport; gRPC sends the same values as header metadata, and a refusal
// is RESOURCE_EXHAUSTED with a RetryInfo.
func TestRESTAndGRPCShareTheBucket(t *testing.T) {
	s, clock, boot := limitedServer(t, testConfig(t))
	client := newClient(t)
	_, key, _ := tenantKey(t, s, client, boot, "acme", "reader")
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/tenants/acme/quota"), boot, map[string]any{"qps_limit": 1, "burst": 4}), http.StatusOK, "")
	col, mgmt := s.grpcClients(t)
	list := s.restURL("/api/v1/collections")

	for i := range 2 {
		if got := headersOf(mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusOK, "")); got.remaining != fmt.Sprint(3-i) {
			t.Fatalf("REST %d: %+v", i, got)
		}
	}
	for i := range 2 {
		var md metadata.MD
		if _, err := col.ListCollections(rpcCtx(t, key), &akidbv1.ListCollectionsRequest{}, grpc.Header(&md)); err != nil {
			t.Fatalf("gRPC %d: %v", i, err)
		}
		if got := (rateHeaders{first(md, "x-ratelimit-limit"), first(md, "x-ratelimit-burst"), first(md, "x-ratelimit-remaining"), first(md, "x-ratelimit-reset"), first(md, "retry-after")}); got != wantHeaders(1, 4, 1-i, 3+i, -1) {
			t.Fatalf("gRPC %d metadata %+v, want %+v", i, got, wantHeaders(1, 4, 1-i, 3+i, -1))
		}
	}
	var md metadata.MD
	_, err := mgmt.GetStatus(rpcCtx(t, key), &akidbv1.GetStatusRequest{}, grpc.Header(&md))
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("gRPC over the limit: %v", err)
	}
	var retry *errdetails.RetryInfo
	var reason string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			retry = d
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() != time.Second || reason != string(api.CodeRateLimited) {
		t.Fatalf("refusal details: retry %v, reason %q", retry, reason)
	}
	if first(md, "retry-after") != "1" || first(md, "x-ratelimit-remaining") != "0" || first(md, "x-ratelimit-limit") != "1" || first(md, "x-ratelimit-burst") != "4" {
		t.Fatalf("refusal metadata %v", md)
	}
	mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusTooManyRequests, api.CodeRateLimited)
	clock.Advance(time.Second)
	if _, err := col.ListCollections(rpcCtx(t, key), &akidbv1.ListCollectionsRequest{}); err != nil {
		t.Fatalf("after a second: %v", err)
	}
	mustStatus(t, do(t, client, "GET", list, key, nil), http.StatusTooManyRequests, api.CodeRateLimited)

	// Token exchange takes a token too.
	clock.Advance(time.Second)
	mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/auth/token"), key, nil), http.StatusOK, "")
	mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/auth/token"), key, nil), http.StatusTooManyRequests, api.CodeRateLimited)
	if _, err := mgmt.IssueToken(rpcCtx(t, key), &akidbv1.IssueTokenRequest{}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("gRPC token over the limit: %v", err)
	}
}

func first(md metadata.MD, k string) string {
	if v := md.Get(k); len(v) > 0 {
		return v[0]
	}
	return ""
}

// TestQuotaEnforcement: writes past a tenant's maxima are refused with 403
// quota_exceeded and write nothing (a batch is all or nothing);
// replacements and deletes still work; usage is shown beside the limits.
func TestQuotaEnforcement(t *testing.T) {
	s, _, boot := limitedServer(t, testConfig(t))
	client := newClient(t)
	tenant, key, _ := tenantKey(t, s, client, boot, "acme", "writer")
	_, otherAdmin, _ := tenantKey(t, s, client, boot, "beta", "admin")
	quota := s.restURL("/admin/tenants/acme/quota")
	mustStatus(t, do(t, client, "POST", quota, boot, map[string]any{"max_collections": 1, "max_vectors": 3}), http.StatusOK, "")

	cols := s.restURL("/api/v1/collections")
	mustStatus(t, do(t, client, "POST", cols, key, map[string]any{"name": "c1", "dimension": 4, "metric": "l2"}), http.StatusCreated, "")
	r := mustStatus(t, do(t, client, "POST", cols, key, map[string]any{"name": "c2", "dimension": 4, "metric": "l2"}), http.StatusForbidden, api.CodeQuotaExceeded)
	if env := decodeJSON[struct {
		Error api.Error `json:"error"`
	}](t, r); env.Error.Details["resource"] != "collections" || env.Error.Details["limit"] != float64(1) {
		t.Fatalf("collections refusal %s", r.body)
	}

	insert := s.restURL("/api/v1/collections/c1/insert")
	vec := func(ids ...string) api.UpsertRequest {
		var u api.UpsertRequest
		for i, id := range ids {
			u.Vectors = append(u.Vectors, api.Vector{ID: id, Vector: []float32{float32(i), 1, 2, 3}})
		}
		return u
	}
	mustStatus(t, do(t, client, "POST", insert, key, vec("a", "b")), http.StatusOK, "")
	r = mustStatus(t, do(t, client, "POST", insert, key, vec("c", "d")), http.StatusForbidden, api.CodeQuotaExceeded)
	env := decodeJSON[struct {
		Error api.Error `json:"error"`
	}](t, r)
	if d := env.Error.Details; d["resource"] != "vectors" || d["limit"] != float64(3) || d["current"] != float64(2) || d["requested"] != float64(2) {
		t.Fatalf("vectors refusal details %v", d)
	}
	mustStatus(t, do(t, client, "GET", s.restURL("/api/v1/collections/c1/vectors/c"), key, nil), http.StatusNotFound, api.CodeNotFound)
	// Replacements add nothing; with one new id the batch fits exactly.
	mustStatus(t, do(t, client, "POST", insert, key, vec("a", "b", "c", "c")), http.StatusOK, "")
	mustStatus(t, do(t, client, "POST", insert, key, vec("a", "b", "c")), http.StatusOK, "")
	mustStatus(t, do(t, client, "POST", insert, key, vec("z")), http.StatusForbidden, api.CodeQuotaExceeded)
	// gRPC answers the same refusal.
	col, _ := s.grpcClients(t)
	_, err := col.Upsert(rpcCtx(t, key), &akidbv1.UpsertRequest{Collection: "c1", Vectors: []*akidbv1.Vector{{Id: "g", Vector: []float32{1, 1, 1, 1}}}})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !hasReason(st, api.CodeQuotaExceeded) {
		t.Fatalf("gRPC upsert past the quota: %v", err)
	}

	// Usage beside the limits, visible to the tenant's writer.
	q := decodeJSON[access.TenantQuota](t, mustStatus(t, do(t, client, "GET", quota, key, nil), http.StatusOK, ""))
	if q.TenantID != tenant || q.Usage == nil || q.Usage.Collections != 1 || q.Usage.Vectors != 3 || q.Usage.StorageBytes <= 0 {
		t.Fatalf("quota view %+v (usage %+v)", q, q.Usage)
	}
	if v := metricValue(t, s, client, `akidb_quota_usage_ratio{resource="vectors",tenant="`+tenant+`"}`); v != 1 {
		t.Errorf("quota usage ratio = %v, want 1", v)
	}

	// Deleting works at the limit, and makes room.
	mustStatus(t, do(t, client, "DELETE", s.restURL("/api/v1/collections/c1/vectors/a"), key, nil), http.StatusOK, "")
	mustStatus(t, do(t, client, "POST", insert, key, vec("z")), http.StatusOK, "")

	// Storage: a maximum at the current usage refuses any new record.
	q = decodeJSON[access.TenantQuota](t, mustStatus(t, do(t, client, "POST", quota, boot, map[string]any{"max_vectors": nil, "max_storage_bytes": 0}), http.StatusOK, ""))
	if q.Quota.MaxVectors != nil || q.Effective.MaxVectors != nil || q.Effective.MaxStorageBytes == nil {
		t.Fatalf("after returning max_vectors to the default: %+v", q)
	}
	mustStatus(t, do(t, client, "POST", quota, boot, map[string]any{"max_storage_bytes": q.Usage.StorageBytes}), http.StatusOK, "")
	r = mustStatus(t, do(t, client, "POST", insert, key, vec("new")), http.StatusForbidden, api.CodeQuotaExceeded)
	if env := decodeJSON[struct {
		Error api.Error `json:"error"`
	}](t, r); env.Error.Details["resource"] != "storage_bytes" {
		t.Fatalf("storage refusal %s", r.body)
	}

	// Validation and who may do what.
	for _, bad := range []map[string]any{{"qps_limit": 0}, {"qps_limit": 10001}, {"burst": 2000000}, {"max_vectors": -1}, {"max_vectors": "many"}, {"max_widgets": 1}} {
		mustStatus(t, do(t, client, "POST", quota, boot, bad), http.StatusBadRequest, api.CodeInvalidArgument)
	}
	mustStatus(t, do(t, client, "POST", quota, key, map[string]any{"max_vectors": 1000}), http.StatusForbidden, api.CodePermissionDenied)
	mustStatus(t, do(t, client, "GET", quota, otherAdmin, nil), http.StatusNotFound, api.CodeNotFound)
	mustStatus(t, do(t, client, "GET", s.restURL("/admin/tenants/nosuch/quota"), boot, nil), http.StatusNotFound, api.CodeNotFound)
}

func hasReason(st *status.Status, code api.Code) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == string(code) {
			return true
		}
	}
	return false
}
