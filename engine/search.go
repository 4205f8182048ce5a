package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

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
	// Exact forces a brute-force scan of the float32 vectors instead of
	// the graph.
	Exact bool
	// Rerank applies to quantized collections: how many of the best
	// candidates found on the int8 codes are measured again with the
	// float32 vectors (0 means ef; raised to at least K; ef is raised to
	// at least Rerank). The exact scan a selective filter plans compares
	// codes and re-ranks as many. Ignored by unquantized collections.
	Rerank        int
	WithVectors   bool
	WithMetadata  bool
	FilterSamples int // records sampled to estimate selectivity; 0 = default
	// Explain asks for the filtered search's plan in the result (it costs
	// a test of every candidate record, to count the true matches).
	Explain bool
	// Strategy, for benchmarks that compare plans, forces one of the
	// index_* plans of a filtered search the payload indexes can narrow
	// (others run as planned); "" lets the planner choose.
	Strategy string
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
	// Explain is the plan of a filtered search, when asked for.
	Explain *Explain
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

// yieldAfterChecks is how many deadline checks (of hnsw.StopEvery distance
// computations each) a search makes before it lets other goroutines run
// at each further check (runtime.Gosched): a long scan runs in turns of a
// few tens of microseconds, so short queries running beside it are not
// held up by Go's 10 ms preemption, while an ordinary graph search (a few
// thousand distance computations) never yields.
const yieldAfterChecks = 16

// Search returns up to k nearest live records. With a filter, it returns k
// results whenever at least k records match.
//
// It checks ctx every few hundred distance computations (hnsw.StopEvery)
// and returns ctx's error (context.DeadlineExceeded past a deadline) as
// soon as it is done, without a result. It holds no lock a writer needs
// while it runs: it reads published records through the lock-free slot
// table (slots.go), and a vacuum that renumbers nodes meanwhile makes it
// start again.
func (c *Collection) Search(ctx context.Context, req SearchRequest) (SearchResult, error) {
	if err := ValidateVector("vector", req.Vector, c.cfg.Dimension); err != nil {
		return SearchResult{}, err
	}
	if req.K < 1 || req.K > MaxK {
		return SearchResult{}, invalid("k", "must be between 1 and %d, got %d", MaxK, req.K)
	}
	if req.Ef < 0 || req.Ef > MaxEf {
		return SearchResult{}, invalid("ef", "must be between 1 and %d, got %d", MaxEf, req.Ef)
	}
	if req.Rerank < 0 || req.Rerank > MaxEf {
		return SearchResult{}, invalid("rerank", "must be between 1 and %d, got %d", MaxEf, req.Rerank)
	}
	switch req.Strategy {
	case "", StrategyIndexExact, StrategyIndexGraph, StrategyIndexTwoHop:
	default:
		return SearchResult{}, invalid("strategy", "must be empty, %s, %s or %s, got %q", StrategyIndexExact, StrategyIndexGraph, StrategyIndexTwoHop, req.Strategy)
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
	checks := 0
	stop := func() bool {
		if c.scanHook != nil {
			c.scanHook()
		}
		if checks++; checks > yieldAfterChecks {
			runtime.Gosched()
		}
		return expired(ctx) != nil
	}
	for {
		if err := expired(ctx); err != nil {
			return SearchResult{}, err
		}
		res, err := c.search(req, q, ef, stop)
		switch {
		case errors.Is(err, errRenumbered):
			// A vacuum renumbered the nodes under this search: wait
			// for it to finish (it holds c.mu) and start again.
			c.mu.RLock()
			c.mu.RUnlock() //nolint:staticcheck // an empty critical section: waiting is the point
			continue
		case errors.Is(err, hnsw.ErrStopped):
			return SearchResult{}, expired(ctx)
		}
		return res, err
	}
}

// expired returns ctx's error, or context.DeadlineExceeded once its
// deadline has passed even if the context has not been told yet: the timer
// that cancels it can run a millisecond late on a busy machine, and a
// search checks its deadline far more often than that.
func expired(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// errRenumbered: a vacuum changed node ids while a search ran.
var errRenumbered = errors.New("node ids changed during the search")

// search is one attempt of Search over one numbering of the nodes.
func (c *Collection) search(req SearchRequest, q []float32, ef int, stop func() bool) (SearchResult, error) {
	seq := c.renumbering.Load()
	if seq%2 == 1 {
		return SearchResult{}, errRenumbered // a vacuum is under way
	}
	tab := c.slots.Load()
	live := int(c.live.Load())
	if live == 0 {
		return SearchResult{Strategy: StrategyGraph}, nil
	}
	staged := c.stagedIDs()
	published := func(n uint32) bool { return tab.get(n) != nil }
	graphOpts := func(allow func(uint32) bool) hnsw.SearchOptions { return graphOptions(req, allow, stop) }
	scanOpts := func(allow func(uint32) bool) hnsw.SearchOptions { return scanOptions(req, ef, allow, stop) }
	var (
		nb       []hnsw.Neighbor
		strategy string
		explain  *Explain
		err      error
	)
	switch {
	case req.Filter == nil && req.Exact:
		strategy = StrategyExact
		nb, err = c.graph.ExactSearchUntil(q, req.K, published, stop)
	case req.Filter == nil:
		strategy = StrategyGraph
		if nb, err = c.graph.SearchWith(q, req.K, ef, graphOpts(nil)); err != nil {
			break
		}
		if nb, err = c.withStaged(q, req.K, keep(nb, published), staged, published, scanOpts(nil)); err != nil {
			break
		}
		if len(nb) < min(req.K, live) {
			// A concurrent writer's nodes were in the graph but not yet
			// visible; search again admitting only visible ones.
			if nb, err = c.graph.SearchWith(q, req.K, ef, graphOpts(published)); err == nil {
				nb, err = c.withStaged(q, req.K, nb, staged, published, scanOpts(nil))
			}
		}
	default:
		nb, strategy, explain, err = c.filteredSearch(req, q, ef, tab, live, staged, stop)
	}
	if errors.Is(err, hnsw.ErrInterrupted) {
		return SearchResult{}, errRenumbered
	}
	if err != nil {
		return SearchResult{}, err
	}
	hits := make([]Hit, 0, len(nb))
	for _, n := range nb {
		s := tab.get(n.ID)
		if s == nil {
			continue // deleted or replaced since it was found
		}
		h := Hit{ID: s.id, Score: c.cfg.Metric.Score(n.Dist)}
		if req.WithMetadata {
			h.Metadata = decodeMetadata(s.meta)
		}
		if req.WithVectors {
			if h.Vector, err = c.graph.ReadVector(nil, n.ID); err != nil {
				return SearchResult{}, fmt.Errorf("collection %s: %w", c.cfg.Name, err)
			}
		}
		hits = append(hits, h)
	}
	if c.renumbering.Load() != seq {
		return SearchResult{}, errRenumbered
	}
	return SearchResult{Hits: hits, Strategy: strategy, Explain: explain}, nil
}

// graphOptions are the options of a graph search for req. On a quantized
// collection the graph re-ranks req.Rerank (0: ef) candidates.
func graphOptions(req SearchRequest, allow func(uint32) bool, stop func() bool) hnsw.SearchOptions {
	return hnsw.SearchOptions{Allow: allow, Stop: stop, Rerank: req.Rerank}
}

// scanOptions are the options of a brute-force scan that stands in for
// the graph (a selective filter, staged nodes, a graph search short of
// k): on a quantized collection it compares codes and re-ranks as many
// candidates as the graph would (req.Rerank, 0: ef). An explicit Exact
// search compares the float32 vectors instead (exactOptions).
func scanOptions(req SearchRequest, ef int, allow func(uint32) bool, stop func() bool) hnsw.SearchOptions {
	rerank := req.Rerank
	if rerank == 0 {
		rerank = ef
	}
	return hnsw.SearchOptions{Allow: allow, Stop: stop, Rerank: rerank}
}

// exactOptions are the options of an exact search (req.Exact): the
// float32 vectors, compared one by one.
func exactOptions(allow func(uint32) bool, stop func() bool) hnsw.SearchOptions {
	return hnsw.SearchOptions{Allow: allow, Stop: stop}
}

// keep returns the neighbours ok admits, in place.
func keep(nb []hnsw.Neighbor, ok func(uint32) bool) []hnsw.Neighbor {
	out := nb[:0]
	for _, n := range nb {
		if ok(n.ID) {
			out = append(out, n)
		}
	}
	return out
}

// filterLooksSelective estimates the filter's selectivity from an evenly
// spaced sample of node slots and says whether an exact scan is the better
// plan, and how many records it estimates to match.
func (c *Collection) filterLooksSelective(tab *slotTable, live int, f *filter.Filter, k, samples int) (bool, int) {
	if samples <= 0 {
		samples = defaultFilterSamples
	}
	nodes := min(tab.nodes(), c.graph.Len())
	step := max(1, nodes/samples)
	seen, matched := 0, 0
	for n := 0; n < nodes; n += step {
		s := tab.get(uint32(n))
		if s == nil {
			continue
		}
		seen++
		if f.MatchJSONString(s.meta) {
			matched++
		}
	}
	if seen == 0 {
		return true, 0
	}
	sel := float64(matched) / float64(seen)
	est := sel * float64(live)
	if live <= exactMatchesFloor {
		return true, int(est)
	}
	return sel < exactSelectivity || est <= float64(max(exactMatchesFloor, 20*k)), int(est)
}
