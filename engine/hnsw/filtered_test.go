package hnsw

import (
	"math"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/quant"
)

// filteredRecall runs SearchFiltered for every query and checks each answer
// (admitted, ascending, k of them when k are admitted); it returns the mean
// recall@k and the plans.
func filteredRecall(t *testing.T, g *Graph, data, queries [][]float32, k, ef int, o FilterOptions) (float64, []FilterPlan) {
	t.Helper()
	m := g.Config().Metric
	keep := func(id uint32) bool { return !g.IsDeleted(id) && o.Allow(id) }
	total := 0.0
	var plans []FilterPlan
	for _, q := range queries {
		got, plan, err := g.SearchFiltered(q, k, ef, o)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, plan)
		for i, n := range got {
			if !keep(n.ID) || i > 0 && got[i-1].Dist > n.Dist {
				t.Fatalf("bad result %v (plan %+v)", got, plan)
			}
		}
		want := bruteForce(m, data, q, k, keep)
		if len(got) < len(want) && o.Seeds != nil {
			t.Fatalf("%d results, %d admitted nearest exist (plan %+v)", len(got), len(want), plan)
		}
		total += recallOf(got, want)
	}
	return total / float64(len(queries)), plans
}

// FilterAuto runs the two-hop search where admitted nodes are sparse around
// the entry point and the admitting search where they are dense, and
// either way finds the admitted nearest neighbours.
func TestSearchFilteredChoosesByDensity(t *testing.T) {
	g, data := l2Graph(t)
	queries := clustered(24, 80, 32, 40)
	for _, tc := range []struct {
		name   string
		mod    uint64
		twoHop [2]int // least and most queries expected to run two-hop
	}{
		{"90%", 10, [2]int{0, 0}},  // every node but one in ten
		{"50%", 2, [2]int{0, 8}},   // dense everywhere
		{"5%", 20, [2]int{50, 80}}, // sparse nearly everywhere
		{"10%", 10, [2]int{0, 80}}, // either, by the draw
	} {
		t.Run(tc.name, func(t *testing.T) {
			allow := func(id uint32) bool { return splitmix64(uint64(id))%tc.mod == 0 }
			if tc.name == "90%" {
				allow = func(id uint32) bool { return splitmix64(uint64(id))%tc.mod != 0 }
			}
			admitted := 0
			for id := range data {
				if allow(uint32(id)) {
					admitted++
				}
			}
			sel := float64(admitted) / float64(len(data))
			seeds := func() []uint32 {
				var out []uint32
				for id := uint32(0); id < uint32(len(data)) && len(out) < 32; id += 7 {
					if allow(id) {
						out = append(out, id)
					}
				}
				return out
			}
			r, plans := filteredRecall(t, g, data, queries, 10, 64, FilterOptions{Allow: allow, Seeds: seeds, Selectivity: sel})
			twoHop := 0
			for _, p := range plans {
				if p.TwoHop {
					twoHop++
					if p.Density >= admitDensity || p.Ef != 64 {
						t.Fatalf("two-hop at density %.2f, ef %d", p.Density, p.Ef)
					}
				} else if p.Density < admitDensity || p.Ef != max(10, int(math.Ceil(64*max(p.Density, sel)))) {
					t.Fatalf("admitting search at density %.2f (selectivity %.2f) kept %d", p.Density, sel, p.Ef)
				}
			}
			t.Logf("%s admitted: recall@10 %.4f, %d of %d queries two-hop", tc.name, r, twoHop, len(plans))
			if twoHop < tc.twoHop[0] || twoHop > tc.twoHop[1] {
				t.Errorf("%d queries ran two-hop, want %d to %d", twoHop, tc.twoHop[0], tc.twoHop[1])
			}
			if r < 0.95 {
				t.Fatalf("recall %.4f < 0.95", r)
			}
		})
	}
}

// A correlated filter whose matches all lie in one region far from the
// queries: the two-hop search finds none near its entry point and goes on
// from the seeds, so it still returns k, close to the true nearest. Without
// seeds it may return fewer (callers then scan).
func TestSearchFilteredReseeds(t *testing.T) {
	g, data := l2Graph(t)
	near := make(map[uint32]bool)
	for _, n := range g.ExactSearch(data[0], len(data)/20, nil) {
		near[n.ID] = true
	}
	allow := func(id uint32) bool { return near[id] }
	var queries [][]float32
	for _, q := range clustered(25, 200, 32, 40) {
		// Only queries whose own neighbourhood holds no admitted node.
		if nb := g.Search(q, 1, 64, nil); len(nb) == 1 && !near[nb[0].ID] && len(queries) < 40 {
			queries = append(queries, q)
		}
	}
	seeds := func() []uint32 {
		var out []uint32
		for id := range near {
			if len(out) == 32 {
				break
			}
			out = append(out, id)
		}
		return out
	}
	r, plans := filteredRecall(t, g, data, queries, 10, 64, FilterOptions{Allow: allow, Mode: FilterTwoHop, Seeds: seeds})
	reseeded := 0
	for _, p := range plans {
		if !p.TwoHop {
			t.Fatalf("forced two-hop ran %+v", p)
		}
		if p.Reseeded {
			reseeded++
		}
	}
	t.Logf("correlated 5%%, %d queries away from it: recall@10 %.4f, %d reseeded", len(queries), r, reseeded)
	if reseeded == 0 {
		t.Error("no search went on from the seeds")
	}
	if r < 0.9 {
		t.Fatalf("recall %.4f < 0.9", r)
	}
	// The admitting search, forced, keeps k at least, whatever the density.
	_, plan, err := g.SearchFiltered(queries[0], 10, 64, FilterOptions{Allow: allow, Mode: FilterAdmit})
	if err != nil || plan.TwoHop || plan.Ef < 10 {
		t.Fatalf("forced admitting search: %+v %v", plan, err)
	}
}

// On a graph that traverses int8 codes with its originals in a store, both
// layer-0 searches of SearchFiltered measure codes and re-rank the best
// admitted candidates from the store: exact distances (filteredRecall
// checks the order; here each distance is checked against the vector),
// only admitted nodes, and the recall of the float graph within 0.03.
func TestSearchFilteredOnCodes(t *testing.T) {
	// Its own graph: l2Graph's is shared, and this one is quantized.
	data := clustered(21, 3000, 32, 40)
	g := build(t, recallCfg(), data)
	queries := clustered(25, 60, 32, 40)
	allow := func(id uint32) bool { return splitmix64(uint64(id))%5 == 0 }
	var before [2]float64
	for i, mode := range []FilterMode{FilterTwoHop, FilterAdmit} {
		before[i], _ = filteredRecall(t, g, data, queries, 10, 64, FilterOptions{Allow: allow, Mode: mode})
	}
	quantize(t, g, train(t, data, g.Config().Metric, quant.RangesCollection))
	o := &memOriginals{dim: 32}
	toDisk(t, g, o)
	for i, mode := range []FilterMode{FilterTwoHop, FilterAdmit} {
		reads := o.reads.Load()
		after, _ := filteredRecall(t, g, data, queries, 10, 64, FilterOptions{Allow: allow, Mode: mode, Rerank: 32})
		t.Logf("mode %d: recall@10 float %.4f, codes %.4f", mode, before[i], after)
		if after < before[i]-0.03 {
			t.Fatalf("mode %d: recall %.4f on codes, %.4f on floats", mode, after, before[i])
		}
		if o.reads.Load() == reads {
			t.Fatalf("mode %d: no vector read from the store: no re-rank", mode)
		}
		got, _, err := g.SearchFiltered(queries[0], 10, 64, FilterOptions{Allow: allow, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range got {
			if d := distance.L2SquaredGeneric(queries[0], data[n.ID]); math.Abs(float64(d-n.Dist)) > 1e-3*(1+float64(d)) {
				t.Fatalf("mode %d: node %d at %v, its exact distance is %v", mode, n.ID, n.Dist, d)
			}
		}
	}
}
