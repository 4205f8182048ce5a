package hnsw

// visitedSet marks nodes seen by one search. Instead of clearing an array per
// search, every search takes a new epoch and a node counts as visited when
// its stamp equals the epoch; the array is cleared only when the uint16
// epoch wraps (once per 65535 searches).
type visitedSet struct {
	stamps []uint16
	epoch  uint16
}

// reset starts a new search over ids < n.
func (v *visitedSet) reset(n int) {
	if len(v.stamps) < n {
		// Grow with headroom so that a growing graph does not reallocate on
		// every chunk; a fresh array is all zero, so any epoch >= 1 works.
		v.stamps = make([]uint16, max(n, len(v.stamps)+len(v.stamps)/2))
		v.epoch = 0
	}
	v.epoch++
	if v.epoch == 0 {
		clear(v.stamps)
		v.epoch = 1
	}
}

// scratch is the per-operation working memory, pooled per graph so that a
// steady-state Search or Add allocates nothing but its result.
type scratch struct {
	vis   visitedSet
	cands minHeap
	res   maxHeap
	// sorted holds search results in ascending order for the heuristic.
	sorted []item
	// sel receives the heuristic's choice for the node being inserted.
	sel []item
	// shrink and shrinkSel serve a neighbour list being pruned (reverse
	// edges, vacuum repair) while sel is still in use.
	shrink    []item
	shrinkSel []item
	// batch holds the unvisited neighbours of the node being expanded,
	// dists their distances.
	batch []uint32
	dists []float32
	// q is the search's (or insert's) query, nq a node prepared as a
	// query by the heuristic and list repairs; qdec and ndec hold the
	// vectors decoded from codes for them, rvec vectors read back for
	// re-ranking.
	q, nq      query
	qdec, ndec []float32
	rvec       []float32
	// lv holds the float32 vectors a link decision read from the
	// originals store (linkvecs.go).
	lv linkVecs
	// sels holds an insert's picks for each of its layers until they
	// are written (insert).
	sels [][]item
}

// layerSels returns n empty pick lists, one per layer, reusing their
// storage.
func (s *scratch) layerSels(n int) [][]item {
	for len(s.sels) < n {
		s.sels = append(s.sels, nil)
	}
	for i := range n {
		s.sels[i] = s.sels[i][:0]
	}
	return s.sels[:n]
}

func (g *Graph) getScratch() *scratch {
	if s, ok := g.pool.Get().(*scratch); ok {
		return s
	}
	return &scratch{}
}

func (g *Graph) putScratch(s *scratch) {
	s.cands = s.cands[:0]
	s.res = s.res[:0]
	g.pool.Put(s)
}
