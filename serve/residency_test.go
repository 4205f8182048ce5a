package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// rpcReason returns the ErrorInfo reason and the RetryInfo delay of a
// gRPC error.
func rpcReason(err error) (codes.Code, string, time.Duration) {
	st := status.Convert(err)
	var reason string
	var retry time.Duration
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		case *errdetails.RetryInfo:
			retry = d.GetRetryDelay().AsDuration()
		}
	}
	return st.Code(), reason, retry
}

// TestColdCollectionThroughTheServer drives a collection out of memory and
// back through the server's routes: the operator's evict and load, the
// status and metrics that never load it, 503 collection_loading past the
// request timeout while its load runs (on both transports), 503
// collection_unavailable while the store that holds its snapshot is down,
// and the recovery once it is back. The store is the fault-injecting one;
// the clock and the residency loop are driven by the test.
func TestColdCollectionThroughTheServer(t *testing.T) {
	cfg := testConfig(t)
	fs := tier.NewFaultStore(tier.NewMemStore())
	clock := tier.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg.Tier = TierConfig{Store: fs, Prefix: "box", Manual: true, Clock: clock, MemoryBudget: 1, EvictAfter: time.Minute, CacheBytes: 0}
	// Long enough for any request to reach its collection on a loaded
	// machine; a held load never finishes within it.
	cfg.Limiting.RequestTimeout = 2 * time.Second
	s := startServer(t, cfg)
	key := bootstrapKey(t, cfg.DataDir)
	disableRateLimit(t, s, key)
	c := &http.Client{}
	call := func(method, path string, body any) httpResult { return do(t, c, method, s.restURL(path), key, body) }
	db := s.db

	var col api.Collection
	decodeInto(t, call("POST", "/api/v1/collections", map[string]any{"name": "cold", "dimension": 4, "metric": "l2", "tier_policy": "s3-only"}), http.StatusCreated, &col)
	decodeInto(t, call("POST", "/api/v1/collections", map[string]any{"name": "warm", "dimension": 4, "metric": "l2"}), http.StatusCreated, &col)
	var vs []api.Vector
	for i := range 30 {
		vs = append(vs, api.Vector{ID: fmt.Sprint(i), Vector: []float32{float32(i), 1, 2, 3}})
	}
	for _, name := range []string{"cold", "warm"} {
		if r := call("POST", "/api/v1/collections/"+name+"/insert", api.UpsertRequest{Vectors: vs}); r.status != http.StatusOK {
			t.Fatalf("insert: %d %s", r.status, r.body)
		}
	}
	query := func(name string) httpResult {
		return call("POST", "/api/v1/collections/"+name+"/query", map[string]any{"vector": []float32{3, 1, 2, 3}, "k": 1})
	}

	// The operator evicts it; a memory collection is refused.
	var res api.ResidencyResponse
	decodeInto(t, call("POST", "/admin/collections/cold/evict", nil), http.StatusOK, &res)
	if res.LoadState != "evicted" || res.Evictions != 1 || res.MemoryBytes == 0 || res.TierPolicy != "s3-only" {
		t.Fatalf("evict: %+v", res)
	}
	if r := call("POST", "/admin/collections/warm/evict", nil); r.status != http.StatusConflict || !strings.Contains(string(r.body), "failed_precondition") {
		t.Fatalf("evict a memory collection: %d %s", r.status, r.body)
	}
	// Status, details and metrics read its facts and never load it.
	var st access.StorageStatus
	decodeInto(t, call("GET", "/admin/storage/status", nil), http.StatusOK, &st)
	var cs access.CollectionStorage
	for _, x := range st.Collections {
		if x.Name == "cold" {
			cs = x
		}
	}
	if cs.LoadState != "evicted" || cs.MemoryBytes == 0 || cs.LastUsedAt == nil || cs.EvictedAt == nil || cs.Evictions != 1 || cs.DiskBytes == 0 ||
		st.Memory.BudgetBytes != 1 || st.Memory.ResidentCollections != 1 || st.Memory.Collections != 2 || st.Memory.EvictAfterSeconds != 60 {
		t.Fatalf("status: %+v %+v", st.Memory, cs)
	}
	decodeInto(t, call("GET", "/api/v1/collections/cold", nil), http.StatusOK, &col)
	if col.LoadState != "evicted" || col.Stats == nil || col.Stats.Count != 30 {
		t.Fatalf("details: %+v %+v", col, col.Stats)
	}
	metrics := string(do(t, c, "GET", s.restURL("/metrics"), "", nil).body)
	for _, want := range []string{"akidb_collections_resident 1", "akidb_collections_unavailable 0", "akidb_tier_memory_budget_bytes 1",
		`akidb_collection_evictions_total{reason="operator",result="success"} 1`, "akidb_vectors 60"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if h, _ := db.Collection("default", "cold"); h.Residency().State != "evicted" {
		t.Fatal("reading status loaded the collection")
	}

	// The load is held (its snapshot's download waits on the gate, the
	// local copy was dropped by the cache bound): past the request timeout
	// the answer is collection_loading with Retry-After, and the load goes
	// on.
	if rep := db.EnforceCacheOnce(); rep.Deleted == 0 {
		t.Fatalf("cache: %+v", rep)
	}
	gate := make(chan struct{})
	fs.OnGet(func(key string) {
		if strings.HasSuffix(key, ".snap") {
			<-gate
		}
	})
	r := query("cold")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"collection_loading"`) {
		t.Fatalf("query during a held load: %d %s", r.status, r.body)
	}
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	colc, _ := s.grpcClients(t)
	_, err := colc.Query(rpcCtx(t, key), &akidbv1.QueryRequest{Collection: "cold", Vector: []float32{3, 1, 2, 3}, K: 1})
	if code, reason, retry := rpcReason(err); code != codes.Unavailable || reason != "collection_loading" || retry < time.Second {
		t.Fatalf("gRPC query during a held load: %v %s %v (%v)", code, reason, retry, err)
	}
	decodeInto(t, call("GET", "/admin/storage/status", nil), http.StatusOK, &st)
	for _, x := range st.Collections {
		if x.Name == "cold" && x.LoadState != "loading" {
			t.Fatalf("status during the load: %+v", x)
		}
	}
	close(gate)
	h, _ := db.Collection("default", "cold")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.WaitSettled(ctx); err != nil {
		t.Fatal(err)
	}
	var qr api.QueryResponse
	decodeInto(t, query("cold"), http.StatusOK, &qr)
	if len(qr.Results) != 1 || qr.Results[0].ID != "3" {
		t.Fatalf("query after the load: %+v", qr)
	}
	if res := h.Residency(); res.Loads != 1 || res.Source != "store" {
		t.Fatalf("after the load: %+v", res)
	}

	// The store goes down with the collection evicted and its snapshot
	// only there: collection_unavailable, the reason in the status, until
	// the store is back.
	fs.OnGet(nil)
	decodeInto(t, call("POST", "/admin/collections/cold/evict", nil), http.StatusOK, &res)
	db.EnforceCacheOnce()
	fs.FailAlways(tier.OpAny, errors.New("connect: connection refused"))
	r = query("cold")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"collection_unavailable"`) || !strings.Contains(string(r.body), "connection refused") {
		t.Fatalf("query with the store down: %d %s", r.status, r.body)
	}
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After on collection_unavailable")
	}
	decodeInto(t, call("GET", "/admin/storage/status", nil), http.StatusOK, &st)
	for _, x := range st.Collections {
		if x.Name == "cold" && (x.LoadState != "unavailable" || !strings.Contains(x.LoadReason, "connection refused") || x.LoadRetryAt == nil) {
			t.Fatalf("status with the store down: %+v", x)
		}
	}
	if m := string(do(t, c, "GET", s.restURL("/metrics"), "", nil).body); !strings.Contains(m, "akidb_collections_unavailable 1") ||
		!strings.Contains(m, `akidb_collection_loads_total{result="failure",source="store"} 1`) {
		t.Errorf("metrics with the store down lack the unavailable collection or the failed load")
	}
	_, err = colc.Query(rpcCtx(t, key), &akidbv1.QueryRequest{Collection: "cold", Vector: []float32{3, 1, 2, 3}, K: 1})
	if code, reason, _ := rpcReason(err); code != codes.Unavailable || reason != "collection_unavailable" {
		t.Fatalf("gRPC query with the store down: %v %s (%v)", code, reason, err)
	}
	if r := query("warm"); r.status != http.StatusOK {
		t.Fatalf("the memory collection with the store down: %d %s", r.status, r.body)
	}
	fs.Heal()
	db.Tier().Breaker().Reset()
	clock.Advance(time.Minute) // past the retry's back-off
	decodeInto(t, call("POST", "/admin/collections/cold/load", nil), http.StatusOK, &res)
	if res.LoadState != "resident" || res.LoadSource != "store" || res.Loads != 2 {
		t.Fatalf("load: %+v", res)
	}
	decodeInto(t, query("cold"), http.StatusOK, &qr)

	// Loads and evictions are audited.
	var page struct {
		Events []struct{ Action, Target, Result string } `json:"events"`
	}
	decodeInto(t, call("GET", "/admin/audit?limit=100", nil), http.StatusOK, &page)
	seen := map[string]int{}
	for _, e := range page.Events {
		if e.Target == "cold" || e.Target == "warm" {
			seen[e.Action+" "+e.Result]++
		}
	}
	if seen["collection.evict ok"] != 2 || seen["collection.load ok"] != 1 || seen["collection.evict failed"] != 1 {
		t.Fatalf("audit: %v", seen)
	}
}
