package serve

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// TestBodyBudget: the bytes of request bodies held at once are bounded
// server-wide, on both transports together (--max-inflight-body-bytes):
// a request whose body would pass the budget gets 503 inflight_body_bytes
// (gRPC UNAVAILABLE) at once, one past its tenant's share 429
// tenant_body_bytes (gRPC RESOURCE_EXHAUSTED), a body of undeclared length
// is counted as it arrives, and once the bodies held are answered the
// others are served. Before the budget, bodies were bounded only in
// number (--max-in-flight of them, 32 MiB each).
func TestBodyBudget(t *testing.T) {
	const mib = 1 << 20
	cfg := testConfig(t)
	cfg.Limits.MaxBodyBytes = mib
	cfg.Limiting.MaxInflightBodyBytes = 2 * mib // 1 MiB per tenant
	cfg.Limiting.BodyTimeout = 30 * time.Second // the slow bodies below end when they are closed
	s, _, boot := limitedServer(t, cfg)
	client := newClient(t)
	_, a, _ := tenantKey(t, s, client, boot, "a", "writer")
	_, b, _ := tenantKey(t, s, client, boot, "b", "writer")
	_, c, _ := tenantKey(t, s, client, boot, "c", "writer")
	for _, key := range []string{a, b, c} {
		mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/collections"), key, map[string]any{"name": "x", "dimension": 2}), http.StatusCreated, "")
	}
	query := map[string]any{"vector": []float32{1, 0}, "k": 1}
	queryURL := s.restURL("/api/v1/collections/x/query")
	insertPath := "/api/v1/collections/x/insert"

	// a's body of 1 MiB, sent slowly, holds its whole share of the budget.
	stop := make(chan struct{})
	defer close(stop)
	slowA := startTrickleSized(t, s.RESTAddr().String(), insertPath, a, mib, stop)
	waitFor(t, "a's body to take its share of the budget", func() bool { return s.Budget().Used() == mib })
	r := mustStatus(t, do(t, client, "POST", queryURL, a, query), http.StatusTooManyRequests, api.CodeRateLimited)
	if !strings.Contains(string(r.body), `"limit":"tenant_body_bytes"`) || r.header.Get("Retry-After") != "1" {
		t.Fatalf("a past its share: %s %v", r.body, r.header)
	}
	_, err := akidbv1.NewCollectionServiceClient(grpcConn(t, s)).Query(rpcCtx(t, a), &akidbv1.QueryRequest{Collection: "x", Vector: []float32{1, 0}, K: 1})
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "tenant's requests in flight hold") {
		t.Fatalf("a past its share over gRPC: %v", err)
	}
	// b's takes the rest: every other body is refused at once.
	slowB := startTrickleSized(t, s.RESTAddr().String(), insertPath, b, mib, stop)
	waitFor(t, "b's body to take the rest of the budget", func() bool { return s.Budget().Used() == 2*mib })
	r = mustStatus(t, do(t, client, "POST", queryURL, c, query), http.StatusServiceUnavailable, api.CodeUnavailable)
	if !strings.Contains(string(r.body), `"limit":"inflight_body_bytes"`) || r.header.Get("Retry-After") != "1" {
		t.Fatalf("c past the budget: %s %v", r.body, r.header)
	}
	_, err = akidbv1.NewCollectionServiceClient(grpcConn(t, s)).Query(rpcCtx(t, c), &akidbv1.QueryRequest{Collection: "x", Vector: []float32{1, 0}, K: 1})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "--max-inflight-body-bytes") {
		t.Fatalf("c past the budget over gRPC: %v", err)
	}
	// A body without a Content-Length (sent chunked: the reader's length
	// is hidden) is counted as it arrives.
	req, _ := http.NewRequest("POST", queryURL, struct{ *bytes.Reader }{bytes.NewReader([]byte(`{"vector":[1,0],"k":1}`))})
	req.Header.Set("Authorization", "Bearer "+c)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a chunked body past the budget: %d", resp.StatusCode)
	}
	metrics := do(t, client, "GET", s.restURL("/metrics"), "", nil)
	for _, want := range []string{"akidb_body_budget_refused_total 3", `akidb_tenant_share_refused_total{bound="body_bytes"} 2`, "akidb_body_bytes_in_flight 2.097152e+06"} {
		if !strings.Contains(string(metrics.body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Once the slow bodies are gone, so are their bytes.
	_ = slowA.conn.Close()
	_ = slowB.conn.Close()
	waitFor(t, "the slow bodies' bytes to be given back", func() bool { return s.Budget().Used() == 0 })
	mustStatus(t, do(t, client, "POST", queryURL, c, query), http.StatusOK, "")
	mustStatus(t, do(t, client, "POST", queryURL, a, query), http.StatusOK, "")
}

// TestAdminConfigShowsBounds: GET /admin/config (and gRPC
// GetRuntimeConfig) show the bounds of load shedding the server runs
// with: the tenant share, the body timeout, the body budget and what is
// held of it, the response bound.
func TestAdminConfigShowsBounds(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limiting.MaxInFlight = 32
	cfg.Limiting.TenantShare = 0.25
	cfg.Limiting.BodyTimeout = 7 * time.Second
	cfg.Limiting.MaxInflightBodyBytes = 64 << 20
	cfg.Limits.MaxResponseBytes = 1 << 20
	s, _, boot := limitedServer(t, cfg)
	client := newClient(t)
	got := decodeJSON[access.RuntimeConfig](t, mustStatus(t, do(t, client, "GET", s.restURL("/admin/config"), boot, nil), http.StatusOK, "")).Server
	if got == nil || got.MaxInFlight != 32 || got.TenantInFlightShare != 0.25 || got.TenantMaxInFlight != 8 || got.BodyTimeoutSeconds != 7 ||
		got.MaxInflightBodyBytes != 64<<20 || got.InflightBodyBytes != 0 || got.MaxResponseBytes != 1<<20 {
		t.Fatalf("GET /admin/config server settings: %+v", got)
	}
	rc, err := akidbv1.NewManagementServiceClient(grpcConn(t, s)).GetRuntimeConfig(rpcCtx(t, boot), &akidbv1.GetRuntimeConfigRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if g := rc.GetServer(); g.GetTenantInFlightShare() != 0.25 || g.GetTenantMaxInFlight() != 8 || g.GetBodyTimeoutSeconds() != 7 ||
		g.GetMaxInflightBodyBytes() != 64<<20 || g.GetMaxResponseBytes() != 1<<20 {
		t.Fatalf("GetRuntimeConfig server settings: %+v", g)
	}
}

// TestBodyBudgetCountsWhatIsDecoded: an upsert whose small body decodes
// into much more (metadata of many small values, which a request may hold
// up to 3 × 4 MiB of) holds what it decoded against the body budget, not
// only its body, on both transports: past the budget it is refused with
// 503 inflight_body_bytes (gRPC UNAVAILABLE) while it is decoded. Counting
// bodies alone, a server's small requests could hold 12 MiB each.
func TestBodyBudgetCountsWhatIsDecoded(t *testing.T) {
	const mib = 1 << 20
	cfg := testConfig(t)
	cfg.Auth.Disabled = true
	cfg.Limits.MaxBodyBytes = mib
	cfg.Limiting.MaxInflightBodyBytes = 2 * mib
	s := startServer(t, cfg)
	client := newClient(t)
	mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/collections"), "", map[string]any{"name": "x", "dimension": 1}), http.StatusCreated, "")
	// 20 records of 5000 zeros in a list: 200 KB of JSON, about 3.4 MiB
	// decoded.
	meta := `{"n":[` + repeatJSON("0", 5000) + `]}`
	body := jsonBody(mib, 20, func(i int) string { return fmt.Sprintf(`{"id":"r%d","vector":[1],"metadata":%s}`, i, meta) })
	code, answer := postRaw(t, client, s.restURL("/api/v1/collections/x/insert"), bytes.TrimRight(body, " "))
	if code != http.StatusServiceUnavailable || !strings.Contains(string(answer), `"limit":"inflight_body_bytes"`) {
		t.Fatalf("REST: %d %s, want 503 inflight_body_bytes", code, answer)
	}
	zeros := make([]any, 5000)
	for i := range zeros {
		zeros[i] = 0.0
	}
	md, err := structpb.NewStruct(map[string]any{"n": zeros})
	if err != nil {
		t.Fatal(err)
	}
	vectors := make([]*akidbv1.Vector, 15) // 0.8 MiB of protobuf, about 3 MiB decoded
	for i := range vectors {
		vectors[i] = &akidbv1.Vector{Id: fmt.Sprint("r", i), Vector: []float32{1}, Metadata: md}
	}
	_, err = akidbv1.NewCollectionServiceClient(grpcConn(t, s)).Upsert(rpcCtx(t, ""), &akidbv1.UpsertRequest{Collection: "x", Vectors: vectors})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "--max-inflight-body-bytes") {
		t.Fatalf("gRPC: %v, want UNAVAILABLE for the body budget", err)
	}
	if used := s.Budget().Used(); used != 0 {
		t.Fatalf("%d bytes of the budget still held after the refusals", used)
	}
}
