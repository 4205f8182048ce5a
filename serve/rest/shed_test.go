package rest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/ratelimit"
)

// TestShedMiddleware: past the in-flight bound a request is answered 503
// unavailable with Retry-After: 1 at once; probes and /metrics never are;
// a freed slot admits again.
func TestShedMiddleware(t *testing.T) {
	sh := ratelimit.NewShedder(1)
	ts := newTestServer(t, func(s *setup) { s.shedder = sh })
	release, ok := sh.TryAcquire() // the one slot is taken
	if !ok {
		t.Fatal("no slot")
	}
	r := ts.call("GET", "/api/v1/collections", nil)
	r.envelope(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	if r.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	for _, p := range []string{"/livez", "/readyz", "/healthz", "/startupz", "/metrics"} {
		if r := ts.call("GET", p, nil); r.status != http.StatusOK {
			t.Fatalf("%s while full: %d %s", p, r.status, r.body)
		}
	}
	release()
	if r := ts.call("GET", "/api/v1/collections", nil); r.status != http.StatusOK {
		t.Fatalf("after release: %d %s", r.status, r.body)
	}
	if sh.InFlight() != 0 || sh.Shed() != 1 {
		t.Fatalf("in flight %d, shed %d", sh.InFlight(), sh.Shed())
	}
}

// TestRequestTimeoutAnswers503: a request the server's request timeout
// stops is answered 503 with Retry-After, and nothing is written.
func TestRequestTimeoutAnswers503(t *testing.T) {
	ts := newTestServer(t, func(s *setup) { s.shedder, s.timeout = ratelimit.NewShedder(4), time.Nanosecond })
	if _, err := ts.db.CreateCollection(context.Background(), engine.DefaultTenant, engine.CollectionConfig{Name: "c", Dimension: 2, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	r := ts.call("POST", "/api/v1/collections/c/insert", `{"vectors":[{"id":"a","vector":[1,2]}]}`)
	e := r.envelope(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	if r.header.Get("Retry-After") != "1" || !strings.Contains(e.Message, "request timeout (1ns)") {
		t.Fatalf("timed out: Retry-After %q, %+v", r.header.Get("Retry-After"), e)
	}
	if h, _ := ts.db.Collection(engine.DefaultTenant, "c"); h.Count() != 0 {
		t.Fatal("the timed-out upsert was applied")
	}
}
