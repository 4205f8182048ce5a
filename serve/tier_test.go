package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
)

func decodeInto(t *testing.T, r httpResult, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// TestStorageRoutes drives the tier through the server's routes: a
// memory-s3 collection is checkpointed and shipped, the store fails until
// the breaker opens and the DLQ fills (status, DLQ listing and metrics
// show it, scoped by tenant), and the operator resets the breaker and
// retries the DLQ, which drains. storage.read is not audited;
// storage.admin is.
func TestStorageRoutes(t *testing.T) {
	cfg := testConfig(t)
	fs := tier.NewFaultStore(tier.NewMemStore())
	clock := tier.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg.Tier = TierConfig{Store: fs, Prefix: "box", Manual: true, Clock: clock}
	s := startServer(t, cfg)
	key := bootstrapKey(t, cfg.DataDir)
	disableRateLimit(t, s, key)
	c := &http.Client{}
	call := func(method, path string, body any) httpResult { return do(t, c, method, s.restURL(path), key, body) }
	ship := func() error { return s.db.Tier().ShipOnce(context.Background()) }

	var col api.Collection
	decodeInto(t, call("POST", "/api/v1/collections", map[string]any{"name": "docs", "dimension": 4, "metric": "l2", "tier_policy": "memory-s3"}), http.StatusCreated, &col)
	if col.TierPolicy != "memory-s3" {
		t.Fatalf("created with policy %q", col.TierPolicy)
	}
	insert := func(from, n int) {
		t.Helper()
		var vs []api.Vector
		for i := from; i < from+n; i++ {
			vs = append(vs, api.Vector{ID: fmt.Sprint(i), Vector: []float32{float32(i), 1, 2, 3}})
		}
		if r := call("POST", "/api/v1/collections/docs/insert", api.UpsertRequest{Vectors: vs}); r.status != http.StatusOK {
			t.Fatalf("insert: %d %s", r.status, r.body)
		}
	}
	insert(0, 20)
	var ck api.CheckpointResponse
	decodeInto(t, call("POST", "/admin/collections/docs/checkpoint", nil), http.StatusOK, &ck)
	if !ck.UploadQueued || ck.SnapshotSeq == 0 || ck.TierPolicy != "memory-s3" {
		t.Fatalf("checkpoint: %+v", ck)
	}
	if err := ship(); err != nil {
		t.Fatal(err)
	}
	var st access.StorageStatus
	decodeInto(t, call("GET", "/admin/storage/status", nil), http.StatusOK, &st)
	if !st.Enabled || st.Store == nil || st.Store.Name != "memory" || st.Store.CircuitBreaker.State != "closed" || len(st.Collections) != 1 {
		t.Fatalf("status: %+v", st)
	}
	cs := st.Collections[0]
	if cs.Name != "docs" || cs.Tenant != "default" || cs.ShippedSeq != cs.DurableSeq || cs.DurableSeq == 0 || cs.ShipLagSeconds != 0 ||
		cs.NewestSnapshot == nil || cs.NewestSnapshot.Seq != ck.SnapshotSeq || cs.Manifest == nil || !strings.HasPrefix(cs.Manifest.Key, "box/default/docs/") {
		t.Fatalf("collection status: %+v", cs)
	}

	// The store fails; writes go on; the breaker opens.
	fs.FailAlways(tier.OpAny, errors.New("no route to host"))
	for i := 0; s.db.Tier().Breaker().State() == tier.BreakerClosed; i++ {
		if i == 6 {
			t.Fatal("the breaker never opened")
		}
		insert(100+10*i, 10)
		call("POST", "/admin/collections/docs/checkpoint", nil)
		_ = ship()
		clock.Advance(time.Hour) // past the DLQ's back-off
		if _, err := s.db.Tier().DLQ().RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	decodeInto(t, call("GET", "/admin/storage/status", nil), http.StatusOK, &st)
	cb := st.Store.CircuitBreaker
	if cb.State != "open" || cb.StateValue != 2 || cb.OpenUntil == nil || cb.LastError == "" || cb.Failures < 5 || st.DLQ.Pending == 0 ||
		st.Collections[0].DLQ.Pending != st.DLQ.Pending || st.Collections[0].ShippedSeq >= st.Collections[0].DurableSeq {
		t.Fatalf("status during the outage: %+v %+v", st, st.Collections[0])
	}
	var page access.DLQPage
	decodeInto(t, call("GET", "/admin/dlq?status=pending&limit=1", nil), http.StatusOK, &page)
	if len(page.Entries) != 1 || page.Entries[0].Operation != "upload" || page.Entries[0].LocalFile == "" || page.Entries[0].Collection != "docs" {
		t.Fatalf("dlq page: %+v", page)
	}
	if st.DLQ.Pending > 1 && page.NextCursor == "" {
		t.Fatal("no next cursor on a full page")
	}
	if r := call("GET", "/admin/dlq?status=lost", nil); r.status != http.StatusBadRequest {
		t.Fatalf("bad status filter: %d", r.status)
	}
	// Metrics show the outage.
	r := do(t, c, "GET", s.restURL("/metrics"), "", nil)
	for _, want := range []string{`akidb_circuit_breaker_state{store="memory"} 2`, fmt.Sprintf(`akidb_dlq_entries{status="pending"} %d`, st.DLQ.Pending),
		`akidb_tier_uploads_total{kind="snapshot",result="success"} 1`, `akidb_tier_bytes_shipped_total`, `akidb_tier_ship_lag_seconds`} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Another tenant's reader sees none of it.
	var acme access.Tenant
	decodeInto(t, call("POST", "/admin/tenants", access.CreateTenantRequest{Name: "acme"}), http.StatusCreated, &acme)
	var rk access.CreatedKey
	decodeInto(t, call("POST", "/admin/api-keys", access.CreateKeyRequest{Tenant: "acme", Role: string(auth.RoleReader)}), http.StatusCreated, &rk)
	var other access.StorageStatus
	decodeInto(t, do(t, c, "GET", s.restURL("/admin/storage/status"), rk.Key, nil), http.StatusOK, &other)
	if len(other.Collections) != 0 || other.DLQ.Pending != 0 {
		t.Fatalf("acme's reader sees: %+v", other)
	}
	decodeInto(t, do(t, c, "GET", s.restURL("/admin/dlq"), rk.Key, nil), http.StatusOK, &page)
	if len(page.Entries) != 0 {
		t.Fatalf("acme's reader sees DLQ entries: %+v", page)
	}
	if r := do(t, c, "POST", s.restURL("/admin/dlq/retry"), rk.Key, nil); r.status != http.StatusForbidden {
		t.Fatalf("a reader retried the DLQ: %d", r.status)
	}

	// The store is back; the operator resets the breaker and retries.
	fs.Heal()
	var reset access.BreakerReset
	decodeInto(t, call("POST", "/admin/storage/circuit-breaker/reset", nil), http.StatusOK, &reset)
	if reset.CircuitBreaker.State != "closed" {
		t.Fatalf("after reset: %+v", reset)
	}
	var res access.DLQRetried
	decodeInto(t, call("POST", "/admin/dlq/retry", nil), http.StatusOK, &res)
	if res.Succeeded != st.DLQ.Pending || res.Failed != 0 {
		t.Fatalf("retry: %+v, %d were pending", res, st.DLQ.Pending)
	}
	if err := ship(); err != nil {
		t.Fatal(err)
	}
	decodeInto(t, call("GET", "/admin/storage/status", nil), http.StatusOK, &st)
	if cs := st.Collections[0]; cs.ShippedSeq != cs.DurableSeq || st.DLQ.Pending != 0 || cs.PendingUploads != 0 {
		t.Fatalf("after recovery: %+v %+v", st, cs)
	}
	if r := call("DELETE", "/admin/dlq/99999", nil); r.status != http.StatusNotFound {
		t.Fatalf("discard of an unknown entry: %d %s", r.status, r.body)
	}
	if r := call("POST", "/admin/dlq/x/retry", nil); r.status != http.StatusBadRequest {
		t.Fatalf("retry of a malformed id: %d %s", r.status, r.body)
	}

	// Back to memory: no longer shipped.
	decodeInto(t, call("PATCH", "/api/v1/collections/docs", map[string]any{"tier_policy": "memory"}), http.StatusOK, &col)
	if col.TierPolicy != "memory" || s.db.Tier().Registered(cs.ID) {
		t.Fatalf("after PATCH to memory: %+v", col)
	}

	// The trail: every storage.admin call, no storage.read.
	var events auth.EventPage
	decodeInto(t, call("GET", "/admin/audit?limit=1000", nil), http.StatusOK, &events)
	seen := map[auth.Action]int{}
	for _, e := range events.Events {
		seen[e.Action]++
	}
	if seen[auth.ActionStorageRead] != 0 || seen[auth.ActionStorageAdmin] < 2 || seen[auth.ActionCollectionCheckpoint] < 1 || seen[auth.ActionCollectionUpdate] != 1 {
		t.Fatalf("audited actions: %v", seen)
	}
}

// Without an object store the storage state still answers, and the
// controls say why they cannot act.
func TestStorageRoutesWithoutAStore(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	key := bootstrapKey(t, cfg.DataDir)
	c := &http.Client{}
	var st access.StorageStatus
	decodeInto(t, do(t, c, "GET", s.restURL("/admin/storage/status"), key, nil), http.StatusOK, &st)
	if st.Enabled || st.Store != nil || st.Collections == nil {
		t.Fatalf("status without a store: %+v", st)
	}
	for _, p := range []string{"/admin/dlq/retry", "/admin/storage/circuit-breaker/reset"} {
		if r := do(t, c, "POST", s.restURL(p), key, nil); r.status != http.StatusConflict || !strings.Contains(string(r.body), "--s3-endpoint") {
			t.Errorf("%s without a store: %d %s", p, r.status, r.body)
		}
	}
	if r := do(t, c, "POST", s.restURL("/api/v1/collections"), key, map[string]any{"name": "x", "dimension": 2, "tier_policy": "memory-s3"}); r.status != http.StatusBadRequest {
		t.Errorf("memory-s3 without a store: %d %s", r.status, r.body)
	}
}
