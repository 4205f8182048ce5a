package hnsw

import (
	"math"
	"sync/atomic"
)

// Filter-aware search for mid selectivity (ACORN-1 style, Patel et al.,
// SIGMOD 2024), on the graph as built: nothing is added at insert time.
//
// Search with an allow filter (hnswlib's way) walks the whole graph and
// measures every node it meets, admitted or not, so with 10% of the nodes
// admitted it measures about ten nodes for each one it can return, and in
// regions with no admitted node it wanders. SearchTwoHop measures only
// admitted nodes: expanding a node, it takes its admitted neighbours, and
// for each neighbour that is not admitted it looks one hop further, at
// that neighbour's neighbours, for admitted ones (reading their ids, not
// their vectors). The admitted nodes thus stay connected through the
// non-admitted ones in between, and the frontier holds admitted nodes
// only. At most twoHopWidth nodes are taken per expansion, first-hop ones
// first, as ACORN truncates its neighbour lists.
//
// It pays when admitted nodes are a minority: checking membership and
// reading second-hop lists costs far less than measuring vectors. allow
// is called for many more nodes than in Search (up to M^2 per expansion),
// so it must be cheap, such as a bitset lookup.

// twoHopWidth is how many admitted nodes one expansion may add, as a
// multiple of the layer-0 degree (2M).
const twoHopWidth = 1

// SearchTwoHop returns up to k nearest admitted, non-deleted neighbours of
// q in ascending distance, exploring layer 0 with a candidate list of ef
// (raised to at least k). allow must be non-nil, cheap and safe for
// concurrent use; it must not call back into the graph. Like SearchUntil it
// checks stop every StopEvery units of work (a measured vector, or a
// second-hop list read) and ends with ErrStopped or, giving way to a
// Vacuum, ErrInterrupted; stop may be nil.
//
// It may find fewer than k nodes when admitted nodes are few and far
// between in the graph; callers that must return k then scan exactly.
func (g *Graph) SearchTwoHop(q []float32, k, ef int, allow func(id uint32) bool, stop func() bool) ([]Neighbor, error) {
	if k <= 0 || len(q) != g.dim || allow == nil {
		return nil, nil
	}
	ef = max(ef, k)
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	e := g.entry.Load()
	if e == noEntry {
		return []Neighbor{}, nil
	}
	ep, top := unpackEntry(e)
	tab := g.table.Load().chunks
	cur, curDist := ep, g.dist(q, g.vec(tab, ep))
	for l := top; l > 0; l-- {
		cur, curDist = g.greedyClosest(tab, q, cur, curDist, l)
	}
	s := g.getScratch()
	defer g.putScratch(s)
	if err := g.searchLayerTwoHop(s, tab, q, cur, curDist, ef, allow, stop); err != nil {
		return nil, err
	}
	for len(s.res) > k {
		s.res.pop()
	}
	out := make([]Neighbor, len(s.res))
	for i := len(out) - 1; i >= 0; i-- {
		it := s.res.pop()
		out[i] = Neighbor{ID: it.id, Dist: it.dist}
	}
	return out, nil
}

// searchLayerTwoHop is searchLayer's layer-0 loop with the frontier
// restricted to admitted nodes (plus the entry point, admitted or not),
// reaching them through at most one non-admitted node.
func (g *Graph) searchLayerTwoHop(s *scratch, tab []*chunk, q []float32, ep uint32, epDist float32,
	ef int, allow func(uint32) bool, stop func() bool) error {
	limit := limitOf(tab)
	s.vis.reset(int(limit))
	stamps, epoch := s.vis.stamps[:limit], s.vis.epoch
	dim := g.dim
	stride := g.stride0
	maxN := g.m0
	width := twoHopWidth * g.m0
	lines := (dim*4 + 63) / 64
	work := 0
	// admitted: the node may be a result. Deleted nodes never are, but
	// still lead to their neighbours.
	admitted := func(id uint32) bool {
		return metaOf(tab, id)&metaDeleted == 0 && allow(id)
	}
	// neighbours returns id's layer-0 list (ids may be past limit).
	neighbours := func(id uint32) []uint32 {
		off := int(id&chunkMask) * stride
		list := tab[id>>chunkBits].links0[off : off+stride]
		n := min(int(atomic.LoadUint32(&list[0])), maxN)
		return list[1 : 1+n]
	}

	cands := s.cands[:0]
	res := s.res[:0]
	stamps[ep] = epoch
	cands.push(epDist, ep)
	lower := float32(math.Inf(1))
	if admitted(ep) {
		res.push(epDist, ep)
		lower = epDist
	}
	// far holds the expanded node's non-admitted neighbours, whose own
	// neighbours are the second hop.
	far := s.shrinkSel[:0]
	for len(cands) > 0 {
		c := cands[0]
		if c.dist > lower && len(res) >= ef {
			break
		}
		cands.pop()

		batch := s.batch[:0]
		far = far[:0]
		list := neighbours(c.id)
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
			if admitted(nb) {
				stamps[nb] = epoch
				prefetchLines(&tab[nb>>chunkBits].vecs[int(nb&chunkMask)*dim], 1)
				batch = append(batch, nb)
			} else {
				far = append(far, item{id: nb})
			}
		}
		// Second hop: a non-admitted neighbour is marked visited only
		// once its list is read, so one skipped because the batch was
		// full can still be expanded from elsewhere.
		for _, f := range far {
			if len(batch) >= width {
				break
			}
			stamps[f.id] = epoch
			work++
			list2 := neighbours(f.id)
			for j := range list2 {
				nb := atomic.LoadUint32(&list2[j])
				if nb >= limit || stamps[nb] == epoch || !admitted(nb) {
					continue
				}
				stamps[nb] = epoch
				prefetchLines(&tab[nb>>chunkBits].vecs[int(nb&chunkMask)*dim], 1)
				batch = append(batch, nb)
				if len(batch) >= width {
					break
				}
			}
		}
		s.batch = batch
		if stop != nil {
			if work += len(batch); work >= StopEvery {
				work = 0
				if err := g.stopCheck(stop); err != nil {
					s.cands, s.res, s.shrinkSel = cands, res, far
					return err
				}
			}
		}
		if len(batch) > 0 {
			nb := batch[0]
			prefetchLines(&tab[nb>>chunkBits].vecs[int(nb&chunkMask)*dim], lines)
		}
		for bi, nb := range batch {
			if bi+1 < len(batch) {
				nx := batch[bi+1]
				prefetchLines(&tab[nx>>chunkBits].vecs[int(nx&chunkMask)*dim], lines)
			}
			d := g.dist(q, g.vec(tab, nb))
			if len(res) < ef || d < lower {
				cands.push(d, nb)
				if len(res) < ef {
					res.push(d, nb)
				} else {
					res.replaceTop(d, nb)
				}
				lower = res[0].dist
			}
		}
	}
	s.cands, s.res, s.shrinkSel = cands, res, far
	return nil
}
