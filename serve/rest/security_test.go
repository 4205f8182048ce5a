package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/access/accesstest"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
)

// newGuardedServer serves the REST API over the fixture's service with
// its guard, on a loopback port.
func newGuardedServer(t *testing.T, f *accesstest.Fixture) *testServer {
	t.Helper()
	ts := &testServer{t: t, logs: &lockedBuffer{}, svc: f.Svc, db: f.DB}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs.String())
		}
	})
	logger := slog.New(slog.NewJSONHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewHandler(f.Svc, Options{Logger: logger, Guard: f.Guard,
		TenantMetricsHandler: promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{})}), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	ts.url = "http://" + ln.Addr().String()
	tr := &http.Transport{}
	ts.client = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return ts
}

// TestEveryRouteHasAnAction walks the registered Gin routes: each one maps
// to exactly one action or is listed as public, and nothing else is public.
func TestEveryRouteHasAnAction(t *testing.T) {
	e := newEngine(api.New(api.Options{}), Options{})
	known := map[auth.Action]bool{}
	for _, a := range auth.Actions() {
		known[a] = true
	}
	seen := map[string]bool{}
	for _, r := range e.Routes() {
		key := routeKey(r.Method, r.Path)
		seen[key] = true
		action, mapped := RouteAction(r.Method, r.Path)
		public := PublicRoute(r.Method, r.Path)
		switch {
		case mapped && public:
			t.Errorf("%s is both public and mapped to %s", key, action)
		case !mapped && !public:
			t.Errorf("%s has no action and is not listed as public", key)
		case mapped && !known[action]:
			t.Errorf("%s maps to unknown action %q", key, action)
		}
	}
	for key := range routeActions {
		if !seen[key] {
			t.Errorf("routeActions lists %s, which is not registered", key)
		}
	}
	want := []string{"GET /healthz", "GET /livez", "GET /metrics", "GET /readyz", "GET /startupz"}
	var got []string
	for key := range publicRoutes {
		got = append(got, key)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("public routes %v, want exactly %v", got, want)
	}
}

// restCall is one cell's request.
type restCall struct {
	method, path string
	body         any
	okStatus     int
}

// restOps builds each matrix operation's request over REST, by the route
// it exercises.
var restOps = map[string]struct {
	route string
	build func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall
}{
	"collection.create": {"POST /api/v1/collections", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/api/v1/collections", api.CreateCollectionRequest{Name: f.NewCollection(r, s), Dimension: accesstest.Dim}, http.StatusCreated}
	}},
	"collection.list": {"GET /api/v1/collections", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/api/v1/collections", nil, http.StatusOK}
	}},
	"collection.get": {"GET /api/v1/collections/:name", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/api/v1/collections/" + f.Collection(r, s), nil, http.StatusOK}
	}},
	"collection.delete": {"DELETE /api/v1/collections/:name", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"DELETE", "/api/v1/collections/" + f.Collection(r, s), nil, http.StatusOK}
	}},
	"index.create": {"POST /api/v1/collections/:name/indexes", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/api/v1/collections/" + f.Collection(r, s) + "/indexes", api.CreateIndexRequest{Field: "made", Type: "integer"}, http.StatusAccepted}
	}},
	"index.list": {"GET /api/v1/collections/:name/indexes", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/api/v1/collections/" + f.Collection(r, s) + "/indexes", nil, http.StatusOK}
	}},
	"index.delete": {"DELETE /api/v1/collections/:name/indexes/:field", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"DELETE", "/api/v1/collections/" + f.Collection(r, s) + "/indexes/" + accesstest.IndexField, nil, http.StatusOK}
	}},
	"vector.upsert": {"POST /api/v1/collections/:name/insert", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/api/v1/collections/" + f.Collection(r, s) + "/insert",
			api.UpsertRequest{Vectors: []api.Vector{{ID: "v2", Vector: []float32{0, 1}}}}, http.StatusOK}
	}},
	"vector.query": {"POST /api/v1/collections/:name/query", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/api/v1/collections/" + f.Collection(r, s) + "/query", api.QueryRequest{Vector: []float32{1, 0}, K: 1}, http.StatusOK}
	}},
	"vector.get": {"GET /api/v1/collections/:name/vectors/:id", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/api/v1/collections/" + f.Collection(r, s) + "/vectors/" + accesstest.VectorID, nil, http.StatusOK}
	}},
	"vector.delete_one": {"DELETE /api/v1/collections/:name/vectors/:id", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"DELETE", "/api/v1/collections/" + f.Collection(r, s) + "/vectors/" + accesstest.VectorID, nil, http.StatusOK}
	}},
	"vector.delete": {"POST /api/v1/collections/:name/delete", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/api/v1/collections/" + f.Collection(r, s) + "/delete", api.DeleteRequest{IDs: []string{accesstest.VectorID}}, http.StatusOK}
	}},
	"vector.scroll": {"GET /api/v1/collections/:name/vectors", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/api/v1/collections/" + f.Collection(r, s) + "/vectors?limit=10", nil, http.StatusOK}
	}},
	"status": {"GET /api/v1/status", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/api/v1/status", nil, http.StatusOK}
	}},
	"openapi": {"GET /api/v1/openapi.yaml", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/api/v1/openapi.yaml", nil, http.StatusOK}
	}},
	"metrics": {"GET /admin/metrics", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/admin/metrics", nil, http.StatusOK}
	}},
	"token.issue": {"POST /api/v1/auth/token", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/api/v1/auth/token", nil, http.StatusOK}
	}},
	"tenant.create": {"POST /admin/tenants", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/tenants", access.CreateTenantRequest{Name: fmt.Sprintf("t-%s-%s", r, s)}, http.StatusCreated}
	}},
	"tenant.list": {"GET /admin/tenants", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/admin/tenants", nil, http.StatusOK}
	}},
	"tenant.delete": {"DELETE /admin/tenants/:id", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"DELETE", "/admin/tenants/" + f.Scratch(), nil, http.StatusOK}
	}},
	"key.create": {"POST /admin/api-keys", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/api-keys", access.CreateKeyRequest{Tenant: f.TenantRef(s), Role: "reader", Name: "made"}, http.StatusCreated}
	}},
	"key.list": {"GET /admin/api-keys", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/admin/api-keys?tenant=" + url.QueryEscape(f.TenantRef(s)), nil, http.StatusOK}
	}},
	"key.revoke": {"DELETE /admin/api-keys/:id", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"DELETE", "/admin/api-keys/" + f.Victim(r, s), nil, http.StatusOK}
	}},
	"key.rotate": {"POST /admin/api-keys/:id/rotate", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/api-keys/" + f.Victim(r, s) + "/rotate", access.RotateKeyRequest{Overlap: "1h"}, http.StatusCreated}
	}},
	"audit.list": {"GET /admin/audit", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/admin/audit?limit=5&tenant=" + url.QueryEscape(f.TenantRef(s)), nil, http.StatusOK}
	}},
	"quota.get": {"GET /admin/tenants/:id/quota", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/admin/tenants/" + f.ScopeTenant(r, s) + "/quota", nil, http.StatusOK}
	}},
	"quota.set": {"POST /admin/tenants/:id/quota", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/tenants/" + f.ScopeTenant(r, s) + "/quota", map[string]any{"max_vectors": 1000}, http.StatusOK}
	}},
	"keyrate.get": {"GET /admin/api-keys/:id/rate-limit", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/admin/api-keys/" + f.RatedVictim(r, s) + "/rate-limit", nil, http.StatusOK}
	}},
	"keyrate.set": {"POST /admin/api-keys/:id/rate-limit", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/api-keys/" + f.Victim(r, s) + "/rate-limit", map[string]any{"qps_limit": 5}, http.StatusOK}
	}},
	"keyrate.clear": {"DELETE /admin/api-keys/:id/rate-limit", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"DELETE", "/admin/api-keys/" + f.RatedVictim(r, s) + "/rate-limit", nil, http.StatusOK}
	}},
	"config.get": {"GET /admin/config", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/admin/config", nil, http.StatusOK}
	}},
	"config.set": {"POST /admin/config/rate-limit", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/config/rate-limit", map[string]any{"default_qps": 100}, http.StatusOK}
	}},
	"collection.update": {"PATCH /api/v1/collections/:name", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"PATCH", "/api/v1/collections/" + f.Collection(r, s), map[string]any{"tier_policy": "memory"}, http.StatusOK}
	}},
	"collection.checkpoint": {"POST /admin/collections/:name/checkpoint", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/collections/" + f.Collection(r, s) + "/checkpoint", nil, http.StatusOK}
	}},
	"collection.load": {"POST /admin/collections/:name/load", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/collections/" + f.Collection(r, s) + "/load", nil, http.StatusOK}
	}},
	// The fixture's collections have the memory policy: an eviction the
	// guard lets through is refused by the engine (never evicted).
	"collection.evict": {"POST /admin/collections/:name/evict", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/collections/" + f.Collection(r, s) + "/evict", nil, http.StatusConflict}
	}},
	"storage.status": {"GET /admin/storage/status", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/admin/storage/status", nil, http.StatusOK}
	}},
	"dlq.list": {"GET /admin/dlq", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"GET", "/admin/dlq?status=pending", nil, http.StatusOK}
	}},
	"dlq.retry": {"POST /admin/dlq/retry", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/dlq/retry", nil, http.StatusOK}
	}},
	"dlq.retry_entry": {"POST /admin/dlq/:id/retry", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/dlq/" + f.DLQEntry(r, s) + "/retry", nil, http.StatusOK}
	}},
	"dlq.discard": {"DELETE /admin/dlq/:id", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"DELETE", "/admin/dlq/" + f.DLQEntry(r, s), nil, http.StatusOK}
	}},
	"breaker.reset": {"POST /admin/storage/circuit-breaker/reset", func(f *accesstest.Fixture, r accesstest.Role, s accesstest.Scope) restCall {
		return restCall{"POST", "/admin/storage/circuit-breaker/reset", nil, http.StatusOK}
	}},
}

// TestAccessMatrix calls every route that needs credentials as every role,
// on the caller's own tenant's objects and on another tenant's, and
// checks each answer against accesstest.Matrix.
func TestAccessMatrix(t *testing.T) {
	// Every non-public route is exercised by some operation.
	covered := map[string]bool{}
	for _, op := range restOps {
		covered[op.route] = true
	}
	for _, r := range Routes() {
		key := routeKey(r.Method, r.Path)
		if !PublicRoute(r.Method, r.Path) && !covered[key] {
			t.Errorf("route %s is not in the access matrix", key)
		}
	}
	f := accesstest.New(t)
	ts := newGuardedServer(t, f)
	for _, exp := range accesstest.Matrix {
		op, ok := restOps[exp.Op]
		if !ok {
			t.Errorf("matrix operation %s has no REST request", exp.Op)
			continue
		}
		for _, scope := range []accesstest.Scope{accesstest.Own, accesstest.Other} {
			for _, role := range accesstest.Roles() {
				want, err := accesstest.Want(exp, role, scope)
				if err != nil {
					t.Fatal(err)
				}
				f.Reset()
				c := op.build(f, role, scope)
				var hdr []string
				if cred := f.Credential(role); cred != "" {
					hdr = []string{"Authorization", "Bearer " + cred}
				}
				resp := ts.call(c.method, c.path, c.body, hdr...)
				cell := fmt.Sprintf("%s %s as %s (%s %s)", exp.Op, scope, role, c.method, c.path)
				if want == "" {
					if resp.status != c.okStatus {
						t.Errorf("%s: %d %s, want %d", cell, resp.status, resp.body, c.okStatus)
					}
					continue
				}
				var env struct {
					Error api.Error `json:"error"`
				}
				_ = json.Unmarshal(resp.body, &env)
				if resp.status != api.StatusOf(want).HTTP || env.Error.Code != want {
					t.Errorf("%s: %d %s, want %d %s", cell, resp.status, resp.body, api.StatusOf(want).HTTP, want)
				}
			}
		}
	}
}

// TestAdminRoutes exercises the admin endpoints' answers beyond status
// codes: bodies, tenant scoping of lists, revocation on the next request,
// rotation overlap, forced tenant deletion and the audit trail.
func TestAdminRoutes(t *testing.T) {
	f := accesstest.New(t)
	ts := newGuardedServer(t, f)
	as := func(r accesstest.Role) []string { return []string{"Authorization", "Bearer " + f.Credential(r)} }
	op := as(accesstest.Operator)

	// A tenant, with a key made by the operator and shown once.
	r := ts.call("POST", "/admin/tenants", access.CreateTenantRequest{Name: "acme"}, op...)
	var acme access.Tenant
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &acme) != nil || acme.ID == "" || acme.Name != "acme" {
		t.Fatalf("create tenant: %d %s", r.status, r.body)
	}
	ts.call("POST", "/admin/tenants", access.CreateTenantRequest{Name: "acme"}, op...).envelope(t, http.StatusConflict, api.CodeAlreadyExists)
	r = ts.call("POST", "/admin/api-keys", access.CreateKeyRequest{Tenant: "acme", Role: "admin", Name: "acme-admin", ExpiresIn: "720h"}, op...)
	var made access.CreatedKey
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &made) != nil || !strings.HasPrefix(made.Key, "ak_"+made.ID+"_") ||
		made.TenantID != acme.ID || !made.ExpiresAt.Equal(f.Clock.Now().Add(720*time.Hour)) {
		t.Fatalf("create key: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("a created key is cacheable: %q", r.header.Get("Cache-Control"))
	}
	ts.call("POST", "/admin/api-keys", access.CreateKeyRequest{Role: "reader", ExpiresIn: "soon"}, op...).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	ts.call("POST", "/admin/api-keys", access.CreateKeyRequest{Role: "root"}, op...).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	acmeAdmin := []string{"Authorization", "Bearer " + made.Key}

	// acme's admin sees acme's keys only, never a secret, and cannot
	// grant more than it has or reach another tenant.
	r = ts.call("GET", "/admin/api-keys", nil, acmeAdmin...)
	if r.status != http.StatusOK || strings.Contains(string(r.body), made.Key) || strings.Contains(string(r.body), "secret") {
		t.Fatalf("list keys: %d %s", r.status, r.body)
	}
	var list access.KeyList
	_ = json.Unmarshal(r.body, &list)
	if len(list.Keys) != 1 || list.Keys[0].ID != made.ID {
		t.Fatalf("acme's admin lists %+v", list.Keys)
	}
	ts.call("GET", "/admin/api-keys?tenant="+f.Alpha, nil, acmeAdmin...).envelope(t, http.StatusNotFound, api.CodeNotFound)
	ts.call("DELETE", "/admin/api-keys/"+f.KeyIDs[accesstest.Reader], nil, acmeAdmin...).envelope(t, http.StatusNotFound, api.CodeNotFound)
	ts.call("POST", "/admin/tenants", access.CreateTenantRequest{Name: "evil"}, acmeAdmin...).envelope(t, http.StatusForbidden, api.CodePermissionDenied)

	// A key limited to a collection grants only keys limited to it.
	r = ts.call("POST", "/admin/api-keys", access.CreateKeyRequest{Role: "admin", Collections: []string{"docs"}}, acmeAdmin...)
	var limited access.CreatedKey
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &limited) != nil {
		t.Fatalf("limited key: %d %s", r.status, r.body)
	}
	lim := []string{"Authorization", "Bearer " + limited.Key}
	ts.call("POST", "/admin/api-keys", access.CreateKeyRequest{Role: "reader"}, lim...).envelope(t, http.StatusForbidden, api.CodePermissionDenied)
	if r := ts.call("POST", "/admin/api-keys", access.CreateKeyRequest{Role: "reader", Collections: []string{"docs"}}, lim...); r.status != http.StatusCreated {
		t.Fatalf("limited grant: %d %s", r.status, r.body)
	}
	// ... and cannot create a collection outside its list.
	ts.call("POST", "/api/v1/collections", api.CreateCollectionRequest{Name: "other", Dimension: 2}, lim...).envelope(t, http.StatusForbidden, api.CodePermissionDenied)
	if r := ts.call("POST", "/api/v1/collections", api.CreateCollectionRequest{Name: "docs", Dimension: 2}, lim...); r.status != http.StatusCreated {
		t.Fatalf("limited create: %d %s", r.status, r.body)
	}

	// Rotation: the old key works through the overlap, the new one at once.
	r = ts.call("POST", "/admin/api-keys/"+made.ID+"/rotate", access.RotateKeyRequest{Overlap: "1h"}, acmeAdmin...)
	var rot access.RotatedKey
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &rot) != nil || rot.Old.ID != made.ID || rot.New.Key == "" ||
		!rot.Old.ExpiresAt.Equal(f.Clock.Now().Add(time.Hour)) {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	newAdmin := []string{"Authorization", "Bearer " + rot.New.Key}
	for _, who := range [][]string{acmeAdmin, newAdmin} {
		if r := ts.call("GET", "/api/v1/collections", nil, who...); r.status != http.StatusOK {
			t.Fatalf("during the overlap: %d %s", r.status, r.body)
		}
	}
	f.Clock.Advance(time.Hour)
	ts.call("GET", "/api/v1/collections", nil, acmeAdmin...).envelope(t, http.StatusUnauthorized, api.CodeUnauthenticated)

	// Revocation holds from the very next request, token included.
	r = ts.call("POST", "/api/v1/auth/token", nil, newAdmin...)
	var tok auth.Token
	if r.status != http.StatusOK || json.Unmarshal(r.body, &tok) != nil || tok.TokenType != "Bearer" || tok.Token == "" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	bearer := []string{"Authorization", "Bearer " + tok.Token}
	if r := ts.call("GET", "/api/v1/collections", nil, bearer...); r.status != http.StatusOK {
		t.Fatalf("with the token: %d %s", r.status, r.body)
	}
	ts.call("POST", "/api/v1/auth/token", nil, bearer...).envelope(t, http.StatusUnauthorized, api.CodeUnauthenticated) // a token buys no token
	if r := ts.call("DELETE", "/admin/api-keys/"+rot.New.ID, nil, newAdmin...); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	ts.call("GET", "/api/v1/collections", nil, newAdmin...).envelope(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	ts.call("GET", "/api/v1/collections", nil, bearer...).envelope(t, http.StatusUnauthorized, api.CodeUnauthenticated)

	// A tenant with collections is kept unless forced; forced, its
	// collections go first, then the tenant and its keys.
	r = ts.call("DELETE", "/admin/tenants/"+acme.ID, nil, op...)
	r.envelope(t, http.StatusConflict, api.CodeFailedPrecondition)
	ts.call("DELETE", "/admin/tenants/"+acme.ID+"?force=maybe", nil, op...).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	r = ts.call("DELETE", "/admin/tenants/"+acme.ID+"?force=true", nil, op...)
	var del access.TenantDeleted
	if r.status != http.StatusOK || json.Unmarshal(r.body, &del) != nil || !del.Deleted || !slices.Equal(del.DroppedCollections, []string{"docs"}) {
		t.Fatalf("forced delete: %d %s", r.status, r.body)
	}
	if len(f.DB.ListCollections(acme.ID)) != 0 {
		t.Fatal("the deleted tenant's collections are still there")
	}
	ts.call("GET", "/api/v1/collections", nil, lim...).envelope(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	ts.call("DELETE", "/admin/tenants/default", nil, op...).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	ts.call("DELETE", "/admin/tenants/nope", nil, op...).envelope(t, http.StatusNotFound, api.CodeNotFound)

	// The audit trail has the changes, pages newest first, and alpha's
	// admin sees only alpha's events.
	r = ts.call("GET", "/admin/audit?limit=2", nil, op...)
	var page auth.EventPage
	if r.status != http.StatusOK || json.Unmarshal(r.body, &page) != nil || len(page.Events) != 2 || page.NextCursor == "" {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	r = ts.call("GET", "/admin/audit?limit=1000&cursor="+page.NextCursor, nil, op...)
	var rest auth.EventPage
	_ = json.Unmarshal(r.body, &rest)
	all := append(page.Events, rest.Events...)
	want := map[string]bool{"tenant.manage/ok/" + acme.ID: false, "key.create/ok/" + made.ID: false, "key.revoke/ok/" + rot.New.ID: false,
		"tenant.manage/failed/" + acme.ID: false, "key.rotate/ok/" + made.ID + " -> " + rot.New.ID: false,
		"collection.create/ok/docs": false, "collection.create/denied/other": false}
	for i, e := range all {
		if i > 0 && e.ID >= all[i-1].ID {
			t.Fatalf("audit not newest first: %v", all)
		}
		if _, ok := want[string(e.Action)+"/"+string(e.Result)+"/"+e.Target]; ok {
			want[string(e.Action)+"/"+string(e.Result)+"/"+e.Target] = true
		}
		if e.RemoteAddr == "" || e.Time.IsZero() {
			t.Errorf("audit event without address or time: %+v", e)
		}
	}
	for k, found := range want {
		if !found {
			t.Errorf("audit trail lacks %s", k)
		}
	}
	ts.call("GET", "/admin/audit?limit=0", nil, op...).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	ts.call("GET", "/admin/audit?cursor=xyz", nil, op...).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	r = ts.call("GET", "/admin/audit?limit=1000", nil, as(accesstest.Admin)...)
	var alphaPage auth.EventPage
	_ = json.Unmarshal(r.body, &alphaPage)
	for _, e := range alphaPage.Events {
		if e.TenantID != f.Alpha {
			t.Fatalf("alpha's admin sees an event of tenant %q", e.TenantID)
		}
	}
}

// TestCredentialForms: Bearer (any case) and X-API-Key work; another
// scheme, an empty bearer and two different credentials are refused.
func TestCredentialForms(t *testing.T) {
	f := accesstest.New(t)
	ts := newGuardedServer(t, f)
	key := f.Credential(accesstest.Reader)
	for _, h := range [][]string{{"Authorization", "Bearer " + key}, {"Authorization", "bearer " + key}, {"X-API-Key", key},
		{"Authorization", "Bearer " + key, "X-API-Key", key}} {
		if r := ts.call("GET", "/api/v1/collections", nil, h...); r.status != http.StatusOK {
			t.Errorf("%v: %d %s", h[0], r.status, r.body)
		}
	}
	for _, h := range [][]string{{"Authorization", "Basic " + key}, {"Authorization", "Bearer"}, {"Authorization", key},
		{"Authorization", "Bearer " + key, "X-API-Key", f.Credential(accesstest.Writer)}, {"X-API-Key", "ak_nope"}} {
		ts.call("GET", "/api/v1/collections", nil, h...).envelope(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	}
	// Probes and metrics need nothing.
	if r := ts.call("GET", "/livez", nil); r.status != http.StatusOK {
		t.Fatalf("livez: %d", r.status)
	}
}

// TestGuardBeforeRecovery: until the guard has its database, requests are
// unavailable (not let through, not unauthenticated); admin routes without
// a guard at all are unavailable too.
func TestGuardBeforeRecovery(t *testing.T) {
	ts := newTestServer(t, func(s *setup) { s.noDB = true })
	ts.call("POST", "/admin/tenants", access.CreateTenantRequest{Name: "x"}).envelope(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	ts.call("POST", "/api/v1/auth/token", nil).envelope(t, http.StatusServiceUnavailable, api.CodeUnavailable)

	g := access.New(access.Options{})
	svc := api.New(api.Options{})
	srv := &http.Server{Handler: NewHandler(svc, Options{Guard: g}), ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/v1/collections")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("before recovery: %d", resp.StatusCode)
	}
}
