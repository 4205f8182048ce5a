package serve

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/serve/api"
)

// trickler is a raw connection that sends a request's headers and then
// its body one byte at a time, far slower than any real client.
type trickler struct {
	conn   net.Conn
	status chan int
}

func startTrickle(t testing.TB, addr, path, key string, stop <-chan struct{}) *trickler {
	t.Helper()
	return startTrickleSized(t, addr, path, key, 100000, stop)
}

// startTrickleSized is startTrickle with a body of contentLength bytes
// declared.
func startTrickleSized(t testing.TB, addr, path, key string, contentLength int64, stop <-chan struct{}) *trickler {
	t.Helper()
	tr, err := dialTrickle(addr, path, key, contentLength, stop)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// dialTrickle connects and starts trickling; the status of the answer
// arrives on tr.status (-1: none).
func dialTrickle(addr, path, key string, contentLength int64, stop <-chan struct{}) (*trickler, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	tr := &trickler{conn: conn, status: make(chan int, 1)}
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: akidb\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"vectors\":[", path, key, contentLength)
	if _, err := conn.Write([]byte(head)); err != nil {
		conn.Close()
		return nil, err
	}
	go func() { // one byte every 50 ms until the server answers
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	go func() {
		_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			tr.status <- -1
			return
		}
		resp.Body.Close()
		tr.status <- resp.StatusCode
	}()
	return tr, nil
}

// TestSlowBodiesDoNotStarveOtherTenants: one tenant trickles request
// bodies on 200 connections; another tenant's queries, sent meanwhile,
// all succeed. The trickling tenant holds at most its share of the body
// slots (the rest of its requests get 429 at once) and no in-flight slot
// at all, and each trickled request ends with 408 at the body timeout.
// (Before bodies were read ahead of the in-flight bound, the 200 bodies
// took all 128 slots for up to the 30 s read timeout and every other
// tenant got 503.)
func TestSlowBodiesDoNotStarveOtherTenants(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limiting.MaxInFlight = 128
	cfg.Limiting.BodyTimeout = 3 * time.Second
	s, _, boot := limitedServer(t, cfg)
	client := newClient(t)
	hostileID, hostile, _ := tenantKey(t, s, client, boot, "hostile", "writer")
	_, calm, _ := tenantKey(t, s, client, boot, "calm", "writer")
	// The hostile tenant's rate allows all 200 requests: what protects the
	// calm tenant here is the order of reading and admitting, not the
	// rate limit.
	for _, tenant := range []string{"hostile", "calm"} {
		mustStatus(t, do(t, client, "POST", s.restURL("/admin/tenants/"+tenant+"/quota"), boot, map[string]any{"qps_limit": 1000, "burst": 1000}), http.StatusOK, "")
	}
	mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/collections"), hostile, map[string]any{"name": "h", "dimension": 4}), http.StatusCreated, "")
	mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/collections"), calm, map[string]any{"name": "c", "dimension": 4}), http.StatusCreated, "")
	mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/collections/c/insert"), calm, api.UpsertRequest{Vectors: []api.Vector{
		{ID: "a", Vector: []float32{1, 0, 0, 0}}, {ID: "b", Vector: []float32{0, 1, 0, 0}}}}), http.StatusOK, "")

	stop := make(chan struct{})
	defer close(stop)
	var tricklers []*trickler
	for range 200 {
		tricklers = append(tricklers, startTrickle(t, s.RESTAddr().String(), "/api/v1/collections/h/insert", hostile, stop))
	}
	share := s.Bodies().TenantMax()
	waitFor(t, "the hostile tenant's bodies to be read", func() bool { return s.Bodies().TenantInFlight(hostileID) == share })

	// Meanwhile the calm tenant's queries all succeed.
	const queries, workers = 200, 8
	var (
		mu       sync.Mutex
		outcomes = map[int]int{}
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for range queries / workers {
				r := do(t, client, "POST", s.restURL("/api/v1/collections/c/query"), calm, map[string]any{"vector": []float32{1, 0, 0, float32(w)}, "k": 2})
				mu.Lock()
				outcomes[r.status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if outcomes[http.StatusOK] != queries {
		t.Fatalf("calm tenant while another trickles bodies: %v, want %d × 200", outcomes, queries)
	}
	if n := s.Bodies().TenantInFlight(hostileID); n != share {
		t.Fatalf("the hostile tenant holds %d body slots after the queries, want its share %d", n, share)
	}
	if n := s.Shedder().TenantInFlight(hostileID); n != 0 {
		t.Fatalf("the hostile tenant holds %d in-flight slots while its bodies trickle", n)
	}

	// Each trickled request ends: 408 at the body timeout for those being
	// read, 429 at once for those past the tenant's share.
	got := map[int]int{}
	for _, tr := range tricklers {
		select {
		case code := <-tr.status:
			got[code]++
		case <-time.After(waitTimeout):
			t.Fatal("a trickled request got no answer")
		}
		_ = tr.conn.Close()
	}
	if got[http.StatusRequestTimeout] != share || got[http.StatusTooManyRequests] != 200-share || len(got) != 2 {
		t.Fatalf("trickled requests: %v, want %d × 408 and %d × 429", got, share, 200-share)
	}
}
