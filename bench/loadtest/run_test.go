package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/bench/dataset"
)

// smallConfig is a short, light load on loopback: a few seconds at a
// modest rate, small vectors and preload.
func smallConfig(t *testing.T) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.QPS, cfg.Duration = 50, 2*time.Second
	cfg.Dim, cfg.Preload, cfg.PreloadBatch = 16, 500, 100
	cfg.RecallSample = 30
	cfg.Quiet = true
	cfg.Version = "test"
	mix, err := ParseMix("query=50,insert=15,get=10,list=5,delete=10,create-drop=10")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mix = mix
	return cfg
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestRunEmbedded(t *testing.T) {
	cfg := smallConfig(t)
	cfg.Quiet = false
	cfg.Output = "json"
	dir := t.TempDir()
	cfg.OutFile = filepath.Join(dir, "report.json")
	cfg.PlotFile = filepath.Join(dir, "latency.html")
	var stdout, stderr bytes.Buffer
	rep, err := Run(t.Context(), cfg, &stdout, &stderr, nil)
	if err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s", err, stderr.String())
	}
	if rep.Requests < 90 || rep.Requests > 110 {
		t.Errorf("%d requests for 50 qps over 2s", rep.Requests)
	}
	if rep.SuccessRatio != 1 || len(rep.Errors) != 0 {
		t.Errorf("success ratio %g, errors %+v, status codes %v", rep.SuccessRatio, rep.Errors, rep.StatusCodes)
	}
	for code := range rep.StatusCodes {
		if code != "200" && code != "201" {
			t.Errorf("status %s in %v", code, rep.StatusCodes)
		}
	}
	for _, op := range AllOps {
		s, ok := rep.ByOperation[string(op)]
		if !ok || s.Requests == 0 {
			t.Errorf("no %s requests in %v", op, keysOfSummary(rep.ByOperation))
			continue
		}
		if s.LatenciesMS.Min <= 0 || s.LatenciesMS.Max < s.LatenciesMS.P99 || s.LatenciesMS.P99 < s.LatenciesMS.P50 {
			t.Errorf("%s latencies out of order: %+v", op, s.LatenciesMS)
		}
	}
	if rep.RecallAtK == nil || *rep.RecallAtK < 0.8 || rep.Recall.Queries != 30 || rep.Recall.K != 10 {
		t.Errorf("recall %v %+v", rep.RecallAtK, rep.Recall)
	}
	if !rep.Embedded || !rep.SameProcess || rep.Server == nil || rep.Client != nil {
		t.Errorf("embedded: %v same process: %v server %+v client %+v", rep.Embedded, rep.SameProcess, rep.Server, rep.Client)
	} else if rep.Server.CPUSeconds <= 0 || rep.Server.RSSBytes == 0 {
		t.Errorf("server figures %+v", rep.Server)
	}
	if !rep.SLO.Met || rep.Mode != "constant" || rep.TargetQPS != 50 {
		t.Errorf("slo %+v mode %s target %d", rep.SLO, rep.Mode, rep.TargetQPS)
	}

	// The JSON contract: these names, exactly.
	var top map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &top); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	for _, k := range []string{"requests", "success_ratio", "throughput", "latencies_ms", "by_operation", "status_codes", "errors", "recall_at_k", "server"} {
		if _, ok := top[k]; !ok {
			t.Errorf("JSON report has no %q; keys: %v", k, keysOf(top))
		}
	}
	lat, _ := top["latencies_ms"].(map[string]any)
	if got, want := keysOf(lat), []string{"max", "mean", "min", "p50", "p90", "p95", "p99"}; !slices.Equal(got, want) {
		t.Errorf("latencies_ms keys %v, want %v", got, want)
	}
	srv, _ := top["server"].(map[string]any)
	for _, k := range []string{"cpu_seconds", "rss_bytes"} {
		if _, ok := srv[k]; !ok {
			t.Errorf("server has no %q: %v", k, srv)
		}
	}
	if sr, _ := top["success_ratio"].(float64); sr != 1 {
		t.Errorf("success_ratio %v, want 1 (a ratio, not a percentage)", top["success_ratio"])
	}
	byOp, _ := top["by_operation"].(map[string]any)
	query, _ := byOp["query"].(map[string]any)
	if _, ok := query["latencies_ms"]; !ok {
		t.Errorf("by_operation.query has no latencies_ms: %v", keysOf(query))
	}

	file, err := os.ReadFile(cfg.OutFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, stdout.Bytes()) {
		t.Error("--out file differs from the JSON on stdout")
	}
	plot, err := os.ReadFile(cfg.PlotFile)
	if err != nil || !bytes.Contains(bytes.ToLower(plot[:min(len(plot), 200)]), []byte("<!doctype html>")) {
		t.Errorf("plot file: %v %.100q", err, plot)
	}
	for _, want := range []string{"starting an embedded server", "preload", "recall check", "stopping the embedded server"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}

	// The text report names the same figures.
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"same process", "recall@10", "create-drop", "throughput", "p99"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

func keysOfSummary(m map[string]Summary) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestRunRamp(t *testing.T) {
	cfg := smallConfig(t)
	cfg.RecallSample = 0
	cfg.Ramp = &Ramp{Start: 20, End: 40, Step: time.Second, Refine: 1}
	cfg.SLO = SLO{P99: 10 * time.Second, SuccessPct: 90}
	rep, err := Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != "ramp" || rep.Ramp == nil || rep.Ramp.MaxQPS != 40 || len(rep.Ramp.Steps) != 2 || rep.TargetQPS != 40 {
		t.Fatalf("lenient SLO: %+v target %d", rep.Ramp, rep.TargetQPS)
	}
	if rep.Requests < 35 || rep.Requests > 45 {
		t.Errorf("the headline is the 40 qps step; it has %d requests", rep.Requests)
	}

	// Nothing meets a p99 of a nanosecond: one step, no sustained rate,
	// and the headline figures are the first step's.
	cfg.SLO = SLO{P99: time.Nanosecond, SuccessPct: 90}
	var out bytes.Buffer
	rep, err = Run(t.Context(), cfg, &out, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ramp.MaxQPS != 0 || len(rep.Ramp.Steps) != 1 || rep.Ramp.Steps[0].Passed || rep.TargetQPS != 20 || rep.SLO.Met {
		t.Fatalf("impossible SLO: %+v slo %+v", rep.Ramp, rep.SLO)
	}
	if !strings.Contains(out.String(), "no rate met the SLO") {
		t.Errorf("text report:\n%s", out.String())
	}
}

func TestRunThresholds(t *testing.T) {
	cfg := smallConfig(t)
	cfg.Duration = time.Second
	cfg.RecallSample = 10
	var err error
	if cfg.FailOn, err = ParseFailOn("p99>1ns,recall<0.5,throughput<1"); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil)
	var te *ThresholdError
	if !errors.As(err, &te) || len(te.Failed) != 1 || te.Failed[0].Expr != "p99>1ns" {
		t.Fatalf("want only p99>1ns to fail, got %v", err)
	}
	if rep == nil || len(rep.Thresholds) != 3 || !rep.Thresholds[0].Failed || rep.Thresholds[1].Failed || rep.Thresholds[2].Failed {
		t.Fatalf("thresholds in the report: %+v", rep)
	}
}

func TestRunBadTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	cfg := smallConfig(t)
	cfg.Target = "http://" + addr
	start := time.Now()
	_, err = Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil)
	if err == nil || !strings.Contains(err.Error(), "not reachable") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("closed port: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s to report a closed port", d)
	}
}

// startTestServer is an embedded server the test owns, for --target runs.
func startTestServer(t *testing.T) (*embeddedServer, *apiClient) {
	t.Helper()
	e, err := startEmbedded(t.Context(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	h := http.Header{}
	if e.APIKey != "" {
		h.Set("Authorization", "Bearer "+e.APIKey)
	}
	return e, &apiClient{http: &http.Client{Timeout: 30 * time.Second}, base: e.URL, header: h}
}

func collectionNames(t *testing.T, c *apiClient) []string {
	t.Helper()
	var list struct {
		Collections []struct{ Name string } `json:"collections"`
	}
	if err := c.do(t.Context(), http.MethodGet, "/api/v1/collections", nil, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, col := range list.Collections {
		names = append(names, col.Name)
	}
	return names
}

func TestRunAgainstTarget(t *testing.T) {
	e, api := startTestServer(t)
	if e.APIKey == "" {
		t.Fatalf("the server wrote no bootstrap key at %s", BootstrapKeyFile)
	}
	cfg := smallConfig(t)
	cfg.Duration = time.Second
	cfg.Target, cfg.APIKey = e.URL+"/", e.APIKey

	rep, err := Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Embedded || rep.SameProcess || rep.Client == nil || rep.Server == nil || rep.SuccessRatio != 1 {
		t.Fatalf("target run: embedded %v same %v client %+v server %+v success %g errors %+v",
			rep.Embedded, rep.SameProcess, rep.Client, rep.Server, rep.SuccessRatio, rep.Errors)
	}
	if !rep.Client.RSSIsPeak || rep.Client.RSSBytes == 0 {
		t.Errorf("client figures %+v", rep.Client)
	}
	// The run cleans up after itself: the collection and every churn
	// collection are gone.
	if names := collectionNames(t, api); len(names) != 0 {
		t.Fatalf("collections left behind: %v", names)
	}

	cfg.Keep, cfg.Collection = true, "kept"
	if _, err := Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil); err != nil {
		t.Fatal(err)
	}
	if names := collectionNames(t, api); !slices.Contains(names, "kept") {
		t.Fatalf("--keep: collections %v", names)
	}
	// The name is taken now: a second run says so instead of mixing data.
	if _, err := Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("reused collection name: %v", err)
	}

	// Without the key the server refuses, and the error says what to do.
	cfg.APIKey, cfg.Keep, cfg.Collection = "", false, ""
	if _, err := Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil); err == nil || !strings.Contains(err.Error(), "--api-key") {
		t.Fatalf("no key: %v", err)
	}
}

// A filtered load creates its collection with a payload index on the
// filtered field (unless told not to), and the report says which it was;
// recall is checked against exact filtered search either way.
func TestRunFilterIndex(t *testing.T) {
	e, api := startTestServer(t)
	for _, indexed := range []bool{true, false} {
		cfg := smallConfig(t)
		cfg.Duration = time.Second
		cfg.Target, cfg.APIKey = e.URL+"/", e.APIKey
		cfg.FilterSelectivity, cfg.FilterIndex = 0.2, indexed
		cfg.Keep, cfg.Collection = true, fmt.Sprintf("filtered-%v", indexed)
		rep, err := Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Workload.FilterIndexed != indexed || rep.SuccessRatio != 1 || rep.RecallAtK == nil || *rep.RecallAtK < 0.8 {
			t.Fatalf("indexed %v: workload %+v, success %g, recall %v", indexed, rep.Workload, rep.SuccessRatio, rep.RecallAtK)
		}
		var list struct {
			Indexes []struct{ Field, Type string } `json:"indexes"`
		}
		if err := api.do(t.Context(), http.MethodGet, "/api/v1/collections/"+cfg.Collection+"/indexes", nil, &list); err != nil {
			t.Fatal(err)
		}
		if got := len(list.Indexes) == 1 && list.Indexes[0].Field == BucketField && list.Indexes[0].Type == "integer"; got != indexed {
			t.Fatalf("indexed %v: the collection's indexes are %+v", indexed, list.Indexes)
		}
		var text bytes.Buffer
		if err := rep.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{true: "(indexed)", false: "(no index)"}[indexed]
		if !strings.Contains(text.String(), "filter selectivity 0.2 "+want) {
			t.Errorf("text report:\n%s", text.String())
		}
	}
}

// The filter the workload sends is the one the server applies: an exact
// filtered query returns only records in the window, about the asked-for
// fraction of them.
func TestFilterOnServer(t *testing.T) {
	_, api := startTestServer(t)
	const n, sel = 2000, 0.1
	vecs, _ := NewClustered(8, 4, 3)
	mix, _ := ParseMix("query=1")
	wl, err := NewWorkload(WorkloadConfig{BaseURL: api.base, Collection: "f", Metric: "l2", Vectors: vecs, Mix: mix,
		K: 1000, InsertBatch: 1, Preload: n, FilterSelectivity: sel, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.do(t.Context(), http.MethodPost, "/api/v1/collections", []byte(`{"name":"f","dimension":8,"metric":"l2"}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := preload(t.Context(), api, wl, "f", n, 250, 2, nil); err != nil {
		t.Fatal(err)
	}
	for j := uint64(0); j < 5; j++ {
		lo, hi, _ := wl.FilterWindow(j)
		var ans struct {
			Results []struct {
				ID       string         `json:"id"`
				Metadata map[string]int `json:"metadata"`
			} `json:"results"`
		}
		if err := api.do(t.Context(), http.MethodPost, "/api/v1/collections/f/query", wl.QueryBody(j, true), &ans); err != nil {
			t.Fatal(err)
		}
		want := 0
		for i := uint64(0); i < n; i++ {
			if b := wl.Bucket(i); b >= lo && b < hi {
				want++
			}
		}
		if len(ans.Results) != want {
			t.Errorf("query %d: %d results, %d records in buckets [%d,%d)", j, len(ans.Results), want, lo, hi)
		}
		if want < n*sel/2 || want > n*sel*2 {
			t.Errorf("query %d: window matches %d of %d records for selectivity %g", j, want, n, sel)
		}
		for _, r := range ans.Results {
			if b := r.Metadata[BucketField]; b < lo || b >= hi {
				t.Fatalf("query %d: %s has bucket %d outside [%d,%d)", j, r.ID, b, lo, hi)
			}
		}
	}
}

func TestRunVectorsFile(t *testing.T) {
	m, err := dataset.NewMatrix(600, 8)
	if err != nil {
		t.Fatal(err)
	}
	vecs, _ := NewClustered(8, 4, 11)
	for i := 0; i < m.N; i++ {
		vecs.Record(uint64(i), m.Row(i))
	}
	path := filepath.Join(t.TempDir(), "base.fvecs")
	var buf bytes.Buffer
	if err := dataset.WriteFvecs(&buf, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig(t)
	cfg.Duration, cfg.VectorsFile, cfg.Dim, cfg.RecallSample = time.Second, path, 0, 10
	rep, err := Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Workload.Dim != 8 || rep.Workload.Vectors != path || rep.SuccessRatio != 1 || rep.RecallAtK == nil {
		t.Fatalf("workload %+v success %g recall %v errors %+v", rep.Workload, rep.SuccessRatio, rep.RecallAtK, rep.Errors)
	}

	cfg.Dim = 16
	if _, err := Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil); err == nil || !strings.Contains(err.Error(), "dimension 8") {
		t.Fatalf("--dim 16 with an 8-dimensional file: %v", err)
	}
	cfg.Dim, cfg.Preload = 0, 601
	if _, err := Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil); err == nil || !strings.Contains(err.Error(), "only 600 rows") {
		t.Fatalf("--preload 601 with 600 rows: %v", err)
	}
}

// The embedded server measures capacity: its default per-tenant rate limit
// is switched off. A --target keeps its own limit, and the report says when
// the load ran into it.
func TestRunRateLimits(t *testing.T) {
	cfg := smallConfig(t)
	cfg.QPS, cfg.Duration, cfg.RecallSample = 300, 2*time.Second, 0
	rep, err := Run(t.Context(), cfg, &bytes.Buffer{}, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.StatusCodes["429"] != 0 || !slices.Contains(rep.Notes, rateLimitOffNote) {
		t.Fatalf("embedded at 300 qps: status %v notes %q", rep.StatusCodes, rep.Notes)
	}

	e, api := startTestServer(t)
	if err := api.do(t.Context(), http.MethodPost, "/admin/config/rate-limit",
		[]byte(`{"enabled":true,"default_qps":20,"default_burst_multiplier":1}`), nil); err != nil {
		t.Fatal(err)
	}
	cfg.Target, cfg.APIKey = e.URL, e.APIKey
	cfg.QPS, cfg.Duration = 100, time.Second
	var stderr bytes.Buffer
	rep, err = Run(t.Context(), cfg, &bytes.Buffer{}, &stderr, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Warned before the load, even with --quiet, and in the report.
	const warning = "limits this credential's tenant (or key) to 20 requests/s (burst 20; X-RateLimit-Limit), below the 100 qps asked for"
	if !strings.Contains(stderr.String(), "warning: ") || !strings.Contains(stderr.String(), warning) || !strings.Contains(stderr.String(), "akidb quota set") {
		t.Fatalf("no warning before the load: %q", stderr.String())
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, warning) }) {
		t.Fatalf("notes %q lack the warning", rep.Notes)
	}
	limited := rep.StatusCodes["429"]
	if limited == 0 || rep.SuccessRatio == 1 {
		t.Fatalf("target limited to 20 qps, loaded at 100: status %v", rep.StatusCodes)
	}
	want := fmt.Sprintf("%d requests were refused with 429", limited)
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
		t.Fatalf("notes %q lack %q", rep.Notes, want)
	}
	found := false
	for _, e := range rep.Errors {
		found = found || strings.HasPrefix(e.Error, "HTTP 429")
	}
	if !found {
		t.Fatalf("errors %+v lack the 429", rep.Errors)
	}
}

// TestRunQuantized: a load on an int8 collection with its originals on
// disk starts once the server reports the quantization ready, sends each
// query's rerank, and says so in the report; recall holds.
func TestRunQuantized(t *testing.T) {
	cfg := smallConfig(t)
	cfg.Preload, cfg.Dim = 1500, 16
	cfg.Quantization, cfg.Originals, cfg.Rerank = "int8", "disk", 20
	mix, err := ParseMix("query=80,insert=10,get=10")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mix = mix
	var stdout, stderr bytes.Buffer
	rep, err := Run(t.Context(), cfg, &stdout, &stderr, nil)
	if err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s", err, stderr.String())
	}
	if rep.SuccessRatio != 1 || rep.RecallAtK == nil || *rep.RecallAtK < 0.9 {
		t.Fatalf("success %g recall %v errors %+v", rep.SuccessRatio, rep.RecallAtK, rep.Errors)
	}
	if w := rep.Workload; w.Quantization != "int8" || w.Originals != "disk" || w.Rerank != 20 {
		t.Fatalf("workload %+v", w)
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "not quantized") {
			t.Fatalf("note %q: the collection should have trained on 1500 vectors", n)
		}
	}
	if !strings.Contains(stdout.String(), "int8 (originals disk), rerank 20") {
		t.Fatalf("the text report does not say the collection is int8:\n%s", stdout.String())
	}

	// Below the training minimum the load runs on floats, with a note.
	cfg.Preload = 200
	rep, err = Run(t.Context(), cfg, &stdout, &stderr, nil)
	if err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s", err, stderr.String())
	}
	found := false
	for _, n := range rep.Notes {
		found = found || strings.Contains(n, "not quantized yet")
	}
	if !found {
		t.Fatalf("no note that the collection waits for vectors: %v", rep.Notes)
	}
}

// TestQueryBodyRerank: the rerank goes with approximate queries, not with
// the exact ones of the recall check.
func TestQueryBodyRerank(t *testing.T) {
	src, err := NewClustered(4, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	mix, _ := ParseMix("query=1")
	wl, err := NewWorkload(WorkloadConfig{BaseURL: "http://x", Collection: "c", Metric: "l2", Vectors: src, Mix: mix, K: 5, Rerank: 30, InsertBatch: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if b := string(wl.QueryBody(3, false)); !strings.Contains(b, `"rerank":30`) {
		t.Fatalf("query body %s", b)
	}
	if b := string(wl.QueryBody(3, true)); strings.Contains(b, "rerank") {
		t.Fatalf("exact query body %s", b)
	}
}
