package hnsw

import (
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/quant"
)

// unreachable returns the ids of data whose own vector a graph search at
// ef does not find (at distance 0).
func unreachable(g *Graph, data [][]float32, ef int) []uint32 {
	var lost []uint32
	for id, v := range data {
		got := g.Search(v, 1, ef, nil)
		if len(got) == 0 || got[0].Dist > 1e-4 {
			lost = append(lost, uint32(id))
		}
	}
	return lost
}

// driftData is 1,500 clustered vectors and 2,500 more far outside their
// ranges (every value clamped by a quantizer trained on the first).
func driftData(dim int) (old, drifted [][]float32) {
	old = clustered(51, 1500, dim, 8)
	drifted = clustered(52, 2500, dim, 8)
	for _, v := range drifted {
		for j := range v {
			v[j] = v[j]*3 + 10
		}
	}
	return old, drifted
}

// TestDriftWithOriginalsOnDiskKeepsTheGraphConnected: a graph whose
// originals are on disk, trained on one set of clusters, takes a second
// set far outside the trained ranges, whose codes are then all alike.
// Once retrained on everything, every vector is found by a graph search
// for itself, as in a float32 graph of the same data. (Linked on their
// clamped codes, the new nodes named one another at random and pruned
// the rest: 2,442 of the 2,500 were unreachable.)
func TestDriftWithOriginalsOnDiskKeepsTheGraphConnected(t *testing.T) {
	const dim, ef = 16, 128
	cfg := Config{Dim: dim, Metric: distance.L2, M: 8, EfConstruction: 64, Seed: 9}
	old, drifted := driftData(dim)
	all := append(append([][]float32{}, old...), drifted...)
	ref := len(unreachable(build(t, cfg, all), all, ef))
	for _, r := range []quant.Ranges{quant.RangesCollection, quant.RangesDimension} {
		t.Run(r.String(), func(t *testing.T) {
			g := build(t, cfg, old)
			quantize(t, g, train(t, old, distance.L2, r))
			toDisk(t, g, &memOriginals{dim: dim})
			for _, v := range drifted {
				if _, err := g.Add(v); err != nil {
					t.Fatal(err)
				}
			}
			quantize(t, g, train(t, all, distance.L2, r))
			lost := unreachable(g, all, ef)
			t.Logf("not found by a graph search for themselves: %d of %d (float32 graph: %d)", len(lost), len(all), ref)
			if len(lost) > ref+2 {
				t.Fatalf("%d of %d vectors not found by a graph search for themselves (float32 graph of the same data: %d), first %v",
					len(lost), len(all), ref, lost[:min(5, len(lost))])
			}
			checkInvariants(t, g)
		})
	}
}

// TestClampedInsertWhenTheStoreFails: an insert that would walk on the
// originals links on codes when the store cannot be read; the graph stays
// valid and the node is linked.
func TestClampedInsertWhenTheStoreFails(t *testing.T) {
	const dim = 16
	old, drifted := driftData(dim)
	g := build(t, Config{Dim: dim, Metric: distance.L2, M: 8, EfConstruction: 64, Seed: 9}, old)
	quantize(t, g, train(t, old, distance.L2, quant.RangesCollection))
	o := &memOriginals{dim: dim}
	toDisk(t, g, o)
	var ids []uint32
	for _, v := range drifted[:300] {
		id, err := g.Reserve(v)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	o.fail.Store(true)
	for _, id := range ids {
		g.Link(id)
	}
	o.fail.Store(false)
	checkInvariants(t, g)
	tab := g.table.Load().chunks
	for _, id := range ids {
		if g.linkList(tab, id, 0)[0] == 0 {
			t.Fatalf("node %d has no links", id)
		}
	}
}
