package serve

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/access/accesstest"
	"github.com/akidb/akidb/serve/api"
)

// limitedServer starts a server whose rate limit buckets run on a fake
// clock (auth keeps the real one), and returns it with the clock and the
// bootstrap (operator) key.
func limitedServer(t *testing.T, cfg Config) (*started, *accesstest.Clock, string) {
	t.Helper()
	clock := &accesstest.Clock{}
	clock.Advance(accesstest.Start.Sub(clock.Now()))
	cfg.Limiting.Now = clock.Now
	s := startServer(t, cfg)
	return s, clock, bootstrapKey(t, cfg.DataDir)
}

// tenantKey creates a tenant (unless it exists) and a key of role in it,
// as the operator, and returns the tenant id, the key and its id.
func tenantKey(t *testing.T, s *started, client *http.Client, boot, tenant, role string) (tenantID, key, keyID string) {
	t.Helper()
	r := do(t, client, "GET", s.restURL("/admin/tenants"), boot, nil)
	var list access.TenantList
	if r.status != http.StatusOK || json.Unmarshal(r.body, &list) != nil {
		t.Fatalf("list tenants: %d %s", r.status, r.body)
	}
	for _, tn := range list.Tenants {
		if tn.Name == tenant {
			tenantID = tn.ID
		}
	}
	if tenantID == "" {
		r = do(t, client, "POST", s.restURL("/admin/tenants"), boot, access.CreateTenantRequest{Name: tenant})
		var tn access.Tenant
		if r.status != http.StatusCreated || json.Unmarshal(r.body, &tn) != nil {
			t.Fatalf("create tenant %s: %d %s", tenant, r.status, r.body)
		}
		tenantID = tn.ID
	}
	r = do(t, client, "POST", s.restURL("/admin/api-keys"), boot, access.CreateKeyRequest{Tenant: tenantID, Role: role, Name: tenant + "-" + role})
	var k access.CreatedKey
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &k) != nil {
		t.Fatalf("create key: %d %s", r.status, r.body)
	}
	return tenantID, k.Key, k.ID
}

// mustStatus fails unless the answer has the status (and, for an error,
// the code), and returns it.
func mustStatus(t *testing.T, r httpResult, status int, code api.Code) httpResult {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d %s, want %d", r.status, r.body, status)
	}
	if code != "" {
		var env struct {
			Error api.Error `json:"error"`
		}
		if json.Unmarshal(r.body, &env) != nil || env.Error.Code != code {
			t.Fatalf("body %s, want code %s", r.body, code)
		}
	}
	return r
}

// rateHeaders are a response's rate limit headers ("" when absent).
type rateHeaders struct {
	qps, burst, remaining, reset, retryAfter string
}

func headersOf(r httpResult) rateHeaders {
	return rateHeaders{r.header.Get("X-RateLimit-Limit"), r.header.Get("X-RateLimit-Burst"), r.header.Get("X-RateLimit-Remaining"),
		r.header.Get("X-RateLimit-Reset"), r.header.Get("Retry-After")}
}

// wantHeaders builds the expected headers from numbers: the rate per
// second (X-RateLimit-Limit), the burst, and so on (retryAfter < 0:
// absent).
func wantHeaders(qps, burst, remaining, reset, retryAfter int) rateHeaders {
	h := rateHeaders{strconv.Itoa(qps), strconv.Itoa(burst), strconv.Itoa(remaining), strconv.Itoa(reset), ""}
	if retryAfter >= 0 {
		h.retryAfter = strconv.Itoa(retryAfter)
	}
	return h
}

// decodeJSON decodes a successful answer's body.
func decodeJSON[T any](t *testing.T, r httpResult) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

// metricValue scrapes /metrics (for a series with a tenant label,
// /admin/metrics with the bootstrap key) and returns the value of one
// series, given as it appears in the exposition (`name{label="v"}`); -1
// when absent.
func metricValue(t *testing.T, s *started, client *http.Client, series string) float64 {
	t.Helper()
	path, cred := "/metrics", ""
	if strings.Contains(series, `tenant="`) {
		path, cred = "/admin/metrics", bootstrapKey(t, s.cfg.DataDir)
	}
	r := do(t, client, "GET", s.restURL(path), cred, nil)
	if r.status != http.StatusOK {
		t.Fatalf("%s: %d", path, r.status)
	}
	for _, line := range strings.Split(string(r.body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return -1
}

// grpcConn dials the server's gRPC port without TLS.
func grpcConn(t *testing.T, s *started) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(s.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// newClient is an HTTP client of the test's own whose idle connections
// are closed before the server shuts down (cleanups run last first): a
// connection dialled for a concurrent request but never used would keep
// http.Server.Shutdown waiting.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitTimeout}
}
