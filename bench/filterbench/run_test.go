package filterbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/bench/dataset"
	"github.com/akidb/akidb/engine"
)

// synthetic is MNIST-shaped data on a small scale: each label a cluster.
func synthetic(n, nq, dim int) Data {
	rng := rand.New(rand.NewPCG(4, 2))
	labels := make([]uint8, n)
	base := dataset.Matrix{N: n, Dim: dim, Data: make([]float32, n*dim)}
	for i := range n {
		labels[i] = uint8(rng.IntN(10))
		for j := range dim {
			base.Data[i*dim+j] = float32(labels[i])*float32(j%3) + rng.Float32()
		}
	}
	queries := dataset.Matrix{N: nq, Dim: dim, Data: make([]float32, nq*dim)}
	for i := range queries.Data {
		queries.Data[i] = 10 * rng.Float32()
	}
	return Data{Base: base, Queries: queries, Meta: Records(labels, 1)}
}

// The whole benchmark on the real engine: every mode answers every filter
// with only matches and never too few, index_exact (a scan of the exact
// matches) has recall 1, and the strategies are those each mode runs.
func TestRunOnEngine(t *testing.T) {
	d := synthetic(3000, 40, 8)
	e := &Engine{M: 8, EfConstruction: 40, Seed: 1, Compare: true}
	var progress bytes.Buffer
	rep, err := Run(context.Background(), Config{K: 10, Ef: 32, Digit: 3, Threads: 2, Progress: &progress}, d, e)
	if err != nil {
		t.Fatal(err)
	}
	if rep.N != 3000 || rep.Queries != 40 || rep.Unfiltered.Mode != "unfiltered" || rep.Unfiltered.Recall < 0.9 {
		t.Fatalf("setup %+v, unfiltered %+v", rep.Setup, rep.Unfiltered)
	}
	if want := len(DefaultTargets) * 2 * len(e.Modes()); len(rep.Rows) != want {
		t.Fatalf("%d rows, want %d", len(rep.Rows), want)
	}
	for _, row := range rep.Rows {
		if row.UnderReturns != 0 || row.Recall < 0.5 || row.Recall > 1 || row.P50us <= 0 || row.UnfilteredP50us <= 0 {
			t.Errorf("row %+v", row)
		}
		if row.Selectivity < row.Target/4 || row.Selectivity > row.Target*2 {
			t.Errorf("%s: selectivity %.4f, aimed at %.4f", row.Filter, row.Selectivity, row.Target)
		}
		for s := range row.Strategies {
			switch {
			case row.Mode == "no_index" && !strings.HasPrefix(s, "filtered_"),
				row.Mode != "no_index" && !strings.HasPrefix(s, "index_"):
				t.Errorf("mode %s ran %s", row.Mode, s)
			}
		}
		if row.Mode == engine.StrategyIndexExact && row.Recall != 1 {
			t.Errorf("a scan of the matches has recall %.4f", row.Recall)
		}
	}
	if !strings.Contains(progress.String(), "unfiltered: recall=") {
		t.Errorf("progress: %q", progress.String())
	}
	var table, js bytes.Buffer
	if err := WriteTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(table.String(), "\n"); n != 3+len(rep.Rows) {
		t.Errorf("table has %d lines:\n%s", n, table.String())
	}
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&js)
	for i := 0; ; i++ {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			if i != 1+len(rep.Rows) {
				t.Fatalf("%d JSON lines (%v)", i, err)
			}
			break
		}
		for _, k := range []string{"n", "mode", "recall", "p50_us", "unfiltered_p50_us", "p50_ratio", "cpu_p50_us", "cpu_p50_ratio", "under_returns", "selectivity"} {
			if _, ok := line[k]; !ok {
				t.Fatalf("line %d has no %q: %v", i, k, line)
			}
		}
	}
}

// fake answers from a script, on a clock that advances per search.
type fake struct {
	now      time.Time
	filtered time.Duration // what a filtered search takes; unfiltered 1ms
	answer   []int32
}

func (f *fake) Build(dataset.Matrix, []Record) error { return nil }
func (f *fake) Modes() []string                      { return []string{"auto"} }
func (f *fake) Search(q []float32, k, ef int, filter []byte, mode string) ([]int32, string, error) {
	if filter == nil {
		f.now = f.now.Add(time.Millisecond)
		return []int32{0}, "graph", nil
	}
	f.now = f.now.Add(f.filtered)
	return f.answer, "fake", nil
}

// Under-returns, recall and the paired ratio are computed as documented.
func TestRunFigures(t *testing.T) {
	d := synthetic(500, 10, 4)
	f := &fake{filtered: 3 * time.Millisecond}
	cpuClock := func() time.Duration { return f.now.Sub(time.Time{}) / 2 } // half the wall time
	rep, err := Run(context.Background(), Config{K: 5, Ef: 10, Targets: []float64{0.5}, Clock: func() time.Time { return f.now }, CPUClock: cpuClock}, d, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rep.Rows {
		if row.UnderReturns != 10 || row.Recall != 0 || row.P50us != 3000 || row.UnfilteredP50us != 1000 || row.P50Ratio != 3 || row.Strategies["fake"] != 10 ||
			row.CPUP50us != 1500 || row.UnfilteredCPUP50us != 500 || row.CPUP50Ratio != 3 {
			t.Errorf("row %+v", row)
		}
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	d := synthetic(100, 5, 4)
	bad := d
	bad.Meta = d.Meta[:50]
	for name, c := range map[string]struct {
		cfg Config
		d   Data
	}{
		"k":           {Config{K: 0, Ef: 10}, d},
		"selectivity": {Config{K: 1, Ef: 10, Targets: []float64{1.5}}, d},
		"digit":       {Config{K: 1, Ef: 10, Digit: 10}, d},
		"metadata":    {Config{K: 1, Ef: 10}, bad},
		"empty":       {Config{K: 1, Ef: 10}, Data{}},
	} {
		if _, err := Run(context.Background(), c.cfg, c.d, &fake{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Load(Config{}); err == nil {
		t.Error("Load without files")
	}
	if _, err := Load(Config{Train: "/nonexistent/base.fvecs", Test: "/nonexistent/q.fvecs"}); err == nil {
		t.Error("Load of missing files")
	}
	// A search error ends the run with the query named.
	f := &fake{filtered: time.Millisecond}
	_, err := Run(context.Background(), Config{K: 1, Ef: 1, Targets: []float64{0.5}}, d, errTarget{f})
	if err == nil || !strings.Contains(err.Error(), "query 0") {
		t.Errorf("search error: %v", err)
	}
}

type errTarget struct{ *fake }

func (e errTarget) Search(q []float32, k, ef int, filter []byte, mode string) ([]int32, string, error) {
	if filter != nil {
		return nil, "", errors.New("boom")
	}
	return e.fake.Search(q, k, ef, filter, mode)
}

// Each filter matches close to its target on uniform data.
func TestFiltersHitTheirTargets(t *testing.T) {
	labels := make([]uint8, 100000)
	for i := range labels {
		labels[i] = uint8(i % 10)
	}
	meta := Records(labels, 3)
	for _, f := range filtersFor(DefaultTargets, 3) {
		n := 0
		for _, m := range meta {
			if f.match(m) {
				n++
			}
		}
		got := float64(n) / float64(len(meta))
		if got < f.Target*0.8 || got > f.Target*1.2 {
			t.Errorf("%s matches %.4f, aimed at %.4f", f.JSON, got, f.Target)
		}
		if _, err := json.Marshal(json.RawMessage(f.JSON)); err != nil {
			t.Errorf("%s is not JSON: %v", f.JSON, err)
		}
	}
}
