package engine

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

// BenchmarkMemoryPerVector measures the memory a durable collection holds
// per vector, for the capacity planning of docs/operations.md: it loads
// AKIDB_BENCH_MEMORY_N (default 100,000) random vectors of each dimension
// (ids of up to 6 bytes, no metadata, HNSW m=16), waits until they are
// linked and checkpointed, and reports the live Go heap and the resident
// set added by the collection, per million vectors. Run it with
// -benchtime 1x: one load per dimension. AKIDB_BENCH_MEMORY_DIMS lists the
// dimensions (default 128,384,768,1536); AKIDB_BENCH_MEMORY_QUANT makes the
// collection int8 ("int8": originals in memory, "int8-disk": on disk,
// docs/quantization.md), measured once its quantization is ready.
func BenchmarkMemoryPerVector(b *testing.B) {
	n := envInt("AKIDB_BENCH_MEMORY_N", 100000)
	dims := []int{128, 384, 768, 1536}
	if s := os.Getenv("AKIDB_BENCH_MEMORY_DIMS"); s != "" {
		dims = dims[:0]
		for _, f := range strings.Split(s, ",") {
			d, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || d < 1 || d > MaxDimension {
				b.Fatalf("AKIDB_BENCH_MEMORY_DIMS: %q is not a dimension", f)
			}
			dims = append(dims, d)
		}
	}
	var q Quantization
	switch s := os.Getenv("AKIDB_BENCH_MEMORY_QUANT"); s {
	case "", "none":
	case "int8":
		q = Quantization{Type: QuantInt8}
	case "int8-disk":
		q = Quantization{Type: QuantInt8, Originals: OriginalsDisk}
	default:
		b.Fatalf("AKIDB_BENCH_MEMORY_QUANT %q: want none, int8 or int8-disk", s)
	}
	for _, dim := range dims {
		b.Run(fmt.Sprintf("dim=%d", dim), func(b *testing.B) {
			for range b.N {
				heap, rss := memoryOfLoad(b, n, dim, q)
				perMillion := 1e6 / float64(n) / (1 << 20)
				b.ReportMetric(float64(heap)*perMillion, "heap-MiB/1M-vectors")
				b.ReportMetric(float64(rss)*perMillion, "rss-MiB/1M-vectors")
				b.ReportMetric(float64(heap)/float64(n)/float64(4*dim), "heap/raw-bytes")
			}
		})
	}
}

func memoryOfLoad(b *testing.B, n, dim int, q Quantization) (heap, rss int64) {
	b.Helper()
	heap0, rss0 := settledMemory()
	db, err := Open(b.TempDir(), Config{CheckpointRecords: -1, CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "m", Dimension: dim, Metric: distance.L2, Quantization: q}); err != nil {
		b.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "m")
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < 2; w++ {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(dim), uint64(w)))
			for {
				s := int(next.Add(500)) - 500
				if s >= n {
					return
				}
				batch := make([]Record, 0, 500)
				for i := s; i < min(s+500, n); i++ {
					v := make([]float32, dim)
					for j := range v {
						v[j] = float32(rng.NormFloat64())
					}
					batch = append(batch, Record{ID: strconv.Itoa(i), Vector: v})
				}
				if err := h.Upsert(bg, batch); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	h.c.waitLinked()
	if err := h.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	if q.Type == QuantInt8 {
		// The checkpoint retrained on the whole load; wait for the
		// encoding (and the move to disk), then checkpoint again.
		if st := h.WaitQuantization(); st.State != QuantStateReady {
			b.Fatalf("quantization %+v", st)
		}
		if err := h.Checkpoint(); err != nil {
			b.Fatal(err)
		}
	}
	heap1, rss1 := settledMemory()
	if got := h.Count(); got != n {
		b.Fatalf("count %d, want %d", got, n)
	}
	return heap1 - heap0, rss1 - rss0
}

// settledMemory collects garbage, returns freed pages to the system and
// reads the live heap and the resident set size.
func settledMemory() (heap, rss int64) {
	runtime.GC()
	debug.FreeOSMemory()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	heap = int64(s[0].Value.Uint64())
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				rss = kb << 10
			}
		}
	}
	return heap, rss
}
