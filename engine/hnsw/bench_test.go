package hnsw

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

const benchDim = 128

var benchVecs = sync.OnceValue(func() [][]float32 { return clustered(91, 20000, benchDim, 50) })

// BenchmarkAdd inserts b.N vectors into an empty graph with 1 and 2
// goroutines. Compare the two at the same fixed count to see how the build
// scales, e.g.  go test -run - -bench Add -benchtime 10000x ./engine/hnsw
func BenchmarkAdd(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			vecs := benchVecs()
			g := mustNew(b, Config{Dim: benchDim, Metric: distance.L2, M: 16, EfConstruction: 200, Seed: 1})
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if _, err := g.Add(vecs[i%int64(len(vecs))]); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

var benchGraph = sync.OnceValues(func() (*Graph, error) {
	g, err := New(Config{Dim: benchDim, Metric: distance.L2, M: 16, EfConstruction: 200, Seed: 1})
	if err != nil {
		return nil, err
	}
	for _, v := range benchVecs() {
		if _, err := g.Add(v); err != nil {
			return nil, err
		}
	}
	return g, nil
})

// BenchmarkSearch measures k=10 queries on a 20000 x 128-d graph.
func BenchmarkSearch(b *testing.B) {
	g, err := benchGraph()
	if err != nil {
		b.Fatal(err)
	}
	queries := clustered(92, 1000, benchDim, 50)
	for _, ef := range []int{16, 64} {
		b.Run(fmt.Sprintf("ef=%d", ef), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				g.Search(queries[i%len(queries)], 10, ef, nil)
				i++
			}
		})
	}
}
