package hnsw

import (
	"math"
	"math/rand/v2"
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
		{"10%", 10, [2]int{0, 80}}, // either: this graph's clusters of ~125 nodes give small samples (see TestSearchFilteredUniformVersusClustered)
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
				decide := p.Density
				if p.Uniform {
					decide = sel
				}
				if p.TwoHop {
					twoHop++
					if decide >= admitDensity || p.Ef != 64 {
						t.Fatalf("two-hop at density %.2f (selectivity %.2f, uniform %v), ef %d", p.Density, sel, p.Uniform, p.Ef)
					}
				} else if decide < admitDensity || p.Ef != max(10, int(math.Ceil(64*max(p.Density, sel)))) {
					t.Fatalf("admitting search at density %.2f (selectivity %.2f, uniform %v) kept %d", p.Density, sel, p.Uniform, p.Ef)
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

// The choice between the two layer-0 searches on matches spread uniformly
// against matches that fill whole clusters, at 10% and 50% of the nodes: a
// uniform filter runs the admitting search for every query (the estimate
// from the entry point's own 32 neighbours sent about half of them to the
// two-hop search at 10%), a clustered one the admitting search for the
// queries in its clusters and the two-hop search for the others. Either
// way the answers are the admitted nearest, k of them.
func TestSearchFilteredUniformVersusClustered(t *testing.T) {
	const dim, n = 16, 6000
	rng := rand.New(rand.NewPCG(31, 7))
	point := func(centre []float32, spread float64) []float32 {
		v := make([]float32, dim)
		for j := range v {
			v[j] = centre[j] + float32(rng.NormFloat64()*spread)
		}
		return v
	}
	origin := make([]float32, dim)
	cfg := recallCfg()
	cfg.Dim = dim

	// Uniform: one cloud, the filter a hash of the id.
	uniform := make([][]float32, n)
	for i := range uniform {
		uniform[i] = point(origin, 1)
	}
	ug := build(t, cfg, uniform)
	var uq [][]float32
	for range 40 {
		uq = append(uq, point(origin, 1))
	}
	// Clustered: 10 clusters far apart, node i in cluster i%10; the filter
	// takes whole clusters.
	const clusters = 10
	centres := make([][]float32, clusters)
	for c := range centres {
		centres[c] = point(origin, 20)
	}
	clustered := make([][]float32, n)
	for i := range clustered {
		clustered[i] = point(centres[i%clusters], 1)
	}
	cg := build(t, cfg, clustered)

	for _, share := range []int{10, 50} {
		takes := clusters * share / 100 // clusters 0..takes-1
		var inside, outside [][]float32
		for i := range 40 * clusters {
			c := i % clusters
			switch {
			case c < takes && len(inside) < 40:
				inside = append(inside, point(centres[c], 1))
			case c >= takes && len(outside) < 40:
				outside = append(outside, point(centres[c], 1))
			}
		}
		for _, tc := range []struct {
			name    string
			g       *Graph
			data    [][]float32
			allow   func(uint32) bool
			queries [][]float32
			twoHop  bool
		}{
			{"uniform", ug, uniform, func(id uint32) bool { return splitmix64(uint64(id))%100 < uint64(share) }, uq, false},
			{"clustered, queries in its clusters", cg, clustered, func(id uint32) bool { return int(id%clusters) < takes }, inside, false},
			{"clustered, queries elsewhere", cg, clustered, func(id uint32) bool { return int(id%clusters) < takes }, outside, true},
		} {
			seeds := func() []uint32 {
				var out []uint32
				for id := uint32(0); id < n && len(out) < 32; id += 7 {
					if tc.allow(id) {
						out = append(out, id)
					}
				}
				return out
			}
			r, plans := filteredRecall(t, tc.g, tc.data, tc.queries, 10, 64, FilterOptions{Allow: tc.allow, Seeds: seeds, Selectivity: float64(share) / 100})
			other := 0
			for _, p := range plans {
				if p.TwoHop != tc.twoHop {
					other++
				}
			}
			t.Logf("%d%% %s: recall@10 %.4f, %d of %d queries off the expected plan (two-hop %v)", share, tc.name, r, other, len(plans), tc.twoHop)
			if other > len(plans)/20 {
				t.Errorf("%d%% %s: %d of %d queries did not run the expected plan (two-hop %v)", share, tc.name, other, len(plans), tc.twoHop)
			}
			if r < 0.95 {
				t.Errorf("%d%% %s: recall %.4f < 0.95", share, tc.name, r)
			}
		}
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
