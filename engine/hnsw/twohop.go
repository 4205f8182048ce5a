package hnsw

import (
	"math"
	"sync/atomic"
	"unsafe"
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
// between in the graph; callers that must return k then scan exactly, or
// use SearchFiltered with seeds.
func (g *Graph) SearchTwoHop(q []float32, k, ef int, allow func(id uint32) bool, stop func() bool) ([]Neighbor, error) {
	out, _, err := g.SearchFiltered(q, k, ef, FilterOptions{Allow: allow, Mode: FilterTwoHop, Stop: stop})
	return out, err
}

// searchLayerTwoHop is searchLayer's layer-0 loop with the frontier
// restricted to admitted nodes (plus the entry point, admitted or not),
// reaching them through at most one non-admitted node.
//
// When the frontier runs out before ef admitted nodes are found (the
// admitted nodes near the entry point are not connected to the rest within
// two hops), it measures the nodes seeds returns, once, and goes on from
// those that are admitted; reseeded reports that it did.
//
// q is measured as searchLayer measures it (codes on a graph that
// traverses them); it returns the table it ended with, as searchLayer.
func (g *Graph) searchLayerTwoHop(s *scratch, tab []*chunk, q *query, ep uint32, epDist float32,
	ef int, allow func(uint32) bool, seeds func() []uint32, stop func() bool) (_ []*chunk, reseeded bool, err error) {
	limit := limitOf(tab)
	s.vis.reset(int(limit))
	stamps, epoch := s.vis.stamps[:limit], s.vis.epoch
	stride := g.stride0
	maxN := g.m0
	width := twoHopWidth * g.m0
	work := 0
	// admitted: the node may be a result. Deleted nodes never are, but
	// still lead to their neighbours. allow (a bitset, in L1) goes first:
	// most nodes fail it, and the meta word is often a cache miss.
	admitted := func(id uint32) bool {
		return allow(id) && metaOf(tab, id)&metaDeleted == 0
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
	// offer takes a measured admitted node into the frontier and the
	// results if it is among the ef best so far.
	offer := func(d float32, nb uint32) {
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
	if admitted(ep) {
		res.push(epDist, ep)
		lower = epDist
	}
	// far holds the expanded node's non-admitted neighbours, whose own
	// neighbours are the second hop.
	far := s.shrinkSel[:0]
	for {
		if len(cands) == 0 {
			if len(res) >= ef || seeds == nil || reseeded {
				break
			}
			reseeded = true
			for _, nb := range seeds() {
				if nb >= limit || stamps[nb] == epoch || !admitted(nb) {
					continue
				}
				stamps[nb] = epoch
				work++
				offer(g.distTo(q, tab, nb), nb)
			}
			continue
		}
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
				g.prefetchNode(q, tab, nb, 1)
				batch = append(batch, nb)
			} else {
				far = append(far, item{id: nb})
			}
		}
		// Second hop: a non-admitted neighbour is marked visited only
		// once its list is read, so one skipped because the batch was
		// full can still be expanded from elsewhere. Its row is fetched
		// ahead, so that the misses of the lists overlap.
		rowLines := (stride*4 + 63) / 64
		for _, f := range far {
			row := &tab[f.id>>chunkBits].links0[int(f.id&chunkMask)*stride]
			prefetchLines((*float32)(unsafe.Pointer(row)), rowLines)
		}
		for _, f := range far {
			if len(batch) >= width {
				break
			}
			stamps[f.id] = epoch
			work++
			list2 := neighbours(f.id)
			for j := range list2 {
				nb := atomic.LoadUint32(&list2[j])
				if nb >= limit || !allow(nb) || stamps[nb] == epoch || metaOf(tab, nb)&metaDeleted != 0 {
					continue
				}
				stamps[nb] = epoch
				g.prefetchNode(q, tab, nb, 1)
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
					return tab, reseeded, err
				}
			}
		}
		if cap(s.dists) < len(batch) {
			s.dists = make([]float32, len(batch), 2*len(batch))
		}
		dists := s.dists[:len(batch)]
		g.measure(q, tab, batch, dists)
		for bi, nb := range batch {
			offer(dists[bi], nb)
		}
	}
	s.cands, s.res, s.shrinkSel = cands, res, far
	return tab, reseeded, nil
}
