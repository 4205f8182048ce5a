package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/wal"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// disableRateLimit turns the per-tenant rate limit off (a persisted
// runtime setting): these tests measure correctness, not limits.
func disableRateLimit(t testing.TB, s *started, key string) {
	t.Helper()
	if r := do(t, &http.Client{}, "POST", s.restURL("/admin/config/rate-limit"), key, map[string]any{"enabled": false}); r.status != 200 {
		t.Fatalf("disable rate limit: %d %s", r.status, r.body)
	}
}

func randVec(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// TestTransportsAgree sends the same requests over REST and gRPC to one
// server and compares the answers, successes and failures alike.
func TestTransportsAgree(t *testing.T) {
	s := startServer(t, testConfig(t))
	key := bootstrapKey(t, s.cfg.DataDir)
	disableRateLimit(t, s, key)
	client := &http.Client{}
	col, _ := s.grpcClients(t)
	ctx := rpcCtx(t, key)

	if r := do(t, client, "POST", s.restURL("/api/v1/collections"), key, map[string]any{"name": "docs", "dimension": 8, "metric": "l2"}); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var restVecs []api.Vector
	var grpcVecs []*akidbv1.Vector
	for i := 0; i < 200; i++ {
		v := randVec(rng, 8)
		restVecs = append(restVecs, api.Vector{ID: fmt.Sprintf("r%d", i), Vector: v, Metadata: map[string]any{"i": float64(i)}})
		grpcVecs = append(grpcVecs, &akidbv1.Vector{Id: fmt.Sprintf("g%d", i), Vector: v})
	}
	if r := do(t, client, "POST", s.restURL("/api/v1/collections/docs/insert"), key, api.UpsertRequest{Vectors: restVecs}); r.status != 200 {
		t.Fatalf("rest insert: %d %s", r.status, r.body)
	}
	if _, err := col.Upsert(ctx, &akidbv1.UpsertRequest{Collection: "docs", Vectors: grpcVecs}); err != nil {
		t.Fatalf("grpc upsert: %v", err)
	}
	// Let background indexing finish, so both transports query one graph.
	h, err := s.db.Collection(engine.DefaultTenant, "docs")
	if err != nil {
		t.Fatal(err)
	}
	h.WaitIndexed()
	if v, b := metricValue(t, s, client, "akidb_vectors"), metricValue(t, s, client, "akidb_index_backlog_vectors"); v != 400 || b != 0 {
		t.Fatalf("/metrics after indexing caught up: akidb_vectors %v, akidb_index_backlog_vectors %v; want 400 and 0", v, b)
	}
	// The log holds the 400 vectors (8 floats each) and no checkpoint has
	// run yet; the version is public.
	if w, c := metricValue(t, s, client, "akidb_wal_bytes"), metricValue(t, s, client, "akidb_last_checkpoint_timestamp_seconds"); w < 400*8*4 || c != -1 {
		t.Fatalf("/metrics: akidb_wal_bytes %v, akidb_last_checkpoint_timestamp_seconds %v; want at least %d and absent", w, c, 400*8*4)
	}
	if v := metricValue(t, s, client, "akidb_ready"); v != 1 {
		t.Fatalf("/metrics: akidb_ready %v while serving, want 1", v)
	}
	if v := metricValue(t, s, client, `akidb_build_info{version="`+s.cfg.Version+`"}`); v != 1 {
		t.Fatalf("/metrics: akidb_build_info for version %q: %v", s.cfg.Version, v)
	}

	// The same queries give the same hits and scores on both transports.
	for q := 0; q < 20; q++ {
		v := randVec(rng, 8)
		for _, exact := range []bool{false, true} {
			r := do(t, client, "POST", s.restURL("/api/v1/collections/docs/query"), key, map[string]any{"vector": v, "k": 10, "exact": exact})
			if r.status != 200 {
				t.Fatalf("rest query: %d %s", r.status, r.body)
			}
			var rq api.QueryResponse
			if err := json.Unmarshal(r.body, &rq); err != nil {
				t.Fatal(err)
			}
			gq, err := col.Query(ctx, &akidbv1.QueryRequest{Collection: "docs", Vector: v, K: 10, Exact: exact})
			if err != nil {
				t.Fatal(err)
			}
			if len(rq.Results) != 10 || len(gq.Results) != 10 || rq.Strategy != gq.Strategy {
				t.Fatalf("query %d: %d vs %d hits, strategy %s vs %s", q, len(rq.Results), len(gq.Results), rq.Strategy, gq.Strategy)
			}
			for i := range rq.Results {
				if rq.Results[i].ID != gq.Results[i].Id || rq.Results[i].Score != gq.Results[i].Score {
					t.Fatalf("query %d hit %d: REST %s/%v, gRPC %s/%v", q, i, rq.Results[i].ID, rq.Results[i].Score, gq.Results[i].Id, gq.Results[i].Score)
				}
			}
		}
	}

	// A record written over one transport reads the same over the other.
	r := do(t, client, "GET", s.restURL("/api/v1/collections/docs/vectors/g7"), key, nil)
	var rv api.Vector
	if r.status != 200 || json.Unmarshal(r.body, &rv) != nil {
		t.Fatalf("rest get: %d %s", r.status, r.body)
	}
	gv, err := col.Get(ctx, &akidbv1.GetRequest{Collection: "docs", Id: "r7"})
	if err != nil {
		t.Fatal(err)
	}
	if rv.Vector[3] != grpcVecs[7].Vector[3] || gv.Vector[3] != restVecs[7].Vector[3] || gv.Metadata.Fields["i"].GetNumberValue() != 7 {
		t.Fatal("records differ across transports")
	}

	// Failures map through the one status table on both sides.
	cases := []struct {
		name string
		rest func() httpResult
		grpc func() error
	}{
		{"wrong dimension",
			func() httpResult {
				return do(t, client, "POST", s.restURL("/api/v1/collections/docs/query"), key, map[string]any{"vector": []float32{1, 2}, "k": 1})
			},
			func() error {
				_, err := col.Query(ctx, &akidbv1.QueryRequest{Collection: "docs", Vector: []float32{1, 2}, K: 1})
				return err
			}},
		{"k too large",
			func() httpResult {
				return do(t, client, "POST", s.restURL("/api/v1/collections/docs/query"), key, map[string]any{"vector": randVec(rng, 8), "k": 1001})
			},
			func() error {
				_, err := col.Query(ctx, &akidbv1.QueryRequest{Collection: "docs", Vector: randVec(rng, 8), K: 1001})
				return err
			}},
		{"unknown collection",
			func() httpResult { return do(t, client, "GET", s.restURL("/api/v1/collections/nope"), key, nil) },
			func() error {
				_, err := col.GetCollection(ctx, &akidbv1.GetCollectionRequest{Name: "nope"})
				return err
			}},
		{"duplicate collection",
			func() httpResult {
				return do(t, client, "POST", s.restURL("/api/v1/collections"), key, map[string]any{"name": "docs", "dimension": 8})
			},
			func() error {
				_, err := col.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{Name: "docs", Dimension: 8})
				return err
			}},
		{"bad name",
			func() httpResult {
				return do(t, client, "POST", s.restURL("/api/v1/collections"), key, map[string]any{"name": "no spaces", "dimension": 8})
			},
			func() error {
				_, err := col.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{Name: "no spaces", Dimension: 8})
				return err
			}},
		{"missing vector",
			func() httpResult {
				return do(t, client, "GET", s.restURL("/api/v1/collections/docs/vectors/zzz"), key, nil)
			},
			func() error {
				_, err := col.Get(ctx, &akidbv1.GetRequest{Collection: "docs", Id: "zzz"})
				return err
			}},
	}
	for _, tc := range cases {
		rr := tc.rest()
		var env struct {
			Error api.Error `json:"error"`
		}
		if err := json.Unmarshal(rr.body, &env); err != nil {
			t.Fatalf("%s: REST body %s", tc.name, rr.body)
		}
		st := api.StatusOf(env.Error.Code)
		if rr.status != st.HTTP {
			t.Fatalf("%s: REST status %d for code %s, table says %d", tc.name, rr.status, env.Error.Code, st.HTTP)
		}
		gerr := status.Convert(tc.grpc())
		if gerr.Code() != st.GRPC || gerr.Code() == codes.OK {
			t.Fatalf("%s: gRPC %s, REST %d %s (table: %s)", tc.name, gerr.Code(), rr.status, env.Error.Code, st.GRPC)
		}
		if gerr.Message() != env.Error.Message && !strings.Contains(tc.name, "missing") {
			t.Fatalf("%s: messages differ: REST %q, gRPC %q", tc.name, env.Error.Message, gerr.Message())
		}
	}
}

// TestShutdownDuringWritesKeepsAcknowledged shuts the server down while
// clients write, restarts it on the same data directory and checks that
// every acknowledged write is there and that the restart replays nothing
// (the shutdown checkpointed).
func TestShutdownDuringWritesKeepsAcknowledged(t *testing.T) {
	cfg := testConfig(t)
	cfg.Engine.Sync = wal.SyncAlways
	s := startServer(t, cfg)
	key := bootstrapKey(t, cfg.DataDir)
	disableRateLimit(t, s, key)
	client := &http.Client{}
	if r := do(t, client, "POST", s.restURL("/api/v1/collections"), key, map[string]any{"name": "w", "dimension": 4, "metric": "l2"}); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	started := make(chan struct{})
	var once sync.Once
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < 2000; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				body := api.UpsertRequest{Vectors: []api.Vector{{ID: id, Vector: randVec(rng, 4)}}}
				b, _ := json.Marshal(body)
				req, _ := http.NewRequest("POST", s.restURL("/api/v1/collections/w/insert"), strings.NewReader(string(b)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := client.Do(req)
				if err != nil {
					return // the server has stopped accepting
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return // refused while shutting down: not acknowledged
				}
				mu.Lock()
				acked = append(acked, id)
				n := len(acked)
				mu.Unlock()
				if n == 200 {
					once.Do(func() { close(started) })
				}
			}
		}(w)
	}
	<-started
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(acked) < 200 {
		t.Fatalf("only %d writes acknowledged", len(acked))
	}

	cfg2 := cfg
	cfg2.RESTAddr, cfg2.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	s2 := startServer(t, cfg2)
	for _, id := range acked {
		if r := do(t, client, "GET", s2.restURL("/api/v1/collections/w/vectors/"+id), key, nil); r.status != 200 {
			t.Fatalf("acknowledged %s missing after restart: %d %s", id, r.status, r.body)
		}
	}
	if !strings.Contains(s2.logs.String(), `"replayed":0`) {
		t.Fatalf("restart after a graceful shutdown replayed the log:\n%s", s2.logs.String())
	}
	t.Logf("%d acknowledged writes survived the shutdown", len(acked))
}
