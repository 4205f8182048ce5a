package hnsw

// exactPrefetchAhead is how many vectors ahead a brute-force scan asks the
// CPU to load. A vector of a few hundred dimensions spans most of a 4 KiB
// page and hardware prefetchers stop at page boundaries, so the scan is
// otherwise bound by memory latency.
const exactPrefetchAhead = 2

// ExactSearch returns the k nearest live nodes to q by brute force over the
// float32 vectors, ascending by distance, skipping deleted nodes and those
// allow rejects (allow == nil accepts all). Nodes whose Add is still in
// flight are not seen. q must have length Dim (nil otherwise). When the
// vectors live in an Originals store they are read from it, a chunk at a
// time, and a read error gives no answer.
func (g *Graph) ExactSearch(q []float32, k int, allow func(id uint32) bool) []Neighbor {
	out, _ := g.exactSearch(q, k, allow, nil, 0)
	return out
}

// ExactSearchUntil is ExactSearch that can be stopped: every StopEvery
// nodes it calls stop, and ends with ErrStopped when stop returns true, or
// with ErrInterrupted when a Vacuum waits for the graph (as SearchUntil).
func (g *Graph) ExactSearchUntil(q []float32, k int, allow func(id uint32) bool, stop func() bool) ([]Neighbor, error) {
	return g.ExactSearchWith(q, k, SearchOptions{Allow: allow, Stop: stop})
}

// ExactSearchWith is ExactSearch with options. With Rerank > 0 on a graph
// that traverses codes, the scan compares codes and re-ranks the best
// max(k, Rerank) with the float32 vectors (exact within those; far cheaper
// when the vectors are on disk); otherwise it compares the vectors.
func (g *Graph) ExactSearchWith(q []float32, k int, o SearchOptions) ([]Neighbor, error) {
	stop := o.Stop
	if stop == nil {
		stop = func() bool { return false }
	}
	return g.exactSearch(q, k, o.Allow, stop, o.Rerank)
}

func (g *Graph) exactSearch(q []float32, k int, allow func(id uint32) bool, stop func() bool, rerank int) ([]Neighbor, error) {
	if k <= 0 || len(q) != g.dim {
		return nil, nil
	}
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	n := g.count.Load()
	tab := g.table.Load().chunks
	n = min(n, uint64(limitOf(tab)))
	s := g.getScratch()
	defer g.putScratch(s)
	st := g.quant()
	keep := k
	codes := st.traverse && rerank > 0
	switch {
	case codes:
		keep = max(k, rerank)
		g.prepare(&s.q, st, q)
	case !st.floats:
		return g.exactScanOriginals(s, st, tab, n, q, k, allow, stop)
	default:
		s.q = query{vec: q}
	}
	res := s.res[:0]
	lines := g.lines(&s.q)
	for id := uint32(0); uint64(id) < n; id++ {
		if stop != nil && id%StopEvery == StopEvery-1 {
			if err := g.stopCheck(stop); err != nil {
				s.res = res
				return nil, err
			}
		}
		c := tab[id>>chunkBits]
		i := id & chunkMask
		if ahead := id + exactPrefetchAhead; uint64(ahead) < n {
			g.prefetchNode(&s.q, tab, ahead, lines)
		}
		if m := c.meta[i].Load(); m&metaReady == 0 || m&metaDeleted != 0 {
			continue
		}
		if allow != nil && !allow(id) {
			continue
		}
		res = pushBounded(res, keep, g.distTo(&s.q, tab, id), id)
	}
	s.res = res
	if codes {
		return g.finish(s, st, tab, q, k, keep)
	}
	return drainNeighbors(&s.res), nil
}

// exactScanOriginals is the brute-force scan of vectors that live in the
// originals store: each chunk's vectors are read at once, then measured.
func (g *Graph) exactScanOriginals(s *scratch, st *quantState, tab []*chunk, n uint64, q []float32, k int, allow func(uint32) bool, stop func() bool) ([]Neighbor, error) {
	res := s.res[:0]
	if cap(s.rvec) < chunkSize*g.dim {
		s.rvec = make([]float32, chunkSize*g.dim)
	}
	buf := s.rvec[:chunkSize*g.dim]
	for ci := 0; uint64(ci)<<chunkBits < n; ci++ {
		if stop != nil {
			if err := g.stopCheck(stop); err != nil {
				s.res = res
				return nil, err
			}
		}
		c := tab[ci]
		cnt := int(min(chunkSize, n-uint64(ci)<<chunkBits))
		if err := st.originals.ReadVectors(uint32(ci<<chunkBits), buf[:cnt*g.dim]); err != nil {
			s.res = res
			return nil, err
		}
		for i := 0; i < cnt; i++ {
			id := uint32(ci<<chunkBits + i)
			if m := c.meta[i].Load(); m&metaReady == 0 || m&metaDeleted != 0 {
				continue
			}
			if allow != nil && !allow(id) {
				continue
			}
			res = pushBounded(res, k, g.dist(q, buf[i*g.dim:(i+1)*g.dim]), id)
		}
	}
	s.res = res
	return drainNeighbors(&s.res), nil
}

// ExactSearchIDs returns the k nearest of the given ids to q by brute force,
// ascending by distance. Unknown, in-flight, deleted and repeated ids are
// skipped. q must have length Dim (nil otherwise).
func (g *Graph) ExactSearchIDs(q []float32, k int, ids []uint32) []Neighbor {
	out, _ := g.exactSearchIDs(q, k, ids, nil)
	return out
}

// ExactSearchIDsUntil is ExactSearchIDs that can be stopped, as
// ExactSearchUntil. It fails when a vector cannot be read from the
// originals store.
func (g *Graph) ExactSearchIDsUntil(q []float32, k int, ids []uint32, stop func() bool) ([]Neighbor, error) {
	return g.ExactSearchIDsWith(q, k, ids, SearchOptions{Stop: stop})
}

// ExactSearchIDsWith is ExactSearchIDs with options (Allow is ignored).
// With Rerank > 0 on a graph that traverses codes it compares codes and
// re-ranks the best max(k, Rerank), as ExactSearchWith.
func (g *Graph) ExactSearchIDsWith(q []float32, k int, ids []uint32, o SearchOptions) ([]Neighbor, error) {
	stop := o.Stop
	if stop == nil {
		stop = func() bool { return false }
	}
	if o.Rerank > 0 {
		return g.exactSearchIDsCodes(q, k, ids, stop, o.Rerank)
	}
	return g.exactSearchIDs(q, k, ids, stop)
}

// exactSearchIDsCodes is exactSearchIDs over codes with a re-rank; on a
// graph that does not traverse codes it is exactSearchIDs.
func (g *Graph) exactSearchIDsCodes(q []float32, k int, ids []uint32, stop func() bool, rerank int) ([]Neighbor, error) {
	if k <= 0 || len(q) != g.dim {
		return nil, nil
	}
	g.structMu.RLock()
	st := g.quant()
	if !st.traverse {
		g.structMu.RUnlock()
		return g.exactSearchIDs(q, k, ids, stop)
	}
	defer g.structMu.RUnlock()
	tab := g.table.Load().chunks
	n := uint32(min(g.count.Load(), uint64(limitOf(tab))))
	s := g.getScratch()
	defer g.putScratch(s)
	g.prepare(&s.q, st, q)
	s.vis.reset(int(limitOf(tab)))
	stamps, epoch := s.vis.stamps, s.vis.epoch
	keep := max(k, rerank)
	res := s.res[:0]
	for j, id := range ids {
		if j%StopEvery == StopEvery-1 {
			if err := g.stopCheck(stop); err != nil {
				s.res = res
				return nil, err
			}
		}
		if id >= n || stamps[id] == epoch {
			continue
		}
		stamps[id] = epoch
		if m := metaOf(tab, id); m&metaReady == 0 || m&metaDeleted != 0 {
			continue
		}
		res = pushBounded(res, keep, g.distTo(&s.q, tab, id), id)
	}
	s.res = res
	return g.finish(s, st, tab, q, k, keep)
}

func (g *Graph) exactSearchIDs(q []float32, k int, ids []uint32, stop func() bool) ([]Neighbor, error) {
	if k <= 0 || len(q) != g.dim {
		return nil, nil
	}
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	tab := g.table.Load().chunks
	n := uint32(min(g.count.Load(), uint64(limitOf(tab))))
	s := g.getScratch()
	defer g.putScratch(s)
	st := g.quant()
	s.vis.reset(int(limitOf(tab)))
	stamps, epoch := s.vis.stamps, s.vis.epoch
	res := s.res[:0]
	lines := (g.dim*4 + 63) / 64
	for j, id := range ids {
		if stop != nil && j%StopEvery == StopEvery-1 {
			if err := g.stopCheck(stop); err != nil {
				s.res = res
				return nil, err
			}
		}
		if st.floats && j+exactPrefetchAhead < len(ids) {
			if ahead := ids[j+exactPrefetchAhead]; ahead < n {
				prefetchLines(&tab[ahead>>chunkBits].vecs[int(ahead&chunkMask)*g.dim], lines)
			}
		}
		if id >= n || stamps[id] == epoch {
			continue
		}
		stamps[id] = epoch
		c := tab[id>>chunkBits]
		i := id & chunkMask
		if m := c.meta[i].Load(); m&metaReady == 0 || m&metaDeleted != 0 {
			continue
		}
		var v []float32
		if st.floats {
			off := int(i) * g.dim
			v = c.vecs[off : off+g.dim : off+g.dim]
		} else {
			var err error
			if s.rvec, err = g.readVector(st, tab, id, s.rvec[:0]); err != nil {
				s.res = res
				return nil, err
			}
			v = s.rvec
		}
		res = pushBounded(res, k, g.dist(q, v), id)
	}
	s.res = res
	return drainNeighbors(&s.res), nil
}

// pushBounded keeps the k best (smallest dist) items in a max-heap; ties are
// broken towards the smaller id so that brute force is deterministic.
func pushBounded(h maxHeap, k int, d float32, id uint32) maxHeap {
	if len(h) < k {
		h.push(d, id)
	} else if d < h[0].dist || (d == h[0].dist && id < h[0].id) {
		h.replaceTop(d, id)
	}
	return h
}

func drainNeighbors(h *maxHeap) []Neighbor {
	out := make([]Neighbor, len(*h))
	for i := len(out) - 1; i >= 0; i-- {
		it := h.pop()
		out[i] = Neighbor{ID: it.id, Dist: it.dist}
	}
	return out
}
