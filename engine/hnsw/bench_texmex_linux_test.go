package hnsw

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/quant"
)

// BenchmarkSearchTexmex measures searches alone (no build) on a texmex
// data set such as MNIST (`../shared/peer/run.sh prepare-mnist DIR`): set
// AKIDB_BENCH_TEXMEX=DIR (base.fvecs, query.fvecs, gt.ivecs). The graph
// (M 16, ef_construction 200) is built once and cached as DIR/akidb-m16-efc200.graph.
// It reports ns/op per query and the recall@10 it reached, for float32 and
// for int8 (collection ranges, the re-rank at its default ef):
//
//	AKIDB_BENCH_TEXMEX=/tmp/mnist go test -run - -bench SearchTexmex -benchtime 5000x ./engine/hnsw
func BenchmarkSearchTexmex(b *testing.B) {
	dir := os.Getenv("AKIDB_BENCH_TEXMEX")
	if dir == "" {
		b.Skip("set AKIDB_BENCH_TEXMEX to a directory with base.fvecs, query.fvecs and gt.ivecs")
	}
	base, err := readVecs(filepath.Join(dir, "base.fvecs"))
	if err != nil {
		b.Fatal(err)
	}
	queries, err := readVecs(filepath.Join(dir, "query.fvecs"))
	if err != nil {
		b.Fatal(err)
	}
	gt, err := readIvecs(filepath.Join(dir, "gt.ivecs"))
	if err != nil {
		b.Fatal(err)
	}
	g := texmexGraph(b, dir, base)
	const k = 10
	run := func(b *testing.B, ef int) {
		b.ReportAllocs()
		// The thread's CPU time per query too: less sensitive than the
		// wall time to the other jobs of a shared machine.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cpu0 := threadCPU(b)
		i, hits, asked := 0, 0, 0
		for b.Loop() {
			qi := i % len(queries)
			res, err := g.SearchWith(queries[qi], k, ef, SearchOptions{})
			if err != nil {
				b.Fatal(err)
			}
			want := map[int32]bool{}
			for _, id := range gt[qi][:k] {
				want[id] = true
			}
			for _, n := range res {
				if want[int32(n.ID)] {
					hits++
				}
			}
			asked += k
			i++
		}
		b.ReportMetric(float64(threadCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(hits)/float64(asked), "recall")
	}
	for _, ef := range []int{16, 64} {
		b.Run(fmt.Sprintf("float32/ef=%d", ef), func(b *testing.B) { run(b, ef) })
	}
	quantize(b, g, train(b, base, distance.L2, quant.RangesCollection))
	for _, ef := range []int{16, 64} {
		b.Run(fmt.Sprintf("int8/ef=%d", ef), func(b *testing.B) { run(b, ef) })
	}
	if err := g.DropCodes(); err != nil {
		b.Fatal(err)
	}
}

// threadCPU is the calling thread's CPU time in ns.
func threadCPU(b *testing.B) int64 {
	var ts syscall.Timespec
	// CLOCK_THREAD_CPUTIME_ID
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		b.Fatal(e)
	}
	return ts.Nano()
}

var texmexCache sync.Map // dir -> *Graph

func texmexGraph(b *testing.B, dir string, base [][]float32) *Graph {
	if g, ok := texmexCache.Load(dir); ok {
		return g.(*Graph)
	}
	path := filepath.Join(dir, "akidb-m16-efc200.graph")
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		g, err := Decode(bufio.NewReader(f))
		if err != nil {
			b.Fatalf("decode %s: %v", path, err)
		}
		texmexCache.Store(dir, g)
		return g
	}
	g := mustNew(b, Config{Dim: len(base[0]), Metric: distance.L2, M: 16, EfConstruction: 200, Seed: 1})
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(base)) {
					return
				}
				if _, err := g.Add(base[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := g.Encode(w); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	texmexCache.Store(dir, g)
	return g
}

// readVecs reads an .fvecs file.
func readVecs(path string) ([][]float32, error) {
	rows, err := readRows(path)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(rows))
	for i, r := range rows {
		v := make([]float32, len(r))
		for j, w := range r {
			v[j] = math.Float32frombits(uint32(w))
		}
		out[i] = v
	}
	return out, nil
}

// readIvecs reads an .ivecs file.
func readIvecs(path string) ([][]int32, error) { return readRows(path) }

func readRows(path string) ([][]int32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var out [][]int32
	for {
		var d int32
		if err := binary.Read(r, binary.LittleEndian, &d); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		row := make([]int32, d)
		if err := binary.Read(r, binary.LittleEndian, row); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, row)
	}
}
