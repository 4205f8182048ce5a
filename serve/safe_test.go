package serve

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// writerKey creates a writer key of the default tenant with the operator
// key and returns it.
func writerKey(t *testing.T, s *started, client *http.Client, operator string) string {
	t.Helper()
	r := do(t, client, "POST", s.restURL("/admin/api-keys"), operator, access.CreateKeyRequest{Role: "writer", Name: "app"})
	if r.status != http.StatusCreated {
		t.Fatalf("create writer key: %d %s", r.status, r.body)
	}
	var k access.CreatedKey
	if err := json.Unmarshal(r.body, &k); err != nil {
		t.Fatal(err)
	}
	return k.Key
}

// TestStatusHidesDataDirFromTenants: the data directory is the
// operator's business; a tenant's key sees the status without it, on
// both transports.
func TestStatusHidesDataDirFromTenants(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	client := &http.Client{Timeout: waitTimeout}
	op := bootstrapKey(t, cfg.DataDir)
	app := writerKey(t, s, client, op)

	for _, c := range []struct {
		who, cred string
		want      bool
	}{{"operator", op, true}, {"writer", app, false}} {
		r := do(t, client, "GET", s.restURL("/api/v1/status"), c.cred, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.who, r.status, r.body)
		}
		if got := strings.Contains(string(r.body), "data_dir"); got != c.want {
			t.Errorf("REST status as %s shows data_dir: %v, want %v: %s", c.who, got, c.want, r.body)
		}
		_, mgmt := s.grpcClients(t)
		st, err := mgmt.GetStatus(rpcCtx(t, c.cred), &akidbv1.GetStatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if got := st.GetDataDir() != ""; got != c.want {
			t.Errorf("gRPC status as %s shows data_dir %q, want shown: %v", c.who, st.GetDataDir(), c.want)
		}
	}
}

// TestCreatesAnswer201WithLocation: every REST create answers 201 with
// a Location header naming what it made.
func TestCreatesAnswer201WithLocation(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	client := &http.Client{Timeout: waitTimeout}
	op := bootstrapKey(t, cfg.DataDir)
	id := func(r httpResult, path string) string {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		for _, k := range strings.Split(path, ".") {
			if m, ok := v[k].(map[string]any); ok {
				v = m
				continue
			}
			s, _ := v[k].(string)
			return s
		}
		return ""
	}
	check := func(what string, r httpResult, want string) {
		t.Helper()
		if r.status != http.StatusCreated || r.header.Get("Location") != want || want == "" {
			t.Errorf("%s: %d, Location %q; want 201 and %q (%s)", what, r.status, r.header.Get("Location"), want, r.body)
		}
	}
	r := do(t, client, "POST", s.restURL("/api/v1/collections"), op, map[string]any{"name": "docs", "dimension": 2})
	check("collection", r, "/api/v1/collections/docs")
	r = do(t, client, "POST", s.restURL("/admin/tenants"), op, access.CreateTenantRequest{Name: "acme"})
	check("tenant", r, "/admin/tenants/"+id(r, "id"))
	r = do(t, client, "POST", s.restURL("/admin/api-keys"), op, access.CreateKeyRequest{Role: "reader", Tenant: "acme"})
	key := id(r, "id")
	check("key", r, "/admin/api-keys/"+key)
	r = do(t, client, "POST", s.restURL("/admin/api-keys/"+key+"/rotate"), op, nil)
	check("rotated key", r, "/admin/api-keys/"+id(r, "new.id"))
}

// TestQueryWithoutK: a query without k says k is required, on both
// transports, rather than "got 0".
func TestQueryWithoutK(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	client := &http.Client{Timeout: waitTimeout}
	op := bootstrapKey(t, cfg.DataDir)
	if r := do(t, client, "POST", s.restURL("/api/v1/collections"), op, map[string]any{"name": "docs", "dimension": 2}); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r := do(t, client, "POST", s.restURL("/api/v1/collections/docs/query"), op, map[string]any{"vector": []float32{1, 0}})
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "k: is required") || strings.Contains(string(r.body), "got 0") {
		t.Errorf("REST query without k: %d %s", r.status, r.body)
	}
	col, _ := s.grpcClients(t)
	_, err := col.Query(rpcCtx(t, op), &akidbv1.QueryRequest{Collection: "docs", Vector: []float32{1, 0}})
	if err == nil || !strings.Contains(err.Error(), "k: is required") {
		t.Errorf("gRPC query without k: %v", err)
	}
}

// TestMetricsTenantSeriesBehindAuth: the public /metrics names no
// tenant; the operator reads the tenant-labelled series at
// /admin/metrics, and a tenant's admin may not.
func TestMetricsTenantSeriesBehindAuth(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	client := &http.Client{Timeout: waitTimeout}
	op := bootstrapKey(t, cfg.DataDir)
	tenant, key, _ := tenantKey(t, s, client, op, "acme", "admin")
	// A request of acme's through its bucket, and a quota so that the
	// usage gauge has a series.
	do(t, client, "GET", s.restURL("/api/v1/collections"), key, nil)
	do(t, client, "POST", s.restURL("/admin/tenants/acme/quota"), op, map[string]any{"max_collections": 5})

	public := do(t, client, "GET", s.restURL("/metrics"), "", nil)
	if public.status != http.StatusOK || strings.Contains(string(public.body), tenant) || strings.Contains(string(public.body), "tenant=") {
		t.Fatalf("public /metrics names a tenant (%d):\n%s", public.status, grepLines(string(public.body), "tenant"))
	}
	if !strings.Contains(string(public.body), "akidb_shed_requests_total") {
		t.Fatal("public /metrics lost its totals")
	}
	if r := do(t, client, "GET", s.restURL("/admin/metrics"), "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("/admin/metrics without a key: %d", r.status)
	}
	if r := do(t, client, "GET", s.restURL("/admin/metrics"), key, nil); r.status != http.StatusForbidden {
		t.Fatalf("/admin/metrics as a tenant's admin: %d %s", r.status, r.body)
	}
	full := do(t, client, "GET", s.restURL("/admin/metrics"), op, nil)
	for _, want := range []string{`akidb_ratelimit_allowed_total{tenant="` + tenant + `"}`, `akidb_quota_usage_ratio{resource="collections",tenant="` + tenant + `"}`, "akidb_shed_requests_total"} {
		if full.status != http.StatusOK || !strings.Contains(string(full.body), want) {
			t.Fatalf("/admin/metrics as the operator (%d) lacks %s", full.status, want)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
