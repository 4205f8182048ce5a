package hnsw

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

// blobs returns n vectors around `clusters` isotropic Gaussian centres
// (centres of scale 3, spread 1 on every axis): data of a high intrinsic
// dimension, on which the heuristic prunes hardest.
func blobs(seed uint64, n, dim, clusters int) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 0xb10b))
	centres := make([][]float32, clusters)
	for i := range centres {
		centres[i] = make([]float32, dim)
		for j := range centres[i] {
			centres[i][j] = float32(rng.NormFloat64() * 3)
		}
	}
	out := make([][]float32, n)
	for i := range out {
		c := centres[rng.IntN(clusters)]
		v := make([]float32, dim)
		for j := range v {
			v[j] = c[j] + float32(rng.NormFloat64())
		}
		out[i] = v
	}
	return out
}

// linkBatches reserves data in batches and links each batch with workers
// goroutines, as the engine's writers do.
func linkBatches(t testing.TB, g *Graph, data [][]float32, batch, workers int) {
	t.Helper()
	for s := 0; s < len(data); s += batch {
		var ids []uint32
		for _, v := range data[s:min(s+batch, len(data))] {
			id, err := g.Reserve(v)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		var wg sync.WaitGroup
		next := make(chan uint32, len(ids))
		for _, id := range ids {
			next <- id
		}
		close(next)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range next {
					g.Link(id)
				}
			}()
		}
		wg.Wait()
	}
}

// TestConcurrentBatchesKeepEveryNodeReachable: a graph built in batches
// linked by two goroutines each, with an encode and decode between the
// first 2,500 vectors and the next 3,000 (as a durable collection's
// restart), on clustered data of a high intrinsic dimension, leaves no
// node a walk from the entry point misses, and a search for a node's own
// vector at ef 500 misses at most one in a thousand (HNSW promises no
// more; with the links written top down, a run in 20 missed one).
func TestConcurrentBatchesKeepEveryNodeReachable(t *testing.T) {
	const dim = 24
	seeds := uint64(3)
	if raceEnabled {
		seeds = 1
	}
	for seed := range seeds {
		data := blobs(seed, 5500, dim, 16)
		g := mustNew(t, Config{Dim: dim, Metric: distance.L2, Seed: int64(seed)})
		linkBatches(t, g, data[:2500], 250, 2)
		g = checkInvariants(t, g)
		linkBatches(t, g, data[2500:], 50, 2)
		if ids, indeg := g.Unreached(); len(ids) > 0 {
			t.Errorf("seed %d: %d of %d nodes unreached from the entry point: %v (named by %v lists)", seed, len(ids), len(data), ids[:min(10, len(ids))], indeg[:min(10, len(indeg))])
		}
		if lost := unreachable(g, data, 500); len(lost) > len(data)/1000 {
			t.Errorf("seed %d: %d of %d vectors not found by a search for themselves at ef 500: %v", seed, len(lost), len(data), lost[:min(10, len(lost))])
		}
	}
}

// TestUnreached: a node that no list names is reported, with in-degree 0.
func TestUnreached(t *testing.T) {
	data := clustered(71, 300, 8, 4)
	g := build(t, Config{Dim: 8, Metric: distance.L2, M: 8, EfConstruction: 32, Seed: 1}, data)
	if ids, _ := g.Unreached(); len(ids) != 0 {
		t.Fatalf("fresh graph: unreached %v", ids)
	}
	// Cut node x out of every layer-0 list.
	tab := g.table.Load().chunks
	ep, _ := unpackEntry(g.entry.Load())
	x := uint32(7)
	if x == ep {
		x = 8
	}
	for id := range uint32(len(data)) {
		list := g.linkList(tab, id, 0)
		kept := list[1:1]
		for _, y := range list[1 : 1+int(list[0])] {
			if y != x {
				kept = append(kept, y)
			}
		}
		list[0] = uint32(len(kept))
	}
	ids, indeg := g.Unreached()
	if len(ids) != 1 || ids[0] != x || indeg[0] != 0 {
		t.Fatalf("unreached %v with in-degrees %v, want [%d] with [0]", ids, indeg, x)
	}
}
