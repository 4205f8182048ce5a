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
// the plan:
//
//   - index_exact: few candidates: measure each of them (Sure, and the
//     Maybe ones that pass the filter) by brute force.
//   - index_two_hop: many candidates but a minority of the collection: the
//     filter-aware graph search (hnsw.SearchTwoHop) that measures only
//     matching nodes and reaches them through at most one other.
//   - index_graph: most of the collection matches: the graph search that
//     admits only matching nodes among the ones it measures (hnswlib's).
//
// A graph plan that finds fewer than k (the matching nodes near the query
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
	// twoHopBelow: below this fraction of matching records the two-hop
	// search beats admitting matches among every node measured.
	twoHopBelow = 0.5
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
	// EstimatedMatches is what the planner decided on: exact when
	// Estimate is "bitmaps", extrapolated from a sample otherwise.
	EstimatedMatches uint64 `json:"estimated_matches"`
	Estimate         string `json:"estimate"`
	// TrueMatches counts the matching records exactly (explain only: it
	// tests every candidate).
	TrueMatches uint64 `json:"true_matches"`
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
	plan := c.idx.Plan(req.Filter, req.Explain)
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
	est, estimate := sureN, "bitmaps"
	if maybeN > 0 {
		est += uint64(float64(maybeN) * samplePassRate(plan.Maybe, matchSlot, defaultFilterSamples))
		estimate = "bitmaps and a sample of the rest"
	}
	// allow admits Sure and the Maybe nodes that pass the filter; as a
	// dense bitset it is a shift and a mask per node.
	sure := plan.Sure.ToDense()
	maybe := plan.Maybe.ToDense()
	allow := func(n uint32) bool {
		w := int(n >> 6)
		bit := uint64(1) << (n & 63)
		if w < len(sure) && sure[w]&bit != 0 {
			return true
		}
		return w < len(maybe) && maybe[w]&bit != 0 && matchSlot(n)
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
		return c.graph.ExactSearchIDsUntil(q, req.K, ids, stop)
	}

	sel := float64(est) / float64(max(live, 1))
	var (
		strategy, reason string
		nb               []hnsw.Neighbor
		err              error
	)
	switch limit := uint64(max(exactMatchesFloor, indexExactPerEf*ef)); {
	case req.Exact:
		strategy, reason = StrategyIndexExact, "exact search requested"
	case req.Strategy != "":
		strategy, reason = req.Strategy, "strategy forced by the request"
	case cands <= limit:
		strategy, reason = StrategyIndexExact, fmt.Sprintf("%d candidates, at most %d: scanning them beats a graph search", cands, limit)
	case sel < twoHopBelow:
		strategy, reason = StrategyIndexTwoHop, fmt.Sprintf("%.3g%% of records match: the two-hop graph search measures only matching ones", 100*sel)
	default:
		strategy, reason = StrategyIndexGraph, fmt.Sprintf("%.3g%% of records match: a graph search admitting only them", 100*sel)
	}
	planned := strategy
	switch strategy {
	case StrategyIndexExact:
		nb, err = exactScan()
	default:
		if strategy == StrategyIndexTwoHop {
			nb, err = c.graph.SearchTwoHop(q, req.K, ef, allow, stop)
		} else {
			nb, err = c.graph.SearchUntil(q, req.K, ef, allow, stop)
		}
		if err == nil {
			if nb = c.withStaged(q, req.K, nb, staged, allow); len(nb) < req.K {
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
	if strategy == StrategyFilteredExact {
		nb, err = c.graph.ExactSearchUntil(q, req.K, match, stop)
	} else if nb, err = c.graph.SearchUntil(q, req.K, ef, match, stop); err == nil {
		if nb = c.withStaged(q, req.K, nb, staged, match); len(nb) < req.K {
			// The graph search could not reach k matches; only an exact
			// scan can tell whether more exist. Never return fewer
			// than k when k match.
			strategy = StrategyFilteredExact
			reason += fmt.Sprintf("; the graph search found %d of k=%d, so every record was scanned", len(nb), req.K)
			nb, err = c.graph.ExactSearchUntil(q, req.K, match, stop)
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
