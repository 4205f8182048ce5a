package hnsw

import (
	"fmt"
	"math"
	"sync/atomic"
)

// Add copies vec into the arena, links it into the graph and returns its id.
// Ids are dense and handed out in call order. Add is safe to call from many
// goroutines at once; inserts share no global lock except when a node raises
// the graph's top level (about log_M(n) times in total).
func (g *Graph) Add(vec []float32) (uint32, error) {
	id, err := g.Reserve(vec)
	if err != nil {
		return 0, err
	}
	g.Link(id)
	return id, nil
}

// Reserve is the first half of Add: it copies vec into the arena and
// returns its id, but links it into no neighbour list. Until Link, the node
// is seen by ExactSearch, ExactSearchIDs and Vector but never by Search.
// Every reserved node must be passed to Link or Abandon, and Freeze and
// Vacuum must not run while any is pending (Unlinked reports how many).
func (g *Graph) Reserve(vec []float32) (uint32, error) {
	if len(vec) != g.dim {
		return 0, fmt.Errorf("hnsw add: %w: got %d, want %d", ErrDimension, len(vec), g.dim)
	}
	for i, x := range vec {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return 0, fmt.Errorf("hnsw add: %w (index %d)", ErrInvalidVector, i)
		}
	}
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	g.mutateMu.RLock()
	defer g.mutateMu.RUnlock()

	id, c, err := g.allocate()
	if err != nil {
		return 0, fmt.Errorf("hnsw add: %w", err)
	}
	i := int(id & chunkMask)
	level := g.randomLevel()
	if level > 0 {
		up := make([]uint32, level*g.strideUp)
		c.upper[i] = &up
		g.upperWords.Add(int64(level * g.strideUp))
	}
	g.unlinked.Add(1)
	if g.reserveHook != nil {
		g.reserveHook(id)
	}
	st := g.quant()
	// Vector, originals and code are written and the node published
	// under the chunk's codeMu, so that a re-encoding or a load of the
	// arena either sees the node whole or not at all (quant.go).
	c.codeMu.Lock()
	defer c.codeMu.Unlock()
	if c.vecs != nil {
		copy(c.vecs[i*g.dim:(i+1)*g.dim], vec)
	}
	if st.originals != nil {
		if err := st.originals.WriteVectors(id, vec); err != nil {
			// The id is taken: publish it as a tombstone, which no search
			// returns and Vacuum removes.
			g.deleted.Add(1)
			g.unlinked.Add(-1)
			g.dropUpper(c, i)
			c.meta[i].Store(unlinkedTombstone(metaReady))
			return 0, fmt.Errorf("hnsw add: store vector %d: %w", id, err)
		}
	}
	if st.encode {
		g.encodeNode(st, c, i, vec)
	}
	// Publish the vector and level before any list can name this node.
	c.meta[i].Store(metaReady | uint32(level)<<metaLevelShift)
	return id, nil
}

// Link is the second half of Add: it links a node Reserve returned into
// the graph. Safe to call from many goroutines at once.
func (g *Graph) Link(id uint32) {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	g.mutateMu.RLock()
	defer g.mutateMu.RUnlock()
	tab := g.table.Load().chunks
	level := levelOfMeta(metaOf(tab, id))
	s := g.getScratch()
	g.prepareNode(s, g.linkQuant(), tab, id)
	g.insert(s, id, level, &s.q)
	g.putScratch(s)
	g.unlinked.Add(-1)
}

// Abandon tombstones a reserved node that will never be linked (its write
// was given up); it stays out of every list until Vacuum removes it.
func (g *Graph) Abandon(id uint32) {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	g.mutateMu.RLock()
	defer g.mutateMu.RUnlock()
	c := g.table.Load().chunks[id>>chunkBits]
	i := int(id & chunkMask)
	for {
		m := c.meta[i].Load()
		if c.meta[i].CompareAndSwap(m, unlinkedTombstone(m)) {
			if m&metaDeleted == 0 {
				g.deleted.Add(1)
			}
			break
		}
	}
	g.dropUpper(c, i)
	g.unlinked.Add(-1)
}

// unlinkedTombstone is the meta of a node that was reserved and will
// never be linked: deleted, and at level 0. Its drawn level means
// nothing, since no list names it, and kept it could stand above the
// entry point's, which a snapshot's levels may not (the decoder refuses
// a graph whose highest level is not the entry point's).
func unlinkedTombstone(m uint32) uint32 {
	return (m | metaDeleted) &^ (metaLevelMask << metaLevelShift)
}

// dropUpper releases the upper-layer lists of a node that will never be
// linked (no search or insert reaches it, so nothing reads them).
func (g *Graph) dropUpper(c *chunk, i int) {
	if up := c.upper[i]; up != nil {
		g.upperWords.Add(-int64(len(*up)))
		c.upper[i] = nil
	}
}

// Unlinked returns how many reserved nodes are waiting for Link or Abandon.
func (g *Graph) Unlinked() int { return int(g.unlinked.Load()) }

// clamper is a Space that tells how many of a vector's values it would
// clamp (engine/quant's Quantizer).
type clamper interface {
	Clamps(v []float32) int
}

// prepareNode prepares s.q for linking node id: from its float32 vector,
// read from the originals store when the arena does not hold it (its
// code stands for a clamped copy of it when it lies outside the ranges),
// else from its decoded code. A vector of which its space clamps more
// than 1% of the values walks the graph on the originals: its code is
// alike the codes of every vector clamped the same way, and a walk on
// codes would find any of them. (Ranges span the 0.01% to 99.99%
// quantiles of the training sample, so data that has not drifted has
// about one such vector in a million at 384 dimensions.)
func (g *Graph) prepareNode(s *scratch, st *quantState, tab []*chunk, id uint32) {
	if exactLinks(st) {
		if cap(s.qdec) < g.dim {
			s.qdec = make([]float32, g.dim)
		}
		s.qdec = s.qdec[:g.dim]
		if st.originals.ReadVectors(id, s.qdec) == nil {
			g.prepare(&s.q, st, s.qdec)
			if c, ok := st.spaces[st.cur].(clamper); ok && c.Clamps(s.qdec) > g.dim/100 {
				s.q.codes, s.q.store = false, st.originals
			}
			return
		}
	}
	g.prepare(&s.q, st, g.nodeVector(st, tab, id, &s.qdec))
}

// pickNeighbors drains the results of the search made for node id (v its
// prepared query) into s.sorted and picks its neighbours (s.sel) by the
// heuristic, on what the search measured: float32 distances read from the
// store when v walked on it (linkvecs.go), which the heuristic's own
// comparisons then use too. It returns the nearest pick and its distance,
// from which the next layer down starts.
func (g *Graph) pickNeighbors(s *scratch, tab []*chunk, id uint32, v *query) (uint32, float32) {
	s.sorted = s.res.drainAscending(s.sorted)
	if len(s.sorted) == 0 {
		return noID, 0
	}
	exact := false
	if v.store != nil {
		s.resetLinkVecs()
		exact = g.readLinkItems(s, v.store, s.sorted)
	}
	s.sel = g.selectNeighbors(s, tab, s.sorted, g.m, s.sel, exact)
	return s.sel[0].id, s.sel[0].dist
}

// insert links an allocated, published node (hnswlib's addPoint); v is
// its vector prepared as a query.
func (g *Graph) insert(s *scratch, id uint32, level int, v *query) {
	e := g.entry.Load()
	if e == noEntry {
		g.entryMu.Lock()
		if g.entry.Load() == noEntry {
			g.entry.Store(packEntry(id, level))
			g.entryMu.Unlock()
			return
		}
		g.entryMu.Unlock()
		e = g.entry.Load()
	}
	ep, top := unpackEntry(e)
	raising := false
	if level > top {
		g.entryMu.Lock()
		ep, top = unpackEntry(g.entry.Load())
		if level > top {
			raising = true // keep entryMu until this node is the entry point
		} else {
			g.entryMu.Unlock()
		}
	}

	tab := g.table.Load().chunks
	cur, curDist := ep, g.distTo(v, tab, ep)
	for l := top; l > level; l-- {
		cur, curDist = g.greedyClosest(s, tab, v, cur, curDist, l)
	}
	epDeleted := metaOf(tab, ep)&metaDeleted != 0
	// The neighbours of every layer are chosen top down, each layer's
	// search starting from the nearest pick of the layer above, and
	// written bottom up (below): a node must not be named on a layer
	// before its lists on the layers below are written. Written top down,
	// as hnswlib does (it locks a node for its whole insert, and its
	// readers take that lock, which ours do not), a concurrent insert
	// whose descent reached this node on layer l found its list on layer
	// l-1 still empty, stopped there, and linked on layer 0 to this node
	// alone: a node with one out-link, named by one list, which a later
	// shrink of that list left reachable only the long way round or not
	// at all (TestInsertNamesNodeOnlyOnceLinkedBelow). The searches do not
	// read this node's own lists, so the links are those of hnswlib's
	// order.
	nl := min(level, top)
	sels := s.layerSels(nl + 1)
	for l := nl; l >= 0; l-- {
		tab, _ = g.searchLayer(s, tab, v, cur, curDist, l, g.efc, nil, true, id, nil) // no stop function: it cannot fail
		if epDeleted {
			// As hnswlib: a deleted entry point still offers a link, so a
			// graph whose nodes are all deleted stays connected.
			d := g.distTo(v, tab, ep)
			if len(s.res) < g.efc {
				s.res.push(d, ep)
			} else if d < s.res[0].dist {
				s.res.replaceTop(d, ep)
			}
		}
		nearest, d := g.pickNeighbors(s, tab, id, v)
		if nearest == noID {
			continue
		}
		sels[l] = append(sels[l], s.sel...)
		cur, curDist = nearest, d
	}
	for l := 0; l <= nl; l++ {
		if len(sels[l]) == 0 {
			continue
		}
		g.setOwnLinks(s, tab, id, l, sels[l], v.store)
		for _, nb := range sels[l] {
			g.addReverseLink(s, tab, nb.id, id, l, v.store)
		}
		if g.linkHook != nil {
			g.linkHook(id, l)
		}
	}
	if raising {
		g.entry.Store(packEntry(id, level))
		g.entryMu.Unlock()
	}
}

// setOwnLinks writes the chosen neighbours of a new node at level. Another
// insert may already have linked to this node at this level (it can reach
// the node through a higher layer), so existing entries are merged rather
// than overwritten. store, when set, is the originals store an insert of
// a clamped vector measures with (linkvecs.go).
func (g *Graph) setOwnLinks(s *scratch, tab []*chunk, id uint32, level int, sel []item, store Originals) {
	c := tab[id>>chunkBits]
	lk := &c.locks[id&chunkMask]
	lk.Lock()
	defer lk.Unlock()
	// The list may name nodes added after our table snapshot; everything
	// written under this lock was published with a table at least as new.
	tab = g.table.Load().chunks
	list := g.linkList(tab, id, level)
	cnt := int(list[0])
	if cnt == 0 {
		for j, it := range sel {
			atomic.StoreUint32(&list[1+j], it.id)
		}
		atomic.StoreUint32(&list[0], uint32(len(sel)))
		return
	}
	exact := false
	if store != nil {
		mark := s.markLinkVecs()
		defer s.truncLinkVecs(mark)
		exact = g.readLinkVecs(s, store, id) && g.readLinkItems(s, store, sel) && g.readLinkVecs(s, store, list[1:1+cnt]...)
	}
	var v *query
	if !exact {
		v = g.nodeQuery(s, g.linkQuant(), tab, id)
	}
	cs := append(s.shrink[:0], sel...)
	for _, x := range list[1 : 1+cnt] {
		dup := false
		for _, it := range sel {
			if it.id == x {
				dup = true
				break
			}
		}
		if !dup {
			if exact {
				cs = append(cs, item{0, x})
			} else {
				cs = append(cs, item{g.distTo(v, tab, x), x})
			}
		}
	}
	if exact {
		g.remeasure(s, s.linkVec(id), cs)
	} else {
		sortItems(cs)
	}
	s.shrink = cs
	g.writeList(tab, list, cs, g.maxLinks(level), s, exact)
}

// addReverseLink adds from -> to at level. A full list is shrunk by re-running
// the heuristic over its entries plus the new one (hnswlib's behaviour),
// which may drop the new link. store as for setOwnLinks.
func (g *Graph) addReverseLink(s *scratch, tab []*chunk, from, to uint32, level int, store Originals) {
	c := tab[from>>chunkBits]
	lk := &c.locks[from&chunkMask]
	lk.Lock()
	defer lk.Unlock()
	tab = g.table.Load().chunks // as in setOwnLinks
	list := g.linkList(tab, from, level)
	cnt := int(list[0])
	for _, x := range list[1 : 1+cnt] {
		if x == to {
			return
		}
	}
	mcur := g.maxLinks(level)
	if cnt < mcur {
		atomic.StoreUint32(&list[1+cnt], to)
		atomic.StoreUint32(&list[0], uint32(cnt+1))
		return
	}
	if store != nil {
		// Read into the decision's cache and dropped after it, so that
		// an insert holds its candidates and one list's vectors at most.
		mark := s.markLinkVecs()
		defer s.truncLinkVecs(mark)
		if g.readLinkVecs(s, store, from, to) && g.readLinkVecs(s, store, list[1:1+cnt]...) {
			cs := append(s.shrink[:0], item{0, to})
			for _, x := range list[1 : 1+cnt] {
				cs = append(cs, item{0, x})
			}
			g.remeasure(s, s.linkVec(from), cs)
			s.shrink = cs
			g.writeList(tab, list, cs, mcur, s, true)
			return
		}
	}
	fv := g.nodeQuery(s, g.linkQuant(), tab, from)
	cs := append(s.shrink[:0], item{g.distTo(fv, tab, to), to})
	for _, x := range list[1 : 1+cnt] {
		cs = append(cs, item{g.distTo(fv, tab, x), x})
	}
	sortItems(cs)
	s.shrink = cs
	g.writeList(tab, list, cs, mcur, s, false)
}

// writeList stores the heuristic's pick of at most mcur from cs (ascending)
// into list, with the caller holding the node's lock. Ids go in before the
// count. Words past the new count keep their old ids on purpose: a reader
// that loaded the old, larger count still reads them, and an old id is a
// node that has this layer, whereas a zero would name node 0, which may
// not (it crashed concurrent inserts at layer 1). Encode writes the words
// past the count as zero. exact as for selectNeighbors.
func (g *Graph) writeList(tab []*chunk, list []uint32, cs []item, mcur int, s *scratch, exact bool) {
	if len(cs) > mcur {
		s.shrinkSel = g.selectNeighbors(s, tab, cs, mcur, s.shrinkSel, exact)
		cs = s.shrinkSel
	}
	for j, it := range cs {
		atomic.StoreUint32(&list[1+j], it.id)
	}
	atomic.StoreUint32(&list[0], uint32(len(cs)))
}
