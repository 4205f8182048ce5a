package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// queryBench is one server holding AKIDB_BENCH_N (default 100,000) 128-d
// vectors, shared by the query-path benchmarks.
type queryBench struct {
	s       *started
	key     string
	handle  *engine.Handle
	queries [][]float32
}

var (
	qbOnce sync.Once
	qb     *queryBench
)

func setupQueryBench(b *testing.B) *queryBench {
	qbOnce.Do(func() {
		n := 100000
		if v, err := strconv.Atoi(getenv("AKIDB_BENCH_N")); err == nil && v > 0 {
			n = v
		}
		cfg := testConfig(b)
		s := startServerB(b, cfg)
		key := bootstrapKey(b, cfg.DataDir)
		disableRateLimit(b, s, key)
		client := &http.Client{}
		post := func(path string, body any) {
			raw, _ := json.Marshal(body)
			req, _ := http.NewRequest("POST", s.restURL(path), bytes.NewReader(raw))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				b.Fatalf("%s: %d %s", path, resp.StatusCode, msg)
			}
		}
		post("/api/v1/collections", map[string]any{"name": "bench", "dimension": 128, "metric": "l2"})
		rng := rand.New(rand.NewPCG(5, 6))
		var wg sync.WaitGroup
		batches := make(chan []api.Vector)
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for batch := range batches {
					post("/api/v1/collections/bench/insert", api.UpsertRequest{Vectors: batch})
				}
			}()
		}
		for start := 0; start < n; start += 1000 {
			batch := make([]api.Vector, 0, 1000)
			for i := start; i < min(start+1000, n); i++ {
				batch = append(batch, api.Vector{ID: strconv.Itoa(i), Vector: randVec(rng, 128)})
			}
			batches <- batch
		}
		close(batches)
		wg.Wait()
		s.dbMu.Lock()
		h, err := s.db.Collection(engine.DefaultTenant, "bench")
		s.dbMu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		qs := make([][]float32, 1000)
		for i := range qs {
			qs[i] = randVec(rng, 128)
		}
		qb = &queryBench{s: s, key: key, handle: h, queries: qs}
	})
	if qb == nil {
		b.Fatal("setup failed")
	}
	return qb
}

// startServerB starts a server for benchmarks; it is shut down at exit of
// the process (benchmarks share it).
func startServerB(b *testing.B, cfg Config) *started {
	st := &started{logs: &lockedBuffer{}, notices: &lockedBuffer{}}
	cfg.Notices = st.notices
	s, err := Start(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	st.Server = s
	select {
	case <-s.Ready():
	case err := <-s.Errors():
		b.Fatal(err)
	case <-time.After(waitTimeout):
		b.Fatal("not ready")
	}
	return st
}

// reportLatency runs fn b.N times, one query each, and reports p50/p99.
func reportLatency(b *testing.B, fn func(q []float32) error) {
	qs := qb.queries
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := fn(qs[i%len(qs)]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50_us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99_us")
}

// BenchmarkQueryPath compares k=10 queries at ef=64 on 100k x 128-d
// vectors: the engine called directly, then over REST and gRPC on
// loopback (authenticated with an API key). The difference of the p50s
// is the transports' overhead.
func BenchmarkQueryPath(b *testing.B) {
	setupQueryBench(b)
	b.Run("engine", func(b *testing.B) {
		reportLatency(b, func(q []float32) error {
			_, err := qb.handle.Search(context.Background(), engine.SearchRequest{Vector: q, K: 10, Ef: 64, WithMetadata: true})
			return err
		})
	})
	b.Run("rest", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		url := qb.s.restURL("/api/v1/collections/bench/query")
		reportLatency(b, func(q []float32) error {
			raw, _ := json.Marshal(api.QueryRequest{Vector: q, K: 10, Ef: 64})
			req, _ := http.NewRequest("POST", url, bytes.NewReader(raw))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+qb.key)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
	})
	b.Run("grpc", func(b *testing.B) {
		col, _ := qb.s.grpcClients(b)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+qb.key)
		reportLatency(b, func(q []float32) error {
			_, err := col.Query(ctx, &akidbv1.QueryRequest{Collection: "bench", Vector: q, K: 10, Ef: 64})
			return err
		})
	})
}

func getenv(k string) string { return os.Getenv(k) }
