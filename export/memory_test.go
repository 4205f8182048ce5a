package export

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

// genSource makes count records of dim values on the fly, so that the
// only memory an export holds is the writer's own. Every probeEvery
// records it calls probe.
type genSource struct {
	dim, count, probeEvery int
	probe                  func()
}

func (g genSource) Info() engine.ViewInfo {
	return engine.ViewInfo{Name: "gen", Dimension: g.dim, Metric: distance.L2, Seq: 1, Count: g.count}
}

func (g genSource) Each(fn func(engine.Record) error) error {
	v := make([]float32, g.dim) // reused, as a view does
	for n := range g.count {
		if g.probe != nil && n%g.probeEvery == 0 {
			g.probe()
		}
		for j := range v {
			v[j] = float32(n*g.dim + j)
		}
		if err := fn(engine.Record{ID: fmt.Sprintf("gen-%08d", n), Vector: v, Metadata: map[string]any{"n": float64(n), "tag": "abcdefgh"}}); err != nil {
			return err
		}
	}
	return nil
}

// liveHeap is the heap still reachable after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// The writer holds about one row group, however large the collection:
// 40 MiB of records through 1 MiB row groups never keep more than a small
// multiple of a row group reachable.
func TestWriteParquetMemoryIsBoundedByARowGroup(t *testing.T) {
	const dim, count, groupBytes = 256, 40_000, 1 << 20 // 40k x 1 KiB vectors
	base := liveHeap()
	var peak uint64
	src := genSource{dim: dim, count: count, probeEvery: 2000, probe: func() {
		if h := liveHeap(); h > peak {
			peak = h
		}
	}}
	sum, err := WriteParquet(context.Background(), io.Discard, src, Options{RowGroupBytes: groupBytes})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != count || sum.RowGroups < 30 {
		t.Fatalf("summary %+v", sum)
	}
	held := int64(peak) - int64(base)
	t.Logf("raw records %d MiB, row groups of %d MiB, peak live heap above baseline %.1f MiB", count*dim*4>>20, groupBytes>>20, float64(held)/(1<<20))
	if held > 8*groupBytes {
		t.Fatalf("the writer kept %d bytes reachable, more than 8 row groups (%d): it does not stream", held, 8*groupBytes)
	}
}
