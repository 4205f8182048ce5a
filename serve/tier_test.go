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

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
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
// tierEnv is a server with a tier on a fault-injecting memory store, its
// ship loop and retry worker stopped and its clock manual: the tests drive
// them.
type tierEnv struct {
	s     *started
	fs    *tier.FaultStore
	clock *tier.ManualClock
	key   string
	c     *http.Client
}

func startTierEnv(t *testing.T) *tierEnv {
	t.Helper()
	cfg := testConfig(t)
	e := &tierEnv{fs: tier.NewFaultStore(tier.NewMemStore()), clock: tier.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)), c: &http.Client{}}
	cfg.Tier = TierConfig{Store: e.fs, Prefix: "box", Manual: true, Clock: e.clock}
	e.s = startServer(t, cfg)
	e.key = bootstrapKey(t, cfg.DataDir)
	disableRateLimit(t, e.s, e.key)
	return e
}

func (e *tierEnv) call(t *testing.T, method, path string, body any) httpResult {
	t.Helper()
	return do(t, e.c, method, e.s.restURL(path), e.key, body)
}

func (e *tierEnv) ship() error { return e.s.db.Tier().ShipOnce(context.Background()) }

// insert upserts n records from id from over REST.
func (e *tierEnv) insert(t *testing.T, collection string, from, n int) {
	t.Helper()
	var vs []api.Vector
	for i := from; i < from+n; i++ {
		vs = append(vs, api.Vector{ID: fmt.Sprint(i), Vector: []float32{float32(i), 1, 2, 3}})
	}
	if r := e.call(t, "POST", "/api/v1/collections/"+collection+"/insert", api.UpsertRequest{Vectors: vs}); r.status != http.StatusOK {
		t.Fatalf("insert: %d %s", r.status, r.body)
	}
}

// outage makes every store call fail and goes on writing, checkpointing,
// shipping and retrying until the breaker opens and the DLQ holds the
// failed uploads.
func (e *tierEnv) outage(t *testing.T, collection string) {
	t.Helper()
	e.fs.FailAlways(tier.OpAny, errors.New("no route to host"))
	for i := 0; e.s.db.Tier().Breaker().State() == tier.BreakerClosed; i++ {
		if i == 6 {
			t.Fatal("the breaker never opened")
		}
		e.insert(t, collection, 100+10*i, 10)
		e.call(t, "POST", "/admin/collections/"+collection+"/checkpoint", nil)
		_ = e.ship()
		e.clock.Advance(time.Hour) // past the DLQ's back-off
		if _, err := e.s.db.Tier().DLQ().RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStorageRoutes(t *testing.T) {
	e := startTierEnv(t)
	s, fs, c := e.s, e.fs, e.c
	call := func(method, path string, body any) httpResult { return e.call(t, method, path, body) }
	ship := e.ship

	var col api.Collection
	decodeInto(t, call("POST", "/api/v1/collections", map[string]any{"name": "docs", "dimension": 4, "metric": "l2", "tier_policy": "memory-s3"}), http.StatusCreated, &col)
	if col.TierPolicy != "memory-s3" {
		t.Fatalf("created with policy %q", col.TierPolicy)
	}
	e.insert(t, "docs", 0, 20)
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
	e.outage(t, "docs")
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
	// Every metric the tier's issue names, by its exact name.
	for _, want := range []string{`akidb_circuit_breaker_state{store="memory"} 2`, fmt.Sprintf(`akidb_dlq_entries{status="pending"} %d`, st.DLQ.Pending),
		`akidb_dlq_entries{status="permanent"} 0`, `akidb_tier_uploads_total{kind="snapshot",result="success"} 1`,
		`akidb_tier_uploads_total{kind="log",result="failure"} `, `akidb_tier_uploads_total{kind="log",result="breaker_open"} `,
		`akidb_tier_upload_duration_seconds_count{kind="snapshot"} `, "akidb_tier_bytes_shipped_total ", "akidb_tier_ship_lag_seconds ",
		`akidb_dlq_retry_attempts_total{result="success"} 0`, `akidb_dlq_retry_attempts_total{result="permanent_failure"} 0`} {
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

// TestStorageRPCs drives the same tier through ManagementService: what
// gRPC answers agrees with the REST routes field for field, the DLQ pages
// by cursor, an operator discards one entry and retries another, resets
// the breaker and retries the rest, and the bad requests are refused with
// the shared codes.
func TestStorageRPCs(t *testing.T) {
	e := startTierEnv(t)
	col, mgmt := e.s.grpcClients(t)
	ctx := rpcCtx(t, e.key)
	if c, err := col.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{Name: "docs", Dimension: 4, Metric: "l2", TierPolicy: "memory-s3"}); err != nil || c.GetTierPolicy() != "memory-s3" {
		t.Fatalf("create: %v %v", c, err)
	}
	e.insert(t, "docs", 0, 20)
	ck, err := mgmt.CheckpointCollection(ctx, &akidbv1.CheckpointCollectionRequest{Name: "docs"})
	if err != nil || !ck.GetUploadQueued() || ck.GetSnapshotSeq() == 0 || ck.GetTierPolicy() != "memory-s3" || ck.GetCollection() != "docs" {
		t.Fatalf("checkpoint: %v %v", ck, err)
	}
	if err := e.ship(); err != nil {
		t.Fatal(err)
	}
	e.outage(t, "docs")

	// The status, both ways.
	var rest access.StorageStatus
	decodeInto(t, e.call(t, "GET", "/admin/storage/status", nil), http.StatusOK, &rest)
	st, err := mgmt.GetStorageStatus(ctx, &akidbv1.GetStorageStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	cb, rcb := st.GetStore().GetCircuitBreaker(), rest.Store.CircuitBreaker
	if !st.GetEnabled() || st.GetStore().GetName() != rest.Store.Name || st.GetStore().GetPrefix() != rest.Store.Prefix ||
		cb.GetState() != "open" || cb.GetState() != rcb.State || int(cb.GetStateValue()) != rcb.StateValue || cb.GetFailures() != rcb.Failures ||
		cb.GetOpens() != rcb.Opens || cb.GetLastError() != rcb.LastError || !cb.GetOpenUntil().AsTime().Equal(*rcb.OpenUntil) ||
		!cb.GetSince().AsTime().Equal(rcb.Since) || st.GetDlq().GetPending() != int64(rest.DLQ.Pending) || st.GetDlq().GetPending() == 0 {
		t.Fatalf("gRPC status %v\nREST status %+v", st, rest)
	}
	if len(st.GetCollections()) != 1 || len(rest.Collections) != 1 {
		t.Fatalf("collections: %v, %+v", st.GetCollections(), rest.Collections)
	}
	gc, rc := st.GetCollections()[0], rest.Collections[0]
	if gc.GetName() != "docs" || gc.GetId() != rc.ID || gc.GetTenant() != rc.Tenant || gc.GetTierPolicy() != rc.TierPolicy ||
		gc.GetDurableSeq() != rc.DurableSeq || gc.GetShippedSeq() != rc.ShippedSeq || gc.GetShippedSeq() >= gc.GetDurableSeq() ||
		gc.GetPendingUploads() != int64(rc.PendingUploads) || gc.GetDlq().GetPending() != int64(rc.DLQ.Pending) ||
		gc.GetNewestSnapshot().GetSeq() != ck.GetSnapshotSeq() || gc.GetNewestSnapshot().GetSha256() != rc.NewestSnapshot.SHA256 ||
		gc.GetNewestSnapshot().GetKey() != rc.NewestSnapshot.Key || gc.GetManifestKey() != rc.Manifest.Key || gc.GetManifestGeneration() != rc.Manifest.Generation {
		t.Fatalf("gRPC collection %v\nREST collection %+v", gc, rc)
	}

	// The DLQ, one entry a page, both ways.
	var ids []int64
	cursor := ""
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("the DLQ pages never end")
		}
		g, err := mgmt.ListDLQ(ctx, &akidbv1.ListDLQRequest{Status: "pending", Limit: 1, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		var r access.DLQPage
		decodeInto(t, e.call(t, "GET", "/admin/dlq?status=pending&limit=1&cursor="+cursor, nil), http.StatusOK, &r)
		if len(g.GetEntries()) != 1 || len(r.Entries) != 1 || g.GetNextCursor() != r.NextCursor {
			t.Fatalf("page %d: gRPC %v, REST %+v", page, g, r)
		}
		ge, re := g.GetEntries()[0], r.Entries[0]
		if ge.GetId() != re.ID || ge.GetObjectKey() != re.ObjectKey || ge.GetOperation() != re.Operation || ge.GetKind() != re.Kind ||
			ge.GetLocalFile() != re.LocalFile || ge.GetSize() != re.Size || ge.GetSha256() != re.SHA256 || ge.GetStatus() != "pending" ||
			ge.GetCollection() != "docs" || ge.GetCollectionId() != gc.GetId() || int(ge.GetRetryCount()) != re.RetryCount ||
			ge.GetLastError() != re.LastError || !ge.GetCreatedAt().AsTime().Equal(re.CreatedAt) || !ge.GetNextAttemptAt().AsTime().Equal(re.NextAttempt) {
			t.Fatalf("page %d: gRPC entry %v, REST entry %+v", page, ge, re)
		}
		ids = append(ids, ge.GetId())
		if cursor = g.GetNextCursor(); cursor == "" {
			break
		}
	}
	if int64(len(ids)) != st.GetDlq().GetPending() {
		t.Fatalf("paged through %d entries, %d are pending", len(ids), st.GetDlq().GetPending())
	}

	// Refusals, with the shared codes.
	for name, c := range map[string]struct {
		call func() error
		code codes.Code
	}{
		"bad status":         {func() error { _, err := mgmt.ListDLQ(ctx, &akidbv1.ListDLQRequest{Status: "lost"}); return err }, codes.InvalidArgument},
		"negative limit":     {func() error { _, err := mgmt.ListDLQ(ctx, &akidbv1.ListDLQRequest{Limit: -1}); return err }, codes.InvalidArgument},
		"bad cursor":         {func() error { _, err := mgmt.ListDLQ(ctx, &akidbv1.ListDLQRequest{Cursor: "!"}); return err }, codes.InvalidArgument},
		"zero id":            {func() error { _, err := mgmt.RetryDLQEntry(ctx, &akidbv1.RetryDLQEntryRequest{}); return err }, codes.InvalidArgument},
		"unknown id retried": {func() error { _, err := mgmt.RetryDLQEntry(ctx, &akidbv1.RetryDLQEntryRequest{Id: 99999}); return err }, codes.NotFound},
		"unknown id dropped": {func() error {
			_, err := mgmt.DiscardDLQEntry(ctx, &akidbv1.DiscardDLQEntryRequest{Id: 99999})
			return err
		}, codes.NotFound},
		"unknown collection": {func() error {
			_, err := mgmt.CheckpointCollection(ctx, &akidbv1.CheckpointCollectionRequest{Name: "nope"})
			return err
		}, codes.NotFound},
	} {
		if err := c.call(); status.Code(err) != c.code {
			t.Errorf("%s: %v, want %v", name, err, c.code)
		}
	}

	// The store is back: discard one entry, reset the breaker, retry one,
	// then the rest.
	e.fs.Heal()
	d, err := mgmt.DiscardDLQEntry(ctx, &akidbv1.DiscardDLQEntryRequest{Id: ids[0]})
	if err != nil || d.GetId() != ids[0] {
		t.Fatalf("discard: %v %v", d, err)
	}
	reset, err := mgmt.ResetCircuitBreaker(ctx, &akidbv1.ResetCircuitBreakerRequest{})
	if err != nil || reset.GetCircuitBreaker().GetState() != "closed" || reset.GetCircuitBreaker().GetStateValue() != 0 {
		t.Fatalf("reset: %v %v", reset, err)
	}
	left := ids[1:]
	if len(left) > 0 {
		one, err := mgmt.RetryDLQEntry(ctx, &akidbv1.RetryDLQEntryRequest{Id: left[0]})
		if err != nil || one.GetAttempted() != 1 || one.GetSucceeded() != 1 {
			t.Fatalf("retry of entry %d: %v %v", left[0], one, err)
		}
		left = left[1:]
	}
	all, err := mgmt.RetryDLQ(ctx, &akidbv1.RetryDLQRequest{})
	if err != nil || int(all.GetSucceeded()) != len(left) || all.GetFailed() != 0 {
		t.Fatalf("retry of the %d left: %v %v", len(left), all, err)
	}
	if err := e.ship(); err != nil {
		t.Fatal(err)
	}
	st, err = mgmt.GetStorageStatus(ctx, &akidbv1.GetStorageStatusRequest{})
	if gc := st.GetCollections()[0]; err != nil || gc.GetShippedSeq() != gc.GetDurableSeq() || st.GetDlq().GetPending() != 0 || gc.GetShipLagSeconds() != 0 {
		t.Fatalf("after recovery: %v %v", st, err)
	}
	p := "memory"
	if c, err := col.UpdateCollection(ctx, &akidbv1.UpdateCollectionRequest{Name: "docs", TierPolicy: &p}); err != nil || c.GetTierPolicy() != "memory" {
		t.Fatalf("update to memory: %v %v", c, err)
	}
}
