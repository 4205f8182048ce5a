package annengine

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/akidb/akidb/engine"
)

func TestSyntheticSpec(t *testing.T) {
	base, q, err := synthetic("300:8:4", 20, 1)
	if err != nil || base.N != 300 || base.Dim != 8 || q.N != 20 {
		t.Fatalf("%v %dx%d %d queries", err, base.N, base.Dim, q.N)
	}
	again, _, _ := synthetic("300:8:4", 20, 1)
	if !slices.Equal(base.Data, again.Data) {
		t.Fatal("the same spec and seed drew different vectors")
	}
	if _, q, _ := synthetic("10:4", 0, 1); q.N != DefaultSyntheticQueries {
		t.Fatalf("%d default queries", q.N)
	}
	for _, bad := range []string{"", "100", "100:0", "x:8", "1:2:3:4", "-5:8", "100000000:100000"} {
		if _, _, err := synthetic(bad, 1, 1); err == nil || !strings.Contains(err.Error(), "--synthetic") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestDefaultLabel(t *testing.T) {
	for _, tc := range []struct {
		q      engine.Quantization
		rerank int
		want   string
	}{
		{engine.Quantization{}, 0, "akidb float32"},
		{engine.Quantization{Type: "int8", Originals: "memory", Ranges: "auto"}, 0, "akidb int8"},
		{engine.Quantization{Type: "int8", Originals: "disk", Ranges: "dimension"}, 40, "akidb int8 disk dimension rerank 40"},
	} {
		if got := DefaultLabel(tc.q, tc.rerank); got != tc.want {
			t.Errorf("%+v rerank %d: %q, want %q", tc.q, tc.rerank, got, tc.want)
		}
	}
}

// TestRunQuantizedDiskWithPlot runs the whole bench on synthetic data, int8
// with the originals on disk: the JSON lines carry the configuration and
// the resident memory, the plot has this run and the compared file's
// series, and the vectors directory is cleaned up.
func TestRunQuantizedDiskWithPlot(t *testing.T) {
	dir := t.TempDir()
	vdir := filepath.Join(dir, "vectors")
	if err := os.Mkdir(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	peer := filepath.Join(dir, "hnswlib.jsonl")
	if err := os.WriteFile(peer, []byte(`{"lib":"hnswlib","ef":10,"recall":0.9,"qps":5000}`+"\n"+`{"lib":"hnswlib","ef":20,"recall":0.97,"qps":3000}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plot := filepath.Join(dir, "plot.html")
	cfg := Config{Synthetic: "2500:16", MaxQueries: 50, K: 10, M: 8, EfConstruction: 40, Efs: []int{10, 40}, Threads: 2, Metric: "l2", Seed: 3, JSON: true,
		Quantization: engine.Quantization{Type: "int8", Originals: "disk"}, Rerank: 20, VectorsDir: vdir,
		PlotFile: plot, Compare: []string{peer}, ProgressLines: true}
	var out, progress bytes.Buffer
	if err := Run(context.Background(), cfg, &out, &progress, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 { // two efs and exact search
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	var first struct {
		Recall       float64 `json:"recall"`
		Label        string  `json:"label"`
		Quantization string  `json:"quantization"`
		Originals    string  `json:"originals"`
		Rerank       int     `json:"rerank"`
		RSS          int64   `json:"rss_bytes"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Label != "akidb int8 disk rerank 20" || first.Quantization != "int8" || first.Originals != "disk" || first.Rerank != 20 || first.Recall < 0.9 {
		t.Fatalf("line %s", lines[1])
	}
	page, err := os.ReadFile(plot)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"akidb int8 disk rerank 20", "hnswlib", "<svg"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Fatalf("plot lacks %q", want)
		}
	}
	if left, _ := os.ReadDir(vdir); len(left) != 0 {
		t.Fatalf("vectors directory left behind: %v", left)
	}
	if !strings.Contains(progress.String(), "build: 2500/2500 vectors") {
		t.Fatalf("no build progress:\n%s", progress.String())
	}

	// Refusals before any work.
	for _, bad := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Compare = []string{filepath.Join(dir, "absent.jsonl")} }, "--compare"},
		{func(c *Config) { c.PlotFile = "" }, "--compare needs --plot"},
		{func(c *Config) { c.Rerank = -1 }, "--rerank"},
		{func(c *Config) { c.VectorsDir = filepath.Join(dir, "absent") }, "--vectors-dir"},
		{func(c *Config) { c.Quantization.Type = "int4" }, "quantization.type"},
	} {
		c := cfg
		bad.mutate(&c)
		if err := Run(context.Background(), c, &out, &progress, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("want an error with %q, got %v", bad.want, err)
		}
	}
}
