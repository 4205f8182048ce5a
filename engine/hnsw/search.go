package hnsw

import (
	"math"
	"sync/atomic"
	"unsafe"
)

// Search returns up to k nearest neighbours of q in ascending distance,
// exploring layer 0 with a candidate list of ef (raised to at least k).
//
// Deleted nodes are never returned. allow, when not nil, restricts which ids
// may be results; it is called at most once per visited node, must be safe
// for concurrent use if Search is called concurrently, and must not call
// back into the graph (Search holds a read lock that a pending Vacuum would
// make a second acquisition wait on).
//
// Filtering and tombstones follow hnswlib's isIdAllowed path: traversal goes
// through every node (deleted and disallowed ones included) so the graph
// stays navigable, only accepted nodes enter the result heap, and the search
// stops only once that heap holds ef accepted nodes and the nearest
// unexpanded candidate is further than its worst. Consequently Search
// returns min(k, accepted nodes reachable from the entry point); with a very
// selective filter it degrades towards visiting the whole graph, which is
// why callers switch to ExactSearchIDs for small allowed sets.
//
// q must have length Dim (nil is returned otherwise); k <= 0 returns nil.
func (g *Graph) Search(q []float32, k, ef int, allow func(id uint32) bool) []Neighbor {
	out, _ := g.search(q, k, ef, 0, allow, nil)
	return out
}

// StopEvery is how many distance computations a stoppable search makes
// between two calls of its stop function: a few microseconds of work for
// vectors of hundreds of dimensions.
const StopEvery = 256

// SearchUntil is Search that can be stopped: every StopEvery distance
// computations it calls stop, and ends with ErrStopped (and no result)
// when stop returns true. It also gives way to a Vacuum waiting for the
// graph, ending with ErrInterrupted; the caller searches again once the
// vacuum is done.
func (g *Graph) SearchUntil(q []float32, k, ef int, allow func(id uint32) bool, stop func() bool) ([]Neighbor, error) {
	return g.SearchWith(q, k, ef, SearchOptions{Allow: allow, Stop: stop})
}

// SearchOptions are a search's optional knobs; the zero value searches
// like Search.
type SearchOptions struct {
	// Allow restricts the results (see Search); nil admits every node.
	Allow func(id uint32) bool
	// Stop is checked every StopEvery distance computations (see
	// SearchUntil); nil never stops.
	Stop func() bool
	// Rerank applies to a graph that traverses int8 codes: the best Rerank
	// candidates (raised to at least k; 0 means ef) are measured again with
	// the float32 vectors, and the k best of those are returned with their
	// exact distances. ef is raised to at least Rerank.
	Rerank int
}

// SearchWith is Search with options. On a graph that traverses codes it
// may fail reading vectors from the Originals store.
func (g *Graph) SearchWith(q []float32, k, ef int, o SearchOptions) ([]Neighbor, error) {
	stop := o.Stop
	if stop == nil {
		stop = func() bool { return false }
	}
	return g.search(q, k, ef, o.Rerank, o.Allow, stop)
}

// stopCheck returns the error a stoppable search ends with now, if any.
func (g *Graph) stopCheck(stop func() bool) error {
	switch {
	case g.vacuuming.Load() > 0:
		return ErrInterrupted
	case stop():
		return ErrStopped
	}
	return nil
}

func (g *Graph) search(q []float32, k, ef, rerank int, allow func(id uint32) bool, stop func() bool) ([]Neighbor, error) {
	if k <= 0 || len(q) != g.dim {
		return nil, nil
	}
	ef = max(ef, k)
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	e := g.entry.Load()
	if e == noEntry {
		return []Neighbor{}, nil
	}
	st, ef, rerank := g.rerankBudget(k, ef, rerank)
	s := g.getScratch()
	defer g.putScratch(s)
	qq := &s.q
	tab, cur, curDist := g.descend(s, st, q, e)
	tab, err := g.searchLayer(s, tab, qq, cur, curDist, 0, ef, allow, g.deleted.Load() > 0, noID, stop)
	if err != nil {
		return nil, err
	}
	return g.finish(s, st, tab, q, k, rerank)
}

// finish turns the result heap s.res into the answer: the k nearest in
// ascending distance, after re-ranking the best rerank with the float
// vectors when the search measured codes.
func (g *Graph) finish(s *scratch, st *quantState, tab []*chunk, q []float32, k, rerank int) ([]Neighbor, error) {
	s.sorted = s.res.drainAscending(s.sorted)
	res := s.sorted
	if st.traverse {
		var err error
		if res, err = g.rerank(s, st, tab, q, res, rerank); err != nil {
			return nil, err
		}
	}
	res = res[:min(k, len(res))]
	out := make([]Neighbor, len(res))
	for i, it := range res {
		out[i] = Neighbor{ID: it.id, Dist: it.dist}
	}
	return out, nil
}

// rerankBudget is the state searches measure with and their ef and
// rerank: on a graph that traverses codes the walk measures codes, and the
// best rerank candidates (default ef, at least k) are measured again in
// float32 at the end (finish), so the walk keeps at least that many.
func (g *Graph) rerankBudget(k, ef, rerank int) (*quantState, int, int) {
	st := g.quant()
	if st.traverse {
		if rerank <= 0 {
			rerank = ef
		}
		rerank = max(rerank, k)
		ef = max(ef, rerank)
	}
	return st, ef, rerank
}

// descend prepares q in s.q and walks the upper layers greedily from the
// entry point e, returning the table it read and where layer 0 starts.
func (g *Graph) descend(s *scratch, st *quantState, q []float32, e uint64) ([]*chunk, uint32, float32) {
	qq := &s.q
	g.prepare(qq, st, q)
	ep, top := unpackEntry(e)
	tab := g.table.Load().chunks
	cur, curDist := ep, g.distTo(qq, tab, ep)
	for l := top; l > 0; l-- {
		cur, curDist = g.greedyClosest(s, tab, qq, cur, curDist, l)
	}
	return tab, cur, curDist
}

// greedyClosest walks layer level from cur towards q while some neighbour
// is closer (the upper-layer descent, ef = 1). Each node's neighbours are
// measured as searchLayer measures them: their first lines fetched
// together, then each measured while the next is fetched whole (the
// descent is otherwise a chain of cache misses, about a quarter of a
// low-ef search's time on 784-d MNIST).
func (g *Graph) greedyClosest(s *scratch, tab []*chunk, q *query, cur uint32, curDist float32, level int) (uint32, float32) {
	limit := limitOf(tab)
	for changed := true; changed; {
		changed = false
		list := g.linkList(tab, cur, level)
		n := min(int(atomic.LoadUint32(&list[0])), g.m)
		batch := s.batch[:0]
		for j := 1; j <= n; j++ {
			nb := atomic.LoadUint32(&list[j])
			if nb >= limit {
				continue
			}
			g.prefetchNode(q, tab, nb, 1)
			batch = append(batch, nb)
		}
		s.batch = batch
		if cap(s.dists) < len(batch) {
			s.dists = make([]float32, len(batch), 2*len(batch))
		}
		dists := s.dists[:len(batch)]
		g.measure(q, tab, batch, dists)
		for i, nb := range batch {
			if dists[i] < curDist {
				cur, curDist, changed = nb, dists[i], true
			}
		}
	}
	return cur, curDist
}

// searchLayer is the beam search of one layer from (ep, epDist), leaving up
// to ef accepted nodes in s.res (a max-heap). A node is accepted when it is
// not self, not deleted (if skipDeleted) and allowed (if allow != nil).
//
// Nodes added after the caller's table snapshot can show up in lists; the
// search then reloads the table and widens its visited set, and returns the
// table it ended with, which the caller must use for the result ids.
//
// The loop mirrors hnswlib's searchBaseLayer(ST): a candidate is expanded
// and every unvisited neighbour is measured; a neighbour joins the frontier
// when the result heap is not full or it beats the heap's worst, and joins
// the result heap only if accepted. The search ends when the closest
// frontier node is worse than the heap's worst and the heap is full.
//
// With a stop function (nil for inserts and vacuum repairs, which must
// finish), it checks it every StopEvery distance computations and returns
// its error (stopCheck) with s.res incomplete.
func (g *Graph) searchLayer(s *scratch, tab []*chunk, q *query, ep uint32, epDist float32,
	level, ef int, allow func(uint32) bool, skipDeleted bool, self uint32, stop func() bool) ([]*chunk, error) {
	measured := 0
	limit := limitOf(tab)
	s.vis.reset(int(limit))
	stamps, epoch := s.vis.stamps[:limit], s.vis.epoch
	if self < limit {
		stamps[self] = epoch
	}
	filtered := skipDeleted || allow != nil || self != noID
	stride := g.stride0
	maxN := g.m0
	if level > 0 {
		stride, maxN = g.strideUp, g.m
	}

	cands := s.cands[:0]
	res := s.res[:0]
	stamps[ep] = epoch
	cands.push(epDist, ep)
	lower := float32(math.Inf(1))
	if !filtered || g.accept(tab, ep, allow, skipDeleted, self) {
		res.push(epDist, ep)
		lower = epDist
	}

	for len(cands) > 0 {
		c := cands[0]
		if c.dist > lower && len(res) >= ef {
			break
		}
		cands.pop()
		if len(cands) > 0 {
			// The list of the candidate likely expanded next is loaded
			// while this one's neighbours are measured: lists live apart
			// from the vectors and codes, and each expansion otherwise
			// began by waiting for one (BenchmarkSearchTexmex on MNIST,
			// int8: 3-10% less CPU per query).
			g.prefetchList(tab, cands[0].id, level, stride)
		}

		ch := tab[c.id>>chunkBits]
		var list []uint32
		if level == 0 {
			off := int(c.id&chunkMask) * stride
			list = ch.links0[off : off+stride]
		} else {
			off := (level - 1) * stride
			list = (*ch.upper[c.id&chunkMask])[off : off+stride]
		}
		n := min(int(atomic.LoadUint32(&list[0])), maxN)
		list = list[1 : 1+n]

		// Two passes over the neighbours. The first marks the unvisited ones
		// and starts fetching the first line of each, so their misses
		// overlap; the second measures them while prefetching the whole of
		// the next vector. On 784-d MNIST this is worth about 1.5x in QPS.
		batch := s.batch[:0]
		for j := range list {
			nb := atomic.LoadUint32(&list[j])
			if nb >= limit {
				tab, stamps = g.widen(s)
				limit = uint32(len(stamps))
				if nb >= limit {
					continue
				}
			}
			if stamps[nb] == epoch {
				continue
			}
			stamps[nb] = epoch
			g.prefetchNode(q, tab, nb, 1)
			batch = append(batch, nb)
		}
		s.batch = batch
		if stop != nil {
			if measured += len(batch); measured >= StopEvery {
				measured = 0
				if err := g.stopCheck(stop); err != nil {
					s.cands, s.res = cands, res
					return tab, err
				}
			}
		}
		if cap(s.dists) < len(batch) {
			s.dists = make([]float32, len(batch), 2*len(batch))
		}
		dists := s.dists[:len(batch)]
		g.measure(q, tab, batch, dists)
		for bi, nb := range batch {
			d := dists[bi]
			if len(res) < ef || d < lower {
				cands.push(d, nb)
				if filtered && !g.accept(tab, nb, allow, skipDeleted, self) {
					continue
				}
				if len(res) < ef {
					res.push(d, nb)
				} else {
					res.replaceTop(d, nb)
				}
				lower = res[0].dist
			}
		}
	}
	s.cands = cands
	s.res = res
	return tab, nil
}

// prefetchList starts loading the neighbour list of id at level: a row of
// stride words, so its lines plus one, as it may start anywhere in a line.
func (g *Graph) prefetchList(tab []*chunk, id uint32, level, stride int) {
	ch := tab[id>>chunkBits]
	var p *uint32
	if level == 0 {
		p = &ch.links0[int(id&chunkMask)*stride]
	} else {
		p = &(*ch.upper[id&chunkMask])[(level-1)*stride]
	}
	prefetchLines((*float32)(unsafe.Pointer(p)), (stride*4+63)/64+1)
}

// widen reloads the chunk table for a search that met an id past its
// snapshot and grows the visited set to match, keeping this search's marks.
func (g *Graph) widen(s *scratch) ([]*chunk, []uint16) {
	tab := g.table.Load().chunks
	limit := int(limitOf(tab))
	if len(s.vis.stamps) < limit {
		grown := make([]uint16, limit+limit/2)
		copy(grown, s.vis.stamps)
		s.vis.stamps = grown
	}
	return tab, s.vis.stamps[:limit]
}

func (g *Graph) accept(tab []*chunk, id uint32, allow func(uint32) bool, skipDeleted bool, self uint32) bool {
	if id == self {
		return false
	}
	if skipDeleted && metaOf(tab, id)&metaDeleted != 0 {
		return false
	}
	return allow == nil || allow(id)
}
