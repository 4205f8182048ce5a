package engine

import (
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/akidb/akidb/engine/hnsw"
	"github.com/akidb/akidb/engine/payload"
)

// The filtered-search planner. The payload indexes (engine/payload) turn the
// filter into bitmaps: Sure, the records that match, and Maybe, those that
// may and are tested with the filter itself (conditions on fields without a
// ready index, or values outside an index's type). Their true sizes choose
// between a scan and a graph search:
//
//   - index_exact: few candidates (at most indexExactPerEf times ef):
//     measure each of them (Sure, and the Maybe ones that pass the filter)
//     by brute force.
//   - otherwise a graph search (hnsw.SearchFiltered), which looks at the
//     density of matches where it lands in the graph, next to the query
//     (among the thousand or so records within two links of its entry
//     point), and runs index_two_hop where matches are sparse, under 7.5%
//     (it measures only matching nodes and reaches them through at most
//     one other), or index_graph where they are dense (it admits only
//     matching nodes among the ones it measures, with its result list cut
//     to what an unfiltered search would hold of them).
//
// A graph search that finds fewer than k (the matching nodes near the query
// are not connected in the graph) falls back to index_exact, so a query
// never returns fewer than k while k match. When the indexes cannot narrow
// the filter at all (a condition every record may satisfy has no index),
// the search runs as without indexes: the selectivity is estimated from a
// sample and the plan is filtered_exact or filtered_graph.

// Filtered search strategies beyond those of unfiltered search.
const (
	StrategyIndexExact  = "index_exact"
	StrategyIndexGraph  = "index_graph"
	StrategyIndexTwoHop = "index_two_hop"
)

const (
	// indexExactPerEf: a search whose candidates number at most this many
	// times ef (and at least exactMatchesFloor) scans them exactly; a graph
	// search of width ef measures a comparable number of vectors.
	indexExactPerEf = 32
	// seedCount is how many matching records, spread over the collection,
	// a two-hop search may go on from when it finds no more near its entry
	// point.
	seedCount = 32
)

// Explain is the plan of one filtered search, returned on request.
type Explain struct {
	// Strategy is the plan that produced the answer (after any fallback);
	// Planned the one first chosen, and Reason why.
	Strategy string `json:"strategy"`
	Planned  string `json:"planned"`
	Reason   string `json:"reason"`
	// Filter is the filter in canonical form.
	Filter string `json:"filter"`
	// Indexed and Unindexed name the filter's fields with and without a
	// ready index.
	Indexed   []string `json:"indexed_fields"`
	Unindexed []string `json:"unindexed_fields"`
	// LiveRecords is the collection's size; Candidates the records the
	// indexes left to consider (all of them when they could not narrow
	// the filter).
	LiveRecords uint64 `json:"live_records"`
	Candidates  uint64 `json:"candidates"`
	// EstimatedMatches is the number of matches known before any record
	// is read: exact when Estimate is "bitmaps" (the indexes judged every
	// candidate), extrapolated from a sample of the candidates they could
	// not judge otherwise ("sample" when the indexes could not narrow the
	// filter at all). The choice between a scan and a graph search is made
	// on Candidates, a true count.
	EstimatedMatches uint64 `json:"estimated_matches"`
	Estimate         string `json:"estimate"`
	// TrueMatches counts the matching records exactly (explain only: it
	// tests every candidate).
	TrueMatches uint64 `json:"true_matches"`
	// For a graph search: Density is the fraction of matching records
	// within two links of its entry point in the graph (layer 0), which
	// chose between two-hop and admitting search; Ef the length of its
	// result list; Reseeded says
	// that the two-hop search ran out of matches near its entry point and
	// went on from matches elsewhere.
	Density  *float64 `json:"entry_density,omitempty"`
	Ef       int      `json:"ef,omitempty"`
	Reseeded bool     `json:"reseeded,omitempty"`
	// Tree shows how the indexes evaluated each part of the filter.
	Tree *payload.ExplainNode `json:"tree,omitempty"`
}

// filteredSearch runs a filtered search over one numbering of the nodes
// (see search): tab is the slot table, staged the nodes not linked yet.
func (c *Collection) filteredSearch(req SearchRequest, q []float32, ef int, tab *slotTable, live int, staged []uint32, stop func() bool) ([]hnsw.Neighbor, string, *Explain, error) {
	matchSlot := func(n uint32) bool {
		s := tab.get(n)
		return s != nil && req.Filter.MatchJSONString(s.meta)
	}
	// An explained search plans afresh for the evaluation tree; others take
	// the plan kept from an earlier search with the same filter, if the
	// indexes have not changed since.
	var plan *payload.Plan
	if req.Explain {
		plan = c.idx.Plan(req.Filter, true)
	} else {
		plan = c.idx.SearchPlan(req.Filter)
	}
	var ex *Explain
	if req.Explain {
		ex = &Explain{Filter: req.Filter.String(), Indexed: nonNil(plan.Indexed), Unindexed: nonNil(plan.Unindexed),
			LiveRecords: uint64(live), Tree: plan.Explain}
	}
	if !plan.Narrowed {
		return c.unindexedSearch(req, q, ef, tab, live, staged, stop, matchSlot, ex)
	}

	sureN, maybeN := plan.Sure.GetCardinality(), plan.Maybe.GetCardinality()
	cands := sureN + maybeN
	// allow admits Sure and the Maybe nodes that pass the filter; as a
	// dense bitset it is a shift and a mask per node.
	sure, maybe := plan.SureBits, plan.MaybeBits
	allow := func(n uint32) bool {
		w := int(n >> 6)
		bit := uint64(1) << (n & 63)
		if w < len(sure) && sure[w]&bit != 0 {
			return true
		}
		return w < len(maybe) && maybe[w]&bit != 0 && matchSlot(n)
	}
	// The scan of the candidates compares the float32 vectors when an
	// exact search was asked for, and otherwise stands in for the graph
	// (codes and a re-rank on a quantized collection).
	scanOpts := scanOptions(req, ef, nil, stop)
	if req.Exact {
		scanOpts = exactOptions(nil, stop)
	}
	exactScan := func() ([]hnsw.Neighbor, error) {
		ids := plan.Sure.ToArray()
		if maybeN > 0 {
			plan.Maybe.Iterate(func(n uint32) bool {
				if matchSlot(n) {
					ids = append(ids, n)
				}
				return true
			})
		}
		return c.graph.ExactSearchIDsWith(q, req.K, ids, scanOpts)
	}

	var (
		strategy, reason string
		nb               []hnsw.Neighbor
		gp               hnsw.FilterPlan
		graphRan         bool
		err              error
	)
	mode := hnsw.FilterAuto
	switch limit := uint64(max(exactMatchesFloor, indexExactPerEf*ef)); {
	case req.Exact:
		strategy, reason = StrategyIndexExact, "exact search requested"
	case req.Strategy == StrategyIndexExact:
		strategy, reason = StrategyIndexExact, "strategy forced by the request"
	case req.Strategy != "":
		mode, reason = hnsw.FilterAdmit, "strategy forced by the request"
		if req.Strategy == StrategyIndexTwoHop {
			mode = hnsw.FilterTwoHop
		}
	case cands <= limit:
		strategy, reason = StrategyIndexExact, fmt.Sprintf("%d candidates, at most %d: scanning them beats a graph search", cands, limit)
	default:
		reason = fmt.Sprintf("%d candidates, more than %d: a graph search", cands, limit)
	}
	planned := strategy
	if strategy == StrategyIndexExact {
		nb, err = exactScan()
	} else {
		graphRan = true
		seeds := func() []uint32 { return spreadSample(plan.Sure, plan.Maybe, matchSlot, seedCount) }
		nb, gp, err = c.graph.SearchFiltered(q, req.K, ef, hnsw.FilterOptions{Allow: allow, Mode: mode, Seeds: seeds, Stop: stop,
			Selectivity: float64(cands) / float64(max(live, 1)), Rerank: req.Rerank})
		strategy = StrategyIndexGraph
		if gp.TwoHop {
			strategy = StrategyIndexTwoHop
		}
		planned = strategy
		if mode == hnsw.FilterAuto {
			reason += fmt.Sprintf("; %.0f%% of the records around its entry point match", 100*gp.Density)
			if gp.Uniform {
				reason += fmt.Sprintf(", as over the whole collection (%.0f%%): spread evenly, so by the latter", 100*float64(cands)/float64(max(live, 1)))
			}
			reason += ": "
			if gp.TwoHop {
				reason += "sparse, so the two-hop search that measures only matching ones"
			} else {
				reason += fmt.Sprintf("dense, so the search admitting matches among the records it measures, keeping %d", gp.Ef)
			}
		}
		if gp.Reseeded {
			reason += "; it ran out of matches near its entry point and went on from matches elsewhere"
		}
		if err == nil {
			if nb, err = c.withStaged(q, req.K, nb, staged, allow, scanOptions(req, ef, nil, stop)); err == nil && len(nb) < req.K {
				// The matching nodes near the query are not connected
				// in the graph; only a scan can tell whether k exist.
				strategy = StrategyIndexExact
				reason += fmt.Sprintf("; the graph search found %d of k=%d, so the candidates were scanned", len(nb), req.K)
				nb, err = exactScan()
			}
		}
	}
	if ex != nil {
		ex.Strategy, ex.Planned, ex.Reason = strategy, planned, reason
		if graphRan {
			d := gp.Density
			ex.Density, ex.Ef, ex.Reseeded = &d, gp.Ef, gp.Reseeded
		}
		// The estimate is what the bitmaps say before any record is read:
		// exact when nothing is left to test.
		est, estimate := sureN, "bitmaps"
		if maybeN > 0 {
			est += uint64(float64(maybeN) * samplePassRate(plan.Maybe, matchSlot, defaultFilterSamples))
			estimate = "bitmaps and a sample of the rest"
		}
		ex.Candidates, ex.EstimatedMatches, ex.Estimate = cands, est, estimate
		ex.TrueMatches = sureN
		plan.Maybe.Iterate(func(n uint32) bool {
			if matchSlot(n) {
				ex.TrueMatches++
			}
			return true
		})
	}
	return nb, strategy, ex, err
}

// unindexedSearch is the search for a filter the indexes cannot narrow:
// the plan AkiDB had before payload indexes, unchanged.
func (c *Collection) unindexedSearch(req SearchRequest, q []float32, ef int, tab *slotTable, live int, staged []uint32, stop func() bool, match func(uint32) bool, ex *Explain) ([]hnsw.Neighbor, string, *Explain, error) {
	selective, est := c.filterLooksSelective(tab, live, req.Filter, req.K, req.FilterSamples)
	var (
		strategy, reason string
		nb               []hnsw.Neighbor
		err              error
	)
	switch {
	case req.Exact:
		strategy, reason = StrategyFilteredExact, "exact search requested"
	case selective:
		strategy, reason = StrategyFilteredExact, fmt.Sprintf("about %d records match (from a sample): scanning every record beats a graph search", est)
	default:
		strategy, reason = StrategyFilteredGraph, fmt.Sprintf("about %d records match (from a sample): a graph search testing each node it meets", est)
	}
	planned := strategy
	// An exact search compares the float32 vectors; a scan chosen for a
	// selective filter, or after a graph search short of k, stands in for
	// the graph (codes and a re-rank on a quantized collection).
	switch {
	case req.Exact:
		nb, err = c.graph.ExactSearchWith(q, req.K, exactOptions(match, stop))
	case strategy == StrategyFilteredExact:
		nb, err = c.graph.ExactSearchWith(q, req.K, scanOptions(req, ef, match, stop))
	default:
		if nb, err = c.graph.SearchWith(q, req.K, ef, graphOptions(req, match, stop)); err != nil {
			break
		}
		if nb, err = c.withStaged(q, req.K, nb, staged, match, scanOptions(req, ef, nil, stop)); err == nil && len(nb) < req.K {
			// The graph search could not reach k matches; only an exact
			// scan can tell whether more exist. Never return fewer
			// than k when k match.
			strategy = StrategyFilteredExact
			reason += fmt.Sprintf("; the graph search found %d of k=%d, so every record was scanned", len(nb), req.K)
			nb, err = c.graph.ExactSearchWith(q, req.K, scanOptions(req, ef, match, stop))
		}
	}
	if ex != nil {
		ex.Strategy, ex.Planned, ex.Reason = strategy, planned, reason
		ex.Candidates, ex.EstimatedMatches, ex.Estimate = uint64(live), uint64(est), "sample"
		for n := 0; n < tab.nodes(); n++ {
			if match(uint32(n)) {
				ex.TrueMatches++
			}
		}
	}
	return nb, strategy, ex, err
}

// spreadSample returns up to n matching nodes spread evenly over sure, or,
// when sure has fewer, over the nodes of maybe that match.
func spreadSample(sure, maybe *roaring.Bitmap, match func(uint32) bool, n int) []uint32 {
	out := make([]uint32, 0, n)
	pick := func(b *roaring.Bitmap, ok func(uint32) bool) {
		size := b.GetCardinality()
		step := max(1, size/uint64(n))
		for i := uint64(0); i < size && len(out) < n; i += step {
			if x, err := b.Select(uint32(i)); err == nil && (ok == nil || ok(x)) {
				out = append(out, x)
			}
		}
	}
	pick(sure, nil)
	if len(out) < n {
		pick(maybe, match)
	}
	return out
}

// samplePassRate tests up to samples evenly spaced nodes of b with match
// and returns the fraction that pass.
func samplePassRate(b *roaring.Bitmap, match func(uint32) bool, samples int) float64 {
	n := b.GetCardinality()
	if n == 0 {
		return 0
	}
	step := max(1, n/uint64(samples))
	seen, passed := 0, 0
	for i := uint64(0); i < n; i += step {
		x, err := b.Select(uint32(i))
		if err != nil {
			break
		}
		seen++
		if match(x) {
			passed++
		}
	}
	return float64(passed) / float64(max(seen, 1))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
