package rest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
)

// onlyReader hides Len/Size so net/http sends the body chunked, without
// a Content-Length: the server must find the overflow while reading.
type onlyReader struct{ io.Reader }

func insertBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"vectors":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"r%d","vector":[1,2,3]}`, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func TestBodyLimit(t *testing.T) {
	lim := api.DefaultLimits()
	lim.MaxBodyBytes = 1024
	ts := newTestServer(t, func(s *setup) { s.limits = lim })
	ts.createCollection("docs", 3, "l2")

	fits := insertBody(20) // ~600 bytes
	big := insertBody(60)  // ~1.9 KiB
	if len(fits) > 1024 || len(big) <= 1024 {
		t.Fatalf("body sizes %d and %d do not straddle the limit", len(fits), len(big))
	}
	// With a Content-Length, refused before reading.
	e := ts.call("POST", "/api/v1/collections/docs/insert", big).envelope(t, http.StatusRequestEntityTooLarge, api.CodeTooLarge)
	if e.Details["limit"] != float64(1024) {
		t.Errorf("details %v", e.Details)
	}
	// Chunked: refused while reading.
	ts.call("POST", "/api/v1/collections/docs/insert", onlyReader{bytes.NewReader(big)}).envelope(t, http.StatusRequestEntityTooLarge, api.CodeTooLarge)
	// Whitespace after the value counts too.
	padded := append(append([]byte{}, fits...), bytes.Repeat([]byte(" "), 1024)...)
	ts.call("POST", "/api/v1/collections/docs/insert", onlyReader{bytes.NewReader(padded)}).envelope(t, http.StatusRequestEntityTooLarge, api.CodeTooLarge)
	if n := ts.count("docs"); n != 0 {
		t.Fatalf("count %d after refused bodies", n)
	}
	// Exactly at the limit is accepted, chunked or not.
	exact := append(append([]byte{}, fits...), bytes.Repeat([]byte(" "), 1024-len(fits))...)
	ts.ok(http.StatusOK, nil, "POST", "/api/v1/collections/docs/insert", exact)
	ts.ok(http.StatusOK, nil, "POST", "/api/v1/collections/docs/insert", onlyReader{bytes.NewReader(exact)})
	if n := ts.count("docs"); n != 20 {
		t.Fatalf("count %d", n)
	}
}

// The real default: 32 MiB + 1 byte, sent chunked so the server reads it.
func TestBodyLimitDefault32MiB(t *testing.T) {
	ts := newTestServer(t)
	ts.createCollection("docs", 3, "l2")
	limit := api.DefaultLimits().MaxBodyBytes
	if limit != 32<<20 {
		t.Fatalf("default body limit is %d", limit)
	}
	// Padded with whitespace: the body breaks no other limit (a long
	// metadata string would be refused at 64 KiB, before the body limit).
	head := `{"vectors":[{"id":"x","vector":[1,2,3]}`
	tail := `]}`
	body := io.MultiReader(strings.NewReader(head), io.LimitReader(repeatReader(' '), limit+1-int64(len(head)+len(tail))), strings.NewReader(tail))
	start := time.Now()
	ts.call("POST", "/api/v1/collections/docs/insert", onlyReader{body}).envelope(t, http.StatusRequestEntityTooLarge, api.CodeTooLarge)
	t.Logf("32 MiB + 1 refused in %v", time.Since(start))
	// With a Content-Length it is refused before reading; the client still
	// gets the answer.
	ts.call("POST", "/api/v1/collections/docs/insert", bytes.Repeat([]byte(" "), int(limit)+1)).envelope(t, http.StatusRequestEntityTooLarge, api.CodeTooLarge)
	if n := ts.count("docs"); n != 0 {
		t.Fatalf("count %d", n)
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestRequestID(t *testing.T) {
	ts := newTestServer(t)
	hexID := regexp.MustCompile(`^[0-9a-f]{32}$`)

	r := ts.call("GET", "/api/v1/collections", nil, "X-Request-ID", "client-id-42")
	if got := r.header.Get("X-Request-ID"); got != "client-id-42" {
		t.Fatalf("echo: %q", got)
	}
	max := strings.Repeat("r", 128)
	if got := ts.call("GET", "/livez", nil, "X-Request-ID", max).header.Get("X-Request-ID"); got != max {
		t.Fatalf("128 chars not echoed: %q", got)
	}
	seen := map[string]bool{}
	for _, bad := range []string{"", strings.Repeat("r", 129), "caf\xc3\xa9", "tab\there"} {
		got := ts.call("GET", "/api/v1/collections/nope", nil, "X-Request-ID", bad).header.Get("X-Request-ID")
		if !hexID.MatchString(got) {
			t.Fatalf("for %q the server sent %q, want a generated id", bad, got)
		}
		if seen[got] {
			t.Fatalf("generated id %s twice", got)
		}
		seen[got] = true
	}
	// The id is in the request's log line.
	ts.call("GET", "/api/v1/collections/nope", nil, "X-Request-ID", "find-me-in-the-log")
	if !strings.Contains(ts.logs.String(), `"request_id":"find-me-in-the-log"`) {
		t.Fatal("request id not logged")
	}
}

func TestProbes(t *testing.T) {
	ts := newTestServer(t, func(s *setup) { s.noDB = true })
	probe := func(path string, status int, state string) {
		t.Helper()
		r := ts.call("GET", path, nil)
		if r.status != status || string(r.body) != `{"status":"`+state+`"}`+"\n" {
			t.Fatalf("%s: %d %s, want %d %s", path, r.status, r.body, status, state)
		}
	}
	// Recovering.
	probe("/livez", 200, "ok")
	probe("/readyz", 503, "starting")
	probe("/healthz", 503, "starting")
	probe("/startupz", 503, "starting")
	ts.call("GET", "/api/v1/collections", nil).envelope(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	var st api.StatusResponse
	ts.ok(http.StatusOK, &st, "GET", "/api/v1/status", nil)
	if st.Ready {
		t.Fatal("status says ready before the engine")
	}
	// Ready.
	ts.openDB()
	probe("/livez", 200, "ok")
	probe("/readyz", 200, "ok")
	probe("/healthz", 200, "ok")
	probe("/startupz", 200, "ok")
	ts.ok(http.StatusOK, nil, "GET", "/api/v1/collections", nil)
	// Shutting down.
	ts.svc.BeginShutdown()
	probe("/livez", 200, "ok")
	probe("/readyz", 503, "stopping")
	probe("/healthz", 503, "stopping")
	probe("/startupz", 200, "ok")
}

func TestMetricsEndpoint(t *testing.T) {
	ts := newTestServer(t)
	ts.createCollection("docs", 3, "l2")
	ts.ok(http.StatusOK, nil, "POST", "/api/v1/collections/docs/insert", api.UpsertRequest{Vectors: []api.Vector{{ID: "a", Vector: []float32{1, 2, 3}}}})
	ts.ok(http.StatusOK, nil, "POST", "/api/v1/collections/docs/query", map[string]any{"vector": []float32{1, 2, 3}, "k": 1})
	ts.call("POST", "/api/v1/collections/docs/query", map[string]any{"vector": []float32{1, 2, 3}, "k": 0})
	ts.call("GET", "/no/such/thing", nil)
	r := ts.call("GET", "/metrics", nil)
	if r.status != http.StatusOK {
		t.Fatalf("metrics: %d", r.status)
	}
	body := string(r.body)
	for _, want := range []string{
		`akidb_http_requests_total{method="POST",route="/api/v1/collections",status="201"} 1`,
		`akidb_http_requests_total{method="POST",route="/api/v1/collections/:name/query",status="200"} 1`,
		`akidb_http_requests_total{method="POST",route="/api/v1/collections/:name/query",status="400"} 1`,
		`akidb_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		// Only the successful query and upsert are timed.
		"akidb_search_duration_seconds_count 1",
		"akidb_upsert_duration_seconds_count 1",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "/no/such/thing") || strings.Contains(body, `route="/api/v1/collections/docs`) {
		t.Error("a raw path became a label")
	}

	// Without a metrics handler, /metrics is a 404 envelope.
	bare := newTestServer(t, func(s *setup) { s.noMetrics = true })
	bare.call("GET", "/metrics", nil).envelope(t, http.StatusNotFound, api.CodeNotFound)
	bare.ok(http.StatusOK, nil, "GET", "/api/v1/collections", nil)
}

func TestAuthenticateSlot(t *testing.T) {
	auth := func(r *http.Request) (api.Caller, *api.Error) {
		switch r.Header.Get("Authorization") {
		case "Bearer good":
			return api.Caller{TenantID: engine.DefaultTenant, KeyID: "k1", Collections: []string{"mine"}}, nil
		case "Bearer slow-down":
			return api.Caller{}, &api.Error{Code: api.CodeRateLimited, Message: "slow down", RetryAfterSeconds: 7}
		case "Bearer explode":
			panic("authenticator bug")
		}
		return api.Caller{}, api.Errorf(api.CodeUnauthenticated, "missing or invalid credentials")
	}
	ts := newTestServer(t, func(s *setup) { s.auth = auth })

	ts.call("GET", "/api/v1/collections", nil).envelope(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	ts.call("GET", "/api/v1/status", nil).envelope(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	ts.call("GET", "/api/v1/openapi.yaml", nil).envelope(t, http.StatusUnauthorized, api.CodeUnauthenticated)
	// Probes and /metrics never authenticate.
	for _, p := range []string{"/livez", "/readyz", "/healthz", "/startupz", "/metrics"} {
		if r := ts.call("GET", p, nil); r.status != http.StatusOK {
			t.Fatalf("%s: %d without credentials", p, r.status)
		}
	}
	// The caller reaches the service: its collection list applies.
	good := []string{"Authorization", "Bearer good"}
	r := ts.call("POST", "/api/v1/collections", `{"name":"mine","dimension":3}`, good...)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	// A collection outside the key's list (created past the API).
	if _, err := ts.svc.CreateCollection(t.Context(), api.CreateCollectionRequest{Name: "other", Dimension: 3}); err != nil {
		t.Fatal(err)
	}
	if names := ts.collectionNames(); len(names) != 2 {
		t.Fatalf("collections %v", names)
	}
	ts.call("GET", "/api/v1/collections/other", nil, good...).envelope(t, http.StatusNotFound, api.CodeNotFound)
	if r := ts.call("GET", "/api/v1/collections/mine", nil, good...); r.status != http.StatusOK {
		t.Fatalf("get mine: %d", r.status)
	}
	// Retry-After travels with the error.
	r = ts.call("GET", "/api/v1/collections", nil, "Authorization", "Bearer slow-down")
	r.envelope(t, http.StatusTooManyRequests, api.CodeRateLimited)
	if got := r.header.Get("Retry-After"); got != "7" {
		t.Fatalf("Retry-After %q", got)
	}
	// A panic is the internal envelope, logged with its stack, and the
	// server keeps serving.
	e := ts.call("GET", "/api/v1/collections", nil, "Authorization", "Bearer explode").envelope(t, http.StatusInternalServerError, api.CodeInternal)
	if strings.Contains(e.Message, "authenticator bug") {
		t.Fatal("panic text leaked to the client")
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "authenticator bug") || !strings.Contains(logs, "goroutine") {
		t.Fatal("panic not logged with a stack")
	}
	if r := ts.call("GET", "/api/v1/collections", nil, good...); r.status != http.StatusOK {
		t.Fatalf("after a panic: %d", r.status)
	}
}

// TestServerErrorsLoggedAtWarn: a refusal with 503 has its request line
// at debug and is summed up in a warning (TestRecoveryRefusalsLoggedOncePerInterval
// checks the once-per-interval part).
func TestServerErrorsLoggedAtWarn(t *testing.T) {
	ts := newTestServer(t, func(s *setup) { s.noDB = true })
	ts.call("GET", "/api/v1/collections", nil, "X-Request-ID", "warn-me").envelope(t, http.StatusServiceUnavailable, api.CodeUnavailable)
	var line, summary map[string]any
	for _, l := range strings.Split(ts.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		switch {
		case rec["request_id"] == "warn-me":
			line = rec
		case rec["msg"] == "requests refused: 503 unavailable":
			summary = rec
		}
	}
	if line == nil || line["level"] != "DEBUG" || line["status"] != float64(503) || line["route"] != "/api/v1/collections" {
		t.Fatalf("request log line %v", line)
	}
	if summary == nil || summary["level"] != "WARN" || summary["count"] != float64(1) {
		t.Fatalf("refusal summary %v", summary)
	}
}

func TestSaneRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"": false, "a": true, "a b": true, strings.Repeat("x", 128): true, strings.Repeat("x", 129): false,
		"\x7f": false, "\x1f": false, "é": false, "~!@#$%^&*()": true,
	} {
		if got := saneRequestID(id); got != want {
			t.Errorf("saneRequestID(%q) = %v", id, got)
		}
	}
	a, b := newRequestID(), newRequestID()
	if _, err := hex.DecodeString(a); err != nil || len(a) != 32 || a == b {
		t.Fatalf("generated %q, %q", a, b)
	}
}

func TestDecodeErrorsAreReportedNotPanics(t *testing.T) {
	// A reader failing mid-body is an invalid_argument, not a 500.
	var v api.QueryRequest
	e := decodeJSON(io.MultiReader(strings.NewReader(`{"k":`), errReader{}), 100, &v)
	if e == nil || e.Code != api.CodeInvalidArgument {
		t.Fatalf("got %v", e)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
