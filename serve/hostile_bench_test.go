package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// BenchmarkHostileClient measures what #13's limits are for: a calm
// tenant's queries (REST, 100 at 50/s, k=10 over 2000 vectors of 64
// dimensions) alone, and while one API key of another tenant, with the
// default limits (100 requests/s, half the in-flight bound), does one
// hostile thing at a time:
//
//	trickle: 200 connections sending request bodies a byte every 50 ms
//	bodies:  4 clients sending 31 MiB worst-case bodies as fast as they can
//	         (tiny vectors past the batch limit, metadata past the memory
//	         bound: both refused with 413 while they are decoded)
//	ddl:     creating and dropping a collection in a loop
//	scans:   4 gRPC clients running exact scans of 20000 vectors of 256
//	         dimensions with a 20 ms deadline
//
// It reports the calm tenant's p50/p99 and successes per phase, what the
// hostile key got, and the process's RSS (server and clients share it).
//
//	go test ./serve -run '^$' -bench HostileClient -benchtime 1x
//
// docs/limits.md has the figures of a run.
func BenchmarkHostileClient(b *testing.B) {
	for range b.N {
		runHostileClient(b)
	}
}

type benchServer struct {
	b      *testing.B
	s      *Server
	base   string
	boot   string
	client *http.Client
}

func (h *benchServer) call(method, path, key string, body io.Reader) (int, time.Duration) {
	req, _ := http.NewRequest(method, h.base+path, body)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		return -1, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

func (h *benchServer) callJSON(method, path, key string, v any) (int, time.Duration) {
	raw, _ := json.Marshal(v)
	return h.call(method, path, key, bytes.NewReader(raw))
}

func (h *benchServer) must(code int, _ time.Duration) {
	if code >= 300 {
		h.b.Fatalf("setup request: %d", code)
	}
}

// key makes a tenant and a writer key of it.
func (h *benchServer) key(tenant string) string {
	raw, _ := json.Marshal(map[string]string{"name": tenant})
	req, _ := http.NewRequest("POST", h.base+"/admin/tenants", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+h.boot)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		h.b.Fatal(err)
	}
	var tn struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&tn)
	resp.Body.Close()
	raw, _ = json.Marshal(map[string]string{"tenant": tn.ID, "role": "writer"})
	req, _ = http.NewRequest("POST", h.base+"/admin/api-keys", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+h.boot)
	req.Header.Set("Content-Type", "application/json")
	resp, err = h.client.Do(req)
	if err != nil {
		h.b.Fatal(err)
	}
	var k struct{ Key string }
	_ = json.NewDecoder(resp.Body).Decode(&k)
	resp.Body.Close()
	return k.Key
}

// load creates collection name of dim dimensions with n random vectors.
func (h *benchServer) load(key, name string, dim, n int, rng *rand.Rand) {
	h.must(h.callJSON("POST", "/api/v1/collections", key, map[string]any{"name": name, "dimension": dim, "metric": "l2"}))
	for start := 0; start < n; start += 1000 {
		var u api.UpsertRequest
		for i := start; i < min(start+1000, n); i++ {
			u.Vectors = append(u.Vectors, api.Vector{ID: fmt.Sprint(i), Vector: randomVector(rng, dim)})
		}
		h.must(h.callJSON("POST", "/api/v1/collections/"+name+"/insert", key, u))
	}
}

func randomVector(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// hostile runs clients until stopped, counting their outcomes.
type hostile struct {
	done   atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	counts map[string]int
}

func startHostile(clients int, do func(h *hostile) string) *hostile {
	h := &hostile{counts: map[string]int{}}
	for range clients {
		h.wg.Go(func() {
			for !h.done.Load() {
				outcome := do(h)
				h.mu.Lock()
				h.counts[outcome]++
				h.mu.Unlock()
			}
		})
	}
	return h
}

func (h *hostile) stop() map[string]int {
	h.done.Store(true)
	h.wg.Wait()
	return h.counts
}

// startBench starts a server with the defaults (and edit's changes) on
// loopback ports, waits until it is ready and shuts it down when the
// benchmark ends.
func startBench(b *testing.B, edit func(*Config)) (*Server, Config) {
	cfg := DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.RESTAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	if edit != nil {
		edit(&cfg)
	}
	s, err := Start(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	select {
	case <-s.Ready():
	case err := <-s.Errors():
		b.Fatal(err)
	}
	return s, cfg
}

func runHostileClient(b *testing.B) {
	s, cfg := startBench(b, nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	h := &benchServer{b: b, s: s, base: "http://" + s.RESTAddr().String(), boot: readKey(b, cfg.DataDir), client: &http.Client{Transport: tr, Timeout: time.Minute}}
	calm, bad := h.key("calm"), h.key("hostile")
	rng := rand.New(rand.NewPCG(1, 2))
	h.load(calm, "c", 64, 2000, rng)
	h.load(bad, "scan", 256, 20000, rng)
	h.must(h.callJSON("POST", "/api/v1/collections", bad, map[string]any{"name": "one", "dimension": 1}))
	query, _ := json.Marshal(map[string]any{"vector": randomVector(rng, 64), "k": 10})

	calmRun := func(phase string) {
		statuses := map[int]int{}
		var lat []time.Duration
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for range 100 {
			<-tick.C
			code, d := h.call("POST", "/api/v1/collections/c/query", calm, bytes.NewReader(query))
			statuses[code]++
			lat = append(lat, d)
		}
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		b.Logf("%-8s calm p50 %-10v p99 %-10v statuses %v", phase, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), statuses)
		b.ReportMetric(ms(p50), phase+"-p50-ms")
		b.ReportMetric(ms(p99), phase+"-p99-ms")
		b.ReportMetric(float64(statuses[http.StatusOK]), phase+"-calm-200s")
	}
	report := func(phase string, counts map[string]int) {
		b.Logf("%-8s hostile key got %v; RSS %d MiB", phase, counts, procStatusKB("VmRSS")/1024)
	}

	calmRun("alone")

	// (a) Trickled bodies on 200 connections.
	stopTrickle := make(chan struct{})
	var tricklers []*trickler
	for range 200 {
		tricklers = append(tricklers, startTrickle(b, s.RESTAddr().String(), "/api/v1/collections/one/insert", bad, stopTrickle))
	}
	calmRun("trickle")
	report("trickle", map[string]int{"bodies being read": s.Bodies().InFlight(), "refused at once (429)": int(s.Bodies().TenantRefused())})
	close(stopTrickle)
	for _, tr := range tricklers {
		_ = tr.conn.Close()
	}

	// (b) Worst-case 31 MiB bodies.
	tiny := jsonBody(worstBody, worstBody, func(int) string { return `{"id":"a","vector":[1]}` })
	numbers := `{"n":[` + repeatJSON("1", 15000) + `]}`
	heavy := jsonBody(worstBody, 1000, func(i int) string { return fmt.Sprintf(`{"id":"n%d","vector":[1],"metadata":%s}`, i, numbers) })
	var flip atomic.Int64
	bodies := startHostile(4, func(*hostile) string {
		body := tiny
		if flip.Add(1)%2 == 0 {
			body = heavy
		}
		code, _ := h.call("POST", "/api/v1/collections/one/insert", bad, bytes.NewReader(body))
		return fmt.Sprint(code)
	})
	calmRun("bodies")
	report("bodies", bodies.stop())

	// (c) Creating and dropping a collection in a loop.
	ddl := startHostile(1, func(*hostile) string {
		code, _ := h.callJSON("POST", "/api/v1/collections", bad, map[string]any{"name": "tmp", "dimension": 8})
		code2, _ := h.call("DELETE", "/api/v1/collections/tmp", bad, nil)
		return fmt.Sprintf("%d/%d", code, code2)
	})
	calmRun("ddl")
	report("ddl", ddl.stop())

	// (d) Exact scans with a short deadline, over gRPC.
	conn, err := grpc.NewClient(s.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	col := akidbv1.NewCollectionServiceClient(conn)
	scanVec := randomVector(rng, 256)
	scans := startHostile(4, func(*hostile) string {
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+bad), 20*time.Millisecond)
		defer cancel()
		_, err := col.Query(ctx, &akidbv1.QueryRequest{Collection: "scan", Vector: scanVec, K: 10, Exact: true})
		return grpcCode(err)
	})
	calmRun("scans")
	report("scans", scans.stop())

	b.ReportMetric(float64(procStatusKB("VmHWM"))/1024, "peak-rss-MiB")
}

func grpcCode(err error) string { return status.Code(err).String() }
