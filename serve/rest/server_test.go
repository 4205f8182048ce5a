package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/metrics"
	"github.com/akidb/akidb/serve/ratelimit"
)

// testServer is the REST handler over a real engine, served on a loopback
// port and called with net/http.
type testServer struct {
	t      *testing.T
	url    string
	client *http.Client
	svc    *api.Service
	db     *engine.DB
	reg    *prometheus.Registry
	logs   *lockedBuffer
}

type setup struct {
	noDB      bool
	noMetrics bool
	limits    api.Limits
	auth      func(*http.Request) (api.Caller, *api.Error)
	shedder   *ratelimit.Shedder
	timeout   time.Duration
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestServer(t *testing.T, opts ...func(*setup)) *testServer {
	t.Helper()
	var cfg setup
	for _, o := range opts {
		o(&cfg)
	}
	ts := &testServer{t: t, logs: &lockedBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs.String())
		}
	})
	logger := slog.New(slog.NewJSONHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts.svc = api.New(api.Options{Logger: logger, Limits: cfg.limits, Version: "test"})
	if !cfg.noDB {
		ts.openDB()
	}
	ro := Options{Logger: logger, Limits: cfg.limits, Authenticate: cfg.auth, Shedder: cfg.shedder, RequestTimeout: cfg.timeout}
	if !cfg.noMetrics {
		ts.reg = prometheus.NewRegistry()
		m, err := metrics.New(ts.reg)
		if err != nil {
			t.Fatal(err)
		}
		ro.Metrics = m
		ro.MetricsHandler = metrics.Handler(ts.reg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewHandler(ts.svc, ro), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	ts.url = "http://" + ln.Addr().String()
	tr := &http.Transport{}
	ts.client = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return ts
}

func (ts *testServer) openDB() {
	ts.t.Helper()
	db, err := engine.Open(ts.t.TempDir(), engine.Config{})
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() {
		if err := db.Close(); err != nil {
			ts.t.Errorf("close db: %v", err)
		}
	})
	ts.db = db
	ts.svc.SetDB(db)
}

// response is what a call returned.
type response struct {
	status int
	header http.Header
	body   []byte
}

// call sends body (nil, a string sent as is, or a value encoded as JSON)
// with Content-Type application/json unless headers say otherwise.
func (ts *testServer) call(method, path string, body any, headers ...string) response {
	ts.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	case io.Reader:
		r = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, ts.url+path, r)
	if err != nil {
		ts.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// ok calls and requires want status, decoding the body into out (if not nil).
func (ts *testServer) ok(want int, out any, method, path string, body any) response {
	ts.t.Helper()
	resp := ts.call(method, path, body)
	if resp.status != want {
		ts.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.status, want, resp.body)
	}
	if out != nil {
		if err := json.Unmarshal(resp.body, out); err != nil {
			ts.t.Fatalf("%s %s: decode %s: %v", method, path, resp.body, err)
		}
	}
	return resp
}

// envelope decodes an error response and checks status and code.
func (r response) envelope(t *testing.T, status int, code api.Code) *api.Error {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q for an error", ct)
	}
	var env struct {
		Error *struct {
			Code    api.Code       `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.Error == nil {
		t.Fatalf("not an error envelope: %s (%v)", r.body, err)
	}
	if env.Error.Code != code {
		t.Fatalf("code %q, want %q; message %q", env.Error.Code, code, env.Error.Message)
	}
	if env.Error.Message == "" {
		t.Fatalf("empty message in %s", r.body)
	}
	return &api.Error{Code: env.Error.Code, Message: env.Error.Message, Details: env.Error.Details}
}

func (ts *testServer) createCollection(name string, dim int, metric string) {
	ts.t.Helper()
	ts.ok(http.StatusCreated, nil, "POST", "/api/v1/collections", api.CreateCollectionRequest{Name: name, Dimension: dim, Metric: metric})
}

// count reads a collection's live count straight from the engine.
func (ts *testServer) count(name string) int {
	ts.t.Helper()
	h, err := ts.db.Collection(engine.DefaultTenant, name)
	if err != nil {
		ts.t.Fatalf("collection %s: %v", name, err)
	}
	return h.Count()
}

func (ts *testServer) collectionNames() []string {
	var out []string
	for _, info := range ts.db.ListCollections("") {
		out = append(out, info.Name)
	}
	return out
}
