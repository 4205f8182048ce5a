package hnsw

import (
	"math"
	"sync/atomic"
	"unsafe"
)

// SearchFiltered: one filtered search that picks its layer-0 loop by what
// it finds where it lands.
//
// After the descent through the upper layers, the layer-0 entry point is
// near the query. The fraction of admitted nodes among it and the nodes
// within two hops of it in layer 0 (the density, about a thousand nodes
// with M=16) says what the filter looks like there, which the filter's
// overall selectivity does not: a filter on a label matches 10% of the
// collection but all or none of a query's neighbourhood, while one on a
// uniformly drawn field matches about 10% everywhere.
//
// Where the density is within the noise of the filter's overall
// selectivity (Selectivity, from the caller's true count), the matches are
// taken to be spread evenly and the selectivity decides instead.
//
//   - Where matches are dense (at least admitDensity), the admitting search
//     (searchLayer with allow, hnswlib's) walks the graph as an unfiltered
//     search does and keeps only admitted nodes as results. Its result
//     list is cut to ef times the density (at least k, and at least ef
//     times the overall selectivity): an unfiltered search with ef would
//     hold about that many admitted nodes, so the two measure about as
//     many vectors, instead of the admitting search going on until ef
//     admitted nodes are found, which costs 1/density as much.
//   - Where they are sparse, the two-hop search (twohop.go) measures only
//     admitted nodes and reaches them through non-admitted ones. If its
//     frontier dies out before ef results (the query's region has no
//     admitted node within two hops of the entry point), it goes on from
//     seeds, admitted nodes the caller picks anywhere in the collection.

// admitDensity is the density of admitted nodes around the layer-0 entry
// point from which FilterAuto runs the admitting search. Measured on MNIST
// with k=10, ef=64 (docs/benchmarks.md), uniformly spread matches: at 5%
// the two-hop search is cheaper (the admitting search measures about k/5%
// = 200 nodes' worth of neighbourhood to find k), at 10% the admitting one
// is (the two-hop search measures a full batch of second-hop nodes per
// expansion). The switch-over sits between the two, so that neither
// selectivity sends queries both ways by the noise of the estimate (about
// 0.01 at 10% from a two-hop neighbourhood; it was 0.05 from the entry
// point's own neighbours, and with the switch-over at a tenth half of the
// queries of a uniform 10% filter went each way).
const admitDensity = 0.075

// uniformSigmas: a density within this many standard deviations of the
// overall selectivity (that of the share of seen nodes a filter admitting
// each node with that probability would admit) is taken for a filter whose
// matches are spread evenly, and the choice is made on the selectivity.
// Three keep all but about 0.3% of the queries of such a filter on one
// side of admitDensity; a clustered filter's density (near 0 or near 1
// around most queries) is tens of deviations away.
const uniformSigmas = 3

// uniformMinSeen is the fewest nodes the density must come from for the
// comparison with the selectivity: from fewer (a small graph, a region
// of a few dozen nodes) a clustered filter's empty neighbourhood is not
// told apart from a sparse uniform one.
const uniformMinSeen = 100

// FilterMode chooses SearchFiltered's layer-0 search.
type FilterMode int

const (
	// FilterAuto chooses by the density at the entry point.
	FilterAuto FilterMode = iota
	// FilterTwoHop always runs the two-hop search.
	FilterTwoHop
	// FilterAdmit always runs the admitting search.
	FilterAdmit
)

// FilterOptions are SearchFiltered's inputs besides the query.
type FilterOptions struct {
	// Allow says whether a node may be a result. It must be non-nil, cheap
	// (a bitset lookup: the two-hop search calls it for up to (2M)^2 nodes
	// per expansion), safe for concurrent use, and must not call back into
	// the graph.
	Allow func(id uint32) bool
	Mode  FilterMode
	// Seeds, if set, returns admitted nodes spread over the collection for
	// the two-hop search to go on from when its frontier dies out. It is
	// called at most once.
	Seeds func() []uint32
	// Stop is as for SearchUntil; nil never stops.
	Stop func() bool
	// Selectivity is the fraction of the collection Allow admits (0 if
	// unknown): the admitting search keeps at least ef times it, so that a
	// query at the edge of a region of matches, where few match around the
	// entry point, still looks far enough.
	Selectivity float64
	// Rerank is as for SearchWith: on a graph that traverses int8 codes
	// the best Rerank admitted candidates (0: ef; at least k) are measured
	// again with the float32 vectors; ef is raised to at least Rerank.
	Rerank int
}

// FilterPlan says what SearchFiltered did.
type FilterPlan struct {
	// TwoHop is true when the two-hop search ran, false for the admitting
	// search.
	TwoHop bool
	// Density is the fraction of admitted nodes among the layer-0 entry
	// point and the nodes within two hops of it.
	Density float64
	// Uniform: Density was within the noise of the overall selectivity,
	// so FilterAuto chose by the selectivity.
	Uniform bool
	// Ef is the length of the result list the layer-0 search kept.
	Ef int
	// Reseeded: the two-hop search went on from Seeds.
	Reseeded bool
}

// SearchFiltered returns up to k nearest admitted, non-deleted neighbours
// of q in ascending distance, and the plan it ran. ef is the beam width an
// unfiltered search would use (raised to at least k). Like SearchUntil it
// ends with ErrStopped or ErrInterrupted when it must stop.
//
// It may find fewer than k nodes when admitted nodes are few and far
// between; callers that must return k then scan the admitted nodes.
func (g *Graph) SearchFiltered(q []float32, k, ef int, o FilterOptions) ([]Neighbor, FilterPlan, error) {
	var plan FilterPlan
	if k <= 0 || len(q) != g.dim || o.Allow == nil {
		return nil, plan, nil
	}
	ef = max(ef, k)
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	e := g.entry.Load()
	if e == noEntry {
		return []Neighbor{}, plan, nil
	}
	// The walk measures codes on a graph that traverses them, and the best
	// rerank admitted candidates are measured again in float32 at the end
	// (finish), as in an unfiltered search.
	st, ef, rerank := g.rerankBudget(k, ef, o.Rerank)
	s := g.getScratch()
	defer g.putScratch(s)
	qq := &s.q
	tab, cur, curDist := g.descend(s, st, q, e)
	var seen int
	plan.Density, seen = g.density(s, tab, cur, o.Allow)
	// A density within the noise of the overall selectivity says that the
	// matches are spread evenly here: the selectivity, a true count over
	// the whole collection, is then the better estimate.
	decide := plan.Density
	if sel := o.Selectivity; sel > 0 && sel < 1 && seen >= uniformMinSeen &&
		math.Abs(plan.Density-sel) <= uniformSigmas*math.Sqrt(sel*(1-sel)/float64(seen)) {
		decide, plan.Uniform = sel, true
	}
	switch o.Mode {
	case FilterTwoHop:
		plan.TwoHop = true
	case FilterAuto:
		plan.TwoHop = decide < admitDensity
	}
	var err error
	if plan.TwoHop {
		plan.Ef = ef
		tab, plan.Reseeded, err = g.searchLayerTwoHop(s, tab, qq, cur, curDist, ef, o.Allow, o.Seeds, o.Stop)
	} else {
		plan.Ef = max(k, int(math.Ceil(float64(ef)*max(plan.Density, o.Selectivity))))
		tab, err = g.searchLayer(s, tab, qq, cur, curDist, 0, plan.Ef, o.Allow, true, noID, o.Stop)
	}
	if err != nil {
		return nil, plan, err
	}
	out, err := g.finish(s, st, tab, q, k, rerank)
	return out, plan, err
}

// density is the fraction of admitted nodes among id and the nodes within
// two hops of it in layer 0, each counted once: about a thousand nodes
// with M=16, read from 1+2M link lists (no vector), so that the estimate
// of a density near admitDensity varies by about a hundredth from one
// query to the next instead of the twentieth that id's own 2M neighbours
// give. Deleted nodes count as they are: the caller's allow usually
// excludes them already, and a few do not move the estimate.
// It returns the density and the number of nodes it looked at.
func (g *Graph) density(s *scratch, tab []*chunk, id uint32, allow func(uint32) bool) (float64, int) {
	limit := limitOf(tab)
	s.vis.reset(int(limit))
	stamps, epoch := s.vis.stamps[:limit], s.vis.epoch
	stride := g.stride0
	row := func(id uint32) []uint32 {
		off := int(id&chunkMask) * stride
		list := tab[id>>chunkBits].links0[off : off+stride]
		n := min(int(atomic.LoadUint32(&list[0])), g.m0)
		return list[1 : 1+n]
	}
	seen, admitted := 0, 0
	count := func(nb uint32) bool {
		if nb >= limit || stamps[nb] == epoch {
			return false
		}
		stamps[nb] = epoch
		seen++
		if allow(nb) {
			admitted++
		}
		return true
	}
	count(id)
	first := row(id)
	rowLines := (stride*4 + 63) / 64
	for j := range first {
		nb := atomic.LoadUint32(&first[j])
		if count(nb) {
			prefetchLines((*float32)(unsafe.Pointer(&tab[nb>>chunkBits].links0[int(nb&chunkMask)*stride])), rowLines)
		}
	}
	for j := range first {
		nb := atomic.LoadUint32(&first[j])
		if nb >= limit {
			continue
		}
		second := row(nb)
		for i := range second {
			count(atomic.LoadUint32(&second[i]))
		}
	}
	return float64(admitted) / float64(max(seen, 1)), max(seen, 1)
}
