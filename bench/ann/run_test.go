package ann

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akidb/akidb/bench/dataset"
)

// fakeClock only moves when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var (
	errAdd    = errors.New("add exploded")
	errSearch = errors.New("search exploded")
	errExact  = errors.New("exact exploded")
)

// bruteIndex answers every search exactly, so recall must be 1.0. Hooks let
// tests inject costs on a fake clock, failures and bad answers.
type bruteIndex struct {
	base   dataset.Matrix // own copy; unit rows for cosine
	cosine bool
	dist   dataset.DistanceFunc
	added  []atomic.Int32 // times each row was added

	clock      *fakeClock
	addCost    time.Duration
	searchCost func(call int64) time.Duration
	exactCost  time.Duration
	calls      atomic.Int64
	onAdd      func(from, to int) error

	failSearchCall int64 // 1-based call number to fail; 0 = never
	failExact      bool
	badID          bool
}

func newBrute(base dataset.Matrix, metric string) *bruteIndex {
	b := &bruteIndex{base: base.NormalizedCopy(), dist: dataset.DotDistance, added: make([]atomic.Int32, base.N)}
	switch metric {
	case MetricCosine:
		b.cosine = true
	case MetricL2:
		b.base = dataset.Matrix{N: base.N, Dim: base.Dim, Data: slices.Clone(base.Data)}
		b.dist = dataset.SquaredL2
	case MetricDot:
		b.base = dataset.Matrix{N: base.N, Dim: base.Dim, Data: slices.Clone(base.Data)}
	}
	return b
}

func (b *bruteIndex) Add(base dataset.Matrix, from, to int) error {
	if base.N != b.base.N || from < 0 || to > base.N || from >= to {
		return fmt.Errorf("bad range [%d, %d) of %d", from, to, base.N)
	}
	if b.clock != nil {
		b.clock.Advance(b.addCost)
	}
	if b.onAdd != nil {
		if err := b.onAdd(from, to); err != nil {
			return err
		}
	}
	for i := from; i < to; i++ {
		b.added[i].Add(1)
	}
	return nil
}

func (b *bruteIndex) search(q []float32, k int) ([]int32, error) {
	for i := range b.added {
		if b.added[i].Load() != 1 {
			return nil, fmt.Errorf("row %d added %d times", i, b.added[i].Load())
		}
	}
	qm := dataset.Matrix{N: 1, Dim: len(q), Data: slices.Clone(q)}
	if b.cosine {
		qm = qm.NormalizedCopy()
	}
	gt, err := dataset.GroundTruth(context.Background(), b.base, qm, k, b.dist, 1)
	if err != nil {
		return nil, err
	}
	if b.badID {
		gt[0][0] = int32(b.base.N)
	}
	return gt[0], nil
}

func (b *bruteIndex) Search(q []float32, k, ef int) ([]int32, error) {
	call := b.calls.Add(1)
	if b.clock != nil && b.searchCost != nil {
		b.clock.Advance(b.searchCost(call - 1))
	}
	if call == b.failSearchCall {
		return nil, errSearch
	}
	return b.search(q, k)
}

func (b *bruteIndex) ExactSearch(q []float32, k int) ([]int32, error) {
	if b.clock != nil {
		b.clock.Advance(b.exactCost)
	}
	if b.failExact {
		return nil, errExact
	}
	return b.search(q, k)
}

func (b *bruteIndex) MemoryBytes() int64 { return int64(4 * len(b.base.Data)) }

func randomMatrix(rng *rand.Rand, n, dim int) dataset.Matrix {
	m := dataset.Matrix{N: n, Dim: dim, Data: make([]float32, n*dim)}
	for i := range m.Data {
		m.Data[i] = rng.Float32()*2 - 1
	}
	return m
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func TestRunBruteForceRecallIsOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	base := randomMatrix(rng, 3000, 8)
	queries := randomMatrix(rng, 120, 8)
	for _, metric := range []string{MetricL2, MetricDot, MetricCosine} {
		t.Run(metric, func(t *testing.T) {
			idx := newBrute(base, metric)
			cfg := Config{K: 10, Efs: []int{10, 40}, Threads: 4, Metric: metric, M: 16, EfConstruction: 200, ChunkRows: 7, ExactQueries: 50}
			rep, err := Run(context.Background(), idx, base, queries, nil, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i := range idx.added {
				if n := idx.added[i].Load(); n != 1 {
					t.Fatalf("row %d added %d times", i, n)
				}
			}
			if len(rep.Results) != 2 {
				t.Fatalf("%d results, want 2", len(rep.Results))
			}
			for i, r := range rep.Results {
				if r.Ef != cfg.Efs[i] || r.Recall != 1 || r.QPS <= 0 || r.P50us <= 0 || r.P99us < r.P50us {
					t.Errorf("result %+v", r)
				}
				want := Setup{K: 10, M: 16, EfConstruction: 200, N: 3000, Dim: 8, Queries: 120, Metric: metric,
					BuildS: rep.BuildS, BuildThreads: 4, MemBytes: 3000 * 8 * 4}
				if r.Setup != want || rep.Setup != want {
					t.Errorf("setup %+v / %+v, want %+v", r.Setup, rep.Setup, want)
				}
			}
			if e := rep.Exact; e.Queries != 50 || e.Recall != 1 || e.QPS <= 0 {
				t.Errorf("exact %+v", e)
			}
		})
	}
}

func TestRunUsesGivenGroundTruth(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	base := randomMatrix(rng, 500, 4)
	queries := randomMatrix(rng, 30, 4)
	gt, err := dataset.GroundTruth(context.Background(), base, queries, 20, dataset.SquaredL2, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{K: 5, Efs: []int{8}, Metric: MetricL2}
	rep, err := Run(context.Background(), newBrute(base, MetricL2), base, queries, gt, cfg)
	if err != nil || rep.Results[0].Recall != 1 {
		t.Fatalf("recall %v err %v", rep.Results, err)
	}
	// Wrong ground truth (shift every id) must show up as lost recall.
	bad := make([][]int32, len(gt))
	for i, row := range gt {
		bad[i] = make([]int32, len(row))
		for j, id := range row {
			bad[i][j] = (id + 1) % int32(base.N)
		}
	}
	rep, err = Run(context.Background(), newBrute(base, MetricL2), base, queries, bad, cfg)
	if err != nil || rep.Results[0].Recall > 0.5 || rep.Exact.Recall > 0.5 {
		t.Fatalf("recall against wrong gt: %+v exact %+v err %v", rep.Results, rep.Exact, err)
	}
}

// Cosine ground truth must come from normalised copies: here dot and cosine
// disagree about the nearest row.
func TestRunCosineNormalisesGroundTruth(t *testing.T) {
	base := dataset.Matrix{N: 2, Dim: 2, Data: []float32{10, 0, 1, 1}}
	queries := dataset.Matrix{N: 1, Dim: 2, Data: []float32{1, 1.2}}
	orig := slices.Clone(base.Data)
	rep, err := Run(context.Background(), newBrute(base, MetricCosine), base, queries, nil, Config{K: 1, Efs: []int{1}, Metric: MetricCosine})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Results[0].Recall != 1 || rep.Exact.Recall != 1 {
		t.Fatalf("cosine recall %v / %v, want 1", rep.Results[0].Recall, rep.Exact.Recall)
	}
	if !slices.Equal(base.Data, orig) {
		t.Fatal("Run modified the caller's base")
	}
	// The same data as "dot" ranks row 0 first: a cosine index scores 0.
	rep, err = Run(context.Background(), newBrute(base, MetricCosine), base, queries, nil, Config{K: 1, Efs: []int{1}, Metric: MetricDot})
	if err != nil || rep.Results[0].Recall != 0 {
		t.Fatalf("dot gt with a cosine index: recall %v err %v, want 0", rep.Results, err)
	}
}

// With a fake clock every figure is known exactly.
func TestRunFigures(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	base := randomMatrix(rng, 1000, 4)
	queries := randomMatrix(rng, 200, 4)
	clock := &fakeClock{now: time.Unix(1000, 0)}
	idx := newBrute(base, MetricL2)
	idx.clock = clock
	idx.addCost = time.Millisecond
	idx.exactCost = 2 * time.Millisecond
	idx.searchCost = func(call int64) time.Duration { return time.Duration(call%100+1) * time.Microsecond }
	var progress syncBuffer
	cfg := Config{K: 3, Efs: []int{16, 32}, Threads: 2, Metric: MetricL2, ChunkRows: 100,
		Clock: clock.Now, WarmupQueries: -1, ExactQueries: 10, Progress: &progress}
	rep, err := Run(context.Background(), idx, base, queries, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.BuildS != 0.010 { // 10 chunks x 1ms whatever the interleaving
		t.Errorf("BuildS = %v, want 0.010", rep.BuildS)
	}
	// Each ef sees latencies 1..100us twice: total 10100us for 200 queries.
	for _, r := range rep.Results {
		if r.P50us != 50 || r.P99us != 99 || math.Abs(r.QPS-200/0.0101) > 1e-6 {
			t.Errorf("ef=%d: p50 %v p99 %v qps %v, want 50, 99, %v", r.Ef, r.P50us, r.P99us, r.QPS, 200/0.0101)
		}
	}
	if e := rep.Exact; e.Queries != 10 || e.P50us != 2000 || e.P99us != 2000 || math.Abs(e.QPS-500) > 1e-9 || e.Recall != 1 {
		t.Errorf("exact %+v, want 10 queries at 2ms", e)
	}
	out := progress.String()
	if !strings.Contains(out, "build: 1000/1000 vectors (100.0%) 100000 vectors/s elapsed 0.0s\n") {
		t.Errorf("progress lacks the final build line:\n%q", out)
	}
	for _, want := range []string{"ef=16: recall=1.0000", "ef=32: recall=1.0000", "exact: recall=1.0000"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	// The warm-up is off, so Search ran exactly 2 x 200 times.
	if got := idx.calls.Load(); got != 400 {
		t.Errorf("%d searches, want 400", got)
	}
}

func TestWarmupIsNotTimed(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	base := randomMatrix(rng, 100, 4)
	queries := randomMatrix(rng, 50, 4)
	clock := &fakeClock{now: time.Unix(0, 0)}
	idx := newBrute(base, MetricL2)
	idx.clock = clock
	// The 30 warm-up calls cost 1s each; the timed ones 1us.
	idx.searchCost = func(call int64) time.Duration {
		if call < 30 {
			return time.Second
		}
		return time.Microsecond
	}
	rep, err := Run(context.Background(), idx, base, queries, nil, Config{K: 1, Efs: []int{4}, Metric: MetricL2, Clock: clock.Now, WarmupQueries: 30, ExactQueries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.P99us != 1 || math.Abs(r.QPS-1e6) > 1e-6 {
		t.Fatalf("warm-up leaked into the timing: %+v", r)
	}
	if got := idx.calls.Load(); got != 80 {
		t.Fatalf("%d searches, want 30 warm-up + 50", got)
	}
	if rep.Exact.Queries != 0 {
		t.Fatalf("exact search ran although ExactQueries < 0: %+v", rep.Exact)
	}
}

// The ticker redraws the line while the build runs; Add of the last chunk
// waits until at least one redraw happened.
func TestProgressTicker(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	base := randomMatrix(rng, 1000, 2)
	var progress syncBuffer
	idx := newBrute(base, MetricL2)
	idx.onAdd = func(from, to int) error {
		if to != base.N {
			return nil
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(progress.String(), "\rbuild:") {
			if time.Now().After(deadline) {
				return errors.New("no progress redraw within 10s")
			}
			runtime.Gosched()
		}
		return nil
	}
	_, err := Run(context.Background(), idx, base, randomMatrix(rng, 5, 2), nil,
		Config{K: 1, Efs: []int{1}, Metric: MetricL2, ChunkRows: 100, Threads: 1, Progress: &progress, ProgressInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	out := progress.String()
	buildPart := out[strings.Index(out, "\rbuild:"):]
	buildPart = buildPart[:strings.Index(buildPart, "\n")+1]
	lines := strings.Split(strings.TrimSuffix(buildPart, "\n"), "\r")[1:]
	if len(lines) < 2 {
		t.Fatalf("want a redraw and a final line, got %q", buildPart)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "build: 1000/1000 vectors (100.0%)") {
		t.Fatalf("final line %q", last)
	}
	if first := lines[0]; !strings.HasPrefix(first, "build: 900/1000 vectors (90.0%)") {
		t.Fatalf("redraw %q, want 900 rows done while the last chunk waits", first)
	}
	for _, l := range lines[1:] {
		if len(l) < len(lines[0]) {
			t.Fatalf("line %q shorter than an earlier one: leftovers would show", l)
		}
	}
}

func TestWriteJSONFieldNames(t *testing.T) {
	rep := Report{
		Setup:   Setup{K: 10, M: 16, EfConstruction: 200, N: 1000, Dim: 8, Queries: 100, Metric: "l2", BuildS: 1.5, BuildThreads: 2, MemBytes: 12345},
		Results: []Result{{Ef: 10, Recall: 0.9, QPS: 1000, P50us: 5, P99us: 9}, {Ef: 20, Recall: 0.95, QPS: 800, P50us: 6, P99us: 11}},
		Exact:   ExactResult{Queries: 100, Recall: 1, QPS: 50, P50us: 20, P99us: 25},
	}
	for i := range rep.Results {
		rep.Results[i].Setup = rep.Setup
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	efKeys := []string{"build_s", "build_threads", "dim", "ef", "ef_construction", "k", "m", "mem_bytes", "metric", "n", "p50_us", "p99_us", "qps", "queries", "recall"}
	for i, line := range lines[:2] {
		obj := map[string]any{}
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatal(err)
		}
		if got := sortedKeys(obj); !slices.Equal(got, efKeys) {
			t.Fatalf("line %d keys %v, want %v", i, got, efKeys)
		}
		if obj["ef"] != float64(rep.Results[i].Ef) || obj["recall"] != rep.Results[i].Recall || obj["p99_us"] != rep.Results[i].P99us ||
			obj["build_s"] != 1.5 || obj["build_threads"] != 2.0 || obj["mem_bytes"] != 12345.0 {
			t.Fatalf("line %d values: %s", i, line)
		}
	}
	obj := map[string]any{}
	if err := json.Unmarshal([]byte(lines[2]), &obj); err != nil {
		t.Fatal(err)
	}
	exactKeys := []string{"dim", "exact", "k", "metric", "n", "p50_us", "p99_us", "qps", "queries", "recall"}
	if got := sortedKeys(obj); !slices.Equal(got, exactKeys) || obj["exact"] != true || obj["qps"] != 50.0 || obj["recall"] != 1.0 {
		t.Fatalf("exact line %s", lines[2])
	}
	// No exact measurement, no exact line.
	rep.Exact = ExactResult{}
	buf.Reset()
	if err := WriteJSON(&buf, rep); err != nil || strings.Count(buf.String(), "\n") != 2 {
		t.Fatalf("without exact: %q err %v", buf.String(), err)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestWriteTable(t *testing.T) {
	rep := Report{
		Setup:   Setup{K: 10, M: 16, EfConstruction: 200, N: 1000, Dim: 8, Queries: 100, Metric: "cosine", BuildS: 1.5, BuildThreads: 2, MemBytes: 3 << 20},
		Results: []Result{{Ef: 10, Recall: 0.9, QPS: 123456.7, P50us: 5, P99us: 9}, {Ef: 400, Recall: 0.99999, QPS: 80, P50us: 1234.5, P99us: 11}},
		Exact:   ExactResult{Queries: 100, Recall: 1, QPS: 50, P50us: 20, P99us: 25},
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	if want := "n=1000 dim=8 queries=100 metric=cosine k=10 M=16 efConstruction=200 build=1.50s threads=2 mem=3.0MiB"; lines[0] != want {
		t.Errorf("summary %q, want %q", lines[0], want)
	}
	for _, l := range lines[2:] {
		if len(l) != len(lines[1]) {
			t.Errorf("table not aligned:\n%s", buf.String())
			break
		}
	}
	for i, want := range [][]string{
		{"ef", "recall", "qps", "p50_us", "p99_us"},
		{"10", "0.9000", "123456.7", "5.0", "9.0"},
		{"400", "1.0000", "80.0", "1234.5", "11.0"},
		{"exact", "1.0000", "50.0", "20.0", "25.0"},
	} {
		if got := strings.Fields(lines[i+1]); !slices.Equal(got, want) {
			t.Errorf("row %d = %v, want %v", i, got, want)
		}
	}
}

func TestRunErrorsPropagate(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	base := randomMatrix(rng, 500, 4)
	queries := randomMatrix(rng, 20, 4)
	cfg := Config{K: 5, Efs: []int{10, 20}, Threads: 3, Metric: MetricL2, ChunkRows: 50, WarmupQueries: 5}

	t.Run("add", func(t *testing.T) {
		idx := newBrute(base, MetricL2)
		idx.onAdd = func(from, to int) error {
			if from == 250 {
				return errAdd
			}
			return nil
		}
		var progress syncBuffer
		c := cfg
		c.Progress = &progress
		rep, err := Run(context.Background(), idx, base, queries, nil, c)
		if !errors.Is(err, errAdd) || !strings.Contains(err.Error(), "add rows [250, 300)") {
			t.Fatalf("err = %v", err)
		}
		if len(rep.Results) != 0 || idx.calls.Load() != 0 {
			t.Fatal("searched after a failed build")
		}
		if out := progress.String(); !strings.HasSuffix(out, "\n") {
			t.Fatalf("progress line left open after failure: %q", out)
		}
	})
	t.Run("warm-up search", func(t *testing.T) {
		idx := newBrute(base, MetricL2)
		idx.failSearchCall = 3
		if _, err := Run(context.Background(), idx, base, queries, nil, cfg); !errors.Is(err, errSearch) || !strings.Contains(err.Error(), "warm-up search ef=10 query 2") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("sweep search", func(t *testing.T) {
		idx := newBrute(base, MetricL2)
		idx.failSearchCall = 5 + 20 + 7 // second ef, query 6
		rep, err := Run(context.Background(), idx, base, queries, nil, cfg)
		if !errors.Is(err, errSearch) || !strings.Contains(err.Error(), "search ef=20: query 6") {
			t.Fatalf("err = %v", err)
		}
		if len(rep.Results) != 1 || rep.Results[0].Ef != 10 {
			t.Fatalf("partial report %+v, want the ef=10 result", rep.Results)
		}
	})
	t.Run("exact search", func(t *testing.T) {
		idx := newBrute(base, MetricL2)
		idx.failExact = true
		if _, err := Run(context.Background(), idx, base, queries, nil, cfg); !errors.Is(err, errExact) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("id out of range", func(t *testing.T) {
		idx := newBrute(base, MetricL2)
		idx.badID = true
		if _, err := Run(context.Background(), idx, base, queries, nil, cfg); err == nil || !strings.Contains(err.Error(), "id 500 is not a row index") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		idx := newBrute(base, MetricL2)
		idx.onAdd = func(from, to int) error {
			cancel()
			return nil
		}
		gt, err := dataset.GroundTruth(context.Background(), base, queries, 5, dataset.SquaredL2, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Run(ctx, idx, base, queries, gt, cfg); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRunRejectsBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	base := randomMatrix(rng, 50, 4)
	queries := randomMatrix(rng, 5, 4)
	ok := Config{K: 5, Efs: []int{10}, Metric: MetricL2}
	shortGT := [][]int32{{1, 2, 3, 4, 5}, {1, 2, 3}, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5}}
	cases := []struct {
		name    string
		base    dataset.Matrix
		queries dataset.Matrix
		gt      [][]int32
		mod     func(*Config)
		want    string
	}{
		{"k", base, queries, nil, func(c *Config) { c.K = 0 }, "K = 0"},
		{"no efs", base, queries, nil, func(c *Config) { c.Efs = nil }, "no ef values"},
		{"bad ef", base, queries, nil, func(c *Config) { c.Efs = []int{10, 0} }, "ef 0"},
		{"metric", base, queries, nil, func(c *Config) { c.Metric = "hamming" }, `unknown metric "hamming"`},
		{"dims", base, randomMatrix(rng, 5, 3), nil, nil, "base dim 4 != query dim 3"},
		{"empty base", dataset.Matrix{Dim: 4}, queries, nil, nil, "need base and query rows"},
		{"ragged base", dataset.Matrix{N: 3, Dim: 4, Data: make([]float32, 5)}, queries, nil, nil, "base:"},
		{"gt rows", base, queries, shortGT[:3], nil, "ground truth has 3 rows for 5 queries"},
		{"gt ids", base, queries, shortGT, nil, "ground truth row 1 has 3 ids"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			if tc.mod != nil {
				tc.mod(&c)
			}
			idx := newBrute(base, MetricL2)
			_, err := Run(context.Background(), idx, tc.base, tc.queries, tc.gt, c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Run(context.Background(), nil, base, queries, nil, ok); err == nil {
		t.Fatal("accepted a nil index")
	}
}

func TestPercentile(t *testing.T) {
	d := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x)
		}
		return out
	}
	for _, tc := range []struct {
		vals []time.Duration
		p    int
		want time.Duration
	}{
		{d(7), 50, 7}, {d(7), 99, 7},
		{d(1, 2), 50, 1}, {d(1, 2), 99, 2},
		{d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 50, 5}, {d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10},
	} {
		if got := percentile(tc.vals, tc.p); got != tc.want {
			t.Errorf("p%d of %v = %v, want %v", tc.p, tc.vals, got, tc.want)
		}
	}
}
