package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// The overload tests are bounded (a few hundred requests on loopback) and
// assert on counts, never on latencies. BenchmarkNoisyNeighbour measures.

// TestOverloadNoisyNeighbour: a tenant sending 3x its rate gets exactly
// its rate through and 429 for the rest, while another tenant's requests,
// sent at the same time, all succeed.
func TestOverloadNoisyNeighbour(t *testing.T) {
	s, clock, boot := limitedServer(t, testConfig(t))
	client := newClient(t)
	_, noisy, _ := tenantKey(t, s, client, boot, "noisy", "reader")
	_, calm, _ := tenantKey(t, s, client, boot, "calm", "reader")
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/tenants/noisy/quota"), boot, map[string]any{"qps_limit": 10, "burst": 10}), http.StatusOK, "")
	list := s.restURL("/api/v1/collections")

	const seconds, noisyPerSecond, calmPerSecond = 3, 30, 10
	counts := map[string]map[int]int{"noisy": {}, "calm": {}}
	var mu sync.Mutex
	for range seconds {
		var wg sync.WaitGroup
		send := func(who, key string, n int) {
			for range n {
				wg.Go(func() {
					r := do(t, client, "GET", list, key, nil)
					mu.Lock()
					counts[who][r.status]++
					mu.Unlock()
				})
			}
		}
		send("noisy", noisy, noisyPerSecond)
		send("calm", calm, calmPerSecond)
		wg.Wait()
		clock.Advance(time.Second) // the buckets' clock: no real waiting
	}
	if n := counts["noisy"]; n[http.StatusOK] != 10*seconds || n[http.StatusTooManyRequests] != (noisyPerSecond-10)*seconds || len(n) != 2 {
		t.Errorf("noisy tenant: %v, want %d OK and %d 429", n, 10*seconds, (noisyPerSecond-10)*seconds)
	}
	if n := counts["calm"]; n[http.StatusOK] != calmPerSecond*seconds || len(n) != 1 {
		t.Errorf("calm tenant: %v, want all %d OK", n, calmPerSecond*seconds)
	}
}

// heldRequest is an upsert whose body the test holds back: the server has
// authenticated it and waits for the body, holding one of the body slots
// (Server.Bodies), not an in-flight one.
type heldRequest struct {
	body   *io.PipeWriter
	data   []byte
	result chan int
}

func holdRequest(t *testing.T, client *http.Client, url, key string, id int) *heldRequest {
	t.Helper()
	b, _ := json.Marshal(api.UpsertRequest{Vectors: []api.Vector{{ID: fmt.Sprintf("held-%d", id), Vector: []float32{1, 2, 3, 4}}}})
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", url, pr)
	if err != nil {
		t.Fatal(err)
	}
	// A known length: the client sends the headers at once and the body
	// when the test writes it.
	req.ContentLength = int64(len(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	h := &heldRequest{body: pw, data: b, result: make(chan int, 1)}
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			h.result <- -1
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		h.result <- resp.StatusCode
	}()
	return h
}

// release sends the body and returns the status.
func (h *heldRequest) release(t *testing.T) int {
	t.Helper()
	if _, err := io.Copy(h.body, bytes.NewReader(h.data)); err != nil {
		t.Fatalf("send held body: %v", err)
	}
	_ = h.body.Close()
	select {
	case code := <-h.result:
		return code
	case <-time.After(waitTimeout):
		t.Fatal("held request did not finish")
		return 0
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(waitTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestOverloadShedding: with --max-in-flight 4, requests past 4 in flight
// are answered 503 (gRPC UNAVAILABLE) at once with Retry-After: 1 while
// probes and /metrics keep answering; the admitted requests succeed.
// Requests whose bodies have not arrived hold no in-flight slot. Then a
// flood at twice the capacity, REST and gRPC mixed, gets only 200, 429
// and 503, the shed counter matches the 503s, and the server serves on.
func TestOverloadShedding(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limiting.MaxInFlight = 4
	s, _, boot := limitedServer(t, cfg)
	client := newClient(t)
	mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/collections"), boot, map[string]any{"name": "c", "dimension": 4, "metric": "l2"}), http.StatusCreated, "")
	col, _ := s.grpcClients(t)
	list := s.restURL("/api/v1/collections")

	// Bodies that have not arrived hold body slots (the tenant's share of
	// them: 2 of 4), never in-flight slots: the server serves on.
	var held []*heldRequest
	for i := range 2 {
		held = append(held, holdRequest(t, client, s.restURL("/api/v1/collections/c/insert"), boot, i))
	}
	waitFor(t, "2 bodies being read", func() bool { return s.Bodies().InFlight() == 2 })
	if n := s.Shedder().InFlight(); n != 0 {
		t.Fatalf("%d in flight while only bodies are awaited", n)
	}
	mustStatus(t, do(t, client, "GET", list, boot, nil), http.StatusOK, "")

	// Hold every in-flight slot (as four long requests would).
	var slots []func()
	for range 4 {
		release, ok := s.Shedder().TryAcquire()
		if !ok {
			t.Fatal("a slot was refused with none in flight")
		}
		slots = append(slots, release)
	}

	// Twice the capacity: 4 REST and 4 gRPC, all shed.
	for range 4 {
		r := mustStatus(t, do(t, client, "GET", list, boot, nil), http.StatusServiceUnavailable, api.CodeUnavailable)
		if r.header.Get("Retry-After") != "1" {
			t.Fatalf("shed answer headers %v", r.header)
		}
		_, err := col.ListCollections(rpcCtx(t, boot), &akidbv1.ListCollectionsRequest{})
		st := status.Convert(err)
		if st.Code() != codes.Unavailable || retryDelay(st) != time.Second {
			t.Fatalf("gRPC while full: %v", err)
		}
	}
	// Never shed: probes, /metrics, gRPC health.
	for _, p := range []string{"/healthz", "/livez", "/readyz", "/startupz", "/metrics"} {
		if r := do(t, client, "GET", s.restURL(p), "", nil); r.status != http.StatusOK || r.header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("%s while full: %d", p, r.status)
		}
	}
	if v := metricValue(t, s, client, "akidb_requests_in_flight"); v != 4 {
		t.Fatalf("requests_in_flight = %v while full", v)
	}
	if _, err := healthpb.NewHealthClient(grpcConn(t, s)).Check(rpcCtx(t, ""), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("gRPC health while full: %v", err)
	}
	for _, release := range slots {
		release()
	}
	// The held requests finish normally once their bodies arrive.
	for i, h := range held {
		if code := h.release(t); code != http.StatusOK {
			t.Fatalf("held request %d: %d", i, code)
		}
	}
	waitFor(t, "the slots to be free", func() bool { return s.Shedder().InFlight() == 0 })
	shed := 8

	// A flood at twice the capacity: 8 clients, each sending requests that
	// take a while (a page of 500 records with their vectors).
	var recs []api.Vector
	for i := range 1000 {
		recs = append(recs, api.Vector{ID: fmt.Sprintf("r%d", i), Vector: []float32{float32(i), 1, 2, 3}})
	}
	mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/collections/c/insert"), boot, api.UpsertRequest{Vectors: recs}), http.StatusOK, "")
	const workers, perWorker = 8, 20
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for range perWorker {
				var outcome string
				if w%2 == 0 {
					r := do(t, client, "GET", s.restURL("/api/v1/collections/c/vectors?limit=500&include_vector=true"), boot, nil)
					outcome = fmt.Sprint(r.status)
				} else {
					_, err := col.Scroll(rpcCtx(t, boot), &akidbv1.ScrollRequest{Collection: "c", Limit: 500, IncludeVector: true})
					outcome = map[codes.Code]string{codes.OK: "200", codes.ResourceExhausted: "429", codes.Unavailable: "503"}[status.Code(err)]
					if outcome == "" {
						outcome = status.Code(err).String()
					}
				}
				mu.Lock()
				counts[outcome]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("flood at 2x capacity: %v", counts)
	for outcome := range counts {
		if outcome != "200" && outcome != "429" && outcome != "503" {
			t.Errorf("unexpected outcome %s under overload: %v", outcome, counts)
		}
	}
	if counts["200"] == 0 || counts["200"]+counts["429"]+counts["503"] != workers*perWorker {
		t.Errorf("outcomes %v", counts)
	}
	if v := metricValue(t, s, client, "akidb_shed_requests_total"); v != float64(shed+counts["503"]) {
		t.Errorf("shed_requests_total = %v, want %d", v, shed+counts["503"])
	}
	// And it serves on.
	mustStatus(t, do(t, client, "GET", s.restURL("/readyz"), "", nil), http.StatusOK, "")
	mustStatus(t, do(t, client, "GET", list, boot, nil), http.StatusOK, "")
}

func retryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			return r.GetRetryDelay().AsDuration()
		}
	}
	return 0
}
