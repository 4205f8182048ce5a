package hnsw

// exactPrefetchAhead is how many vectors ahead a brute-force scan asks the
// CPU to load. A vector of a few hundred dimensions spans most of a 4 KiB
// page and hardware prefetchers stop at page boundaries, so the scan is
// otherwise bound by memory latency.
const exactPrefetchAhead = 2

// ExactSearch returns the k nearest live nodes to q by brute force over the
// arena, ascending by distance, skipping deleted nodes and those allow
// rejects (allow == nil accepts all). Nodes whose Add is still in flight are
// not seen. q must have length Dim (nil otherwise).
func (g *Graph) ExactSearch(q []float32, k int, allow func(id uint32) bool) []Neighbor {
	out, _ := g.exactSearch(q, k, allow, nil)
	return out
}

// ExactSearchUntil is ExactSearch that can be stopped: every StopEvery
// nodes it calls stop, and ends with ErrStopped when stop returns true, or
// with ErrInterrupted when a Vacuum waits for the graph (as SearchUntil).
func (g *Graph) ExactSearchUntil(q []float32, k int, allow func(id uint32) bool, stop func() bool) ([]Neighbor, error) {
	if stop == nil {
		stop = func() bool { return false }
	}
	return g.exactSearch(q, k, allow, stop)
}

func (g *Graph) exactSearch(q []float32, k int, allow func(id uint32) bool, stop func() bool) ([]Neighbor, error) {
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
	res := s.res[:0]
	lines := (g.dim*4 + 63) / 64
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
			prefetchLines(&tab[ahead>>chunkBits].vecs[int(ahead&chunkMask)*g.dim], lines)
		}
		if m := c.meta[i].Load(); m&metaReady == 0 || m&metaDeleted != 0 {
			continue
		}
		if allow != nil && !allow(id) {
			continue
		}
		off := int(i) * g.dim
		d := g.dist(q, c.vecs[off:off+g.dim:off+g.dim])
		res = pushBounded(res, k, d, id)
	}
	s.res = res
	return drainNeighbors(&s.res), nil
}

// ExactSearchIDs returns the k nearest of the given ids to q by brute force,
// ascending by distance. Unknown, in-flight, deleted and repeated ids are
// skipped. q must have length Dim (nil otherwise).
func (g *Graph) ExactSearchIDs(q []float32, k int, ids []uint32) []Neighbor {
	if k <= 0 || len(q) != g.dim {
		return nil
	}
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	tab := g.table.Load().chunks
	n := uint32(min(g.count.Load(), uint64(limitOf(tab))))
	s := g.getScratch()
	s.vis.reset(int(limitOf(tab)))
	stamps, epoch := s.vis.stamps, s.vis.epoch
	res := s.res[:0]
	lines := (g.dim*4 + 63) / 64
	for j, id := range ids {
		if j+exactPrefetchAhead < len(ids) {
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
		off := int(i) * g.dim
		d := g.dist(q, c.vecs[off:off+g.dim:off+g.dim])
		res = pushBounded(res, k, d, id)
	}
	s.res = res
	out := drainNeighbors(&s.res)
	g.putScratch(s)
	return out
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
