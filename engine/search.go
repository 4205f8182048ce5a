package engine

import (
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/filter"
	"github.com/akidb/akidb/engine/hnsw"
)

// SearchRequest is a k-nearest-neighbour query.
type SearchRequest struct {
	Vector []float32
	K      int
	// Ef is the search beam width; 0 means max(K, DefaultEf).
	Ef     int
	Filter *filter.Filter
	// Exact forces a brute-force scan instead of the graph.
	Exact         bool
	WithVectors   bool
	WithMetadata  bool
	FilterSamples int // records sampled to estimate selectivity; 0 = default
}

// Hit is one search result. Score is the squared L2 distance for l2
// collections (smaller is closer), the inner product for dot and the cosine
// similarity for cosine (larger is closer).
type Hit struct {
	ID       string
	Score    float32
	Vector   []float32
	Metadata map[string]any
}

// Search strategies, reported so callers and benchmarks can see the choice.
const (
	StrategyGraph         = "graph"
	StrategyExact         = "exact"
	StrategyFilteredGraph = "filtered_graph"
	StrategyFilteredExact = "filtered_exact"
)

// SearchResult holds hits best first and the strategy that produced them.
type SearchResult struct {
	Hits     []Hit
	Strategy string
}

const (
	defaultFilterSamples = 512
	// A filter estimated to match fewer records than this (or a smaller
	// fraction than exactSelectivity) is answered by an exact scan of the
	// matching records: a graph search would have to wade through too many
	// non-matching nodes to find k matching ones.
	exactMatchesFloor = 2000
	exactSelectivity  = 0.02
)

// Search returns up to k nearest live records. With a filter, it returns k
// results whenever at least k records match.
func (c *Collection) Search(req SearchRequest) (SearchResult, error) {
	if err := ValidateVector("vector", req.Vector, c.cfg.Dimension); err != nil {
		return SearchResult{}, err
	}
	if req.K < 1 || req.K > MaxK {
		return SearchResult{}, invalid("k", "must be between 1 and %d, got %d", MaxK, req.K)
	}
	if req.Ef < 0 || req.Ef > MaxEf {
		return SearchResult{}, invalid("ef", "must be between 1 and %d, got %d", MaxEf, req.Ef)
	}
	ef := req.Ef
	if ef == 0 {
		ef = max(req.K, DefaultEf)
	}
	q := req.Vector
	if c.cfg.Metric == distance.Cosine {
		q = append([]float32(nil), q...)
		if !distance.Normalize(q) {
			return SearchResult{}, invalid("vector", "a cosine query cannot be the zero vector")
		}
	}

	c.mu.RLock()
	defer c.mu.RUnlock()
	live := len(c.byID)
	if live == 0 {
		return SearchResult{Strategy: StrategyGraph}, nil
	}
	var (
		nb       []hnsw.Neighbor
		strategy string
	)
	switch {
	case req.Filter == nil && req.Exact:
		strategy = StrategyExact
		nb = c.graph.ExactSearch(q, req.K, c.isPublished)
	case req.Filter == nil:
		strategy = StrategyGraph
		nb = c.graph.Search(q, req.K, ef, nil)
		nb = c.withStaged(q, req.K, c.dropUnpublished(nb), c.isPublished)
		if len(nb) < min(req.K, live) {
			// A concurrent writer's nodes were in the graph but not yet
			// visible; search again admitting only visible ones.
			nb = c.withStaged(q, req.K, c.graph.Search(q, req.K, ef, c.isPublished), c.isPublished)
		}
	default:
		match := func(n uint32) bool { return c.isPublished(n) && req.Filter.Match(c.meta[n]) }
		if req.Exact || c.filterLooksSelective(req.Filter, req.K, req.FilterSamples) {
			strategy = StrategyFilteredExact
			nb = c.graph.ExactSearch(q, req.K, match)
		} else {
			strategy = StrategyFilteredGraph
			nb = c.withStaged(q, req.K, c.graph.Search(q, req.K, ef, match), match)
			if len(nb) < req.K {
				// The graph search could not reach k matches; only an exact
				// scan can tell whether more exist. Never return fewer
				// than k when k match.
				strategy = StrategyFilteredExact
				nb = c.graph.ExactSearch(q, req.K, match)
			}
		}
	}
	hits := make([]Hit, len(nb))
	for i, n := range nb {
		h := Hit{ID: c.extID[n.ID], Score: c.cfg.Metric.Score(n.Dist)}
		if req.WithMetadata {
			h.Metadata = c.meta[n.ID]
		}
		if req.WithVectors {
			h.Vector = append([]float32(nil), c.graph.Vector(n.ID)...)
		}
		hits[i] = h
	}
	return SearchResult{Hits: hits, Strategy: strategy}, nil
}

// isPublished reports whether node is a visible record; c.mu must be held.
func (c *Collection) isPublished(node uint32) bool {
	return int(node) < len(c.extID) && c.extID[node] != ""
}

func (c *Collection) dropUnpublished(nb []hnsw.Neighbor) []hnsw.Neighbor {
	out := nb[:0]
	for _, n := range nb {
		if c.isPublished(n.ID) {
			out = append(out, n)
		}
	}
	return out
}

// filterLooksSelective estimates the filter's selectivity from an evenly
// spaced sample of node slots and says whether an exact scan is the better
// plan; c.mu must be held.
func (c *Collection) filterLooksSelective(f *filter.Filter, k, samples int) bool {
	if samples <= 0 {
		samples = defaultFilterSamples
	}
	live := len(c.byID)
	if live <= exactMatchesFloor {
		return true
	}
	slots := len(c.extID)
	step := max(1, slots/samples)
	seen, matched := 0, 0
	for n := 0; n < slots; n += step {
		if c.extID[n] == "" {
			continue
		}
		seen++
		if f.Match(c.meta[n]) {
			matched++
		}
	}
	if seen == 0 {
		return true
	}
	sel := float64(matched) / float64(seen)
	est := sel * float64(live)
	return sel < exactSelectivity || est <= float64(max(exactMatchesFloor, 20*k))
}
